//! Stage 10b: the output rows fitted to the hidden states. With the body frozen the loss is
//! a softmax regression, convex in the rows:
//!
//!   f(W_R) = mean_i [ logsumexp(W h_i) - (W h_i)_{y_i} ] + lambda/2 ||W_R - W0_R||^2
//!
//! over the rows R being fitted (all, or the new tokens'), the others fixed at W0.
//! Minimised by L-BFGS with a backtracking (Armijo) line search. The training positions
//! are cut into fixed blocks; each block's loss and gradient are computed with
//! single-threaded GEMMs and summed in block order, so the result is the same bits
//! whatever the thread count. After every iteration the loss on the validation positions
//! (the end of the training text) is measured, and the rows of the best iteration are kept.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;
use serde::Serialize;

use super::hidden::Hidden;
use crate::progress::{Progress, Reporter, Stage};

/// Positions per block of the loss.
const BLOCK: usize = 2048;

/// The fit's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct FitOptions {
    /// L2 pull toward the initial rows.
    pub l2: f64,
    /// L-BFGS iterations at most.
    pub iters: usize,
    /// Correction pairs L-BFGS keeps.
    pub history: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            l2: 1e-4,
            iters: 40,
            history: 8,
        }
    }
}

/// One iteration's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IterLog {
    /// Iteration (0: the initial rows).
    pub iter: usize,
    /// Mean training NLL (nats), without the L2 term.
    pub train_nll: f64,
    /// Mean validation NLL (nats).
    pub val_nll: f64,
    /// Function evaluations so far.
    pub evals: usize,
}

/// The fitted rows and how the fit went.
#[derive(Clone, Debug)]
pub struct Fit {
    /// All `[V x d]` output rows (the fitted ones replaced), row-major.
    pub rows: Vec<f32>,
    /// The iteration whose rows were kept (lowest validation NLL).
    pub best_iter: usize,
    /// Per iteration.
    pub log: Vec<IterLog>,
}

/// Mean NLL of `data` under rows `w` (`[V x d]`), and its gradient when `grad`.
#[must_use]
pub fn nll_and_grad(w: &[f32], v: usize, data: &Hidden, grad: bool) -> (f64, Option<Vec<f32>>) {
    let d = data.d;
    let n = data.len();
    let w_mat = MatRef::from_column_major_slice(w, d, v); // W^T
    let parts: Vec<(f64, Option<Vec<f32>>)> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let (from, to) = (b * BLOCK, ((b + 1) * BLOCK).min(n));
            let m = to - from;
            let h_t = MatRef::from_column_major_slice(&data.h[from * d..to * d], d, m);
            // z: V x m, column i = logits of position from + i.
            let mut z = faer::Mat::<f32>::zeros(v, m);
            matmul(
                z.as_mut(),
                Accum::Replace,
                w_mat.transpose(),
                h_t,
                1.0,
                Par::Seq,
            );
            let mut loss = 0f64;
            for i in 0..m {
                let col = z
                    .col_mut(i)
                    .try_as_col_major_mut()
                    .expect("contiguous")
                    .as_slice_mut();
                let y = data.targets[from + i] as usize;
                let lse = log_sum_exp(col);
                loss += lse - f64::from(col[y]);
                if grad {
                    for x in col.iter_mut() {
                        *x = (f64::from(*x) - lse).exp() as f32;
                    }
                    col[y] -= 1.0;
                }
            }
            let g = grad.then(|| {
                let mut g = vec![0f32; v * d];
                // G^T (d x V) = H^T (d x m) P^T (m x V).
                matmul(
                    MatMut::from_column_major_slice_mut(&mut g, d, v),
                    Accum::Replace,
                    h_t,
                    z.as_ref().transpose(),
                    1.0,
                    Par::Seq,
                );
                g
            });
            (loss, g)
        })
        .collect();
    sum_parts(parts, v * d, n, grad)
}

/// A dataset whose rows outside the fit are fixed: their logits are computed once, so each
/// evaluation multiplies only the fitted rows (`--rows unshared` fits 831 of Korean
/// Gemma's 3,034). The columns are assembled in token-id order and reduced exactly as
/// [`nll_and_grad`] reduces them, so the loss and gradient are the same bits.
struct Blocks<'a> {
    data: &'a Hidden,
    v: usize,
    /// Per token id: its index among the fitted rows (`Ok`) or the fixed rows (`Err`).
    slot: Vec<Result<usize, usize>>,
    /// Per block of [`BLOCK`] positions: the fixed rows' logits, `[n_fixed x m]`
    /// column-major (column i = position i's logits, fixed rows in id order).
    fixed: Vec<Vec<f32>>,
}

