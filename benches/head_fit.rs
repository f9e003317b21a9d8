//! Stage 10: one loss-and-gradient evaluation of the head fit (the unit of L-BFGS's cost)
//! on the Korean demo's shape (8,192 positions, h 640, 3,034 rows), against the two GEMMs
//! it must do anyway (logits H W^T and gradient P^T H, one multi-threaded faer call each).
//! The ratio is the price of the softmax, the fixed-block order that makes the result
//! independent of the thread count, and the block reduction. Target: at most 1.5x.

use criterion::Criterion;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use salt::tune::{nll_and_grad, Hidden};

const N: usize = 8192;
const D: usize = 640;
const V: usize = 3034;

pub fn loss_vs_gemm(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let h: Vec<f32> = (0..N * D).map(|_| rng.random_range(-1.0..1.0)).collect();
    let w: Vec<f32> = (0..V * D).map(|_| rng.random_range(-0.1..0.1)).collect();
    let targets = (0..N).map(|_| rng.random_range(0..V as u32)).collect();
    let data = Hidden {
        d: D,
        h,
        targets,
        windows: 1,
    };
    let mut g = c.benchmark_group("head_fit");
    g.bench_function("two_gemms", |b| {
        b.iter(|| {
            let h_t = MatRef::from_column_major_slice(&data.h, D, N);
            let w_t = MatRef::from_column_major_slice(&w, D, V);
            let mut z = Mat::<f32>::zeros(V, N);
            matmul(
                z.as_mut(),
                Accum::Replace,
                w_t.transpose(),
                h_t,
                1.0,
                Par::rayon(0),
            );
            let mut grad = Mat::<f32>::zeros(D, V);
            matmul(
                grad.as_mut(),
                Accum::Replace,
                h_t,
                z.transpose(),
                1.0,
                Par::rayon(0),
            );
            std::hint::black_box(grad);
        });
    });
    g.bench_function("nll_and_grad", |b| {
        b.iter(|| std::hint::black_box(nll_and_grad(&w, V, &data, true)));
    });
    g.finish();
    crate::report_ratio("head_fit", "two_gemms", "nll_and_grad", "<= 1.5x");
}

/// The whole fit (`fit_rows`: L-BFGS with its line search and the validation pass, three
/// iterations) on the demo's shape, timed by criterion, and its peak heap above the inputs
/// at the demo's shape and at `salt tune`'s default of 32,768 positions (one run each,
/// printed as `PEAK`, with the validation NLL before and after).
pub fn whole_fit(c: &mut Criterion) {
    let opts = salt::tune::FitOptions {
        iters: 3,
        ..Default::default()
    };
    let all: Vec<u32> = (0..V as u32).collect();
    let (w0, train, val) = planted(N, 7);
    let mut g = c.benchmark_group("head_fit");
    g.bench_function("fit_rows_3_iters", |b| {
        b.iter(|| {
            let fit =
                salt::tune::fit_rows(&w0, &all, &train, &val, &opts, &mut salt::progress::Silent);
            std::hint::black_box(fit.expect("fit"))
        });
    });
    g.finish();
    for n in [N, 32_768] {
        let (w0, train, val) = planted(n, 11);
        let (fit, peak) = crate::alloc::peak_during_all_threads(|| {
            salt::tune::fit_rows(&w0, &all, &train, &val, &opts, &mut salt::progress::Silent)
        });
        let fit = fit.expect("fit");
        let inputs = (train.h.len() + val.h.len() + w0.len()) * 4;
        println!(
            "PEAK head_fit/fit_rows: {n} positions, {V} rows x {D}: {:.0} MiB above the inputs' {:.0} MiB (validation NLL {:.3} -> {:.3} after {} iterations); {}",
            peak as f64 / (1 << 20) as f64,
            inputs as f64 / (1 << 20) as f64,
            fit.log[0].val_nll,
            fit.log.last().map_or(f64::NAN, |l| l.val_nll),
            fit.log.len() - 1,
            crate::machine()
        );
    }
}

/// Random initial rows and hidden states whose next token is a function of the first
/// coordinate, skewed toward low ids as a language's are toward frequent pieces (the
/// second coordinate is a constant 1, a bias the rows can use; the others are small
/// noise), so the validation loss falls as in a real fit; a tenth of the positions are
/// held out for validation.
fn planted(n: usize, seed: u64) -> (Vec<f32>, Hidden, Hidden) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let w0: Vec<f32> = (0..V * D).map(|_| rng.random_range(-0.05..0.05)).collect();
    let mut sample = |m: usize| {
        // Small noise elsewhere: with unit noise in 638 coordinates a fit of 1.9M
        // parameters to 7,373 positions only learns the noise (validation NLL rose).
        let mut h: Vec<f32> = (0..m * D).map(|_| rng.random_range(-0.05..0.05)).collect();
        let targets = h
            .chunks_mut(D)
            .map(|x| {
                x[0] = rng.random_range(-1.0..1.0);
                x[1] = 1.0;
                let u = f64::from(x[0] + 1.0) / 2.0;
                ((u.powi(3) * V as f64) as u32).min(V as u32 - 1)
            })
            .collect();
        Hidden {
            d: D,
            h,
            targets,
            windows: 1,
        }
    };
    let train = sample(n - n / 10);
    let val = sample(n / 10);
    (w0, train, val)
}
