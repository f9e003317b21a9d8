//! The host code of the kernels in `kernels/`, written once against [`Launcher`]: the GPU
//! (cudarc) and the CPU shim run exactly this code.
//!
//! - Neighbours: rows normalised as the CPU path normalises them, then per chunk of
//!   queries `salt_cosine_tiled` (similarities, a tiled f32 product), `salt_sparsemax_tau` (Michelot's
//!   iteration: the exact threshold and support size), `salt_sparsemax_support` (indices
//!   ascending, weights). `--max-k` truncates on the host, as the CPU path does, from the
//!   row's similarities.
//! - Regression: when the tokens' Gram matrices together hold more entries than the Gram
//!   matrix of the anchors they use ([`GramChoice`]), `salt_anchor_gram` makes that one
//!   (f64, tiled) and each token's G is a gather from it. `salt_regress` then runs one
//!   block per token, in batches by descending k (a global scratch of k_max^2 doubles per
//!   token): G, A e, a blocked Cholesky, blocked solves, w B. `k > h_t` (a singular G),
//!   `k >` [`MAX_KERNEL_K`], and tokens the kernel marks as too close to singular for
//!   `G^-1 = G^+` go to the CPU path ([`crate::regression::regress_ticked`]), counted in the
//!   result's paths. The regression's `affine` switch (salt-centred) is a kernel argument:
//!   the same kernel centres G and A e in f64 before the Cholesky.

use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::launch::{bytes_of, DeviceBuf, Launcher};
use super::resident::{AnchorGram, Fingerprint, Kept, Resident, Role};
use super::{Compute, Tick};
use crate::error::{DeviceError, Error, RegressionError};
use crate::neighbours::{normalize_rows, truncate_support, Neighbours};
use crate::regression::{regress_ticked, Regressed, RegressionInput};

/// `SALT_PANEL` of `kernels/regress.cu`: doubles of the Cholesky's shared memory.
pub const PANEL: usize = 5632;
/// `SALT_NB` of `kernels/regress.cu`: the most columns per panel.
pub const PANEL_COLUMNS: usize = 16;
/// `SALT_CS` of `kernels/regress.cu`: the most columns staged at a time.
pub const STAGE_COLUMNS: usize = 8;
/// The largest k whose panel and staged columns (one each, k rows padded to a multiple of
/// 4) fit `PANEL`.
pub const MAX_KERNEL_K: usize = PANEL / 2 - 3;

/// Columns staged at a time by the Cholesky for a support of k (`salt_stage_columns`).
#[must_use]
pub fn stage_columns(k: usize) -> usize {
    (PANEL / (k + 3) / 3).clamp(1, STAGE_COLUMNS)
}

/// Columns per Cholesky panel for a support of k (`salt_panel_columns`).
#[must_use]
pub fn panel_columns(k: usize) -> usize {
    (PANEL / (k + 3))
        .saturating_sub(stage_columns(k))
        .min(PANEL_COLUMNS)
}

/// Doubles of `salt_regress`'s scratch per token of support size k: G, A e, the row means,
/// the reciprocals of L's diagonal.
#[must_use]
pub fn scratch_doubles(k: usize) -> usize {
    k * k + 3 * k
}
/// Bytes of similarities per chunk of queries.
const SIMS_BUDGET: usize = 256 << 20;

/// Query rows per chunk of similarities against `n_a` anchors.
#[must_use]
pub fn sims_chunk_rows(n_a: usize) -> usize {
    (SIMS_BUDGET / (n_a.max(1) * 4)).clamp(1, 4096)
}
/// A Cholesky pivot at or below this share of G's largest diagonal entry sends the token
/// to the CPU path (whose exact solver handles rank-deficient G).
pub const PIVOT_TOL: f64 = 1e-8;
/// Bytes of global scratch per batch of `salt_regress`.
pub const SCRATCH_BUDGET: usize = 512 << 20;
/// Largest anchor Gram matrix `GramChoice::Auto` makes (21,889 anchors: 3.8 GB).
pub const GRAM_BUDGET: usize = 8 << 30;
/// Tokens per regression launch (and between ticks).
pub const TOKENS_PER_LAUNCH: usize = 4096;
/// Threads per block of the neighbour kernels (cosine, sparsemax) on a GPU.
pub const NEIGHBOUR_BLOCK: u32 = 256;
/// Threads per block of the regression kernel on a GPU.
pub const REGRESS_BLOCK: u32 = 256;
/// Threads per block of the tiled products (`product.cu`): one 4 x 4 sub-tile each.
pub const PRODUCT_BLOCK: u32 = 256;

