//! The regression kernels' work: `salt_anchor_gram` and `salt_regress`, and the kernels
//! before them (`salt_regress_shared` for k <= 48, `salt_regress_global` above).

use super::gpu::Gpu;
use super::shape::Shape;
use super::work::Work;

/// Launches of a kernel that takes tokens by descending k in batches of at most
/// `per_launch` and `budget` bytes of scratch, `scratch(k)` bytes each.
#[must_use]
pub fn batches(
    s: &Shape,
    budget: usize,
    per_launch: usize,
    scratch: impl Fn(usize) -> usize,
) -> f64 {
    let mut launches = 0usize;
    let mut left = 0usize;
    for &(k, n) in s.ks.iter().rev() {
        let mut n = n;
        while n > 0 {
            if left == 0 {
                launches += 1;
                left = (budget / scratch(k).max(1)).clamp(1, per_launch);
            }
            let take = n.min(left);
            n -= take;
            left -= take;
        }
    }
    launches as f64
}

/// `salt_anchor_gram`: the lower 64 x 64 tiles of the n_u x n_u f64 Gram matrix, slices of
/// 16 staged as f64 (a warp reads 2 distinct 32-byte vectors of `a`, 16 of `b`).
#[must_use]
pub fn anchor_gram(s: &Shape, g: &Gpu) -> Work {
    let t = s.n_u.div_ceil(64) as f64;
    let tiles = t * (t + 1.0) / 2.0;
    let slices = s.h_t.div_ceil(16) as f64;
    let gram = (s.n_u * s.n_u * 8) as f64;
    let staged = tiles * slices * 2.0 * 64.0 * 16.0;
    Work {
        stage: "regression",
        kernel: "salt_anchor_gram",
        launches: 1.0,
        // Queued: salt_regress runs after it without a wait.
        syncs: 0.0,
        fma64: tiles * 4096.0 * slices * 16.0,
        cvt64: staged,
        smem_bytes: tiles * slices * 16.0 * 8.0 * (64.0 + 512.0) + staged * 8.0,
        l2_bytes: staged * 4.0 + gram,
        hbm_bytes: gram + (s.n_u * s.h_t * 4) as f64,
        block_clk: tiles * slices * (2.0 * g.barrier_clk + g.l2_latency_clk + 16.0 * 64.0),
        ..Default::default()
    }
}

/// w B (and w B_out) for `n` tokens of support size `k` at `threads` per block, both
/// designs: consecutive threads on consecutive columns, a chain of k multiply-adds per
/// column and table, the source rows from L2 as far as they fit it. Adds the work to `w`;
/// returns a block's serial clocks.
fn combine(w: &mut Work, s: &Shape, g: &Gpu, k: f64, n: f64, threads: f64) -> f64 {
    let tables = if s.untied { 2.0 } else { 1.0 };
    let h_s = s.h_s as f64;
    let b_bytes = (s.n_a * s.h_s * 4) as f64 * tables;
    let b_hit = (g.l2_bytes / b_bytes).min(1.0);
    w.fma64 += n * k * h_s * tables;
    w.cvt64 += n * k * h_s * tables;
    w.l2_bytes += n * (k * h_s * 4.0 * tables + h_s * 4.0 * tables + k * 4.0);
    w.hbm_bytes += n * (k * h_s * 4.0 * tables * (1.0 - b_hit) + h_s * 4.0 * tables);
    (h_s / threads).ceil() * k * g.fma64_latency_clk * tables
}

/// Columns of the Cholesky panel for a k.
fn panel(k: usize) -> usize {
    crate::device::kernels::panel_columns(k).max(1)
}

