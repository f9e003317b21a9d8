//! What a transfer needs, resolved: [`TransferConfig`], one part per stage, and the output
//! naming.

use std::path::{Path, PathBuf};

use crate::auxvec::AuxSource;
use crate::device::DeviceChoice;
use crate::ggml::GgmlType;
use crate::init::InitParams;
use crate::init::Method;
use crate::output::method_path;
use crate::vocab;
use crate::vocab::TrimSpec;

/// Everything a transfer needs, resolved, grouped by the stage that reads it (as
/// [`crate::tune::TuneConfig`] is): each stage is handed its own part.
#[derive(Clone, Debug)]
pub struct TransferConfig {
    /// Stage 1: the source GGUF.
    pub source: PathBuf,
    /// Stages 2-3: the target vocabulary and the PLM's rows.
    pub target: TargetConfig,
    /// Stages 4-5: auxiliary vectors and neighbours.
    pub neighbours: NeighbourConfig,
    /// Stage 6: the new rows.
    pub init: InitConfig,
    /// Stages 7-8: the files written.
    pub output: OutputConfig,
    /// Where neighbours and regressions run (stages 5-6).
    pub device: DeviceChoice,
}

/// Stages 2-3: the target tokenizer, its trim, and the PLM's embedding table.
#[derive(Clone, Debug)]
pub struct TargetConfig {
    /// The PLM (folder, tokenizer file, or GGUF); the source itself for the trim route.
    pub plm: PathBuf,
    /// `--plm-embeddings FILE[:TENSOR]`.
    pub plm_embeddings: Option<String>,
    /// Trim the target vocabulary to this text.
    pub trim_to: Option<PathBuf>,
    /// With `trim_to`: minimum count.
    pub trim_min_count: usize,
    /// With `trim_to`: the pieces kept besides those the text uses (by default every
    /// single-character piece of digits, ASCII and common punctuation).
    pub trim_keep: vocab::TrimKeep,
    /// With `trim_to`: held-out text on which to count lines the trim segments
    /// differently, and new unknown tokens.
    pub trim_heldout: Option<PathBuf>,
    /// Append the source's chat-template control tokens (`None`: when it has a template).
    pub keep_chat_tokens: Option<bool>,
}

/// Stages 4-5: the auxiliary vectors and the neighbour supports.
#[derive(Clone, Debug, Default)]
pub struct NeighbourConfig {
    /// Auxiliary vectors (`None`: only methods without neighbours can run).
    pub aux: Option<AuxSource>,
    /// Keep at most K neighbours.
    pub max_k: Option<usize>,
}

/// Stage 6: how the new rows are made.
#[derive(Clone, Debug)]
pub struct InitConfig {
    /// Initialisation method of [`super::transfer`].
    pub method: Method,
    /// The rule for the new rows of `output` (`None`: the method's own rows); needs an
    /// untied source or [`OutputConfig::untie`].
    pub output_method: Option<Method>,
    /// Seed for random rows.
    pub seed: u64,
    /// Singular value cut-off.
    pub rcond: f64,
    /// Method parameters (`omp`'s k, ...).
    pub params: InitParams,
}

/// Stages 7-8: the output files.
#[derive(Clone, Debug)]
pub struct OutputConfig {
    /// The output GGUF (with several methods: see [`method_path`]).
    pub out: PathBuf,
    /// Write the per-token plan as JSON lines here.
    pub plan: Option<PathBuf>,
    /// Output type of the embedding tensors (`None`: the source's, or its fallback).
    pub embd_type: Option<GgmlType>,
    /// Write a separate `output.weight` for a tied source (a copy of `token_embd`'s rows
    /// until an output rule or a fitted head changes them).
    pub untie: bool,
    /// Split the output GGUF into files of at most this many bytes, named as llama.cpp's
    /// gguf-split names them (`ko.gguf` -> `ko-00001-of-00003.gguf`, ...).
    pub split_max_size: Option<u64>,
    /// Replace an existing output.
    pub force: bool,
}

impl TransferConfig {
    /// Defaults for the given files (`aux` may be `None` for `mean` and `random`).
    #[must_use]
    pub fn new(
        source: PathBuf,
        plm: PathBuf,
        aux: impl Into<Option<AuxSource>>,
        out: PathBuf,
    ) -> Self {
        Self {
            source,
            target: TargetConfig {
                plm,
                plm_embeddings: None,
                trim_to: None,
                trim_min_count: 1,
                trim_keep: vocab::TrimKeep::default(),
                trim_heldout: None,
                keep_chat_tokens: None,
            },
            neighbours: NeighbourConfig {
                aux: aux.into(),
                max_k: None,
            },
            init: InitConfig {
                method: Method::Salt,
                output_method: None,
                seed: 0,
                rcond: 1e-6,
                params: InitParams::default(),
            },
            output: OutputConfig {
                out,
                plan: None,
                embd_type: None,
                untie: false,
                split_max_size: None,
                force: false,
            },
            device: DeviceChoice::Cpu,
        }
    }

    /// Every input file (all the files of a split source), never to be written, and the
    /// output GGUF and plan of each method ([`OutputConfig::paths`]).
    pub(super) fn files(
        &self,
        methods: &[Method],
    ) -> (Vec<PathBuf>, Vec<(PathBuf, Option<PathBuf>)>) {
        let outputs = self.output.paths(methods);
        let inputs = crate::gguf::split::sibling_paths(&self.source)
            .into_iter()
            .chain(
                [Some(self.target.plm.clone()), self.target.trim_to.clone()]
                    .into_iter()
                    .flatten(),
            )
            .collect();
        (inputs, outputs)
    }
}

impl TargetConfig {
    /// The trim settings, when `trim_to` is set.
    #[must_use]
    pub fn trim_spec(&self) -> Option<TrimSpec<'_>> {
        self.trim_to.as_deref().map(|text| TrimSpec {
            text,
            min_count: self.trim_min_count,
            keep: self.trim_keep.clone(),
            heldout: self.trim_heldout.as_deref(),
            specials: None,
        })
    }
}

impl OutputConfig {
    /// The output GGUF and plan of each method: `out` and `plan` themselves for one
    /// method, [`method_path`] of them for several.
    #[must_use]
    pub fn paths(&self, methods: &[Method]) -> Vec<(PathBuf, Option<PathBuf>)> {
        let one = methods.len() == 1;
        let named = |p: &Path, m: Method| {
            if one {
                p.to_path_buf()
            } else {
                method_path(p, m.name())
            }
        };
        methods
            .iter()
            .map(|&m| {
                (
                    named(&self.out, m),
                    self.plan.as_deref().map(|p| named(p, m)),
                )
            })
            .collect()
    }
}
