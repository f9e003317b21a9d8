//! `salt adapt`: from a source, a text and optionally a PLM to the model worth shipping.
//!
//! 1. The text is split by lines: the last [`AdaptConfig::val_share`] of them (at least
//!    [`MIN_VAL_BYTES`] bytes) are the validation part, the rest the training part. A
//!    held-out file is read only when given, and only to report.
//! 2. [`crate::plan`] runs on the training part; a text mostly outside every route's
//!    vocabulary is refused there.
//! 3. Every viable route is built in a work folder beside the output: the source's own
//!    vocabulary trimmed to the training part (`trim`), the same keeping every piece of
//!    the text's script (`trim+SCRIPT`), and, with a PLM that covers the text, the PLM's
//!    vocabulary trimmed to the training part, initialised by the plan's method, with its
//!    head fitted on the training part (`salt tune`, body frozen). With a training
//!    budget, the replacement is also trained through the frozen body (`salt train`), a
//!    candidate of its own (`+train`); a trim, whose rows are all the source's, is not.
//! 4. The source and every candidate are scored on the validation part (bits per byte
//!    with its standard error, and speed) through llama.cpp.
//! 5. The winner, by [`choose`]: the lowest bits per byte; among the candidates within two
//!    combined standard errors of it (or within `tolerance` of it, when given), the
//!    cheapest in multiply-adds per byte of text (deterministic, unlike a timing). It is renamed to the output path with its
//!    reference tokenizer; the other candidates are removed unless kept.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::auxvec::{AuxSource, TrainOptions};
use crate::error::{Error, OutputError, TuneError};
use crate::eval::{evaluate, EvalConfig, EvalReport, EvalRow, ScoreOptions, SpeedOptions};
use crate::init::Method;
use crate::output::tokenizer_paths;
use crate::pipeline::{transfer, TransferConfig};
use crate::plan::{plan, Plan, PlanConfig, MAX_OUTSIDE_SHARE};
use crate::progress::{Progress, Reporter, Stage};
use crate::train::TrainConfig;
use crate::tune::{tune, FitOptions, HiddenOptions, TuneConfig};
use crate::vocab::{Script, TrimKeep};

/// The validation part holds at least this many bytes (a few windows of any tokenizer).
pub const MIN_VAL_BYTES: usize = 16 * 1024;

/// How much time the candidates get.
#[derive(Clone, Debug, PartialEq)]
pub struct Budget {
    /// Training positions of the head fit.
    pub fit_tokens: usize,
    /// L-BFGS iterations of the head fit.
    pub fit_iters: usize,
    /// Scored tokens per model on the validation part.
    pub eval_tokens: usize,
    /// Steps of training the rows through the frozen body (`salt train`) for the
    /// replacement candidate; 0 trains none.
    pub train_steps: usize,
}

impl Budget {
    /// Training steps unless told otherwise: on SmolLM2 <- Korean, 50 steps of the input
    /// rows took the validation loss from 6.26 to 5.73 nats per token and a text of
    /// another domain (Korean bills) from 7.51 to 7.32, at about 3 s a step on 2 cores.
    pub const DEFAULT_TRAIN_STEPS: usize = 50;
}

impl Default for Budget {
    /// `salt tune`'s own defaults for the head (32,768 positions, 40 iterations: with the
    /// demo's 8,192 and 20, SmolLM2's replaced head beat its source on the validation
    /// part but not on held-out text), 8,192 scored tokens per model: about ten minutes
    /// on 2 cores for the demo's models.
    fn default() -> Self {
        Self {
            fit_tokens: HiddenOptions::DEFAULT_MAX_TOKENS,
            fit_iters: FitOptions::default().iters,
            eval_tokens: 8192,
            train_steps: Self::DEFAULT_TRAIN_STEPS,
        }
    }
}

