//! `salt eval` as a library call: parity and scores of several models on one text, the
//! optional HTML report, and the comparison table as text.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{parity, read_plan, render_report, score, EvalRow, ReportAbout, ScoreOptions};
use crate::error::{Error, EvalError, OutputError};
use crate::gguf::GgufFile;
use crate::output::{tokenizer_paths, AtomicOutput};
use crate::progress::{Progress, Reporter, Stage};
use crate::provenance::{key, name_and_sha256};

/// What to evaluate.
#[derive(Clone, Debug, Default)]
pub struct EvalConfig {
    /// GGUF models; the first is the table's baseline.
    pub models: Vec<PathBuf>,
    /// Held-out text (never used for training).
    pub text: PathBuf,
    /// Reference tokenizer for every model's parity check (`None`: `OUT.tokenizer.json`
    /// next to `OUT.gguf` when it exists).
    pub reference: Option<PathBuf>,
    /// Only check parity (no scores).
    pub parity_only: bool,
    /// Window, token cap, threads.
    pub score: ScoreOptions,
    /// Write the HTML report here.
    pub report: Option<PathBuf>,
    /// A transfer's `--plan`, for the report's charts.
    pub plan: Option<PathBuf>,
    /// Greedy continuations of this many prompts from the text, per model (with `report`
    /// only).
    pub continuations: usize,
    /// Add count-based unigram and bigram rows counted on this training text, over the
    /// tokens of the last adapted model (`--ngram`).
    pub ngram_train: Option<PathBuf>,
    /// Replace an existing report.
    pub force: bool,
    /// The command line recorded in the report (the CLI passes its own).
    pub command: Option<String>,
    /// Time prompt processing and generation of every model (`None`: not timed).
    pub speed: Option<super::SpeedOptions>,
    /// The row label every model on its windows is paired with (`None`: the first row of
    /// each tokenization); checked against the models' labels before anything is scored.
    pub pair_with: Option<String>,
}

/// What `evaluate` found.
#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    /// One row per model, in order.
    pub rows: Vec<EvalRow>,
    /// Whether every parity check passed.
    pub parity_ok: bool,
    /// Paired differences of the models scored on the same windows (against
    /// `pair_with` where it was given).
    pub paired: Vec<super::Paired>,
    /// The report written, if any.
    pub report: Option<PathBuf>,
    /// The machine the models ran on (its CPU and cores), for the speed figures.
    pub machine: String,
}

/// A model's row label: `source`, its `salt.method`, or `METHOD/OUTPUT-METHOD` when its
/// output rows had their own rule; `+head` when `salt tune` fitted its head with the
/// default rows, `+head:ROWS` with other `--rows` (`salt.head_fit`), so that heads of one
/// init fitted two ways stay apart in a table; then `+train` when `salt train` trained its
/// rows (`salt.train_base`).
fn model_label(f: &GgufFile) -> Result<String, Error> {
    let method = f.opt_str(key::METHOD)?;
    let out = f.opt_str(key::OUTPUT_METHOD)?;
    let scripts = f.opt_str(key::TRIM_SCRIPTS)?;
    let label = match (method, out) {
        (None, _) => "source".to_owned(),
        (Some(m), None) if scripts.is_some() => format!("{m}+{}", scripts.unwrap_or_default()),
        (Some(m), None) => m.to_owned(),
        (Some(m), Some(o)) => format!("{m}/{o}"),
    };
    let default_rows = crate::provenance::FitRows::DEFAULT.name();
    let label = match (f.opt_str(key::HEAD)?, f.opt_str(key::HEAD_FIT)?) {
        (None, _) => label,
        (Some(_), Some(rows)) if rows != default_rows => format!("{label}+head:{rows}"),
        (Some(_), _) => format!("{label}+head"),
    };
    Ok(match f.opt_str(key::TRAIN_BASE)? {
        Some(_) => format!("{label}+train"),
        None => label,
    })
}

