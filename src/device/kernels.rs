//! The host code of the kernels in `kernels/`, written once against [`Launcher`]: the GPU
//! (cudarc) and the CPU shim run exactly this code.
//!
//! - Neighbours: rows normalised as the CPU path normalises them, then per chunk of
//!   queries `salt_cosine` (similarities, f64 sums), `salt_sparsemax_tau` (Michelot's
//!   iteration: the exact threshold and support size), `salt_sparsemax_support` (indices
//!   ascending, weights). `--max-k` truncates on the host, as the CPU path does, from the
//!   row's similarities.
//! - Regression: tokens bucketed by k. `k <= SALT_SHARED_K`: `salt_regress_shared` (the
//!   Gram matrix in shared memory); larger k up to h_t: `salt_regress_global` (a global
//!   scratch per token, in batches); `k > h_t`, and tokens the kernel marks as too close to
//!   singular for `G^-1 = G^+`, go to the CPU path ([`crate::regression::regress_ticked`]),
//!   counted in the result's paths. The regression's `affine` switch (salt-centred) is a
//!   kernel argument: the same kernels centre G and A e in f64 before the Cholesky.

use std::ffi::c_void;

use super::launch::{bytes_of, DeviceBuf, Launcher};
use super::{Compute, Tick};
use crate::error::{DeviceError, Error, RegressionError};
use crate::neighbours::{normalize_rows, truncate_support, Neighbours};
use crate::regression::{regress_ticked, Regressed, RegressionInput};

/// `SALT_SHARED_K` of `kernels/salt_kernels.h`.
pub const SHARED_K: usize = 48;
/// Bytes of similarities per chunk of queries.
const SIMS_BUDGET: usize = 256 << 20;
/// A Cholesky pivot at or below this share of G's largest diagonal entry sends the token
/// to the CPU path (whose exact solver handles rank-deficient G).
pub const PIVOT_TOL: f64 = 1e-8;
/// Bytes of global scratch per batch of `salt_regress_global`.
const SCRATCH_BUDGET: usize = 256 << 20;
/// Tokens per regression launch (and between ticks).
const TOKENS_PER_LAUNCH: usize = 4096;
/// Threads per block of the neighbour kernels (cosine, sparsemax) on a GPU.
pub const NEIGHBOUR_BLOCK: u32 = 256;
/// Threads per block of the regression kernels on a GPU.
pub const REGRESS_BLOCK: u32 = 64;

/// The block size an entry point is launched with on a GPU.
#[must_use]
pub fn launch_block(entry: &str) -> u32 {
    if entry.starts_with("salt_regress") {
        REGRESS_BLOCK
    } else {
        NEIGHBOUR_BLOCK
    }
}

/// The kernel sources, as NVRTC compiles them (`salt_kernels.h` pasted in place of its
/// `#include`): (file, source).
#[must_use]
pub fn sources() -> Vec<(&'static str, String)> {
    let header = include_str!("../../kernels/salt_kernels.h");
    [
        ("cosine.cu", include_str!("../../kernels/cosine.cu")),
        ("sparsemax.cu", include_str!("../../kernels/sparsemax.cu")),
        ("regress.cu", include_str!("../../kernels/regress.cu")),
    ]
    .into_iter()
    .map(|(f, s)| (f, s.replace("#include \"salt_kernels.h\"", header)))
    .collect()
}

/// The kernels' entry points, per source file.
pub const ENTRY_POINTS: [(&str, &[&str]); 3] = [
    ("cosine.cu", &["salt_cosine"]),
    (
        "sparsemax.cu",
        &["salt_sparsemax_tau", "salt_sparsemax_support"],
    ),
    (
        "regress.cu",
        &["salt_regress_shared", "salt_regress_global"],
    ),
];

/// A [`Compute`] that runs the kernels through a [`Launcher`].
pub struct KernelDevice<L: Launcher> {
    launcher: L,
}

impl<L: Launcher> KernelDevice<L> {
    /// Wraps a launcher.
    pub fn new(launcher: L) -> Self {
        Self { launcher }
    }

    fn block(&self, want: u32) -> u32 {
        want.min(self.launcher.max_block()).max(1)
    }

