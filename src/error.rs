//! Typed errors, grouped by pipeline stage. Every variant names the file, key, tensor or
//! token involved and, where there is one, how to fix it. The binary adds context with
//! `anyhow`; the library never does.

use std::path::PathBuf;

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

/// Errors of the GGUF container reader and writer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GgufError {
    /// The operating system refused a read or write.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The first four bytes are not `GGUF`.
    #[error("{}: not a GGUF file (magic {found:02x?}, expected \"GGUF\"); pass a .gguf model (convert others with llama.cpp's convert_hf_to_gguf.py)", path.display())]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The bytes found.
        found: [u8; 4],
    },
    /// A version this reader does not handle.
    #[error("{}: GGUF version {version} is not supported (versions 2 and 3 are; a byte-swapped number means a big-endian file, which llama.cpp does not load on this machine either)", path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version read.
        version: u32,
    },
    /// The file ends before a field that the header promises.
    #[error("{}: truncated while reading {what} at byte {offset}: needs {needed} bytes, {left} left; the file is incomplete (download or convert it again)", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The field.
        what: String,
        /// Where it starts.
        offset: u64,
        /// Bytes it needs.
        needed: u64,
        /// Bytes left in the file.
        left: u64,
    },
    /// A count or length that cannot be right for a file of this size.
    #[error("{}: {what} is {count}, more than the rest of this file can hold (at most {limit}); the file is truncated or corrupt (download or convert it again)", path.display())]
    AbsurdCount {
        /// The file.
        path: PathBuf,
        /// The field.
        what: String,
        /// The value read.
        count: u64,
        /// The largest plausible value.
        limit: u64,
    },
    /// A metadata value type id that GGUF does not define.
    #[error("{}: key {key:?} has unknown value type {type_id}", path.display())]
    BadValueType {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// The type id read.
        type_id: u32,
    },
    /// Arrays nested deeper than the reader allows.
    #[error("{}: key {key:?} nests arrays deeper than {limit}", path.display())]
    NestingTooDeep {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// The limit.
        limit: usize,
    },
    /// The same key twice (llama.cpp refuses such files).
    #[error("{}: duplicate key {key:?}", path.display())]
    DuplicateKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
    },
    /// The same tensor name twice.
    #[error("{}: duplicate tensor {tensor:?}", path.display())]
    DuplicateTensor {
        /// The file.
        path: PathBuf,
        /// The tensor.
        tensor: String,
    },
    /// A ggml type id that this build's ggml does not know (or a removed one).
    #[error("{}: tensor {tensor:?} has ggml type {type_id}, which this build's ggml does not know (removed or newer than llama.cpp here)", path.display())]
    UnknownTensorType {
        /// The file.
        path: PathBuf,
        /// The tensor.
        tensor: String,
        /// The type id.
        type_id: u32,
    },
    /// A tensor whose shape, offset or size is inconsistent.
    #[error("{}: tensor {tensor:?}: {reason}", path.display())]
    BadTensor {
        /// The file.
        path: PathBuf,
        /// The tensor.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
    /// `general.alignment` is not a power of two.
    #[error("{}: general.alignment is {alignment}; it must be a non-zero power of two", path.display())]
    BadAlignment {
        /// The file.
        path: PathBuf,
        /// The value read.
        alignment: u64,
    },
    /// A required key is absent.
    #[error("{}: missing metadata key {key:?}", path.display())]
    MissingKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
    },
    /// A key holds a value of another type than expected.
    #[error("{}: key {key:?} is {found}, expected {expected}", path.display())]
    WrongKeyType {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: String,
    },
    /// The files of a split model do not make one model.
    #[error("{}: {reason}", path.display())]
    BadSplit {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A required tensor is absent.
    #[error("{}: missing tensor {tensor:?}; pass a complete model GGUF (not a vocabulary-only file)", path.display())]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The tensor.
        tensor: String,
    },
    /// The writer was given tensor data of the wrong size.
    #[error("tensor {tensor:?}: data is {found} bytes, its shape and type need {expected}")]
    DataSize {
        /// The tensor.
        tensor: String,
        /// Bytes the shape needs.
        expected: u64,
        /// Bytes given.
        found: u64,
    },
}

/// Errors converting rows between ggml types and f32.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// ggml has no dequantizer or quantizer for this type.
    #[error("ggml type {ty} cannot be {op} here; use {fallback}")]
    Unsupported {
        /// The type's name.
        ty: String,
        /// "dequantized" or "quantized".
        op: &'static str,
        /// A type that works.
        fallback: String,
    },
    /// The type's quantizer needs an importance matrix, which this tool does not compute.
    #[error("quantizing to {ty} needs an importance matrix; use {fallback} (or --embd-type q8_0)")]
    NeedsImatrix {
        /// The type's name.
        ty: String,
        /// A type that works.
        fallback: String,
    },
    /// The row width is not a multiple of the type's block size.
    #[error("rows of {width} values cannot be stored as {ty} (blocks of {block}); use {fallback}")]
    BlockMismatch {
        /// The type's name.
        ty: String,
        /// The row width.
        width: usize,
        /// The block size.
        block: usize,
        /// A type that works.
        fallback: String,
    },
    /// A row range outside the tensor.
    #[error("tensor {tensor:?}: rows {start}..{end} requested, it has {rows}")]
    RowRange {
        /// The tensor.
        tensor: String,
        /// First row.
        start: usize,
        /// One past the last row.
        end: usize,
        /// Rows in the tensor.
        rows: usize,
    },
    /// A non-finite value in a row to be written.
    #[error("row {row} of {what} holds a non-finite value ({value})")]
    NonFinite {
        /// Which matrix.
        what: String,
        /// The row.
        row: usize,
        /// The value.
        value: f32,
    },
}

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
