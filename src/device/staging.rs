//! Host-device copies through page-locked memory (feature `cuda`).
//!
//! A copy from ordinary (pageable) memory makes the driver stage it through its own small
//! page-locked buffer, synchronously. Here a large copy goes through two page-locked halves
//! of [`HALF`] bytes: while the GPU copies one half, the CPU fills (or empties) the other,
//! so the copy runs near the bus's rate instead of the driver's staging rate. Copies under
//! [`DIRECT`] bytes go straight through the driver, where the staging would cost more than
//! it saves. `gpu_check` measures both ways on the GPU machine.

use std::sync::{Arc, Mutex};

use cudarc::driver::sys::CUdeviceptr;
use cudarc::driver::{result, CudaContext, CudaEvent, CudaStream, DriverError, PinnedHostSlice};

/// Bytes of each half.
pub const HALF: usize = 32 << 20;
/// Copies smaller than this skip the staging.
pub const DIRECT: usize = 4 << 20;

/// One page-locked half and the event of the last copy that used it.
struct Half {
    mem: PinnedHostSlice<u8>,
    done: CudaEvent,
}

/// The two halves, made at the first large copy.
#[derive(Default)]
pub struct Staging {
    halves: Mutex<Option<[Half; 2]>>,
}

impl Staging {
    fn with_halves<T>(
        &self,
        ctx: &Arc<CudaContext>,
        f: impl FnOnce(&mut [Half; 2]) -> Result<T, DriverError>,
    ) -> Result<T, DriverError> {
        let mut guard = self
            .halves
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_none() {
            let half = || -> Result<Half, DriverError> {
                Ok(Half {
                    // SAFETY: the bytes are written before any copy reads them.
                    // Flags 0: cached memory, read back by the CPU on downloads.
                    mem: unsafe { ctx.alloc_pinned_with_flags::<u8>(HALF, 0) }?,
                    done: ctx.new_event(None)?,
                })
            };
            *guard = Some([half()?, half()?]);
        }
        match guard.as_mut() {
            Some(h) => f(h),
            None => Err(DriverError(
                cudarc::driver::sys::cudaError_enum::CUDA_ERROR_NOT_INITIALIZED,
            )),
        }
    }

    /// Copies `src` to device memory at `dst`, queued on `stream`. `src` may be freed on
    /// return (its bytes are in the halves or on the device by then).
    ///
    /// # Errors
    /// The driver's error.
    pub fn upload(
        &self,
        ctx: &Arc<CudaContext>,
        stream: &CudaStream,
        dst: CUdeviceptr,
        src: &[u8],
    ) -> Result<(), DriverError> {
        if src.len() < DIRECT {
            // SAFETY: dst holds src.len() bytes (the caller's allocation); the driver's
            // pageable copy returns once src has been read.
            return unsafe { result::memcpy_htod_async(dst, src, stream.cu_stream()) };
        }
        self.with_halves(ctx, |halves| {
            for (i, chunk) in src.chunks(HALF).enumerate() {
                let h = &mut halves[i % 2];
                // The copy that last read this half has finished.
                h.done.synchronize()?;
                let mem = h.mem.as_mut_slice()?;
                mem[..chunk.len()].copy_from_slice(chunk);
                // SAFETY: dst + i * HALF .. + chunk.len() lies inside the caller's
                // allocation; the half stays untouched until `done` is reached.
                unsafe {
                    result::memcpy_htod_async(
                        dst + (i * HALF) as u64,
                        &mem[..chunk.len()],
                        stream.cu_stream(),
                    )
                }?;
                h.done.record(stream)?;
            }
            Ok(())
        })
    }

    /// Copies device memory at `src` into `dst`, after everything queued on `stream`;
    /// returns when `dst` holds the bytes.
    ///
    /// # Errors
    /// The driver's error (also a fault of a kernel queued before the copy).
    pub fn download(
        &self,
        ctx: &Arc<CudaContext>,
        stream: &CudaStream,
        src: CUdeviceptr,
        dst: &mut [u8],
    ) -> Result<(), DriverError> {
        if dst.len() < DIRECT {
            // SAFETY: src holds dst.len() bytes; the stream is synchronised before return.
            unsafe { result::memcpy_dtoh_async(dst, src, stream.cu_stream()) }?;
            return stream.synchronize();
        }
        self.with_halves(ctx, |halves| {
            let n = dst.len().div_ceil(HALF);
            // Chunk i is copied into half i % 2 while the CPU empties chunk i - 1.
            for i in 0..=n {
                if i < n {
                    let len = HALF.min(dst.len() - i * HALF);
                    let h = &mut halves[i % 2];
                    let mem = h.mem.as_mut_slice()?;
                    // SAFETY: src + i * HALF .. + len lies inside the device buffer; the
                    // half is not read until `done` is reached.
                    unsafe {
                        result::memcpy_dtoh_async(
                            &mut mem[..len],
                            src + (i * HALF) as u64,
                            stream.cu_stream(),
                        )
                    }?;
                    h.done.record(stream)?;
                }
                if i > 0 {
                    let j = i - 1;
                    let len = HALF.min(dst.len() - j * HALF);
                    let h = &mut halves[j % 2];
                    h.done.synchronize()?;
                    let mem = h.mem.as_mut_slice()?;
                    dst[j * HALF..j * HALF + len].copy_from_slice(&mem[..len]);
                }
            }
            Ok(())
        })
    }
}