impl<'a> Blocks<'a> {
    /// Splits `w0`'s rows (`[V x d]`) into the fitted `fit_ids` and the fixed rest, and
    /// computes the fixed rows' logits on every block of `data`.
    fn new(w0: &[f32], fit_ids: &[u32], data: &'a Hidden) -> Self {
        let d = data.d;
        let v = w0.len() / d;
        let mut slot: Vec<Result<usize, usize>> = vec![Err(0); v];
        for (k, &i) in fit_ids.iter().enumerate() {
            slot[i as usize] = Ok(k);
        }
        let mut n_fixed = 0;
        let mut fixed_rows = Vec::new();
        for (i, s) in slot.iter_mut().enumerate() {
            if s.is_err() {
                *s = Err(n_fixed);
                n_fixed += 1;
                fixed_rows.extend_from_slice(&w0[i * d..(i + 1) * d]);
            }
        }
        let n = data.len();
        let w_fixed = MatRef::from_column_major_slice(&fixed_rows, d, n_fixed);
        let fixed = (0..n.div_ceil(BLOCK))
            .into_par_iter()
            .map(|b| {
                let (from, to) = (b * BLOCK, ((b + 1) * BLOCK).min(n));
                let h_t = MatRef::from_column_major_slice(&data.h[from * d..to * d], d, to - from);
                let mut z = vec![0f32; n_fixed * (to - from)];
                if n_fixed > 0 {
                    matmul(
                        MatMut::from_column_major_slice_mut(&mut z, n_fixed, to - from),
                        Accum::Replace,
                        w_fixed.transpose(),
                        h_t,
                        1.0,
                        Par::Seq,
                    );
                }
                z
            })
            .collect();
        Self {
            data,
            v,
            slot,
            fixed,
        }
    }

    /// Mean NLL under the fitted rows `x` (`[k x d]`, in `fit_ids` order) and the fixed
    /// rows, and the gradient of the fitted rows (`[k x d]`) when `grad`.
    fn nll_and_grad(&self, x: &[f32], grad: bool) -> (f64, Option<Vec<f32>>) {
        let (data, v) = (self.data, self.v);
        let d = data.d;
        let n = data.len();
        let k = x.len() / d;
        let n_fixed = v - k;
        let x_mat = MatRef::from_column_major_slice(x, d, k); // X^T
        let parts: Vec<(f64, Option<Vec<f32>>)> = (0..n.div_ceil(BLOCK))
            .into_par_iter()
            .map(|b| {
                let (from, to) = (b * BLOCK, ((b + 1) * BLOCK).min(n));
                let m = to - from;
                let h_t = MatRef::from_column_major_slice(&data.h[from * d..to * d], d, m);
                // z: k x m, column i = the fitted rows' logits at position from + i.
                let mut z = faer::Mat::<f32>::zeros(k, m);
                matmul(
                    z.as_mut(),
                    Accum::Replace,
                    x_mat.transpose(),
                    h_t,
                    1.0,
                    Par::Seq,
                );
                let fixed = &self.fixed[b];
                let mut col = vec![0f32; v];
                let mut loss = 0f64;
                for i in 0..m {
                    let zc = z
                        .col_mut(i)
                        .try_as_col_major_mut()
                        .expect("contiguous")
                        .as_slice_mut();
                    let fc = &fixed[i * n_fixed..(i + 1) * n_fixed];
                    for (c, s) in col.iter_mut().zip(&self.slot) {
                        *c = match *s {
                            Ok(j) => zc[j],
                            Err(j) => fc[j],
                        };
                    }
                    let y = data.targets[from + i] as usize;
                    let lse = log_sum_exp(&col);
                    loss += lse - f64::from(col[y]);
                    if grad {
                        for p in zc.iter_mut() {
                            *p = (f64::from(*p) - lse).exp() as f32;
                        }
                        if let Ok(j) = self.slot[y] {
                            zc[j] -= 1.0;
                        }
                    }
                }
                let g = grad.then(|| {
                    let mut g = vec![0f32; k * d];
                    // G^T (d x k) = H^T (d x m) P^T (m x k).
                    matmul(
                        MatMut::from_column_major_slice_mut(&mut g, d, k),
                        Accum::Replace,
                        h_t,
                        z.as_ref().transpose(),
                        1.0,
                        Par::Seq,
                    );
                    g
                });
                (loss, g)
            })
            .collect();
        sum_parts(parts, k * d, n, grad)
    }
}

