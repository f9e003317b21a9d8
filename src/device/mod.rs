//! The compute-device seam: stages 5 and 6 (neighbours, regression) run through a
//! [`Compute`], so the pipeline never knows which device ran them.
//!
//! [`Cpu`] is faer + rayon. Each method takes a `tick(done, total) -> bool` that the
//! device calls on the calling thread between blocks of work; `false` stops it and the
//! method returns `Ok(None)` (cancelled).

mod cpu;
pub mod fixtures;
pub mod kernels;
pub mod launch;
pub mod nvrtc;
pub mod occupancy;
pub mod perf;
pub mod probe;
pub mod resident;
pub mod shim;

pub use cpu::Cpu;
pub use kernels::KernelDevice;
pub use shim::Shim;

#[cfg(feature = "cuda")]
pub mod cuda;
#[cfg(feature = "cuda")]
pub mod staging;

use crate::error::Error;
use crate::neighbours::Neighbours;
use crate::regression::{Regressed, RegressionInput};

/// A tick between blocks: (done, total) -> go on.
pub type Tick<'a> = dyn FnMut(usize, usize) -> bool + 'a;

/// What a compute device does for the pipeline.
pub trait Compute: Send + Sync {
    /// A name for logs (`cpu`, `cuda:0 (NVIDIA H200)`).
    fn name(&self) -> String;

    /// Sparsemax supports of `queries` (`[n_q x dim]`) among `anchors` (`[n_a x dim]`),
    /// exactly as [`crate::neighbours::neighbours`] defines them.
    ///
    /// # Errors
    /// A device error.
    fn neighbours(
        &self,
        queries: &[f32],
        anchors: &[f32],
        dim: usize,
        max_k: Option<usize>,
        tick: &mut Tick<'_>,
    ) -> Result<Option<Neighbours>, Error>;

    /// SALT rows of every query of `nb`, within docs/method.md's 1e-4 of the literal formula.
    ///
    /// # Errors
    /// [`crate::error::RegressionError`] for a non-finite row, or a device error.
    fn regress(
        &self,
        inp: &RegressionInput<'_>,
        nb: &Neighbours,
        tick: &mut Tick<'_>,
    ) -> Result<Option<Regressed>, Error>;

    /// Frees what the device keeps between calls (a GPU keeps the last call's tables, see
    /// [`resident`]); the next call uploads them again.
    fn release(&self) {}
}

/// Which device to use (`--device`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The GPU when one is usable, else the CPU (with a log line).
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// CUDA device N.
    Cuda(usize),
    /// The CUDA kernels run on the CPU through the shim (`kernels/shim/`): the GPU's
    /// host code and kernels, tested without a GPU. Slow; for tests and debugging.
    Shim,
}

impl DeviceChoice {
    /// Parses `auto`, `cpu`, `cuda`, `cuda:N` or `cuda-shim`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(Self::Auto),
            "cpu" => Some(Self::Cpu),
            "cuda-shim" => Some(Self::Shim),
            "cuda" => Some(Self::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Self::Cuda),
        }
    }
}

/// Opens the chosen device.
///
/// # Errors
/// Never for [`DeviceChoice::Cpu`], [`DeviceChoice::Shim`] and [`DeviceChoice::Auto`]
/// (which falls back to the CPU with a line through `log`); a typed error naming what is
/// missing for a CUDA device that this build or machine cannot use.
pub fn open(choice: DeviceChoice, log: &mut dyn FnMut(&str)) -> Result<Box<dyn Compute>, Error> {
    match choice {
        DeviceChoice::Cpu => Ok(Box::new(Cpu)),
        DeviceChoice::Shim => Ok(Box::new(KernelDevice::new(Shim::default()))),
        DeviceChoice::Auto => match open_cuda(0) {
            Ok(d) => Ok(d),
            Err(e) => {
                log(&format!("no usable GPU ({e}); running on the CPU"));
                Ok(Box::new(Cpu))
            }
        },
        DeviceChoice::Cuda(n) => open_cuda(n),
    }
}

#[cfg(feature = "cuda")]
fn open_cuda(n: usize) -> Result<Box<dyn Compute>, Error> {
    Ok(Box::new(KernelDevice::new(cuda::Cuda::open(n)?)))
}

#[cfg(not(feature = "cuda"))]
fn open_cuda(_n: usize) -> Result<Box<dyn Compute>, Error> {
    Err(crate::error::DeviceError::NotBuilt.into())
}
