//! Exact sparsemax (Martins and Astudillo, 2016).
//!
//! sparsemax(z) = argmin_{p in simplex} ||p - z||², solved by p_i = max(z_i - τ, 0) with
//! τ = (Σ_{j ≤ k} z_(j) - 1) / k, z_(1) ≥ z_(2) ≥ ... sorted, and k the largest index with
//! 1 + k z_(k) > Σ_{j ≤ k} z_(j). That condition holds exactly for k = 1..k*.
//!
//! Only the values above τ matter, and any subset of z gives a lower bound on τ: τ is
//! where f(t) = Σ_i max(z_i - t, 0) falls to 1, and dropping values only lowers f. So
//! the maxima of blocks of [`BLOCK`] values bound τ from below (Michelot's iteration on
//! them, whose every step is itself a lower bound), only blocks whose maximum is above the
//! bound are scanned, and the values above it, sorted, hold the whole support: τ from them
//! is the τ of z, computed with the same additions in the same order as from a sort of
//! all of z. On the stress case's rows of 21,889 similarities this scans a few thousand
//! values and sorts a few hundred (README, speed).

/// Reused buffers.
#[derive(Default)]
pub struct SparsemaxScratch {
    maxima: Vec<f32>,
    top: Vec<f32>,
}

/// Values per block for the lower bound.
const BLOCK: usize = 32;

/// Steps of Michelot's iteration on the block maxima (each one is a valid bound; it
/// usually settles in under ten).
const BOUND_STEPS: usize = 30;

/// τ from values sorted descending that hold the whole support.
fn threshold(sorted: &[f32]) -> f64 {
    let mut sum = 0f64;
    let mut tau = 0f64;
    for (i, &z) in sorted.iter().enumerate() {
        let k = (i + 1) as f64;
        let z = f64::from(z);
        if 1.0 + k * z > sum + z {
            sum += z;
            tau = (sum - 1.0) / k;
        } else {
            break;
        }
    }
    tau
}

/// A lower bound on the sparsemax threshold of any superset of `v`: Michelot's
/// iteration t <- (Σ_{v_i > t} v_i - 1) / #{v_i > t}, which rises towards the threshold
/// of `v` from below. -inf when `v` is empty or holds no number.
fn lower_bound(v: &[f32]) -> f64 {
    let mut t = f64::NEG_INFINITY;
    for _ in 0..BOUND_STEPS {
        let (mut sum, mut n) = (0f64, 0usize);
        for &x in v {
            let x = f64::from(x);
            if x > t {
                sum += x;
                n += 1;
            }
        }
        if n == 0 {
            break;
        }
        let next = (sum - 1.0) / n as f64;
        if next.is_nan() || next <= t {
            break;
        }
        t = next;
    }
    t
}

/// Lanes of [`block_max`]: independent maxima the compiler keeps in vector registers.
const LANES: usize = 8;

/// The largest value of `c`, or NaN if `c` holds a NaN (so that its block is scanned).
fn block_max(c: &[f32]) -> f32 {
    let mut m = [f32::NEG_INFINITY; LANES];
    let mut nan = [false; LANES];
    let chunks = c.chunks_exact(LANES);
    let tail = chunks.remainder();
    for ch in chunks {
        for l in 0..LANES {
            m[l] = if ch[l] > m[l] { ch[l] } else { m[l] };
            nan[l] |= ch[l].is_nan();
        }
    }
    let mut best = m.into_iter().fold(f32::NEG_INFINITY, f32::max);
    for &v in tail {
        best = if v > best { v } else { best };
    }
    if nan.contains(&true) || tail.iter().any(|v| v.is_nan()) {
        f32::NAN
    } else {
        best
    }
}

/// `v` above `bound`, or NaN (kept where a sort of all of z would keep it).
fn above(v: f32, bound: f64) -> bool {
    let v = f64::from(v);
    v > bound || v.is_nan()
}

/// The support and weights of sparsemax(`z`), indices ascending.
#[must_use]
pub fn sparsemax(z: &[f32], scratch: &mut SparsemaxScratch) -> Vec<(u32, f32)> {
    let SparsemaxScratch { maxima, top } = scratch;
    maxima.clear();
    maxima.extend(z.chunks(BLOCK).map(block_max));
    // Less a margin for the rounding of the bound's own sums (still a lower bound).
    // (NaN only from infinite values: then every block is scanned.)
    let t = lower_bound(maxima);
    let bound = t - 1e-6 * (1.0 + t.abs());
    let bound = if bound.is_nan() {
        f64::NEG_INFINITY
    } else {
        bound
    };
    // Every value not at or below the bound (NaN included, as a sort of all of z keeps
    // it), from the blocks whose maximum is not at or below it.
    top.clear();
    for (c, &m) in z.chunks(BLOCK).zip(maxima.iter()) {
        if above(m, bound) {
            top.extend(c.iter().copied().filter(|&v| above(v, bound)));
        }
    }
    top.sort_unstable_by(|a, b| b.total_cmp(a));
    let tau = threshold(top);
    // The support, from the blocks whose maximum is above τ (or NaN: its other values may
    // be).
    let mut support = Vec::with_capacity(top.len());
    for (b, (c, &m)) in z.chunks(BLOCK).zip(maxima.iter()).enumerate() {
        if above(m, tau) {
            for (j, &v) in c.iter().enumerate() {
                let p = f64::from(v) - tau;
                if p > 0.0 {
                    support.push(((b * BLOCK + j) as u32, p as f32));
                }
            }
        }
    }
    support
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
