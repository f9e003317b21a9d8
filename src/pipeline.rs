//! The whole transfer, one call per stage (see the crate doc for the stages).
//!
//! [`transfer`] takes a [`TransferConfig`] of plain values (the CLI resolves flags into
//! it) and returns a [`TransferReport`]; [`transfer_methods`] writes one output per
//! method from one pass over the shared stages (source, target vocabulary, PLM table,
//! auxiliary vectors, neighbours). Progress and cancellation go through a [`Progress`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::assemble::{embedding_tensors, plan_rows};
use crate::auxvec::AuxSource;
use crate::device::{self, Compute, DeviceChoice};
use crate::error::Error;
use crate::ggml::GgmlType;
use crate::gguf::GgufFile;
use crate::init::{InitInput, InitParams, Needs, NewRows};
use crate::neighbours::{select_rows, NeighbourSet};
use crate::output::header::{output_header, tensor_sources, Provenance};
use crate::output::{method_path, OutputSet, PlanRows};
use crate::plm::EmbeddingTable;
use crate::progress::{Progress, Reporter, Stage};
use crate::provenance::{name_and_sha256, name_and_sha256_parts};
use crate::source::{RowStats, SourceModel, SourceRows};
use crate::vocab::{self, TargetClass, TargetVocab};

pub use crate::init::Method;
pub use crate::output::tokenizer_paths;
pub use crate::text::read_text;
pub use crate::vocab::{select_target, TargetSelection, TrimSpec};

/// Everything a transfer needs, resolved.
#[derive(Clone, Debug)]
pub struct TransferConfig {
    /// The source GGUF.
    pub source: PathBuf,
    /// The PLM (folder, tokenizer file, or GGUF).
    pub plm: PathBuf,
    /// `--plm-embeddings FILE[:TENSOR]`.
    pub plm_embeddings: Option<String>,
    /// Auxiliary vectors (`None`: only methods without neighbours can run).
    pub aux: Option<AuxSource>,
    /// The output GGUF (with several methods: see [`method_path`]).
    pub out: PathBuf,
    /// Initialisation method of [`transfer`].
    pub method: Method,
    /// Seed for random rows.
    pub seed: u64,
    /// Singular value cut-off.
    pub rcond: f64,
    /// Keep at most K neighbours.
    pub max_k: Option<usize>,
    /// Output type of the embedding tensors (`None`: the source's, or its fallback).
    pub embd_type: Option<GgmlType>,
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
    /// Where neighbours and regressions run.
    pub device: DeviceChoice,
    /// Method parameters (`omp`'s k, ...).
    pub init: InitParams,
    /// Write a separate `output.weight` for a tied source (a copy of `token_embd`'s rows
    /// until an output rule or a fitted head changes them).
    pub untie: bool,
    /// The rule for the new rows of `output` (`None`: the method's own rows); needs an
    /// untied source or `untie`.
    pub output_method: Option<Method>,
    /// Replace an existing output.
    pub force: bool,
    /// Write the per-token plan as JSON lines here.
    pub plan: Option<PathBuf>,
    /// Split the output GGUF into files of at most this many bytes, named as llama.cpp's
    /// gguf-split names them (`ko.gguf` -> `ko-00001-of-00003.gguf`, ...).
    pub split_max_size: Option<u64>,
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
            plm,
            plm_embeddings: None,
            aux: aux.into(),
            out,
            method: Method::Salt,
            seed: 0,
            rcond: 1e-6,
            max_k: None,
            embd_type: None,
            trim_to: None,
            trim_min_count: 1,
            trim_keep: vocab::TrimKeep::default(),
            trim_heldout: None,
            keep_chat_tokens: None,
            device: DeviceChoice::Cpu,
            init: InitParams::default(),
            untie: false,
            output_method: None,
            force: false,
            plan: None,
            split_max_size: None,
        }
    }

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

    /// The output GGUF and plan of each method: `out` and `plan` themselves for one
    /// method, [`method_path`] of them for several.
    #[must_use]
    pub fn output_paths(&self, methods: &[Method]) -> Vec<(PathBuf, Option<PathBuf>)> {
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

    /// Every input file (all the files of a split source), never to be written.
    fn inputs(&self) -> Vec<PathBuf> {
        crate::gguf::split::sibling_paths(&self.source)
            .into_iter()
            .chain(
                [Some(self.plm.clone()), self.trim_to.clone()]
                    .into_iter()
                    .flatten(),
            )
            .collect()
    }
}

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
struct Laps {
    clock: Instant,
    seconds: BTreeMap<String, f64>,
}

impl Laps {
    fn new() -> Self {
        Self {
            clock: Instant::now(),
            seconds: BTreeMap::new(),
        }
    }

    fn lap(&mut self, name: &str) {
        self.seconds
            .insert(name.to_owned(), self.clock.elapsed().as_secs_f64());
        self.clock = Instant::now();
    }
}

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
        hashes: InputHashes::of(cfg, &source, &target)?,
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