/// The block size an entry point is launched with on a GPU.
#[must_use]
pub fn launch_block(entry: &str) -> u32 {
    match entry {
        "salt_regress" => REGRESS_BLOCK,
        "salt_cosine_tiled" | "salt_anchor_gram" => PRODUCT_BLOCK,
        _ => NEIGHBOUR_BLOCK,
    }
}

/// Where the regression kernel takes each token's Gram matrix from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GramChoice {
    /// The anchors' Gram matrix when it has fewer entries than the tokens' Gram matrices
    /// together (each entry is then used more than once) and fits [`GRAM_BUDGET`].
    #[default]
    Auto,
    /// Always the anchors' Gram matrix (tests).
    Anchor,
    /// Always k^2 / 2 dot products per token.
    PerToken,
}

impl GramChoice {
    /// Whether to make the Gram matrix of `n_u` anchors for tokens whose k^2 sum to `sum_k2`.
    #[must_use]
    pub fn use_anchor_gram(self, n_u: usize, sum_k2: usize) -> bool {
        match self {
            Self::Anchor => n_u > 0,
            Self::PerToken => false,
            Self::Auto => {
                n_u > 0
                    && n_u.saturating_mul(n_u) <= sum_k2
                    && n_u.saturating_mul(n_u).saturating_mul(8) <= GRAM_BUDGET
            }
        }
    }
}

/// The kernel sources, as NVRTC compiles them (`salt_kernels.h` pasted in place of its
/// `#include`): (file, source).
#[must_use]
pub fn sources() -> Vec<(&'static str, String)> {
    let header = include_str!("../../kernels/salt_kernels.h");
    [
        ("product.cu", include_str!("../../kernels/product.cu")),
        ("sparsemax.cu", include_str!("../../kernels/sparsemax.cu")),
        ("regress.cu", include_str!("../../kernels/regress.cu")),
        ("probe.cu", include_str!("../../kernels/probe.cu")),
    ]
    .into_iter()
    .map(|(f, s)| (f, s.replace("#include \"salt_kernels.h\"", header)))
    .collect()
}

/// The kernels' entry points, per source file.
pub const ENTRY_POINTS: [(&str, &[&str]); 4] = [
    ("product.cu", &["salt_cosine_tiled", "salt_anchor_gram"]),
    (
        "sparsemax.cu",
        &["salt_sparsemax_tau", "salt_sparsemax_support"],
    ),
    ("regress.cu", &["salt_regress"]),
    ("probe.cu", &["salt_probe_gather"]),
];

/// The f64 Gram matrix (`n x n` doubles) of the rows `rows` (`n` row ids, on the device)
/// of `table` (rows of `dim` floats), made by `salt_anchor_gram`.
///
/// # Errors
/// A device error, or sizes that do not fit the kernel's ints.
///
/// # Safety
/// Every id in `rows` must be a row of `table`.
pub(crate) unsafe fn gram_of_rows<L: Launcher>(
    l: &L,
    table: &L::Buf,
    rows: &L::Buf,
    n: usize,
    dim: usize,
) -> Result<L::Buf, DeviceError> {
    let gram = l.zeroed(n * n * 8)?;
    let tiles = u32::try_from(n.div_ceil(64)).unwrap_or(u32::MAX);
    // SAFETY: salt_anchor_gram(const float*, const unsigned*, int, int, double*); gram
    // holds n x n doubles, and the caller vouches for the row ids.
    unsafe {
        run(
            l,
            "salt_anchor_gram",
            [tiles, tiles, 1],
            PRODUCT_BLOCK.min(l.max_block()).max(1),
            &mut [
                Arg::Ptr(table.addr()),
                Arg::Ptr(rows.addr()),
                Arg::I32(i32_of(n, "salt_anchor_gram")?),
                Arg::I32(i32_of(dim, "salt_anchor_gram")?),
                Arg::Ptr(gram.addr()),
            ],
        )?;
    }
    Ok(gram)
}

/// A [`Compute`] that runs the kernels through a [`Launcher`]. The tables of the last
/// call stay on the device ([`Resident`]): a later call with the same anchors, queries or
/// supports uses them without an upload, and the same anchor Gram matrix without a remake.
pub struct KernelDevice<L: Launcher> {
    launcher: L,
    gram: GramChoice,
    resident: Resident<L::Buf>,
    uploaded: AtomicU64,
    grams: AtomicU64,
}

