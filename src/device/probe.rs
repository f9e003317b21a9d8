//! A probe of the random-gather rate (`kernels/probe.cu`), which `gpu_check` times on a GPU
//! beside the performance model's assumption, and [`gather_on_host`], the same sums on the
//! CPU for the tests.

use super::kernels::{run, Arg};
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
