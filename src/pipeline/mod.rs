//! The whole transfer, one call per stage (see the crate doc for the stages).
//!
//! [`transfer`] takes a [`TransferConfig`] of plain values (the CLI resolves flags into
//! it) and returns a [`TransferReport`]; [`transfer_methods`] writes one output per
//! method from one pass over the shared stages (source, target vocabulary, PLM table,
//! auxiliary vectors, neighbours). Progress and cancellation go through a [`Progress`].

mod config;
mod emit;
mod neighbours;
mod prepare;
mod problem;
mod report;
mod route;
mod target;

use std::path::{Path, PathBuf};

use crate::device;
use crate::error::Error;
use crate::progress::{Progress, Reporter, Stage};

use crate::init::InitInput;
use crate::output::OutputSet;
use emit::write_output;
use prepare::prepare;
use report::Laps;

pub use crate::init::Method;
pub use crate::output::tokenizer_paths;
pub use crate::text::read_text;
pub use crate::vocab::{select_target, TargetSelection, TrimSpec};
pub use config::{InitConfig, NeighbourConfig, OutputConfig, TargetConfig, TransferConfig};
pub use problem::{kernel_problem, KernelProblem};
pub use report::TransferReport;

/// Runs the transfer with `cfg.init.method` and writes `cfg.output.out` (and its reference
/// tokenizer).
///
/// # Errors
/// Any stage's typed error, or [`Error::Cancelled`]; nothing is written at `cfg.output.out`
/// unless all succeeded.
pub fn transfer(
    cfg: &TransferConfig,
    progress: &mut dyn Progress,
) -> Result<TransferReport, Error> {
    let mut reports = transfer_methods(cfg, &[cfg.init.method], progress)?;
    Ok(reports.remove(0))
}

/// Runs the shared stages once and writes one output per method (paths from
/// [`OutputConfig::paths`]); every output is renamed into place only when all
/// are complete.
///
/// # Errors
/// Any stage's typed error, or [`Error::Cancelled`]; then no output is written.
pub fn transfer_methods(
    cfg: &TransferConfig,
    methods: &[Method],
    progress: &mut dyn Progress,
) -> Result<Vec<TransferReport>, Error> {
    let mut rep = Reporter::new(progress);
    let mut laps = Laps::new();
    let route = route::check(cfg, methods)?;
    // A device that cannot run is refused before anything is read or written.
    let device = device::open(cfg.device, &mut |m| rep.message(Stage::Neighbours, m))?;
    // 8 (early): every output path is checked, and its temporary file made, first.
    let (inputs, paths) = cfg.files(methods);
    let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let o = &cfg.output;
    let mut outputs = paths
        .iter()
        .map(|(out, plan)| {
            OutputSet::create(out, plan.as_deref(), o.force, &inputs, o.split_max_size)
        })
        .collect::<Result<Vec<_>, _>>()?;
    // 1-5: source, target vocabulary, PLM table, auxiliary vectors, neighbours: once.
    let sh = prepare(cfg, route, device.as_ref(), &mut rep, &mut laps)?;
    // 6-8: each method's rows, then its output.
    let input = InitInput {
        source: &sh.source,
        target: &sh.target,
        params: &cfg.init.params,
        new_ids: &sh.new_ids,
        stats: &sh.stats,
        neighbours: sh.nbrs.as_ref().map(|n| &n.0),
        anchor_rows: sh.nbrs.as_ref().map(|n| &n.1),
        plm: sh.plm.as_ref(),
        h_s: sh.source.width(),
        rcond: cfg.init.rcond,
        device: sh.device,
    };
    let out_rows = match cfg.init.output_method {
        Some(m) => Some(m.initialise(&input, &mut rep)?),
        None => None,
    };
    let mut reports = Vec::with_capacity(methods.len());
    for (&method, out) in methods.iter().zip(&mut outputs) {
        let rows = method.initialise(&input, &mut rep)?;
        // Each method's own stage, so a report names only the stages its method ran.
        laps.lap(&format!("initialise {}", method.name()));
        let rules = (&rows, out_rows.as_ref());
        reports.push(write_output(
            cfg, method, &sh, rules, out, &mut rep, &mut laps,
        )?);
        rep.check()?;
    }
    for out in outputs {
        out.commit()?;
    }
    Ok(reports)
}
