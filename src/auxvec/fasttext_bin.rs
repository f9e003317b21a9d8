//! fastText `.bin` models through the `fasttext` crate (pure Rust, same file format and
//! `get_word_vector` semantics as the reference implementation: word row averaged with
//! its character n-gram rows, n-grams hashed with FNV-1a over signed bytes).

use std::path::{Path, PathBuf};

use fasttext::args::{Args, LossName, ModelName};
use fasttext::FastText;

use crate::error::AuxError;

/// Settings for `--aux-train`.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// The whitespace-tokenized target-language text.
    pub text: PathBuf,
    /// Where to save the trained `.bin` (optional).
    pub save: Option<PathBuf>,
    /// Vector width (default 50).
    pub dim: i32,
    /// Epochs (default 5).
    pub epoch: i32,
    /// Minimum word count (default 5, as fastText).
    pub min_count: i32,
    /// n-gram hash buckets (default 50,000).
    pub bucket: i32,
    /// Random seed.
    pub seed: i32,
}

impl TrainOptions {
    /// Defaults for a text.
    #[must_use]
    pub fn new(text: PathBuf) -> Self {
        Self {
            text,
            save: None,
            dim: 50,
            epoch: 5,
            min_count: 5,
            bucket: 50_000,
            seed: 0,
        }
    }
}

/// Loads a fastText `.bin`.
///
/// # Errors
/// [`AuxError::Load`] naming the file.
pub fn load_fasttext(path: &Path) -> Result<FastText, AuxError> {
    let bytes = std::fs::read(path).map_err(|e| AuxError::Load {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    parse_fasttext(path, &bytes)
}

/// Reads a fastText `.bin` image (`path` names it in errors). The image is walked and
/// bounded first (see `fasttext_check`), so a corrupt file is an error, never a huge
/// allocation or a panic inside the `fasttext` crate.
///
/// # Errors
/// [`AuxError::Load`] naming `path` and what is wrong.
pub fn parse_fasttext(path: &Path, bytes: &[u8]) -> Result<FastText, AuxError> {
    let load = |reason: String| AuxError::Load {
        path: path.to_path_buf(),
        reason,
    };
    super::fasttext_check::check_fasttext_bin(bytes).map_err(load)?;
    // Only the input vectors are used (`get_word_vector`), which the training loss does
    // not touch; but loading a negative-sampling model (every skipgram model) builds a
    // 10M-entry sampling table, 40 MB, whatever the model's size. Read it as softmax.
    let mut image = bytes.to_vec();
    image[super::fasttext_check::LOSS_OFFSET..super::fasttext_check::LOSS_OFFSET + 4]
        .copy_from_slice(&(LossName::Softmax as i32).to_le_bytes());
    FastText::load(&mut std::io::Cursor::new(image)).map_err(|e| load(e.to_string()))
}

/// Trains a skipgram model on `opts.text`. One thread: Hogwild SGD with several threads
/// is not reproducible, and the same inputs must give the same output bytes.
///
/// # Errors
/// [`AuxError::Train`] naming the text (missing, empty, binary, or no word frequent enough).
pub fn train_fasttext(opts: &TrainOptions) -> Result<FastText, AuxError> {
    let text = &opts.text;
    // The same text check as every other text input (UTF-8, no NUL, not empty).
    crate::text::read_text(text).map_err(|e| AuxError::Train {
        path: text.clone(),
        reason: match e {
            crate::error::VocabError::Load { reason, .. } => reason,
            other => other.to_string(),
        },
    })?;
    let mut args = Args::new();
    args.input = text.clone();
    args.model = ModelName::SkipGram;
    args.loss = LossName::NegativeSampling;
    args.dim = opts.dim;
    args.epoch = opts.epoch;
    args.min_count = opts.min_count;
    args.bucket = opts.bucket;
    args.minn = 3;
    args.maxn = 6;
    args.thread = 1;
    args.seed = opts.seed;
    args.verbose = 0;
    let ft = FastText::train(args).map_err(|e| AuxError::Train {
        path: text.clone(),
        reason: e.to_string(),
    })?;
    if let Some(save) = &opts.save {
        ft.save_model(save).map_err(|e| AuxError::Load {
            path: save.clone(),
            reason: format!("saving: {e}"),
        })?;
    }
    Ok(ft)
}