impl<L: Launcher> KernelDevice<L> {
    /// Wraps a launcher.
    pub fn new(launcher: L) -> Self {
        Self {
            launcher,
            gram: GramChoice::Auto,
            resident: Resident::default(),
            uploaded: AtomicU64::new(0),
            grams: AtomicU64::new(0),
        }
    }

    /// Bytes uploaded and anchor Gram matrices made so far.
    #[must_use]
    pub fn traffic(&self) -> (u64, u64) {
        (
            self.uploaded.load(Ordering::Relaxed),
            self.grams.load(Ordering::Relaxed),
        )
    }

    /// Its launcher (for a GPU's per-kernel timings).
    pub fn launcher(&self) -> &L {
        &self.launcher
    }

    /// The same device, taking G from where `gram` says.
    #[must_use]
    pub fn with_gram(self, gram: GramChoice) -> Self {
        Self { gram, ..self }
    }

    fn block(&self, want: u32) -> u32 {
        want.min(self.launcher.max_block()).max(1)
    }

    fn upload<T: bytemuck::Pod>(&self, v: &[T]) -> Result<L::Buf, DeviceError> {
        self.upload_bytes(bytes_of(v))
    }

    fn upload_bytes(&self, bytes: &[u8]) -> Result<L::Buf, DeviceError> {
        self.uploaded
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.launcher.upload(bytes)
    }

    /// `v` on the device: the buffer kept for `role` when it holds the same bytes.
    fn resident<T: bytemuck::Pod>(&self, role: Role, v: &[T]) -> Result<Kept<L::Buf>, DeviceError> {
        self.resident
            .get_or_upload(role, bytes_of(v), |b| self.upload_bytes(b))
    }

    fn download<T: bytemuck::Pod + Default + Clone>(
        &self,
        buf: &L::Buf,
        n: usize,
    ) -> Result<Vec<T>, DeviceError> {
        let mut out = vec![T::default(); n];
        self.launcher
            .download(buf, 0, bytemuck::cast_slice_mut(&mut out))?;
        Ok(out)
    }
}

/// A kernel argument: the value, kept alive while its pointer is in the params array.
pub(crate) enum Arg {
    Ptr(u64),
    I32(i32),
    I64(i64),
    U64(u64),
    F64(f64),
}

/// Launches `kernel` with `args` (in order).
///
/// # Safety
/// As [`Launcher::launch`]: `args` must match the kernel's signature, and the buffers the
/// addresses come from must be live and large enough.
pub(crate) unsafe fn run<L: Launcher>(
    l: &L,
    kernel: &'static str,
    grid: [u32; 3],
    block: u32,
    args: &mut [Arg],
) -> Result<(), DeviceError> {
    let mut params: Vec<*mut c_void> = args
        .iter_mut()
        .map(|a| match a {
            Arg::Ptr(p) | Arg::U64(p) => std::ptr::from_mut(p).cast::<c_void>(),
            Arg::I32(v) => std::ptr::from_mut(v).cast::<c_void>(),
            Arg::I64(v) => std::ptr::from_mut(v).cast::<c_void>(),
            Arg::F64(v) => std::ptr::from_mut(v).cast::<c_void>(),
        })
        .collect();
    // SAFETY: forwarded from the caller.
    unsafe { l.launch(kernel, grid, [block, 1, 1], &mut params) }
}

fn i32_of(n: usize, what: &'static str) -> Result<i32, DeviceError> {
    i32::try_from(n).map_err(|_| DeviceError::Launch {
        kernel: what,
        reason: format!("{n} does not fit the kernel's int"),
    })
}

