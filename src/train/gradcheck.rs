//! The gradients of [`super::window_grad`] against central finite differences of
//! [`super::window_nll`], on small random bodies of each architecture (every branch: biases,
//! per-head norms, post-norms, GELU, grouped queries, the sliding window, both rotary kinds).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::forward::ropes;
use super::model::{Arch, Body, Hparams, Layer};
use super::ops::Weight;
use super::rows::{window_grad, window_nll, Rows};

fn vecr(rng: &mut ChaCha8Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-scale..scale)).collect()
}

fn weight(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Weight {
    Weight {
        w: vecr(rng, rows * cols, 1.0 / (cols as f32).sqrt()),
        rows,
        cols,
    }
}

fn norm(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(0.5..1.5)).collect()
}

fn tiny(arch: Arch, seed: u64) -> (Body, Rows) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (d, nh, nkv, hd, ffn, v) = (16, 4, 2, 6, 24, 13);
    let gemma = arch == Arch::Gemma3;
    let hp = Hparams {
        arch,
        n_layer: 2,
        d,
        n_head: nh,
        n_head_kv: nkv,
        head_dim: hd,
        eps: 1e-6,
        rope_base: 10_000.0,
        rope_base_swa: 100.0,
        swa: gemma.then_some((3, 2)),
        attn_scale: 1.0 / (hd as f32).sqrt(),
        embd_scale: if gemma { (d as f32).sqrt() } else { 1.0 },
    };
    let layers = (0..2)
        .map(|_| {
            let bias = |rng: &mut ChaCha8Rng, n| (arch == Arch::Qwen2).then(|| vecr(rng, n, 0.5));
            let gn = |rng: &mut ChaCha8Rng, n| gemma.then(|| norm(rng, n));
            Layer {
                attn_norm: norm(&mut rng, d),
                wq: weight(&mut rng, nh * hd, d),
                wk: weight(&mut rng, nkv * hd, d),
                wv: weight(&mut rng, nkv * hd, d),
                bq: bias(&mut rng, nh * hd),
                bk: bias(&mut rng, nkv * hd),
                bv: bias(&mut rng, nkv * hd),
                q_norm: gn(&mut rng, hd),
                k_norm: gn(&mut rng, hd),
                wo: weight(&mut rng, d, nh * hd),
                attn_post_norm: gn(&mut rng, d),
                ffn_norm: norm(&mut rng, d),
                w_gate: weight(&mut rng, ffn, d),
                w_up: weight(&mut rng, ffn, d),
                w_down: weight(&mut rng, d, ffn),
                ffn_post_norm: gn(&mut rng, d),
            }
        })
        .collect();
    let body = Body {
        hp,
        layers,
        out_norm: norm(&mut rng, d),
    };
    let rows = Rows {
        d,
        v,
        input: vecr(&mut rng, v * d, 1.0),
        output: vecr(&mut rng, v * d, 1.0),
    };
    (body, rows)
}

#[test]
fn gradients_match_central_differences() {
    let tokens: Vec<u32> = vec![3, 7, 1, 7, 12, 0, 5, 9];
    for (seed, arch) in [Arch::Llama, Arch::Qwen2, Arch::Gemma3]
        .into_iter()
        .enumerate()
    {
        let (body, rows) = tiny(arch, seed as u64);
        let r = ropes(&body.hp, tokens.len());
        let g = window_grad(&body, &r, &rows, &tokens, 1, true);
        let (nll, _) = window_nll(&body, &r, &rows, &tokens, 1);
        assert!(
            (g.nll - nll).abs() < 1e-9 * nll.abs().max(1.0),
            "{arch:?}: {} vs {nll}",
            g.nll
        );
        // Rows of tokens in the window (7 appears twice, 12 once), a row never seen (2: its
        // input gradient must be zero), and output rows.
        let h = 1e-2f32;
        let mut checked = 0;
        for (table, row, col) in [
            (0, 7, 3),
            (0, 12, 0),
            (0, 3, 15),
            (0, 2, 4),
            (1, 9, 2),
            (1, 4, 11),
            (1, 0, 7),
        ] {
            let at = row * rows.d + col;
            let nll_at = |delta: f32| {
                let mut r2 = rows.clone();
                if table == 0 {
                    r2.input[at] += delta
                } else {
                    r2.output[at] += delta
                }
                window_nll(&body, &r, &r2, &tokens, 1).0
            };
            let fd = (nll_at(h) - nll_at(-h)) / (2.0 * f64::from(h));
            let an = f64::from(if table == 0 {
                g.input[at]
            } else {
                g.output.as_ref().expect("asked for")[at]
            });
            assert!(
                (an - fd).abs() <= 2e-3 + 2e-2 * fd.abs(),
                "{arch:?} table {table} row {row} col {col}: analytic {an}, finite difference {fd}"
            );
            checked += usize::from(fd.abs() > 1e-3);
        }
        assert!(
            checked >= 5,
            "{arch:?}: too few non-zero gradients checked ({checked})"
        );
        assert!(g.input[2 * rows.d..3 * rows.d].iter().all(|x| *x == 0.0));
    }
}
