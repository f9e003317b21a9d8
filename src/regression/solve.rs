//! One token's weights w = (A e)ᵀ G⁺, and the paper's literal formula as a slow reference.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatMut, MatRef, Par, Spec};

use super::simd;

/// Which solver produced a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SolvePath {
    /// Ĝ (G formed in float32) factored by Cholesky in float32, its smallest eigenvalue
    /// estimated well clear of the cut, w refined against A in f64 until the estimated
    /// error is below [`REFINE_TOL`] of w.
    Refined,
    /// G formed in f64, G = L Lᵀ and the bounds proved G⁺ = G⁻¹.
    Cholesky,
    /// G formed in f64, symmetric eigendecomposition with eigenvalues below rcond² λ_max
    /// dropped.
    Eigen,
}

/// Largest bound on cond(G) for which the Cholesky path is trusted numerically.
const MAX_COND_BOUND: f64 = 1e10;

/// Refinement stops when the error left in w, estimated from the shrinking corrections,
/// is below this fraction of w: 60x below float32 rounding of the row written (the
/// contract asks for 1e-4). One step is typical: Ĝ's float32 error times cond(G) is
/// 1e-5 or less on the real supports.
pub const REFINE_TOL: f64 = 1e-9;

/// Refinement steps before the token is handed to the exact path. Each step multiplies
/// the error by about cond(G) × Ĝ's relative error, which the eigenvalue check keeps
/// under 1e-3.
const MAX_REFINE_STEPS: usize = 8;

/// Inverse-iteration steps estimating Ĝ's smallest eigenvalue.
const INVERSE_ITERATIONS: usize = 2;

/// Gathers the token's rows `idx` of `anchors_t` (`[n_a x h_t]`) into `a` (`[k x h_t]`)
/// and returns A e in f64.
fn gather_and_times_e(
    anchors_t: &[f32],
    idx: &[u32],
    e: &[f32],
    h_t: usize,
    a: &mut Vec<f32>,
) -> Vec<f64> {
    a.clear();
    for &i in idx {
        a.extend_from_slice(&anchors_t[i as usize * h_t..(i as usize + 1) * h_t]);
    }
    let e: Vec<f64> = e.iter().map(|x| f64::from(*x)).collect();
    let mut ae = vec![0f64; idx.len()];
    simd::a_times(a, h_t, &e, &mut ae);
    ae
}

/// The lower triangle of Ĝ = A Aᵀ for the `[k x h_t]` row-major `a`, formed in float32
/// (docs/method.md section 4 allows it; [`solve_refined`] then solves with the exact G) into `g`
/// (k x k column-major; the strict upper triangle is not written: faer's Cholesky uses it as
/// workspace and [`simd::mirror_lower`] then fills it with Lᵀ).
fn gram_f32(a: &[f32], k: usize, h_t: usize, g: MatMut<'_, f32>) {
    lower_gram(MatRef::from_row_major_slice(a, k, h_t), g, 1.0);
}

/// The lower triangle of G = A Aᵀ in f64 for the `[k x h_t]` row-major `a`.
fn gram_f64(a: &[f64], k: usize, h_t: usize) -> Mat<f64> {
    let mut g = Mat::<f64>::zeros(k, k);
    lower_gram(MatRef::from_row_major_slice(a, k, h_t), g.as_mut(), 1.0);
    g
}

/// g's lower triangle = A Aᵀ. Only the lower triangle: every solver here reads
/// `Side::Lower`, and the product is a token's dominant cost (k² h_t / 2).
fn lower_gram<T: faer::traits::ComplexField>(a: MatRef<'_, T>, g: MatMut<'_, T>, one: T) {
    triangular::matmul(
        g,
        BlockStructure::TriangularLower,
        Accum::Replace,
        a,
        BlockStructure::Rectangular,
        a.transpose(),
        BlockStructure::Rectangular,
        one,
        Par::Seq,
    );
}

/// Relative rounding of a float32 Gram entry (an h_t-term dot product, h_t in the
/// hundreds): the level below which Ĝ's eigenvalues mean nothing.
const F32_GRAM_NOISE: f64 = 1e-6;

/// faer's float32 Cholesky with smaller blocks than its defaults (64, 128): about 18%
/// faster on the k ~ 100 supports here (README, speed). The workspace is sized with the
/// same parameters.
fn f32_llt_params() -> Spec<faer::linalg::cholesky::llt::factor::LltParams, f32> {
    let mut params: faer::linalg::cholesky::llt::factor::LltParams = faer::Auto::<f32>::auto();
    params.recursion_threshold = 32;
    params.block_size = 32;
    Spec::new(params)
}

/// Per-worker buffers for [`solve_token`], kept between tokens: allocating Ĝ (up to
/// 0.5 MB) per token costs page faults and zeroing on every token.
#[derive(Default)]
pub struct Scratch {
    a: Vec<f32>,
    g: Vec<f32>,
    stack: Option<(usize, MemBuffer)>,
    /// h_s-wide f64 accumulator for [`combine`](super::combine).
    pub(super) acc: Vec<f64>,
}

