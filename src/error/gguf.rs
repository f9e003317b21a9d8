//! The container's errors: reading and writing GGUF, and converting its rows.

use std::path::PathBuf;

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
