//! GGUF metadata values, kept exactly as stored: on-disk type, raw string bytes, order.
//!
//! Strings are raw bytes (`Vec<u8>`), never lossy UTF-8, so that a read-write round trip
//! reproduces the file byte for byte. Booleans keep their stored byte for the same reason.

use std::fmt;

/// The on-disk metadata value type id (`gguf_type` in ggml).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ValueType {
    /// `GGUF_TYPE_UINT8`
    U8 = 0,
    /// `GGUF_TYPE_INT8`
    I8 = 1,
    /// `GGUF_TYPE_UINT16`
    U16 = 2,
    /// `GGUF_TYPE_INT16`
    I16 = 3,
    /// `GGUF_TYPE_UINT32`
    U32 = 4,
    /// `GGUF_TYPE_INT32`
    I32 = 5,
    /// `GGUF_TYPE_FLOAT32`
    F32 = 6,
    /// `GGUF_TYPE_BOOL` (one byte)
    Bool = 7,
    /// `GGUF_TYPE_STRING` (u64 length + bytes)
    Str = 8,
    /// `GGUF_TYPE_ARRAY` (element type, u64 count, elements)
    Array = 9,
    /// `GGUF_TYPE_UINT64`
    U64 = 10,
    /// `GGUF_TYPE_INT64`
    I64 = 11,
    /// `GGUF_TYPE_FLOAT64`
    F64 = 12,
}

impl ValueType {
    /// Decodes a stored type id; `None` for ids GGUF does not define.
    #[must_use]
    pub fn from_u32(id: u32) -> Option<Self> {
        Some(match id {
            0 => Self::U8,
            1 => Self::I8,
            2 => Self::U16,
            3 => Self::I16,
            4 => Self::U32,
            5 => Self::I32,
            6 => Self::F32,
            7 => Self::Bool,
            8 => Self::Str,
            9 => Self::Array,
            10 => Self::U64,
            11 => Self::I64,
            12 => Self::F64,
            _ => return None,
        })
    }

    /// Size in bytes of one scalar of this type; `None` for strings and arrays.
    #[must_use]
    pub fn scalar_size(self) -> Option<usize> {
        match self {
            Self::U8 | Self::I8 | Self::Bool => Some(1),
            Self::U16 | Self::I16 => Some(2),
            Self::U32 | Self::I32 | Self::F32 => Some(4),
            Self::U64 | Self::I64 | Self::F64 => Some(8),
            Self::Str | Self::Array => None,
        }
    }

    /// Lower-case name used in messages and `salt inspect`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::U8 => "u8",
            Self::I8 => "i8",
            Self::U16 => "u16",
            Self::I16 => "i16",
            Self::U32 => "u32",
            Self::I32 => "i32",
            Self::F32 => "f32",
            Self::Bool => "bool",
            Self::Str => "string",
            Self::Array => "array",
            Self::U64 => "u64",
            Self::I64 => "i64",
            Self::F64 => "f64",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// u8
    U8(u8),
    /// i8
    I8(i8),
    /// u16
    U16(u16),
    /// i16
    I16(i16),
    /// u32
    U32(u32),
    /// i32
    I32(i32),
    /// f32
    F32(f32),
    /// The stored byte (0 false, anything else true), kept for exact round trips.
    Bool(u8),
    /// Raw bytes; GGUF says UTF-8 but files are not trusted to be. Shared (`Arc`) so that
    /// copying a header, with its hundreds of thousands of token strings, costs nothing.
    Str(std::sync::Arc<[u8]>),
    /// A homogeneous array (possibly of arrays).
    Array(Array),
    /// u64
    U64(u64),
    /// i64
    I64(i64),
    /// f64
    F64(f64),
}

/// A typed array: the element type is stored even when the array is empty.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    /// Element type as stored.
    pub elem: ValueType,
    /// Elements; each has type `elem`.
    pub items: Vec<Value>,
}

impl Value {
    /// The on-disk type of this value.
    #[must_use]
    pub fn value_type(&self) -> ValueType {
        match self {
            Self::U8(_) => ValueType::U8,
            Self::I8(_) => ValueType::I8,
            Self::U16(_) => ValueType::U16,
            Self::I16(_) => ValueType::I16,
            Self::U32(_) => ValueType::U32,
            Self::I32(_) => ValueType::I32,
            Self::F32(_) => ValueType::F32,
            Self::Bool(_) => ValueType::Bool,
            Self::Str(_) => ValueType::Str,
            Self::Array(_) => ValueType::Array,
            Self::U64(_) => ValueType::U64,
            Self::I64(_) => ValueType::I64,
            Self::F64(_) => ValueType::F64,
        }
    }

    /// Any integer type as `i128` (lossless), else `None`.
    #[must_use]
    pub fn as_int(&self) -> Option<i128> {
        Some(match *self {
            Self::U8(v) => v.into(),
            Self::I8(v) => v.into(),
            Self::U16(v) => v.into(),
            Self::I16(v) => v.into(),
            Self::U32(v) => v.into(),
            Self::I32(v) => v.into(),
            Self::U64(v) => v.into(),
            Self::I64(v) => v.into(),
            _ => return None,
        })
    }

    /// A float or integer as `f64`.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::F32(v) => Some(v.into()),
            Self::F64(v) => Some(v),
            _ => self.as_int().map(|v| v as f64),
        }
    }

    /// A boolean.
    #[must_use]
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Self::Bool(b) => Some(b != 0),
            _ => None,
        }
    }

    /// A string value from bytes.
    #[must_use]
    pub fn str(bytes: impl AsRef<[u8]>) -> Self {
        Self::Str(bytes.as_ref().into())
    }

    /// String bytes.
    #[must_use]
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    /// An array.
    #[must_use]
    pub fn as_array(&self) -> Option<&Array> {
        match self {
            Self::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Short human description: scalars in full, strings up to 60 bytes, arrays by type and length.
    #[must_use]
    pub fn brief(&self) -> String {
        match self {
            Self::Str(s) => {
                let t = String::from_utf8_lossy(s);
                if t.chars().count() > 60 {
                    format!("{:?}…", t.chars().take(60).collect::<String>())
                } else {
                    format!("{t:?}")
                }
            }
            Self::Array(a) => format!("[{}; {}]", a.elem, a.items.len()),
            Self::Bool(b) => (*b != 0).to_string(),
            Self::F32(v) => v.to_string(),
            Self::F64(v) => v.to_string(),
            other => other.as_int().map_or_else(String::new, |v| v.to_string()),
        }
    }
}

/// One key-value pair, key as raw bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Kv {
    /// The key bytes (GGUF keys are ASCII by convention, not by check).
    pub key: Vec<u8>,
    /// The value.
    pub value: Value,
}

impl Kv {
    /// A pair from a text key.
    #[must_use]
    pub fn new(key: &str, value: Value) -> Self {
        Self {
            key: key.as_bytes().to_vec(),
            value,
        }
    }

    /// The key as text (lossy, for messages).
    #[must_use]
    pub fn key_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.key)
    }
}
