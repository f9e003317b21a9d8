//! The GGUF container: exact, ordered reading and writing (stages 1 and 8 of the pipeline).
//!
//! Own code rather than `gguf-rs` or ggml's `gguf_*`: a read-modify-write must keep keys and
//! tensor infos in file order, strings as raw bytes, on-disk value types, the version and
//! the alignment, and must stream untouched tensor bytes instead of loading them. `gguf-rs`
//! 0.1.8 loses types and order and loads the whole file; ggml's `gguf_*` (through FFI)
//! would work but aborts the process on some malformed input instead of returning an error.
//! The ggml *type table* (block and type sizes) does come from ggml itself, see [`crate::ggml`].

pub mod keys;
mod read;
pub mod split;
mod value;
mod value_type;
mod write;

pub use read::GgufFile;
pub use value::{Array, Kv, Value};
pub use value_type::ValueType;
pub use write::{write_gguf, GgufHeader, TensorSource};

use crate::ggml::GgmlType;

/// The four magic bytes.
pub const GGUF_MAGIC: &[u8; 4] = b"GGUF";
/// Alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml's `GGML_MAX_DIMS`.
pub const MAX_DIMS: usize = 4;
/// Deepest array nesting accepted (llama.cpp itself accepts none; we keep a few levels).
pub const MAX_ARRAY_DEPTH: usize = 8;

/// One tensor's header entry. `dims[0]` is the row width (ggml's `ne[0]`), so a
/// `[n_embd, n_vocab]` embedding has `n_vocab` rows of `n_embd` values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// Name bytes as stored.
    pub name: Vec<u8>,
    /// ggml `ne`, innermost first.
    pub dims: Vec<u64>,
    /// Storage type.
    pub ty: GgmlType,
    /// Offset of the data from the start of its file's data section.
    pub offset: u64,
    /// Which file of a split model holds the data (0 for a single file); see [`split`].
    pub part: usize,
}

impl TensorInfo {
    /// The name as text (lossy, for messages).
    #[must_use]
    pub fn name_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.name)
    }

    /// Number of values.
    #[must_use]
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().product()
    }

    /// Values per row (`ne[0]`; 1 for a scalar).
    #[must_use]
    pub fn row_width(&self) -> u64 {
        self.dims.first().copied().unwrap_or(1)
    }

    /// Number of rows (all dimensions but the first).
    #[must_use]
    pub fn n_rows(&self) -> u64 {
        self.dims.iter().skip(1).product()
    }

    /// Bytes of one row.
    #[must_use]
    pub fn row_bytes(&self) -> u64 {
        self.ty.row_bytes(self.row_width())
    }

    /// Bytes of the whole tensor.
    #[must_use]
    pub fn n_bytes(&self) -> u64 {
        self.row_bytes() * self.n_rows()
    }

    /// Checks that the shape fits its type and that sizes do not overflow.
    ///
    /// # Errors
    /// A sentence saying what is wrong.
    pub fn check_shape(&self) -> Result<(), String> {
        let block = self.ty.block_size();
        let width = self.row_width();
        if !width.is_multiple_of(block) {
            return Err(format!(
                "row width {width} is not a multiple of the {} block size {block}",
                self.ty
            ));
        }
        // Rows, row bytes and total each checked: with a zero dimension the element
        // product is 0 while the row count or the row size alone can still overflow
        // (both found by fuzzing).
        let overflow = || format!("shape {:?} overflows", self.dims);
        let mut rows: u64 = 1;
        for &d in self.dims.iter().skip(1) {
            rows = rows.checked_mul(d).ok_or_else(overflow)?;
        }
        rows.checked_mul(width).ok_or_else(overflow)?;
        (width / block)
            .checked_mul(self.ty.type_size())
            .and_then(|row| row.checked_mul(rows))
            .filter(|&b| b < (1u64 << 62))
            .ok_or_else(|| format!("shape {:?} of {} is too large", self.dims, self.ty))?;
        Ok(())
    }
}