    fn upload<T: bytemuck::Pod>(&self, v: &[T]) -> Result<L::Buf, DeviceError> {
        self.launcher.upload(bytes_of(v))
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
enum Arg {
    Ptr(u64),
    I32(i32),
    F64(f64),
}

/// Launches `kernel` with `args` (in order).
///
/// # Safety
/// As [`Launcher::launch`]: `args` must match the kernel's signature, and the buffers the
/// addresses come from must be live and large enough.
unsafe fn run<L: Launcher>(
    l: &L,
    kernel: &'static str,
    grid: [u32; 3],
    block: u32,
    args: &mut [Arg],
) -> Result<(), DeviceError> {
    let mut params: Vec<*mut c_void> = args
        .iter_mut()
        .map(|a| match a {
            Arg::Ptr(p) => std::ptr::from_mut(p).cast::<c_void>(),
            Arg::I32(v) => std::ptr::from_mut(v).cast::<c_void>(),
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
        a_buf: &L::Buf,
        dim: usize,
        n_a: usize,
        max_k: Option<usize>,
        out: &mut Neighbours,
    ) -> Result<(), DeviceError> {
        let l = &self.launcher;
        let rows = q.len() / dim;
        let q_buf = self.upload(q)?;
        let sims = l.zeroed(rows * n_a * 4)?;
        let (dim_i, n_a_i) = (i32_of(dim, "salt_cosine")?, i32_of(n_a, "salt_cosine")?);
        let b = self.block(NEIGHBOUR_BLOCK);
        let gx = if l.few_blocks() {
            1
        } else {
            u32::try_from(n_a.div_ceil(b as usize)).unwrap_or(u32::MAX)
        };
        let rows_u = u32::try_from(rows).unwrap_or(u32::MAX);
        // SAFETY: salt_cosine(const float*, const float*, int, int, float*); sims holds
        // rows x n_a floats, q_buf rows x dim, a_buf n_a x dim.
        unsafe {
            run(
                l,
                "salt_cosine",
                [gx, rows_u, 1],
                b,
                &mut [
                    Arg::Ptr(q_buf.addr()),
                    Arg::Ptr(a_buf.addr()),
                    Arg::I32(dim_i),
                    Arg::I32(n_a_i),
                    Arg::Ptr(sims.addr()),
                ],
            )?;
        }
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
                l.download(&sims, r * n_a * 4, bytemuck::cast_slice_mut(&mut row_sims))?;
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

impl<L: Launcher> Compute for KernelDevice<L> {
    fn name(&self) -> String {
        self.launcher.name()
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
        let a_buf = self.upload(&a)?;
        let rows = (SIMS_BUDGET / (n_a * 4)).clamp(1, 4096);
        let mut done = 0;
        for part in q.chunks(rows * dim) {
            self.chunk_supports(part, &a_buf, dim, n_a, max_k, &mut out)?;
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
        let mut shared: Vec<i32> = Vec::new();
        let mut global: Vec<i32> = Vec::new();
        for q in 0..n_q {
            match k_of(q) {
                // Left to the CPU path: no anchors, or a singular G.
                k if k == 0 || k > h_t => {}
                k if k <= SHARED_K => shared.push(i32_of(q, "salt_regress_shared")?),
                _ => global.push(i32_of(q, "salt_regress_global")?),
            }
        }
        let at = self.upload(inp.anchors_t)?;
        let e = self.upload(inp.e)?;
        let bs = self.upload(inp.anchors_s)?;
        let bo = inp.anchors_out.map(|b| self.upload(b)).transpose()?;
        let offsets: Vec<i64> = nb.offsets.iter().map(|&o| o as i64).collect();
        let off = self.upload(&offsets)?;
        let anchor = self.upload(&nb.anchor)?;
        let out_e = l.zeroed(n_q * h_s * 4)?;
        let out_o = match bo {
            Some(_) => Some(l.zeroed(n_q * h_s * 4)?),
            None => None,
        };
        let out_w = l.zeroed(nb.anchor.len() * 4)?;
        // 2: not run (a token the kernels never reached is never taken as solved).
        let status = self.upload(&vec![2i32; n_q])?;
        let (h_t_i, h_s_i) = (i32_of(h_t, "regress")?, i32_of(h_s, "regress")?);
        let b = self.block(REGRESS_BLOCK);
        let common = |tokens: &L::Buf| {
            vec![
                Arg::Ptr(at.addr()),
                Arg::Ptr(e.addr()),
                Arg::I32(h_t_i),
                Arg::Ptr(bs.addr()),
                Arg::Ptr(bo.as_ref().map_or(0, DeviceBuf::addr)),
                Arg::I32(h_s_i),
                Arg::Ptr(off.addr()),
                Arg::Ptr(anchor.addr()),
                Arg::Ptr(tokens.addr()),
                Arg::F64(PIVOT_TOL),
                Arg::I32(i32::from(inp.affine)),
                Arg::Ptr(out_e.addr()),
                Arg::Ptr(out_o.as_ref().map_or(0, DeviceBuf::addr)),
                Arg::Ptr(out_w.addr()),
                Arg::Ptr(status.addr()),
            ]
        };
        let mut done = 0;
        for part in shared.chunks(TOKENS_PER_LAUNCH) {
            let tokens = self.upload(part)?;
            let grid = [u32::try_from(part.len()).unwrap_or(u32::MAX), 1, 1];
            // SAFETY: salt_regress_shared's 15 arguments, in order; every token's k fits
            // the shared arrays (k <= SHARED_K), and the buffers are the tables above.
            unsafe { run(l, "salt_regress_shared", grid, b, &mut common(&tokens))? };
            done += part.len();
            if !tick(done, n_q) {
                return Ok(None);
            }
        }
        // Global-memory batches: by descending k, so each batch's scratch fits its largest.
        global.sort_by_key(|&q| std::cmp::Reverse(k_of(q as usize)));
        let mut rest = global.as_slice();
        while !rest.is_empty() {
            let k_max = k_of(rest[0] as usize);
            let per = (k_max * k_max + 2 * k_max) * 8;
            let n = (SCRATCH_BUDGET / per)
                .clamp(1, TOKENS_PER_LAUNCH)
                .min(rest.len());
            let (part, tail) = rest.split_at(n);
            rest = tail;
            let tokens = self.upload(part)?;
            let scratch = l.zeroed(n * per)?;
            let mut args = common(&tokens);
            args.push(Arg::Ptr(scratch.addr()));
            args.push(Arg::I32(i32_of(k_max, "salt_regress_global")?));
            let grid = [u32::try_from(n).unwrap_or(u32::MAX), 1, 1];
            // SAFETY: salt_regress_global's 17 arguments; scratch holds k_max^2 + 2 k_max
            // doubles per block, and every token of the batch has k <= k_max.
            unsafe { run(l, "salt_regress_global", grid, b, &mut args)? };
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
    fn shared_k_is_the_headers() {
        let header = include_str!("../../kernels/salt_kernels.h");
        assert!(header.contains(&format!("#define SALT_SHARED_K {}", super::SHARED_K)));
    }
}
