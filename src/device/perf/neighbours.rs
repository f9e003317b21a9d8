//! The neighbour kernels' work: `salt_cosine_tiled`, `salt_sparsemax_tau`,
//! `salt_sparsemax_support` (and, for the kernels before the tiled product, `salt_cosine`).

use super::gpu::Gpu;
use super::shape::Shape;
use super::work::Work;

use crate::device::kernels::sims_chunk_rows as chunk_rows;

/// `salt_cosine_tiled`: 64 x 64 tiles of f32 products, 16-wide slices staged in shared
/// memory, 4 x 4 outputs per thread read as 16-byte vectors (a warp's `a` values are two
/// distinct vectors, broadcast; its `b` values sixteen).
#[must_use]
pub fn cosine_tiled(s: &Shape, g: &Gpu) -> Work {
    let rows = chunk_rows(s.n_a);
    let chunks = s.n_q.div_ceil(rows) as f64;
    let tiles = chunks * rows.div_ceil(64) as f64 * s.n_a.div_ceil(64) as f64;
    let slices = s.dim.div_ceil(16) as f64;
    let sims = (s.n_q * s.n_a * 4) as f64;
    let staged = tiles * slices * 2.0 * 64.0 * 16.0 * 4.0;
    Work {
        stage: "neighbours",
        kernel: "salt_cosine_tiled",
        launches: chunks,
        // Queued: the threshold kernel runs after it without a wait.
        syncs: 0.0,
        fma32: tiles * 4096.0 * slices * 16.0,
        // per warp and slice column: 2 x 16 B (a) + 16 x 16 B (b); 8 warps; 16 columns.
        smem_bytes: tiles * slices * 16.0 * 8.0 * (32.0 + 256.0) + 2.0 * staged,
        l2_bytes: staged + sims,
        // The anchors (n_a x dim) stay in L2; the similarities go out to HBM.
        hbm_bytes: sims + (s.n_a * s.dim * 4) as f64,
        block_clk: tiles * slices * (2.0 * g.barrier_clk + g.l2_latency_clk + 16.0 * 16.0),
        ..Default::default()
    }
}

/// `salt_sparsemax_tau`, one row per block: `row_passes` reads of the row from HBM (a chunk
/// of similarities is larger than L2), `steps` block reductions (10 barriers each), the
/// steps after the passes over `cands` values in shared memory.
#[must_use]
pub fn sparsemax_tau(s: &Shape, g: &Gpu, row_passes: f64, steps: f64, cands: f64) -> Work {
    let rows = s.n_q as f64;
    let n_a = s.n_a as f64;
    let chunks = s.n_q.div_ceil(chunk_rows(s.n_a)) as f64;
    let shared_steps = (steps - row_passes).max(0.0);
    let read = rows * row_passes * n_a * 4.0;
    Work {
        stage: "neighbours",
        kernel: "salt_sparsemax_tau",
        launches: chunks,
        syncs: chunks,
        cvt64: rows * (row_passes * n_a + shared_steps * cands),
        smem_bytes: rows * shared_steps * cands * 4.0,
        l2_bytes: read,
        hbm_bytes: read,
        block_clk: rows
            * (steps * (10.0 * g.barrier_clk + 8.0 * g.fma64_latency_clk)
                + row_passes * (g.hbm_latency_clk + n_a / 256.0 * 4.0)),
        ..Default::default()
    }
}

/// `salt_sparsemax_support`: the row read coalesced into shared memory 8,192 values at a
/// time, each thread counting then writing its contiguous run from there (padded: no bank
/// conflicts), thread 0 scanning the counts; 4 barriers per tile.
#[must_use]
pub fn sparsemax_support(s: &Shape, g: &Gpu, nnz: f64) -> Work {
    let rows = s.n_q as f64;
    let n_a = s.n_a as f64;
    let tiles = (n_a / 8192.0).ceil();
    let chunks = s.n_q.div_ceil(chunk_rows(s.n_a)) as f64;
    Work {
        stage: "neighbours",
        kernel: "salt_sparsemax_support",
        launches: chunks,
        // The counts before it, its supports after it.
        syncs: 3.0 * chunks,
        cvt64: rows * 2.0 * n_a,
        smem_bytes: rows * 3.0 * n_a * 4.0,
        l2_bytes: rows * n_a * 4.0 + nnz * 8.0,
        hbm_bytes: rows * n_a * 4.0 + nnz * 8.0,
        block_clk: rows
            * tiles
            * (g.hbm_latency_clk + 4.0 * g.barrier_clk + 2.0 * 32.0 * 4.0 + 256.0 * 4.0),
        ..Default::default()
    }
}

/// `salt_sparsemax_support` before the tiled version: each thread read its contiguous
/// chunk of the row twice (count, then write) from global memory, every lane its own
/// sector, so 32 sectors per warp load.
#[must_use]
pub fn sparsemax_support_chunked(s: &Shape, g: &Gpu, nnz: f64) -> Work {
    let (rows, n_a) = (s.n_q as f64, s.n_a as f64);
    Work {
        smem_bytes: 0.0,
        l1_sectors: rows * 2.0 * n_a,
        block_clk: rows
            * (2.0 * (g.hbm_latency_clk + n_a / 256.0 * 4.0) + 2.0 * g.barrier_clk + 256.0 * 4.0),
        ..sparsemax_support(s, g, nnz)
    }
}

/// `salt_cosine` (the kernels before the tiled product): a thread per anchor and query
/// row, f64 sums (two conversions per product), the anchor's row read by its own thread
/// (32 sectors per warp load), the whole anchor table streamed from L2 for every query.
#[must_use]
pub fn cosine_per_row(s: &Shape, g: &Gpu) -> Work {
    let prods = (s.n_q * s.n_a * s.dim) as f64;
    let sims = (s.n_q * s.n_a * 4) as f64;
    let chunks = s.n_q.div_ceil(chunk_rows(s.n_a)) as f64;
    Work {
        stage: "neighbours",
        kernel: "salt_cosine",
        launches: chunks,
        syncs: chunks,
        fma64: prods,
        cvt64: 2.0 * prods,
        l1_sectors: prods,
        l2_bytes: prods * 4.0 + sims,
        hbm_bytes: sims,
        // A block per (256 anchors, row): a chain of dim dependent f64 adds.
        block_clk: (s.n_q * s.n_a.div_ceil(256)) as f64
            * (g.l2_latency_clk + s.dim as f64 * g.fma64_latency_clk),
        ..Default::default()
    }
}
