//! Stage 1 (input): parse a GGUF file into ordered metadata and tensor infos; tensor data
//! stays in the memory map and is borrowed, never loaded.
//!
//! Every count and length is checked against the bytes left before anything is allocated,
//! so a hostile header costs at most a small multiple of the file's size in memory.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::value::{Array, Kv, Value};
use super::value_type::ValueType;
use super::{TensorInfo, DEFAULT_ALIGNMENT, GGUF_MAGIC, MAX_ARRAY_DEPTH, MAX_DIMS};
use crate::error::GgufError;
use crate::ggml::GgmlType;

/// The bytes behind a parsed file: a read-only memory map, or a buffer (tests, fuzzing).
enum Backing {
    Map(Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Backing {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Self::Map(m) => m,
            Self::Owned(v) => v,
        }
    }
}

/// A parsed GGUF model: metadata and tensor infos in file order, data borrowed from the map.
///
/// A model split by gguf-split (`NAME-00001-of-00003.gguf`, ...) opens as one: the first
/// file's metadata without the `split.*` keys, and every part's tensors in order, each
/// tagged with its [`TensorInfo::part`] (see [`super::split`]).
pub struct GgufFile {
    path: PathBuf,
    /// The open file (used to stream unchanged tensor bytes to a writer).
    file: Option<File>,
    bytes: Backing,
    /// Container version (2 or 3).
    pub version: u32,
    /// Key-value pairs in file order.
    pub kvs: Vec<Kv>,
    /// Tensor infos in file order (of a split model: part by part).
    pub tensors: Vec<TensorInfo>,
    /// Alignment of the data section and of each tensor.
    pub alignment: u64,
    /// Offset of the data section from the start of the (first) file.
    pub data_offset: u64,
    /// The other files of a split model, in order (part 1, 2, ...); empty for one file.
    pub(super) more: Vec<GgufFile>,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("kvs", &self.kvs.len())
            .field("tensors", &self.tensors.len())
            .field("parts", &self.n_parts())
            .finish_non_exhaustive()
    }
}

