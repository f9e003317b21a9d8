//! Deterministic tables for the device's checks, tests and benches: values from a seed
//! (no RNG state to carry to a GPU machine) and source rows widened to another h_s. Not
//! used by a transfer.

/// `n` values in [-1, 1) from `seed` (xorshift64): the same on every machine.
#[must_use]
pub fn seeded_table(n: usize, seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// Each `width`-wide row of `rows` repeated cyclically to `to` values: the stress shape at
/// another model width (h_s 4096) without another model.
#[must_use]
pub fn widen_rows(rows: &[f32], width: usize, to: usize) -> Vec<f32> {
    rows.chunks(width.max(1))
        .flat_map(|r| r.iter().copied().cycle().take(to))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_tables_repeat_and_widened_rows_cycle() {
        let a = seeded_table(1000, 3);
        assert_eq!(a, seeded_table(1000, 3));
        assert_ne!(a, seeded_table(1000, 4));
        assert!(a.iter().all(|v| (-1.0..1.0).contains(v)));
        let mean = a.iter().map(|&v| f64::from(v)).sum::<f64>() / 1000.0;
        assert!(mean.abs() < 0.1, "mean {mean}");
        assert_eq!(
            widen_rows(&[1.0, 2.0, 3.0, 4.0], 2, 5),
            [1.0, 2.0, 1.0, 2.0, 1.0, 3.0, 4.0, 3.0, 4.0, 3.0]
        );
    }
}
