//! Training through the frozen body (`salt train`) on the real models: the forward pass
//! scores as llama.cpp does for each architecture, and the written GGUF scores in llama.cpp
//! as the training code said it would, with every other tensor kept byte for byte.
//! (The gradients are checked against finite differences in the library's unit tests.)

use std::path::{Path, PathBuf};

use salt::gguf::GgufFile;
use salt::pipeline::{transfer, Method, TransferConfig};
use salt::train::{forward::ropes, reference::llama_logits, start_rows, window_logits, Body};

use crate::util::{asset, tmpdir};

/// (model, text) of each architecture: llama, qwen2, gemma3.
const CASES: [(&str, &str); 3] = [
    (
        "models/smollm2-135m-instruct-q4_1.gguf",
        "text/bible-ko-train.txt",
    ),
    (
        "models/qwen2.5-coder-0.5b-instruct.gguf",
        "text/bible-de-train.txt",
    ),
    ("models/gemma-3-270m-q4_k_m.gguf", "text/bible-ko-train.txt"),
];

/// `n` tokens of `text` under `model`'s tokenizer from token `skip` on, after BOS when
/// the model adds one.
fn window(model: &Path, text: &Path, skip: usize, n: usize) -> Vec<u32> {
    let lm = salt::eval::load_vocab_only(model).unwrap();
    let vocab = lm.vocab();
    let s = std::fs::read_to_string(text).unwrap();
    let tokens = vocab.tokenize(s.as_bytes(), false, false);
    let mut w: Vec<u32> = vocab
        .should_add_bos()
        .then(|| vocab.bos().0 as u32)
        .into_iter()
        .collect();
    let need = n - w.len();
    w.extend(tokens[skip..skip + need].iter().map(|t| t.0 as u32));
    w
}

fn nll(logits: &[f32], v: usize, w: &[u32]) -> f64 {
    (1..w.len())
        .map(|i| salt::eval::token_nll(&logits[(i - 1) * v..i * v], w[i] as usize))
        .sum::<f64>()
        / (w.len() - 1) as f64
}

/// Per position, the logits centred (a shift changes no probability), then the RMS of the
/// difference over the RMS of llama.cpp's: the quantized activations llama.cpp multiplies
/// with are the only expected difference.
fn relative_rms(own: &[f32], reference: &[f32], v: usize) -> f64 {
    let (mut diff, mut norm) = (0f64, 0f64);
    for (a, b) in own.chunks(v).zip(reference.chunks(v)) {
        let ma = a.iter().map(|x| f64::from(*x)).sum::<f64>() / v as f64;
        let mb = b.iter().map(|x| f64::from(*x)).sum::<f64>() / v as f64;
        for (x, y) in a.iter().zip(b) {
            let (x, y) = (f64::from(*x) - ma, f64::from(*y) - mb);
            diff += (x - y) * (x - y);
            norm += y * y;
        }
    }
    (diff / norm).sqrt()
}

/// A copy of `src` with every tensor dequantized to f32: llama.cpp then multiplies in f32
/// too (with quantized weights it quantizes the activations as well), so the only
/// difference left is the order of float sums.
fn f32_copy(src: &Path, out: &Path) {
    let f = GgufFile::open(src).unwrap();
    let mut header = salt::gguf::GgufHeader::from_file(&f);
    let sources: Vec<salt::gguf::TensorSource<'_>> = f
        .tensors
        .iter()
        .map(|t| {
            let rows = salt::codec::dequantize_rows(&f, t, 0, t.n_rows() as usize).unwrap();
            salt::gguf::TensorSource::Bytes(bytemuck::cast_slice(&rows).to_vec())
        })
        .collect();
    for t in &mut header.tensors {
        t.ty = salt::ggml::GgmlType::F32;
    }
    header.set("general.file_type", salt::gguf::Value::U32(0));
    let mut w = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    salt::gguf::write_gguf(&mut w, out, &header, &sources).unwrap();
}

