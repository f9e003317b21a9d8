//! `salt eval`'s numbers recomputed independently from llama.cpp's raw logits.

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use salt::eval::{score, ScoreOptions};
use salt::pipeline::Method;

use crate::fixtures::{adapted, dir};
use crate::util::asset;

/// Total NLL (nats) and scored bytes of `text` with windows of `ctx`, computed here
/// without any of `salt::eval`'s code: own windowing, own log-softmax.
fn reference_nll(model_path: &std::path::Path, text: &str, ctx: usize) -> (f64, usize, usize) {
    let model = salt::eval::load_model(model_path).unwrap();
    let backend = salt::eval::backend().unwrap();
    let vocab = model.vocab();
    let bos = vocab.should_add_bos();
    let toks = vocab.tokenize(text.as_bytes(), false, false);
    let body = if bos { ctx - 1 } else { ctx };
    let params = LlamaContextParams::default()
        .with_n_ctx(std::num::NonZeroU32::new(ctx as u32))
        .with_n_batch(ctx as u32)
        .with_n_ubatch(ctx as u32);
    let mut lctx = model.new_context(backend, params).unwrap();
    let n_vocab = vocab.n_tokens() as usize;
    let (mut total, mut bytes, mut n) = (0f64, 0usize, 0usize);
    let mut start = 0;
    while start + body <= toks.len() {
        let mut input = Vec::new();
        if bos {
            input.push(vocab.bos());
        }
        input.extend_from_slice(&toks[start..start + body]);
        start += body;
        lctx.clear_kv_cache();
        let mut batch = LlamaBatch::new(ctx, 1);
        for (i, t) in input.iter().enumerate() {
            batch.add(*t, i as i32, &[0], true).unwrap();
        }
        lctx.decode(&mut batch).unwrap();
        for p in 1..input.len() {
            let logits = &lctx.get_logits_ith((p - 1) as i32)[..n_vocab];
            let m = logits
                .iter()
                .map(|&x| f64::from(x))
                .fold(f64::MIN, f64::max);
            let lse = m + logits
                .iter()
                .map(|&x| (f64::from(x) - m).exp())
                .sum::<f64>()
                .ln();
            total += lse - f64::from(logits[input[p].0 as usize]);
            bytes += vocab.token_to_piece(input[p], false, None).len();
            n += 1;
        }
    }
    (total, bytes, n)
}

#[test]
fn nll_matches_raw_logits() {
    let text: String = std::fs::read_to_string(asset("text/bible-ko-heldout.txt"))
        .unwrap()
        .lines()
        .take(40)
        .collect::<Vec<_>>()
        .join("\n");
    let path = dir().join("eval-short.txt");
    std::fs::write(&path, &text).unwrap();
    // An adapted model (adds BOS) and the SmolLM2 source (no BOS: first token is context).
    let (adapted_gguf, _) = adapted("models/gemma-3-270m-q4_k_m.gguf", "ko", Method::Salt);
    for model in [
        adapted_gguf,
        asset("models/smollm2-135m-instruct-q4_1.gguf"),
    ] {
        let ctx = 64;
        let s = score(
            &model,
            &path,
            &text,
            &ScoreOptions {
                ctx,
                max_tokens: None,
                threads: None,
                reference: None,
            },
            &mut salt::progress::Silent,
        )
        .unwrap();
        let (nll, bytes, n) = reference_nll(&model, &text, ctx);
        println!(
            "{}: salt eval {:.6} nats over {} tokens; recomputed {nll:.6} over {n}",
            model.display(),
            s.nll_nats,
            s.scored_tokens
        );
        assert_eq!(s.scored_tokens, n);
        assert_eq!(s.scored_bytes, bytes);
        assert!(
            ((s.nll_nats - nll) / nll).abs() < 1e-6,
            "{} vs {nll}",
            s.nll_nats
        );
        let bpb = nll / std::f64::consts::LN_2 / bytes as f64;
        assert!((s.bits_per_byte - bpb).abs() < 1e-9 * bpb.max(1.0));
        assert!(s.windows >= 2, "the test should span several windows");
    }
}

