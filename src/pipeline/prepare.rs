//! Stages 1-5 of a transfer, run once for every method: the source, then the target
//! vocabulary and PLM table ([`super::target`]), the auxiliary vectors and neighbours
//! ([`super::neighbours`]), and the input hashes every output records. Each stage is handed
//! its part of the [`TransferConfig`].

use crate::auxvec::AuxSource;
use crate::device::Compute;
use crate::error::Error;
use crate::ggml::GgmlType;
use crate::neighbours::NeighbourSet;
use crate::plm::EmbeddingTable;
use crate::progress::{Reporter, Stage};
use crate::provenance::InputHashes;
use crate::source::{RowStats, SourceModel, SourceRows};
use crate::vocab::TargetVocab;

use super::neighbours::{aux_rows, find, AuxRows};
use super::report::Laps;
use super::route::Route;
use super::TransferConfig;

/// What stages 1-4 read and make, before a compute device is used.
pub(super) struct Inputs {
    pub(super) source: SourceModel,
    /// The output types of `token_embd` and `output`.
    pub(super) types: (GgmlType, Option<GgmlType>),
    pub(super) target: TargetVocab,
    pub(super) plm: Option<EmbeddingTable>,
    /// With a method that needs neighbours.
    pub(super) aux: Option<AuxRows>,
}

/// Stages 1-4: the source and its output types, the target vocabulary, the PLM table and
/// the auxiliary vectors, each from its part of `cfg`.
pub(super) fn inputs(
    cfg: &TransferConfig,
    route: Route,
    rep: &mut Reporter<'_>,
    laps: &mut Laps,
) -> Result<Inputs, Error> {
    // 1. Source model; every requirement checked before any compute.
    let mut source = SourceModel::open(&cfg.source)?;
    if cfg.output.untie && source.untie() {
        rep.message(
            Stage::Source,
            "untied: output.weight starts as a copy of token_embd",
        );
    }
    // An output rule needs an output tensor: an untied source, or `untie`.
    if let (Some(m), None) = (cfg.init.output_method, &source.output) {
        return Err(Error::MissingInput {
            method: m.name(),
            what: "an output tensor (as --output-method)",
            fix: "pass --untie: the source's output is tied to token_embd",
        });
    }
    laps.lap("check source");
    let types = source.output_types(cfg.output.embd_type, &mut |m| {
        rep.message(Stage::Source, m);
    })?;
    laps.lap("read source");
    // 2-3. Target vocabulary, and the PLM table when a method or the auxiliary vectors
    // (`--aux plm`) need it.
    let aux = cfg
        .neighbours
        .aux
        .as_ref()
        .filter(|_| route.needs.neighbours);
    let want_plm = route.needs.plm || matches!(aux, Some(AuxSource::Plm));
    let (target, plm) = super::target::load(&cfg.target, &source, route, want_plm, rep, laps)?;
    // 4. Auxiliary vectors, anchors and queries.
    let aux = match aux {
        Some(a) => Some(aux_rows(a, &target, plm.as_ref(), rep, laps)?),
        None => None,
    };
    Ok(Inputs {
        source,
        types,
        target,
        plm,
        aux,
    })
}

/// What every method's output shares: stages 1-5's results.
pub(super) struct Shared<'d> {
    pub(super) source: SourceModel,
    pub(super) target: TargetVocab,
    pub(super) types: (GgmlType, Option<GgmlType>),
    pub(super) stats: RowStats,
    pub(super) hashes: InputHashes,
    pub(super) new_ids: Vec<u32>,
    pub(super) plm: Option<EmbeddingTable>,
    pub(super) nbrs: Option<(NeighbourSet, SourceRows)>,
    pub(super) device: &'d dyn Compute,
}

/// Stages 1-5, once for every method: [`inputs`], then the neighbours on `device`.
pub(super) fn prepare<'d>(
    cfg: &TransferConfig,
    route: Route,
    device: &'d dyn Compute,
    rep: &mut Reporter<'_>,
    laps: &mut Laps,
) -> Result<Shared<'d>, Error> {
    let Inputs {
        source,
        types,
        target,
        plm,
        aux,
    } = inputs(cfg, route, rep, laps)?;
    let nbrs = match aux {
        Some(aux) => {
            let dim = plm.as_ref().map(|p| p.dim);
            let found = find(&cfg.neighbours, aux, &source, dim, device, rep, laps)?;
            Some(found)
        }
        None => None,
    };
    // The statistics of random rows: the transfer's alone (kernel_problem has no use for them).
    let stats = source.row_stats()?;
    // The tokenizer of the trim route is the source's own.
    let tokenizer = (!target.own).then(|| target.tokenizer().path.as_path());
    let hashes = InputHashes::of(
        &source.file.part_paths(),
        tokenizer,
        cfg.target.trim_to.as_deref(),
    )?;
    Ok(Shared {
        stats,
        hashes,
        new_ids: target.new_ids(),
        source,
        target,
        types,
        plm,
        nbrs,
        device,
    })
}