impl GgufFile {
    /// Opens and parses `path`, and the other parts when it is the first file of a split
    /// model; tensor data is memory-mapped.
    ///
    /// # Errors
    /// [`GgufError`] naming the file and the field for any malformed or truncated header,
    /// and [`GgufError::BadSplit`] for a later part, a missing part or parts that disagree.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, GgufError> {
        super::split::join(Self::open_part(path)?)
    }

    /// Opens one file as it is, without looking for the other parts of a split model
    /// (its `split.*` keys stay among the metadata).
    ///
    /// # Errors
    /// As [`GgufFile::open`], [`GgufError::BadSplit`] aside.
    pub fn open_part(path: impl AsRef<Path>) -> Result<Self, GgufError> {
        let path = path.as_ref().to_path_buf();
        let io = |source| GgufError::Io {
            path: path.clone(),
            source,
        };
        let file = File::open(&path).map_err(io)?;
        // SAFETY: the map is read-only and private to this process. Another process
        // truncating the file while it is mapped would raise SIGBUS; we document that inputs
        // must not change during a run, as every mmap-based loader (llama.cpp too) does.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        Self::parse(path, Some(file), Backing::Map(map))
    }

    /// Parses a GGUF image held in memory (`name` is used in messages).
    ///
    /// # Errors
    /// As [`GgufFile::open`].
    pub fn from_bytes(name: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<Self, GgufError> {
        Self::parse(name.into(), None, Backing::Owned(bytes))
    }

    /// The path it was read from (of a split model: the first part's).
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file, when it was read from disk (of a split model: the first part).
    #[must_use]
    pub fn file(&self) -> Option<&File> {
        self.file.as_ref()
    }

    /// The whole file image (of a split model: the first part's).
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// How many files hold the model (1 unless split).
    #[must_use]
    pub fn n_parts(&self) -> usize {
        1 + self.more.len()
    }

    /// The paths of all its files, in order.
    #[must_use]
    pub fn part_paths(&self) -> Vec<&Path> {
        std::iter::once(self.path())
            .chain(self.more.iter().map(GgufFile::path))
            .collect()
    }

    /// The file holding part `part` (0 is this one).
    ///
    /// # Panics
    /// When `part` is not below [`GgufFile::n_parts`].
    #[must_use]
    pub fn part(&self, part: usize) -> &GgufFile {
        if part == 0 {
            self
        } else {
            &self.more[part - 1]
        }
    }

    /// The value of `key`, if present.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.kvs
            .iter()
            .find(|kv| kv.key == key.as_bytes())
            .map(|kv| &kv.value)
    }

    /// The tensor named `name`, if present.
    #[must_use]
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name.as_bytes())
    }

    /// Index of the tensor named `name`.
    #[must_use]
    pub fn tensor_index(&self, name: &str) -> Option<usize> {
        self.tensors.iter().position(|t| t.name == name.as_bytes())
    }

    /// The stored bytes of a tensor (bounds were checked at parse time), from the part
    /// that holds it.
    #[must_use]
    pub fn tensor_data(&self, t: &TensorInfo) -> &[u8] {
        let f = self.part(t.part);
        // Offsets and sizes were validated against the file length in `parse`.
        let start = usize::try_from(f.data_offset + t.offset).unwrap_or(usize::MAX);
        let len = usize::try_from(t.n_bytes()).unwrap_or(usize::MAX);
        &f.bytes[start..start + len]
    }

    fn parse(path: PathBuf, file: Option<File>, bytes: Backing) -> Result<Self, GgufError> {
        let mut c = Cursor {
            buf: &bytes,
            pos: 0,
            path: &path,
        };
        let magic = c.take(4, &|| "magic".into())?;
        if magic != GGUF_MAGIC {
            let mut found = [0u8; 4];
            found.copy_from_slice(magic);
            return Err(GgufError::BadMagic { path, found });
        }
        let version = c.u32(&|| "version".into())?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::UnsupportedVersion { path, version });
        }
        let n_tensors = c.u64(&|| "tensor count".into())?;
        let n_kv = c.u64(&|| "metadata key count".into())?;
        // Each key needs at least 8 (length) + 4 (type) + 1 byte; each tensor info at least
        // 8 + 4 + 8 + 4 + 8 bytes. Counts beyond that cannot be right.
        c.check_count(&|| "metadata key count".into(), n_kv, 13)?;
        c.check_count(&|| "tensor count".into(), n_tensors, 24)?;

        let mut kvs: Vec<Kv> = Vec::with_capacity(usize::try_from(n_kv).unwrap_or(0));
        let mut seen = std::collections::HashSet::new();
        for i in 0..n_kv {
            let key = c.string(&|| format!("key #{i}"))?.to_vec();
            let key_name = String::from_utf8_lossy(&key).into_owned();
            let type_id = c.u32(&|| format!("type of key {key_name:?}"))?;
            let ty = ValueType::from_u32(type_id).ok_or_else(|| GgufError::BadValueType {
                path: path.clone(),
                key: key_name.clone(),
                type_id,
            })?;
            let value = c.value(ty, &key_name, 0)?;
            if !seen.insert(key.clone()) {
                return Err(GgufError::DuplicateKey {
                    path,
                    key: key_name,
                });
            }
            kvs.push(Kv { key, value });
        }

        let alignment = match kvs
            .iter()
            .find(|kv| kv.key == super::keys::GENERAL_ALIGNMENT.as_bytes())
        {
            None => DEFAULT_ALIGNMENT,
            Some(kv) => match kv.value.as_int() {
                Some(a) if a > 0 && (a as u128).is_power_of_two() && a <= i128::from(u32::MAX) => {
                    u64::try_from(a).unwrap_or(DEFAULT_ALIGNMENT)
                }
                Some(a) => {
                    return Err(GgufError::BadAlignment {
                        path,
                        alignment: u64::try_from(a).unwrap_or(0),
                    })
                }
                None => {
                    return Err(GgufError::WrongKeyType {
                        path,
                        key: super::keys::GENERAL_ALIGNMENT.into(),
                        expected: "an integer",
                        found: kv.value.value_type().to_string(),
                    })
                }
            },
        };

        let mut tensors: Vec<TensorInfo> =
            Vec::with_capacity(usize::try_from(n_tensors).unwrap_or(0));
        let mut names = std::collections::HashSet::new();
        for i in 0..n_tensors {
            let name = c.string(&|| format!("name of tensor #{i}"))?.to_vec();
            let tname = String::from_utf8_lossy(&name).into_owned();
            let n_dims = c.u32(&|| format!("dimension count of tensor {tname:?}"))?;
            if n_dims as usize > MAX_DIMS {
                return Err(GgufError::BadTensor {
                    path,
                    tensor: tname,
                    reason: format!("{n_dims} dimensions (ggml allows at most {MAX_DIMS})"),
                });
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for d in 0..n_dims {
                dims.push(c.u64(&|| format!("dimension {d} of tensor {tname:?}"))?);
            }
            let type_id = c.u32(&|| format!("type of tensor {tname:?}"))?;
            let offset = c.u64(&|| format!("offset of tensor {tname:?}"))?;
            let Some(ty) = GgmlType::from_id(type_id) else {
                return Err(GgufError::UnknownTensorType {
                    path,
                    tensor: tname,
                    type_id,
                });
            };
            let info = TensorInfo {
                name,
                dims,
                ty,
                offset,
                part: 0,
            };
            info.check_shape().map_err(|reason| GgufError::BadTensor {
                path: path.clone(),
                tensor: tname.clone(),
                reason,
            })?;
            if offset % alignment != 0 {
                return Err(GgufError::BadTensor {
                    path,
                    tensor: tname,
                    reason: format!(
                        "offset {offset} is not a multiple of the alignment {alignment}"
                    ),
                });
            }
            if !names.insert(info.name.clone()) {
                return Err(GgufError::DuplicateTensor {
                    path,
                    tensor: tname,
                });
            }
            tensors.push(info);
        }

        let header_end = c.pos as u64;
        let data_offset = header_end.next_multiple_of(alignment);
        let file_len = bytes.len() as u64;
        if !tensors.is_empty() && data_offset > file_len {
            return Err(GgufError::Truncated {
                path,
                what: "padding before the tensor data".into(),
                offset: header_end,
                needed: data_offset - header_end,
                left: file_len - header_end,
            });
        }
        for t in &tensors {
            let end = data_offset
                .checked_add(t.offset)
                .and_then(|s| s.checked_add(t.n_bytes()));
            if end.is_none_or(|e| e > file_len) {
                return Err(GgufError::BadTensor {
                    path,
                    tensor: t.name_str().into_owned(),
                    reason: format!(
                        "data at offset {} of {} bytes runs past the end of the file ({} bytes of data)",
                        t.offset,
                        t.n_bytes(),
                        file_len.saturating_sub(data_offset)
                    ),
                });
            }
        }
        Ok(Self {
            path,
            file,
            bytes,
            version,
            kvs,
            tensors,
            alignment,
            data_offset,
            more: Vec::new(),
        })
    }
}

