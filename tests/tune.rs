//! `salt tune`: the fit's gradient against finite differences and an f64 slow path, its
//! determinism across thread counts, and a fitted head whose logits, computed from the
//! written rows, equal llama.cpp's for the written GGUF.

use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::llama_batch::LlamaBatch;
use salt::gguf::GgufFile;
use salt::pipeline::Method;
use salt::tune::{fit_rows, nll_and_grad, FitOptions, FitRows, Hidden, InputRows, TuneConfig};

use crate::fixtures::{adapted, head};
use crate::util::{asset, sha256_file, tmpdir};

const GEMMA: &str = "models/gemma-3-270m-q4_k_m.gguf";

/// A seeded problem: `n` positions of width `d`, `v` classes, targets from a hidden
/// linear model (so that the fit has something to find).
fn problem(n: usize, d: usize, v: usize, seed: u64) -> (Hidden, Vec<f32>) {
    let mut s = seed;
    let mut next = move || {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    };
    let truth: Vec<f32> = (0..v * d).map(|_| 3.0 * next()).collect();
    let h: Vec<f32> = (0..n * d).map(|_| next()).collect();
    let targets = (0..n)
        .map(|i| {
            let z = (0..v).map(|c| {
                (0..d).map(|j| truth[c * d + j] * h[i * d + j]).sum::<f32>() + 0.5 * next()
            });
            z.enumerate()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map_or(0, |(c, _)| c as u32)
        })
        .collect();
    let w0 = (0..v * d).map(|_| 0.1 * next()).collect();
    (
        Hidden {
            d,
            h,
            targets,
            windows: 1,
        },
        w0,
    )
}

/// Mean NLL in f64 with plain loops (no GEMM, no blocks).
fn slow_nll(w: &[f32], data: &Hidden) -> f64 {
    let (d, v) = (data.d, w.len() / data.d);
    let mut total = 0f64;
    for i in 0..data.len() {
        let z: Vec<f64> = (0..v)
            .map(|c| {
                (0..d)
                    .map(|j| f64::from(w[c * d + j]) * f64::from(data.h[i * d + j]))
                    .sum()
            })
            .collect();
        let m = z.iter().copied().fold(f64::MIN, f64::max);
        let lse = m + z.iter().map(|x| (x - m).exp()).sum::<f64>().ln();
        total += lse - z[data.targets[i] as usize];
    }
    total / data.len() as f64
}

#[test]
fn fit_gradient_matches_finite_differences_and_the_slow_loss() {
    // 2,100 positions: two blocks of the loss.
    let (data, w) = problem(2100, 6, 5, 7);
    let (nll, g) = nll_and_grad(&w, 5, &data, true);
    let g = g.unwrap();
    let slow = slow_nll(&w, &data);
    assert!((nll - slow).abs() < 1e-5 * slow, "{nll} vs {slow}");
    for k in [0, 7, 13, 29] {
        let eps = 1e-2f32;
        let (mut a, mut b) = (w.clone(), w.clone());
        a[k] += eps;
        b[k] -= eps;
        let fd = (slow_nll(&a, &data) - slow_nll(&b, &data)) / (2.0 * f64::from(eps));
        assert!(
            (f64::from(g[k]) - fd).abs() < 1e-3 * fd.abs().max(1e-2),
            "grad[{k}] {} vs finite difference {fd}",
            g[k]
        );
    }
}

#[test]
fn fit_lowers_the_loss_and_is_identical_across_thread_counts() {
    let (all, w0) = problem(3000, 8, 6, 11);
    let (train, val) = (all.slice(0, 2500), all.slice(2500, 3000));
    let ids: Vec<u32> = (0..6).collect();
    let opts = FitOptions {
        l2: 1e-4,
        iters: 15,
        history: 8,
    };
    let mut fits = Vec::new();
    for threads in [1usize, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        fits.push(
            pool.install(|| fit_rows(&w0, &ids, &train, &val, &opts, &mut salt::progress::Silent))
                .unwrap(),
        );
    }
    let bits = |r: &[f32]| r.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&fits[0].rows),
        bits(&fits[1].rows),
        "thread count changed the rows"
    );
    let log = &fits[0].log;
    println!("{log:?}");
    assert!(log.last().unwrap().train_nll < 0.7 * log[0].train_nll);
    let kept = log.iter().find(|l| l.iter == fits[0].best_iter).unwrap();
    assert!(
        log.iter().all(|l| kept.val_nll <= l.val_nll),
        "the best validation iterate is kept"
    );
    assert!((slow_nll(&fits[0].rows, &val) - kept.val_nll).abs() < 1e-5);
    // Fitting some rows leaves the others exactly as they were.
    let part = fit_rows(
        &w0,
        &[1, 4],
        &train,
        &val,
        &opts,
        &mut salt::progress::Silent,
    )
    .unwrap();
    for c in [0usize, 2, 3, 5] {
        assert_eq!(
            bits(&part.rows[c * 8..(c + 1) * 8]),
            bits(&w0[c * 8..(c + 1) * 8])
        );
    }
    assert_ne!(bits(&part.rows[8..16]), bits(&w0[8..16]));
}