/// What to adapt.
#[derive(Clone, Debug)]
pub struct AdaptConfig {
    /// The source GGUF.
    pub source: PathBuf,
    /// The user's text of the target language.
    pub text: PathBuf,
    /// A PLM whose tokenizer may replace the source's.
    pub plm: Option<PathBuf>,
    /// The model written.
    pub out: PathBuf,
    /// A held-out text, scored for the report only (never to choose).
    pub heldout: Option<PathBuf>,
    /// Share of the text's lines kept for validation (the last ones).
    pub val_share: f64,
    /// Time given to the candidates.
    pub budget: Budget,
    /// Bits per byte (as a fraction of the best) traded for speed: a candidate this close
    /// to the best counts as level.
    pub tolerance: f64,
    /// Keep every candidate in the work folder.
    pub keep_candidates: bool,
    /// llama.cpp threads.
    pub threads: Option<usize>,
    /// Replace an existing output.
    pub force: bool,
    /// Write the validation report (HTML) here.
    pub report: Option<PathBuf>,
}

impl AdaptConfig {
    /// The defaults for these files.
    #[must_use]
    pub fn new(source: PathBuf, text: PathBuf, plm: Option<PathBuf>, out: PathBuf) -> Self {
        Self {
            source,
            text,
            plm,
            out,
            heldout: None,
            val_share: 0.1,
            budget: Budget::default(),
            tolerance: 0.0,
            keep_candidates: false,
            threads: None,
            force: false,
            report: None,
        }
    }

    /// Refuses settings out of range (the CLI and the C API word it alike).
    ///
    /// # Errors
    /// A sentence naming the setting and its range.
    pub fn check(&self) -> Result<(), String> {
        if !(self.val_share > 0.0 && self.val_share < 0.5) {
            return Err(format!(
                "val_share {}: give a share between 0 and 0.5",
                self.val_share
            ));
        }
        if !(self.tolerance >= 0.0 && self.tolerance.is_finite()) {
            return Err(format!(
                "tolerance {}: give a fraction of 0 or more",
                self.tolerance
            ));
        }
        Ok(())
    }

    /// The folder of the candidates: `OUT.candidates/` beside the output.
    #[must_use]
    pub fn work_dir(&self) -> PathBuf {
        let mut name = self.out.file_name().unwrap_or_default().to_os_string();
        name.push(".candidates");
        self.out.with_file_name(name)
    }
}

/// One candidate's standing.
#[derive(Clone, Debug, Serialize)]
pub struct Candidate {
    /// `trim`, `trim+SCRIPT`, `replace:METHOD+head`.
    pub label: String,
    /// Its GGUF in the work folder.
    pub path: PathBuf,
    /// Seconds to build it.
    pub seconds: f64,
    /// Index of its route in the plan (a trained candidate shares its base's).
    #[serde(skip)]
    pub route: usize,
}

/// What `adapt` did.
#[derive(Clone, Debug, Serialize)]
pub struct AdaptReport {
    /// The plan of the training part.
    pub plan: Plan,
    /// The candidates built.
    pub candidates: Vec<Candidate>,
    /// The source and the candidates on the validation part.
    pub validation: EvalReport,
    /// The winner's label.
    pub winner: String,
    /// One line for the user.
    pub verdict: String,
    /// The source and the winner on the held-out text, when given.
    pub heldout: Option<EvalReport>,
    /// Lines of the training and validation parts.
    pub split: (usize, usize),
    /// Seconds per step.
    pub seconds: BTreeMap<String, f64>,
}

/// Splits `text` into training and validation parts by lines (the last `val_share`).
///
/// # Errors
/// [`TuneError::Text`] when the text is too short to split.
pub fn split_text(text: &str, val_share: f64, path: &Path) -> Result<(String, String), TuneError> {
    let lines: Vec<&str> = text.lines().collect();
    let n_val = ((lines.len() as f64) * val_share).ceil() as usize;
    let mut cut = lines.len().saturating_sub(n_val.max(1));
    // Grow the validation part until it holds enough bytes.
    while cut > 0 && lines[cut..].iter().map(|l| l.len() + 1).sum::<usize>() < MIN_VAL_BYTES {
        cut -= 1;
    }
    let train_bytes: usize = lines[..cut].iter().map(|l| l.len() + 1).sum();
    if cut == 0 || train_bytes < 4 * MIN_VAL_BYTES {
        return Err(TuneError::Text {
            path: path.to_path_buf(),
            reason: format!(
                "{} lines, {} bytes: too short to split into training and validation parts (validation needs {MIN_VAL_BYTES} bytes and training four times that); give a longer text",
                lines.len(),
                text.len()
            ),
        });
    }
    let join = |ls: &[&str]| {
        let mut s = ls.join("\n");
        s.push('\n');
        s
    };
    Ok((join(&lines[..cut]), join(&lines[cut..])))
}