#[test]
fn eval_errors_are_clear() {
    let short = dir().join("eval-tiny.txt");
    std::fs::write(&short, "짧은 글").unwrap();
    let model = asset("models/smollm2-135m-instruct-q4_1.gguf");
    let e = score(
        &model,
        &short,
        "짧은 글",
        &ScoreOptions::default(),
        &mut salt::progress::Silent,
    )
    .unwrap_err();
    assert!(e.to_string().contains("less than one window"), "{e}");
    assert!(e.to_string().contains("eval-tiny.txt"), "{e}");
    let not_a_model = dir().join("not-a-model.gguf");
    std::fs::write(&not_a_model, b"GGUF\x03\0\0\0garbage").unwrap();
    let e = salt::eval::load_model(&not_a_model).unwrap_err();
    assert!(
        e.to_string().contains("not-a-model.gguf") && e.to_string().contains("could not load"),
        "{e}"
    );
    let e = salt::pipeline::read_text(&not_a_model).unwrap_err();
    assert!(
        e.to_string().contains("not UTF-8") || e.to_string().contains("binary"),
        "{e}"
    );
}

/// The loss split by the class of the predicted token adds up to the total (NLL to 1e-9,
/// tokens and bytes exactly), and with the reference tokenizer the denominator is the text
/// the scored tokens cover: recomputed here from the reference's own offsets, it counts
/// the bytes each `<unk>` stands for, which llama.cpp's pieces drop.
#[test]
fn class_split_and_text_bytes() {
    let (model, r) = adapted("models/gemma-3-270m-q4_k_m.gguf", "ko", Method::Salt);
    // The constitution has digits and '·', which the Bible-trimmed vocabulary lacks.
    let path = asset("text/constitution-ko.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let ctx = 128;
    let opts = |reference| ScoreOptions {
        ctx,
        max_tokens: Some(2000),
        threads: None,
        reference,
    };
    let tk_path = std::path::PathBuf::from(&r.tokenizer);
    let s = score(
        &model,
        &path,
        &text,
        &opts(Some(tk_path.clone())),
        &mut salt::progress::Silent,
    )
    .unwrap();
    let p = score(
        &model,
        &path,
        &text,
        &opts(None),
        &mut salt::progress::Silent,
    )
    .unwrap();
    println!("{:?}", s.by_class);
    assert_eq!(s.bytes_from, "text");
    assert_eq!(p.bytes_from, "pieces");
    assert!(s.unknown_tokens > 0, "the constitution has unknowns here");
    let sum: f64 = s.by_class.iter().map(|c| c.nll_nats).sum();
    assert!(
        (sum - s.nll_nats).abs() <= 1e-9 * s.nll_nats,
        "{sum} vs {}",
        s.nll_nats
    );
    assert_eq!(
        s.by_class.iter().map(|c| c.tokens).sum::<usize>(),
        s.scored_tokens
    );
    assert_eq!(
        s.by_class.iter().map(|c| c.bytes).sum::<usize>(),
        s.scored_bytes
    );
    let names: Vec<&str> = s.by_class.iter().map(|c| c.class.as_str()).collect();
    assert!(
        names.contains(&"shared") && names.contains(&"initialised"),
        "{names:?}"
    );
    assert_eq!(
        s.nll_nats.to_bits(),
        p.nll_nats.to_bits(),
        "same tokens, same loss"
    );
    // Gemma adds BOS: windows of ctx - 1 text tokens, all scored, from the first token.
    let tk = salt::vocab::load_target(&tk_path).unwrap();
    let enc = tk.reference.encode(text.as_str(), false).unwrap();
    let offs = enc.get_offsets();
    let n = s.scored_tokens;
    assert_eq!(n, s.windows * (ctx - 1));
    let end = offs.get(n).map_or(offs[n - 1].1, |o| o.0);
    assert_eq!(s.scored_bytes, end - offs[0].0);
    assert!(
        s.scored_bytes > p.scored_bytes,
        "{} vs {}",
        s.scored_bytes,
        p.scored_bytes
    );
}

/// The count-based reference rows recomputed here from the reference tokenizer's ids
/// (not llama.cpp's), with their own counting and windowing.
#[test]
fn ngram_rows_match_a_plain_recount() {
    let (model, _) = adapted("models/gemma-3-270m-q4_k_m.gguf", "ko", Method::Focus);
    let train = std::fs::read_to_string(asset("text/bible-ko-train.txt")).unwrap();
    let text: String = std::fs::read_to_string(asset("text/bible-ko-heldout.txt"))
        .unwrap()
        .lines()
        .take(60)
        .collect::<Vec<_>>()
        .join("\n");
    let path = dir().join("ngram-short.txt");
    std::fs::write(&path, &text).unwrap();
    let reference = model.with_extension("tokenizer.json");
    let ctx = 64;
    let opts = ScoreOptions {
        ctx,
        max_tokens: None,
        threads: None,
        reference: Some(reference.clone()),
    };
    let [uni, bi] = salt::eval::ngram_scores(&model, &train, &path, &text, &opts).unwrap();
    let tk = salt::vocab::load_target(&reference).unwrap();
    let ids = |s: &str| tk.reference.encode(s, false).unwrap().get_ids().to_vec();
    let (tr, te) = (ids(&train), ids(&text));
    let v = tk.reference.get_vocab_size(true) as f64;
    let count =
        |f: &dyn Fn(&[u32]) -> bool, n: usize| tr.windows(n).filter(|w| f(w)).count() as f64;
    // Windows of [BOS] + 63 tokens; all 63 scored; the first after BOS has no context.
    let (mut nu, mut nb, mut n) = (0f64, 0f64, 0usize);
    for w in te.chunks_exact(ctx - 1) {
        for (i, &t) in w.iter().enumerate() {
            let pu = (count(&|x| x[0] == t, 1) + 1.0) / (tr.len() as f64 + v);
            let pb = if i == 0 {
                pu
            } else {
                let q = w[i - 1];
                let cq = tr[..tr.len() - 1].iter().filter(|&&x| x == q).count() as f64;
                if cq == 0.0 {
                    pu
                } else {
                    0.7 * count(&|x| x[0] == q && x[1] == t, 2) / cq + 0.3 * pu
                }
            };
            nu -= pu.ln();
            nb -= pb.ln();
            n += 1;
        }
    }
    assert_eq!((uni.scored_tokens, bi.scored_tokens), (n, n));
    assert!(
        ((uni.nll_nats - nu) / nu).abs() < 1e-9,
        "{} vs {nu}",
        uni.nll_nats
    );
    assert!(
        ((bi.nll_nats - nb) / nb).abs() < 1e-9,
        "{} vs {nb}",
        bi.nll_nats
    );
    assert!(bi.bits_per_byte < uni.bits_per_byte);
    assert_eq!(uni.token_digest, bi.token_digest);
}

/// `--pair-with` makes the named row the other side of every pair on its windows (the same
/// difference, negated, and the same spread as the default pairing), and an unknown label
/// is refused from the models' metadata before anything is scored.
#[test]
fn pair_with_names_the_reference_row() {
    let (salt_gguf, _) = adapted("models/gemma-3-270m-q4_k_m.gguf", "ko", Method::Salt);
    let (focus, _) = adapted("models/gemma-3-270m-q4_k_m.gguf", "ko", Method::Focus);
    let cfg = |pair_with: Option<&str>, text: std::path::PathBuf| salt::eval::EvalConfig {
        models: vec![salt_gguf.clone(), focus.clone()],
        text,
        score: ScoreOptions {
            ctx: 128,
            max_tokens: Some(1200),
            threads: None,
            reference: None,
        },
        pair_with: pair_with.map(str::to_owned),
        ..salt::eval::EvalConfig::default()
    };
    let heldout = asset("text/bible-ko-heldout.txt");
    let default =
        salt::eval::evaluate(&cfg(None, heldout.clone()), &mut salt::progress::Silent).unwrap();
    let named = salt::eval::evaluate(
        &cfg(Some("focus"), heldout.clone()),
        &mut salt::progress::Silent,
    )
    .unwrap();
    let (d, n) = (&default.paired, &named.paired);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(n.len(), 1, "{n:?}");
    assert_eq!(
        (d[0].label.as_str(), d[0].against.as_str()),
        ("focus", "salt")
    );
    assert_eq!(
        (n[0].label.as_str(), n[0].against.as_str()),
        ("salt", "focus")
    );
    assert!((d[0].diff + n[0].diff).abs() < 1e-12, "{d:?} {n:?}");
    assert!((d[0].se - n[0].se).abs() < 1e-12, "{d:?} {n:?}");
    assert!(salt::eval::table(&named).contains("salt - focus"));
    // A text too short to score: the label check comes first.
    let short = dir().join("pair-with-tiny.txt");
    std::fs::write(&short, "짧은 글").unwrap();
    let e = salt::eval::evaluate(&cfg(Some("fvt"), short), &mut salt::progress::Silent)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("--pair-with fvt") && e.contains("salt, focus"),
        "{e}"
    );
}
