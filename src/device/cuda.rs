//! The GPU launcher (feature `cuda`): cudarc's driver API, loaded at run time, and the
//! kernels of `kernels/` compiled by NVRTC ([`super::nvrtc`]) for the device's
//! architecture at first use. The PTX is cached under `$SALT_CACHE/kernels`, keyed by the
//! architecture and a hash of the sources, so later runs skip the compile. A cubin for the
//! device's exact architecture in the same place (as `examples/gpu_check.rs` prepares) is
//! loaded first: the driver runs it without JIT, even when it is older than the NVRTC that
//! made the PTX (which it would refuse).
//!
//! Launches are queued on one stream and do not wait: a download waits for what was queued
//! before it (a kernel's fault is reported there). Large copies go through page-locked
//! memory ([`super::staging`]). [`Cuda::time_kernels`] records a CUDA event pair around
//! every launch, for per-kernel GPU times ([`Cuda::kernel_ms`]).

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use cudarc::driver::{CudaContext, CudaFunction, CudaSlice, CudaStream, DevicePtr};
use sha2::{Digest, Sha256};

use super::kernels::{sources, ENTRY_POINTS};
use super::launch::{checked_range, DeviceBuf, Launcher};
use super::nvrtc::Nvrtc;
use super::staging::Staging;
use crate::error::DeviceError;

/// Device memory.
pub struct CudaBuf {
    slice: CudaSlice<u8>,
    stream: Arc<CudaStream>,
    len: usize,
}

impl DeviceBuf for CudaBuf {
    fn addr(&self) -> u64 {
        let (p, _sync) = self.slice.device_ptr(&self.stream);
        p
    }
    fn len(&self) -> usize {
        self.len
    }
}

/// One GPU with the kernels loaded.
pub struct Cuda {
    // The module and functions belong to it.
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    functions: HashMap<&'static str, CudaFunction>,
    name: String,
    /// Milliseconds per launch, by kernel, while timing is on.
    times: Mutex<Option<Vec<(&'static str, f64)>>>,
    staging: Staging,
    /// Large copies through `staging` (else the driver's pageable copies).
    staged: AtomicBool,
}

fn launch_err(kernel: &'static str) -> impl Fn(cudarc::driver::DriverError) -> DeviceError {
    move |e| DeviceError::Launch {
        kernel,
        reason: e.to_string(),
    }
}

impl Cuda {
    /// Opens GPU `n` and loads the kernels.
    ///
    /// # Errors
    /// [`DeviceError::Unavailable`] naming what is missing (the driver library, a GPU,
    /// NVRTC); [`DeviceError::Compile`] when NVRTC refuses a kernel.
    pub fn open(n: usize) -> Result<Self, DeviceError> {
        let device = format!("cuda:{n}");
        let missing = |m: String| DeviceError::Unavailable {
            device: device.clone(),
            missing: m,
        };
        // cudarc panics when a library is missing: probe first.
        // SAFETY: only tries to dlopen the driver library.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(missing(
                "the NVIDIA driver library (libcuda.so.1) is not installed".into(),
            ));
        }
        let ctx = std::panic::catch_unwind(|| CudaContext::new(n))
            .map_err(|_| missing("the NVIDIA driver library lacks a function cudarc needs".into()))?
            .map_err(|e| missing(format!("no usable GPU {n} ({e})")))?;
        let (major, minor) = ctx
            .compute_capability()
            .map_err(|e| missing(format!("cannot read GPU {n}'s compute capability ({e})")))?;
        let gpu = ctx.name().unwrap_or_else(|_| "GPU".into());
        let arch = format!("compute_{major}{minor}");
        let stream = ctx.default_stream();
        let mut functions = HashMap::new();
        let mut nvrtc: Option<Nvrtc> = None;
        for (file, src) in sources() {
            let sm = format!("sm_{major}{minor}");
            let cubin = std::fs::read(cubin_cache_path(file, &src, &sm)).ok();
            let module = match cubin.map(|c| ctx.load_module(cudarc::nvrtc::Ptx::from_binary(c))) {
                Some(Ok(m)) => m,
                // No cubin for this GPU (or the driver refused it): the PTX, JIT-compiled.
                _ => {
                    let ptx = cached_ptx(file, &src, &arch, &mut nvrtc)?;
                    ctx.load_module(cudarc::nvrtc::Ptx::from_src(ptx))
                        .map_err(launch_err("load_module"))?
                }
            };
            let entries = ENTRY_POINTS
                .iter()
                .find(|(f, _)| *f == file)
                .map_or(&[][..], |(_, e)| *e);
            for &e in entries {
                let f = module
                    .load_function(e)
                    .map_err(launch_err("load_function"))?;
                functions.insert(e, f);
            }
        }
        Ok(Self {
            ctx,
            stream,
            functions,
            name: format!("{device} ({gpu}, {arch})"),
            times: Mutex::new(None),
            staging: Staging::default(),
            staged: AtomicBool::new(true),
        })
    }

    /// `slice` as a buffer of `len` bytes on this GPU's stream.
    fn buf(&self, slice: CudaSlice<u8>, len: usize) -> CudaBuf {
        CudaBuf {
            slice,
            stream: self.stream.clone(),
            len,
        }
    }

    /// Sends large copies through page-locked memory (the default) or not (`gpu_check`
    /// measures both).
    pub fn stage_copies(&self, on: bool) {
        self.staged.store(on, Ordering::Relaxed);
    }

    /// Starts (or stops) timing every launch with CUDA events; starting clears the times.
    pub fn time_kernels(&self, on: bool) {
        if let Ok(mut t) = self.times.lock() {
            *t = on.then(Vec::new);
        }
    }

    /// The GPU milliseconds of each kernel since timing started, summed over its launches,
    /// in the order the kernels first ran.
    #[must_use]
    pub fn kernel_ms(&self) -> Vec<(&'static str, f64)> {
        let mut out: Vec<(&'static str, f64)> = Vec::new();
        if let Ok(t) = self.times.lock() {
            for &(k, ms) in t.iter().flatten() {
                match out.iter_mut().find(|(n, _)| *n == k) {
                    Some(e) => e.1 += ms,
                    None => out.push((k, ms)),
                }
            }
        }
        out
    }
}

