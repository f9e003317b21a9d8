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
        "gguf" => read_gguf(&file)?,
        _ => {
            return Err(PlmError::Format {
                path: file,
                reason: "expected .safetensors, .npy or .gguf".into(),
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
    if let Some(i) = table.data.iter().position(|v| !v.is_finite()) {
        return Err(PlmError::NonFinite {
            origin: table.origin,
            row: i / table.dim.max(1),
            value: table.data[i],
        });
    }
    Ok(table)
}

fn read_safetensors(path: &Path, name: Option<&str>) -> Result<EmbeddingTable, PlmError> {
    let file = std::fs::File::open(path).map_err(|e| PlmError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    // SAFETY: read-only private map of an input that must not change during the run.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| PlmError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let st = safetensors::SafeTensors::deserialize(&map).map_err(|e| PlmError::Format {
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
    if shape.len() != 2 {
        return Err(PlmError::Format {
            path: path.to_path_buf(),
            reason: format!("tensor {name} has shape {shape:?}, expected 2 dimensions"),
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

fn read_npy(path: &Path) -> Result<EmbeddingTable, PlmError> {
    use ndarray_npy::ReadNpyExt;
    let file = std::fs::File::open(path).map_err(|e| PlmError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let a = ndarray::Array2::<f32>::read_npy(std::io::BufReader::new(file)).map_err(|e| {
        PlmError::Format {
            path: path.to_path_buf(),
            reason: format!("{e} (expected a 2-D little-endian float32 array)"),
        }
    })?;
    let (rows, dim) = a.dim();
    let data = if a.is_standard_layout() {
        a.into_raw_vec_and_offset().0
    } else {
        a.iter().copied().collect()
    };
    Ok(EmbeddingTable {
        origin: path.display().to_string(),
        rows,
        dim,
        data,
    })
}

fn read_gguf(path: &Path) -> Result<EmbeddingTable, PlmError> {
    let f = GgufFile::open(path)?;
    let t = f.require_tensor(keys::TOKEN_EMBD)?;
    let rows = t.n_rows() as usize;
    let data = codec::dequantize_rows(&f, t, 0, rows).map_err(|e| PlmError::Format {
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
