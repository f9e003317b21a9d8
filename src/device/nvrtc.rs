//! NVRTC, CUDA's run-time compiler, loaded at run time (no toolkit at build time). Setup
//! installs it from the `nvidia-cuda-nvrtc-cu12` wheel (sha256 pinned in
//! `scripts/setup.sh`), so that every CI run compiles the kernels without a GPU; a GPU
//! machine may have its own.
//!
//! Where it is looked for, in order: `$SALT_NVRTC` (a file), the wheel under
//! `$SALT_CACHE/nvrtc` (default `~/.cache/salt/nvrtc`), then `libnvrtc.so.13`,
//! `libnvrtc.so.12` and `libnvrtc.so` on the loader's path.

use std::ffi::{c_char, c_int, CStr, CString};
use std::path::PathBuf;

use libloading::{Library, Symbol};

use crate::error::DeviceError;

type Prog = *mut std::ffi::c_void;

/// A loaded NVRTC.
pub struct Nvrtc {
    lib: Library,
    /// Where it was loaded from.
    pub path: String,
}

/// One kernel's resource use, as ptxas reports it (`--ptxas-options=-v`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelUsage {
    /// Entry point.
    pub name: String,
    /// Registers per thread.
    pub registers: u32,
    /// Bytes of register spill stores.
    pub spill_stores: u32,
    /// Bytes of register spill loads.
    pub spill_loads: u32,
    /// Bytes of static shared memory per block.
    pub shared_bytes: u32,
}

/// A compiled source.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// PTX text (for `compute_XX`) or a cubin (for `sm_XX`).
    pub image: Vec<u8>,
    /// NVRTC's log (ptxas's report for a cubin).
    pub log: String,
}

/// The asset cache (`$SALT_CACHE`, default `~/.cache/salt`).
#[must_use]
pub fn cache_dir() -> PathBuf {
    std::env::var_os("SALT_CACHE").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/salt"),
        PathBuf::from,
    )
}

/// Where the wheel's library lies under the asset cache.
#[must_use]
pub fn wheel_path() -> PathBuf {
    cache_dir().join("nvrtc/nvidia/cuda_nvrtc/lib/libnvrtc.so.12")
}

fn unavailable(missing: String) -> DeviceError {
    DeviceError::Unavailable {
        device: "cuda".into(),
        missing,
    }
}

impl Nvrtc {
    /// Loads NVRTC from the first place that has it.
    ///
    /// # Errors
    /// [`DeviceError::Unavailable`] listing the places tried.
    pub fn load() -> Result<Self, DeviceError> {
        let mut tried = Vec::new();
        let mut candidates: Vec<String> = Vec::new();
        if let Some(p) = std::env::var_os("SALT_NVRTC") {
            candidates.push(p.to_string_lossy().into_owned());
        }
        candidates.push(wheel_path().to_string_lossy().into_owned());
        candidates.extend(["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"].map(String::from));
        for c in candidates {
            // SAFETY: loading NVRTC runs its initialisers, which have no preconditions.
            match unsafe { Library::new(&c) } {
                Ok(lib) => return Ok(Self { lib, path: c }),
                Err(e) => tried.push(format!("{c} ({e})")),
            }
        }
        Err(unavailable(format!(
            "NVRTC not found; tried {} (scripts/setup.sh installs the nvidia-cuda-nvrtc-cu12 wheel)",
            tried.join(", ")
        )))
    }