/// Where a cubin of `file` for `sm` (`sm_90`) is looked for: beside the PTX cache.
#[must_use]
pub fn cubin_cache_path(file: &str, src: &str, sm: &str) -> std::path::PathBuf {
    ptx_cache_path(file, src, sm).with_extension("cubin")
}

/// Where the PTX of `file` (source `src`) for `arch` is cached: under `$SALT_CACHE/kernels`,
/// named by the architecture and a hash of the source. A folder prepared elsewhere (as
/// `examples/gpu_check.rs` does) lets a machine without NVRTC load the kernels.
#[must_use]
pub fn ptx_cache_path(file: &str, src: &str, arch: &str) -> std::path::PathBuf {
    let key = format!("{:x}", Sha256::digest(src.as_bytes()));
    super::nvrtc::cache_dir()
        .join("kernels")
        .join(format!("{file}-{arch}-{}.ptx", &key[..16]))
}

/// The PTX of `file` for `arch`, from the cache or compiled now (and cached).
fn cached_ptx(
    file: &str,
    src: &str,
    arch: &str,
    nvrtc: &mut Option<Nvrtc>,
) -> Result<String, DeviceError> {
    let path = ptx_cache_path(file, src, arch);
    let dir = path
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    if let Ok(ptx) = std::fs::read_to_string(&path) {
        return Ok(ptx);
    }
    if nvrtc.is_none() {
        *nvrtc = Some(Nvrtc::load()?);
    }
    let compiled = nvrtc
        .as_ref()
        .map(|n| n.compile(file, src, arch))
        .transpose()?
        .map(|c| String::from_utf8_lossy(&c.image).into_owned())
        .unwrap_or_default();
    // The cache is an optimisation: a read-only cache folder only costs a compile.
    if std::fs::create_dir_all(&dir).is_ok() {
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, &compiled).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
    Ok(compiled)
}