/// In f32, the forward pass equals llama.cpp's to float rounding, for each architecture
/// (trimmed copies keep the files small; the body is the source's).
#[test]
fn forward_logits_equal_llama_cpp_in_f32_for_each_architecture() {
    let dir = tmpdir();
    for (model, text) in CASES {
        let trim = trimmed(&asset(model), text, dir.path().join("trim.gguf"));
        let path = dir.path().join("f32.gguf");
        f32_copy(&trim, &path);
        let f = GgufFile::open(&path).unwrap();
        let body = Body::load(&f, &path).unwrap();
        let rows = start_rows(&f).unwrap();
        let w = window(&path, &asset(text), 2_000, 96);
        let own = window_logits(&body, &ropes(&body.hp, w.len()), &rows, &w);
        let reference = llama_logits(&path, &w, None).unwrap();
        let rel = relative_rms(&own, &reference, rows.v);
        let (a, b) = (nll(&own, rows.v, &w), nll(&reference, rows.v, &w));
        println!("{model} in f32: relative RMS {rel:.2e}, NLL {a:.6} vs llama.cpp {b:.6}");
        assert!(
            rel < 2e-3,
            "{model} in f32: logits differ by {rel} (relative RMS)"
        );
        assert!(
            (a - b).abs() < 1e-3 * b,
            "{model} in f32: NLL {a} vs llama.cpp {b}"
        );
    }
}

/// With the quantized weights, llama.cpp also quantizes the activations it multiplies
/// them with; the forward pass does not, and the difference stays that small.
#[test]
fn forward_logits_match_llama_cpp_for_each_architecture() {
    for (model, text) in CASES {
        let path = asset(model);
        let f = GgufFile::open(&path).unwrap();
        let body = Body::load(&f, &path).unwrap();
        let rows = start_rows(&f).unwrap();
        let w = window(&path, &asset(text), 2_000, 96);
        let own = window_logits(&body, &ropes(&body.hp, w.len()), &rows, &w);
        let reference = llama_logits(&path, &w, None).unwrap();
        assert_eq!(own.len(), reference.len(), "{model}");
        let rel = relative_rms(&own, &reference, rows.v);
        let (a, b) = (nll(&own, rows.v, &w), nll(&reference, rows.v, &w));
        let argmax = |l: &[f32]| {
            l.iter()
                .enumerate()
                .max_by(|x, y| x.1.total_cmp(y.1))
                .map(|(i, _)| i)
        };
        let agree = own
            .chunks(rows.v)
            .zip(reference.chunks(rows.v))
            .filter(|(x, y)| argmax(x) == argmax(y))
            .count();
        println!(
            "{model}: relative RMS {rel:.4}, NLL {a:.5} vs llama.cpp {b:.5}, argmax {agree}/96"
        );
        assert!(rel < 0.08, "{model}: logits differ by {rel} (relative RMS)");
        assert!(
            (a - b).abs() < 0.01 * b,
            "{model}: NLL {a} vs llama.cpp {b}"
        );
        assert!(
            agree >= 80,
            "{model}: argmax agrees at {agree} of 96 positions"
        );
    }
}

/// A trimmed copy of `model` (a few thousand tokens: the test's rows stay small).
fn trimmed(model: &Path, text: &str, out: PathBuf) -> PathBuf {
    let mut cfg = TransferConfig::new(model.to_path_buf(), model.to_path_buf(), None, out.clone());
    cfg.init.method = Method::Trim;
    cfg.target.trim_to = Some(crate::fixtures::head(text, 3000));
    cfg.output.force = true;
    transfer(&cfg, &mut salt::progress::Silent).unwrap();
    out
}

fn train_config(model: &Path, text: &str, out: PathBuf) -> salt::train::TrainConfig {
    let mut cfg =
        salt::train::TrainConfig::new(model.to_path_buf(), crate::fixtures::head(text, 3000), out);
    cfg.steps = 3;
    cfg.eval_every = 1;
    cfg.val_windows = 1;
    cfg.ctx = 256;
    // Every row: a trim's rows are all shared, which the default leaves.
    cfg.rows = salt::tune::FitRows::All;
    cfg.force = true;
    cfg
}