#[test]
fn tuned_head_logits_equal_llama_cpp_and_runs_repeat() {
    let dir = tmpdir();
    let (focus, _) = adapted(GEMMA, "ko", Method::Focus);
    let train = head("text/bible-ko-train.txt", 400);
    let run_with = |name: &str, rows: FitRows, inputs: InputRows| {
        let mut cfg = TuneConfig::new(focus.clone(), train.clone(), dir.path().join(name));
        cfg.rows = rows;
        cfg.inputs = inputs;
        cfg.hidden.ctx = 256;
        cfg.hidden.max_tokens = Some(1500);
        cfg.hidden.cache = Some(dir.path().join("cache"));
        cfg.fit.iters = 4;
        salt::tune::tune(&cfg, &mut salt::progress::Silent).unwrap()
    };
    let run_rows = |name: &str, rows: FitRows| run_with(name, rows, InputRows::Keep);
    let run = |name: &str| run_rows(name, FitRows::All);
    let r = run("a.gguf");
    println!("{:?}", r.log);
    assert!(r.log[r.log.len() - 1].train_nll < r.log[0].train_nll);
    // The second run reads the cached hidden states and writes the same bytes.
    run("b.gguf");
    let a = dir.path().join("a.gguf");
    assert_eq!(sha256_file(&a), sha256_file(&dir.path().join("b.gguf")));
    assert!(dir.path().join("a.tokenizer.json").is_file());
    let f = GgufFile::open(&a).unwrap();
    let out = f.require_tensor("output.weight").unwrap();
    let (d, v) = (out.row_width() as usize, out.dims[1] as usize);
    let rows = salt::codec::gather_rows(&f, out, &(0..v as u32).collect::<Vec<_>>()).unwrap();
    // Input rows untouched: token_embd is the focus model's.
    let g = GgufFile::open(&focus).unwrap();
    let (ea, eb) = (
        f.require_tensor("token_embd.weight").unwrap(),
        g.require_tensor("token_embd.weight").unwrap(),
    );
    assert!(f.tensor_data(ea) == g.tensor_data(eb));

    // --rows new fits the new tokens' rows only, unshared the special and chat tokens'
    // too: the shared tokens' rows of both are the same unfitted rows, unlike all's.
    let codes: Vec<i128> = g
        .get(salt::provenance::key::TOKEN_CLASS)
        .and_then(salt::gguf::Value::as_array)
        .unwrap()
        .iter()
        .map(|c| c.as_int().unwrap())
        .collect();
    let count = |of: &[i128]| codes.iter().filter(|c| of.contains(c)).count();
    let (rn, ru) = (
        run_rows("new.gguf", FitRows::New),
        run_rows("unshared.gguf", FitRows::Unshared),
    );
    assert_eq!(rn.rows_fitted, count(&[1, 2]));
    assert_eq!(ru.rows_fitted, count(&[1, 2, 3]));
    assert!(count(&[3]) > 0 && count(&[0]) > 0);
    let out_rows = |name: &str| {
        let h = GgufFile::open(dir.path().join(name)).unwrap();
        let o = h.require_tensor("output.weight").unwrap();
        salt::codec::gather_rows(&h, o, &(0..v as u32).collect::<Vec<_>>()).unwrap()
    };
    let (wn, wu) = (out_rows("new.gguf"), out_rows("unshared.gguf"));
    // Each file names the rows it was fitted with (eval labels heads by it).
    for (name, rows) in [
        ("a.gguf", "all"),
        ("new.gguf", "new"),
        ("unshared.gguf", "unshared"),
    ] {
        let h = GgufFile::open(dir.path().join(name)).unwrap();
        assert_eq!(h.opt_str("salt.head_fit").unwrap(), Some(rows), "{name}");
    }
    let row = |w: &[f32], c: usize| {
        w[c * d..(c + 1) * d]
            .iter()
            .map(|x| x.to_bits())
            .collect::<Vec<_>>()
    };
    let codes = &codes;
    let by_class = |code: i128| (0..v).filter(move |&c| codes[c] == code);
    for c in by_class(0) {
        assert_eq!(row(&wn, c), row(&wu, c), "shared row {c}");
    }
    assert!(
        by_class(0).any(|c| row(&wn, c) != row(&rows, c)),
        "all fits shared rows"
    );
    assert!(
        by_class(3).any(|c| row(&wn, c) != row(&wu, c)),
        "unshared fits special rows"
    );

    // --inputs tie: each fitted row becomes that token's input row too (token_embd and
    // the head are both Q8_0 here, so the same bytes), and every other input row is copied.
    let tied = run_with("inputs.gguf", FitRows::Unshared, InputRows::Tie);
    assert_eq!((ru.inputs, tied.inputs), (InputRows::Keep, InputRows::Tie));
    assert_eq!(InputRows::DEFAULT, InputRows::Keep);
    let (h, u) = (
        GgufFile::open(dir.path().join("inputs.gguf")).unwrap(),
        GgufFile::open(dir.path().join("unshared.gguf")).unwrap(),
    );
    let (he, ho, uo) = (
        h.require_tensor("token_embd.weight").unwrap(),
        h.require_tensor("output.weight").unwrap(),
        u.require_tensor("output.weight").unwrap(),
    );
    assert!(
        h.tensor_data(ho) == u.tensor_data(uo),
        "same head as without --inputs"
    );
    assert_eq!((he.ty, ho.ty), (eb.ty, eb.ty));
    let rb = he.row_bytes() as usize;
    let bytes_of = |data: &[u8], c: usize| data[c * rb..(c + 1) * rb].to_vec();
    for (c, &code) in codes.iter().enumerate() {
        let want = if code != 0 {
            bytes_of(h.tensor_data(ho), c)
        } else {
            bytes_of(g.tensor_data(eb), c)
        };
        assert_eq!(bytes_of(h.tensor_data(he), c), want, "input row {c}");
    }
    assert!(
        by_class(1).any(|c| bytes_of(h.tensor_data(he), c) != bytes_of(g.tensor_data(eb), c)),
        "new tokens' input rows changed"
    );
    assert_eq!(h.opt_str("salt.head_inputs").unwrap(), Some("tie"));

    // One decode of held-out text in an embeddings context gives both the hidden states
    // and llama.cpp's logits; the logits W h from the written rows must equal them.
    let text = std::fs::read_to_string(asset("text/bible-ko-heldout.txt")).unwrap();
    let model = salt::eval::load_model(&a).unwrap();
    let vocab = model.vocab();
    let toks = vocab.tokenize(text.as_bytes(), false, false);
    let params = LlamaContextParams::default()
        .with_n_ctx(std::num::NonZeroU32::new(128))
        .with_n_batch(128)
        .with_n_ubatch(128)
        .with_embeddings(true)
        .with_pooling_type(LlamaPoolingType::None);
    let mut lctx = model
        .new_context(salt::eval::backend().unwrap(), params)
        .unwrap();
    let mut batch = LlamaBatch::new(128, 1);
    batch.add(vocab.bos(), 0, &[0], true).unwrap();
    for (i, t) in toks[..127].iter().enumerate() {
        batch.add(*t, i as i32 + 1, &[0], true).unwrap();
    }
    lctx.decode(&mut batch).unwrap();
    // llama.cpp multiplies a Q8_0 head with the activations rounded to Q8_0 too: with h
    // rounded the same way the logits agree to float rounding; with h as it is, within
    // that rounding.
    assert_eq!(
        out.ty.to_string(),
        "q8_0",
        "the test's tight bound assumes a Q8_0 head"
    );
    let (mut worst, mut worst_q) = (0f64, 0f64);
    for p in [0i32, 5, 60, 126] {
        let h = lctx.embeddings_ith(p).unwrap()[..d].to_vec();
        let q8 = salt::codec::quantize(out.ty, &h, d, "h").unwrap();
        let hq = salt::codec::dequantize(out.ty, &q8, d).unwrap();
        let theirs = &lctx.get_logits_ith(p)[..v];
        let scale = theirs.iter().fold(0f32, |m, x| m.max(x.abs()));
        for c in 0..v {
            let dot = |x: &[f32]| -> f64 {
                (0..d)
                    .map(|j| f64::from(rows[c * d + j]) * f64::from(x[j]))
                    .sum()
            };
            let t = f64::from(theirs[c]);
            worst = worst.max((dot(&h) - t).abs() / f64::from(scale));
            worst_q = worst_q.max((dot(&hq) - t).abs() / f64::from(scale));
        }
    }
    println!("largest logit difference / largest logit: {worst:e} ({worst_q:e} with h in Q8_0)");
    assert!(worst_q < 1e-4, "{worst_q}");
    assert!(worst < 2e-2, "{worst}");
}
