//! The flags of `salt adapt`, `salt plan`, `salt tune` and `salt train`.

use std::path::PathBuf;

use super::defaults::train_defaults;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  salt adapt --source gemma-3-270m.gguf --text korean.txt --plm use/ --out gemma-ko.gguf"
)]
pub struct AdaptArgs {
    /// The source GGUF model.
    #[arg(long, help_heading = "Inputs")]
    pub source: PathBuf,
    /// Your text of the target language; its last lines are kept for validation.
    #[arg(long, help_heading = "Inputs")]
    pub text: PathBuf,
    /// A small model of the target language whose tokenizer may replace the source's
    /// (folder, tokenizer file or GGUF). Without it, only the trim routes run.
    #[arg(long, help_heading = "Inputs")]
    pub plm: Option<PathBuf>,
    /// A held-out text, scored for the report only (never used to choose).
    #[arg(long, help_heading = "Inputs")]
    pub heldout: Option<PathBuf>,
    /// The model written (its reference tokenizer beside it).
    #[arg(long, help_heading = "Output")]
    pub out: PathBuf,
    /// Keep every candidate in OUT.candidates/.
    #[arg(long, help_heading = "Output")]
    pub keep_candidates: bool,
    /// Replace an existing output.
    #[arg(long, help_heading = "Output")]
    pub force: bool,
    /// Write the validation report (HTML) here.
    #[arg(long, help_heading = "Output")]
    pub report: Option<PathBuf>,
    /// Share of the text's lines kept for validation (the last ones).
    #[arg(long, default_value_t = 0.1, help_heading = "Choice")]
    pub val_share: f64,
    /// Bits per byte (a fraction of the best, 0.01 = 1%) to trade for speed.
    #[arg(long, default_value_t = 0.0, help_heading = "Choice")]
    pub tolerance: f64,
    /// Training positions of the replacement's head fit (a bigger budget: more).
    #[arg(long, default_value_t = salt::adapt::Budget::default().fit_tokens, help_heading = "Budget")]
    pub fit_tokens: usize,
    /// L-BFGS iterations of the head fit.
    #[arg(long, default_value_t = salt::adapt::Budget::default().fit_iters, help_heading = "Budget")]
    pub fit_iters: usize,
    /// Scored tokens per model on the validation part.
    #[arg(long, default_value_t = salt::adapt::Budget::default().eval_tokens, help_heading = "Budget")]
    pub eval_tokens: usize,
    /// Steps of training the rows through the frozen body for the replacement candidate
    /// (a candidate of its own; a trim's rows are the source's and are not trained; 0:
    /// none).
    #[arg(long, default_value_t = salt::adapt::Budget::default().train_steps, help_heading = "Budget")]
    pub train_steps: usize,
    /// llama.cpp threads.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  salt plan --source model.gguf --plm use/ --text my-language.txt"
)]
pub struct PlanArgs {
    /// The source GGUF model.
    #[arg(long, help_heading = "Inputs")]
    pub source: PathBuf,
    /// A PLM whose tokenizer could replace the source's (folder, tokenizer file or GGUF).
    #[arg(long, help_heading = "Inputs")]
    pub plm: Option<PathBuf>,
    /// Your text of the target language (the training text; never a held-out text).
    #[arg(long, help_heading = "Inputs")]
    pub text: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  salt tune --model new.gguf --train my-language.txt --out new-head.gguf"
)]
pub struct TuneArgs {
    /// The GGUF whose head is fitted (usually a `salt transfer` output).
    #[arg(long, help_heading = "Inputs")]
    pub model: PathBuf,
    /// Target-language training text (never the held-out text); its last windows are
    /// kept for validation.
    #[arg(long, help_heading = "Inputs")]
    pub train: PathBuf,
    /// The new GGUF (its reference tokenizer is copied beside it).
    #[arg(long, help_heading = "Output")]
    pub out: PathBuf,
    /// Rows fitted: all, new (the new tokens' only) or unshared (all but the shared
    /// tokens': new, special and chat).
    #[arg(help_heading = "Fit", long, default_value = salt::tune::FitRows::DEFAULT.name())]
    pub rows: String,
    /// L2 pull toward the initial rows.
    #[arg(help_heading = "Fit", long, default_value_t = salt::tune::FitOptions::default().l2)]
    pub l2: f64,
    /// L-BFGS iterations at most (the rows of the best validation iteration are kept).
    #[arg(help_heading = "Fit", long, default_value_t = salt::tune::FitOptions::default().iters)]
    pub iters: usize,
    /// Training positions at most, in windows spread evenly over the whole text.
    #[arg(help_heading = "Fit", long, default_value_t = salt::tune::HiddenOptions::DEFAULT_MAX_TOKENS)]
    pub max_tokens: usize,
    /// Share of the training windows kept for validation.
    #[arg(help_heading = "Fit", long, default_value_t = salt::tune::TuneConfig::DEFAULT_VAL_SHARE)]
    pub val_share: f64,
    /// Positions per window.
    #[arg(help_heading = "Fit", long, default_value_t = salt::tune::HiddenOptions::DEFAULT_CTX)]
    pub ctx: usize,
    /// The head's ggml type (same: the input's output type).
    #[arg(help_heading = "Output", long, default_value = "same")]
    pub head_type: String,
    /// Folder of the hidden-state cache.
    #[arg(long, help_heading = "Inputs")]
    pub cache: Option<PathBuf>,
    /// Do not cache hidden states.
    #[arg(help_heading = "Inputs", long, conflicts_with = "cache")]
    pub no_cache: bool,
    /// llama.cpp threads.
    #[arg(long)]
    pub threads: Option<usize>,
    /// The fitted tokens' input rows: keep, or tie (the fitted rows become their input
    /// rows too; helps Korean Gemma, harms SmolLM2 and Qwen: docs/results.md).
    #[arg(help_heading = "Output", long, default_value = salt::tune::InputRows::DEFAULT.name())]
    pub inputs: String,
    /// Replace an existing --out.
    #[arg(long, help_heading = "Output")]
    pub force: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  salt train --model smollm2-ko-head.gguf --train bible-ko-train.txt \\\n    --val-text constitution-ko.txt --out smollm2-ko-trained.gguf"
)]
pub struct TrainArgs {
    /// The GGUF whose rows are trained (a transfer's, tune's or any output).
    #[arg(long, help_heading = "Inputs")]
    pub model: PathBuf,
    /// Target-language training text (never the held-out text); its last windows are
    /// kept for validation.
    #[arg(long, help_heading = "Inputs")]
    pub train: PathBuf,
    /// A text of another domain: the step kept may not score worse on it than the
    /// starting rows (the guard against overfitting the training domain).
    #[arg(long, help_heading = "Inputs")]
    pub val_text: Option<PathBuf>,
    /// The new GGUF (its reference tokenizer is copied beside it).
    #[arg(long, help_heading = "Output")]
    pub out: PathBuf,
    /// Rows trained: unshared (all but the shared tokens': new, special and chat), new
    /// (the new tokens' only), or all (needed for a model that is not a salt transfer's).
    #[arg(help_heading = "Training", long, default_value = salt::tune::FitRows::DEFAULT.name())]
    pub rows: String,
    /// Optimiser steps, one window each (the rows of the best validated step are kept).
    #[arg(help_heading = "Training", long, default_value_t = salt::train::TrainConfig::DEFAULT_STEPS)]
    pub steps: usize,
    /// Adam's learning rate for the input rows, as a fraction of their RMS.
    #[arg(help_heading = "Training", long, default_value_t = salt::train::TrainConfig::DEFAULT_LR.0)]
    pub lr_input: f32,
    /// Adam's learning rate for the output rows, as a fraction of their RMS (0: they stay;
    /// moving them bends the model toward the training domain: docs/training.md).
    #[arg(help_heading = "Training", long, default_value_t = salt::train::TrainConfig::DEFAULT_LR.1)]
    pub lr_output: f32,
    /// Multiply the rates by this whenever a validation is not better than every earlier
    /// one (1: constant rates).
    #[arg(help_heading = "Training", long, default_value_t = train_defaults().decay)]
    pub decay: f32,
    /// Move only the rows of tokens in each step's window (lazy Adam).
    #[arg(long, help_heading = "Training")]
    pub lazy: bool,
    /// Steps between validations.
    #[arg(help_heading = "Validation", long, default_value_t = train_defaults().eval_every)]
    pub eval_every: usize,
    /// Validation windows (from the training text's last part, and as many from --val-text).
    #[arg(help_heading = "Validation", long, default_value_t = train_defaults().val_windows)]
    pub val_windows: usize,
    /// Share of the training windows kept for validation.
    #[arg(help_heading = "Validation", long, default_value_t = train_defaults().val_share)]
    pub val_share: f64,
    /// Tokens per window.
    #[arg(help_heading = "Training", long, default_value_t = train_defaults().ctx)]
    pub ctx: usize,
    /// Seed of the window order.
    #[arg(help_heading = "Training", long, default_value_t = train_defaults().seed)]
    pub seed: u64,
    /// Threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Where the state is saved at every validation (default: OUT.train-state; removed
    /// when the run ends).
    #[arg(long, help_heading = "Run")]
    pub checkpoint: Option<PathBuf>,
    /// Save no state.
    #[arg(help_heading = "Run", long, conflicts_with_all = ["checkpoint", "resume"])]
    pub no_checkpoint: bool,
    /// Continue from the checkpoint when it exists (same inputs and settings; --steps may
    /// grow). The result is the same file as a run never stopped.
    #[arg(long, help_heading = "Run")]
    pub resume: bool,
    /// Replace an existing --out.
    #[arg(long, help_heading = "Output")]
    pub force: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
}