/// Chooses the winner among `rows[1..]` (row 0 is the source): the index of `rows`.
/// The lowest bits per byte wins; a candidate within two combined standard errors of it,
/// or within `tolerance` (a fraction) of it, counts as level, and among the level ones the
/// cheapest wins: `cost[i]` is row i's multiply-adds per byte of text (the plan's
/// `cost_per_byte`). The cost, not the measured speed, breaks ties, so the same inputs
/// give the same winner on any machine under any load; the measured speed is reported
/// beside it.
#[must_use]
pub fn choose(rows: &[EvalRow], cost: &[f64], tolerance: f64) -> Option<usize> {
    let scored: Vec<(usize, f64, f64, f64)> = rows
        .iter()
        .enumerate()
        .skip(1)
        .filter_map(|(i, r)| {
            let s = r.score.as_ref()?;
            // Lower cost is faster: negated so that the largest wins below.
            let speed = -cost.get(i).copied().unwrap_or(f64::INFINITY);
            Some((i, s.bits_per_byte, s.bpb_se, speed))
        })
        .collect();
    let &(_, best, best_se, _) = scored.iter().min_by(|a, b| a.1.total_cmp(&b.1))?;
    scored
        .iter()
        .filter(|(_, b, se, _)| {
            let band = 2.0 * (se * se + best_se * best_se).sqrt();
            *b <= best + band || *b <= best * (1.0 + tolerance)
        })
        .max_by(|a, b| a.3.total_cmp(&b.3).then(b.1.total_cmp(&a.1)))
        .map(|c| c.0)
}

/// Runs the whole adaptation.
///
/// # Errors
/// [`Error`] of any step, naming its file; [`Error::Route`] when the text is mostly
/// outside every route's vocabulary; [`OutputError::Exists`] for an existing output
/// without `force` (checked first); nothing is written at the output unless all succeed.
pub fn adapt(cfg: &AdaptConfig, progress: &mut dyn Progress) -> Result<AdaptReport, Error> {
    check_output(cfg)?;
    let made = !cfg.work_dir().exists();
    let r = run(cfg, progress);
    // A failed run leaves nothing behind (a work folder that was there before stays).
    if r.is_err() && made && !cfg.keep_candidates {
        let _ = std::fs::remove_dir_all(cfg.work_dir());
    }
    r
}

