//! Stage 6: the per-token least-squares map (docs/method.md section 4), CPU version.
//!
//! For a new token t with neighbours N (anchors), A = E_t[N] (k x h_t), e = E_t[t],
//! B = E_s[src(N)] (k x h_s). SALT's row is e · pinv(A) · B, the image of e under the
//! least-squares map X = argmin ||A X - B||. The h_t x h_s matrix X is never formed:
//! with G = A Aᵀ (k x k), w = (A e)ᵀ G⁺ has k entries and the row is w B.
//!
//! Two paths per token (see `solve.rs`):
//! - **refined** (almost every token): Ĝ = A Aᵀ formed in float32 (docs/method.md section 4
//!   allows it) and factored by Cholesky in float32. When inverse iteration puts its smallest
//!   eigenvalue well above both Ĝ's rounding level and the cut rcond² λ_max, G⁺ = G⁻¹, and
//!   w is refined against A in f64 until the error left is below 1e-9 of w: the answer
//!   of the exact G, not of Ĝ (mixed-precision iterative refinement).
//! - **exact** (k > h_t, Ĝ near-singular, or no convergence): G formed in f64. The
//!   pseudo-inverse drops eigenvalues of G below rcond² λ_max. A Cholesky factor
//!   G = L Lᵀ gives the rigorous bounds λ_min ≥ 1/‖L⁻¹‖_F² and λ_max ≤ tr G; when they
//!   prove that no eigenvalue is dropped, G⁺ = G⁻¹ = L⁻ᵀ L⁻¹ and the Cholesky path is
//!   taken, otherwise a symmetric eigendecomposition.
//!
//! Not taken, measured (README): gathering Ĝ from one float32 Gram matrix of all anchors.
//! Its k² / 2 reads per token are scattered over 0.96 GB in the stress case and cost more
//! than the k² h_t / 2 multiply-adds they replace.
//!
//! Tokens are independent rayon tasks with sequential kernels inside, and each result
//! lands at its token's index: output bytes never depend on the thread count.

mod centred;
mod literal;
mod simd;
mod solve;

pub use centred::{centred_weights, centred_weights_path};
pub use literal::{literal_centred_row, literal_pinv_row, relative_error, rows_f64};
pub use solve::{solve_token, solve_weights, Scratch, SolvePath, REFINE_TOL};

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
    /// Affine weights (`salt-centred`): the map is fitted in the support's centred
    /// coordinates and the weights sum to one (see `centred.rs`).
    pub affine: bool,
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
    /// How many queries each path solved.
    pub paths: PathCounts,
}

/// Queries per solver path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PathCounts {
    /// [`SolvePath::Refined`].
    pub refined: usize,
    /// [`SolvePath::Cholesky`] (exact path, G⁻¹ proved equal to G⁺).
    pub cholesky: usize,
    /// [`SolvePath::Eigen`] (exact path, rank-deficient or ill-conditioned G).
    pub eigen: usize,
    /// Solved by the device's kernel (f64 Cholesky; see `kernels/regress.cu`).
    pub kernel: usize,
}

/// Applies weights `w` to rows `idx` of `[n x width]` `rows`, summed in f64 in the
/// worker's `scratch`.
fn combine(
    w: &[f64],
    idx: &[u32],
    rows: &[f32],
    width: usize,
    scratch: &mut Scratch,
    out: &mut [f32],
) {
    let acc = &mut scratch.acc;
    acc.resize(width, 0.0);
    simd::combine(w, idx, rows, width, acc, out);
}

/// One token's work: its index and where its results go.
struct Task<'a> {
    q: usize,
    embd: &'a mut [f32],
    output: Option<&'a mut [f32]>,
    w: &'a mut [f32],
}

/// Tokens grouped by their highest-weight anchor (ties: lower anchor), then by index.
///
/// Tokens with the same nearest anchor share most of their supports, so consecutive
/// tokens (one worker takes a run of them) read the same A and B rows from cache instead
/// of memory: the tables are 45-100 MB in the stress case and each token reads k rows of
/// each, scattered. Results land at each token's own index, so the order changes no byte.
fn processing_order(nb: &Neighbours) -> Vec<usize> {
    let mut keyed: Vec<(u32, usize)> = (0..nb.len())
        .map(|q| {
            let (idx, p) = nb.row(q);
            let top = idx
                .iter()
                .zip(p)
                .fold(None::<(u32, f32)>, |best, (&a, &w)| match best {
                    Some((_, bw)) if bw >= w => best,
                    _ => Some((a, w)),
                })
                .map_or(u32::MAX, |(a, _)| a);
            (top, q)
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, q)| q).collect()
}

