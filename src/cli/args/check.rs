//! The flags of `salt eval` and `salt inspect`.

use std::path::PathBuf;

use salt::eval::EvalRequest;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  salt eval --model source.gguf --model new.gguf --model new-head.gguf \\\n    --text heldout.txt --pair-with fvt+head --report eval.html"
)]
pub struct EvalArgs {
    /// GGUF models to evaluate (repeat the flag); the first is the baseline of the table.
    #[arg(help_heading = "Inputs", long = "model", required = true)]
    pub models: Vec<PathBuf>,
    /// Held-out text (never used for training).
    #[arg(long, help_heading = "Inputs")]
    pub text: PathBuf,
    /// Reference tokenizer for the parity check of every model. Without it, a model
    /// OUT.gguf is checked against OUT.tokenizer.json when that file exists.
    #[arg(long, help_heading = "Inputs")]
    pub reference: Option<PathBuf>,
    /// Only check tokenizer parity (no perplexity); exit code 1 when a line differs.
    #[arg(long, help_heading = "Scoring")]
    pub parity: bool,
    /// Positions per window (stride = window; BOS included when the model adds one).
    #[arg(help_heading = "Scoring", long, default_value_t = EvalRequest::DEFAULT_CTX)]
    pub ctx: usize,
    /// Stop after about this many scored tokens per model.
    #[arg(long, help_heading = "Scoring")]
    pub max_tokens: Option<usize>,
    /// llama.cpp threads.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
    /// Write an HTML report (table and charts, self-contained) here.
    #[arg(long, help_heading = "Report")]
    pub report: Option<PathBuf>,
    /// With --report: a transfer's --plan file, for the neighbour and token-class charts.
    #[arg(help_heading = "Report", long, requires = "report")]
    pub plan: Option<PathBuf>,
    /// With --report: greedy continuations of this many prompts from the text per model.
    #[arg(help_heading = "Report", long, default_value_t = EvalRequest::DEFAULT_CONTINUATIONS)]
    pub continuations: usize,
    /// Add count-based unigram and bigram reference rows counted on this training text
    /// (over the last adapted model's tokens, scored on the same windows).
    #[arg(long, help_heading = "Scoring")]
    pub ngram: Option<PathBuf>,
    /// Take the paired differences against the model of this row label (for example
    /// fvt+head), not the first model of each tokenization.
    #[arg(long, help_heading = "Scoring", value_name = "LABEL")]
    pub pair_with: Option<String>,
    /// Do not time prompt processing and generation.
    #[arg(long, help_heading = "Speed")]
    pub no_speed: bool,
    /// Tokens of each timed prompt batch.
    #[arg(help_heading = "Speed", long, default_value_t = salt::eval::SpeedOptions::default().prompt_tokens)]
    pub speed_prompt: usize,
    /// Tokens generated after each timed prompt.
    #[arg(help_heading = "Speed", long, default_value_t = salt::eval::SpeedOptions::default().gen_tokens)]
    pub speed_gen: usize,
    /// Replace an existing --report file.
    #[arg(long, help_heading = "Report")]
    pub force: bool,
}

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// GGUF files to summarise.
    #[arg(required = true)]
    pub models: Vec<PathBuf>,
    /// Print JSON (one object per file, in an array) instead of text.
    #[arg(long)]
    pub json: bool,
}
