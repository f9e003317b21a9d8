//! The affine variant of the per-token map (`--method salt-centred`): the support's mean
//! PLM row μ is taken out first, w_c = (e - μ) · pinv(A - 1μ), and the weights
//! w = w_c + (1 - Σ w_c) / k · 1 sum to one, so the row is μ_B + w_c (B - 1μ_B).
//!
//! The exact solver of `solve.rs` on the centred rows (A - 1μ has rank at most k - 1, so
//! the refined path, which needs a well-conditioned G, never applies).

use super::solve::{solve_weights, SolvePath};

/// Affine weights of `e` on the rows `idx` of `[n x h]` `table`, and the solver path.
#[must_use]
pub fn centred_weights_path(
    table: &[f32],
    idx: &[u32],
    e: &[f32],
    h: usize,
    rcond: f64,
) -> (Vec<f64>, SolvePath) {
    let k = idx.len();
    let mut mu = vec![0f64; h];
    for &i in idx {
        for (m, x) in mu
            .iter_mut()
            .zip(&table[i as usize * h..(i as usize + 1) * h])
        {
            *m += f64::from(*x) / k as f64;
        }
    }
    let local: Vec<f32> = idx
        .iter()
        .flat_map(|&i| {
            table[i as usize * h..(i as usize + 1) * h]
                .iter()
                .zip(&mu)
                .map(|(x, m)| (f64::from(*x) - m) as f32)
        })
        .collect();
    let ec: Vec<f32> = e
        .iter()
        .zip(&mu)
        .map(|(x, m)| (f64::from(*x) - m) as f32)
        .collect();
    let ids: Vec<u32> = (0..k as u32).collect();
    let (wc, path) = solve_weights(&local, &ids, &ec, h, rcond);
    let rest = (1.0 - wc.iter().sum::<f64>()) / k as f64;
    (wc.into_iter().map(|w| w + rest).collect(), path)
}

/// Affine weights of `e` on the rows `idx` of `[n x h]` `table`.
#[must_use]
pub fn centred_weights(table: &[f32], idx: &[u32], e: &[f32], h: usize, rcond: f64) -> Vec<f64> {
    centred_weights_path(table, idx, e, h, rcond).0
}

/// `out = Σ_j w_j rows[idx_j]` for `[n x width]` `rows`, one row after another in f64.
///
/// Not the blocked sum of `simd.rs`: its four-row passes round differently, and this order
/// is the one salt-centred's outputs have always been written with.
pub(super) fn combine_in_order(
    w: &[f64],
    idx: &[u32],
    rows: &[f32],
    width: usize,
    out: &mut [f32],
) {
    let mut acc = vec![0f64; width];
    for (&i, &wi) in idx.iter().zip(w) {
        for (a, x) in acc
            .iter_mut()
            .zip(&rows[i as usize * width..(i as usize + 1) * width])
        {
            *a += wi * f64::from(*x);
        }
    }
    for (o, a) in out.iter_mut().zip(acc) {
        *o = a as f32;
    }
}