impl Scratch {
    /// k x k column-major storage for Ĝ and faer's Cholesky workspace for k.
    fn gram_and_stack(&mut self, k: usize) -> (&mut [f32], &mut MemStack) {
        use faer::linalg::cholesky::llt::factor;
        if self.g.len() < k * k {
            self.g.resize(k * k, 0.0);
        }
        if self.stack.as_ref().is_none_or(|(n, _)| *n < k) {
            let req = factor::cholesky_in_place_scratch::<f32>(k, Par::Seq, f32_llt_params());
            self.stack = Some((k, MemBuffer::new(req)));
        }
        let (_, buf) = self.stack.as_mut().expect("just set");
        (&mut self.g[..k * k], MemStack::new(buf))
    }
}

/// w for one token: `anchors_t` is `[n_a x h_t]`, `idx` the token's k anchors, `e` its PLM
/// row. The refined path where it applies (k <= h_t and Ĝ clear of singularity), the
/// exact path otherwise.
pub fn solve_token(
    anchors_t: &[f32],
    idx: &[u32],
    e: &[f32],
    h_t: usize,
    rcond: f64,
    scratch: &mut Scratch,
) -> (Vec<f64>, SolvePath) {
    let k = idx.len();
    let mut a = std::mem::take(&mut scratch.a);
    let ae = gather_and_times_e(anchors_t, idx, e, h_t, &mut a);
    let mut out = None;
    // k > h_t: G is singular and the pseudo-inverse drops eigenvalues; exact path only.
    if k <= h_t {
        let (g, stack) = scratch.gram_and_stack(k);
        gram_f32(&a, k, h_t, MatMut::from_column_major_slice_mut(g, k, k));
        out = solve_refined(g, stack, &a, &ae, h_t, rcond).map(|w| (w, SolvePath::Refined));
    }
    let out = out.unwrap_or_else(|| solve_exact(&a, e, &ae, h_t, rcond));
    scratch.a = a;
    out
}

/// w for one token by the exact path (G formed in f64): `anchors_t` is `[n_a x h_t]`,
/// `idx` the token's k anchors, `e` its PLM row. Returns w (k entries) and the path taken
/// ([`SolvePath::Cholesky`] or [`SolvePath::Eigen`]).
#[must_use]
pub fn solve_weights(
    anchors_t: &[f32],
    idx: &[u32],
    e: &[f32],
    h_t: usize,
    rcond: f64,
) -> (Vec<f64>, SolvePath) {
    let mut a = Vec::new();
    let ae = gather_and_times_e(anchors_t, idx, e, h_t, &mut a);
    solve_exact(&a, e, &ae, h_t, rcond)
}

/// The exact path for the gathered `[k x h_t]` A and A e.
///
/// G in f64: formed in f32, a rank-deficient A (k > h_t) leaves eigenvalues at f32
/// rounding level (1e-7 λ_max), far above the rcond² = 1e-12 cut, which then blow up.
#[must_use]
fn solve_exact(a: &[f32], e: &[f32], ae: &[f64], h_t: usize, rcond: f64) -> (Vec<f64>, SolvePath) {
    let k = ae.len();
    let a64: Vec<f64> = a.iter().map(|x| f64::from(*x)).collect();
    if k > h_t {
        return (tall_weights(&a64, e, k, h_t, rcond), SolvePath::Eigen);
    }
    let g = gram_f64(&a64, k, h_t);
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
    (eigen_weights(&g, ae, rcond), SolvePath::Eigen)
}

