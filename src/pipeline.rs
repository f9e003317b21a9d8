//! The whole transfer, one call per stage (see the crate doc for the stages).
//!
//! [`transfer`] takes a [`TransferConfig`] of plain values (the CLI resolves flags into
//! it) and returns a [`TransferReport`]; progress goes to a caller-supplied callback.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::assemble::{assemble_tensor, gather_rows, random_row, row_stats, RowSource};
use crate::auxvec::{aux_vectors, AuxSource};
use crate::codec;
use crate::error::{Error, GgufError, VocabError};
use crate::ggml::GgmlType;
use crate::gguf::{keys, write_gguf, GgufFile, GgufHeader, TensorSource, Value};
use crate::neighbours::{neighbours, Neighbours};
use crate::output::AtomicOutput;
use crate::regression::{regress, RegressionInput};
pub use crate::text::read_text;
use crate::vocab::{self, canonical_key, gpt2_byte_decoder, TargetClass, TokenizerMetaOptions};

/// How new rows are initialised (SALT.md section 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// The per-token least-squares map.
    Salt,
    /// Sparsemax-weighted mean of the anchors' source rows (FOCUS).
    Focus,
    /// The mean source row.
    Mean,
    /// Seeded normal rows with the source rows' per-dimension mean and std.
    Random,
}

impl Method {
    /// The name used on the command line and in `salt.method`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Salt => "salt",
            Self::Focus => "focus",
            Self::Mean => "mean",
            Self::Random => "random",
        }
    }
}

/// Everything a transfer needs, resolved.
#[derive(Clone, Debug)]
pub struct TransferConfig {
    /// The source GGUF.
    pub source: PathBuf,
    /// The PLM (folder, tokenizer file).
    pub plm: PathBuf,
    /// `--plm-embeddings FILE[:TENSOR]`.
    pub plm_embeddings: Option<String>,
    /// Auxiliary vectors.
    pub aux: AuxSource,
    /// The output GGUF.
    pub out: PathBuf,
    /// Initialisation method.
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
    /// With `trim_to`: also keep every single-character piece whose character occurs in
    /// the text (so that rare words of the scripts seen still segment into characters).
    pub trim_keep_chars: bool,
    /// With `trim_to`: held-out text on which to count lines the trim segments
    /// differently, and new unknown tokens.
    pub trim_heldout: Option<PathBuf>,
    /// Append the source's chat-template control tokens (`None`: when it has a template).
    pub keep_chat_tokens: Option<bool>,
    /// Replace an existing output.
    pub force: bool,
    /// Write the per-token plan as JSON lines here.
    pub plan: Option<PathBuf>,
}

impl TransferConfig {
    /// The trim settings, when `trim_to` is set.
    #[must_use]
    pub fn trim_spec(&self) -> Option<TrimSpec<'_>> {
        self.trim_to.as_deref().map(|text| TrimSpec {
            text,
            min_count: self.trim_min_count,
            keep_chars: self.trim_keep_chars,
            heldout: self.trim_heldout.as_deref(),
        })
    }

    /// Defaults for the given files.
    #[must_use]
    pub fn new(source: PathBuf, plm: PathBuf, aux: AuxSource, out: PathBuf) -> Self {
        Self {
            source,
            plm,
            plm_embeddings: None,
            aux,
            out,
            method: Method::Salt,
            seed: 0,
            rcond: 1e-6,
            max_k: None,
            embd_type: None,
            trim_to: None,
            trim_min_count: 1,
            trim_keep_chars: false,
            trim_heldout: None,
            keep_chat_tokens: None,
            force: false,
            plan: None,
        }
    }
}

/// What a transfer did.
#[derive(Clone, Debug, Serialize)]
pub struct TransferReport {
    /// The output GGUF.
    pub out: String,
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
    /// Output file size in bytes.
    pub bytes: u64,
    /// Seconds per stage.
    pub seconds: BTreeMap<String, f64>,
}

