//! Exact sparsemax (Martins and Astudillo, 2016).
//!
//! sparsemax(z) = argmin_{p in simplex} ||p - z||², solved by p_i = max(z_i - τ, 0) with
//! τ = (Σ_{j ≤ k} z_(j) - 1) / k, z_(1) ≥ z_(2) ≥ ... sorted, and k the largest index with
//! 1 + k z_(k) > Σ_{j ≤ k} z_(j). That condition holds exactly for k = 1..k*, so once it
//! fails inside a sorted prefix of the K largest values, k* < K and τ is final: the
//! partial selection provably contains the whole support. Otherwise K doubles.

/// Reused buffers.
#[derive(Default)]
pub struct SparsemaxScratch {
    top: Vec<f32>,
}

/// Initial prefix size of the partial selection.
const FIRST_K: usize = 512;

/// τ from values sorted descending, if the support ends inside them (`None` otherwise).
fn threshold(sorted: &[f32], complete: bool) -> Option<f64> {
    let mut sum = 0f64;
    let mut tau = 0f64;
    for (i, &z) in sorted.iter().enumerate() {
        let k = (i + 1) as f64;
        let z = f64::from(z);
        if 1.0 + k * z > sum + z {
            sum += z;
            tau = (sum - 1.0) / k;
        } else {
            return Some(tau);
        }
    }
    complete.then_some(tau)
}

/// The support and weights of sparsemax(`z`), indices ascending.
#[must_use]
pub fn sparsemax(z: &[f32], scratch: &mut SparsemaxScratch) -> Vec<(u32, f32)> {
    let mut k = FIRST_K.min(z.len());
    let tau = loop {
        let top = &mut scratch.top;
        top.clear();
        top.extend_from_slice(z);
        let complete = k >= z.len();
        if !complete {
            top.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
            top.truncate(k);
        }
        top.sort_unstable_by(|a, b| b.total_cmp(a));
        if let Some(t) = threshold(top, complete) {
            break t;
        }
        k = (k * 2).min(z.len());
    };
    z.iter()
        .enumerate()
        .filter_map(|(i, &v)| {
            let p = f64::from(v) - tau;
            (p > 0.0).then_some((i as u32, p as f32))
        })
        .collect()
}

/// The slow reference: sparsemax by sorting all of `z` (for tests).
#[must_use]
pub fn sparsemax_full_sort(z: &[f32]) -> Vec<(u32, f32)> {
    let mut sorted = z.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let mut best_k = 0;
    let mut cum = 0f64;
    let mut best_sum = 0f64;
    for (i, &v) in sorted.iter().enumerate() {
        cum += f64::from(v);
        if 1.0 + (i + 1) as f64 * f64::from(v) > cum {
            best_k = i + 1;
            best_sum = cum;
        }
    }
    let tau = (best_sum - 1.0) / best_k.max(1) as f64;
    z.iter()
        .enumerate()
        .filter(|(_, &v)| f64::from(v) > tau)
        .map(|(i, &v)| (i as u32, (f64::from(v) - tau) as f32))
        .collect()
}
