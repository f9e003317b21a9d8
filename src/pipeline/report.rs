//! What a transfer reports: the counts, the trim, the device and the seconds per stage.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use crate::vocab;

use super::Method;

/// What a transfer did.
#[derive(Clone, Debug, Serialize)]
pub struct TransferReport {
    /// The output GGUF.
    pub out: String,
    /// How many files hold it (more than 1 when split; `out` is the first).
    pub files: usize,
    /// The reference tokenizer written next to it.
    pub tokenizer: String,
    /// Method.
    pub method: Method,
    /// Target vocabulary size (chat tokens included).
    pub n_vocab: usize,
    /// Source vocabulary size.
    pub source_vocab: usize,
    /// Rows copied from shared tokens.
    pub shared: usize,
    /// Special tokens copied by role.
    pub special: usize,
    /// Chat tokens appended.
    pub chat: usize,
    /// Rows from the method (regression, FOCUS, mean).
    pub regressed: usize,
    /// Rows drawn at random (no auxiliary vector, or `--method random`).
    pub random: usize,
    /// Anchors (shared tokens with a vector).
    pub anchors: usize,
    /// Tokens with an auxiliary vector.
    pub with_aux: usize,
    /// Histogram of sparsemax support sizes: k -> count.
    pub k_histogram: BTreeMap<usize, usize>,
    /// Regressions per solver path.
    pub solves: crate::regression::PathCounts,
    /// Trimming report.
    pub trim: Option<vocab::TrimReport>,
    /// With `trim_heldout`: what the trim changed on the held-out text.
    pub segmentation: Option<vocab::SegmentationChange>,
    /// Output type of `token_embd`.
    pub embd_type: String,
    /// The compute device.
    pub device: String,
    /// Output file size in bytes.
    pub bytes: u64,
    /// Seconds per stage (shared stages appear in every method's report).
    pub seconds: BTreeMap<String, f64>,
}

/// Seconds per stage.
pub(super) struct Laps {
    clock: Instant,
    pub(super) seconds: BTreeMap<String, f64>,
}

impl Laps {
    pub(super) fn new() -> Self {
        Self {
            clock: Instant::now(),
            seconds: BTreeMap::new(),
        }
    }

    pub(super) fn lap(&mut self, name: &str) {
        self.seconds
            .insert(name.to_owned(), self.clock.elapsed().as_secs_f64());
        self.clock = Instant::now();
    }
}
