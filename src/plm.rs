//! Stage 3: the target model's (PLM's) token embedding table, `[n_tokens x h_t]` f32.
//!
//! Read from a `.safetensors` file (the usual tensor names, or one named with
//! `FILE:TENSOR`), a `.npy` file, or a GGUF (`token_embd.weight`). Rows must equal the
//! tokenizer's size and every value must be finite.

use std::path::{Path, PathBuf};

use crate::codec;
use crate::error::PlmError;
use crate::ggml::GgmlType;
use crate::gguf::{keys, GgufFile};

/// Tensor names tried, in order, in a safetensors file.
pub const EMBEDDING_NAMES: [&str; 8] = [
    "embeddings.word_embeddings.weight",
    "bert.embeddings.word_embeddings.weight",
    "shared.weight",
    "encoder.embed_tokens.weight",
    "wte.weight",
    "transformer.wte.weight",
    "model.embed_tokens.weight",
    "embed_tokens.weight",
];

/// A row-major embedding table.
#[derive(Clone, Debug)]
pub struct EmbeddingTable {
    /// Where it came from (`file` or `file:tensor`).
    pub origin: String,
    /// Rows (tokens).
    pub rows: usize,
    /// Width (h_t).
    pub dim: usize,
    /// `[rows x dim]` values.
    pub data: Vec<f32>,
}

impl EmbeddingTable {
    /// Row `i`.
    #[must_use]
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// The table of rows `ids`, in that order (a trimmed vocabulary's rows).
    #[must_use]
    pub fn select(&self, ids: &[u32]) -> Self {
        Self {
            origin: self.origin.clone(),
            rows: ids.len(),
            dim: self.dim,
            data: ids
                .iter()
                .flat_map(|&o| self.row(o as usize).iter().copied())
                .collect(),
        }
    }
}

/// Finds the embedding file of a PLM folder: `model.safetensors`, `embeddings.npy`, or
/// the only `.safetensors` / `.npy` file.
fn find_embeddings(dir: &Path) -> Result<PathBuf, PlmError> {
    for name in ["model.safetensors", "embeddings.npy"] {
        if dir.join(name).is_file() {
            return Ok(dir.join(name));
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| PlmError::Io {
            path: dir.to_path_buf(),
            source: e,
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "safetensors" || x == "npy")
        })
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        _ => Err(PlmError::NotFound {
            path: dir.to_path_buf(),
            found: found.len(),
        }),
    }
}

/// Loads the embedding table of a PLM.
///
/// `plm` is a folder, a `.safetensors`/`.npy`/`.gguf` file; `explicit` (`FILE[:TENSOR]`,
/// from `--plm-embeddings`) overrides the search. `n_tokens` is the tokenizer's size.
///
/// # Errors
/// [`PlmError`] naming the file and tensor: not found, unsupported dtype, wrong row count,
/// non-finite value.
pub fn load_embeddings(
    plm: &Path,
    explicit: Option<&str>,
    n_tokens: usize,
) -> Result<EmbeddingTable, PlmError> {
    load_embeddings_from(plm, explicit, n_tokens, None)
}

/// [`load_embeddings`], reading the table from `opened` when `plm` is that GGUF (so a
/// `--plm X.gguf` is opened once for its tokenizer and its table).
///
/// # Errors
/// As [`load_embeddings`].
pub fn load_embeddings_from(
    plm: &Path,
    explicit: Option<&str>,
    n_tokens: usize,
    opened: Option<&GgufFile>,
) -> Result<EmbeddingTable, PlmError> {
    let (file, tensor) = match explicit {
        Some(spec) => match spec
            .rsplit_once(':')
            .filter(|(f, _)| Path::new(f).is_file())
        {
            Some((f, t)) => (PathBuf::from(f), Some(t.to_owned())),
            None => (PathBuf::from(spec), None),
        },
        None if plm.is_dir() => (find_embeddings(plm)?, None),
        None => (plm.to_path_buf(), None),
    };
    let ext = file
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let table = match ext.as_str() {
        "safetensors" => read_safetensors(&file, tensor.as_deref())?,
        "npy" => read_npy(&file)?,
        "gguf" => match opened.filter(|f| f.path() == file) {
            Some(f) => gguf_table(f)?,
            None => gguf_table(&GgufFile::open(&file)?)?,
        },
        _ => {
            return Err(PlmError::Format {
                path: file,
                reason: "no embedding table in it (expected .safetensors, .npy or .gguf); pass the PLM folder, or the table with --plm-embeddings FILE".into(),
            })
        }
    };
    if table.rows != n_tokens {
        return Err(PlmError::RowCount {
            origin: table.origin,
            rows: table.rows,
            tokens: n_tokens,
        });
    }
    if plm.is_dir() {
        check_declared_width(&plm.join("config.json"), &table)?;
    }
    if let Some(i) = table.data.iter().position(|v| !v.is_finite()) {
        return Err(PlmError::NonFinite {
            origin: table.origin,
            row: i / table.dim.max(1),
            value: table.data[i],
        });
    }
    Ok(table)
}

/// The hidden width keys of Hugging Face configs (BERT-likes, T5-likes, DistilBERT).
const WIDTH_KEYS: [&str; 3] = ["hidden_size", "d_model", "dim"];

