//! Stage 4: auxiliary static vectors f(token) for every target token (docs/method.md section 2).
//!
//! Input: the target tokens' canonical keys and an auxiliary source (fastText `.bin`,
//! `.vec`, a text to train fastText on, or the PLM's own embeddings).
//! Output: `[n_target x dim]` f32 vectors and, per token, whether it has one. The looked-up
//! text is the key decoded as UTF-8 with surrounding whitespace removed; keys that are not
//! UTF-8 or empty after trimming have no vector, and a zero vector counts as none.

mod fasttext_bin;
mod fasttext_check;
mod vec_text;

use std::path::PathBuf;

pub use fasttext_bin::{load_fasttext, parse_fasttext, train_fasttext, TrainOptions};

use crate::error::AuxError;
use crate::plm::EmbeddingTable;

/// Where the auxiliary vectors come from.
#[derive(Clone, Debug)]
pub enum AuxSource {
    /// A fastText `.bin` model with subword n-grams (exact `get_word_vector`).
    FastTextBin(PathBuf),
    /// A fastText `.vec` text file (whole words only).
    VecText(PathBuf),
    /// Train a skipgram fastText on a whitespace-tokenized text first.
    Train(TrainOptions),
    /// The PLM's own embedding space (a deviation from the paper, for when no fastText
    /// model exists: neighbours are then PLM-space neighbours).
    Plm,
}

/// One vector per target token (zeros where `has` is false).
#[derive(Clone, Debug)]
pub struct AuxVectors {
    /// Vector width.
    pub dim: usize,
    /// `[n x dim]` values.
    pub data: Vec<f32>,
    /// Whether token i has a vector.
    pub has: Vec<bool>,
}

impl AuxVectors {
    /// Row `i`.
    #[must_use]
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Tokens with a vector.
    #[must_use]
    pub fn count(&self) -> usize {
        self.has.iter().filter(|h| **h).count()
    }

    fn from_lookup(
        keys: &[Option<Vec<u8>>],
        dim: usize,
        mut f: impl FnMut(&str, &mut [f32]) -> bool,
    ) -> Self {
        let mut data = vec![0f32; keys.len() * dim];
        let mut has = vec![false; keys.len()];
        for (i, key) in keys.iter().enumerate() {
            let Some(text) = key
                .as_deref()
                .and_then(|k| std::str::from_utf8(k).ok())
                .map(str::trim)
            else {
                continue;
            };
            if text.is_empty() {
                continue;
            }
            let row = &mut data[i * dim..(i + 1) * dim];
            if f(text, row) && row.iter().any(|v| *v != 0.0) {
                has[i] = true;
            } else {
                row.fill(0.0);
            }
        }
        Self { dim, data, has }
    }
}

/// fastText's `get_word_vector` for every key.
fn from_fasttext(ft: &fasttext::FastText, keys: &[Option<Vec<u8>>]) -> AuxVectors {
    AuxVectors::from_lookup(keys, ft.get_dimension() as usize, |w, out| {
        ft.get_word_vector_into(w, out);
        true
    })
}

/// The auxiliary vectors of every token of `vocab`, looked up by its canonical key.
///
/// # Errors
/// As [`aux_vectors`].
pub fn for_vocab(
    source: &AuxSource,
    vocab: &crate::vocab::Vocab,
    plm: Option<&EmbeddingTable>,
) -> Result<AuxVectors, AuxError> {
    let gpt2 = crate::vocab::gpt2_byte_decoder();
    let keys: Vec<Option<Vec<u8>>> = vocab
        .tokens
        .iter()
        .map(|t| crate::vocab::canonical_key(vocab.kind, t, &gpt2))
        .collect();
    aux_vectors(source, &keys, plm)
}

impl AuxSource {
    /// What `--aux` / `"aux"` names: `plm`, a `.vec` or `.txt` text file of vectors, or
    /// else a fastText `.bin` (by the file's extension, in both front ends).
    #[must_use]
    pub fn from_arg(arg: &str) -> Self {
        if arg == "plm" {
            return Self::Plm;
        }
        let path = PathBuf::from(arg);
        match path.extension().and_then(|e| e.to_str()) {
            Some("vec" | "txt") => Self::VecText(path),
            _ => Self::FastTextBin(path),
        }
    }

    /// How `salt.aux` names it: the file's name, `train:TEXT` or `plm`.
    #[must_use]
    pub fn provenance(&self) -> String {
        let name = |p: &std::path::Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        match self {
            Self::FastTextBin(p) | Self::VecText(p) => name(p),
            Self::Train(o) => format!("train:{}", name(&o.text)),
            Self::Plm => "plm".into(),
        }
    }
}

/// Computes the auxiliary vectors of the target tokens with canonical keys `keys`.
///
/// # Errors
/// [`AuxError`] naming the file when a model cannot be read, trained or is empty.
pub fn aux_vectors(
    source: &AuxSource,
    keys: &[Option<Vec<u8>>],
    plm: Option<&EmbeddingTable>,
) -> Result<AuxVectors, AuxError> {
    match source {
        AuxSource::FastTextBin(path) => Ok(from_fasttext(&load_fasttext(path)?, keys)),
        AuxSource::Train(opts) => Ok(from_fasttext(&train_fasttext(opts)?, keys)),
        AuxSource::VecText(path) => {
            let table = vec_text::read_vec(path)?;
            Ok(AuxVectors::from_lookup(
                keys,
                table.dim,
                |w, out| match table.words.get(w) {
                    Some(&r) => {
                        out.copy_from_slice(&table.data[r * table.dim..(r + 1) * table.dim]);
                        true
                    }
                    None => false,
                },
            ))
        }
        AuxSource::Plm => {
            let plm = plm.ok_or(AuxError::NoPlm)?;
            let mut has = vec![false; keys.len()];
            for (i, h) in has.iter_mut().enumerate() {
                *h = keys[i].is_some() && plm.row(i).iter().any(|v| *v != 0.0);
            }
            Ok(AuxVectors {
                dim: plm.dim,
                data: plm.data.clone(),
                has,
            })
        }
    }
}
