//! What one kernel does over a whole problem, and the time that takes on a [`Gpu`]: the
//! largest of its resources' times (a roofline), or the latency of its blocks' serial parts
//! spread over the blocks the SM holds at once, plus launches and host synchronisations.

use super::gpu::Gpu;

/// One kernel's work, summed over all its launches.
#[derive(Clone, Debug, Default)]
pub struct Work {
    /// The stage it belongs to (`neighbours`, `regression`).
    pub stage: &'static str,
    /// Its entry point (for the occupancy).
    pub kernel: &'static str,
    /// Launches.
    pub launches: f64,
    /// Host synchronisations (downloads the host waits for).
    pub syncs: f64,
    /// f64 fused multiply-adds (lane operations).
    pub fma64: f64,
    /// f32 fused multiply-adds.
    pub fma32: f64,
    /// Conversions to or from f64.
    pub cvt64: f64,
    /// Shared memory bytes moved (after broadcasts).
    pub smem_bytes: f64,
    /// L1 sectors of uncoalesced accesses (one per lane that reads its own sector).
    pub l1_sectors: f64,
    /// Bytes through L2 (every global access).
    pub l2_bytes: f64,
    /// Bytes to or from HBM.
    pub hbm_bytes: f64,
    /// Sum over blocks of each block's serial path, clocks (dependent chains, barriers,
    /// load latencies no other warp of the block hides).
    pub block_clk: f64,
}

/// The predicted time of one kernel.
#[derive(Clone, Debug)]
pub struct Estimate {
    /// The work.
    pub work: Work,
    /// Seconds.
    pub seconds: f64,
    /// What limits it.
    pub limit: &'static str,
    /// Resident blocks per SM (from the occupancy).
    pub resident: u32,
}

impl Estimate {
    /// The rate at which a run of `measured_s` seconds used the resource that limits this
    /// kernel in the model (`2.1 TB/s of L2 bandwidth`), to set beside the GPU's assumed
    /// peak; None when latency limits it.
    #[must_use]
    pub fn rate_at(&self, measured_s: f64) -> Option<String> {
        let w = &self.work;
        let (amount, unit) = match self.limit {
            "arithmetic" => (2.0 * (w.fma64 + w.fma32), "TFLOP/s"),
            "shared memory" => (w.smem_bytes, "TB/s of shared memory"),
            "L1 sectors" => (w.l1_sectors * 32.0, "TB/s of L1 sectors"),
            "L2 bandwidth" => (w.l2_bytes, "TB/s of L2"),
            "HBM bandwidth" => (w.hbm_bytes, "TB/s of HBM"),
            _ => return None,
        };
        (measured_s > 0.0).then(|| format!("{:.2} {unit}", amount / measured_s / 1e12))
    }
}

/// The time of `w` on `gpu` with `resident` blocks per SM.
#[must_use]
pub fn estimate(w: &Work, gpu: &Gpu, resident: u32) -> Estimate {
    let clk = gpu.sm_clk_per_s();
    // Arithmetic shares the issue slots: its parts add up.
    let arithmetic = w.fma64 / (clk * gpu.fma64_per_clk)
        + w.fma32 / (clk * gpu.fma32_per_clk)
        + w.cvt64 / (clk * gpu.cvt64_per_clk);
    let throughput = [
        ("arithmetic", arithmetic),
        (
            "shared memory",
            w.smem_bytes / (clk * gpu.smem_bytes_per_clk),
        ),
        ("L1 sectors", w.l1_sectors / (clk * gpu.l1_sectors_per_clk)),
        ("L2 bandwidth", w.l2_bytes / gpu.l2_bytes_per_s),
        ("HBM bandwidth", w.hbm_bytes / gpu.hbm_bytes_per_s),
    ];
    let (mut limit, mut t) = throughput
        .iter()
        .map(|&(n, s)| (n, s / gpu.achieved))
        .fold(("nothing", 0.0), |a, b| if b.1 > a.1 { b } else { a });
    let latency = w.block_clk / (clk * f64::from(resident.max(1)));
    if latency > t {
        (limit, t) = ("latency", latency);
    }
    Estimate {
        work: w.clone(),
        seconds: t + w.launches * gpu.launch_s + w.syncs * gpu.sync_s,
        limit,
        resident,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::perf::gpu::H100_SXM;

    #[test]
    fn the_largest_resource_sets_the_time() {
        let g = H100_SXM;
        // 1e12 f64 multiply-adds: 1e12 / (132 * 1.98e9 * 64) / 0.75 = 79.7 ms.
        let w = Work {
            fma64: 1e12,
            hbm_bytes: 1e9,
            ..Default::default()
        };
        let e = estimate(&w, &g, 4);
        assert_eq!(e.limit, "arithmetic");
        assert!((e.seconds - 0.079_72).abs() < 1e-4, "{}", e.seconds);
        // 3.35e11 bytes of HBM: 0.1 s / 0.75, larger.
        let w = Work {
            hbm_bytes: 3.35e11,
            ..w
        };
        let e = estimate(&w, &g, 4);
        assert_eq!(e.limit, "HBM bandwidth");
        assert!((e.seconds - 0.1 / 0.75).abs() < 1e-9);
        // Measured at 0.2 s: 3.35e11 bytes / 0.2 s = 1.68 TB/s.
        assert_eq!(e.rate_at(0.2).as_deref(), Some("1.68 TB/s of HBM"));
        // Serial clocks over 2 resident blocks per SM, plus 10 launches.
        let w = Work {
            block_clk: 132.0 * 1.98e9 * 2.0,
            launches: 10.0,
            ..Default::default()
        };
        let e = estimate(&w, &g, 2);
        assert_eq!(e.limit, "latency");
        assert!((e.seconds - (1.0 + 10.0 * g.launch_s)).abs() < 1e-12);
    }
}
