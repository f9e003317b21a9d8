//! The inputs' errors: tokenizers and vocabularies, the PLM's table, the auxiliary vectors.

use std::path::PathBuf;

use super::GgufError;

/// Errors loading tokenizers, aligning vocabularies and writing tokenizer metadata.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VocabError {
    /// A GGUF key is missing or malformed.
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// A tokenizer file could not be read or parsed.
    #[error("{}: {reason}", path.display())]
    Load {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// No tokenizer file in a PLM folder.
    #[error("{}: no tokenizer found (looked for tokenizer.json, *.model, vocab.txt); pass the tokenizer file itself", path.display())]
    NotFound {
        /// The folder.
        path: PathBuf,
    },
    /// A tokenizer kind this tool does not handle.
    #[error("{}: tokenizer kind {kind:?} is not supported (supported: {supported})", path.display())]
    UnsupportedKind {
        /// The file.
        path: PathBuf,
        /// The kind found.
        kind: String,
        /// What is supported.
        supported: &'static str,
    },
    /// The tokenizer could not be turned into GGUF metadata llama.cpp tokenizes the same way.
    #[error("{what}")]
    NoGgufEquivalent {
        /// Why, with the closest candidates.
        what: String,
    },
    /// The reference tokenizer failed on some text.
    #[error("reference tokenizer failed: {0}")]
    Tokenize(String),
    /// No shared tokens at all: SALT has no anchors.
    #[error("the source ({}) and target ({}) vocabularies share no token; SALT needs shared anchors (is the target tokenizer for the same script?)", source_gguf.display(), target.display())]
    NoSharedTokens {
        /// The source GGUF.
        source_gguf: PathBuf,
        /// The target tokenizer.
        target: PathBuf,
    },
}

/// Errors reading the PLM's embedding table.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlmError {
    /// The output folder does not accept new files.
    #[error("{}: the output folder is not writable ({source}); choose another --out folder", path.display())]
    NotWritable {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The operating system refused.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// No (or several) embedding files in the PLM folder.
    #[error("{}: found {found} candidate embedding files (.safetensors/.npy); name one with --plm-embeddings FILE[:TENSOR]", path.display())]
    NotFound {
        /// The folder.
        path: PathBuf,
        /// How many candidates.
        found: usize,
    },
    /// No embedding tensor under the usual names.
    #[error("{}: no embedding tensor (tried {tried}); name it with --plm-embeddings FILE:TENSOR", path.display())]
    NoTensor {
        /// The file.
        path: PathBuf,
        /// Names tried.
        tried: String,
    },
    /// Unreadable or unsupported content.
    #[error("{}: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The GGUF given as PLM is malformed.
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// The table's width differs from the width the PLM's `config.json` declares.
    #[error("{origin}: embeddings are {width} wide, but {} says {key} = {declared}; the files belong to different models: use the embeddings of this PLM", config.display())]
    WidthMismatch {
        /// File and tensor.
        origin: String,
        /// Width found.
        width: usize,
        /// The config file.
        config: PathBuf,
        /// The config key.
        key: &'static str,
        /// Its value.
        declared: u64,
    },
    /// Rows differ from the tokenizer size.
    #[error("{origin}: {rows} embedding rows, but the tokenizer has {tokens} tokens; use the embedding table that belongs to this tokenizer")]
    RowCount {
        /// File and tensor.
        origin: String,
        /// Rows found.
        rows: usize,
        /// Tokenizer size.
        tokens: usize,
    },
    /// A NaN or infinity.
    #[error("{origin}: row {row} holds a non-finite value ({value}); the embedding table is damaged: export it again")]
    NonFinite {
        /// File and tensor.
        origin: String,
        /// The row (token id).
        row: usize,
        /// The value.
        value: f32,
    },
}

/// Errors computing auxiliary vectors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuxError {
    /// A model file could not be read.
    #[error("{}: {reason}", path.display())]
    Load {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Training failed.
    #[error("{}: cannot train fastText on it: {reason}", path.display())]
    Train {
        /// The text.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// `--aux plm` without PLM embeddings.
    #[error("--aux plm needs the PLM's embeddings")]
    NoPlm,
}