#[test]
fn written_model_scores_in_llama_cpp_as_trained_and_keeps_every_other_tensor() {
    let dir = tmpdir();
    for (model, text) in CASES {
        let src = trimmed(&asset(model), text, dir.path().join("trim.gguf"));
        let out = dir.path().join("trained.gguf");
        // Windows of salt train's own length: llama.cpp's 8-bit activations cost it more
        // on short windows (0.65% of SmolLM2's NLL at 64 tokens, 0.01% at 512).
        let mut cfg = train_config(&src, text, out.clone());
        cfg.ctx = 512;
        let r = salt::train::train(&cfg, &mut salt::progress::Silent).unwrap();
        assert!(r.rows_trained > 100, "{model}: {r:?}");
        assert_eq!(
            r.log.len(),
            4,
            "{model}: a validation before and after each step"
        );
        // The rows moved, and the kept step is the best validated one.
        let best = r
            .log
            .iter()
            .map(|l| l.val_nll)
            .fold(f64::INFINITY, f64::min);
        assert_eq!(
            r.log
                .iter()
                .find(|l| l.step == r.best_step)
                .unwrap()
                .val_nll,
            best
        );
        let w = &r.val_tokens[0];
        let logits = llama_logits(&out, w, None).unwrap();
        let v = logits.len() / w.len();
        let llama = nll(&logits, v, w);
        println!(
            "{model}: llama.cpp {llama:.5}, training code {:.5}",
            r.val_nll_written
        );
        assert!(
            (llama - r.val_nll_written).abs() < 0.005 * llama,
            "{model}: llama.cpp scores the written file {llama}, the training code {}",
            r.val_nll_written
        );
        let (a, b) = (GgufFile::open(&src).unwrap(), GgufFile::open(&out).unwrap());
        for t in &a.tensors {
            let name = t.name_str();
            if name == "token_embd.weight" || name == "output.weight" {
                continue;
            }
            let u = b.tensor(&name).unwrap();
            assert_eq!(
                a.tensor_data(t),
                b.tensor_data(u),
                "{model}: {name} changed"
            );
        }
        // The output rows do not move by default: copied byte for byte (from token_embd
        // when the input was tied); the input rows do.
        let head = a
            .tensor("output.weight")
            .or(a.tensor("token_embd.weight"))
            .unwrap();
        let written = b.tensor("output.weight").expect("the output is untied");
        assert_eq!(
            a.tensor_data(head),
            b.tensor_data(written),
            "{model}: output rows changed"
        );
        // The input rows are the kept step's: moved, or the start's bytes when step 0 was
        // the best (Gemma's trim gets worse from the first step).
        let (ea, eb) = (
            a.tensor("token_embd.weight").unwrap(),
            b.tensor("token_embd.weight").unwrap(),
        );
        let same = a.tensor_data(ea) == b.tensor_data(eb);
        assert_eq!(
            same,
            r.best_step == 0,
            "{model}: best step {}, input rows unchanged: {same}",
            r.best_step
        );
        assert_eq!(
            b.get("salt.train_best_step").and_then(|v| v.as_int()),
            Some(r.best_step as i128)
        );
        // salt eval names it by its start and the training.
        let e = salt::eval::evaluate(
            &salt::eval::EvalConfig {
                models: vec![src.clone(), out.clone()],
                text: crate::fixtures::head(text, 200),
                parity_only: true,
                ..salt::eval::EvalConfig::default()
            },
            &mut salt::progress::Silent,
        )
        .unwrap();
        assert_eq!(
            e.rows[1].label,
            format!("{}+train", e.rows[0].label),
            "{model}"
        );
    }
}

/// The same seed gives the same bytes on one thread and on two.
#[test]
fn training_is_deterministic_across_thread_counts() {
    let dir = tmpdir();
    let (model, text) = CASES[0];
    let src = trimmed(&asset(model), text, dir.path().join("trim.gguf"));
    let mut outs = Vec::new();
    for threads in [1, 2] {
        let out = dir.path().join(format!("t{threads}.gguf"));
        let mut cfg = train_config(&src, text, out.clone());
        cfg.steps = 2;
        cfg.threads = Some(threads);
        salt::train::train(&cfg, &mut salt::progress::Silent).unwrap();
        outs.push(std::fs::read(out).unwrap());
    }
    assert!(
        outs[0] == outs[1],
        "one thread and two wrote different files"
    );
}

