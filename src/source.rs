//! Stage 1: the source model, opened and checked before any compute.
//!
//! Input: a GGUF path. Output: a [`SourceModel`]: the memory-mapped file, its architecture,
//! vocabulary, and the `token_embd` (and untied `output`) tensors, each checked to hold
//! one finite row per token. Rows come out as f32 through [`crate::codec`]; this stage
//! writes nothing.

use std::path::{Path, PathBuf};

use crate::codec;
use crate::codec::{gather_rows, row_stats};
use crate::error::{Error, GgufError};
use crate::ggml::GgmlType;
use crate::gguf::{keys, GgufFile, TensorInfo};
use crate::vocab::{self, Vocab};

/// An opened source model.
pub struct SourceModel {
    /// Its path.
    pub path: PathBuf,
    /// The file (tensors memory-mapped).
    pub file: GgufFile,
    /// `general.architecture`.
    pub arch: String,
    /// Its vocabulary.
    pub vocab: Vocab,
    /// `token_embd.weight`.
    pub embd: TensorInfo,
    /// `output.weight`, when the model stores one (untied), or after [`Self::untie`].
    pub output: Option<TensorInfo>,
    /// Whether `output` is `token_embd` itself under the name `output.weight` (a tied
    /// source untied by [`Self::untie`]): the output file gains that tensor.
    pub output_from_embd: bool,
}

/// Per-dimension mean and standard deviation of a tensor's rows (f64).
pub type MeanStd = (Vec<f64>, Vec<f64>);

/// Row statistics of both embedding tensors.
#[derive(Clone, Debug)]
pub struct RowStats {
    /// Of `token_embd`.
    pub embd: MeanStd,
    /// Of `output`, when present.
    pub output: Option<MeanStd>,
}

/// Source rows of some tokens, `[n x h_s]` each.
#[derive(Clone, Debug, Default)]
pub struct SourceRows {
    /// `token_embd` rows.
    pub embd: Vec<f32>,
    /// `output` rows (untied models).
    pub output: Option<Vec<f32>>,
}

impl SourceModel {
    /// Opens `path` and checks every requirement of the transfer: a vocabulary, a 2-D
    /// `token_embd` (and `output`) with one row per token, and finite values.
    ///
    /// # Errors
    /// [`GgufError`] naming the file, key or tensor (and the row's token for a NaN).
    pub fn open(path: &Path) -> Result<Self, Error> {
        let file = GgufFile::open(path)?;
        let arch = file.get_str(keys::GENERAL_ARCHITECTURE)?.to_owned();
        let vocab = vocab::vocab_from_gguf(&file)?;
        let embd = file.require_tensor(keys::TOKEN_EMBD)?.clone();
        let output = file.tensor(keys::OUTPUT).cloned();
        let bad = |t: &TensorInfo, reason: String| -> Error {
            GgufError::BadTensor {
                path: path.to_path_buf(),
                tensor: t.name_str().into_owned(),
                reason,
            }
            .into()
        };
        for t in std::iter::once(&embd).chain(output.as_ref()) {
            if t.dims.len() != 2 || t.n_rows() as usize != vocab.len() {
                return Err(bad(t, format!(
                    "shape {:?} does not hold one row per token ({} tokens in tokenizer.ggml.tokens); the tokenizer and the embeddings disagree: convert the model again",
                    t.dims,
                    vocab.len()
                )));
            }
        }
        // A damaged source (NaN or infinity in an embedding) would be copied or mixed into
        // the output silently; say which row instead (about 0.3 s for Gemma's table).
        for t in std::iter::once(&embd).chain(output.as_ref()) {
            if let Some((row, value)) = codec::first_non_finite_row(&file, t)? {
                return Err(bad(t, format!(
                    "row {row} (token {:?}) holds a non-finite value ({value}); the model file is damaged: download or convert it again",
                    vocab.text(row as u32)
                )));
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
            arch,
            vocab,
            embd,
            output,
            output_from_embd: false,
        })
    }

    /// For a tied source: treat `token_embd` as a separate `output.weight` too, so that
    /// the output file stores both and the output rows can follow their own rule. A
    /// source that already has an `output` is left as it is. Returns whether it untied.
    pub fn untie(&mut self) -> bool {
        if self.output.is_some() {
            return false;
        }
        self.output = Some(TensorInfo {
            name: keys::OUTPUT.as_bytes().to_vec(),
            ..self.embd.clone()
        });
        self.output_from_embd = true;
        true
    }

    /// The embedding width h_s.
    #[must_use]
    pub fn width(&self) -> usize {
        self.embd.row_width() as usize
    }

    /// `tokenizer.chat_template`, when present.
    ///
    /// # Errors
    /// [`GgufError::WrongKeyType`] when it is not a string.
    pub fn chat_template(&self) -> Result<Option<String>, GgufError> {
        Ok(self
            .file
            .opt_str(keys::TOKENIZER_CHAT_TEMPLATE)?
            .map(str::to_owned))
    }

    /// The output types of `token_embd` and `output`: `requested`, else the source's
    /// type, else its fallback when the width does not fit that type's blocks (said
    /// through `log`).
    ///
    /// # Errors
    /// [`crate::error::CodecError`] when the requested type cannot hold these rows.
    pub fn output_types(
        &self,
        requested: Option<GgmlType>,
        log: &mut dyn FnMut(&str),
    ) -> Result<(GgmlType, Option<GgmlType>), Error> {
        let embd = output_type(requested, self.embd.ty, self.width(), log)?;
        let out = match &self.output {
            Some(t) => Some(output_type(requested, t.ty, t.row_width() as usize, log)?),
            None => None,
        };
        Ok((embd, out))
    }

    /// The rows of source tokens `ids` in both tensors.
    ///
    /// # Errors
    /// [`crate::error::CodecError`] when a type cannot be dequantized.
    pub fn rows(&self, ids: &[u32]) -> Result<SourceRows, Error> {
        Ok(SourceRows {
            embd: gather_rows(&self.file, &self.embd, ids)?,
            output: match &self.output {
                Some(t) => Some(gather_rows(&self.file, t, ids)?),
                None => None,
            },
        })
    }

    /// Per-dimension statistics of both tensors (for random rows and `mean`).
    ///
    /// # Errors
    /// [`crate::error::CodecError`] when a type cannot be dequantized.
    pub fn row_stats(&self) -> Result<RowStats, Error> {
        Ok(RowStats {
            embd: row_stats(&self.file, &self.embd)?,
            output: match &self.output {
                Some(t) => Some(row_stats(&self.file, t)?),
                None => None,
            },
        })
    }
}

/// Chooses the output type of an embedding tensor: the request, else the source's type,
/// else its fallback when the width does not fit the source type's blocks.
fn output_type(
    requested: Option<GgmlType>,
    src: GgmlType,
    width: usize,
    log: &mut dyn FnMut(&str),
) -> Result<GgmlType, Error> {
    if let Some(t) = requested {
        codec::check_quantizable(t, width)?;
        return Ok(t);
    }
    if codec::check_quantizable(src, width).is_ok() {
        return Ok(src);
    }
    let fb = codec::fallback_type(src);
    codec::check_quantizable(fb, width)?;
    log(&format!(
        "{src} cannot be written here; new embedding rows use {fb}"
    ));
    Ok(fb)
}
