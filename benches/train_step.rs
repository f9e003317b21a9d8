//! Stage 11: one training step of `salt train` (forward and backward of one 512-token
//! window through SmolLM2's frozen body, with a replaced vocabulary's 2,938 rows), against
//! the forward pass alone on the same window: the ratio is the price of the backward pass,
//! which forms activation gradients only. Target: at most 5.3 s per window on 2 cores
//! (an earlier prototype in JAX); its peak heap is printed as `PEAK`.

use criterion::Criterion;
use salt::gguf::GgufFile;
use salt::train::{forward::ropes, start_rows, window_grad, window_nll, Body, Rows};

/// Rows kept: the size of SmolLM2's vocabulary replaced by USE's, trimmed to Korean.
const V: usize = 2938;
const T: usize = 512;

pub fn step_vs_forward(c: &mut Criterion) {
    let path = crate::transfer::cache().join("models/smollm2-135m-instruct-q4_1.gguf");
    if !path.is_file() {
        eprintln!("skipping the training bench: run scripts/setup.sh to fetch the assets");
        return;
    }
    let f = GgufFile::open(&path).expect("SmolLM2");
    let body = Body::load(&f, &path).expect("body");
    let all = start_rows(&f).expect("rows");
    let d = all.d;
    let rows = Rows {
        d,
        v: V,
        input: all.input[..V * d].to_vec(),
        output: all.output[..V * d].to_vec(),
    };
    // Any fixed token sequence: the cost does not depend on the ids.
    let tokens: Vec<u32> = (0..T as u32).map(|i| (i * 7919) % V as u32).collect();
    let r = ropes(&body.hp, T);
    let mut g = c.benchmark_group("train_step");
    g.bench_function("forward", |b| {
        b.iter(|| std::hint::black_box(window_nll(&body, &r, &rows, &tokens, 1)));
    });
    g.bench_function("forward_backward", |b| {
        b.iter(|| std::hint::black_box(window_grad(&body, &r, &rows, &tokens, 1, true)));
    });
    g.finish();
    crate::report_ratio("train_step", "forward", "forward_backward", "<= 3x");
    crate::report_against("train_step", "forward_backward", 5.3);
    let (_, peak) =
        crate::alloc::peak_during_all_threads(|| window_grad(&body, &r, &rows, &tokens, 1, true));
    let body_bytes: usize = body
        .layers
        .iter()
        .map(|l| {
            [&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down]
                .iter()
                .map(|w| w.w.len() * 4)
                .sum::<usize>()
        })
        .sum();
    println!(
        "PEAK train_step/forward_backward: {T} tokens, {V} rows x {d}: {:.0} MiB above the f32 body's {:.0} MiB; {}",
        peak as f64 / (1 << 20) as f64,
        body_bytes as f64 / (1 << 20) as f64,
        crate::machine()
    );
}