impl<L: Launcher> KernelDevice<L> {
    /// Supports of one chunk of normalised query rows `q` against the anchors in `a_buf`.
    fn chunk_supports(
        &self,
        q: &[f32],
        (a_buf, sims): (&L::Buf, &L::Buf),
        dim: usize,
        n_a: usize,
        max_k: Option<usize>,
        out: &mut Neighbours,
    ) -> Result<(), DeviceError> {
        let l = &self.launcher;
        let rows = q.len() / dim;
        let q_buf = self.upload(q)?;
        let n_a_i = i32_of(n_a, "salt_cosine_tiled")?;
        let tiles = |n: usize| u32::try_from(n.div_ceil(64)).unwrap_or(u32::MAX);
        let rows_u = u32::try_from(rows).unwrap_or(u32::MAX);
        // SAFETY: salt_cosine_tiled(const float*, int, const float*, int, int, float*);
        // sims holds rows x n_a floats, q_buf rows x dim, a_buf n_a x dim.
        unsafe {
            run(
                l,
                "salt_cosine_tiled",
                [tiles(n_a), tiles(rows), 1],
                self.block(PRODUCT_BLOCK),
                &mut [
                    Arg::Ptr(q_buf.addr()),
                    Arg::I32(i32_of(rows, "salt_cosine_tiled")?),
                    Arg::Ptr(a_buf.addr()),
                    Arg::I32(n_a_i),
                    Arg::I32(i32_of(dim, "salt_cosine_tiled")?),
                    Arg::Ptr(sims.addr()),
                ],
            )?;
        }
        let b = self.block(NEIGHBOUR_BLOCK);
        let tau = l.zeroed(rows * 8)?;
        let count = l.zeroed(rows * 4)?;
        // SAFETY: salt_sparsemax_tau(const float*, int, double*, int*), one block per row.
        unsafe {
            run(
                l,
                "salt_sparsemax_tau",
                [rows_u, 1, 1],
                b,
                &mut [
                    Arg::Ptr(sims.addr()),
                    Arg::I32(n_a_i),
                    Arg::Ptr(tau.addr()),
                    Arg::Ptr(count.addr()),
                ],
            )?;
        }
        let counts: Vec<i32> = self.download(&count, rows)?;
        let mut offsets: Vec<i64> = Vec::with_capacity(rows + 1);
        offsets.push(0);
        for &c in &counts {
            offsets.push(offsets[offsets.len() - 1] + i64::from(c.max(0)));
        }
        let total = usize::try_from(offsets[rows]).unwrap_or(0);
        let off_buf = self.upload(&offsets)?;
        let idx_buf = l.zeroed(total * 4)?;
        let w_buf = l.zeroed(total * 4)?;
        // SAFETY: salt_sparsemax_support(const float*, int, const double*, const long long*,
        // unsigned*, float*); idx_buf and w_buf hold the sum of the counts.
        unsafe {
            run(
                l,
                "salt_sparsemax_support",
                [rows_u, 1, 1],
                b,
                &mut [
                    Arg::Ptr(sims.addr()),
                    Arg::I32(n_a_i),
                    Arg::Ptr(tau.addr()),
                    Arg::Ptr(off_buf.addr()),
                    Arg::Ptr(idx_buf.addr()),
                    Arg::Ptr(w_buf.addr()),
                ],
            )?;
        }
        let idx: Vec<u32> = self.download(&idx_buf, total)?;
        let w: Vec<f32> = self.download(&w_buf, total)?;
        let mut row_sims = vec![0f32; n_a];
        for r in 0..rows {
            let (s, e) = (offsets[r] as usize, offsets[r + 1] as usize);
            let mut support: Vec<(u32, f32)> = idx[s..e]
                .iter()
                .copied()
                .zip(w[s..e].iter().copied())
                .collect();
            if let Some(k) = max_k.filter(|&k| support.len() > k) {
                l.download(sims, r * n_a * 4, bytemuck::cast_slice_mut(&mut row_sims))?;
                truncate_support(&mut support, &row_sims, k);
            }
            let last = out.offsets.last().copied().unwrap_or(0);
            out.offsets.push(last + support.len());
            for (i, wt) in support {
                out.anchor.push(i);
                out.weight.push(wt);
            }
        }
        Ok(())
    }
}

impl<L: Launcher> KernelDevice<L> {
    /// The Gram matrix of the anchors the kernel's `tokens` use, when [`GramChoice`] says
    /// to make one.
    fn anchor_gram(
        &self,
        inp: &RegressionInput<'_>,
        nb: &Neighbours,
        tokens: &[i32],
        at: &L::Buf,
        at_key: Fingerprint,
    ) -> Result<Option<Arc<AnchorGram<L::Buf>>>, DeviceError> {
        let n_a = inp.anchors_t.len() / inp.h_t.max(1);
        let mut row = vec![-1i32; n_a];
        let mut sum_k2 = 0usize;
        for &q in tokens {
            let (idx, _) = nb.row(q as usize);
            sum_k2 = sum_k2.saturating_add(idx.len() * idx.len());
            for &a in idx {
                row[a as usize] = 0;
            }
        }
        // Rows in anchor order, so that a sorted support gathers left to right.
        let mut used: Vec<u32> = Vec::new();
        for (a, r) in row.iter_mut().enumerate() {
            if *r == 0 {
                *r = i32_of(used.len(), "salt_anchor_gram")?;
                used.push(u32::try_from(a).unwrap_or(u32::MAX));
            }
        }
        let n_u = used.len();
        if !self.gram.use_anchor_gram(n_u, sum_k2) {
            return Ok(None);
        }
        self.resident
            .gram_or_make(at_key, inp.h_t, bytes_of(&used), || {
                self.make_anchor_gram(inp.h_t, at, &used, &row)
            })
            .map(Some)
    }

