//! The whole transfer, one call per stage (see the crate doc for the stages).
//!
//! [`transfer`] takes a [`TransferConfig`] of plain values (the CLI resolves flags into
//! it) and returns a [`TransferReport`]; [`transfer_methods`] writes one output per
//! method from one pass over the shared stages (source, target vocabulary, PLM table,
//! auxiliary vectors, neighbours). Progress and cancellation go through a [`Progress`].

mod config;
mod emit;
mod prepare;
mod problem;
mod report;

use std::path::{Path, PathBuf};

use crate::device;
use crate::error::Error;
use crate::init::Needs;
use crate::output::OutputSet;
use crate::progress::{Progress, Reporter, Stage};
use crate::source::SourceModel;

use emit::write_output;
use prepare::{
    check_aux, check_output_rule, check_route, init_input, load_plm, neighbour_set, plm_gguf,
    target_vocab, InputHashes, Shared,
};
use report::Laps;

pub use crate::init::Method;
pub use crate::output::tokenizer_paths;
pub use crate::text::read_text;
pub use crate::vocab::{select_target, TargetSelection, TrimSpec};
pub use config::TransferConfig;
pub use problem::{kernel_problem, KernelProblem};
pub use report::TransferReport;

/// Runs the transfer with `cfg.method` and writes `cfg.out` (and its reference tokenizer).
///
/// # Errors
/// Any stage's typed error, or [`Error::Cancelled`]; nothing is written at `cfg.out`
/// unless all succeeded.
pub fn transfer(
    cfg: &TransferConfig,
    progress: &mut dyn Progress,
) -> Result<TransferReport, Error> {
    let mut reports = transfer_methods(cfg, &[cfg.method], progress)?;
    Ok(reports.remove(0))
}

/// Runs the shared stages once and writes one output per method (paths from
/// [`TransferConfig::output_paths`]); every output is renamed into place only when all
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
    let all: Vec<Method> = methods.iter().copied().chain(cfg.output_method).collect();
    let needs = Needs::any(&all);
    let own = check_route(cfg, &all)?;
    check_aux(cfg, methods, needs)?;
    // A device that cannot run is refused before anything is read or written.
    let device = device::open(cfg.device, &mut |m| rep.message(Stage::Neighbours, m))?;
    // 8 (early): every output path is checked, and its temporary file made, first.
    let inputs = cfg.inputs();
    let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let mut outputs = cfg
        .output_paths(methods)
        .iter()
        .map(|(out, plan)| {
            OutputSet::create(out, plan.as_deref(), cfg.force, &inputs, cfg.split_max_size)
        })
        .collect::<Result<Vec<_>, _>>()?;
    // 1. Source model; every requirement checked before any compute.
    let mut source = SourceModel::open(&cfg.source)?;
    if cfg.untie && source.untie() {
        rep.message(
            Stage::Source,
            "untied: output.weight starts as a copy of token_embd",
        );
    }
    check_output_rule(cfg, &source)?;
    laps.lap("check source");
    let types = source.output_types(cfg.embd_type, &mut |m| rep.message(Stage::Source, m))?;
    laps.lap("read source");
    // 2. Target vocabulary: load (a GGUF once), trim, append chat tokens, align.
    let plm_gguf = if own { None } else { plm_gguf(&cfg.plm)? };
    let target = target_vocab(cfg, &source, plm_gguf.as_ref(), own, &mut |m| {
        rep.message(Stage::Target, m);
    })?;
    laps.lap("align");
    rep.check()?;
    // 3-5. PLM table, auxiliary vectors, neighbours: once, for every method that needs them.
    let plm = load_plm(cfg, &target, needs, plm_gguf.as_ref())?;
    if plm.is_some() {
        laps.lap("read plm");
    }
    let nbrs = match (&cfg.aux, needs.neighbours) {
        (Some(aux), true) => Some(neighbour_set(
            cfg,
            aux,
            &source,
            &target,
            plm.as_ref(),
            device.as_ref(),
            &mut rep,
            &mut laps,
        )?),
        _ => None,
    };
    let shared = Shared {
        stats: source.row_stats()?,
        hashes: InputHashes::of(&source, &target, cfg.trim_to.as_deref())?,
        new_ids: target.new_ids(),
        source: &source,
        target: &target,
        types,
        plm: plm.as_ref(),
        nbrs: nbrs.as_ref(),
        device: device.as_ref(),
    };
    let out_rows = match cfg.output_method {
        Some(m) => Some(m.initialise(&init_input(cfg, &shared), &mut rep)?),
        None => None,
    };
    let mut reports = Vec::with_capacity(methods.len());
    for (&method, out) in methods.iter().zip(&mut outputs) {
        let rows = method.initialise(&init_input(cfg, &shared), &mut rep)?;
        // Each method's own stage, so a report names only the stages its method ran.
        laps.lap(&format!("initialise {}", method.name()));
        let rules = (&rows, out_rows.as_ref());
        reports.push(write_output(
            cfg, method, &shared, rules, out, &mut rep, &mut laps,
        )?);
        rep.check()?;
    }
    for out in outputs {
        out.commit()?;
    }
    Ok(reports)
}