    fn sym<T>(&self, name: &[u8]) -> Result<Symbol<'_, T>, DeviceError> {
        // SAFETY: every symbol is used with NVRTC's documented C signature.
        unsafe { self.lib.get(name) }.map_err(|e| {
            unavailable(format!(
                "{} lacks {}: {e}",
                self.path,
                String::from_utf8_lossy(name)
            ))
        })
    }

    /// NVRTC's (major, minor) version.
    ///
    /// # Errors
    /// [`DeviceError`] when the call fails.
    pub fn version(&self) -> Result<(i32, i32), DeviceError> {
        let f: Symbol<'_, unsafe extern "C" fn(*mut c_int, *mut c_int) -> c_int> =
            self.sym(b"nvrtcVersion\0")?;
        let (mut a, mut b) = (0, 0);
        // SAFETY: two valid out-pointers.
        let rc = unsafe { f(&raw mut a, &raw mut b) };
        if rc != 0 {
            return Err(unavailable(format!("nvrtcVersion failed ({rc})")));
        }
        Ok((a, b))
    }

    /// Compiles `source` (named `name` in messages) for `arch`: `compute_XX` gives PTX,
    /// `sm_XX` a cubin with ptxas's register report in the log.
    ///
    /// # Errors
    /// [`DeviceError::Compile`] with NVRTC's log.
    pub fn compile(&self, name: &str, source: &str, arch: &str) -> Result<Compiled, DeviceError> {
        type Create = unsafe extern "C" fn(
            *mut Prog,
            *const c_char,
            *const c_char,
            c_int,
            *const *const c_char,
            *const *const c_char,
        ) -> c_int;
        type Compile = unsafe extern "C" fn(Prog, c_int, *const *const c_char) -> c_int;
        type Size = unsafe extern "C" fn(Prog, *mut usize) -> c_int;
        type Get = unsafe extern "C" fn(Prog, *mut c_char) -> c_int;
        type Destroy = unsafe extern "C" fn(*mut Prog) -> c_int;
        let create: Symbol<'_, Create> = self.sym(b"nvrtcCreateProgram\0")?;
        let compile: Symbol<'_, Compile> = self.sym(b"nvrtcCompileProgram\0")?;
        let log_size: Symbol<'_, Size> = self.sym(b"nvrtcGetProgramLogSize\0")?;
        let get_log: Symbol<'_, Get> = self.sym(b"nvrtcGetProgramLog\0")?;
        let cubin = arch.starts_with("sm_");
        let (img_size, get_img): (Symbol<'_, Size>, Symbol<'_, Get>) = if cubin {
            (
                self.sym(b"nvrtcGetCUBINSize\0")?,
                self.sym(b"nvrtcGetCUBIN\0")?,
            )
        } else {
            (self.sym(b"nvrtcGetPTXSize\0")?, self.sym(b"nvrtcGetPTX\0")?)
        };
        let destroy: Symbol<'_, Destroy> = self.sym(b"nvrtcDestroyProgram\0")?;
        let fail = |log: String| DeviceError::Compile {
            kernel: name.to_owned(),
            arch: arch.to_owned(),
            log,
        };
        let src = CString::new(source).map_err(|_| fail("the source holds a NUL byte".into()))?;
        let cname = CString::new(name).unwrap_or_default();
        let mut opts = vec![format!("--gpu-architecture={arch}"), "--std=c++17".into()];
        if cubin {
            opts.push("--ptxas-options=-v".into());
        }
        let opts: Vec<CString> = opts
            .into_iter()
            .filter_map(|o| CString::new(o).ok())
            .collect();
        let opt_ptrs: Vec<*const c_char> = opts.iter().map(|o| o.as_ptr()).collect();
        let mut prog: Prog = std::ptr::null_mut();
        // SAFETY: NUL-terminated strings that outlive the calls, no headers, valid
        // out-pointers; the program is destroyed below on every path.
        unsafe {
            let rc = create(
                &raw mut prog,
                src.as_ptr(),
                cname.as_ptr(),
                0,
                std::ptr::null(),
                std::ptr::null(),
            );
            if rc != 0 {
                return Err(fail(format!("nvrtcCreateProgram failed ({rc})")));
            }
            let rc = compile(prog, opt_ptrs.len() as c_int, opt_ptrs.as_ptr());
            let mut n = 0usize;
            let mut log = String::new();
            if log_size(prog, &raw mut n) == 0 && n > 1 {
                let mut buf = vec![0 as c_char; n];
                if get_log(prog, buf.as_mut_ptr()) == 0 {
                    log = CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned();
                }
            }
            let out = if rc == 0 {
                let mut n = 0usize;
                if img_size(prog, &raw mut n) == 0 {
                    let mut img = vec![0u8; n];
                    if get_img(prog, img.as_mut_ptr().cast()) == 0 {
                        if !cubin {
                            // PTX comes NUL-terminated.
                            while img.last() == Some(&0) {
                                img.pop();
                            }
                        }
                        Ok(Compiled { image: img, log })
                    } else {
                        Err(fail("could not read the compiled image".into()))
                    }
                } else {
                    Err(fail("could not size the compiled image".into()))
                }
            } else {
                Err(fail(if log.is_empty() {
                    format!("error {rc}")
                } else {
                    log
                }))
            };
            destroy(&raw mut prog);
            out
        }
    }
}

/// Each kernel's registers, spills and shared memory from a ptxas `-v` log.
#[must_use]
pub fn usage(log: &str) -> Vec<KernelUsage> {
    let mut out: Vec<KernelUsage> = Vec::new();
    let number_before = |line: &str, word: &str| -> Option<u32> {
        let at = line.find(word)?;
        line[..at].split_whitespace().last()?.parse().ok()
    };
    for line in log.lines() {
        if let Some(rest) = line.split("Compiling entry function '").nth(1) {
            let name = rest.split('\'').next().unwrap_or_default().to_owned();
            out.push(KernelUsage {
                name,
                ..KernelUsage::default()
            });
        } else if let Some(k) = out.last_mut() {
            if let Some(n) = number_before(line, "bytes spill stores") {
                k.spill_stores = n;
            }
            if let Some(n) = number_before(line, "bytes spill loads") {
                k.spill_loads = n;
            }
            if let Some(n) = number_before(line, "registers") {
                k.registers = n;
            }
            if let Some(n) = number_before(line, "bytes smem") {
                k.shared_bytes = n;
            }
        }
    }
    out
}
