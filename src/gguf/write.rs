//! Stage 8 (output): serialise a GGUF header and stream tensor data.
//!
//! Keys and tensor infos are written in the order given (a read-modify-write keeps the
//! input's order), strings as raw bytes, the given version, and every tensor at the next
//! multiple of the alignment (`general.alignment`, else 32) with zero padding, as ggml and
//! gguf-py lay files out. Untouched tensors are streamed from the input file with
//! `std::io::copy`, which the kernel does without a user-space copy.

use std::io::{Read, Seek, SeekFrom, Write};

use super::value::{Kv, Value};
use super::{GgufFile, TensorInfo, DEFAULT_ALIGNMENT};
use crate::error::GgufError;

/// What a GGUF file's header holds; tensor offsets are recomputed when written.
#[derive(Clone, Debug)]
pub struct GgufHeader {
    /// Container version.
    pub version: u32,
    /// Key-value pairs, in the order to write.
    pub kvs: Vec<Kv>,
    /// Tensor infos, in the order to write (their `offset` fields are ignored).
    pub tensors: Vec<TensorInfo>,
}

impl GgufHeader {
    /// The header of a parsed file, unchanged.
    #[must_use]
    pub fn from_file(f: &GgufFile) -> Self {
        Self {
            version: f.version,
            kvs: f.kvs.clone(),
            tensors: f.tensors.clone(),
        }
    }

    /// The alignment these keys ask for.
    #[must_use]
    pub fn alignment(&self) -> u64 {
        self.kvs
            .iter()
            .find(|kv| kv.key == super::keys::GENERAL_ALIGNMENT.as_bytes())
            .and_then(|kv| kv.value.as_int())
            .and_then(|a| u64::try_from(a).ok())
            .filter(|a| a.is_power_of_two())
            .unwrap_or(DEFAULT_ALIGNMENT)
    }

    /// Sets `key` to `value`, replacing it in place or appending it.
    pub fn set(&mut self, key: &str, value: Value) {
        match self.kvs.iter_mut().find(|kv| kv.key == key.as_bytes()) {
            Some(kv) => kv.value = value,
            None => self.kvs.push(Kv::new(key, value)),
        }
    }

    /// Removes `key` if present.
    pub fn remove(&mut self, key: &str) {
        self.kvs.retain(|kv| kv.key != key.as_bytes());
    }
}

/// Where a tensor's bytes come from.
pub enum TensorSource<'a> {
    /// Tensor `index` of a parsed input model (from whichever of its files holds it),
    /// copied byte for byte.
    Copy(&'a GgufFile, usize),
    /// New bytes (already in the tensor's ggml type).
    Bytes(Vec<u8>),
}