    /// The f64 Gram matrix of the anchor rows `used` of `at`, and `row` on the device.
    fn make_anchor_gram(
        &self,
        h_t: usize,
        at: &L::Buf,
        used: &[u32],
        row: &[i32],
    ) -> Result<AnchorGram<L::Buf>, DeviceError> {
        let n_u = used.len();
        self.grams.fetch_add(1, Ordering::Relaxed);
        let used_buf = self.upload(used)?;
        // SAFETY: every used id is a row of at (n_a x h_t), as the caller's supports are.
        let gram = unsafe { gram_of_rows(&self.launcher, at, &used_buf, n_u, h_t) }?;
        Ok(AnchorGram {
            gram,
            row: self.upload(row)?,
            n_u: n_u as i64,
        })
    }
}

impl<L: Launcher> Compute for KernelDevice<L> {
    fn name(&self) -> String {
        self.launcher.name()
    }

    fn release(&self) {
        self.resident.clear();
    }

    fn neighbours(
        &self,
        queries: &[f32],
        anchors: &[f32],
        dim: usize,
        max_k: Option<usize>,
        tick: &mut Tick<'_>,
    ) -> Result<Option<Neighbours>, Error> {
        let q = normalize_rows(queries, dim);
        let a = normalize_rows(anchors, dim);
        let n_q = q.len() / dim.max(1);
        let n_a = a.len() / dim.max(1);
        let mut out = Neighbours {
            offsets: vec![0],
            ..Default::default()
        };
        if n_q == 0 || n_a == 0 {
            out.offsets = vec![0; n_q + 1];
            return Ok(Some(out));
        }
        let a_buf = self.resident(Role::NeighbourAnchors, &a)?.buf;
        let rows = sims_chunk_rows(n_a);
        // One buffer for every chunk's similarities, which salt_cosine_tiled writes in full.
        let sims = self.launcher.unwritten(rows.min(n_q) * n_a * 4)?;
        let mut done = 0;
        for part in q.chunks(rows * dim) {
            self.chunk_supports(part, (&a_buf, &sims), dim, n_a, max_k, &mut out)?;
            done += part.len() / dim;
            if !tick(done, n_q) {
                return Ok(None);
            }
        }
        Ok(Some(out))
    }