/// [`adapt`] after the output check.
fn run(cfg: &AdaptConfig, progress: &mut dyn Progress) -> Result<AdaptReport, Error> {
    let mut seconds = BTreeMap::new();
    let mut clock = std::time::Instant::now();
    let mut lap = |name: &str, seconds: &mut BTreeMap<String, f64>| {
        seconds.insert(name.to_owned(), clock.elapsed().as_secs_f64());
        clock = std::time::Instant::now();
    };
    let text = crate::text::read_text(&cfg.text)?;
    let (train, val) = split_text(&text, cfg.val_share, &cfg.text)?;
    let work = cfg.work_dir();
    std::fs::create_dir_all(&work).map_err(|source| OutputError::Io {
        path: work.clone(),
        source,
    })?;
    let write = |name: &str, body: &str| -> Result<PathBuf, Error> {
        let p = work.join(name);
        std::fs::write(&p, body).map_err(|source| OutputError::Io {
            path: p.clone(),
            source,
        })?;
        Ok(p)
    };
    let train_path = write("train.txt", &train)?;
    let val_path = write("validation.txt", &val)?;
    let split = (train.lines().count(), val.lines().count());
    Reporter::new(progress).message(
        Stage::Target,
        &format!(
            "training part: {} lines; validation part: {} lines (the last {:.0}%)",
            split.0,
            split.1,
            100.0 * cfg.val_share
        ),
    );
    let the_plan = plan(
        &PlanConfig {
            source: cfg.source.clone(),
            plm: cfg.plm.clone(),
            text: train_path.clone(),
            keep: TrimKeep::default(),
        },
        progress,
    )?;
    check_viable(cfg, &the_plan)?;
    lap("plan", &mut seconds);
    let mut candidates = Vec::new();
    for (i, route) in the_plan.routes.iter().enumerate().skip(1) {
        let t0 = std::time::Instant::now();
        let made = match route.route.as_str() {
            "replace" => replace(cfg, &the_plan, &train_path, &work, progress)?,
            name => trim(cfg, name, &train_path, &work, progress)?,
        };
        candidates.push(Candidate {
            label: made.0,
            path: made.1,
            seconds: t0.elapsed().as_secs_f64(),
            route: i,
        });
        lap(&format!("build {}", route.route), &mut seconds);
    }
    if cfg.budget.train_steps > 0 {
        // The replacement only: a trim's rows are all the source's, trained with this
        // body on far more text than ours. salt train's default rows leave them (only the
        // few special tokens' would move), and training them all made Gemma's trim worse
        // from the first validation (docs/results.md), so a trim is never worth the time.
        let bases: Vec<Candidate> = candidates
            .iter()
            .filter(|c| the_plan.routes[c.route].route == "replace")
            .cloned()
            .collect();
        for base in bases {
            let t0 = std::time::Instant::now();
            let path = train_candidate(cfg, &base.path, &train_path, progress)?;
            candidates.push(Candidate {
                label: format!("{}+train", base.label),
                path,
                seconds: base.seconds + t0.elapsed().as_secs_f64(),
                route: base.route,
            });
            lap(&format!("train {}", base.label), &mut seconds);
        }
    }
    let models: Vec<PathBuf> = std::iter::once(cfg.source.clone())
        .chain(candidates.iter().map(|c| c.path.clone()))
        .collect();
    let validation = evaluate(
        &eval_config(cfg, models, &val_path, cfg.report.clone()),
        progress,
    )?;
    lap("validation", &mut seconds);
    let cost: Vec<f64> = std::iter::once(the_plan.routes[0].cost_per_byte)
        .chain(
            candidates
                .iter()
                .map(|c| the_plan.routes[c.route].cost_per_byte),
        )
        .collect();
    let w = choose(&validation.rows, &cost, cfg.tolerance).ok_or_else(|| Error::Route {
        reason: "no candidate could be scored on the validation part".into(),
        fix: "give a longer text",
    })?;
    let winner = &candidates[w - 1];
    let verdict = verdict(&validation.rows, w, &candidates);
    let heldout = match &cfg.heldout {
        Some(h) => Some(evaluate(
            &eval_config(cfg, vec![cfg.source.clone(), winner.path.clone()], h, None),
            progress,
        )?),
        None => None,
    };
    lap("held-out", &mut seconds);
    install(&winner.path, &cfg.out)?;
    if !cfg.keep_candidates {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok(AdaptReport {
        plan: the_plan,
        winner: winner.label.clone(),
        candidates,
        validation,
        verdict,
        heldout,
        split,
        seconds,
    })
}

/// An existing output without `force`, or an output that is an input, is refused first.
fn check_output(cfg: &AdaptConfig) -> Result<(), Error> {
    for input in [Some(&cfg.source), Some(&cfg.text), cfg.plm.as_ref()]
        .into_iter()
        .flatten()
    {
        if crate::plan::is_source(&cfg.out, input) {
            return Err(OutputError::IsInput {
                path: cfg.out.clone(),
            }
            .into());
        }
    }
    if cfg.out.exists() && !cfg.force {
        return Err(OutputError::Exists {
            path: cfg.out.clone(),
        }
        .into());
    }
    Ok(())
}

/// A text mostly outside the vocabulary of every route is refused.
fn check_viable(cfg: &AdaptConfig, p: &Plan) -> Result<(), Error> {
    let source = &p.routes[0];
    if let (Some(plm), Some(r)) = (&cfg.plm, p.routes.iter().find(|r| r.route == "replace")) {
        if r.fallback_byte_share > MAX_OUTSIDE_SHARE {
            return Err(Error::Route {
                reason: format!(
                    "{}: {:.0}% of the text's bytes are unknown to the PLM's vocabulary; it is not a model of this text's language",
                    plm.display(),
                    100.0 * r.fallback_byte_share
                ),
                fix: "give a PLM of the text's language, or no --plm to trim the source",
            });
        }
    } else if source.fallback_byte_share > MAX_OUTSIDE_SHARE {
        return Err(Error::Route {
            reason: format!(
                "{}: {:.0}% of the text's bytes fall to byte pieces of the source's vocabulary; trimming cannot help a tokenizer that does not know the language",
                cfg.source.display(),
                100.0 * source.fallback_byte_share
            ),
            fix: "give --plm, a small model of the text's language, to replace the vocabulary",
        });
    }
    Ok(())
}

/// The trim route `name` (`trim` or `trim+SCRIPT`): (label, GGUF path).
fn trim(
    cfg: &AdaptConfig,
    name: &str,
    train: &Path,
    work: &Path,
    progress: &mut dyn Progress,
) -> Result<(String, PathBuf), Error> {
    let out = work.join(format!("{}.gguf", name.replace('+', "-")));
    let mut t = TransferConfig::new(cfg.source.clone(), cfg.source.clone(), None, out.clone());
    t.method = Method::Trim;
    t.trim_to = Some(train.to_path_buf());
    if let Some(s) = name.strip_prefix("trim+").and_then(Script::from_name) {
        t.trim_keep.scripts.push(s);
    }
    t.force = true;
    transfer(&t, progress)?;
    Ok((name.to_owned(), out))
}

/// The replacement route: the PLM's vocabulary trimmed to the training part, the plan's
/// initialiser, then the head fitted: (label, GGUF path).
fn replace(
    cfg: &AdaptConfig,
    p: &Plan,
    train: &Path,
    work: &Path,
    progress: &mut dyn Progress,
) -> Result<(String, PathBuf), Error> {
    let plm = cfg.plm.clone().ok_or(Error::Route {
        reason: "the replacement route needs a PLM".into(),
        fix: "give --plm",
    })?;
    let method = if p.recommended == "replace" {
        p.method
    } else {
        Method::SaltCentred
    };
    let aux = method
        .needs()
        .neighbours
        .then(|| AuxSource::Train(TrainOptions::new(train.to_path_buf())));
    let init = work.join(format!("replace-{}.gguf", method.name()));
    let mut t = TransferConfig::new(cfg.source.clone(), plm, aux, init.clone());
    t.method = method;
    t.trim_to = Some(train.to_path_buf());
    t.force = true;
    transfer(&t, progress)?;
    let out = work.join(format!("replace-{}-head.gguf", method.name()));
    let mut tc = TuneConfig::new(init.clone(), train.to_path_buf(), out.clone());
    tc.fit = FitOptions {
        iters: cfg.budget.fit_iters,
        ..FitOptions::default()
    };
    tc.hidden = HiddenOptions {
        max_tokens: Some(cfg.budget.fit_tokens),
        threads: cfg.threads,
        cache: None,
        ..HiddenOptions::default()
    };
    tc.force = true;
    tune(&tc, progress)?;
    // The init is a step on the way, not a candidate: its head is always better on the
    // training domain.
    let _ = std::fs::remove_file(&init);
    for p in [tokenizer_paths(&init).0, tokenizer_paths(&init).1] {
        let _ = std::fs::remove_file(p);
    }
    Ok((format!("replace:{}+head", method.name()), out))
}

/// `base` trained through its frozen body on the training part (`salt train`'s defaults,
/// the budget's steps): the GGUF beside it, `NAME-train.gguf`.
fn train_candidate(
    cfg: &AdaptConfig,
    base: &Path,
    train: &Path,
    progress: &mut dyn Progress,
) -> Result<PathBuf, Error> {
    let stem = base.file_stem().unwrap_or_default().to_string_lossy();
    let out = base.with_file_name(format!("{stem}-train.gguf"));
    let mut tc = TrainConfig::new(base.to_path_buf(), train.to_path_buf(), out.clone());
    tc.steps = cfg.budget.train_steps;
    tc.threads = cfg.threads;
    tc.force = true;
    crate::train::train(&tc, progress)?;
    Ok(out)
}

/// Scoring and timing settings of `salt adapt`'s evaluations.
fn eval_config(
    cfg: &AdaptConfig,
    models: Vec<PathBuf>,
    text: &Path,
    report: Option<PathBuf>,
) -> EvalConfig {
    EvalConfig {
        models,
        text: text.to_path_buf(),
        score: ScoreOptions {
            max_tokens: Some(cfg.budget.eval_tokens),
            threads: cfg.threads,
            ..ScoreOptions::default()
        },
        report,
        force: cfg.force,
        speed: Some(SpeedOptions {
            threads: cfg.threads,
            ..SpeedOptions::default()
        }),
        ..EvalConfig::default()
    }
}

/// Moves the winner's GGUF and reference tokenizer to `out`.
fn install(winner: &Path, out: &Path) -> Result<(), Error> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| OutputError::Io { path, source }
    };
    let (from_json, from_spm) = tokenizer_paths(winner);
    let (to_json, to_spm) = tokenizer_paths(out);
    for (from, to) in [(from_json, to_json), (from_spm, to_spm)] {
        if from.is_file() {
            std::fs::rename(&from, &to).map_err(io(&to))?;
        } else if to.is_file() {
            // A stale tokenizer of an earlier model at this path would mislead.
            std::fs::remove_file(&to).map_err(io(&to))?;
        }
    }
    std::fs::rename(winner, out).map_err(io(out))?;
    Ok(())
}

