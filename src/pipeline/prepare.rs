//! Stages 1-5 of a transfer, run once for every method: the route and inputs checked, the target vocabulary, the PLM table, the neighbours, and what every output shares.

use std::path::Path;

use crate::auxvec::AuxSource;
use crate::device::Compute;
use crate::error::Error;
use crate::ggml::GgmlType;
use crate::gguf::GgufFile;
use crate::init::{InitInput, Needs};
use crate::neighbours::{select_rows, NeighbourSet};
use crate::plm::EmbeddingTable;
use crate::progress::{Reporter, Stage};
use crate::provenance::{name_and_sha256, name_and_sha256_parts};
use crate::source::{RowStats, SourceModel, SourceRows};
use crate::vocab::{self, TargetClass, TargetVocab};

use super::report::Laps;
use super::{Method, TransferConfig};

/// Whether this is the trim route (`--method trim`), checked before anything is read: it
/// runs alone, on the source's own tokenizer (`plm` = the source), with a text to trim to.
pub(super) fn check_route(cfg: &TransferConfig, methods: &[Method]) -> Result<bool, Error> {
    if !methods.contains(&Method::Trim) {
        return Ok(false);
    }
    let fail = |reason: &str, fix| {
        Err(Error::Route {
            reason: format!("--method trim: {reason}"),
            fix,
        })
    };
    if methods.len() > 1 {
        return fail(
            "the trim route keeps the source's tokenizer and runs alone",
            "run the replacement methods in another transfer",
        );
    }
    if !crate::plan::is_source(&cfg.plm, &cfg.source) {
        return fail(
            &format!(
                "--plm {} is not the source; trim keeps the source's own tokenizer",
                cfg.plm.display()
            ),
            "drop --plm (or give the source GGUF)",
        );
    }
    if cfg.trim_to.is_none() {
        return fail(
            "nothing to trim to",
            "give --trim-to TEXT, a text of the target language",
        );
    }
    Ok(true)
}

/// Methods that need neighbours need auxiliary vectors: refused before anything else.
pub(super) fn check_aux(
    cfg: &TransferConfig,
    methods: &[Method],
    needs: Needs,
) -> Result<(), Error> {
    match methods.iter().find(|m| m.needs().neighbours) {
        Some(m) if needs.neighbours && cfg.aux.is_none() => Err(Error::MissingInput {
            method: m.name(),
            what: "auxiliary vectors",
            fix: "give --aux FILE.bin|FILE.vec|plm or --aux-train TEXT",
        }),
        _ => Ok(()),
    }
}

/// Stage 2: the target vocabulary of `cfg.plm` (read from `plm_file` when the PLM is a
/// GGUF), trimmed, with the chat tokens, aligned with the source's; `note` gets its
/// messages.
pub(super) fn target_vocab(
    cfg: &TransferConfig,
    source: &SourceModel,
    plm_file: Option<&GgufFile>,
    own: bool,
    note: &mut dyn FnMut(&str),
) -> Result<TargetVocab, Error> {
    let mut spec = cfg.trim_spec();
    let full = if own {
        if let Some(spec) = spec.as_mut() {
            spec.specials = Some(vocab::own_specials(
                &source.file,
                &source.vocab,
                cfg.keep_chat_tokens,
            )?);
        }
        vocab::target_from_gguf(&source.file)?
    } else {
        match plm_file {
            Some(f) => vocab::target_from_gguf(f)?,
            None => vocab::load_target(&cfg.plm)?,
        }
    };
    vocab::prepare_target(
        &source.file,
        &source.arch,
        &source.vocab,
        full,
        spec.as_ref(),
        cfg.keep_chat_tokens,
        own,
        note,
    )
}

/// `cfg.plm` opened as a GGUF when it is one.
pub(super) fn plm_gguf(plm: &Path) -> Result<Option<GgufFile>, Error> {
    let is_gguf = plm.is_file() && plm.extension().is_some_and(|e| e == "gguf");
    Ok(if is_gguf {
        Some(GgufFile::open(plm)?)
    } else {
        None
    })
}

/// Stage 3: the PLM rows of the (trimmed) target vocabulary, when a method or the
/// auxiliary vectors (`--aux plm`) need them.
pub(super) fn load_plm(
    cfg: &TransferConfig,
    target: &TargetVocab,
    needs: Needs,
    opened: Option<&GgufFile>,
) -> Result<Option<EmbeddingTable>, Error> {
    let aux_plm = needs.neighbours && matches!(cfg.aux, Some(AuxSource::Plm));
    if !(needs.plm || aux_plm) {
        return Ok(None);
    }
    let table = crate::plm::load_embeddings_from(
        &cfg.plm,
        cfg.plm_embeddings.as_deref(),
        target.full_size,
        opened,
    )?;
    Ok(Some(table.select(&target.selection.old_ids)))
}