/// Regresses every query of `nb`.
///
/// # Errors
/// [`RegressionError::NonFinite`] naming the query whose row is not finite.
pub fn regress(inp: &RegressionInput<'_>, nb: &Neighbours) -> Result<Regressed, RegressionError> {
    regress_ticked(inp, nb, &mut |_, _| true).map(|r| r.expect("a tick that never stops"))
}

/// Tokens between two ticks of [`regress_ticked`].
pub const TICK_TOKENS: usize = 4096;

/// [`regress`], calling `tick(done, total)` on this thread after every [`TICK_TOKENS`]
/// tokens; `Ok(None)` when a tick returns `false` (cancelled).
///
/// # Errors
/// [`RegressionError::NonFinite`] naming the query whose row is not finite.
pub fn regress_ticked(
    inp: &RegressionInput<'_>,
    nb: &Neighbours,
    tick: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<Option<Regressed>, RegressionError> {
    let n_q = nb.len();
    let h_s = inp.h_s;
    // Outputs are allocated once and written in place, token by token: collecting one
    // small Vec per token between the solver's temporaries fragments the heap.
    let mut embd = vec![0f32; n_q * h_s];
    let mut output = inp.anchors_out.map(|_| vec![0f32; n_q * h_s]);
    let mut w_all = vec![0f32; nb.anchor.len()];
    // Each task gets its token's output rows and weights; tokens run in `processing_order`.
    let mut w_rows: Vec<Option<&mut [f32]>> = Vec::with_capacity(n_q);
    let mut rest = w_all.as_mut_slice();
    for q in 0..n_q {
        let (head, tail) = rest.split_at_mut(nb.offsets[q + 1] - nb.offsets[q]);
        w_rows.push(Some(head));
        rest = tail;
    }
    let mut embd_rows: Vec<Option<&mut [f32]>> = embd.chunks_mut(h_s.max(1)).map(Some).collect();
    let mut out_rows: Vec<Option<&mut [f32]>> = match output.as_mut() {
        Some(o) => o.chunks_mut(h_s.max(1)).map(Some).collect(),
        None => Vec::new(),
    };
    let mut tasks: Vec<Task<'_>> = processing_order(nb)
        .into_iter()
        .map(|q| Task {
            q,
            embd: embd_rows
                .get_mut(q)
                .and_then(Option::take)
                .unwrap_or_default(),
            output: out_rows.get_mut(q).and_then(Option::take),
            w: w_rows[q].take().unwrap_or_default(),
        })
        .collect();
    let mut paths: Vec<SolvePath> = Vec::with_capacity(n_q);
    while !tasks.is_empty() {
        let part: Vec<Task<'_>> = tasks.drain(..TICK_TOKENS.min(tasks.len())).collect();
        paths.par_extend(
            part.into_par_iter()
                .map_init(Scratch::default, |scratch, t| {
                    let (idx, _) = nb.row(t.q);
                    let e = &inp.e[t.q * inp.h_t..(t.q + 1) * inp.h_t];
                    let (w, path) = if inp.affine {
                        let (w, path) =
                            centred_weights_path(inp.anchors_t, idx, e, inp.h_t, inp.rcond);
                        centred::combine_in_order(&w, idx, inp.anchors_s, h_s, t.embd);
                        if let (Some(b), Some(o)) = (inp.anchors_out, t.output) {
                            centred::combine_in_order(&w, idx, b, h_s, o);
                        }
                        (w, path)
                    } else {
                        let (w, path) =
                            solve_token(inp.anchors_t, idx, e, inp.h_t, inp.rcond, scratch);
                        combine(&w, idx, inp.anchors_s, h_s, scratch, t.embd);
                        if let (Some(b), Some(o)) = (inp.anchors_out, t.output) {
                            combine(&w, idx, b, h_s, scratch, o);
                        }
                        (w, path)
                    };
                    for (d, s) in t.w.iter_mut().zip(&w) {
                        *d = *s as f32;
                    }
                    path
                }),
        );
        if !tick(paths.len(), n_q) {
            return Ok(None);
        }
    }
    drop((embd_rows, out_rows));
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
    let count = |path| paths.iter().filter(|p| **p == path).count();
    let r = Regressed {
        embd,
        output,
        w: w_all,
        paths: PathCounts {
            refined: count(SolvePath::Refined),
            cholesky: count(SolvePath::Cholesky),
            eigen: count(SolvePath::Eigen),
            kernel: 0,
        },
    };
    Ok(Some(r))
}
