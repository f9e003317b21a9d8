//! `--method omp`, orthogonal matching pursuit in PLM space: the default of
//! mergekit-tokensurgeon (Goddard and Fernandes Neto 2025). For each new token, up to
//! `omp_k` anchors (shared tokens) are picked greedily in the PLM table, each the anchor
//! whose unit row is most correlated (in absolute value) with what the chosen ones do not
//! yet reconstruct of the token's PLM row; the least-squares coefficients of the token's
//! row on the chosen anchors' rows are then applied to their source rows. That is SALT's
//! step 4 with a support chosen in PLM space instead of by fastText and sparsemax, so the
//! final coefficients come from the same solver (docs/method.md section 4, on the device).
//!
//! Selection runs over blocks of 64 tokens: one float32 GEMM of the block's residuals
//! against all anchors per step, then per token an f64 Cholesky factor grown by one row
//! (an anchor that adds nothing new, |δ|² ≤ 1e-10 of its norm², is skipped). A token stops
//! early when its residual falls below 1e-6 of its row's norm.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatRef, Par};
use rayon::prelude::*;

use super::{InitInput, Method, NewRows};
use crate::error::Error;
use crate::neighbours::{normalize_rows, select_rows, Neighbours};
use crate::progress::{Reporter, Stage};
use crate::regression::RegressionInput;
use crate::vocab::TargetClass;

/// Needs the PLM table (anchors are chosen in its space), no auxiliary vectors.
pub const NEEDS: super::Needs = super::Needs {
    neighbours: false,
    plm: true,
};

/// Tokens per selection block (one GEMM per step).
const BLOCK: usize = 64;

/// One token's pursuit: chosen anchors, the Cholesky factor of their Gram matrix (rows,
/// lower, f64) and the residual.
struct Pursuit {
    chosen: Vec<u32>,
    skipped: Vec<u32>,
    l: Vec<Vec<f64>>,
    done: bool,
}

/// Adds anchor `j` to `p` (rows of `a`, `[n_a x h]`) and returns the new residual of `e`;
/// `None` when `j` is (numerically) in the span of the chosen ones.
fn grow(p: &mut Pursuit, j: u32, a: &[f32], e: &[f32], h: usize) -> Option<Vec<f32>> {
    let row = |i: u32| &a[i as usize * h..(i as usize + 1) * h];
    let dot = |x: &[f32], y: &[f32]| {
        x.iter()
            .zip(y)
            .map(|(u, v)| f64::from(*u) * f64::from(*v))
            .sum::<f64>()
    };
    let aj = row(j);
    let g: Vec<f64> = p.chosen.iter().map(|&i| dot(row(i), aj)).collect();
    let gamma = dot(aj, aj);
    // l = L⁻¹ g by forward substitution.
    let mut l = Vec::with_capacity(g.len() + 1);
    for (r, gr) in g.iter().enumerate() {
        let s: f64 = (0..r).map(|c| p.l[r][c] * l[c]).sum();
        l.push((gr - s) / p.l[r][r]);
    }
    let d2 = gamma - l.iter().map(|x| x * x).sum::<f64>();
    // NaN counts as dependent too.
    if d2.is_nan() || d2 <= 1e-10 * gamma {
        return None;
    }
    l.push(d2.sqrt());
    p.l.push(l);
    p.chosen.push(j);
    // Coefficients: L Lᵀ w = A_S e.
    let k = p.chosen.len();
    let rhs: Vec<f64> = p.chosen.iter().map(|&i| dot(row(i), e)).collect();
    let mut y = vec![0f64; k];
    for r in 0..k {
        let s: f64 = (0..r).map(|c| p.l[r][c] * y[c]).sum();
        y[r] = (rhs[r] - s) / p.l[r][r];
    }
    let mut w = vec![0f64; k];
    for r in (0..k).rev() {
        let s: f64 = (r + 1..k).map(|c| p.l[c][r] * w[c]).sum();
        w[r] = (y[r] - s) / p.l[r][r];
    }
    let mut res: Vec<f64> = e.iter().map(|x| f64::from(*x)).collect();
    for (&i, wi) in p.chosen.iter().zip(&w) {
        for (r, x) in res.iter_mut().zip(row(i)) {
            *r -= wi * f64::from(*x);
        }
    }
    Some(res.into_iter().map(|v| v as f32).collect())
}