/// log(sum(exp(col))) in f64, shifted by the column's maximum; the one reduction both
/// loss paths use, so they agree bit for bit.
fn log_sum_exp(col: &[f32]) -> f64 {
    let max = col.iter().fold(f32::NEG_INFINITY, |a, &x| a.max(x));
    let sum: f64 = col.iter().map(|&x| f64::from(x - max).exp()).sum();
    f64::from(max) + sum.ln()
}

/// Sums per-block losses and gradients in block order, then divides by `n`.
fn sum_parts(
    parts: Vec<(f64, Option<Vec<f32>>)>,
    len: usize,
    n: usize,
    grad: bool,
) -> (f64, Option<Vec<f32>>) {
    let mut loss = 0f64;
    let mut total: Option<Vec<f32>> = grad.then(|| vec![0f32; len]);
    for (l, g) in parts {
        loss += l;
        if let (Some(t), Some(g)) = (total.as_mut(), g) {
            t.iter_mut().zip(&g).for_each(|(a, b)| *a += b);
        }
    }
    let scale = 1.0 / n.max(1) as f64;
    if let Some(t) = total.as_mut() {
        t.iter_mut()
            .for_each(|x| *x = (f64::from(*x) * scale) as f32);
    }
    (loss * scale, total)
}

/// Fits rows `fit_ids` of `w0` (`[V x d]`) to `train`, keeping the rows of the iteration
/// with the lowest NLL on `val`.
///
/// # Errors
/// [`crate::Error::Cancelled`] when the progress receiver asks to stop.
pub fn fit_rows(
    w0: &[f32],
    fit_ids: &[u32],
    train: &Hidden,
    val: &Hidden,
    opts: &FitOptions,
    progress: &mut dyn Progress,
) -> Result<Fit, crate::Error> {
    let d = train.d;
    let mut rep = Reporter::new(progress);
    let gather = |w: &[f32]| -> Vec<f32> {
        fit_ids
            .iter()
            .flat_map(|&i| w[i as usize * d..(i as usize + 1) * d].iter().copied())
            .collect()
    };
    let x0 = gather(w0);
    let full = |x: &[f32]| -> Vec<f32> {
        let mut w = w0.to_vec();
        for (k, &i) in fit_ids.iter().enumerate() {
            w[i as usize * d..(i as usize + 1) * d].copy_from_slice(&x[k * d..(k + 1) * d]);
        }
        w
    };
    let (train_blocks, val_blocks) = (
        Blocks::new(w0, fit_ids, train),
        Blocks::new(w0, fit_ids, val),
    );
    let evals = std::cell::Cell::new(0usize);
    let objective = |x: &[f32]| -> (f64, f64, Vec<f32>) {
        evals.set(evals.get() + 1);
        let (nll, g) = train_blocks.nll_and_grad(x, true);
        let g = g.expect("gradient");
        let mut reg = 0f64;
        let g: Vec<f32> = g
            .iter()
            .zip(x.iter().zip(&x0))
            .map(|(g, (a, b))| {
                let diff = f64::from(*a) - f64::from(*b);
                reg += diff * diff;
                (f64::from(*g) + opts.l2 * diff) as f32
            })
            .collect();
        (nll + 0.5 * opts.l2 * reg, nll, g)
    };
    let val_nll = |x: &[f32]| val_blocks.nll_and_grad(x, false).0;

    let mut x = x0.clone();
    let (mut fx, nll0, mut g) = objective(&x);
    let mut best = (val_nll(&x), 0usize, x.clone());
    let mut log = vec![IterLog {
        iter: 0,
        train_nll: nll0,
        val_nll: best.0,
        evals: 1,
    }];
    rep.step(Stage::Fit, 0, opts.iters)?;
    let mut pairs: std::collections::VecDeque<(Vec<f32>, Vec<f32>, f64)> = Default::default();
    for iter in 1..=opts.iters {
        let dir = direction(&g, &pairs);
        let slope = dot(&g, &dir);
        if slope >= 0.0 {
            break;
        }
        // The first step is scaled to a unit move; later ones start at 1 (L-BFGS's scale).
        let mut step = if pairs.is_empty() {
            1.0 / dot(&g, &g).sqrt().max(1e-12)
        } else {
            1.0
        };
        let mut accepted = None;
        for _ in 0..20 {
            let xn: Vec<f32> = x
                .iter()
                .zip(&dir)
                .map(|(a, b)| (f64::from(*a) + step * f64::from(*b)) as f32)
                .collect();
            let (fnew, nll, gnew) = objective(&xn);
            if fnew <= fx + 1e-4 * step * slope {
                accepted = Some((xn, fnew, nll, gnew));
                break;
            }
            step *= 0.5;
        }
        let Some((xn, fnew, nll, gnew)) = accepted else {
            break;
        };
        let s: Vec<f32> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f32> = gnew.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 {
            if pairs.len() == opts.history {
                pairs.pop_front();
            }
            pairs.push_back((s, y, sy));
        }
        let improved = (fx - fnew) / fx.abs().max(1e-12);
        (x, fx, g) = (xn, fnew, gnew);
        let vn = val_nll(&x);
        log.push(IterLog {
            iter,
            train_nll: nll,
            val_nll: vn,
            evals: evals.get(),
        });
        if vn < best.0 {
            best = (vn, iter, x.clone());
        }
        rep.step(Stage::Fit, iter, opts.iters)?;
        if improved < 1e-7 {
            break;
        }
    }
    Ok(Fit {
        rows: full(&best.2),
        best_iter: best.1,
        log,
    })
}

