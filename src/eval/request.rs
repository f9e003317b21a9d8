//! One reading of an eval request for both front ends: the CLI fills an [`EvalRequest`]
//! from its flags, the C API deserialises one from its JSON keys, and the library alone
//! maps it onto an [`EvalConfig`].

use std::path::PathBuf;

use serde::Deserialize;

use super::{EvalConfig, ScoreOptions, SpeedOptions};

/// An eval as a front end asks for it (the C API's JSON keys are these field names).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalRequest {
    /// GGUF models; the first is the table's baseline.
    pub models: Vec<PathBuf>,
    /// Held-out text.
    pub text: PathBuf,
    /// Scored tokens at most per model (`None`: the whole text).
    #[serde(default)]
    pub max_tokens: Option<usize>,
    /// Positions per window.
    #[serde(default = "EvalRequest::default_ctx")]
    pub ctx: usize,
    /// Reference tokenizer for the parity check.
    #[serde(default)]
    pub reference: Option<PathBuf>,
    /// The HTML report.
    #[serde(default)]
    pub report: Option<PathBuf>,
    /// A transfer's plan, for the report's charts.
    #[serde(default)]
    pub plan: Option<PathBuf>,
    /// Training text of the n-gram rows.
    #[serde(default)]
    pub ngram: Option<PathBuf>,
    /// Only check parity.
    #[serde(default)]
    pub parity_only: bool,
    /// Greedy continuations per model in the report.
    #[serde(default = "EvalRequest::default_continuations")]
    pub continuations: usize,
    /// Time prompt processing and generation (off unless asked for in the C API: it costs a
    /// few seconds per model; the CLI asks unless `--no-speed` or `--parity`).
    #[serde(default)]
    pub speed: bool,
    /// Prompt tokens timed (`None`: [`SpeedOptions::default`]'s).
    #[serde(default)]
    pub speed_prompt: Option<usize>,
    /// Generated tokens timed (`None`: [`SpeedOptions::default`]'s).
    #[serde(default)]
    pub speed_gen: Option<usize>,
    /// Replace an existing report.
    #[serde(default)]
    pub force: bool,
    /// llama.cpp threads (`None`: all cores).
    #[serde(default)]
    pub threads: Option<usize>,
    /// The row label the paired differences are taken against.
    #[serde(default)]
    pub pair_with: Option<String>,
}

impl EvalRequest {
    /// Positions per window unless told otherwise.
    pub const DEFAULT_CTX: usize = 512;
    /// Continuations per model unless told otherwise.
    pub const DEFAULT_CONTINUATIONS: usize = 3;

    fn default_ctx() -> usize {
        Self::DEFAULT_CTX
    }

    fn default_continuations() -> usize {
        Self::DEFAULT_CONTINUATIONS
    }

    /// The library's configuration; `command` is the command line the report records.
    #[must_use]
    pub fn resolve(self, command: Option<String>) -> EvalConfig {
        let defaults = SpeedOptions::default();
        EvalConfig {
            models: self.models,
            text: self.text,
            reference: self.reference,
            parity_only: self.parity_only,
            score: ScoreOptions {
                ctx: self.ctx,
                max_tokens: self.max_tokens,
                threads: self.threads,
                reference: None,
            },
            continuations: self.continuations,
            report: self.report,
            plan: self.plan,
            ngram_train: self.ngram,
            force: self.force,
            command,
            pair_with: self.pair_with,
            speed: self.speed.then(|| SpeedOptions {
                prompt_tokens: self.speed_prompt.unwrap_or(defaults.prompt_tokens),
                gen_tokens: self.speed_gen.unwrap_or(defaults.gen_tokens),
                ..defaults
            }),
        }
    }
}