/// Evaluates every model of `cfg`.
///
/// # Errors
/// [`Error`] naming the model or text; [`Error::Cancelled`]. The report is written only
/// when everything succeeded.
pub fn evaluate(cfg: &EvalConfig, progress: &mut dyn Progress) -> Result<EvalReport, Error> {
    let content = crate::text::read_text(&cfg.text)?;
    // Report inputs are checked, and the report's temporary file made, before the long part.
    let plan = cfg.plan.as_deref().map(read_plan).transpose()?;
    let report_out = match &cfg.report {
        Some(path) => {
            let inputs: Vec<&Path> = cfg
                .models
                .iter()
                .map(PathBuf::as_path)
                .chain([cfg.text.as_path()])
                .collect();
            Some(AtomicOutput::create(path, cfg.force, &inputs)?)
        }
        None => None,
    };
    let lines: Vec<&str> = content.lines().collect();
    // Continuations are shown by the report only: without one, none are generated.
    let n_prompts = if cfg.report.is_some() {
        cfg.continuations
    } else {
        0
    };
    let prompts = super::prompts(&content, n_prompts);
    // Each model's label and size from its header, read once and before the long part,
    // so that a --pair-with label no model carries is refused before anything is scored.
    let facts = cfg
        .models
        .iter()
        .map(|m| model_facts(m))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(want) = &cfg.pair_with {
        check_pair_label(cfg, &facts, want)?;
    }
    let mut rows = Vec::new();
    let mut parity_ok = true;
    for (m, (label, file_bytes)) in cfg.models.iter().zip(facts) {
        Reporter::new(progress).message(Stage::Eval, &m.display().to_string());
        let reference = cfg.reference.clone().or_else(|| {
            let (json, _) = tokenizer_paths(m);
            json.is_file().then_some(json)
        });
        let parity = match &reference {
            Some(r) => {
                let tk = crate::vocab::load_target(r)?;
                let p = parity(m, &tk, &lines)?;
                parity_ok &= p.ok();
                Some(p)
            }
            None => None,
        };
        let score = if cfg.parity_only {
            None
        } else {
            let opts = ScoreOptions {
                reference: reference.clone(),
                ..cfg.score.clone()
            };
            Some(score(m, &cfg.text, &content, &opts, progress)?)
        };
        let continuations = super::continuations(m, &prompts, 32, cfg.score.threads)?;
        let speed = match (&cfg.speed, cfg.parity_only) {
            (Some(opts), false) => {
                Reporter::new(progress)
                    .message(Stage::Eval, "timing prompt processing and generation");
                Some(super::measure_speed(
                    m,
                    &content,
                    &super::SpeedOptions {
                        threads: cfg.score.threads,
                        ..opts.clone()
                    },
                )?)
            }
            _ => None,
        };
        rows.push(EvalRow {
            label,
            file_bytes,
            parity,
            score,
            continuations,
            speed,
        });
    }
    if let (Some(train), false) = (&cfg.ngram_train, cfg.parity_only) {
        rows.extend(ngram_rows(cfg, train, &content, &rows)?);
    }
    if let (Some(path), Some(mut out)) = (&cfg.report, report_out) {
        let title = format!(
            "salt eval: {}",
            cfg.text
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        );
        let html = render_report(&title, &rows, plan.as_ref(), &report_about(cfg)?);
        out.writer()
            .write_all(html.as_bytes())
            .map_err(|source| OutputError::Io {
                path: path.clone(),
                source,
            })?;
        out.commit()?;
    }
    let paired = super::paired(&rows, cfg.pair_with.as_deref());
    Ok(EvalReport {
        paired,
        rows,
        parity_ok,
        report: cfg.report.clone(),
        machine: super::machine(),
    })
}

/// A model's row label and its size in bytes (all the files of a split model).
fn model_facts(m: &Path) -> Result<(String, u64), Error> {
    let gguf = GgufFile::open(m)?;
    let mut file_bytes = 0;
    for p in gguf.part_paths() {
        file_bytes += std::fs::metadata(p)
            .map_err(|source| OutputError::Io {
                path: p.to_path_buf(),
                source,
            })?
            .len();
    }
    Ok((model_label(&gguf)?, file_bytes))
}

/// Refuses a `pair_with` label that no model (nor an n-gram row asked for) carries, before
/// the long scoring: the labels are read from the models' metadata.
fn check_pair_label(cfg: &EvalConfig, facts: &[(String, u64)], want: &str) -> Result<(), Error> {
    let mut labels: Vec<String> = facts.iter().map(|(l, _)| l.clone()).collect();
    if cfg.ngram_train.is_some() {
        labels.extend(["unigram".to_owned(), "bigram".to_owned()]);
    }
    if labels.iter().any(|l| l == want) {
        return Ok(());
    }
    Err(EvalError::PairWith {
        label: want.to_owned(),
        labels: labels.join(", "),
    }
    .into())
}

/// The report's command and inputs, each input with its sha256.
fn report_about(cfg: &EvalConfig) -> Result<ReportAbout, Error> {
    let mut files: Vec<(&str, &Path)> = cfg.models.iter().map(|m| ("model", m.as_path())).collect();
    files.push(("text", &cfg.text));
    files.extend(cfg.reference.as_deref().map(|p| ("reference tokenizer", p)));
    files.extend(cfg.plan.as_deref().map(|p| ("plan", p)));
    files.extend(
        cfg.ngram_train
            .as_deref()
            .map(|p| ("n-gram training text", p)),
    );
    let mut inputs = Vec::with_capacity(files.len());
    for (role, path) in files {
        let (name, sha) = name_and_sha256(path)?;
        inputs.push((role.to_owned(), name, sha));
    }
    Ok(ReportAbout {
        command: cfg.command.clone(),
        inputs,
    })
}