/// The L-BFGS direction -H g (two-loop recursion; H0 = (s.y / y.y) I from the newest pair).
fn direction(g: &[f32], pairs: &std::collections::VecDeque<(Vec<f32>, Vec<f32>, f64)>) -> Vec<f32> {
    let mut q: Vec<f64> = g.iter().map(|&x| f64::from(x)).collect();
    let mut alphas = Vec::with_capacity(pairs.len());
    for (s, y, sy) in pairs.iter().rev() {
        let a = dot64(s, &q) / sy;
        q.iter_mut()
            .zip(y)
            .for_each(|(q, y)| *q -= a * f64::from(*y));
        alphas.push(a);
    }
    if let Some((_, y, sy)) = pairs.back() {
        let gamma = sy / dot(y, y);
        q.iter_mut().for_each(|q| *q *= gamma);
    }
    for ((s, y, sy), a) in pairs.iter().zip(alphas.iter().rev()) {
        let b = dot64(y, &q) / sy;
        q.iter_mut()
            .zip(s)
            .for_each(|(q, s)| *q += (a - b) * f64::from(*s));
    }
    q.iter().map(|&x| (-x) as f32).collect()
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

fn dot64(a: &[f32], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| f64::from(*x) * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixed-rows path gives the bits of the plain one (loss and the fitted rows'
    /// gradient), across several blocks and with the target among fixed and fitted rows.
    #[test]
    fn fixed_rows_path_equals_the_plain_loss_bit_for_bit() {
        let (v, d, n) = (37, 8, BLOCK + 300);
        let val = |i: usize| ((i * 7919 % 1013) as f32 / 1013.0 - 0.5) * 0.7;
        let w: Vec<f32> = (0..v * d).map(val).collect();
        let data = Hidden {
            d,
            h: (0..n * d).map(|i| val(i + 17)).collect(),
            targets: (0..n).map(|i| (i * 13 % v) as u32).collect(),
            windows: 2,
        };
        let fit_ids: Vec<u32> = (0..v as u32).filter(|i| i % 3 != 1).collect();
        let x: Vec<f32> = fit_ids
            .iter()
            .flat_map(|&i| w[i as usize * d..(i as usize + 1) * d].iter().copied())
            .collect();
        let (plain, g) = nll_and_grad(&w, v, &data, true);
        let g = g.unwrap();
        let (fast, gf) = Blocks::new(&w, &fit_ids, &data).nll_and_grad(&x, true);
        assert_eq!(plain.to_bits(), fast.to_bits());
        let gf = gf.unwrap();
        for (k, &i) in fit_ids.iter().enumerate() {
            for c in 0..d {
                assert_eq!(
                    g[i as usize * d + c].to_bits(),
                    gf[k * d + c].to_bits(),
                    "row {i} col {c}"
                );
            }
        }
    }
}
