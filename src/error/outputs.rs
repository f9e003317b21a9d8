//! The errors of what is written and measured: output files, a fitted head, the eval.

use std::path::PathBuf;

/// Errors creating, writing or committing an output file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// The output exists and `--force` was not given.
    #[error("{}: exists; pass --force to replace it", path.display())]
    Exists {
        /// The output path.
        path: PathBuf,
    },
    /// The output path names an input.
    #[error("{}: the output would overwrite an input; choose another --out", path.display())]
    IsInput {
        /// The output path.
        path: PathBuf,
    },
    /// The output's folder does not exist or is not a folder.
    #[error("{}: the output folder does not exist; create it first", path.display())]
    NoFolder {
        /// The folder.
        path: PathBuf,
    },
    /// The output folder does not accept new files.
    #[error("{}: the output folder is not writable ({source}); choose another --out folder", path.display())]
    NotWritable {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Another run is writing the same output now.
    #[error("{}: {holder} is writing it; wait for it to end or choose another --out", path.display())]
    Busy {
        /// The output path.
        path: PathBuf,
        /// Who holds the lock (pid and command line, as it wrote them).
        holder: String,
    },
    /// The operating system refused.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Errors fitting a head (`salt tune`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TuneError {
    /// A setting out of its range (named by its flag and its C API key).
    #[error("{name} {value}: {reason}")]
    Setting {
        /// `--flag (json_key)`.
        name: &'static str,
        /// The value given.
        value: String,
        /// The range.
        reason: &'static str,
    },
    /// The model's logits are not a plain product with the output rows.
    #[error("{}: {reason}", path.display())]
    Unsupported {
        /// The model.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The training text cannot be used.
    #[error("{}: {reason}", path.display())]
    Text {
        /// The text.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A training checkpoint that cannot be resumed.
    #[error("{}: {reason}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// Why (unreadable, or written for other inputs or settings).
        reason: String,
    },
    /// The hidden-state cache could not be written.
    #[error("{}: writing the hidden-state cache: {source}; give another --cache folder or --no-cache", path.display())]
    Cache {
        /// The cache file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Errors of the llama.cpp validation stage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// llama.cpp's backend did not initialise.
    #[error("llama.cpp backend: {0}")]
    Backend(String),
    /// llama.cpp could not load a model.
    #[error("{}: {reason}", path.display())]
    Load {
        /// The model.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The reference tokenizer failed.
    #[error("reference tokenizer: {0}")]
    Reference(String),
    /// The text cannot be scored.
    #[error("{}: {reason}", path.display())]
    Text {
        /// The text file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// llama.cpp failed while computing.
    #[error("llama.cpp: {0}")]
    Compute(String),
    /// The row named for the paired differences is none of the table's.
    #[error("--pair-with {label}: no model has this label (the labels: {labels})")]
    PairWith {
        /// The label asked for.
        label: String,
        /// The table's labels, comma-separated.
        labels: String,
    },
}
