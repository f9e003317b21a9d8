//! The GGUF provenance contract: the `salt.*` keys every output carries (what made it,
//! from which inputs, with which settings), the per-token row classes, and the input
//! hashes. Transfer, tune and train write these keys; eval reads them for its labels and
//! its loss split. Nothing here knows a stage's configuration: the hashes take paths.

use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::GgufError;

/// The `salt.*` metadata keys.
pub mod key {
    /// `salt.version`: the salt version that wrote the file.
    pub const VERSION: &str = "salt.version";
    /// `salt.method`: the route or initialiser (`trim`, `fvt`, `salt-centred`, ...).
    pub const METHOD: &str = "salt.method";
    /// `salt.source`: the source GGUF's file name.
    pub const SOURCE: &str = "salt.source";
    /// `salt.source_sha256`: the source's sha256 (of all its files, for a split model).
    pub const SOURCE_SHA256: &str = "salt.source_sha256";
    /// `salt.target_tokenizer`: the target tokenizer's file name.
    pub const TARGET_TOKENIZER: &str = "salt.target_tokenizer";
    /// `salt.target_tokenizer_sha256`: its sha256.
    pub const TARGET_TOKENIZER_SHA256: &str = "salt.target_tokenizer_sha256";
    /// `salt.trim_to`: the text the vocabulary was trimmed to.
    pub const TRIM_TO: &str = "salt.trim_to";
    /// `salt.trim_to_sha256`: its sha256.
    pub const TRIM_TO_SHA256: &str = "salt.trim_to_sha256";
    /// `salt.trim_scripts`: the scripts whose every piece a trim kept, comma-joined.
    pub const TRIM_SCRIPTS: &str = "salt.trim_scripts";
    /// `salt.aux`: the auxiliary embeddings the neighbours came from.
    pub const AUX: &str = "salt.aux";
    /// `salt.rcond`: the regression's relative singular-value cutoff.
    pub const RCOND: &str = "salt.rcond";
    /// `salt.seed`: the seed of the random rows.
    pub const SEED: &str = "salt.seed";
    /// `salt.shared`: rows copied from the source (shared pieces).
    pub const SHARED: &str = "salt.shared";
    /// `salt.regressed`: rows the method made.
    pub const REGRESSED: &str = "salt.regressed";
    /// `salt.random`: rows drawn at random.
    pub const RANDOM: &str = "salt.random";
    /// `salt.specials`: special and chat tokens' rows copied from the source.
    pub const SPECIALS: &str = "salt.specials";
    /// `salt.token_class`: one [`super::RowClass`] code (`u8`) per token.
    pub const TOKEN_CLASS: &str = "salt.token_class";
    /// `salt.output_method`: the output rows' own rule, when they had one.
    pub const OUTPUT_METHOD: &str = "salt.output_method";
    /// `salt.untied`: set when a tied source was given its own `output.weight`.
    pub const UNTIED: &str = "salt.untied";
    /// `salt.head`: set (`fit`) when `salt tune` fitted the output rows.
    pub const HEAD: &str = "salt.head";
    /// `salt.head_base`: the GGUF the head was fitted on.
    pub const HEAD_BASE: &str = "salt.head_base";
    /// `salt.head_text`: the head's training text.
    pub const HEAD_TEXT: &str = "salt.head_text";
    /// `salt.head_text_sha256`: its sha256.
    pub const HEAD_TEXT_SHA256: &str = "salt.head_text_sha256";
    /// `salt.head_fit`: the rows fitted (`--rows`).
    pub const HEAD_FIT: &str = "salt.head_fit";
    /// `salt.head_rows`: how many rows were fitted.
    pub const HEAD_ROWS: &str = "salt.head_rows";
    /// `salt.head_positions`: the training positions of the fit.
    pub const HEAD_POSITIONS: &str = "salt.head_positions";
    /// `salt.head_l2`: the L2 pull toward the initial rows.
    pub const HEAD_L2: &str = "salt.head_l2";
    /// `salt.head_inputs`: what became of the fitted tokens' input rows (`--inputs`).
    pub const HEAD_INPUTS: &str = "salt.head_inputs";
    /// `salt.train_base`: the GGUF whose rows `salt train` trained.
    pub const TRAIN_BASE: &str = "salt.train_base";
    /// `salt.train_text`: the training text.
    pub const TRAIN_TEXT: &str = "salt.train_text";
    /// `salt.train_text_sha256`: its sha256.
    pub const TRAIN_TEXT_SHA256: &str = "salt.train_text_sha256";
    /// `salt.train_rows`: the rows trained (`--rows`).
    pub const TRAIN_ROWS: &str = "salt.train_rows";
    /// `salt.train_steps`: the steps run.
    pub const TRAIN_STEPS: &str = "salt.train_steps";
    /// `salt.train_best_step`: the step whose rows were written.
    pub const TRAIN_BEST_STEP: &str = "salt.train_best_step";
    /// `salt.train_lr_input`: the input rows' rate (a fraction of their RMS).
    pub const TRAIN_LR_INPUT: &str = "salt.train_lr_input";
    /// `salt.train_lr_output`: the output rows' rate.
    pub const TRAIN_LR_OUTPUT: &str = "salt.train_lr_output";
    /// `salt.train_decay`: the rates' factor at each stalled validation.
    pub const TRAIN_DECAY: &str = "salt.train_decay";
    /// `salt.train_ctx`: tokens per window.
    pub const TRAIN_CTX: &str = "salt.train_ctx";
    /// `salt.train_seed`: the seed of the window order.
    pub const TRAIN_SEED: &str = "salt.train_seed";
    /// `salt.train_val_text`: the validation text of another domain.
    pub const TRAIN_VAL_TEXT: &str = "salt.train_val_text";
}