/// Supports (anchor indices, ascending) of every query row of `e` (`[n_q x h]`) among the anchors `a` (`[n_a x h]`).
pub fn pursue(e: &[f32], a: &[f32], h: usize, k_max: usize) -> Vec<Vec<u32>> {
    let n_a = a.len() / h.max(1);
    let an = normalize_rows(a, h);
    let an_t = MatRef::from_column_major_slice(&an, h, n_a);
    e.par_chunks(BLOCK * h)
        .flat_map_iter(|eb| {
            let b = eb.len() / h;
            let mut res = eb.to_vec();
            let norms: Vec<f64> = eb
                .chunks(h)
                .map(|r| r.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt())
                .collect();
            let mut ps: Vec<Pursuit> = (0..b)
                .map(|i| Pursuit {
                    chosen: Vec::new(),
                    skipped: Vec::new(),
                    l: Vec::new(),
                    done: norms[i] == 0.0,
                })
                .collect();
            let mut corr = faer::Mat::<f32>::zeros(n_a, b);
            for _ in 0..k_max.min(n_a).min(h) {
                if ps.iter().all(|p| p.done) {
                    break;
                }
                // corr (n_a x b) = An Rᵀ: column q holds query q's correlations.
                let r_t = MatRef::from_column_major_slice(&res, h, b);
                matmul(
                    corr.as_mut(),
                    Accum::Replace,
                    an_t.transpose(),
                    r_t,
                    1.0f32,
                    Par::Seq,
                );
                for (q, p) in ps.iter_mut().enumerate() {
                    while !p.done {
                        let col = corr.col(q);
                        let best = (0..n_a as u32)
                            .filter(|j| !p.chosen.contains(j) && !p.skipped.contains(j))
                            .fold(None::<(u32, f32)>, |m, j| {
                                let v = col[j as usize].abs();
                                match m {
                                    Some((_, mv)) if mv >= v => m,
                                    _ => Some((j, v)),
                                }
                            });
                        let Some((j, _)) = best else {
                            p.done = true;
                            break;
                        };
                        match grow(p, j, a, &eb[q * h..(q + 1) * h], h) {
                            Some(r) => {
                                let rn =
                                    r.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
                                res[q * h..(q + 1) * h].copy_from_slice(&r);
                                p.done = rn <= 1e-6 * norms[q] || p.chosen.len() >= k_max;
                                break;
                            }
                            None => p.skipped.push(j),
                        }
                    }
                }
            }
            ps.into_iter().map(|p| {
                let mut c = p.chosen;
                c.sort_unstable();
                c
            })
        })
        .collect()
}

/// The OMP row of every new token with a non-zero PLM row.
///
/// # Errors
/// [`Error::MissingInput`] without the PLM table; the regression's errors; cancellation.
pub fn init(input: &InitInput<'_>, rep: &mut Reporter<'_>) -> Result<NewRows, Error> {
    let plm = input.plm.ok_or(Error::MissingInput {
        method: Method::Omp.name(),
        what: "the PLM's embedding table",
        fix: "give a PLM folder with embeddings, or --plm-embeddings FILE[:TENSOR]",
    })?;
    let h = plm.dim;
    let nonzero = |i: u32| (i as usize) < plm.rows && plm.row(i as usize).iter().any(|v| *v != 0.0);
    let (mut anchors, mut src) = (Vec::new(), Vec::new());
    for (i, c) in input.target.alignment.classes.iter().enumerate() {
        if let (TargetClass::Shared(s), true) = (c, nonzero(i as u32)) {
            anchors.push(i as u32);
            src.push(*s);
        }
    }
    let queries: Vec<u32> = input
        .new_ids
        .iter()
        .copied()
        .filter(|&i| nonzero(i))
        .collect();
    rep.message(
        Stage::Initialise,
        &format!(
            "matching pursuit of {} tokens among {} anchors (k <= {})",
            queries.len(),
            anchors.len(),
            input.params.omp_k
        ),
    );
    let e = select_rows(&queries, h, &plm.data);
    let a = select_rows(&anchors, h, &plm.data);
    let supports = pursue(&e, &a, h, input.params.omp_k);
    rep.check()?;
    let mut nb = Neighbours {
        offsets: vec![0],
        ..Neighbours::default()
    };
    for s in &supports {
        nb.anchor.extend_from_slice(s);
        nb.weight.extend(std::iter::repeat_n(0f32, s.len()));
        nb.offsets.push(nb.anchor.len());
    }
    let rows = input.source.rows(&src)?;
    let inp = RegressionInput {
        e: &e,
        anchors_t: &a,
        h_t: h,
        anchors_s: &rows.embd,
        anchors_out: rows.output.as_deref(),
        h_s: input.h_s,
        rcond: input.rcond,
        affine: false,
    };
    let r = input
        .device
        .regress(&inp, &nb, &mut rep.ticker(Stage::Initialise))?
        .ok_or(Error::Cancelled)?;
    let supports = (0..queries.len())
        .map(|q| super::Support {
            id: queries[q],
            neighbours: nb.row(q).0.iter().map(|&j| anchors[j as usize]).collect(),
            weights: r.w[nb.offsets[q]..nb.offsets[q + 1]].to_vec(),
        })
        .collect();
    Ok(NewRows {
        ids: queries,
        embd: r.embd,
        output: r.output,
        supports,
        anchors: anchors.len(),
        solves: r.paths,
    })
}
