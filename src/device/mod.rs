//! The compute-device seam: stages 5 and 6 (neighbours, regression) run through a
//! [`Compute`], so the pipeline never knows which device ran them.
//!
//! [`Cpu`] is faer + rayon. Each method takes a `tick(done, total) -> bool` that the
//! device calls on the calling thread between blocks of work; `false` stops it and the
//! method returns `Ok(None)` (cancelled).

mod cpu;

pub use cpu::Cpu;

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

    /// SALT rows of every query of `nb`, within SALT.md's 1e-4 of the literal formula.
    ///
    /// # Errors
    /// [`crate::error::RegressionError`] for a non-finite row, or a device error.
    fn regress(
        &self,
        inp: &RegressionInput<'_>,
        nb: &Neighbours,
        tick: &mut Tick<'_>,
    ) -> Result<Option<Regressed>, Error>;
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
}

impl DeviceChoice {
    /// Parses `auto`, `cpu`, `cuda` or `cuda:N`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(Self::Auto),
            "cpu" => Some(Self::Cpu),
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
/// Never for [`DeviceChoice::Cpu`] and [`DeviceChoice::Auto`]; a typed error for a
/// CUDA device that this build or machine cannot use.
pub fn open(choice: DeviceChoice, log: &mut dyn FnMut(&str)) -> Result<Box<dyn Compute>, Error> {
    match choice {
        DeviceChoice::Cpu => Ok(Box::new(Cpu)),
        DeviceChoice::Auto => {
            let _ = log;
            Ok(Box::new(Cpu))
        }
        DeviceChoice::Cuda(_) => Err(crate::error::DeviceError::NotBuilt.into()),
    }
}
