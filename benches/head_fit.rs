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
