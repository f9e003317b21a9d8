//! Occupancy from ptxas's report: how many blocks of a kernel one streaming multiprocessor
//! holds at once, and which resource limits it (the CUDA occupancy calculator's rules).

use super::nvrtc::KernelUsage;

/// One streaming multiprocessor's limits.
#[derive(Clone, Copy, Debug)]
pub struct SmLimits {
    /// The GPU's name, for reports.
    pub name: &'static str,
    /// 32-bit registers per SM.
    pub registers: u32,
    /// Registers are allocated per warp in multiples of this.
    pub register_granule: u32,
    /// Resident warps per SM.
    pub warps: u32,
    /// Resident blocks per SM.
    pub blocks: u32,
    /// Shared memory per SM, bytes.
    pub shared: u32,
    /// Shared memory the runtime reserves per block, bytes.
    pub shared_reserved: u32,
}

/// An H100 or H200 (sm_90): 64K registers, 64 warps, 32 blocks and 228 KB of shared memory
/// per SM, 1 KB of it reserved per block.
pub const SM90: SmLimits = SmLimits {
    name: "sm_90 (H100, H200)",
    registers: 65_536,
    register_granule: 256,
    warps: 64,
    blocks: 32,
    shared: 228 * 1024,
    shared_reserved: 1024,
};

/// How one kernel fills an SM at a block size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occupancy {
    /// Resident blocks per SM.
    pub blocks: u32,
    /// Resident warps over the SM's maximum, in percent.
    pub percent: u32,
    /// What limits it: `registers`, `shared memory`, `warps` or `blocks`.
    pub limit: &'static str,
}

/// The occupancy of a kernel using `u`'s registers and shared memory at `block` threads.
#[must_use]
pub fn occupancy(u: &KernelUsage, block: u32, sm: &SmLimits) -> Occupancy {
    let warps = block.div_ceil(32).max(1);
    let per_warp = (u.registers.max(1) * 32).div_ceil(sm.register_granule) * sm.register_granule;
    let by_registers = (sm.registers / per_warp) / warps;
    let by_shared = if u.shared_bytes == 0 {
        sm.blocks
    } else {
        sm.shared / (u.shared_bytes + sm.shared_reserved)
    };
    let by_warps = sm.warps / warps;
    let limits = [
        (by_registers, "registers"),
        (by_shared, "shared memory"),
        (by_warps, "warps"),
        (sm.blocks, "blocks"),
    ];
    let (blocks, limit) = limits
        .into_iter()
        .min_by_key(|(n, _)| *n)
        .unwrap_or((0, "registers"));
    Occupancy {
        blocks,
        percent: 100 * blocks * warps / sm.warps,
        limit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(registers: u32, shared_bytes: u32) -> KernelUsage {
        KernelUsage {
            registers,
            shared_bytes,
            ..KernelUsage::default()
        }
    }

    /// Worked by hand from the rules: 40 registers x 32 = 1280 per warp, 51 warps by
    /// registers, 25 blocks of 2 warps; 19,200 bytes of shared memory + 1 KB: 11 blocks.
    #[test]
    fn regression_kernel_is_limited_by_its_shared_gram_matrix() {
        let o = occupancy(&usage(40, 19_200), 64, &SM90);
        assert_eq!(
            o,
            Occupancy {
                blocks: 11,
                percent: 34,
                limit: "shared memory"
            }
        );
        // Without shared memory the registers decide: 25 blocks, 50 warps = 78%.
        let o = occupancy(&usage(40, 0), 64, &SM90);
        assert_eq!(
            o,
            Occupancy {
                blocks: 25,
                percent: 78,
                limit: "registers"
            }
        );
        // 256 threads at 24 registers: 768 per warp, 85 warps by registers (10 blocks of
        // 8 warps), 8 blocks by warps.
        let o = occupancy(&usage(24, 1024), 256, &SM90);
        assert_eq!(
            o,
            Occupancy {
                blocks: 8,
                percent: 100,
                limit: "warps"
            }
        );
        // 255 registers: 8160 per warp -> 8 warps -> 1 block of 8 warps.
        let o = occupancy(&usage(255, 0), 256, &SM90);
        assert_eq!(
            o,
            Occupancy {
                blocks: 1,
                percent: 12,
                limit: "registers"
            }
        );
    }
}
