//! What a transfer reports: the counts, the trim, the device and the seconds per stage.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use crate::init::NewRows;
use crate::output::OutputSet;
use crate::vocab;

use super::prepare::Shared;
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

/// The report of one output.
pub(super) fn report(
    sh: &Shared<'_>,
    method: Method,
    rows: &NewRows,
    planned: &crate::assemble::RowPlan,
    out: &OutputSet,
    bytes: u64,
    laps: &Laps,
) -> TransferReport {
    // Neighbour figures belong to the methods that use neighbours.
    let nbrs = sh.nbrs.map(|n| &n.0).filter(|_| method.needs().neighbours);
    let target = sh.target;
    let s = &target.alignment.stats;
    TransferReport {
        out: out.gguf_path.display().to_string(),
        files: out.gguf_files(),
        tokenizer: out.tokenizer_path.display().to_string(),
        method,
        n_vocab: target.vocab.len(),
        source_vocab: sh.source.vocab.len(),
        shared: s.shared,
        special: s.special,
        chat: s.chat,
        regressed: planned.from_method,
        random: planned.random,
        anchors: rows.anchors,
        with_aux: nbrs.map_or(0, |n| n.with_aux),
        k_histogram: rows.k_histogram(),
        solves: rows.solves,
        trim: target.selection.trim.clone(),
        segmentation: target.selection.segmentation.clone(),
        embd_type: sh.types.0.to_string(),
        device: sh.device.name(),
        bytes,
        seconds: laps.seconds.clone(),
    }
}
