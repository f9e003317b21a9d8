//! Trimming a multilingual vocabulary to a language (docs/method.md section 6b): what is kept,
//! `--keep-single-chars`, and the held-out segmentation report, on USE and Korean.

use std::collections::HashSet;

use crate::util::asset;

/// Only the pieces the text uses (and structural ones).
fn no_extra() -> salt::vocab::TrimKeep {
    salt::vocab::TrimKeep {
        chars: false,
        basic: false,
        scripts: Vec::new(),
    }
}

#[test]
fn trim_keeps_used_pieces_single_chars_and_reports_heldout_changes() {
    let full = salt::vocab::load_target(&asset("plm/use/sp.model")).unwrap();
    let train = std::fs::read_to_string(asset("text/bible-ko-train.txt")).unwrap();
    let held = std::fs::read_to_string(asset("text/bible-ko-heldout.txt")).unwrap();
    let lines: Vec<&str> = held.lines().collect();

    let (plain, old_ids, r) = salt::vocab::trim_to_text(&full, &train, 1, &no_extra()).unwrap();
    let (chars, _, rc) = salt::vocab::trim_to_text(
        &full,
        &train,
        1,
        &salt::vocab::TrimKeep {
            chars: true,
            ..no_extra()
        },
    )
    .unwrap();
    assert_eq!(r.original, 128_000);
    assert_eq!(plain.vocab.len(), r.kept);
    assert!(r.used <= r.kept && r.kept < 5_000, "{r:?}");
    // Kept pieces keep their text and order.
    assert!(old_ids.windows(2).all(|w| w[0] < w[1]));
    for (new, &old) in old_ids.iter().enumerate() {
        assert_eq!(
            plain.vocab.tokens[new].text,
            full.vocab.tokens[old as usize].text
        );
    }
    // Every piece the tokenizer emits on the training text survives.
    for l in train.lines().step_by(97) {
        for id in full.encode(l).unwrap() {
            let t = &full.vocab.tokens[id as usize].text;
            assert!(
                plain.vocab.tokens.iter().any(|p| &p.text == t),
                "{l:?} lost {t:?}"
            );
        }
    }
    // --keep-single-chars: a superset, holding every one-character piece of the text.
    assert!(rc.kept > r.kept, "{} vs {}", rc.kept, r.kept);
    let seen: HashSet<char> = train.chars().collect();
    let kept: HashSet<&[u8]> = chars
        .vocab
        .tokens
        .iter()
        .map(|t| t.text.as_slice())
        .collect();
    for t in &full.vocab.tokens {
        let s = String::from_utf8_lossy(&t.text);
        let body = s.trim_start_matches('\u{2581}');
        let mut it = body.chars();
        if let (Some(c), None) = (it.next(), it.next()) {
            if seen.contains(&c) {
                assert!(
                    kept.contains(t.text.as_slice()),
                    "single char {s:?} dropped"
                );
            }
        }
    }
    // The held-out report: none against itself; some, but few, lines change after trimming;
    // recounted here by comparing piece texts line by line.
    let same = salt::vocab::segmentation_change(&full, &full, &lines).unwrap();
    assert_eq!((same.changed, same.new_unknowns), (0, 0));
    let seg = salt::vocab::segmentation_change(&full, &plain, &lines).unwrap();
    let pieces = |tk: &salt::vocab::TargetTokenizer, l: &str| -> Vec<Vec<u8>> {
        tk.encode(l)
            .unwrap()
            .iter()
            .map(|&i| tk.vocab.tokens[i as usize].text.clone())
            .collect()
    };
    let recount = lines
        .iter()
        .filter(|l| pieces(&full, l) != pieces(&plain, l))
        .count();
    assert_eq!(seg.changed, recount);
    assert!(seg.changed > 0 && seg.changed * 10 < lines.len(), "{seg:?}");
    let seg_c = salt::vocab::segmentation_change(&full, &chars, &lines).unwrap();
    assert!(
        seg_c.new_unknowns <= seg.new_unknowns,
        "{seg_c:?} vs {seg:?}"
    );
    println!(
        "trim ko: kept {} (with single chars {}); held-out {}/{} lines changed, {} new unknowns ({} with single chars)",
        r.kept, rc.kept, seg.changed, seg.lines, seg.new_unknowns, seg_c.new_unknowns
    );
}

/// Unknown tokens of `tk`'s reference on `text`.
fn unknowns(tk: &salt::vocab::TargetTokenizer, text: &str) -> usize {
    let unk = tk.vocab.roles[&salt::vocab::Role::Unk];
    tk.encode(text)
        .unwrap()
        .iter()
        .filter(|&&i| i == unk)
        .count()
}

/// What any text needs: a Bible-trimmed Korean vocabulary kept no digit and no '·', so
/// the constitution lost 680 of its tokens to `<unk>`. By default trimming keeps the
/// single-character pieces of digits, ASCII and common punctuation; `--keep-script
/// Hangul` keeps every Hangul piece, leaving only what USE itself cannot encode.
#[test]
fn trim_keeps_digits_punctuation_and_scripts() {
    let full = salt::vocab::load_target(&asset("plm/use/sp.model")).unwrap();
    let train = std::fs::read_to_string(asset("text/bible-ko-train.txt")).unwrap();
    let law = std::fs::read_to_string(asset("text/constitution-ko.txt")).unwrap();
    let trim =
        |keep: &salt::vocab::TrimKeep| salt::vocab::trim_to_text(&full, &train, 1, keep).unwrap().0;
    let hangul = salt::vocab::TrimKeep {
        scripts: vec![salt::vocab::Script::from_name("hangul").unwrap()],
        ..salt::vocab::TrimKeep::default()
    };
    let (plain, basic, scripts) = (trim(&no_extra()), trim(&Default::default()), trim(&hangul));
    let counts = [&plain, &basic, &scripts, &full].map(|t| unknowns(t, &law));
    println!("constitution unknowns: plain, basic, +Hangul, full USE: {counts:?}");
    assert!(counts[0] > 500, "{counts:?}");
    assert!(counts[1] < 40, "{counts:?}");
    assert_eq!(
        counts[2], counts[3],
        "with every Hangul piece only USE's own unknowns remain"
    );
    assert!(basic
        .encode("1948년 7월 12일 · 제1조")
        .unwrap()
        .iter()
        .all(|&i| i != basic.vocab.roles[&salt::vocab::Role::Unk]));
    assert!(plain.vocab.len() < basic.vocab.len() && basic.vocab.len() < scripts.vocab.len());
}