/// The unigram and bigram rows over the tokens of the last adapted model of `rows`.
fn ngram_rows(
    cfg: &EvalConfig,
    train: &Path,
    content: &str,
    rows: &[EvalRow],
) -> Result<Vec<EvalRow>, Error> {
    let i = rows
        .iter()
        .rposition(|r| r.label != "source")
        .unwrap_or(rows.len().saturating_sub(1));
    let Some(model) = cfg.models.get(i) else {
        return Ok(Vec::new());
    };
    let train_text = crate::text::read_text(train)?;
    let reference = cfg.reference.clone().or_else(|| {
        let (json, _) = tokenizer_paths(model);
        json.is_file().then_some(json)
    });
    let opts = ScoreOptions {
        reference,
        ..cfg.score.clone()
    };
    let scores = super::ngram_scores(model, &train_text, &cfg.text, content, &opts)?;
    Ok(scores
        .into_iter()
        .zip(["unigram", "bigram"])
        .map(|(s, label)| EvalRow {
            label: label.to_owned(),
            file_bytes: 0,
            parity: None,
            score: Some(s),
            continuations: Vec::new(),
            speed: None,
        })
        .collect())
}

/// The comparison table as `salt eval` prints it, with each parity mismatch below its row
/// and the report's paired differences under it.
#[must_use]
pub fn table(report: &EvalReport) -> String {
    let rows = &report.rows;
    let lw = rows.iter().map(|r| r.label.len()).max().unwrap_or(0).max(8);
    let mut t = format!(
        "{:<lw$} {:>7} {:>9} {:>10} {:>6} {:>14} {:>10} {:>16} {:>9}\n",
        "method", "vocab", "MiB", "tok/1kB", "unk%", "bits/byte±se", "ppl", "parity", "tokens"
    );
    for r in rows {
        let parity = r.parity.as_ref().map_or_else(
            || "-".to_owned(),
            |p| format!("{}/{}", p.identical, p.lines),
        );
        let mib = r.file_bytes as f64 / 1_048_576.0;
        let _ = match &r.score {
            Some(s) => writeln!(
                t,
                "{:<lw$} {:>7} {:>9.1} {:>10.1} {:>6.2} {:>8.4}±{:.3} {:>10.2} {:>16} {:>9}",
                r.label,
                s.n_vocab,
                mib,
                s.tokens_per_kb,
                100.0 * s.unknown_share,
                s.bits_per_byte,
                s.bpb_se,
                s.perplexity,
                parity,
                s.scored_tokens
            ),
            None => writeln!(
                t,
                "{:<lw$} {:>7} {:>9.1} {:>10} {:>6} {:>14} {:>10} {:>16} {:>9}",
                r.label, "-", mib, "-", "-", "-", "-", parity, "-"
            ),
        };
        if let Some(s) = r.score.as_ref().filter(|s| s.by_class.len() > 1) {
            let parts: Vec<String> = s
                .by_class
                .iter()
                .map(|c| {
                    format!(
                        "{} {:.1}% of bytes {:.3}",
                        c.class,
                        100.0 * c.byte_share,
                        c.bits_per_byte
                    )
                })
                .collect();
            let _ = writeln!(t, "  bits/byte by class: {}", parts.join(", "));
        }
        for mm in r.parity.iter().flat_map(|p| &p.mismatches) {
            let _ = writeln!(
                t,
                "  mismatch line {}: {:?}\n    llama.cpp {:?}\n    reference {:?}",
                mm.line, mm.text, mm.llama_pieces, mm.reference_pieces
            );
        }
    }
    t.push_str(&speed_lines(rows));
    let pairs = &report.paired;
    if !pairs.is_empty() {
        let _ = writeln!(
            t,
            "paired differences of bits/byte (same windows; ± one standard error):"
        );
        for p in pairs {
            let _ = writeln!(
                t,
                "  {} - {}: {:+.4}±{:.4} ({:.1} se, {} windows)",
                p.label,
                p.against,
                p.diff,
                p.se,
                p.diff / p.se.max(f64::MIN_POSITIVE),
                p.windows
            );
        }
    }
    t
}

/// The speed rows of the table (nothing when no model was timed).
fn speed_lines(rows: &[EvalRow]) -> String {
    let timed: Vec<(&EvalRow, &super::Speed)> = rows
        .iter()
        .filter_map(|r| r.speed.as_ref().map(|s| (r, s)))
        .collect();
    let Some((_, first)) = timed.first() else {
        return String::new();
    };
    let lw = timed
        .iter()
        .map(|(r, _)| r.label.len())
        .max()
        .unwrap_or(0)
        .max(8);
    let mut t = format!(
        "speed ({} threads on {}; prompt: batches of {} tokens, generation: {} tokens, {} times each):\n{:<lw$} {:>12} {:>12} {:>12} {:>12} {:>10}\n",
        first.threads,
        super::machine(),
        first.prompt_tokens,
        first.gen_tokens,
        first.reps,
        "model",
        "prompt tok/s",
        "prompt B/s",
        "gen tok/s",
        "gen B/s",
        "B/token"
    );
    for (r, s) in timed {
        let _ = writeln!(
            t,
            "{:<lw$} {:>12.1} {:>12.0} {:>12.1} {:>12.0} {:>10.2}",
            r.label,
            s.prompt_tok_per_s,
            s.prompt_bytes_per_s,
            s.gen_tok_per_s,
            s.gen_bytes_per_s,
            s.bytes_per_token
        );
    }
    t
}
