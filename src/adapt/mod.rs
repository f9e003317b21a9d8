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

mod candidates;
mod files;
mod verdict;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, OutputError};
use crate::eval::{evaluate, EvalReport};
use crate::plan::{plan, Plan, PlanConfig};
use crate::progress::{Progress, Reporter, Stage};
use crate::tune::{FitOptions, HiddenOptions};
use crate::vocab::TrimKeep;

use candidates::{replace, train_candidate, trim};
use files::{check_output, check_viable, install};
pub use verdict::{choose, split_text};
use verdict::{eval_config, verdict};

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