/// One line: what to ship and why, against the source.
fn verdict(rows: &[EvalRow], w: usize, candidates: &[Candidate]) -> String {
    let (src, win) = (&rows[0], &rows[w]);
    let (Some(s), Some(v)) = (&src.score, &win.score) else {
        return format!("ship {}", candidates[w - 1].label);
    };
    let rel = 100.0 * (v.bits_per_byte / s.bits_per_byte - 1.0);
    let speed = match (&src.speed, &win.speed) {
        (Some(a), Some(b)) => format!(
            ", {:.2}x the source's generation speed in bytes/s",
            b.gen_bytes_per_s / a.gen_bytes_per_s.max(f64::MIN_POSITIVE)
        ),
        _ => String::new(),
    };
    let se = (s.bpb_se * s.bpb_se + v.bpb_se * v.bpb_se).sqrt();
    let standing = if (v.bits_per_byte - s.bits_per_byte).abs() <= 2.0 * se {
        "level with the source"
    } else if v.bits_per_byte < s.bits_per_byte {
        "better than the source"
    } else {
        "worse than the source"
    };
    format!(
        "ship {}: {:.4}±{:.3} bits/byte on the validation part against the source's {:.4}±{:.3} ({rel:+.1}%, {standing}){speed}, {:.1} MiB against {:.1}",
        candidates[w - 1].label,
        v.bits_per_byte,
        v.bpb_se,
        s.bits_per_byte,
        s.bpb_se,
        win.file_bytes as f64 / 1_048_576.0,
        src.file_bytes as f64 / 1_048_576.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, bpb: f64, se: f64) -> EvalRow {
        let mut r = crate::eval::test_row(label, 1, &[bpb, bpb]);
        if let Some(s) = r.score.as_mut() {
            s.bpb_se = se;
        }
        r
    }

    /// Quality first; level candidates (two combined standard errors, or the tolerance)
    /// go to the cheapest per byte; the source (row 0) is never chosen.
    #[test]
    fn choose_takes_the_best_then_the_cheapest_among_the_level() {
        let cost = [1.0, 0.8, 0.9, 0.3];
        let rows = [
            row("source", 1.0, 0.01),
            row("trim", 1.00, 0.01),
            row("trim+X", 0.99, 0.01),
            row("replace", 1.20, 0.01),
        ];
        // trim and trim+X are level (0.01 < 2 x 0.014): the cheaper trim wins.
        assert_eq!(choose(&rows, &cost, 0.0), Some(1));
        // A clearly better candidate wins whatever its cost.
        let rows2 = [
            row("source", 1.0, 0.01),
            row("trim", 1.00, 0.001),
            row("trim+X", 0.90, 0.001),
            row("replace", 1.20, 0.001),
        ];
        assert_eq!(choose(&rows2, &cost, 0.0), Some(2));
        // A tolerance of 25% makes trim (1.00 against 0.90) level, and it is cheaper; 40%
        // makes the replacement (1.20) level too, the cheapest.
        assert_eq!(choose(&rows2, &cost, 0.25), Some(1));
        assert_eq!(choose(&rows2, &cost, 0.4), Some(3));
        assert_eq!(choose(&rows[..1], &cost, 0.0), None);
    }
}