/// Refuses a table whose width differs from what the PLM folder's `config.json`
/// declares (an embedding file of another model). No config, or none of the keys: no check.
fn check_declared_width(config: &Path, table: &EmbeddingTable) -> Result<(), PlmError> {
    let Ok(text) = std::fs::read_to_string(config) else {
        return Ok(());
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Ok(());
    };
    for key in WIDTH_KEYS {
        if let Some(declared) = json.get(key).and_then(serde_json::Value::as_u64) {
            if declared != table.dim as u64 {
                return Err(PlmError::WidthMismatch {
                    origin: table.origin.clone(),
                    width: table.dim,
                    config: config.to_path_buf(),
                    key,
                    declared,
                });
            }
            return Ok(());
        }
    }
    Ok(())
}

/// Maps a whole input file read-only.
fn map_file(path: &Path) -> Result<memmap2::Mmap, PlmError> {
    let io = |e| PlmError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    // SAFETY: read-only private map of an input that must not change during the run.
    unsafe { memmap2::Mmap::map(&file) }.map_err(io)
}

fn read_safetensors(path: &Path, name: Option<&str>) -> Result<EmbeddingTable, PlmError> {
    parse_safetensors(path, &map_file(path)?, name)
}

fn read_npy(path: &Path) -> Result<EmbeddingTable, PlmError> {
    parse_npy(path, &map_file(path)?)
}

/// The embedding table in a safetensors image (`path` names it in errors): tensor `name`,
/// else the first of [`EMBEDDING_NAMES`] present.
///
/// # Errors
/// [`PlmError::Format`] or [`PlmError::NoTensor`] naming `path` (and the tensor).
pub fn parse_safetensors(
    path: &Path,
    bytes: &[u8],
    name: Option<&str>,
) -> Result<EmbeddingTable, PlmError> {
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| PlmError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let name = match name {
        Some(n) => n.to_owned(),
        None => EMBEDDING_NAMES
            .iter()
            .find(|n| st.tensor(n).is_ok())
            .map(|n| (*n).to_owned())
            .ok_or_else(|| PlmError::NoTensor {
                path: path.to_path_buf(),
                tried: EMBEDDING_NAMES.join(", "),
            })?,
    };
    let t = st.tensor(&name).map_err(|_| PlmError::NoTensor {
        path: path.to_path_buf(),
        tried: name.clone(),
    })?;
    let origin = format!("{}:{name}", path.display());
    let shape = t.shape();
    if shape.len() != 2 || shape[0] == 0 || shape[1] == 0 {
        return Err(PlmError::Format {
            path: path.to_path_buf(),
            reason: format!(
                "tensor {name} has shape {shape:?}, expected 2 non-zero dimensions [tokens, width]"
            ),
        });
    }
    let (rows, dim) = (shape[0], shape[1]);
    let ty = match t.dtype() {
        safetensors::Dtype::F32 => GgmlType::F32,
        safetensors::Dtype::F16 => GgmlType::F16,
        safetensors::Dtype::BF16 => GgmlType::BF16,
        other => {
            return Err(PlmError::Format {
                path: path.to_path_buf(),
                reason: format!("tensor {name} has dtype {other:?}; supported: F32, F16, BF16"),
            })
        }
    };
    let data = codec::dequantize(ty, t.data(), dim).map_err(|e| PlmError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(EmbeddingTable {
        origin,
        rows,
        dim,
        data,
    })
}

/// The embedding table in an `.npy` image (`path` names it in errors): a 2-D
/// little-endian float32 array, C or Fortran order.
///
/// The array is viewed in place (its size checked against the bytes present) before one
/// copy, so a header that claims a huge shape costs nothing.
///
/// # Errors
/// [`PlmError::Format`] naming `path`.
pub fn parse_npy(path: &Path, bytes: &[u8]) -> Result<EmbeddingTable, PlmError> {
    use ndarray_npy::ViewNpyExt;
    let format = |reason: String| PlmError::Format {
        path: path.to_path_buf(),
        reason,
    };
    // ndarray-npy allocates the header length the file states (up to 4 GiB in format
    // 2/3) before reading it: check it against the bytes present first (found by fuzzing).
    if let (Some(b"\x93NUMPY"), Some(&major)) = (bytes.get(..6), bytes.get(6)) {
        let (prefix, len) = match major {
            1 => (
                10,
                bytes
                    .get(8..10)
                    .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]]))),
            ),
            _ => (
                12,
                bytes
                    .get(8..12)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize),
            ),
        };
        if len.is_none_or(|l| l > bytes.len().saturating_sub(prefix)) {
            return Err(format(format!(
                "the .npy header claims {} bytes but the file has {}: truncated or corrupt",
                len.unwrap_or(0),
                bytes.len()
            )));
        }
    }
    let a = ndarray::ArrayView2::<f32>::view_npy(bytes)
        .map_err(|e| format(format!("{e} (expected a 2-D little-endian float32 array)")))?;
    let (rows, dim) = a.dim();
    if rows == 0 || dim == 0 {
        return Err(format(format!(
            "shape [{rows}, {dim}]: expected 2 non-zero dimensions [tokens, width]"
        )));
    }
    let data = match a.as_slice() {
        Some(s) => s.to_vec(),
        None => a.iter().copied().collect(),
    };
    Ok(EmbeddingTable {
        origin: path.display().to_string(),
        rows,
        dim,
        data,
    })
}

fn gguf_table(f: &GgufFile) -> Result<EmbeddingTable, PlmError> {
    let path = f.path();
    let t = f.require_tensor(keys::TOKEN_EMBD)?;
    let rows = t.n_rows() as usize;
    let data = codec::dequantize_rows(f, t, 0, rows).map_err(|e| PlmError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(EmbeddingTable {
        origin: format!("{}:{}", path.display(), keys::TOKEN_EMBD),
        rows,
        dim: t.row_width() as usize,
        data,
    })
}