/// A run cancelled after its first validation resumes from its checkpoint and writes the
/// same bytes as a run never stopped; a checkpoint of other settings is refused by name.
#[test]
fn cancelled_run_resumes_to_the_same_bytes() {
    let dir = tmpdir();
    let (model, text) = CASES[0];
    let src = trimmed(&asset(model), text, dir.path().join("trim.gguf"));
    let state = dir.path().join("run.train-state");
    let config = |out: &str| {
        let mut cfg = train_config(&src, text, dir.path().join(out));
        cfg.steps = 4;
        cfg.eval_every = 2;
        // A rate this high makes step 2's validation worse than the start, so the rate is
        // halved from there on: the resumed run must find that from the log alone.
        cfg.lr.0 = 1.0;
        cfg.checkpoint = Some(state.clone());
        cfg.resume = true;
        cfg
    };
    salt::train::train(&config("whole.gguf"), &mut salt::progress::Silent).unwrap();
    assert!(
        !state.exists(),
        "the checkpoint is removed when the run ends"
    );
    let flag = salt::progress::CancelFlag::new();
    let mut stop = salt::progress::WithCancel {
        on_event: {
            let flag = flag.clone();
            move |e: &salt::progress::Event<'_>| {
                if e.message.starts_with("step 2:") {
                    flag.cancel();
                }
            }
        },
        flag: flag.clone(),
    };
    let err = salt::train::train(&config("resumed.gguf"), &mut stop).unwrap_err();
    assert!(matches!(err, salt::Error::Cancelled), "{err}");
    assert!(state.is_file() && !dir.path().join("resumed.gguf").exists());
    let mut other = config("other.gguf");
    other.lr.0 *= 2.0;
    let err = salt::train::train(&other, &mut salt::progress::Silent)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("run.train-state") && err.contains("other inputs or settings"),
        "{err}"
    );
    let mut lines = Vec::new();
    let r = salt::train::train(&config("resumed.gguf"), &mut |e: &salt::progress::Event<
        '_,
    >| {
        lines.push(e.message.to_string());
    })
    .unwrap();
    assert!(
        lines.iter().any(|l| l.starts_with("resuming at step 2")),
        "{lines:?}"
    );
    assert_eq!(r.log.len(), 3, "validations at steps 0, 2 and 4");
    assert!(
        r.log[1].val_nll >= r.log[0].val_nll,
        "step 2 should stall, so that the decay is part of what is resumed: {:?}",
        r.log
    );
    let (a, b) = (
        std::fs::read(dir.path().join("whole.gguf")).unwrap(),
        std::fs::read(dir.path().join("resumed.gguf")).unwrap(),
    );
    assert!(a == b, "the resumed run wrote other bytes");
}

/// Refusals name what is wrong, and nothing is written: an architecture the forward pass
/// does not implement, an existing output without force, a text shorter than two windows.
#[test]
fn train_refuses_what_it_cannot_do_and_writes_nothing() {
    let dir = tmpdir();
    let (model, text) = CASES[0];
    let src = asset(model);
    let f = GgufFile::open(&src).unwrap();
    let mut header = salt::gguf::GgufHeader::from_file(&f);
    header.set("general.architecture", salt::gguf::Value::str("phi2"));
    let sources: Vec<salt::gguf::TensorSource<'_>> = (0..f.tensors.len())
        .map(|i| salt::gguf::TensorSource::Copy(&f, i))
        .collect();
    let phi = dir.path().join("phi.gguf");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&phi).unwrap());
    salt::gguf::write_gguf(&mut w, &phi, &header, &sources).unwrap();
    drop(w);
    let out = dir.path().join("out.gguf");
    let err = salt::train::train(
        &train_config(&phi, text, out.clone()),
        &mut salt::progress::Silent,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("phi.gguf") && err.contains("architecture phi2"),
        "{err}"
    );
    assert!(!out.exists());
    std::fs::write(&out, b"keep me").unwrap();
    let mut cfg = train_config(&src, text, out.clone());
    cfg.force = false;
    let err = salt::train::train(&cfg, &mut salt::progress::Silent)
        .unwrap_err()
        .to_string();
    assert!(err.contains("out.gguf") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    let short = dir.path().join("short.txt");
    std::fs::write(&short, "한 줄.\n").unwrap();
    let mut cfg = train_config(&src, text, dir.path().join("o2.gguf"));
    cfg.train = short;
    let err = salt::train::train(&cfg, &mut salt::progress::Silent)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("short.txt") && err.contains("at least two"),
        "{err}"
    );
    assert!(!dir.path().join("o2.gguf").exists());
}