/// w = G⁻¹ (A e) from `g`, Ĝ (G = A Aᵀ formed in float32, lower triangle): Cholesky of
/// Ĝ in float32, then iterative refinement with the residual A e - A (Aᵀ w) computed in
/// f64 from A itself (`a`, `[k x h_t]` row-major), so the result solves the exact G; the
/// float32 factor only has to be good enough for the corrections to shrink (mixed
/// precision iterative refinement).
///
/// `None` (the caller takes the exact path) when Ĝ is not numerically positive definite,
/// when its smallest eigenvalue (estimated by inverse iteration) is within 1000x of
/// float32 rounding ([`F32_GRAM_NOISE`] × tr(Ĝ)/k) or of the pseudo-inverse's cut
/// rcond² λ_max (with λ_max <= tr): there G⁺ may differ from G⁻¹ or refinement may
/// settle on a wrong w. Also `None` when refinement has not converged after
/// [`MAX_REFINE_STEPS`].
#[must_use]
fn solve_refined(
    g: &mut [f32],
    stack: &mut MemStack,
    a: &[f32],
    ae: &[f64],
    h_t: usize,
    rcond: f64,
) -> Option<Vec<f64>> {
    use faer::linalg::cholesky::llt::factor;
    let k = ae.len();
    let trace: f64 = (0..k).map(|i| f64::from(g[i * k + i])).sum();
    factor::cholesky_in_place(
        MatMut::from_column_major_slice_mut(g, k, k),
        factor::LltRegularization::default(),
        Par::Seq,
        stack,
        f32_llt_params(),
    )
    .ok()?;
    simd::mirror_lower(g, k);
    let l: &[f32] = g;
    let lambda_min = smallest_eigenvalue_estimate(l, k);
    let floor = (1e3 * F32_GRAM_NOISE * trace / k as f64).max(1e3 * rcond * rcond * trace);
    if !(lambda_min.is_finite() && lambda_min > floor) {
        return None;
    }
    let mut w = ae.to_vec();
    simd::llt_solve(l, &mut w);
    let mut u = vec![0f64; h_t];
    let mut r = vec![0f64; k];
    // Size of the previous correction (w itself before the first step).
    let mut prev = dot(&w, &w).sqrt();
    for _ in 0..MAX_REFINE_STEPS {
        // r = A e - A (Aᵀ w), then the correction Ĝ⁻¹ r.
        simd::at_times(a, &w, &mut u);
        simd::a_times(a, h_t, &u, &mut r);
        r.iter_mut().zip(ae).for_each(|(ri, aei)| *ri = aei - *ri);
        simd::llt_solve(l, &mut r);
        w.iter_mut().zip(&r).for_each(|(wi, di)| *wi += di);
        let (dn, wn) = (dot(&r, &r).sqrt(), dot(&w, &w).sqrt());
        if !(dn.is_finite() && wn.is_finite()) {
            return None;
        }
        // Corrections shrink geometrically by rho; what is left after this one is at
        // most dn rho / (1 - rho).
        let rho = dn / prev;
        if rho < 0.5 && dn * rho / (1.0 - rho) <= REFINE_TOL * wn {
            return Some(w);
        }
        prev = dn;
    }
    None
}

/// An upper estimate of the smallest eigenvalue of L Lᵀ: `INVERSE_ITERATIONS` steps of
/// inverse iteration from a fixed pseudo-random start (a fixed sign pattern could be
/// orthogonal to the eigenvector of two equal rows).
fn smallest_eigenvalue_estimate(l: &[f32], k: usize) -> f64 {
    let mut x: Vec<f64> = (0..k as u64)
        .map(|i| {
            let h = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            (h >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect();
    let mut lambda = f64::INFINITY;
    for _ in 0..INVERSE_ITERATIONS {
        let n = dot(&x, &x).sqrt();
        if n.is_nan() || n <= 0.0 {
            return 0.0;
        }
        x.iter_mut().for_each(|v| *v /= n);
        simd::llt_solve(l, &mut x);
        lambda = 1.0 / dot(&x, &x).sqrt();
    }
    lambda
}

/// Σ x_i y_i (short vectors: norms of w and of the corrections).
fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// The lower Cholesky factor of `g` (lower triangle read), or `None` when `g` is not
/// numerically positive definite.
///
/// faer's low-level routine with an explicit `Par::Seq`: the convenience methods take
/// faer's *global* parallelism, which a library must not set (an app embedding it may
/// use faer too); each token's solve runs on one rayon worker.
fn cholesky_lower(g: &Mat<f64>) -> Option<Mat<f64>> {
    let k = g.nrows();
    let mut l = Mat::<f64>::zeros(k, k);
    for j in 0..k {
        for i in j..k {
            l[(i, j)] = g[(i, j)];
        }
    }
    cholesky_in_place(l)
}

/// [`cholesky_lower`] reusing `g`'s storage; its upper triangle must be zero (a lower
/// factor is returned whole).
fn cholesky_in_place(mut l: Mat<f64>) -> Option<Mat<f64>> {
    use faer::linalg::cholesky::llt::factor;
    let k = l.nrows();
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

/// w for more neighbours than PLM dimensions (k > h_t), from the h_t x h_t side:
/// pinv(A) = H⁺ Aᵀ with H = Aᵀ A, so w = A (H⁺ e). H and G = A Aᵀ share their non-zero
/// eigenvalues, so the cut rcond² λ_max drops the same directions; the eigendecomposition
/// is h_t³ instead of k³ (k 1,300 at h_t 640: a 1,300 x 1,300 problem took most of 100 s
/// for 110 tokens).
fn tall_weights(a64: &[f64], e: &[f32], k: usize, h_t: usize, rcond: f64) -> Vec<f64> {
    // Row-major [k x h_t] A is column-major [h_t x k] Aᵀ.
    let at = MatRef::from_column_major_slice(a64, h_t, k);
    let mut h = Mat::<f64>::zeros(h_t, h_t);
    lower_gram(at, h.as_mut(), 1.0);
    let e64: Vec<f64> = e.iter().map(|x| f64::from(*x)).collect();
    let z = eigen_weights(&h, &e64, rcond);
    (0..k)
        .map(|r| {
            a64[r * h_t..(r + 1) * h_t]
                .iter()
                .zip(&z)
                .map(|(x, y)| x * y)
                .sum()
        })
        .collect()
}
