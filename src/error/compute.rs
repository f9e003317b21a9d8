//! The compute stages' errors: the device and the regression.

/// Errors choosing or using a compute device.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// `--device cuda` in a build without the `cuda` feature.
    #[error("this salt was built without CUDA support; rebuild with `cargo build --release --features cuda`, or use --device cpu")]
    NotBuilt,
    /// A CUDA library or GPU that `--device cuda` needs is not there.
    #[error(
        "--device {device}: {missing}; use --device cpu (or auto, which falls back to the CPU)"
    )]
    Unavailable {
        /// The device asked for (`cuda:0`).
        device: String,
        /// What is missing, and where it was looked for.
        missing: String,
    },
    /// NVRTC refused a kernel source.
    #[error("NVRTC could not compile {kernel} for {arch}: {log}")]
    Compile {
        /// The kernel file.
        kernel: String,
        /// The target (`compute_90`).
        arch: String,
        /// NVRTC's log.
        log: String,
    },
    /// A kernel launch, allocation or copy failed.
    #[error("kernel {kernel}: {reason}")]
    Launch {
        /// The kernel (or `upload`, `download`).
        kernel: &'static str,
        /// What the device said.
        reason: String,
    },
}

/// Errors of the regression stage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegressionError {
    /// A regressed row is not finite (never written).
    #[error("the regressed row of new token #{query} holds a non-finite value ({value}); check the inputs for NaN/Inf or try a larger --rcond")]
    NonFinite {
        /// The query index.
        query: usize,
        /// The value.
        value: f32,
    },
}
