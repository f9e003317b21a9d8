//! The trim route (a model's own vocabulary cut to a language), speed in the eval, `salt
//! plan`'s choice and `salt adapt`'s refusals, on the real models and texts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use salt::gguf::GgufFile;
use salt::pipeline::{transfer, Method, TransferConfig};

use crate::util::{asset, tmpdir};

/// (model, training text, held-out text) of each trim case.
const CASES: [(&str, &str, &str); 3] = [
    (
        "models/gemma-3-270m-q4_k_m.gguf",
        "text/bible-ko-train.txt",
        "text/bible-ko-heldout.txt",
    ),
    (
        "models/smollm2-135m-instruct-q4_1.gguf",
        "text/bible-ko-train.txt",
        "text/bible-ko-heldout.txt",
    ),
    (
        "models/qwen2.5-coder-0.5b-instruct.gguf",
        "text/bible-de-train.txt",
        "text/bible-de-heldout.txt",
    ),
];

fn trim_config(model: &Path, text: PathBuf, out: PathBuf) -> TransferConfig {
    let mut cfg = TransferConfig::new(model.to_path_buf(), model.to_path_buf(), None, out);
    cfg.init.method = Method::Trim;
    cfg.target.trim_to = Some(text);
    cfg.output.force = true;
    cfg
}

/// Every kept row, in `token_embd` and `output`, is the source row of the same token byte
/// for byte; llama.cpp tokenizes like the trimmed reference; reserved control tokens go and
/// the turn markers stay.
#[test]
fn trim_route_keeps_rows_exact_and_tokenizes_like_its_reference() {
    let dir = tmpdir();
    for (model, train, held) in CASES {
        let src_path = asset(model);
        let out = dir.path().join("trim.gguf");
        let text = crate::fixtures::head(train, 4000);
        let r = transfer(
            &trim_config(&src_path, text, out.clone()),
            &mut salt::progress::Silent,
        )
        .unwrap();
        assert_eq!(r.method, Method::Trim);
        assert_eq!((r.regressed, r.random, r.chat), (0, 0, 0), "{model}: {r:?}");
        assert!(r.n_vocab < r.source_vocab / 5, "{model}: {r:?}");
        let (src, dst) = (
            GgufFile::open(&src_path).unwrap(),
            GgufFile::open(&out).unwrap(),
        );
        let (sv, dv) = (
            salt::vocab::vocab_from_gguf(&src).unwrap(),
            salt::vocab::vocab_from_gguf(&dst).unwrap(),
        );
        let mut by_text: HashMap<&[u8], usize> = HashMap::new();
        for (i, t) in sv.tokens.iter().enumerate().rev() {
            by_text.insert(t.text.as_slice(), i);
        }
        let old: Vec<usize> = dv
            .tokens
            .iter()
            .map(|t| by_text[t.text.as_slice()])
            .collect();
        for name in ["token_embd.weight", "output.weight"] {
            let (Some(a), Some(b)) = (src.tensor(name), dst.tensor(name)) else {
                assert!(src.tensor(name).is_none() && dst.tensor(name).is_none());
                continue;
            };
            assert_eq!(a.ty, b.ty, "{model} {name}");
            let rb = a.row_bytes() as usize;
            let (da, db) = (src.tensor_data(a), dst.tensor_data(b));
            for (new, &o) in old.iter().enumerate() {
                assert!(
                    da[o * rb..(o + 1) * rb] == db[new * rb..(new + 1) * rb],
                    "{model} {name}: row of token {new} ({:?}) is not source row {o}",
                    dv.text(new as u32)
                );
            }
        }
        // Reserved control tokens are gone: only roles and turn markers stay.
        let controls = dv
            .tokens
            .iter()
            .filter(|t| t.kind == salt::vocab::TokKind::Control)
            .count();
        assert!(controls <= 8, "{model}: {controls} control tokens kept");
        if model.contains("gemma") {
            assert!(dv.tokens.iter().any(|t| t.text == b"<end_of_turn>"));
            assert!(!dv.tokens.iter().any(|t| t.text == b"<unused0>"));
        }
        let tk = salt::vocab::load_target(&salt::pipeline::tokenizer_paths(&out).0).unwrap();
        let held = std::fs::read_to_string(asset(held)).unwrap();
        let lines: Vec<&str> = held.lines().take(400).collect();
        let p = salt::eval::parity(&out, &tk, &lines).unwrap();
        assert!(p.ok(), "{model}: {:?}", p.mismatches.first());
    }
}