impl Launcher for Cuda {
    type Buf = CudaBuf;

    fn name(&self) -> String {
        self.name.clone()
    }

    fn max_block(&self) -> u32 {
        256
    }

    fn upload(&self, bytes: &[u8]) -> Result<CudaBuf, DeviceError> {
        if bytes.is_empty() || !self.staged.load(Ordering::Relaxed) {
            let slice = if bytes.is_empty() {
                self.stream.alloc_zeros::<u8>(1)
            } else {
                self.stream.clone_htod(bytes)
            }
            .map_err(launch_err("upload"))?;
            return Ok(self.buf(slice, bytes.len()));
        }
        // Every byte is written by the copy before any kernel reads it.
        let buf = self.unwritten(bytes.len())?;
        self.staging
            .upload(&self.ctx, &self.stream, buf.addr(), bytes)
            .map_err(launch_err("upload"))?;
        Ok(buf)
    }

    fn zeroed(&self, len: usize) -> Result<CudaBuf, DeviceError> {
        let slice = self
            .stream
            .alloc_zeros::<u8>(len.max(1))
            .map_err(launch_err("alloc"))?;
        Ok(self.buf(slice, len))
    }

    fn unwritten(&self, len: usize) -> Result<CudaBuf, DeviceError> {
        // SAFETY: device memory; the caller's kernel writes every byte before any read.
        let slice = unsafe { self.stream.alloc::<u8>(len.max(1)) }.map_err(launch_err("alloc"))?;
        Ok(self.buf(slice, len))
    }

    fn download(&self, buf: &CudaBuf, offset: usize, out: &mut [u8]) -> Result<(), DeviceError> {
        let r = checked_range(offset, out.len(), buf.len)?;
        if out.is_empty() {
            return Ok(());
        }
        let err = |e: cudarc::driver::DriverError| DeviceError::Launch {
            kernel: "download",
            reason: format!("{e} (the copy, or a kernel queued before it)"),
        };
        if !self.staged.load(Ordering::Relaxed) {
            return self
                .stream
                .memcpy_dtoh(&buf.slice.slice(r), out)
                .map_err(err);
        }
        self.staging
            .download(&self.ctx, &self.stream, buf.addr() + r.start as u64, out)
            .map_err(err)
    }

    unsafe fn launch(
        &self,
        kernel: &'static str,
        grid: [u32; 3],
        block: [u32; 3],
        params: &mut [*mut c_void],
    ) -> Result<(), DeviceError> {
        let f = self
            .functions
            .get(kernel)
            .ok_or_else(|| DeviceError::Launch {
                kernel,
                reason: "not loaded".into(),
            })?;
        let timing = self.times.lock().map(|t| t.is_some()).unwrap_or(false);
        let events = if timing {
            let ev = || {
                self.ctx
                    .new_event(Some(cudarc::driver::sys::CUevent_flags::CU_EVENT_DEFAULT))
                    .map_err(launch_err(kernel))
            };
            let (a, b) = (ev()?, ev()?);
            a.record(&self.stream).map_err(launch_err(kernel))?;
            Some((a, b))
        } else {
            None
        };
        // SAFETY: the caller guarantees that params match the kernel and point to live
        // device buffers of this context.
        unsafe {
            cudarc::driver::result::launch_kernel(
                f.cu_function(),
                (grid[0], grid[1], grid[2]),
                (block[0], block[1], block[2]),
                0,
                self.stream.cu_stream(),
                params,
            )
        }
        .map_err(launch_err(kernel))?;
        // Queued: the next download waits for it. Only a timed launch is waited for here.
        if let Some((a, b)) = events {
            b.record(&self.stream).map_err(launch_err(kernel))?;
            self.stream.synchronize().map_err(launch_err(kernel))?;
            let ms = a.elapsed_ms(&b).map_err(launch_err(kernel))?;
            if let Ok(mut t) = self.times.lock() {
                if let Some(v) = t.as_mut() {
                    v.push((kernel, f64::from(ms)));
                }
            }
        }
        Ok(())
    }
}