fn sha256_file(p: &Path) -> Result<String, GgufError> {
    let mut f = std::fs::File::open(p).map_err(|e| GgufError::Io {
        path: p.to_path_buf(),
        source: e,
    })?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| GgufError::Io {
        path: p.to_path_buf(),
        source: e,
    })?;
    Ok(format!("{:x}", h.finalize()))
}

/// Chooses the output type of an embedding tensor: the request, else the source's type,
/// else its fallback when the width does not fit the source type's blocks.
fn output_type(
    requested: Option<GgmlType>,
    src: GgmlType,
    width: usize,
    log: &mut dyn FnMut(&str),
) -> Result<GgmlType, Error> {
    if let Some(t) = requested {
        codec::check_quantizable(t, width)?;
        return Ok(t);
    }
    if codec::check_quantizable(src, width).is_ok() {
        return Ok(src);
    }
    let fb = codec::fallback_type(src);
    codec::check_quantizable(fb, width)?;
    log(&format!(
        "{src} cannot be written here; new embedding rows use {fb}"
    ));
    Ok(fb)
}

/// The paths of the reference tokenizer files written next to `out`.
#[must_use]
pub fn tokenizer_paths(out: &Path) -> (PathBuf, PathBuf) {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = out.parent().unwrap_or(Path::new("."));
    (
        dir.join(format!("{stem}.tokenizer.json")),
        dir.join(format!("{stem}.model")),
    )
}

/// How to trim the target vocabulary (SALT.md section 6b).
#[derive(Clone, Debug)]
pub struct TrimSpec<'a> {
    /// The target-language text whose pieces are kept.
    pub text: &'a Path,
    /// Keep pieces used at least this often.
    pub min_count: usize,
    /// Also keep every single-character piece of the text's characters.
    pub keep_chars: bool,
    /// Held-out text for the segmentation-change report.
    pub heldout: Option<&'a Path>,
}

/// The target tokenizer after the optional trim, as `transfer` and `overlap` use it.
#[derive(Debug)]
pub struct TargetSelection {
    /// The (trimmed) target tokenizer.
    pub tokenizer: vocab::TargetTokenizer,
    /// For each of its ids, the id in the untrimmed tokenizer (PLM embedding row).
    pub old_ids: Vec<u32>,
    /// What trimming kept, when it ran.
    pub trim: Option<vocab::TrimReport>,
    /// Held-out segmentation changes, when a held-out text was given.
    pub segmentation: Option<vocab::SegmentationChange>,
}

/// Stage 2a: trims `full` to `spec`'s text when given (else keeps it whole).
///
/// # Errors
/// [`VocabError`] for unreadable texts or a failing reference tokenizer.
pub fn select_target(
    full: vocab::TargetTokenizer,
    spec: Option<&TrimSpec<'_>>,
    log: &mut dyn FnMut(&str),
) -> Result<TargetSelection, VocabError> {
    let Some(spec) = spec else {
        return Ok(TargetSelection {
            old_ids: (0..full.vocab.len() as u32).collect(),
            tokenizer: full,
            trim: None,
            segmentation: None,
        });
    };
    let text = read_text(spec.text)?;
    log(&format!(
        "trimming {} target pieces to {}",
        full.vocab.len(),
        spec.text.display()
    ));
    let (t, old_ids, r) = vocab::trim_to_text(&full, &text, spec.min_count, spec.keep_chars)?;
    let segmentation = match spec.heldout {
        Some(h) => {
            let held = read_text(h)?;
            let lines: Vec<&str> = held.lines().collect();
            Some(vocab::segmentation_change(&full, &t, &lines)?)
        }
        None => None,
    };
    Ok(TargetSelection {
        tokenizer: t,
        old_ids,
        trim: Some(r),
        segmentation,
    })
}

