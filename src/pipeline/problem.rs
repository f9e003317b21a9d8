//! The inputs of the compute kernels on real shapes, for tests and benches of a device.

use crate::error::Error;
use crate::init::Needs;
use crate::neighbours::select_rows;
use crate::source::{SourceModel, SourceRows};

use super::prepare::{anchors_and_queries, load_plm, plm_gguf, target_vocab};
use super::TransferConfig;

/// The inputs of stages 5 and 6 exactly as [`super::transfer`] builds them for `cfg` (a method
/// that needs neighbours and the PLM table): for testing and benchmarking a compute
/// device on real shapes without running the rest of a transfer.
#[derive(Clone, Debug)]
pub struct KernelProblem {
    /// Auxiliary vectors of the queries (new tokens), `[n_q x dim]`.
    pub queries_aux: Vec<f32>,
    /// Auxiliary vectors of the anchors (shared tokens), `[n_a x dim]`.
    pub anchors_aux: Vec<f32>,
    /// Their width.
    pub dim: usize,
    /// PLM rows of the queries, `[n_q x h_t]`.
    pub e: Vec<f32>,
    /// PLM rows of the anchors, `[n_a x h_t]`.
    pub anchors_t: Vec<f32>,
    /// h_t.
    pub h_t: usize,
    /// Source rows of the anchors, `[n_a x h_s]` (and of `output` for untied sources).
    pub anchors_s: SourceRows,
    /// h_s.
    pub h_s: usize,
    /// `cfg.rcond`.
    pub rcond: f64,
}

impl KernelProblem {
    /// The regression's input over these tables.
    #[must_use]
    pub fn regression_input(&self) -> crate::regression::RegressionInput<'_> {
        crate::regression::RegressionInput {
            e: &self.e,
            anchors_t: &self.anchors_t,
            h_t: self.h_t,
            anchors_s: &self.anchors_s.embd,
            anchors_out: self.anchors_s.output.as_deref(),
            h_s: self.h_s,
            rcond: self.rcond,
            affine: false,
        }
    }
}

/// Builds the [`KernelProblem`] of `cfg` (stages 1-4: source, target, PLM table,
/// auxiliary vectors; nothing is written).
///
/// # Errors
/// As [`super::transfer`]; [`Error::MissingInput`] without auxiliary vectors.
pub fn kernel_problem(cfg: &TransferConfig) -> Result<KernelProblem, Error> {
    let aux = cfg.aux.as_ref().ok_or(Error::MissingInput {
        method: "salt",
        what: "auxiliary vectors",
        fix: "give --aux or --aux-train",
    })?;
    let source = SourceModel::open(&cfg.source)?;
    let plm_file = plm_gguf(&cfg.plm)?;
    let target = target_vocab(cfg, &source, plm_file.as_ref(), false, &mut |_| {})?;
    let needs = Needs {
        neighbours: true,
        plm: true,
    };
    let plm = load_plm(cfg, &target, needs, plm_file.as_ref())?.ok_or(Error::MissingInput {
        method: "salt",
        what: "the PLM's embedding table",
        fix: "give a PLM folder with embeddings",
    })?;
    let vectors = crate::auxvec::for_vocab(aux, &target.tokenizer().vocab, Some(&plm))?;
    let (anchors, queries, src_ids) = anchors_and_queries(&target, &vectors.has);
    let d = vectors.dim;
    Ok(KernelProblem {
        queries_aux: select_rows(&queries, d, &vectors.data),
        anchors_aux: select_rows(&anchors, d, &vectors.data),
        dim: d,
        e: select_rows(&queries, plm.dim, &plm.data),
        anchors_t: select_rows(&anchors, plm.dim, &plm.data),
        h_t: plm.dim,
        anchors_s: source.rows(&src_ids)?,
        h_s: source.width(),
        rcond: cfg.rcond,
    })
}