/// On the text it was trimmed to, the trimmed Gemma scores no worse than its source (it
/// segments the text identically and its softmax has fewer rivals). Guards the line-break
/// bug: dropping Gemma's user-defined "\n" piece made every line break a byte token and
/// cost 0.25 bits/byte.
#[test]
fn trimmed_gemma_is_not_worse_than_its_source_on_its_own_text() {
    let dir = tmpdir();
    let (model, train, _) = CASES[0];
    let text = crate::fixtures::head(train, 3000);
    let out = dir.path().join("g.gguf");
    transfer(
        &trim_config(&asset(model), text.clone(), out.clone()),
        &mut salt::progress::Silent,
    )
    .unwrap();
    let content = std::fs::read_to_string(&text).unwrap();
    let opts = salt::eval::ScoreOptions {
        ctx: 256,
        max_tokens: Some(1500),
        ..salt::eval::ScoreOptions::default()
    };
    let score = |m: &Path| {
        salt::eval::score(m, &text, &content, &opts, &mut salt::progress::Silent).unwrap()
    };
    let (a, b) = (score(&asset(model)), score(&out));
    println!("source {} trim {}", a.bits_per_byte, b.bits_per_byte);
    assert_eq!(a.scored_tokens, b.scored_tokens);
    assert!(
        b.bits_per_byte <= a.bits_per_byte,
        "{} > {}",
        b.bits_per_byte,
        a.bits_per_byte
    );
}

/// The route's refusals, before anything is written.
#[test]
fn trim_route_refuses_what_it_cannot_do() {
    let dir = tmpdir();
    let (model, train, _) = CASES[1];
    let out = dir.path().join("x.gguf");
    let text = asset(train);
    let route = |cfg: &TransferConfig, methods: &[Method]| match salt::pipeline::transfer_methods(
        cfg,
        methods,
        &mut salt::progress::Silent,
    ) {
        Err(salt::Error::Route { reason, .. }) => reason,
        other => panic!("expected a route error, got {other:?}"),
    };
    let mut cfg = trim_config(&asset(model), text.clone(), out.clone());
    cfg.target.plm = asset("plm/use");
    assert!(route(&cfg, &[Method::Trim]).contains("is not the source"));
    let mut cfg = trim_config(&asset(model), text.clone(), out.clone());
    cfg.target.trim_to = None;
    assert!(route(&cfg, &[Method::Trim]).contains("nothing to trim to"));
    let cfg = trim_config(&asset(model), text, out.clone());
    assert!(route(&cfg, &[Method::Trim, Method::Fvt]).contains("runs alone"));
    assert!(!out.exists());
}

/// Speed figures are positive and consistent: bytes per second are tokens per second
/// times the model's bytes per token.
#[test]
fn speed_is_measured_in_tokens_and_bytes() {
    let text = std::fs::read_to_string(asset("text/bible-ko-heldout.txt")).unwrap();
    let text: String = text.lines().take(200).collect::<Vec<_>>().join("\n");
    let opts = salt::eval::SpeedOptions {
        prompt_tokens: 64,
        gen_tokens: 4,
        reps: 1,
        threads: Some(2),
    };
    let s = salt::eval::measure_speed(
        &asset("models/smollm2-135m-instruct-q4_1.gguf"),
        &text,
        &opts,
    )
    .unwrap();
    assert!(s.prompt_tok_per_s > 0.0 && s.gen_tok_per_s > 0.0, "{s:?}");
    assert!((s.gen_bytes_per_s - s.gen_tok_per_s * s.bytes_per_token).abs() < 1e-6);
    // SmolLM2 falls back to bytes on Korean: about one byte per token.
    assert!(s.bytes_per_token > 0.8 && s.bytes_per_token < 2.0, "{s:?}");
    assert_eq!((s.threads, s.prompt_tokens, s.gen_tokens), (2, 64, 4));
}