/// Writes `header` and the tensors' data to `out`; returns the bytes written.
///
/// `sources[i]` supplies the data of `header.tensors[i]`.
///
/// # Errors
/// [`GgufError::DataSize`] when a source's size does not match its tensor info, or
/// [`GgufError::Io`] (naming `out_name`) when writing fails.
pub fn write_gguf<W: Write>(
    out: &mut W,
    out_name: &std::path::Path,
    header: &GgufHeader,
    sources: &[TensorSource<'_>],
) -> Result<u64, GgufError> {
    assert_eq!(header.tensors.len(), sources.len(), "one source per tensor");
    let alignment = header.alignment();
    for (t, s) in header.tensors.iter().zip(sources) {
        let found = match s {
            TensorSource::Copy(f, i) => f.tensors[*i].n_bytes(),
            TensorSource::Bytes(b) => b.len() as u64,
        };
        if found != t.n_bytes() {
            return Err(GgufError::DataSize {
                tensor: t.name_str().into_owned(),
                expected: t.n_bytes(),
                found,
            });
        }
    }
    let io = |source| GgufError::Io {
        path: out_name.to_path_buf(),
        source,
    };

    let mut head = Vec::with_capacity(1 << 20);
    head.extend_from_slice(super::GGUF_MAGIC);
    head.extend_from_slice(&header.version.to_le_bytes());
    head.extend_from_slice(&(header.tensors.len() as u64).to_le_bytes());
    head.extend_from_slice(&(header.kvs.len() as u64).to_le_bytes());
    put_kvs(&mut head, &header.kvs);
    let mut offset = 0u64;
    for t in &header.tensors {
        put_str(&mut head, &t.name);
        head.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
        for d in &t.dims {
            head.extend_from_slice(&d.to_le_bytes());
        }
        head.extend_from_slice(&t.ty.id().to_le_bytes());
        head.extend_from_slice(&offset.to_le_bytes());
        offset = (offset + t.n_bytes()).next_multiple_of(alignment);
    }
    // A file without tensors has no data section and, as llama.cpp writes it, no padding.
    let padded = if header.tensors.is_empty() {
        head.len() as u64
    } else {
        (head.len() as u64).next_multiple_of(alignment)
    };
    head.resize(padded as usize, 0);
    out.write_all(&head).map_err(io)?;

    // Output offsets, to find runs of copied tensors laid out as in their source file:
    // such a run (padding included) is one kernel copy instead of one per tensor.
    let mut out_offsets = Vec::with_capacity(header.tensors.len());
    let mut o = 0u64;
    for t in &header.tensors {
        out_offsets.push(o);
        o = (o + t.n_bytes()).next_multiple_of(alignment);
    }
    let zeros = vec![0u8; alignment as usize];
    let mut written = padded;
    let mut i = 0;
    while i < sources.len() {
        let n = header.tensors[i].n_bytes();
        let pad = n.next_multiple_of(alignment) - n;
        match &sources[i] {
            TensorSource::Bytes(b) => {
                out.write_all(b).map_err(io)?;
                out.write_all(&zeros[..pad as usize]).map_err(io)?;
                written += n + pad;
                i += 1;
            }
            TensorSource::Copy(f, first) => {
                let mut j = i + 1; // one past the run's last tensor
                let part = f.tensors[*first].part;
                while let Some(TensorSource::Copy(g, k)) = sources.get(j) {
                    let same_layout = std::ptr::eq(*f, *g)
                        && g.tensors[*k].part == part
                        && g.tensors[*k].offset.checked_sub(f.tensors[*first].offset)
                            == Some(out_offsets[j] - out_offsets[i]);
                    if !same_layout {
                        break;
                    }
                    j += 1;
                }
                let last = &header.tensors[j - 1];
                let run_len = out_offsets[j - 1] - out_offsets[i] + last.n_bytes();
                copy_range(out, f.part(part), f.tensors[*first].offset, run_len).map_err(io)?;
                let pad = last.n_bytes().next_multiple_of(alignment) - last.n_bytes();
                out.write_all(&zeros[..pad as usize]).map_err(io)?;
                written += run_len + pad;
                i = j;
            }
        }
    }
    out.flush().map_err(io)?;
    Ok(written)
}

/// Streams `len` bytes of `f`'s data section from `offset` (validated at parse time: the
/// range lies within tensors and the padding between them), by kernel copy when `f` is a file.
fn copy_range<W: Write>(out: &mut W, f: &GgufFile, offset: u64, len: u64) -> std::io::Result<()> {
    let start = f.data_offset + offset;
    match f.file() {
        Some(mut file) => {
            file.seek(SeekFrom::Start(start))?;
            let n = std::io::copy(&mut file.take(len), out)?;
            if n != len {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "input file shrank during the copy",
                ));
            }
            Ok(())
        }
        None => out.write_all(&f.bytes()[start as usize..(start + len) as usize]),
    }
}

/// Appends the stored encoding of `kvs` (key, type id, value each).
pub(super) fn put_kvs(out: &mut Vec<u8>, kvs: &[Kv]) {
    for kv in kvs {
        put_str(out, &kv.key);
        out.extend_from_slice(&(kv.value.value_type() as u32).to_le_bytes());
        kv.value.put(out);
    }
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s);
}
