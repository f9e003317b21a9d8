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
    let n_q = nb.len();
    let h_s = inp.h_s;
    // Outputs are allocated once and written in place, token by token: collecting one
    // small Vec per token between the solver's temporaries fragments the heap.
    let mut embd = vec![0f32; n_q * h_s];
    let mut output = inp.anchors_out.map(|_| vec![0f32; n_q * h_s]);
    let mut w_all = vec![0f32; nb.anchor.len()];
    let mut w_slices: Vec<&mut [f32]> = Vec::with_capacity(n_q);
    let mut rest = w_all.as_mut_slice();
    for q in 0..n_q {
        let (head, tail) = rest.split_at_mut(nb.offsets[q + 1] - nb.offsets[q]);
        w_slices.push(head);
        rest = tail;
    }
    let mut out_rows: Vec<Option<&mut [f32]>> = match output.as_mut() {
        Some(o) => o.chunks_mut(h_s.max(1)).map(Some).collect(),
        None => (0..n_q).map(|_| None).collect(),
    };
    let paths: Vec<SolvePath> = embd
        .par_chunks_mut(h_s.max(1))
        .zip(out_rows.par_iter_mut())
        .zip(w_slices.par_iter_mut())
        .enumerate()
        .map(|(q, ((row, out), w_out))| {
            let (idx, _) = nb.row(q);
            let e = &inp.e[q * inp.h_t..(q + 1) * inp.h_t];
            let (w, path) = solve_weights(inp.anchors_t, idx, e, inp.h_t, inp.rcond);
            combine(&w, idx, inp.anchors_s, h_s, row);
            if let (Some(b), Some(o)) = (inp.anchors_out, out.as_deref_mut()) {
                combine(&w, idx, b, h_s, o);
            }
            for (d, s) in w_out.iter_mut().zip(&w) {
                *d = *s as f32;
            }
            path
        })
        .collect();
    drop(out_rows);
    for (q, row) in embd
        .chunks(h_s.max(1))
        .chain(output.iter().flat_map(|o| o.chunks(h_s.max(1))))
        .enumerate()
    {
        if let Some(v) = row.iter().find(|v| !v.is_finite()) {
            return Err(RegressionError::NonFinite {
                query: q % n_q.max(1),
                value: *v,
            });
        }
    }
    let cholesky = paths.iter().filter(|p| **p == SolvePath::Cholesky).count();
    let r = Regressed {
        embd,
        output,
        w: w_all,
        cholesky,
        eigen: n_q - cholesky,
    };
    Ok(r)
}
