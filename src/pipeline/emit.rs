//! Stages 7-8 for each method: rows planned, tensors quantized, header and files written;
//! then the method's report.

use crate::assemble::{embedding_tensors, plan_rows};
use crate::auxvec::AuxSource;
use crate::error::Error;
use crate::init::NewRows;
use crate::output::header::{output_header, tensor_sources, Provenance};
use crate::output::{OutputSet, PlanRows};
use crate::progress::{Reporter, Stage};

use super::prepare::Shared;
use super::report::Laps;
use super::{Method, TransferConfig, TransferReport};

/// Stages 7-8 for one method: rows planned, tensors quantized, header and files written
/// (not yet committed).
pub(super) fn write_output(
    cfg: &TransferConfig,
    method: Method,
    sh: &Shared<'_>,
    (rows, out_rows): (&NewRows, Option<&NewRows>),
    out: &mut OutputSet,
    rep: &mut Reporter<'_>,
    laps: &mut Laps,
) -> Result<TransferReport, Error> {
    let (source, target, types) = (&sh.source, &sh.target, sh.types);
    let hashes = &sh.hashes;
    let classes = &target.alignment.classes;
    let planned = plan_rows(
        classes,
        rows,
        out_rows,
        cfg.init.seed,
        &sh.stats,
        source.width(),
        source.output_from_embd,
    );
    laps.lap("new rows");
    rep.message(Stage::Assemble, "quantizing the embedding tensors");
    let (embd, output) = embedding_tensors(source, &planned, types)?;
    laps.lap("assemble");
    let s = &target.alignment.stats;
    let t = &cfg.target;
    let prov = Provenance {
        method: method.name().to_owned(),
        source: hashes.source.clone(),
        tokenizer: hashes.tokenizer.clone(),
        trim_to: hashes.trim_to.clone(),
        aux: cfg
            .neighbours
            .aux
            .as_ref()
            .map_or_else(|| "none".to_owned(), AuxSource::provenance),
        rcond: cfg.init.rcond,
        seed: cfg.init.seed,
        counts: [
            s.shared,
            planned.from_method,
            planned.random,
            s.special + s.chat,
        ],
        token_class: planned.classes.iter().map(|c| *c as u8).collect(),
        output_method: cfg.init.output_method.map(|m| m.name().to_owned()),
        trim_scripts: (t.trim_to.is_some() && !t.trim_keep.scripts.is_empty()).then(|| {
            let names: Vec<&str> = t.trim_keep.scripts.iter().map(|s| s.name).collect();
            names.join(",")
        }),
    };
    let header = output_header(source, target, types, &prov)?;
    let tensors = tensor_sources(source, &header, embd, output);
    laps.lap("header");
    rep.message(
        Stage::Write,
        &format!("writing {}", out.gguf_path.display()),
    );
    out.write_tokenizer(target.tokenizer())?;
    let bytes = out.write_gguf(&header, &tensors)?;
    let neighbours = rows
        .supports
        .iter()
        .map(|p| (p.id, p.neighbours.clone(), p.weights.as_slice()))
        .collect();
    out.write_plan(&PlanRows {
        vocab: &target.vocab,
        classes,
        source: &source.vocab,
        from_method: &rows.ids,
        neighbours,
    })?;
    laps.lap("write");
    Ok(report(sh, method, rows, &planned, out, bytes, laps))
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
    let nbrs = sh
        .nbrs
        .as_ref()
        .map(|n| &n.0)
        .filter(|_| method.needs().neighbours);
    let target = &sh.target;
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