/// Whether this is the trim route (`--method trim`), checked before anything is read: it
/// runs alone, on the source's own tokenizer (`plm` = the source), with a text to trim to.
fn check_route(cfg: &TransferConfig, methods: &[Method]) -> Result<bool, Error> {
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
fn check_aux(cfg: &TransferConfig, methods: &[Method], needs: Needs) -> Result<(), Error> {
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
fn target_vocab(
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
fn plm_gguf(plm: &Path) -> Result<Option<GgufFile>, Error> {
    let is_gguf = plm.is_file() && plm.extension().is_some_and(|e| e == "gguf");
    Ok(if is_gguf {
        Some(GgufFile::open(plm)?)
    } else {
        None
    })
}

/// Stage 3: the PLM rows of the (trimmed) target vocabulary, when a method or the
/// auxiliary vectors (`--aux plm`) need them.
fn load_plm(
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
fn neighbour_set(
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
fn anchors_and_queries(target: &TargetVocab, has: &[bool]) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
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
struct InputHashes {
    source: (String, String),
    tokenizer: (String, String),
    trim_to: Option<(String, String)>,
}

impl InputHashes {
    fn of(cfg: &TransferConfig, source: &SourceModel, target: &TargetVocab) -> Result<Self, Error> {
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
            trim_to: cfg.trim_to.as_deref().map(name_and_sha256).transpose()?,
        })
    }
}

/// What every method's output shares.
struct Shared<'a> {
    source: &'a SourceModel,
    target: &'a TargetVocab,
    types: (GgmlType, Option<GgmlType>),
    stats: RowStats,
    hashes: InputHashes,
    new_ids: Vec<u32>,
    plm: Option<&'a EmbeddingTable>,
    nbrs: Option<&'a (NeighbourSet, SourceRows)>,
    device: &'a dyn Compute,
}

/// What the initialisers see.
fn init_input<'a>(cfg: &'a TransferConfig, sh: &'a Shared<'a>) -> InitInput<'a> {
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
fn check_output_rule(cfg: &TransferConfig, source: &SourceModel) -> Result<(), Error> {
    match cfg.output_method {
        Some(m) if source.output.is_none() => Err(Error::MissingInput {
            method: m.name(),
            what: "an output tensor (as --output-method)",
            fix: "pass --untie: the source's output is tied to token_embd",
        }),
        _ => Ok(()),
    }
}

/// Stages 7-8 for one method: rows planned, tensors quantized, header and files written
/// (not yet committed).
fn write_output(
    cfg: &TransferConfig,
    method: Method,
    sh: &Shared<'_>,
    (rows, out_rows): (&NewRows, Option<&NewRows>),
    out: &mut OutputSet,
    rep: &mut Reporter<'_>,
    laps: &mut Laps,
) -> Result<TransferReport, Error> {
    let (source, target, types) = (sh.source, sh.target, sh.types);
    let hashes = &sh.hashes;
    let classes = &target.alignment.classes;
    let planned = plan_rows(
        classes,
        rows,
        out_rows,
        cfg.seed,
        &sh.stats,
        source.width(),
        source.output_from_embd,
    );
    laps.lap("new rows");
    rep.message(Stage::Assemble, "quantizing the embedding tensors");
    let (embd, output) = embedding_tensors(source, &planned, types)?;
    laps.lap("assemble");
    let s = &target.alignment.stats;
    let prov = Provenance {
        method: method.name().to_owned(),
        source: hashes.source.clone(),
        tokenizer: hashes.tokenizer.clone(),
        trim_to: hashes.trim_to.clone(),
        aux: cfg
            .aux
            .as_ref()
            .map_or_else(|| "none".to_owned(), AuxSource::provenance),
        rcond: cfg.rcond,
        seed: cfg.seed,
        counts: [
            s.shared,
            planned.from_method,
            planned.random,
            s.special + s.chat,
        ],
        token_class: planned.classes.iter().map(|c| *c as u8).collect(),
        output_method: cfg.output_method.map(|m| m.name().to_owned()),
        trim_scripts: (cfg.trim_to.is_some() && !cfg.trim_keep.scripts.is_empty()).then(|| {
            let names: Vec<&str> = cfg.trim_keep.scripts.iter().map(|s| s.name).collect();
            names.join(",")
        }),
    };
    let header = output_header(source, target, types, &prov)?;
    laps.lap("header");
    rep.message(
        Stage::Write,
        &format!("writing {}", out.gguf_path.display()),
    );
    out.write_tokenizer(target.tokenizer())?;
    let bytes = out.write_gguf(&header, &tensor_sources(source, &header, embd, output))?;
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
fn report(
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

/// The inputs of stages 5 and 6 exactly as [`transfer`] builds them for `cfg` (a method
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
        }
    }
}

/// Builds the [`KernelProblem`] of `cfg` (stages 1-4: source, target, PLM table,
/// auxiliary vectors; nothing is written).
///
/// # Errors
/// As [`transfer`]; [`Error::MissingInput`] without auxiliary vectors.
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
