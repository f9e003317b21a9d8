//! The GPU the model predicts for, as published figures and stated assumptions.

use crate::device::occupancy::{SmLimits, SM90};

/// One GPU's rates, latencies and overheads.
#[derive(Clone, Copy, Debug)]
pub struct Gpu {
    /// For reports.
    pub name: &'static str,
    /// Streaming multiprocessors.
    pub sms: f64,
    /// Boost clock, Hz.
    pub clock_hz: f64,
    /// f64 fused multiply-adds per clock per SM (no tensor cores).
    pub fma64_per_clk: f64,
    /// f32 fused multiply-adds per clock per SM.
    pub fma32_per_clk: f64,
    /// Conversions to or from 64-bit types per clock per SM.
    pub cvt64_per_clk: f64,
    /// Shared memory bytes per clock per SM.
    pub smem_bytes_per_clk: f64,
    /// L1 sectors (32 bytes) a warp's loads touch, per clock per SM: an access where each
    /// lane reads its own sector takes 32 / 4 = 8 clocks.
    pub l1_sectors_per_clk: f64,
    /// HBM bytes per second.
    pub hbm_bytes_per_s: f64,
    /// L2 bytes per second (all SMs together).
    pub l2_bytes_per_s: f64,
    /// L2 capacity, bytes.
    pub l2_bytes: f64,
    /// A load that hits L2, clocks.
    pub l2_latency_clk: f64,
    /// A load that goes to HBM, clocks.
    pub hbm_latency_clk: f64,
    /// A dependent f64 add or multiply-add, clocks.
    pub fma64_latency_clk: f64,
    /// A square root or a division in f64, clocks.
    pub div64_latency_clk: f64,
    /// One `__syncthreads()` once every warp has arrived, clocks.
    pub barrier_clk: f64,
    /// One kernel launch, seconds.
    pub launch_s: f64,
    /// One host synchronisation (a launch waited for, or a small download), seconds.
    pub sync_s: f64,
    /// Host-device copies from pageable memory, bytes per second.
    pub pageable_bytes_per_s: f64,
    /// Share of its limiting resource's peak a kernel reaches.
    pub achieved: f64,
    /// Occupancy limits.
    pub sm: SmLimits,
}

/// An H100 SXM5: NVIDIA's data sheet for the rates (33.5 TFLOPS f64 without tensor cores,
/// 67 f32, 3.35 TB/s HBM3, 50 MB L2, PCIe Gen5) and the CUDA programming guide's throughput
/// table for conversions (16 per clock per SM on sm_90); the L2 bandwidth and the latencies
/// are the order of published microbenchmarks of Hopper and Ampere, not measured here; 75%
/// of the limiting resource is what tuned kernels usually reach.
pub const H100_SXM: Gpu = Gpu {
    name: "H100 SXM5 (132 SMs at 1.98 GHz, 3.35 TB/s HBM3, 50 MB L2)",
    sms: 132.0,
    clock_hz: 1.98e9,
    fma64_per_clk: 64.0,
    fma32_per_clk: 128.0,
    cvt64_per_clk: 16.0,
    smem_bytes_per_clk: 128.0,
    l1_sectors_per_clk: 4.0,
    hbm_bytes_per_s: 3.35e12,
    l2_bytes_per_s: 5.5e12,
    l2_bytes: 50.0e6,
    l2_latency_clk: 260.0,
    hbm_latency_clk: 650.0,
    fma64_latency_clk: 8.0,
    div64_latency_clk: 100.0,
    barrier_clk: 40.0,
    launch_s: 4e-6,
    sync_s: 10e-6,
    pageable_bytes_per_s: 20e9,
    achieved: 0.75,
    sm: SM90,
};

impl Gpu {
    /// SM clocks per second, all SMs together.
    #[must_use]
    pub fn sm_clk_per_s(&self) -> f64 {
        self.sms * self.clock_hz
    }

    /// Whether a table of `bytes` stays in L2 while a kernel reads it.
    #[must_use]
    pub fn fits_l2(&self, bytes: f64) -> bool {
        bytes <= self.l2_bytes
    }
}
