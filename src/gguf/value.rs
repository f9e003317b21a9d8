//! GGUF metadata values, kept exactly as stored: on-disk type, raw string bytes, order.
//!
//! Strings are raw bytes (`Vec<u8>`), never lossy UTF-8, so that a read-write round trip
//! reproduces the file byte for byte. Booleans keep their stored byte for the same reason.

use std::sync::Arc;

use super::value_type::ValueType;

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
    Str(Arc<[u8]>),
    /// A homogeneous array (possibly of arrays).
    Array(Array),
    /// u64
    U64(u64),
    /// i64
    I64(i64),
    /// f64
    F64(f64),
}

/// A typed array, kept in its on-disk encoding.
///
/// Tokenizer arrays hold hundreds of thousands of entries (262,144 strings, scores and
/// types in Gemma). One `Value` per entry made parsing, copying and freeing a header cost
/// more than streaming the tensor data; here each array is one shared buffer (plus one
/// offset table for strings), so a header clone is a few reference counts and writing an
/// unchanged array is one `memcpy`. The element type is stored even when the array is empty.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    elem: ValueType,
    data: ArrayData,
}

#[derive(Clone, Debug, PartialEq)]
enum ArrayData {
    /// Little-endian scalars exactly as stored: `len * elem.scalar_size()` bytes.
    Scalars(Arc<[u8]>),
    /// Strings exactly as stored (u64 length, then the bytes, per item); `starts[i]` is
    /// where item `i`'s bytes begin in `raw`, so its length is the 8 bytes before.
    Strings {
        raw: Arc<[u8]>,
        starts: Arc<[usize]>,
    },
    /// Arrays of arrays (rare; no tokenizer key uses them).
    Arrays(Arc<[Array]>),
}

impl Array {
    /// Fixed-size scalars from their little-endian bytes (the reader's path).
    ///
    /// # Panics
    /// If `elem` is not a scalar type or `raw` is not a whole number of scalars.
    #[must_use]
    pub(crate) fn from_raw_scalars(elem: ValueType, raw: &[u8]) -> Self {
        let size = elem.scalar_size().expect("a scalar element type");
        assert_eq!(raw.len() % size, 0, "a whole number of scalars");
        Self {
            elem,
            data: ArrayData::Scalars(raw.into()),
        }
    }

    /// Strings from their stored encoding and the offset of each item's bytes (the
    /// reader's path; the reader has checked every length).
    #[must_use]
    pub(crate) fn from_raw_strings(raw: &[u8], starts: Vec<usize>) -> Self {
        Self {
            elem: ValueType::Str,
            data: ArrayData::Strings {
                raw: raw.into(),
                starts: starts.into(),
            },
        }
    }

    /// An array of arrays.
    #[must_use]
    pub fn from_arrays(items: Vec<Array>) -> Self {
        Self {
            elem: ValueType::Array,
            data: ArrayData::Arrays(items.into()),
        }
    }

    /// An array of strings.
    #[must_use]
    pub fn strings<I>(items: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let mut raw = Vec::new();
        let mut starts = Vec::new();
        for s in items {
            let s = s.as_ref();
            raw.extend_from_slice(&(s.len() as u64).to_le_bytes());
            starts.push(raw.len());
            raw.extend_from_slice(s);
        }
        Self::from_raw_strings(&raw, starts)
    }

    /// An array of `f32`.
    #[must_use]
    pub fn f32s(items: impl IntoIterator<Item = f32>) -> Self {
        let raw: Vec<u8> = items.into_iter().flat_map(f32::to_le_bytes).collect();
        Self::from_raw_scalars(ValueType::F32, &raw)
    }

    /// An array of `i32`.
    #[must_use]
    pub fn i32s(items: impl IntoIterator<Item = i32>) -> Self {
        let raw: Vec<u8> = items.into_iter().flat_map(i32::to_le_bytes).collect();
        Self::from_raw_scalars(ValueType::I32, &raw)
    }

    /// An array of `u8`.
    #[must_use]
    pub fn u8s(items: &[u8]) -> Self {
        Self::from_raw_scalars(ValueType::U8, items)
    }

