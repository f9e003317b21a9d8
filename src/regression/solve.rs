//! One token's weights w = (A e)ᵀ G⁺, and the paper's literal formula as a slow reference.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatRef, Par, Spec};

/// Which solver produced a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SolvePath {
    /// G = L Lᵀ and the bounds proved G⁺ = G⁻¹.
    Cholesky,
    /// Symmetric eigendecomposition with eigenvalues below rcond² λ_max dropped.
    Eigen,
}

/// Largest bound on cond(G) for which the Cholesky path is trusted numerically.
const MAX_COND_BOUND: f64 = 1e10;

/// w for one token: `anchors_t` is `[n_a x h_t]`, `idx` the token's k anchors, `e` its
/// PLM row. Returns w (k entries) and the path taken.
#[must_use]
pub fn solve_weights(
    anchors_t: &[f32],
    idx: &[u32],
    e: &[f32],
    h_t: usize,
    rcond: f64,
) -> (Vec<f64>, SolvePath) {
    let k = idx.len();
    // G in f64: formed in f32, a rank-deficient A (k > h_t) leaves eigenvalues at f32
    // rounding level (1e-7 λ_max), far above the rcond² = 1e-12 cut, which then blow up.
    let mut a = Vec::with_capacity(k * h_t);
    for &i in idx {
        a.extend(
            anchors_t[i as usize * h_t..(i as usize + 1) * h_t]
                .iter()
                .map(|x| f64::from(*x)),
        );
    }
    let a_m = MatRef::from_row_major_slice(&a, k, h_t);
    // Only the lower triangle: both solvers below read `Side::Lower`, and the product is
    // the stage's dominant cost (k² h_t).
    let mut g = Mat::<f64>::zeros(k, k);
    triangular::matmul(
        g.as_mut(),
        BlockStructure::TriangularLower,
        Accum::Replace,
        a_m,
        BlockStructure::Rectangular,
        a_m.transpose(),
        BlockStructure::Rectangular,
        1.0f64,
        Par::Seq,
    );
    let ae: Vec<f64> = a
        .chunks_exact(h_t)
        .map(|r| r.iter().zip(e).map(|(x, y)| x * f64::from(*y)).sum())
        .collect();
    let trace: f64 = (0..k).map(|i| g[(i, i)]).sum();
    if let Some(l) = cholesky_lower(&g) {
        let mut linv = Mat::<f64>::zeros(k, k);
        faer::linalg::triangular_inverse::invert_lower_triangular(
            linv.as_mut(),
            l.as_ref(),
            Par::Seq,
        );
        let frob2: f64 = (0..k)
            .map(|j| (j..k).map(|i| linv[(i, j)].powi(2)).sum::<f64>())
            .sum();
        let cond_bound = trace * frob2;
        if cond_bound.is_finite()
            && cond_bound * rcond * rcond <= 1.0
            && cond_bound <= MAX_COND_BOUND
        {
            // w = G⁻¹ (A e) = L⁻ᵀ (L⁻¹ (A e)).
            let y: Vec<f64> = (0..k)
                .map(|i| (0..=i).map(|j| linv[(i, j)] * ae[j]).sum())
                .collect();
            let w: Vec<f64> = (0..k)
                .map(|j| (j..k).map(|i| linv[(i, j)] * y[i]).sum())
                .collect();
            return (w, SolvePath::Cholesky);
        }
    }
    (eigen_weights(&g, &ae, rcond), SolvePath::Eigen)
}

/// The lower Cholesky factor of `g` (lower triangle read), or `None` when `g` is not
/// numerically positive definite.
///
/// faer's low-level routine with an explicit `Par::Seq`: the convenience methods take
/// faer's *global* parallelism, which a library must not set (an app embedding it may
/// use faer too); each token's solve runs on one rayon worker.
fn cholesky_lower(g: &Mat<f64>) -> Option<Mat<f64>> {
    use faer::linalg::cholesky::llt::factor;
    let k = g.nrows();
    let mut l = Mat::<f64>::zeros(k, k);
    for j in 0..k {
        for i in j..k {
            l[(i, j)] = g[(i, j)];
        }
    }
    let mut buf = MemBuffer::new(factor::cholesky_in_place_scratch::<f64>(
        k,
        Par::Seq,
        Spec::default(),
    ));
    factor::cholesky_in_place(
        l.as_mut(),
        factor::LltRegularization::default(),
        Par::Seq,
        MemStack::new(&mut buf),
        Spec::default(),
    )
    .ok()?;
    Some(l)
}

/// w = G⁺ (A e) through the eigendecomposition of G, dropping λ < rcond² λ_max.
fn eigen_weights(g: &Mat<f64>, ae: &[f64], rcond: f64) -> Vec<f64> {
    use faer::linalg::evd;
    let k = ae.len();
    let mut u = Mat::<f64>::zeros(k, k);
    let mut s = faer::diag::Diag::<f64>::zeros(k);
    let mut buf = MemBuffer::new(evd::self_adjoint_evd_scratch::<f64>(
        k,
        evd::ComputeEigenvectors::Yes,
        Par::Seq,
        Spec::default(),
    ));
    // Reads the lower triangle, as formed above.
    if evd::self_adjoint_evd(
        g.as_ref(),
        s.as_mut(),
        Some(u.as_mut()),
        Par::Seq,
        MemStack::new(&mut buf),
        Spec::default(),
    )
    .is_err()
    {
        return vec![0.0; k];
    }
    let s = s.column_vector();
    let lmax = (0..k).map(|i| s[i]).fold(0f64, f64::max);
    let cut = rcond * rcond * lmax;
    let mut w = vec![0f64; k];
    for i in 0..k {
        let l = s[i];
        if l <= cut || l <= 0.0 {
            continue;
        }
        let c: f64 = (0..k).map(|r| u[(r, i)] * ae[r]).sum::<f64>() / l;
        for (r, wr) in w.iter_mut().enumerate() {
            *wr += c * u[(r, i)];
        }
    }
    w
}

/// The paper's literal formula e · pinv(A) · B in f64 through an SVD of A (slow; tests and
/// benches only). `a` is `[k x h_t]`, `b` is `[k x h_s]`.
#[must_use]
pub fn literal_pinv_row(
    a: &[f64],
    b: &[f64],
    e: &[f64],
    k: usize,
    h_t: usize,
    h_s: usize,
    rcond: f64,
) -> Vec<f64> {
    let a_m = MatRef::from_row_major_slice(a, k, h_t);
    let svd = a_m.svd().expect("svd converges");
    let (u, s, v) = (svd.U(), svd.S().column_vector(), svd.V());
    let smax = (0..k.min(h_t)).map(|i| s[i]).fold(0f64, f64::max);
    // pinv(A) = V Σ⁺ Uᵀ (h_t x k); then e · pinv(A) (k), then · B (h_s).
    let mut ep = vec![0f64; k];
    for i in 0..k.min(h_t) {
        if s[i] <= rcond * smax || s[i] <= 0.0 {
            continue;
        }
        let ev: f64 = (0..h_t).map(|j| e[j] * v[(j, i)]).sum::<f64>() / s[i];
        for (r, x) in ep.iter_mut().enumerate() {
            *x += ev * u[(r, i)];
        }
    }
    (0..h_s)
        .map(|c| (0..k).map(|r| ep[r] * b[r * h_s + c]).sum())
        .collect()
}