/// A bounds-checked little-endian reader over the file image.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn left(&self) -> u64 {
        (self.buf.len() - self.pos) as u64
    }

    fn take(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<&'a [u8], GgufError> {
        if n > self.left() {
            return Err(GgufError::Truncated {
                path: self.path.to_path_buf(),
                what: what(),
                offset: self.pos as u64,
                needed: n,
                left: self.left(),
            });
        }
        let n = n as usize; // n <= left <= usize::MAX
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N], GgufError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N as u64, what)?);
        Ok(a)
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// Refuses a count whose items, at `min_size` bytes each, cannot fit in what is left.
    fn check_count(
        &self,
        what: &dyn Fn() -> String,
        count: u64,
        min_size: u64,
    ) -> Result<(), GgufError> {
        let limit = self.left() / min_size.max(1);
        if count > limit {
            return Err(GgufError::AbsurdCount {
                path: self.path.to_path_buf(),
                what: what(),
                count,
                limit,
            });
        }
        Ok(())
    }

    fn string(&mut self, what: &dyn Fn() -> String) -> Result<&'a [u8], GgufError> {
        let len_what = || format!("length of {}", what());
        let len = self.u64(&len_what)?;
        self.check_count(&len_what, len, 1)?;
        self.take(len, what)
    }

    fn value(&mut self, ty: ValueType, key: &str, depth: usize) -> Result<Value, GgufError> {
        let what = || format!("value of {key:?}");
        let what: &dyn Fn() -> String = &what;
        Ok(match ty {
            ValueType::U8 => Value::U8(self.array::<1>(what)?[0]),
            ValueType::I8 => Value::I8(i8::from_le_bytes(self.array(what)?)),
            ValueType::U16 => Value::U16(u16::from_le_bytes(self.array(what)?)),
            ValueType::I16 => Value::I16(i16::from_le_bytes(self.array(what)?)),
            ValueType::U32 => Value::U32(u32::from_le_bytes(self.array(what)?)),
            ValueType::I32 => Value::I32(i32::from_le_bytes(self.array(what)?)),
            ValueType::F32 => Value::F32(f32::from_le_bytes(self.array(what)?)),
            ValueType::Bool => Value::Bool(self.array::<1>(what)?[0]),
            ValueType::U64 => Value::U64(u64::from_le_bytes(self.array(what)?)),
            ValueType::I64 => Value::I64(i64::from_le_bytes(self.array(what)?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(self.array(what)?)),
            ValueType::Str => Value::Str(self.string(what)?.into()),
            ValueType::Array => Value::Array(self.array_value(key, depth)?),
        })
    }

    /// An array value (element type, count, elements) of `key`, nested `depth` deep.
    fn array_value(&mut self, key: &str, depth: usize) -> Result<Array, GgufError> {
        if depth >= MAX_ARRAY_DEPTH {
            return Err(GgufError::NestingTooDeep {
                path: self.path.to_path_buf(),
                key: key.into(),
                limit: MAX_ARRAY_DEPTH,
            });
        }
        let type_id = self.u32(&|| format!("element type of {key:?}"))?;
        let elem = ValueType::from_u32(type_id).ok_or_else(|| GgufError::BadValueType {
            path: self.path.to_path_buf(),
            key: key.into(),
            type_id,
        })?;
        let count = self.u64(&|| format!("element count of {key:?}"))?;
        // Strings take at least 8 bytes, nested arrays at least 12.
        let min = elem
            .scalar_size()
            .map_or(if elem == ValueType::Str { 8 } else { 12 }, |s| s as u64);
        self.check_count(&|| format!("element count of {key:?}"), count, min)?;
        let elems_what = || format!("elements of {key:?}");
        Ok(match elem.scalar_size() {
            // Scalars (token scores and types: 262,144 each in Gemma): one bounds
            // check, one copy.
            Some(size) => {
                Array::from_raw_scalars(elem, self.take(count * size as u64, &elems_what)?)
            }
            None if elem == ValueType::Str => {
                // Walk the lengths (each checked against the bytes left), then copy
                // the whole span once.
                let begin = self.pos;
                let mut starts = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    let len = self.string(&elems_what)?.len();
                    starts.push(self.pos - len - begin);
                }
                Array::from_raw_strings(&self.buf[begin..self.pos], starts)
            }
            None => {
                let mut items = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    items.push(self.array_value(key, depth + 1)?);
                }
                Array::from_arrays(items)
            }
        })
    }
}
