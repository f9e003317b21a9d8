//! Stage 6: the per-token least-squares map (SALT.md section 4), CPU version.
//!
//! For a new token t with neighbours N (anchors), A = E_t[N] (k x h_t), e = E_t[t],
//! B = E_s[src(N)] (k x h_s). SALT's row is e · pinv(A) · B, the image of e under the
//! least-squares map X = argmin ||A X - B||. The h_t x h_s matrix X is never formed:
//! with G = A Aᵀ (k x k), w = (A e)ᵀ G⁺ has k entries and the row is w B.
//!
//! G is formed and solved in f64 (see `solve.rs` for why not f32). The pseudo-inverse drops eigenvalues of G below
//! rcond² λ_max. A Cholesky factor G = L Lᵀ gives the rigorous bounds λ_min ≥ 1/‖L⁻¹‖_F²
//! and λ_max ≤ tr G; when they prove that no eigenvalue is dropped, G⁺ = G⁻¹ = L⁻ᵀ L⁻¹
//! exactly and the Cholesky path is taken, otherwise a symmetric eigendecomposition.
//! Tokens are independent rayon tasks with sequential faer kernels inside, and each
//! result lands at its token's index: output bytes never depend on the thread count.

mod solve;

pub use solve::{literal_pinv_row, solve_weights, SolvePath};

use rayon::prelude::*;

use crate::error::RegressionError;
use crate::neighbours::Neighbours;

/// Inputs shared by all tokens. All matrices are row-major.
pub struct RegressionInput<'a> {
    /// PLM embeddings of the query tokens, `[n_q x h_t]` (row q is e for query q).
    pub e: &'a [f32],
    /// PLM embeddings of the anchors, `[n_a x h_t]`.
    pub anchors_t: &'a [f32],
    /// Width h_t.
    pub h_t: usize,
    /// Source rows of the anchors (`token_embd`), `[n_a x h_s]`.
    pub anchors_s: &'a [f32],
    /// Source rows of the anchors in the untied `output`, `[n_a x h_s]`.
    pub anchors_out: Option<&'a [f32]>,
    /// Width h_s.
    pub h_s: usize,
    /// Relative cut-off for singular values of A.
    pub rcond: f64,
}

/// The regressed rows.
#[derive(Clone, Debug, Default)]
pub struct Regressed {
    /// `[n_q x h_s]` new `token_embd` rows.
    pub embd: Vec<f32>,
    /// `[n_q x h_s]` new `output` rows (untied models).
    pub output: Option<Vec<f32>>,
    /// `[total k]` the weights w of every query, in the layout of the neighbours.
    pub w: Vec<f32>,
    /// Queries solved by Cholesky / by eigendecomposition.
    pub cholesky: usize,
    /// Queries solved by eigendecomposition (rank-deficient or ill-conditioned G).
    pub eigen: usize,
}

/// Applies weights `w` to rows `idx` of `[n x width]` `rows`, in f64.
fn combine(w: &[f64], idx: &[u32], rows: &[f32], width: usize, out: &mut [f32]) {
    let mut acc = vec![0f64; width];
    for (&wi, &a) in w.iter().zip(idx) {
        let r = &rows[a as usize * width..(a as usize + 1) * width];
        for (o, &x) in acc.iter_mut().zip(r) {
            *o += wi * f64::from(x);
        }
    }
    for (o, a) in out.iter_mut().zip(acc) {
        *o = a as f32;
    }
}

/// Regresses every query of `nb`.
///
/// # Errors
/// [`RegressionError::NonFinite`] naming the query whose row is not finite.
pub fn regress(inp: &RegressionInput<'_>, nb: &Neighbours) -> Result<Regressed, RegressionError> {
    faer::set_global_parallelism(faer::Par::Seq);
    let n_q = nb.len();
    let (h_t, h_s) = (inp.h_t, inp.h_s);
    let results: Vec<(Vec<f32>, Option<Vec<f32>>, Vec<f32>, SolvePath)> = (0..n_q)
        .into_par_iter()
        .map(|q| {
            let (idx, _) = nb.row(q);
            let e = &inp.e[q * h_t..(q + 1) * h_t];
            let (w, path) = solve_weights(inp.anchors_t, idx, e, h_t, inp.rcond);
            let mut row = vec![0f32; h_s];
            combine(&w, idx, inp.anchors_s, h_s, &mut row);
            let out = inp.anchors_out.map(|b| {
                let mut o = vec![0f32; h_s];
                combine(&w, idx, b, h_s, &mut o);
                o
            });
            (row, out, w.iter().map(|x| *x as f32).collect(), path)
        })
        .collect();
    let mut r = Regressed {
        embd: Vec::with_capacity(n_q * h_s),
        output: inp.anchors_out.map(|_| Vec::with_capacity(n_q * h_s)),
        ..Default::default()
    };
    for (q, (row, out, w, path)) in results.into_iter().enumerate() {
        let bad = row
            .iter()
            .chain(out.iter().flatten())
            .find(|v| !v.is_finite());
        if let Some(v) = bad {
            return Err(RegressionError::NonFinite {
                query: q,
                value: *v,
            });
        }
        r.embd.extend_from_slice(&row);
        if let (Some(o), Some(dst)) = (out, r.output.as_mut()) {
            dst.extend_from_slice(&o);
        }
        r.w.extend_from_slice(&w);
        match path {
            SolvePath::Cholesky => r.cholesky += 1,
            SolvePath::Eigen => r.eigen += 1,
        }
    }
    Ok(r)
}