/// Stages 4-5: auxiliary vectors, anchors and queries, their neighbours on `device`.
#[allow(clippy::too_many_arguments)]
pub(super) fn neighbour_set(
    cfg: &TransferConfig,
    aux: &AuxSource,
    source: &SourceModel,
    target: &TargetVocab,
    plm: Option<&EmbeddingTable>,
    device: &dyn Compute,
    rep: &mut Reporter<'_>,
    laps: &mut Laps,
) -> Result<(NeighbourSet, SourceRows), Error> {
    rep.message(Stage::AuxVectors, "auxiliary vectors");
    let vectors = crate::auxvec::for_vocab(aux, &target.tokenizer().vocab, plm)?;
    laps.lap("aux vectors");
    let (anchors, queries, src_ids) = anchors_and_queries(target, &vectors.has);
    rep.message(
        Stage::Neighbours,
        &format!(
            "neighbours of {} tokens among {} anchors",
            queries.len(),
            anchors.len()
        ),
    );
    let d = vectors.dim;
    let nb = device
        .neighbours(
            &select_rows(&queries, d, &vectors.data),
            &select_rows(&anchors, d, &vectors.data),
            d,
            cfg.max_k,
            &mut rep.ticker(Stage::Neighbours),
        )?
        .ok_or(Error::Cancelled)?;
    if let Some(&(k_max, _)) = nb.k_histogram().last() {
        if k_max > 4 * plm.map_or(d, |p| p.dim) {
            rep.message(Stage::Neighbours, &format!("sparsemax supports reach k = {k_max}: the auxiliary vectors are nearly uniform (too little training text?); --max-k bounds the cost"));
        }
    }
    laps.lap("neighbours");
    let rows = source.rows(&src_ids)?;
    let set = NeighbourSet {
        anchors,
        queries,
        nb,
        with_aux: vectors.count(),
    };
    Ok((set, rows))
}

/// Anchors (shared tokens with a vector `has`), queries (new tokens with one), both
/// ascending target ids, and the anchors' source ids.
pub(super) fn anchors_and_queries(
    target: &TargetVocab,
    has: &[bool],
) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    let classes = &target.alignment.classes;
    let shared: Vec<bool> = classes
        .iter()
        .map(|c| matches!(c, TargetClass::Shared(_)))
        .collect();
    let new: Vec<bool> = classes.iter().map(|c| *c == TargetClass::New).collect();
    let (anchors, queries) = NeighbourSet::select(&shared, &new, has);
    let src_ids = anchors
        .iter()
        .map(|&a| classes[a as usize].source().unwrap_or(0))
        .collect();
    (anchors, queries, src_ids)
}

/// Names and hashes of the inputs, for the provenance keys of every output.
pub(super) struct InputHashes {
    pub(super) source: (String, String),
    pub(super) tokenizer: (String, String),
    pub(super) trim_to: Option<(String, String)>,
}

impl InputHashes {
    /// The hashes of the source (all its files), the target tokenizer (the source's own
    /// for the trim route) and the text the vocabulary was trimmed to.
    pub(super) fn of(
        source: &SourceModel,
        target: &TargetVocab,
        trim_to: Option<&Path>,
    ) -> Result<Self, Error> {
        // A split source is hashed over all its files, in order.
        let source_hash = name_and_sha256_parts(&source.file.part_paths())?;
        let tokenizer = if target.own {
            source_hash.clone()
        } else {
            name_and_sha256(&target.tokenizer().path)?
        };
        Ok(Self {
            source: source_hash,
            tokenizer,
            trim_to: trim_to.map(name_and_sha256).transpose()?,
        })
    }
}

/// What every method's output shares.
pub(super) struct Shared<'a> {
    pub(super) source: &'a SourceModel,
    pub(super) target: &'a TargetVocab,
    pub(super) types: (GgmlType, Option<GgmlType>),
    pub(super) stats: RowStats,
    pub(super) hashes: InputHashes,
    pub(super) new_ids: Vec<u32>,
    pub(super) plm: Option<&'a EmbeddingTable>,
    pub(super) nbrs: Option<&'a (NeighbourSet, SourceRows)>,
    pub(super) device: &'a dyn Compute,
}

/// What the initialisers see.
pub(super) fn init_input<'a>(cfg: &'a TransferConfig, sh: &'a Shared<'a>) -> InitInput<'a> {
    InitInput {
        source: sh.source,
        target: sh.target,
        params: &cfg.init,
        new_ids: &sh.new_ids,
        stats: &sh.stats,
        neighbours: sh.nbrs.map(|n| &n.0),
        anchor_rows: sh.nbrs.map(|n| &n.1),
        plm: sh.plm,
        h_s: sh.source.width(),
        rcond: cfg.rcond,
        device: sh.device,
    }
}

/// An output rule needs an output tensor: an untied source, or `untie`.
pub(super) fn check_output_rule(cfg: &TransferConfig, source: &SourceModel) -> Result<(), Error> {
    match cfg.output_method {
        Some(m) if source.output.is_none() => Err(Error::MissingInput {
            method: m.name(),
            what: "an output tensor (as --output-method)",
            fix: "pass --untie: the source's output is tied to token_embd",
        }),
        _ => Ok(()),
    }
}
