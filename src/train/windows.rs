//! The text side of training: windows of the training text under the model's own
//! tokenizer (llama.cpp's), split into training windows and validation windows from its
//! end, and the validation windows of a text of another domain.

use std::path::Path;

use crate::error::{Error, TuneError};
use crate::tune::hidden::spread;

/// Token windows, each starting with BOS when the model adds one.
pub struct Windows {
    /// Training windows, in text order.
    pub train: Vec<Vec<u32>>,
    /// Validation windows, spread over the last `val_share` of the training text.
    pub val: Vec<Vec<u32>>,
    /// Validation windows spread over `--val-text`.
    pub other: Option<Vec<Vec<u32>>>,
}

impl Windows {
    /// Windows of `ctx` tokens of `train` under `model`'s tokenizer: the last `val_share`
    /// of them give `n_val` validation windows, and `val_text` as many.
    ///
    /// # Errors
    /// [`TuneError::Text`] for a text too short; llama.cpp's and the reader's errors.
    pub fn read(
        model: &Path,
        train: &Path,
        val_text: Option<&Path>,
        ctx: usize,
        val_share: f64,
        n_val: usize,
    ) -> Result<Self, Error> {
        let wins = text_windows(model, train, ctx)?;
        let kept =
            ((wins.len() as f64 * val_share).ceil() as usize).min(wins.len().saturating_sub(1));
        if kept == 0 {
            return Err(TuneError::Text {
                path: train.to_path_buf(),
                reason: format!(
                    "{} window(s) of {ctx} tokens: training needs at least two (one is kept for validation)",
                    wins.len()
                ),
            }
            .into());
        }
        let (train_part, val_part) = wins.split_at(wins.len() - kept);
        let other = match val_text {
            Some(p) => {
                let w = text_windows(model, p, ctx)?;
                if w.is_empty() {
                    return Err(TuneError::Text {
                        path: p.to_path_buf(),
                        reason: format!("shorter than one window of {ctx} tokens"),
                    }
                    .into());
                }
                Some(pick(&w, n_val))
            }
            None => None,
        };
        Ok(Self {
            train: train_part.to_vec(),
            val: pick(val_part, n_val),
            other,
        })
    }
}

/// `n` windows spread evenly over `wins`.
fn pick(wins: &[Vec<u32>], n: usize) -> Vec<Vec<u32>> {
    spread(wins.len(), n)
        .into_iter()
        .map(|i| wins[i].clone())
        .collect()
}

/// The windows of `path`'s text under `model`'s tokenizer.
fn text_windows(model: &Path, path: &Path, ctx: usize) -> Result<Vec<Vec<u32>>, Error> {
    let text = crate::text::read_text(path)?;
    let lm = crate::llama::load_vocab_only(model)?;
    let vocab = lm.vocab();
    let tokens = vocab.tokenize(text.as_bytes(), false, false);
    let bos = vocab.should_add_bos().then(|| vocab.bos());
    Ok(crate::llama::windows(&tokens, bos, ctx)
        .into_iter()
        .map(|(w, _)| w.iter().map(|t| t.0 as u32).collect())
        .collect())
}