    fn regress(
        &self,
        inp: &RegressionInput<'_>,
        nb: &Neighbours,
        tick: &mut Tick<'_>,
    ) -> Result<Option<Regressed>, Error> {
        let l = &self.launcher;
        let (n_q, h_t, h_s) = (nb.len(), inp.h_t, inp.h_s);
        let k_of = |q: usize| nb.offsets[q + 1] - nb.offsets[q];
        let mut tokens: Vec<i32> = Vec::new();
        for q in 0..n_q {
            // Left to the CPU path: no anchors, a singular G, or more than the panel holds.
            let k = k_of(q);
            if k > 0 && k <= h_t.min(MAX_KERNEL_K) {
                tokens.push(i32_of(q, "salt_regress")?);
            }
        }
        let at = self.resident(Role::AnchorsT, inp.anchors_t)?;
        let e = self.resident(Role::Queries, inp.e)?.buf;
        let bs = self.resident(Role::AnchorsS, inp.anchors_s)?.buf;
        let bo = inp
            .anchors_out
            .map(|b| self.resident(Role::AnchorsOut, b).map(|k| k.buf))
            .transpose()?;
        let offsets: Vec<i64> = nb.offsets.iter().map(|&o| o as i64).collect();
        let off = self.resident(Role::Offsets, &offsets)?.buf;
        let anchor = self.resident(Role::SupportIds, &nb.anchor)?.buf;
        let out_e = l.zeroed(n_q * h_s * 4)?;
        let out_o = match bo {
            Some(_) => Some(l.zeroed(n_q * h_s * 4)?),
            None => None,
        };
        let out_w = l.zeroed(nb.anchor.len() * 4)?;
        // 2: not run (a token the kernels never reached is never taken as solved).
        let status = self.upload(&vec![2i32; n_q])?;
        let (h_t_i, h_s_i) = (i32_of(h_t, "regress")?, i32_of(h_s, "regress")?);
        let gram = self.anchor_gram(inp, nb, &tokens, &at.buf, at.key)?;
        let at = at.buf;
        let (gram_addr, row_addr, n_u) = gram
            .as_ref()
            .map_or((0, 0, 0), |g| (g.gram.addr(), g.row.addr(), g.n_u));
        // By descending k, so that each batch's scratch fits its largest.
        tokens.sort_by_key(|&q| std::cmp::Reverse(k_of(q as usize)));
        // Batches of at most TOKENS_PER_LAUNCH tokens and SCRATCH_BUDGET bytes of scratch
        // (at least one token), sharing one scratch buffer.
        let mut batches: Vec<(&[i32], usize)> = Vec::new();
        let mut rest = tokens.as_slice();
        while !rest.is_empty() {
            let k_max = k_of(rest[0] as usize);
            let n = (SCRATCH_BUDGET / (scratch_doubles(k_max) * 8))
                .clamp(1, TOKENS_PER_LAUNCH)
                .min(rest.len());
            let (part, tail) = rest.split_at(n);
            batches.push((part, k_max));
            rest = tail;
        }
        let scratch_bytes = batches
            .iter()
            .map(|(part, k_max)| part.len() * scratch_doubles(*k_max) * 8)
            .max()
            .unwrap_or(0);
        let scratch = l.zeroed(scratch_bytes)?;
        // Every batch's tokens in one upload: a small copy from pageable memory waits for
        // the kernels queued before it, so one per batch would serialise the batches.
        let all_tokens = self.upload(&tokens)?;
        let mut done = 0;
        for (part, k_max) in batches {
            let n = part.len();
            let batch = all_tokens.addr() + (done * std::mem::size_of::<i32>()) as u64;
            let grid = [u32::try_from(n).unwrap_or(u32::MAX), 1, 1];
            // SAFETY: salt_regress's 20 arguments, in order; scratch holds
            // scratch_doubles(k_max) doubles per block and every token of the batch has
            // k <= k_max <= MAX_KERNEL_K; the gram (when given) covers every anchor of
            // these supports.
            unsafe {
                run(
                    l,
                    "salt_regress",
                    grid,
                    self.block(REGRESS_BLOCK),
                    &mut [
                        Arg::Ptr(at.addr()),
                        Arg::Ptr(e.addr()),
                        Arg::I32(h_t_i),
                        Arg::Ptr(bs.addr()),
                        Arg::Ptr(bo.as_deref().map_or(0, DeviceBuf::addr)),
                        Arg::I32(h_s_i),
                        Arg::Ptr(off.addr()),
                        Arg::Ptr(anchor.addr()),
                        Arg::Ptr(batch),
                        Arg::F64(PIVOT_TOL),
                        Arg::I32(i32::from(inp.affine)),
                        Arg::Ptr(out_e.addr()),
                        Arg::Ptr(out_o.as_ref().map_or(0, DeviceBuf::addr)),
                        Arg::Ptr(out_w.addr()),
                        Arg::Ptr(status.addr()),
                        Arg::Ptr(gram_addr),
                        Arg::Ptr(row_addr),
                        Arg::I64(n_u),
                        Arg::Ptr(scratch.addr()),
                        Arg::I32(i32_of(k_max, "salt_regress")?),
                    ],
                )?;
            }
            done += n;
            if !tick(done, n_q) {
                return Ok(None);
            }
        }
        let st: Vec<i32> = self.download(&status, n_q)?;
        let mut embd: Vec<f32> = self.download(&out_e, n_q * h_s)?;
        let mut output: Option<Vec<f32>> = match &out_o {
            Some(o) => Some(self.download(o, n_q * h_s)?),
            None => None,
        };
        let mut w: Vec<f32> = self.download(&out_w, nb.anchor.len())?;
        let solved = st.iter().filter(|&&s| s == 0).count();
        // Tokens of the CPU bucket were never run (status 2), those the kernel gave back
        // have status 1.
        let cpu: Vec<usize> = (0..n_q).filter(|&q| st[q] != 0).collect();
        for q in (0..n_q).filter(|&q| st[q] == 0) {
            let row = &embd[q * h_s..(q + 1) * h_s];
            let bad = row
                .iter()
                .chain(output.iter().flat_map(|o| &o[q * h_s..(q + 1) * h_s]))
                .find(|v| !v.is_finite());
            if let Some(v) = bad {
                return Err(RegressionError::NonFinite {
                    query: q,
                    value: *v,
                }
                .into());
            }
        }
        // The tokens left to the CPU path, as one smaller problem.
        let mut paths = crate::regression::PathCounts {
            kernel: solved,
            ..Default::default()
        };
        if !cpu.is_empty() {
            let mut sub = Neighbours {
                offsets: vec![0],
                ..Default::default()
            };
            let mut sub_e = Vec::with_capacity(cpu.len() * h_t);
            for &q in &cpu {
                let (idx, p) = nb.row(q);
                sub.anchor.extend_from_slice(idx);
                sub.weight.extend_from_slice(p);
                sub.offsets.push(sub.anchor.len());
                sub_e.extend_from_slice(&inp.e[q * h_t..(q + 1) * h_t]);
            }
            let sub_inp = RegressionInput { e: &sub_e, ..*inp };
            let Some(r) = regress_ticked(&sub_inp, &sub, &mut |_, _| true).map_err(
                |RegressionError::NonFinite { query, value }| RegressionError::NonFinite {
                    query: cpu[query],
                    value,
                },
            )?
            else {
                return Ok(None);
            };
            for (i, &q) in cpu.iter().enumerate() {
                embd[q * h_s..(q + 1) * h_s].copy_from_slice(&r.embd[i * h_s..(i + 1) * h_s]);
                if let (Some(o), Some(ro)) = (output.as_mut(), r.output.as_ref()) {
                    o[q * h_s..(q + 1) * h_s].copy_from_slice(&ro[i * h_s..(i + 1) * h_s]);
                }
                let (a, b2) = (nb.offsets[q], nb.offsets[q + 1]);
                w[a..b2].copy_from_slice(&r.w[sub.offsets[i]..sub.offsets[i + 1]]);
            }
            paths.refined = r.paths.refined;
            paths.cholesky = r.paths.cholesky;
            paths.eigen = r.paths.eigen;
        }
        if !tick(n_q, n_q) {
            return Ok(None);
        }
        Ok(Some(Regressed {
            embd,
            output,
            w,
            paths,
        }))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn max_kernel_k_is_the_kernels_panel() {
        let src = include_str!("../../kernels/regress.cu");
        assert!(src.contains(&format!("#define SALT_PANEL {}", super::PANEL)));
        assert!(src.contains(&format!("#define SALT_NB {}", super::PANEL_COLUMNS)));
        // The kernel's panel width for the largest k: one column.
        assert_eq!(super::panel_columns(super::MAX_KERNEL_K), 1);
        assert_eq!(super::panel_columns(super::MAX_KERNEL_K + 1), 0);
        assert!(src.contains(&format!("#define SALT_CS {}", super::STAGE_COLUMNS)));
        assert_eq!(
            (super::panel_columns(165), super::stage_columns(165)),
            (16, 8)
        );
        assert_eq!(
            (super::panel_columns(353), super::stage_columns(353)),
            (10, 5)
        );
        assert!(src.contains("k_max * k_max + 3 * k_max"));
        assert_eq!(super::scratch_doubles(10), 130);
    }

    #[test]
    fn the_anchor_gram_is_made_when_its_entries_are_reused() {
        use super::GramChoice::{Anchor, Auto, PerToken};
        // 21,889 anchors, 106,107 tokens with sum k^2 = 3.3e9: made (3.8 GB).
        assert!(Auto.use_anchor_gram(21_889, 3_285_967_189));
        // The Korean demo: 1,942 anchors, sum k^2 = 2.0e6: each entry used about once.
        assert!(!Auto.use_anchor_gram(1_942, 2_036_416));
        // Over the budget: 40,000 anchors are 12.8 GB.
        assert!(!Auto.use_anchor_gram(40_000, usize::MAX));
        assert!(Anchor.use_anchor_gram(3, 1) && !PerToken.use_anchor_gram(3, usize::MAX));
        assert!(!Anchor.use_anchor_gram(0, 0));
    }
}
