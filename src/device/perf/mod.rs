//! A performance model of the kernels on a GPU we do not have: for a problem's shape (the
//! stress case's support sizes) it counts each kernel's arithmetic, memory traffic and
//! serial path from the kernel's code, takes the occupancy from ptxas's registers and
//! shared memory, and predicts the time of each stage on an H100 ([`gpu::H100_SXM`], with
//! its assumptions). It is run in CI on the kernels of this build and on the design before
//! it, so that a change that would make the GPU path slower shows up without a GPU.
//! A model, not a measurement: `gpu_check` measures on a GPU machine.

pub mod gpu;
pub mod neighbours;
pub mod regression;
pub mod shape;
pub mod work;

use super::kernels::{SCRATCH_BUDGET, TOKENS_PER_LAUNCH};
use super::nvrtc::KernelUsage;
use super::occupancy::occupancy;
use gpu::Gpu;
use shape::Shape;
use work::{estimate, Estimate, Work};

/// `SALT_CAND` of `kernels/sparsemax.cu`: the candidates the threshold keeps in shared memory.
pub const SPARSEMAX_CAND: usize = 8192;

/// Which kernels to model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Design {
    /// The kernels in `kernels/` (tiled products, the anchor Gram matrix, the blocked
    /// per-token regression, the threshold's candidates in shared memory).
    Current,
    /// The kernels before them (a thread per similarity, per entry of G and per trailing
    /// update; solves by one thread; every threshold step over the whole row).
    PerEntry,
}

/// ptxas's report of the kernels before the current design, at their launch sizes (sm_90,
/// NVRTC 12.9): (entry point, registers, shared bytes, threads per block).
pub const PER_ENTRY_USAGE: [(&str, u32, u32, u32); 5] = [
    ("salt_cosine", 34, 2048, 256),
    ("salt_sparsemax_tau", 28, 3072, 256),
    ("salt_sparsemax_support", 32, 1024, 256),
    ("salt_regress_shared", 40, 19_200, 64),
    ("salt_regress_global", 48, 0, 64),
];

/// The model's answer for one design.
#[derive(Clone, Debug)]
pub struct Prediction {
    /// Each kernel.
    pub kernels: Vec<Estimate>,
    /// Their sum, seconds.
    pub kernels_s: f64,
    /// Host-device copies of the tables and results (pageable memory), seconds: not in
    /// `kernels_s`, and gone for a table that stays on the device between calls.
    pub transfers_s: f64,
}

/// The works of `design` on `shape`.
#[must_use]
pub fn works(design: Design, shape: &Shape, g: &Gpu) -> Vec<Work> {
    let nnz = shape.sum_k(|k| k);
    let m = shape.michelot;
    match design {
        Design::Current => {
            let gram = super::kernels::GramChoice::Auto
                .use_anchor_gram(shape.n_u, shape.sum_k(|k| k * k) as usize);
            let launches = regression::batches(shape, SCRATCH_BUDGET, TOKENS_PER_LAUNCH, |k| {
                super::kernels::scratch_doubles(k) * 8
            });
            let mut w = vec![
                neighbours::cosine_tiled(shape, g),
                neighbours::sparsemax_tau(shape, g, m.row_passes, m.steps, m.candidates),
                neighbours::sparsemax_support(shape, g, nnz),
            ];
            if gram {
                w.push(regression::anchor_gram(shape, g));
            }
            w.push(regression::regress(shape, g, gram, launches));
            w
        }
        Design::PerEntry => {
            let small = Shape {
                ks: shape.ks.iter().copied().filter(|&(k, _)| k <= 48).collect(),
                ..shape.clone()
            };
            let large = Shape {
                ks: shape.ks.iter().copied().filter(|&(k, _)| k > 48).collect(),
                ..shape.clone()
            };
            let shared_launches = small.sum_k(|_| 1.0).div_euclid(4096.0) + 1.0;
            let global_launches =
                regression::batches(&large, 256 << 20, 4096, |k| (k * k + 2 * k) * 8);
            vec![
                neighbours::cosine_per_row(shape, g),
                neighbours::sparsemax_tau(shape, g, m.plain_steps, m.plain_steps, 0.0),
                neighbours::sparsemax_support_chunked(shape, g, nnz),
                regression::regress_per_entry(shape, g, true, shared_launches),
                regression::regress_per_entry(shape, g, false, global_launches),
            ]
        }
    }
}

/// The host-device copies of a transfer: the auxiliary vectors, PLM and source rows and
/// supports up; supports, rows and weights down.
#[must_use]
pub fn transfer_bytes(s: &Shape) -> f64 {
    let nnz = s.sum_k(|k| k);
    let tables = if s.untied { 2.0 } else { 1.0 };
    let up = ((s.n_q + s.n_a) * s.dim * 4 + (s.n_q + s.n_a) * s.h_t * 4) as f64
        + (s.n_a * s.h_s * 4) as f64 * tables
        + nnz * 4.0
        + s.n_q as f64 * 8.0;
    let down = nnz * 8.0 + (s.n_q * s.h_s * 4) as f64 * tables + nnz * 4.0;
    up + down
}

/// Predicts `design` on `shape`, with the kernels' `usage` (ptxas) for their occupancy at
/// `block(entry)` threads.
#[must_use]
pub fn predict(
    design: Design,
    shape: &Shape,
    g: &Gpu,
    usage: &[KernelUsage],
    block: impl Fn(&str) -> u32,
) -> Prediction {
    let kernels: Vec<Estimate> = works(design, shape, g)
        .iter()
        .map(|w| {
            let resident = usage
                .iter()
                .find(|u| u.name == w.kernel)
                .map_or(1, |u| occupancy(u, block(w.kernel), &g.sm).blocks);
            estimate(w, g, resident)
        })
        .collect();
    let kernels_s = kernels.iter().map(|e| e.seconds).sum();
    Prediction {
        kernels,
        kernels_s,
        transfers_s: transfer_bytes(shape) / g.pageable_bytes_per_s,
    }
}

/// [`PER_ENTRY_USAGE`] as ptxas reports.
#[must_use]
pub fn per_entry_usage() -> Vec<KernelUsage> {
    PER_ENTRY_USAGE
        .iter()
        .map(|&(name, registers, shared_bytes, _)| KernelUsage {
            name: name.to_string(),
            registers,
            spill_stores: 0,
            spill_loads: 0,
            shared_bytes,
        })
        .collect()
}

/// The launch size of a kernel of [`PER_ENTRY_USAGE`].
#[must_use]
pub fn per_entry_block(entry: &str) -> u32 {
    PER_ENTRY_USAGE
        .iter()
        .find(|u| u.0 == entry)
        .map_or(256, |u| u.3)
}

/// A table of `p`, a line per kernel, then the totals.
#[must_use]
pub fn table(p: &Prediction) -> String {
    let mut out = String::new();
    for e in &p.kernels {
        out.push_str(&format!(
            "  {:<11} {:<24} {:>9.2} ms  limited by {} ({} blocks per SM)\n",
            e.work.stage,
            e.work.kernel,
            e.seconds * 1e3,
            e.limit,
            e.resident
        ));
    }
    out.push_str(&format!(
        "  kernels, launches and synchronisations: {:.1} ms; host-device copies (pageable): {:.1} ms\n",
        p.kernels_s * 1e3,
        p.transfers_s * 1e3
    ));
    out
}
