//! The literal formulas in f64, slow and independent of the solver (tests, benches and the
//! GPU check compare every fast path with them), and the measures those comparisons use.

use faer::MatRef;

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

/// `salt-centred`'s literal row in f64: μ_B + (e - μ) · pinv(A - 1μ) · (B - 1μ_B), with μ
/// and μ_B the means of the support's rows of `a` (`[k x h_t]`) and `b` (`[k x h_s]`).
#[must_use]
pub fn literal_centred_row(
    a: &[f64],
    b: &[f64],
    e: &[f64],
    k: usize,
    h_t: usize,
    h_s: usize,
    rcond: f64,
) -> Vec<f64> {
    let mean = |m: &[f64], w: usize| -> Vec<f64> {
        (0..w)
            .map(|c| (0..k).map(|i| m[i * w + c]).sum::<f64>() / k as f64)
            .collect()
    };
    let (mu, mu_b) = (mean(a, h_t), mean(b, h_s));
    let centre = |m: &[f64], mu: &[f64], w: usize| -> Vec<f64> {
        m.iter().enumerate().map(|(i, x)| x - mu[i % w]).collect()
    };
    let ec: Vec<f64> = e.iter().zip(&mu).map(|(x, m)| x - m).collect();
    let row = literal_pinv_row(
        &centre(a, &mu, h_t),
        &centre(b, &mu_b, h_s),
        &ec,
        k,
        h_t,
        h_s,
        rcond,
    );
    row.iter().zip(&mu_b).map(|(r, m)| r + m).collect()
}

/// The largest absolute difference of `row` from `reference`, over `reference`'s largest
/// absolute entry (the 1e-4 of the contract).
#[must_use]
pub fn relative_error(row: &[f32], reference: &[f64]) -> f64 {
    let scale = reference
        .iter()
        .fold(0f64, |m, v| m.max(v.abs()))
        .max(1e-30);
    row.iter()
        .zip(reference)
        .fold(0f64, |m, (a, b)| m.max((f64::from(*a) - b).abs()))
        / scale
}

/// Rows `idx` of the `[n x width]` `table`, in f64.
#[must_use]
pub fn rows_f64(table: &[f32], idx: &[u32], width: usize) -> Vec<f64> {
    idx.iter()
        .flat_map(|&i| {
            table[i as usize * width..(i as usize + 1) * width]
                .iter()
                .map(|&x| f64::from(x))
        })
        .collect()
}
