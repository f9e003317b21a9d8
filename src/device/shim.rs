//! The CPU shim launcher: `kernels/*.cu` compiled as host C++ by `build.rs` and run
//! block by block with OS threads per block (`kernels/shim/shim.cpp`). It exists so that
//! the GPU's host code and the kernels themselves are tested on machines without a GPU;
//! it is not a fast CPU path (`--device cpu` is).

use std::ffi::{c_char, c_int, c_uint, c_void, CString};

use super::launch::{checked_range, DeviceBuf, Launcher};
use crate::error::DeviceError;

extern "C" {
    fn salt_shim_launch(
        name: *const c_char,
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        params: *mut *mut c_void,
    ) -> c_int;
    fn salt_shim_error() -> *const c_char;
}

/// Host memory standing in for device memory, 8-byte aligned (the kernels read doubles).
pub struct ShimBuf {
    words: Vec<u64>,
    len: usize,
}

impl DeviceBuf for ShimBuf {
    fn addr(&self) -> u64 {
        self.words.as_ptr() as u64
    }
    fn len(&self) -> usize {
        self.len
    }
}

/// Threads per block in the shim unless told otherwise: each is an OS thread, and every
/// `__syncthreads()` makes all of them meet, so a few threads keep the shim fast on small
/// machines while still running each block's threads concurrently.
pub const SHIM_BLOCK: u32 = 8;

/// The shim launcher: at most `max_block` threads per block.
#[derive(Clone, Copy, Debug)]
pub struct Shim {
    max_block: u32,
}

impl Default for Shim {
    fn default() -> Self {
        Self::at_block(SHIM_BLOCK)
    }
}

impl Shim {
    /// A shim that runs up to `max_block` threads per block: 256 runs the kernels at the
    /// GPU's block sizes (256 for the neighbour kernels, 64 for the regression).
    #[must_use]
    pub fn at_block(max_block: u32) -> Self {
        Self {
            max_block: max_block.clamp(1, 1024),
        }
    }
}

impl Launcher for Shim {
    type Buf = ShimBuf;

    fn name(&self) -> String {
        format!(
            "cuda-shim (the CUDA kernels on the CPU, {} threads per block)",
            self.max_block
        )
    }

    fn max_block(&self) -> u32 {
        self.max_block
    }

    fn upload(&self, bytes: &[u8]) -> Result<ShimBuf, DeviceError> {
        let mut b = self.zeroed(bytes.len())?;
        bytemuck::cast_slice_mut::<u64, u8>(&mut b.words)[..bytes.len()].copy_from_slice(bytes);
        Ok(b)
    }

    fn zeroed(&self, len: usize) -> Result<ShimBuf, DeviceError> {
        Ok(ShimBuf {
            words: vec![0u64; len.div_ceil(8).max(1)],
            len,
        })
    }

    fn unwritten(&self, len: usize) -> Result<ShimBuf, DeviceError> {
        Ok(ShimBuf {
            words: vec![u64::MAX; len.div_ceil(8).max(1)],
            len,
        })
    }

    fn download(&self, buf: &ShimBuf, offset: usize, out: &mut [u8]) -> Result<(), DeviceError> {
        let src = bytemuck::cast_slice::<u64, u8>(&buf.words);
        let r = checked_range(offset, out.len(), buf.len)?;
        out.copy_from_slice(&src[r]);
        Ok(())
    }

    unsafe fn launch(
        &self,
        kernel: &'static str,
        grid: [u32; 3],
        block: [u32; 3],
        params: &mut [*mut c_void],
    ) -> Result<(), DeviceError> {
        let name = CString::new(kernel).unwrap_or_default();
        // SAFETY: the caller guarantees that `params` matches the kernel and points to live
        // buffers; the shim only reads the pointer array during the call.
        let rc = unsafe {
            salt_shim_launch(
                name.as_ptr(),
                grid[0],
                grid[1],
                grid[2],
                block[0],
                block[1],
                block[2],
                params.as_mut_ptr(),
            )
        };
        match rc {
            0 => Ok(()),
            -1 => Err(DeviceError::Launch {
                kernel,
                reason: "the shim does not know this kernel".into(),
            }),
            // SAFETY: this thread's copy of the shim's error text, valid until this thread's
            // next launch; it is copied at once.
            -3 => Err(DeviceError::Launch {
                kernel,
                reason: unsafe { std::ffi::CStr::from_ptr(salt_shim_error()) }
                    .to_string_lossy()
                    .into_owned(),
            }),
            _ => Err(DeviceError::Launch {
                kernel,
                reason: format!("block {block:?} is not 1 to 1024 threads"),
            }),
        }
    }
}