/// `salt_regress` per token, G gathered from the anchor Gram matrix (`gram`) or summed:
/// the gather (4 rows' loads in flight per thread), A e (8 groups of 32 lanes), the
/// left-looking blocked Cholesky with the forward solve (each panel staged in shared
/// memory, the columns left of it read once from L2 into 4 x 4 register tiles; thread 0's
/// diagonal block with reciprocals; a row per thread below it), the blocked backward solve,
/// and w B.
#[must_use]
pub fn regress(s: &Shape, g: &Gpu, gram: bool, launches: f64) -> Work {
    let lat = g.fma64_latency_clk;
    let gram_in_l2 = g.fits_l2((s.n_u * s.n_u * 8) as f64);
    let a_in_l2 = g.fits_l2((s.n_a * s.h_t * 4) as f64);
    let h_t = s.h_t as f64;
    let mut w = Work {
        stage: "regression",
        kernel: "salt_regress",
        launches,
        // Batches are queued; the host waits once, for the rows.
        syncs: 1.0,
        ..Default::default()
    };
    for &(k, n) in &s.ks {
        if k == 0 || k > s.h_t.min(crate::device::kernels::MAX_KERNEL_K) {
            continue;
        }
        let (kf, n) = (k as f64, n as f64);
        let entries = kf * (kf + 1.0) / 2.0;
        let mut clk = 0.0;
        // 1. G's lower triangle.
        if gram {
            let sector = if gram_in_l2 { 8.0 } else { 32.0 };
            w.l2_bytes += n * entries * (sector + 8.0);
            if !gram_in_l2 {
                w.hbm_bytes += n * entries * sector;
            }
            clk += (kf / 4.0).ceil() * g.hbm_latency_clk;
        } else {
            w.fma64 += n * entries * h_t;
            w.cvt64 += n * 2.0 * entries * h_t;
            w.l1_sectors += n * 2.0 * entries * h_t;
            w.l2_bytes += n * 2.0 * entries * h_t * 4.0;
            // Row by row: one dot product of h_t per thread and row.
            clk += kf * (kf / 256.0).ceil() * h_t * lat;
        }
        // A e.
        w.fma64 += n * kf * h_t;
        w.cvt64 += n * 2.0 * kf * h_t;
        w.l2_bytes += n * kf * h_t * 4.0;
        if !a_in_l2 {
            w.hbm_bytes += n * kf * h_t * 4.0;
        }
        clk += (kf / 8.0).ceil()
            * (g.l2_latency_clk + h_t / 32.0 * 2.0 + 2.0 * g.barrier_clk + 32.0 * lat);
        // 2. Cholesky (left-looking, with the forward solve), panel by panel.
        let nbm = panel(k);
        let cs = crate::device::kernels::stage_columns(k) as f64;
        let mut j0 = 0;
        while j0 < k {
            let nb = nbm.min(k - j0) as f64;
            let m = (k - j0) as f64;
            let left = j0 as f64;
            // (1) T staged; the columns left of it staged cs at a time, 4 x 4 tiles of T.
            let chunks = (left / cs).ceil();
            let tiles = (m / 4.0).ceil() * (nb / 4.0).ceil();
            w.fma64 += n * tiles * 16.0 * left;
            // per tile and column: a warp reads 8 distinct 32-byte vectors of a, 4 of b.
            w.smem_bytes += n * (tiles * left * 12.0 + (m * left + m * nb) * 8.0);
            w.l2_bytes += n * (m * nb + m * left) * 8.0;
            clk += chunks
                * (2.0 * g.barrier_clk
                    + g.l2_latency_clk
                    + (tiles / 256.0).ceil() * cs * 16.0 * 2.0);
            // (2) thread 0: column j of the block has a chain of j for its pivot, a square
            // root and a reciprocal, the block's rows below it (j + 1 each), and y's entry.
            let diag: f64 = (0..nb as usize)
                .map(|j| {
                    let j = j as f64;
                    j * lat + 2.0 * g.div64_latency_clk + (nb - j) * (j + 1.0) * lat
                })
                .sum();
            // (3) a row per thread: nb (nb + 1) / 2 dependent multiply-adds, and y.
            let below = m - nb;
            let rows = (below / 256.0).ceil() * (nb * (nb + 1.0) / 2.0 + nb) * lat;
            w.fma64 += n * (nb * nb * nb / 6.0 + below * (nb * nb / 2.0 + nb));
            w.l2_bytes += n * (m * nb * 8.0 + m * 16.0);
            clk += diag + rows + g.l2_latency_clk + 3.0 * g.barrier_clk;
            j0 += nbm;
        }
        // 3. L^T w = y by blocks of 16: thread 0's triangle, then the rows above it.
        let blocks = (kf / 16.0).ceil();
        w.fma64 += n * kf * kf / 2.0;
        w.l2_bytes += n * kf * kf / 2.0 * 8.0;
        clk += blocks
            * (136.0 * lat
                + (kf / 256.0).ceil() * 16.0 * lat
                + g.l2_latency_clk
                + 2.0 * g.barrier_clk);
        // 4. w B (and w B_out).
        clk += combine(&mut w, s, g, kf, n, 256.0);
        w.block_clk += n * clk;
    }
    w
}

/// The regression kernels before this design (one block of 64 threads per token): a thread
/// per entry of G and of A e, summing h_t products of two rows it reads alone (32 sectors
/// per warp load, two conversions per product); a Cholesky column by column with a double
/// square root to decode each entry's place, in shared memory for k <= 48 and through L2
/// above (every update a load of three entries and a store); both solves by thread 0 (a
/// chain of k^2 multiply-adds whose loads come from L2, 4 in flight); w B as today.
#[must_use]
pub fn regress_per_entry(s: &Shape, g: &Gpu, shared: bool, launches: f64) -> Work {
    let lat = g.fma64_latency_clk;
    let h_t = s.h_t as f64;
    let decode = 20.0;
    let mut w = Work {
        stage: "regression",
        kernel: if shared {
            "salt_regress_shared"
        } else {
            "salt_regress_global"
        },
        launches,
        syncs: launches,
        ..Default::default()
    };
    for &(k, n) in &s.ks {
        if k == 0 || k > s.h_t || (k <= 48) != shared {
            continue;
        }
        let (kf, n) = (k as f64, n as f64);
        let dots = kf * (kf + 1.0) / 2.0 + kf;
        w.fma64 += n * dots * (h_t + decode);
        w.cvt64 += n * 2.0 * dots * h_t;
        w.l1_sectors += n * 2.0 * dots * h_t;
        w.l2_bytes += n * 2.0 * dots * h_t * 4.0;
        let mut clk = (dots / 64.0).ceil() * (g.l2_latency_clk + h_t * lat);
        // Cholesky: sum over columns of the trailing triangle.
        let updates = kf * kf * kf / 6.0;
        w.fma64 += n * updates * (1.0 + decode);
        if shared {
            w.smem_bytes += n * updates * 32.0;
        } else {
            w.l2_bytes += n * updates * 32.0;
        }
        let access = if shared { 30.0 } else { g.l2_latency_clk };
        clk += updates / 64.0 * (access + decode * lat) + kf * 2.0 * g.barrier_clk;
        // Solves by thread 0.
        w.fma64 += n * kf * kf;
        let per = if shared {
            lat
        } else {
            (g.l2_latency_clk / 4.0).max(lat)
        };
        clk += kf * kf * per + 2.0 * kf * g.div64_latency_clk;
        // w B.
        clk += combine(&mut w, s, g, kf, n, 64.0);
        w.block_clk += n * clk;
    }
    w
}
