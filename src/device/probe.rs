//! Probes of the two ceilings the regression rests on, which `gpu_check` times on a GPU
//! beside the performance model's assumptions: the random-gather rate (`kernels/probe.cu`)
//! and the f64 product rate (`salt_anchor_gram` on a whole table). [`gather_on_host`] gives
//! the gather's sums on the CPU for the tests.

use super::kernels::{gram_of_rows, run, Arg};
use super::launch::{DeviceBuf, Launcher};
use crate::error::DeviceError;

/// Threads per block of the probe.
pub const PROBE_BLOCK: u32 = 256;

/// The place of every read: as `salt_probe_next` in `kernels/probe.cu`.
fn next(s: u64) -> u64 {
    s.wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407)
}

/// Each of `threads` threads' sum of `reads` doubles of `table` (`n` doubles, a power of
/// two) at the probe's pseudo-random places, read on the device. Returns the sums.
///
/// # Errors
/// [`DeviceError::Launch`] for an `n` that is not a power of two, a `threads` that is not
/// a multiple of the block, or a device error.
pub fn gather<L: Launcher>(
    l: &L,
    table: &L::Buf,
    n: usize,
    threads: usize,
    reads: u32,
    seed: u64,
) -> Result<Vec<f64>, DeviceError> {
    let block = PROBE_BLOCK.min(l.max_block()) as usize;
    let bad = |reason: String| DeviceError::Launch {
        kernel: "salt_probe_gather",
        reason,
    };
    if !n.is_power_of_two() || table.len() < n * 8 {
        return Err(bad(format!(
            "{n} doubles in a buffer of {} bytes",
            table.len()
        )));
    }
    if threads == 0 || !threads.is_multiple_of(block) {
        return Err(bad(format!("{threads} threads in blocks of {block}")));
    }
    let out = l.zeroed(threads * 8)?;
    let grid = u32::try_from(threads / block).map_err(|e| bad(e.to_string()))?;
    // SAFETY: salt_probe_gather(const double*, long long, int, unsigned long long, double*);
    // table holds n doubles (checked), out one per thread.
    unsafe {
        run(
            l,
            "salt_probe_gather",
            [grid, 1, 1],
            block as u32,
            &mut [
                Arg::Ptr(table.addr()),
                Arg::I64(n as i64),
                Arg::I32(i32::try_from(reads).map_err(|e| bad(e.to_string()))?),
                Arg::U64(seed),
                Arg::Ptr(out.addr()),
            ],
        )?;
    }
    let mut sums = vec![0f64; threads];
    l.download(&out, 0, bytemuck::cast_slice_mut(&mut sums))?;
    Ok(sums)
}

/// What [`gather`] returns, computed on the host.
#[must_use]
pub fn gather_on_host(table: &[f64], threads: usize, reads: u32, seed: u64) -> Vec<f64> {
    let mask = table.len() as u64 - 1;
    (0..threads as u64)
        .map(|t| {
            let mut s = seed ^ t.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut sum = 0f64;
            for _ in 0..reads {
                s = next(s);
                sum += table[((s >> 16) & mask) as usize];
            }
            sum
        })
        .collect()
}

/// The f64 product ceiling: `salt_anchor_gram` (a tiled f64 product, the regression's
/// largest) makes the Gram matrix of all `n` rows of `table` (`n x dim` floats). Returns
/// the `n x n` doubles.
///
/// # Errors
/// A device error, or sizes that do not fit the kernel's ints.
pub fn f64_gram<L: Launcher>(
    l: &L,
    table: &L::Buf,
    n: usize,
    dim: usize,
) -> Result<Vec<f64>, DeviceError> {
    let bad = |reason: String| DeviceError::Launch {
        kernel: "salt_anchor_gram",
        reason,
    };
    if table.len() < n * dim * 4 {
        return Err(bad(format!(
            "{n} x {dim} floats in a buffer of {} bytes",
            table.len()
        )));
    }
    let rows: Vec<u32> = (0..u32::try_from(n).map_err(|e| bad(e.to_string()))?).collect();
    let rows_buf = l.upload(bytemuck::cast_slice(&rows))?;
    // SAFETY: the ids 0..n are rows of table, which holds n x dim floats (checked).
    let gram = unsafe { gram_of_rows(l, table, &rows_buf, n, dim) }?;
    let mut out = vec![0f64; n * n];
    l.download(&gram, 0, bytemuck::cast_slice_mut(&mut out))?;
    Ok(out)
}

/// Multiply-adds of [`f64_gram`] for `n` rows of `dim`: the lower triangle and diagonal.
#[must_use]
pub fn f64_gram_fmas(n: usize, dim: usize) -> f64 {
    n as f64 * (n as f64 + 1.0) / 2.0 * dim as f64
}