/// `salt plan` picks trim where the source's tokenizer serves the language (Gemma on
/// Korean) and replacement with fvt where it falls back to bytes (SmolLM2 on Korean), from
/// the training text alone.
#[test]
fn plan_chooses_trim_for_gemma_and_replacement_for_smollm2() {
    let text = crate::fixtures::head("text/bible-ko-train.txt", 6000);
    let cfg = |model: &str| salt::plan::PlanConfig {
        source: asset(model),
        plm: Some(asset("plm/use/sp.model")),
        text: text.clone(),
        keep: salt::vocab::TrimKeep::default(),
    };
    let g = salt::plan::plan(&cfg(CASES[0].0), &mut salt::progress::Silent).unwrap();
    println!("{}", salt::plan::table(&g));
    assert_eq!((g.recommended.as_str(), g.method), ("trim", Method::Trim));
    assert_eq!(g.script.as_deref(), Some("Hangul"));
    let names: Vec<&str> = g.routes.iter().map(|r| r.route.as_str()).collect();
    assert_eq!(names, ["source", "trim", "trim+Hangul", "replace"]);
    // A trimmed vocabulary is smaller and cheaper per byte than its source.
    assert!(g.routes[1].file_bytes < g.routes[0].file_bytes / 2);
    assert!(g.routes[1].cost_per_byte < 0.9);
    assert!((g.routes[0].cost_per_byte - 1.0).abs() < 1e-9);
    let s = salt::plan::plan(&cfg(CASES[1].0), &mut salt::progress::Silent).unwrap();
    println!("{}", salt::plan::table(&s));
    assert_eq!((s.recommended.as_str(), s.method), ("replace", Method::Fvt));
    let replace = &s.routes[3];
    assert!(
        replace.tokens_per_kb < 0.4 * s.routes[0].tokens_per_kb,
        "{replace:?}"
    );
    assert!(s.routes[0].fallback_byte_share > 0.9);
    for r in g.routes.iter().chain(&s.routes) {
        for share in [r.shared_byte_share, r.fallback_byte_share] {
            assert!((0.0..=1.0).contains(&share), "{r:?}");
        }
    }
}

