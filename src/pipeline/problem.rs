//! The inputs of the compute kernels on real shapes, for tests and benches of a device.

use crate::error::Error;
use crate::neighbours::select_rows;
use crate::progress::{Reporter, Silent};
use crate::source::SourceRows;

use super::prepare::{inputs, Inputs};
use super::report::Laps;
use super::route::Route;
use super::{Method, TransferConfig};

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
    /// `cfg.init.rcond`.
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

/// Builds the [`KernelProblem`] of `cfg`: the transfer's own stages 1-4 ([`super::transfer`]
/// runs the same function; nothing is written and no device is used), projected onto the
/// tables stages 5 and 6 read.
///
/// # Errors
/// As [`super::transfer`]; [`Error::MissingInput`] without auxiliary vectors or the PLM's
/// embedding table.
pub fn kernel_problem(cfg: &TransferConfig) -> Result<KernelProblem, Error> {
    let missing = |what, fix| Error::MissingInput {
        method: "salt",
        what,
        fix,
    };
    if cfg.neighbours.aux.is_none() {
        return Err(missing("auxiliary vectors", "give --aux or --aux-train"));
    }
    let route = Route {
        own: false,
        needs: Method::Salt.needs(),
    };
    let mut silent = Silent;
    let Inputs {
        source, plm, aux, ..
    } = inputs(
        cfg,
        route,
        &mut Reporter::new(&mut silent),
        &mut Laps::new(),
    )?;
    let plm = plm.ok_or(missing(
        "the PLM's embedding table",
        "give a PLM folder with embeddings",
    ))?;
    let aux = aux.ok_or(missing("auxiliary vectors", "give --aux or --aux-train"))?;
    let (queries_aux, anchors_aux) = aux.tables();
    Ok(KernelProblem {
        queries_aux,
        anchors_aux,
        dim: aux.vectors.dim,
        e: select_rows(&aux.queries, plm.dim, &plm.data),
        anchors_t: select_rows(&aux.anchors, plm.dim, &plm.data),
        h_t: plm.dim,
        anchors_s: source.rows(&aux.src_ids)?,
        h_s: source.width(),
        rcond: cfg.init.rcond,
    })
}