/// Runs the transfer and writes the output GGUF (and its reference tokenizer).
///
/// # Errors
/// Any stage's typed error; nothing is written at `cfg.out` unless all succeeded.
#[allow(clippy::too_many_lines)]
pub fn transfer(cfg: &TransferConfig, log: &mut dyn FnMut(&str)) -> Result<TransferReport, Error> {
    let mut seconds = BTreeMap::new();
    let mut clock = Instant::now();
    let mut lap = |name: &str, clock: &mut Instant| {
        seconds.insert(name.to_owned(), clock.elapsed().as_secs_f64());
        *clock = Instant::now();
    };

    // 1. Source model; every requirement checked before any compute.
    let inputs: Vec<&Path> = [
        Some(cfg.source.as_path()),
        Some(cfg.plm.as_path()),
        cfg.trim_to.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let output = AtomicOutput::create(&cfg.out, cfg.force, &inputs)?;
    let (tok_json, tok_model) = tokenizer_paths(&cfg.out);
    let src_file = GgufFile::open(&cfg.source)?;
    let arch = src_file.get_str(keys::GENERAL_ARCHITECTURE)?.to_owned();
    let src_vocab = vocab::vocab_from_gguf(&src_file)?;
    let embd = src_file.require_tensor(keys::TOKEN_EMBD)?.clone();
    let out_t = src_file.tensor(keys::OUTPUT).cloned();
    for t in std::iter::once(&embd).chain(out_t.as_ref()) {
        if t.dims.len() != 2 || t.n_rows() as usize != src_vocab.len() {
            return Err(GgufError::BadTensor {
                path: cfg.source.clone(),
                tensor: t.name_str().into_owned(),
                reason: format!(
                    "shape {:?} does not hold one row per token ({} tokens in tokenizer.ggml.tokens); the tokenizer and the embeddings disagree: convert the model again",
                    t.dims,
                    src_vocab.len()
                ),
            }
            .into());
        }
    }
    // A damaged source (NaN or infinity in an embedding) would be copied or mixed into
    // the output silently; say which row instead (about 0.3 s for Gemma's table).
    for t in std::iter::once(&embd).chain(out_t.as_ref()) {
        if let Some((row, value)) = codec::first_non_finite_row(&src_file, t)? {
            return Err(GgufError::BadTensor {
                path: cfg.source.clone(),
                tensor: t.name_str().into_owned(),
                reason: format!(
                    "row {row} (token {:?}) holds a non-finite value ({value}); the model file is damaged: download or convert it again",
                    src_vocab.text(row as u32)
                ),
            }
            .into());
        }
    }
    lap("check source", &mut clock);
    let h_s = embd.row_width() as usize;
    let embd_ty = output_type(cfg.embd_type, embd.ty, h_s, log)?;
    let out_ty = match &out_t {
        Some(t) => Some(output_type(
            cfg.embd_type,
            t.ty,
            t.row_width() as usize,
            log,
        )?),
        None => None,
    };
    lap("read source", &mut clock);

    // 2. Target vocabulary: load, trim, append chat tokens, align.
    let full = vocab::load_target(&cfg.plm)?;
    // A target llama.cpp cannot tokenize like the reference (an unknown byte-level
    // pre-tokenizer, a normalising SentencePiece BPE) is refused before any compute;
    // trimming changes neither.
    vocab::write_tokenizer_meta(
        &mut GgufHeader::from_file(&src_file),
        &arch,
        &full.vocab,
        &full,
        &TokenizerMetaOptions::default(),
    )?;
    let full_size = full.vocab.len();
    let TargetSelection {
        tokenizer: tk,
        old_ids,
        trim,
        segmentation,
    } = select_target(full, cfg.trim_spec().as_ref(), log)?;
    let n_target = tk.vocab.len();
    let template = src_file
        .opt_str(keys::TOKENIZER_CHAT_TEMPLATE)?
        .map(str::to_owned);
    let keep_chat = cfg.keep_chat_tokens.unwrap_or(template.is_some());
    let mut final_vocab = tk.vocab.clone();
    let chat = match (&template, keep_chat) {
        (Some(tpl), true) => vocab::append_chat_tokens(&src_vocab, &mut final_vocab, tpl),
        _ => Vec::new(),
    };
    let al = vocab::align(&src_vocab, &final_vocab, &chat);
    if al.stats.shared == 0 {
        return Err(VocabError::NoSharedTokens {
            source_gguf: cfg.source.clone(),
            target: tk.path.clone(),
        }
        .into());
    }
    log(&format!(
        "vocabulary: {} target tokens, {} shared, {} special, {} chat, {} new",
        final_vocab.len(),
        al.stats.shared,
        al.stats.special,
        al.stats.chat,
        al.stats.new
    ));
    lap("align", &mut clock);

    // 3-6. New rows.
    let new_ids: Vec<u32> = (0..final_vocab.len() as u32)
        .filter(|&i| al.classes[i as usize] == TargetClass::New)
        .collect();
    let mut method_rows: BTreeMap<u32, (Vec<f32>, Option<Vec<f32>>)> = BTreeMap::new();
    let mut k_histogram = BTreeMap::new();
    let mut solves = crate::regression::PathCounts::default();
    let mut anchors_n = 0;
    let mut with_aux = 0;
    let mut plan_rows: BTreeMap<u32, (Vec<u32>, Vec<f32>)> = BTreeMap::new();
    if matches!(cfg.method, Method::Salt | Method::Focus) {
        let plm = if matches!(cfg.method, Method::Salt) || matches!(cfg.aux, AuxSource::Plm) {
            let table =
                crate::plm::load_embeddings(&cfg.plm, cfg.plm_embeddings.as_deref(), full_size)?;
            Some(crate::plm::EmbeddingTable {
                data: old_ids
                    .iter()
                    .flat_map(|&o| table.row(o as usize).iter().copied())
                    .collect(),
                rows: old_ids.len(),
                ..table
            })
        } else {
            None
        };
        lap("read plm", &mut clock);
        let gpt2 = gpt2_byte_decoder();
        let keys: Vec<Option<Vec<u8>>> = tk
            .vocab
            .tokens
            .iter()
            .map(|t| canonical_key(tk.vocab.kind, t, &gpt2))
            .collect();
        log("auxiliary vectors");
        let aux = aux_vectors(&cfg.aux, &keys, plm.as_ref())?;
        with_aux = aux.count();
        lap("aux vectors", &mut clock);
        let anchors: Vec<u32> = (0..n_target as u32)
            .filter(|&i| {
                matches!(al.classes[i as usize], TargetClass::Shared(_)) && aux.has[i as usize]
            })
            .collect();
        let queries: Vec<u32> = new_ids
            .iter()
            .copied()
            .filter(|&i| (i as usize) < n_target && aux.has[i as usize])
            .collect();
        anchors_n = anchors.len();
        let gather = |ids: &[u32], d: usize, src: &[f32]| -> Vec<f32> {
            ids.iter()
                .flat_map(|&i| src[i as usize * d..(i as usize + 1) * d].iter().copied())
                .collect()
        };
        log(&format!(
            "neighbours of {} tokens among {} anchors",
            queries.len(),
            anchors.len()
        ));
        let nb: Neighbours = neighbours(
            &gather(&queries, aux.dim, &aux.data),
            &gather(&anchors, aux.dim, &aux.data),
            aux.dim,
            cfg.max_k,
        );
        for (k, c) in nb.k_histogram() {
            k_histogram.insert(k, c);
        }
        if let Some((&k_max, _)) = k_histogram.last_key_value() {
            if k_max > 4 * plm.as_ref().map_or(aux.dim, |p| p.dim) {
                log(&format!("sparsemax supports reach k = {k_max}: the auxiliary vectors are nearly uniform (too little training text?); --max-k bounds the cost"));
            }
        }
        lap("neighbours", &mut clock);
        let anchor_src: Vec<u32> = anchors
            .iter()
            .map(|&a| al.classes[a as usize].source().unwrap_or(0))
            .collect();
        let b = gather_rows(&src_file, &embd, &anchor_src)?;
        let b_out = match &out_t {
            Some(t) => Some(gather_rows(&src_file, t, &anchor_src)?),
            None => None,
        };
        let weights: Vec<Vec<f32>> = if cfg.method == Method::Salt {
            let plm = plm.as_ref().expect("loaded for salt");
            log(&format!("regression of {} tokens", queries.len()));
            let inp = RegressionInput {
                e: &gather(&queries, plm.dim, &plm.data),
                anchors_t: &gather(&anchors, plm.dim, &plm.data),
                h_t: plm.dim,
                anchors_s: &b,
                anchors_out: b_out.as_deref(),
                h_s,
                rcond: cfg.rcond,
            };
            let r = regress(&inp, &nb)?;
            solves = r.paths;
            for (q, &id) in queries.iter().enumerate() {
                let row = r.embd[q * h_s..(q + 1) * h_s].to_vec();
                let out = r
                    .output
                    .as_ref()
                    .map(|o| o[q * h_s..(q + 1) * h_s].to_vec());
                method_rows.insert(id, (row, out));
            }
            (0..queries.len())
                .map(|q| r.w[nb.offsets[q]..nb.offsets[q + 1]].to_vec())
                .collect()
        } else {
            for (q, &id) in queries.iter().enumerate() {
                let (idx, p) = nb.row(q);
                let mix = |m: &[f32]| -> Vec<f32> {
                    let mut acc = vec![0f64; h_s];
                    for (&a, &w) in idx.iter().zip(p) {
                        for (o, x) in acc
                            .iter_mut()
                            .zip(&m[a as usize * h_s..(a as usize + 1) * h_s])
                        {
                            *o += f64::from(w) * f64::from(*x);
                        }
                    }
                    acc.into_iter().map(|v| v as f32).collect()
                };
                method_rows.insert(id, (mix(&b), b_out.as_deref().map(mix)));
            }
            (0..queries.len()).map(|q| nb.row(q).1.to_vec()).collect()
        };
        if cfg.plan.is_some() {
            for (q, &id) in queries.iter().enumerate() {
                let targets: Vec<u32> = nb.row(q).0.iter().map(|&a| anchors[a as usize]).collect();
                plan_rows.insert(id, (targets, weights[q].clone()));
            }
        }
        lap("regression", &mut clock);
    }
    let stats_embd = row_stats(&src_file, &embd)?;
    let stats_out = match &out_t {
        Some(t) => Some(row_stats(&src_file, t)?),
        None => None,
    };
    if cfg.method == Method::Mean {
        let mean: Vec<f32> = stats_embd.0.iter().map(|v| *v as f32).collect();
        let mean_out: Option<Vec<f32>> = stats_out
            .as_ref()
            .map(|s| s.0.iter().map(|v| *v as f32).collect());
        for &id in &new_ids {
            method_rows.insert(id, (mean.clone(), mean_out.clone()));
        }
    }
    // Rows without a method row: seeded normal, one ChaCha stream per target id.
    let mut new_rows = Vec::new();
    let mut new_out = Vec::new();
    let mut plan = Vec::with_capacity(final_vocab.len());
    let (mut regressed, mut random) = (0, 0);
    for (i, class) in al.classes.iter().enumerate() {
        match class.source() {
            Some(s) => plan.push(RowSource::Copy(s)),
            None => {
                let (row, out) = match method_rows.remove(&(i as u32)) {
                    Some(r) => {
                        regressed += 1;
                        r
                    }
                    None => {
                        random += 1;
                        let row = random_row(cfg.seed, i as u64, &stats_embd.0, &stats_embd.1);
                        let out = stats_out
                            .as_ref()
                            .map(|(m, s)| random_row(cfg.seed, i as u64 | (1 << 40), m, s));
                        (row, out)
                    }
                };
                plan.push(RowSource::New((new_rows.len() / h_s) as u32));
                new_rows.extend_from_slice(&row);
                if let Some(o) = out {
                    new_out.extend_from_slice(&o);
                }
            }
        }
    }
    lap("new rows", &mut clock);

    // 7. Tensors.
    log("quantizing the embedding tensors");
    let embd_bytes = assemble_tensor(
        &src_file,
        &embd,
        &plan,
        &new_rows,
        embd_ty,
        keys::TOKEN_EMBD,
    )?;
    let out_bytes = match (&out_t, out_ty) {
        (Some(t), Some(ty)) => Some(assemble_tensor(
            &src_file,
            t,
            &plan,
            &new_out,
            ty,
            keys::OUTPUT,
        )?),
        _ => None,
    };
    lap("assemble", &mut clock);

    // 8. Header and file.
    let mut header = GgufHeader::from_file(&src_file);
    let eot = src_file
        .opt_u64("tokenizer.ggml.eot_token_id")?
        .and_then(|s| {
            chat.iter()
                .find(|(_, src)| u64::from(*src) == s)
                .map(|(t, _)| *t)
        });
    let add_bos = src_file.opt_bool(keys::TOKENIZER_ADD_BOS)?.unwrap_or(false)
        && final_vocab.roles.contains_key(&vocab::Role::Bos);
    let meta = TokenizerMetaOptions {
        add_bos,
        add_eos: false,
        keep_chat_template: !chat.is_empty(),
        eot,
    };
    vocab::write_tokenizer_meta(&mut header, &arch, &final_vocab, &tk, &meta)?;
    let n = final_vocab.len() as u64;
    let mut sources = Vec::with_capacity(header.tensors.len());
    let mut embd_bytes = Some(embd_bytes);
    let mut out_bytes = out_bytes;
    for (i, t) in header.tensors.iter_mut().enumerate() {
        if t.name == keys::TOKEN_EMBD.as_bytes() {
            t.dims[1] = n;
            t.ty = embd_ty;
            sources.push(TensorSource::Bytes(embd_bytes.take().unwrap_or_default()));
        } else if t.name == keys::OUTPUT.as_bytes() {
            t.dims[1] = n;
            t.ty = out_ty.unwrap_or(t.ty);
            sources.push(TensorSource::Bytes(out_bytes.take().unwrap_or_default()));
        } else {
            sources.push(TensorSource::Copy(&src_file, i));
        }
    }
    let name_of = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let s = |v: String| Value::str(v);
    header.set("salt.version", s(env!("CARGO_PKG_VERSION").to_owned()));
    header.set("salt.method", s(cfg.method.name().to_owned()));
    header.set("salt.source", s(name_of(&cfg.source)));
    header.set("salt.source_sha256", s(sha256_file(&cfg.source)?));
    header.set("salt.target_tokenizer", s(name_of(&tk.path)));
    header.set("salt.target_tokenizer_sha256", s(sha256_file(&tk.path)?));
    if let Some(t) = &cfg.trim_to {
        header.set("salt.trim_to", s(name_of(t)));
        header.set("salt.trim_to_sha256", s(sha256_file(t)?));
    }
    header.set(
        "salt.aux",
        s(match &cfg.aux {
            AuxSource::FastTextBin(p) | AuxSource::VecText(p) => name_of(p),
            AuxSource::Train(o) => format!("train:{}", name_of(&o.text)),
            AuxSource::Plm => "plm".into(),
        }),
    );
    header.set("salt.rcond", Value::F64(cfg.rcond));
    header.set("salt.seed", Value::U64(cfg.seed));
    header.set("salt.shared", Value::U64(al.stats.shared as u64));
    header.set("salt.regressed", Value::U64(regressed as u64));
    header.set("salt.random", Value::U64(random as u64));
    header.set(
        "salt.specials",
        Value::U64((al.stats.special + al.stats.chat) as u64),
    );
    lap("header", &mut clock);

    log(&format!("writing {}", cfg.out.display()));
    // The reference tokenizer next to the output (trimmed or not), atomically too.
    let mut tok_out = AtomicOutput::create(&tok_json, cfg.force, &inputs)?;
    let json = tk
        .reference
        .to_string(false)
        .map_err(|e| VocabError::Tokenize(e.to_string()))?;
    tok_out
        .writer()
        .write_all(json.as_bytes())
        .map_err(|e| crate::error::OutputError::Io {
            path: tok_json.clone(),
            source: e,
        })?;
    let mut model_out = match &tk.spm_model {
        Some(m) => {
            let mut o = AtomicOutput::create(&tok_model, cfg.force, &inputs)?;
            o.writer()
                .write_all(&prost::Message::encode_to_vec(m.model()))
                .map_err(|e| crate::error::OutputError::Io {
                    path: tok_model.clone(),
                    source: e,
                })?;
            Some(o)
        }
        None => None,
    };
    let mut output = output;
    let bytes = {
        let mut w = output.writer();
        write_gguf(&mut w, &cfg.out, &header, &sources)?
    };
    if let Some(plan_path) = &cfg.plan {
        write_plan(
            plan_path,
            cfg.force,
            &inputs,
            &final_vocab,
            &al.classes,
            &plan_rows,
            &src_vocab,
        )?;
    }
    output.commit()?;
    tok_out.commit()?;
    if let Some(o) = model_out.take() {
        o.commit()?;
    }
    lap("write", &mut clock);
    Ok(TransferReport {
        out: cfg.out.display().to_string(),
        tokenizer: tok_json.display().to_string(),
        method: cfg.method,
        n_vocab: final_vocab.len(),
        source_vocab: src_vocab.len(),
        shared: al.stats.shared,
        special: al.stats.special,
        chat: al.stats.chat,
        regressed,
        random,
        anchors: anchors_n,
        with_aux,
        k_histogram,
        solves,
        trim,
        segmentation,
        embd_type: embd_ty.to_string(),
        bytes,
        seconds,
    })
}

/// `--plan`: one JSON object per target token.
fn write_plan(
    path: &Path,
    force: bool,
    inputs: &[&Path],
    vocab: &vocab::Vocab,
    classes: &[TargetClass],
    rows: &BTreeMap<u32, (Vec<u32>, Vec<f32>)>,
    src: &vocab::Vocab,
) -> Result<(), Error> {
    let mut out = AtomicOutput::create(path, force, inputs)?;
    {
        let w = out.writer();
        for (i, c) in classes.iter().enumerate() {
            let (class, source) = match c {
                TargetClass::Shared(s) => ("shared", Some(*s)),
                TargetClass::Special(s, _) | TargetClass::Chat(s) => ("special", Some(*s)),
                TargetClass::New => (
                    if rows.contains_key(&(i as u32)) {
                        "regressed"
                    } else {
                        "random"
                    },
                    None,
                ),
            };
            let (nbrs, w8) = rows
                .get(&(i as u32))
                .map_or((None, None), |(n, w)| (Some(n), Some(w)));
            let line = serde_json::json!({
                "id": i, "token": vocab.text(i as u32), "class": class,
                "source_id": source, "source_token": source.map(|s| src.text(s)),
                "neighbours": nbrs, "weights": w8,
            });
            writeln!(w, "{line}").map_err(|e| crate::error::OutputError::Io {
                path: path.to_path_buf(),
                source: e,
            })?;
        }
    }
    out.commit()?;
    Ok(())
}