/// `salt adapt` refuses, with nothing written: a text too short to split, a text the
/// source's vocabulary does not know and no PLM to replace it, an existing output.
#[test]
fn adapt_refuses_bad_input_and_writes_nothing() {
    let dir = tmpdir();
    let out = dir.path().join("a.gguf");
    let smol = asset(CASES[1].0);
    let short = crate::fixtures::head("text/bible-ko-train.txt", 20);
    let cfg = salt::adapt::AdaptConfig::new(smol.clone(), short.clone(), None, out.clone());
    let e = salt::adapt::adapt(&cfg, &mut salt::progress::Silent).unwrap_err();
    assert!(e.to_string().contains("too short to split"), "{e}");
    let text = crate::fixtures::head("text/bible-ko-train.txt", 3000);
    let cfg = salt::adapt::AdaptConfig::new(smol.clone(), text.clone(), None, out.clone());
    match salt::adapt::adapt(&cfg, &mut salt::progress::Silent) {
        Err(salt::Error::Route { reason, fix }) => {
            assert!(reason.contains("fall to byte pieces"), "{reason}");
            assert!(fix.contains("--plm"), "{fix}");
        }
        other => panic!("expected a route error, got {other:?}"),
    }
    assert!(!out.exists());
    std::fs::write(&out, b"mine").unwrap();
    let cfg = salt::adapt::AdaptConfig::new(smol, text, None, out.clone());
    let e = salt::adapt::adapt(&cfg, &mut salt::progress::Silent).unwrap_err();
    assert!(
        matches!(
            e,
            salt::Error::Output(salt::error::OutputError::Exists { .. })
        ),
        "{e}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"mine");
}

/// With stderr redirected to a file, a long run prints step lines every few seconds (no
/// progress bar is drawn there): a run of over 10 seconds shows at least one line
/// between its start and its end.
#[test]
fn progress_lines_appear_when_stderr_is_a_file() {
    let dir = tmpdir();
    let log = dir.path().join("stderr.log");
    let t0 = std::time::Instant::now();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_salt"))
        .args(["eval", "--no-speed", "--max-tokens", "4000", "--model"])
        .arg(asset(CASES[1].0))
        .arg("--text")
        .arg(asset(CASES[1].2))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .status()
        .unwrap();
    let seconds = t0.elapsed().as_secs_f64();
    assert!(status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let steps: Vec<(u64, u64)> = text
        .lines()
        .filter_map(|l| l.split("] eval: ").nth(1))
        .filter_map(|s| {
            let (a, b) = s.split_once('/')?;
            Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
        })
        .collect();
    println!("{seconds:.1} s: {steps:?}");
    assert!(
        steps.iter().any(|(a, b)| a == b),
        "no closing step line:\n{text}"
    );
    if seconds > 10.0 {
        assert!(
            steps.iter().any(|(a, b)| a < b),
            "a {seconds:.0} s run printed no step line before its end:\n{text}"
        );
    }
}

/// An uncased target (MiniLM's WordPiece lowercases) is named in a warning: the adapted
/// model would only ever see lowercase text.
#[test]
fn an_uncased_target_gets_a_warning() {
    struct Messages(Vec<String>);
    impl salt::progress::Progress for Messages {
        fn event(&mut self, e: &salt::progress::Event<'_>) {
            self.0.push(e.message.to_owned());
        }
    }
    let dir = tmpdir();
    let smol = asset(CASES[1].0);
    let mut cfg = TransferConfig::new(smol, asset("plm/minilm"), None, dir.path().join("m.gguf"));
    cfg.init.method = Method::Mean;
    let mut seen = Messages(Vec::new());
    transfer(&cfg, &mut seen).unwrap();
    let warned: Vec<&String> = seen.0.iter().filter(|m| m.contains("lowercase")).collect();
    assert_eq!(warned.len(), 1, "{:?}", seen.0);
    assert!(warned[0].contains("cased vocabulary"));
    // A cased target (Gemma's SentencePiece) gets none.
    let mut cfg = trim_config(
        &asset(CASES[0].0),
        crate::fixtures::head(CASES[0].1, 500),
        dir.path().join("g.gguf"),
    );
    cfg.output.force = true;
    let mut seen = Messages(Vec::new());
    transfer(&cfg, &mut seen).unwrap();
    assert!(
        !seen.0.iter().any(|m| m.contains("lowercase")),
        "{:?}",
        seen.0
    );
}

/// `salt transfer --help` names every method (routes included) and gives an example;
/// the American spelling of salt-centred is accepted.
#[test]
fn transfer_help_lists_every_method() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_salt"))
        .args(["transfer", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for m in Method::ALL.iter().chain(&Method::ROUTES) {
        assert!(
            help.contains(m.name()),
            "{} is not in the help:\n{help}",
            m.name()
        );
    }
    assert!(
        help.contains("Examples:") && help.contains("Trimming:"),
        "{help}"
    );
    assert_eq!(
        Method::from_name("salt-centered"),
        Some(Method::SaltCentred)
    );
}

/// With a training budget, `salt adapt` trains the replacement candidate through the
/// frozen body and scores it beside the others (its own candidate, `...+train`), and not
/// the trims, whose rows are all the source's; the winner is one of the scored models and
/// is written.
#[test]
fn adapt_trains_the_replacement_candidate_when_given_steps() {
    let dir = tmpdir();
    let smol = asset("models/smollm2-135m-instruct-q4_1.gguf");
    let text = crate::fixtures::head("text/bible-ko-train.txt", 2500);
    let out = dir.path().join("adapted.gguf");
    let mut cfg = salt::adapt::AdaptConfig::new(smol, text, Some(asset("plm/use")), out.clone());
    cfg.budget.train_steps = 2;
    cfg.budget.eval_tokens = 1024;
    cfg.budget.fit_tokens = 2048;
    cfg.budget.fit_iters = 2;
    cfg.keep_candidates = true;
    let r = salt::adapt::adapt(&cfg, &mut salt::progress::Silent).unwrap();
    let labels: Vec<&str> = r.candidates.iter().map(|c| c.label.as_str()).collect();
    let trained: Vec<&str> = labels
        .iter()
        .copied()
        .filter(|l| l.ends_with("+train"))
        .collect();
    assert_eq!(trained.len(), 1, "{labels:?}");
    assert!(trained[0].starts_with("replace"), "{labels:?}");
    let t = r.candidates.iter().find(|c| c.label == trained[0]).unwrap();
    // The winner was moved to the output.
    let f = GgufFile::open(if r.winner == trained[0] {
        &out
    } else {
        &t.path
    })
    .unwrap();
    assert_eq!(f.get("salt.train_steps").and_then(|v| v.as_int()), Some(2));
    assert_eq!(
        r.validation.rows.len(),
        labels.len() + 1,
        "the source and every candidate"
    );
    assert!(labels.contains(&r.winner.as_str()), "{}", r.winner);
    assert!(out.is_file());
}
