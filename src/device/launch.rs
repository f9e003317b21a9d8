//! One launcher interface for the kernels of `kernels/`: the GPU (cudarc, feature `cuda`)
//! and the CPU shim implement it, and [`super::kernels::KernelDevice`] drives either with
//! the same host code.

use std::ffi::c_void;

use crate::error::DeviceError;

/// A buffer in the launcher's memory (device memory, or host memory for the shim).
pub trait DeviceBuf: Send + Sync {
    /// Its address as the kernels see it.
    fn addr(&self) -> u64;
    /// Its size in bytes.
    fn len(&self) -> usize;
    /// True when it holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the host code needs of a device.
pub trait Launcher: Send + Sync {
    /// Its buffers.
    type Buf: DeviceBuf;

    /// A name for logs.
    fn name(&self) -> String;

    /// Most threads per block it runs well (the kernels take any power of two up to
    /// `SALT_MAX_BLOCK`).
    fn max_block(&self) -> u32;

    /// A buffer holding `bytes`.
    ///
    /// # Errors
    /// [`DeviceError`] when the device cannot allocate or copy.
    fn upload(&self, bytes: &[u8]) -> Result<Self::Buf, DeviceError>;

    /// A zeroed buffer of `len` bytes.
    ///
    /// # Errors
    /// [`DeviceError`] when the device cannot allocate.
    fn zeroed(&self, len: usize) -> Result<Self::Buf, DeviceError>;

    /// A buffer of `len` bytes that a kernel writes in full before anything reads it: not
    /// cleared on a GPU; the shim fills it with 0xFF bytes (NaN, or -1), so that a read of
    /// a byte no kernel wrote shows in the tests.
    ///
    /// # Errors
    /// [`DeviceError`] when the device cannot allocate.
    fn unwritten(&self, len: usize) -> Result<Self::Buf, DeviceError>;

    /// Copies `out.len()` bytes from `buf` at `offset` into `out`.
    ///
    /// # Errors
    /// [`DeviceError`] when the copy fails or the range is outside `buf`.
    fn download(&self, buf: &Self::Buf, offset: usize, out: &mut [u8]) -> Result<(), DeviceError>;

    /// Runs `kernel` over `grid` blocks of `block` threads; `params` points to each
    /// argument, in order (CUDA's `kernelParams`). Launches run in the order given, and a
    /// download sees every launch before it; a GPU returns before the kernel has finished
    /// (its fault is reported by the next download), the shim after.
    ///
    /// # Errors
    /// [`DeviceError::Launch`] naming the kernel.
    ///
    /// # Safety
    /// `params` must match the kernel's signature, and every address in them must be a
    /// live buffer of this launcher large enough for what the kernel reads and writes.
    unsafe fn launch(
        &self,
        kernel: &'static str,
        grid: [u32; 3],
        block: [u32; 3],
        params: &mut [*mut c_void],
    ) -> Result<(), DeviceError>;
}

/// The bytes of a slice of plain numbers.
pub fn bytes_of<T: bytemuck::Pod>(v: &[T]) -> &[u8] {
    bytemuck::cast_slice(v)
}

/// The byte range `offset..offset + len` of a buffer of `buf_len` bytes, or the error a
/// download outside it gives.
///
/// # Errors
/// [`DeviceError::Launch`] naming the range.
pub fn checked_range(
    offset: usize,
    len: usize,
    buf_len: usize,
) -> Result<std::ops::Range<usize>, DeviceError> {
    offset
        .checked_add(len)
        .filter(|&e| e <= buf_len)
        .map(|end| offset..end)
        .ok_or_else(|| DeviceError::Launch {
            kernel: "download",
            reason: format!("range {offset}+{len} outside a buffer of {buf_len}"),
        })
}