    /// An array of type `elem` from values; `None` when a value is not of type `elem`.
    #[must_use]
    pub fn from_values(elem: ValueType, items: Vec<Value>) -> Option<Self> {
        if items.iter().any(|v| v.value_type() != elem) {
            return None;
        }
        Some(match elem {
            ValueType::Str => Self::strings(items.iter().filter_map(Value::as_bytes)),
            ValueType::Array => Self::from_arrays(
                items
                    .into_iter()
                    .filter_map(|v| match v {
                        Value::Array(a) => Some(a),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => {
                let mut raw = Vec::new();
                for v in &items {
                    v.put_scalar(&mut raw);
                }
                Self::from_raw_scalars(elem, &raw)
            }
        })
    }

    /// The element type as stored.
    #[must_use]
    pub fn elem(&self) -> ValueType {
        self.elem
    }

    /// Number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        match &self.data {
            ArrayData::Scalars(raw) => raw.len() / self.elem.scalar_size().unwrap_or(1),
            ArrayData::Strings { starts, .. } => starts.len(),
            ArrayData::Arrays(a) => a.len(),
        }
    }

    /// Whether the array has no elements.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// String `i`, when this is an array of strings and `i` is in range.
    #[must_use]
    pub fn str_at(&self, i: usize) -> Option<&[u8]> {
        match &self.data {
            ArrayData::Strings { raw, starts } => {
                let start = *starts.get(i)?;
                let mut len = [0u8; 8];
                len.copy_from_slice(&raw[start - 8..start]);
                Some(&raw[start..start + u64::from_le_bytes(len) as usize])
            }
            _ => None,
        }
    }

    /// Element `i` as a [`Value`] (allocates for strings; prefer [`Array::str_at`]).
    #[must_use]
    pub fn get(&self, i: usize) -> Option<Value> {
        match &self.data {
            ArrayData::Scalars(raw) => {
                let size = self.elem.scalar_size()?;
                let b = raw.get(i * size..(i + 1) * size)?;
                Some(Value::scalar_from_le(self.elem, b))
            }
            ArrayData::Strings { .. } => self.str_at(i).map(Value::str),
            ArrayData::Arrays(a) => a.get(i).cloned().map(Value::Array),
        }
    }

    /// The elements as values, in order.
    pub fn iter(&self) -> impl Iterator<Item = Value> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// Appends the stored encoding (element type, count, elements) to `out`.
    pub(crate) fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.elem as u32).to_le_bytes());
        out.extend_from_slice(&(self.len() as u64).to_le_bytes());
        match &self.data {
            ArrayData::Scalars(raw) | ArrayData::Strings { raw, .. } => {
                out.extend_from_slice(raw);
            }
            ArrayData::Arrays(items) => {
                for a in items.iter() {
                    a.put(out);
                }
            }
        }
    }
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

    /// Decodes one little-endian scalar of type `ty` from exactly its size in bytes.
    ///
    /// # Panics
    /// If `ty` is not a scalar type or `b` is shorter than its size.
    #[must_use]
    pub(crate) fn scalar_from_le(ty: ValueType, b: &[u8]) -> Self {
        let a4 = || [b[0], b[1], b[2], b[3]];
        let a8 = || [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
        match ty {
            ValueType::U8 => Self::U8(b[0]),
            ValueType::I8 => Self::I8(b[0] as i8),
            ValueType::Bool => Self::Bool(b[0]),
            ValueType::U16 => Self::U16(u16::from_le_bytes([b[0], b[1]])),
            ValueType::I16 => Self::I16(i16::from_le_bytes([b[0], b[1]])),
            ValueType::U32 => Self::U32(u32::from_le_bytes(a4())),
            ValueType::I32 => Self::I32(i32::from_le_bytes(a4())),
            ValueType::F32 => Self::F32(f32::from_le_bytes(a4())),
            ValueType::U64 => Self::U64(u64::from_le_bytes(a8())),
            ValueType::I64 => Self::I64(i64::from_le_bytes(a8())),
            ValueType::F64 => Self::F64(f64::from_le_bytes(a8())),
            ValueType::Str | ValueType::Array => unreachable!("only called for scalar types"),
        }
    }

    /// Appends a scalar's little-endian bytes; strings and arrays append nothing.
    fn put_scalar(&self, out: &mut Vec<u8>) {
        match self {
            Self::U8(x) | Self::Bool(x) => out.push(*x),
            Self::I8(x) => out.extend_from_slice(&x.to_le_bytes()),
            Self::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
            Self::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
            Self::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
            Self::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
            Self::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
            Self::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
            Self::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
            Self::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
            Self::Str(_) | Self::Array(_) => {}
        }
    }

    /// Appends the stored encoding of this value (without its type id) to `out`.
    pub(crate) fn put(&self, out: &mut Vec<u8>) {
        match self {
            Self::Str(s) => {
                out.extend_from_slice(&(s.len() as u64).to_le_bytes());
                out.extend_from_slice(s);
            }
            Self::Array(a) => a.put(out),
            scalar => scalar.put_scalar(out),
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
            Self::Array(a) => format!("[{}; {}]", a.elem, a.len()),
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
