//! Typed errors, grouped by pipeline stage. Every variant names the file, key, tensor or
//! token involved and, where there is one, how to fix it. The binary adds context with
//! `anyhow`; the library never does.

mod compute;
mod gguf;
mod inputs;
mod outputs;

pub use compute::{DeviceError, RegressionError};
pub use gguf::{CodecError, GgufError};
pub use inputs::{AuxError, PlmError, VocabError};
pub use outputs::{EvalError, OutputError, TuneError};

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Any error of the library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a GGUF container.
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// Converting tensor rows to or from f32.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// Writing an output file.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Loading, aligning or writing vocabularies.
    #[error(transparent)]
    Vocab(#[from] VocabError),
    /// Validation through llama.cpp.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// Reading the PLM's embeddings.
    #[error(transparent)]
    Plm(#[from] PlmError),
    /// Auxiliary vectors.
    #[error(transparent)]
    Aux(#[from] AuxError),
    /// The regression.
    #[error(transparent)]
    Regression(#[from] RegressionError),
    /// The compute device.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// Fitting a head.
    #[error(transparent)]
    Tune(#[from] TuneError),
    /// A method needs an input the configuration does not give.
    #[error("--method {method} needs {what}; {fix}")]
    MissingInput {
        /// The method's name.
        method: &'static str,
        /// What it needs.
        what: &'static str,
        /// How to give it.
        fix: &'static str,
    },
    /// The inputs do not allow the route asked for (trim keeps the source's own tokenizer;
    /// replacement needs another).
    #[error("{reason}; {fix}")]
    Route {
        /// What is wrong.
        reason: String,
        /// How to fix it.
        fix: &'static str,
    },
    /// The caller cancelled the run (nothing was written at the output paths).
    #[error("cancelled; nothing was written")]
    Cancelled,
    /// A stage that this version does not implement yet.
    #[error("{stage} is not implemented yet")]
    NotImplemented {
        /// The stage's name.
        stage: &'static str,
    },
}
