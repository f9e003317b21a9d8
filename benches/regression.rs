//! Stage 6: the Gram-form regression vs the paper's literal per-token formula
//! e · pinv(A) · B (an SVD of each A in f64), on the stress shape (h_t 512, h_s 576,
//! k 60..140 around docs/method.md's median 103, about five tokens per anchor as SmolLM2 <- USE
//! has: 106,107 tokens, 21,889 anchors). The stage's shared work (the anchors' Gram
//! matrix) is amortised over that many tokens, so ours runs all of them and the literal
//! formula a sample of 64; the ratio is per token. Target: at least 50x.

use criterion::{Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use salt::neighbours::Neighbours;
use salt::regression::{literal_pinv_row, regress, RegressionInput};

const H_T: usize = 512;
const H_S: usize = 576;
const N_ANCHORS: usize = 2048;
/// Tokens regressed by ours: the stress case's tokens per anchor.
const TOKENS: usize = 5 * N_ANCHORS;
/// Tokens the literal formula runs (about 8 ms each).
const LITERAL_TOKENS: usize = 64;

fn normal(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| rng.sample::<f32, _>(rand_distr::StandardNormal))
        .collect()
}

pub fn gram_vs_literal(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let anchors_t = normal(&mut rng, N_ANCHORS * H_T);
    let anchors_s = normal(&mut rng, N_ANCHORS * H_S);
    let e = normal(&mut rng, TOKENS * H_T);
    // Supports of k = 60..140 (median about 100), anchors spread over the table.
    let mut nb = Neighbours {
        offsets: vec![0],
        ..Default::default()
    };
    for q in 0..TOKENS {
        let k = 60 + (q * 80) / TOKENS;
        let mut idx: Vec<u32> = (0..k as u32)
            .map(|i| (i * 17 + q as u32 * 31) % N_ANCHORS as u32)
            .collect();
        idx.sort_unstable();
        idx.dedup();
        nb.weight
            .extend(std::iter::repeat_n(1.0 / idx.len() as f32, idx.len()));
        nb.anchor.extend(idx);
        nb.offsets.push(nb.anchor.len());
    }
    let inp = RegressionInput {
        e: &e,
        anchors_t: &anchors_t,
        h_t: H_T,
        anchors_s: &anchors_s,
        anchors_out: None,
        h_s: H_S,
        rcond: 1e-6,
        affine: false,
    };
    let mut g = c.benchmark_group("regression");
    g.throughput(Throughput::Elements(TOKENS as u64));
    g.bench_function("gram_refined", |b| {
        b.iter(|| regress(&inp, &nb).expect("finite"))
    });
    g.throughput(Throughput::Elements(LITERAL_TOKENS as u64));
    g.bench_function("literal_pinv_f64", |b| {
        b.iter(|| {
            // Spread over all tokens, so the sample has the same k as the whole.
            for q in (0..LITERAL_TOKENS).map(|i| i * TOKENS / LITERAL_TOKENS) {
                let (idx, _) = nb.row(q);
                let k = idx.len();
                let a: Vec<f64> = idx
                    .iter()
                    .flat_map(|&i| {
                        anchors_t[i as usize * H_T..(i as usize + 1) * H_T]
                            .iter()
                            .map(|x| f64::from(*x))
                    })
                    .collect();
                let bm: Vec<f64> = idx
                    .iter()
                    .flat_map(|&i| {
                        anchors_s[i as usize * H_S..(i as usize + 1) * H_S]
                            .iter()
                            .map(|x| f64::from(*x))
                    })
                    .collect();
                let ev: Vec<f64> = e[q * H_T..(q + 1) * H_T]
                    .iter()
                    .map(|x| f64::from(*x))
                    .collect();
                std::hint::black_box(literal_pinv_row(&a, &bm, &ev, k, H_T, H_S, 1e-6));
            }
        });
    });
    g.finish();
    crate::report_ratio_per(
        "regression",
        ("gram_refined", TOKENS),
        ("literal_pinv_f64", LITERAL_TOKENS),
        ">= 50x (literal / ours)",
    );
}