/// How a token's row came about, as `salt.token_class` stores it (one `u8` per token)
/// and `salt eval` splits the loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RowClass {
    /// A piece shared with the source: its source row (0).
    Shared = 0,
    /// A new piece with the method's row (1).
    Initialised = 1,
    /// A new piece with a seeded random row (2).
    Random = 2,
    /// A special or chat token with its source row (3).
    Special = 3,
}

impl RowClass {
    /// Every class, by code.
    pub const ALL: [RowClass; 4] = [Self::Shared, Self::Initialised, Self::Random, Self::Special];

    /// The class stored as `code`.
    #[must_use]
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(code as usize).copied()
    }

    /// Its name in reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Shared => "shared",
            Self::Initialised => "initialised",
            Self::Random => "random",
            Self::Special => "special",
        }
    }
}

/// Which rows `salt tune` fits and `salt train` trains, as `salt.head_fit` and
/// `salt.train_rows` record them (`--rows`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FitRows {
    /// Every row (shared tokens' output side included: most of the gain, README).
    All,
    /// Only the rows of new tokens (`salt.token_class` initialised or random).
    New,
    /// Every row but the shared tokens' (new, random, special and chat tokens): the
    /// shared rows keep the source's output side, which a head fitted on one domain's
    /// text would bend toward it (README, the constitution).
    Unshared,
}

impl FitRows {
    /// Every choice, in `--rows` order.
    pub const ALL: [Self; 3] = [Self::All, Self::New, Self::Unshared];
    /// What [`crate::tune::TuneConfig::new`] and `salt tune` fit unless told otherwise: on Korean
    /// Gemma it keeps most of `All`'s gain on the training domain and, unlike `All`, helps
    /// on Korean text of another domain (README: how it was chosen).
    pub const DEFAULT: Self = Self::Unshared;

    /// Its `--rows` name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::New => "new",
            Self::Unshared => "unshared",
        }
    }

    /// The choice named `name` (its `--rows` name), if any.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Every name, comma-separated, for the front ends' error messages.
    #[must_use]
    pub fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }

    /// The `salt.token_class` codes whose rows are fitted; `None` for every row.
    pub(crate) fn classes(self) -> Option<&'static [RowClass]> {
        match self {
            Self::All => None,
            Self::New => Some(&[RowClass::Initialised, RowClass::Random]),
            Self::Unshared => Some(&[RowClass::Initialised, RowClass::Random, RowClass::Special]),
        }
    }
}

/// A file's name for provenance keys.
#[must_use]
pub fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// (file name, sha256 hex) of an input.
///
/// # Errors
/// [`GgufError::Io`] naming the file.
pub fn name_and_sha256(p: &Path) -> Result<(String, String), GgufError> {
    name_and_sha256_parts(&[p])
}

/// (first file's name, sha256 hex of all the files' bytes one after the other) of an
/// input held in several files (a split model).
///
/// # Errors
/// [`GgufError::Io`] naming the file.
pub fn name_and_sha256_parts(parts: &[&Path]) -> Result<(String, String), GgufError> {
    let mut h = Sha256::new();
    for p in parts {
        let io = |e| GgufError::Io {
            path: p.to_path_buf(),
            source: e,
        };
        let mut f = std::fs::File::open(p).map_err(io)?;
        std::io::copy(&mut f, &mut h).map_err(io)?;
    }
    let name = parts.first().map(|p| file_name(p)).unwrap_or_default();
    Ok((name, format!("{:x}", h.finalize())))
}

/// Names and hashes of a transfer's inputs, for the provenance keys of every output.
#[derive(Clone, Debug)]
pub struct InputHashes {
    /// The source, hashed over all its files in order (a split source has several).
    pub source: (String, String),
    /// The target tokenizer (the source's own for the trim route).
    pub tokenizer: (String, String),
    /// The text the vocabulary was trimmed to.
    pub trim_to: Option<(String, String)>,
}

impl InputHashes {
    /// Hashes `source_parts`, `tokenizer` (`None`: the source's own) and `trim_to`.
    ///
    /// # Errors
    /// [`GgufError`] naming a file that cannot be read.
    pub fn of(
        source_parts: &[&Path],
        tokenizer: Option<&Path>,
        trim_to: Option<&Path>,
    ) -> Result<Self, GgufError> {
        let source = name_and_sha256_parts(source_parts)?;
        let tokenizer = match tokenizer {
            Some(t) => name_and_sha256(t)?,
            None => source.clone(),
        };
        Ok(Self {
            source,
            tokenizer,
            trim_to: trim_to.map(name_and_sha256).transpose()?,
        })
    }
}
