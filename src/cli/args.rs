//! The raw command-line flags (clap). Nothing here is checked beyond clap's own parsing;
//! [`super::config`] turns them into the library's configurations.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// `salt`.
#[derive(Parser, Debug)]
#[command(
    name = "salt",
    version,
    about = "Adapt a GGUF LLM to a target language with SALT, and validate it in llama.cpp"
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Summarise a GGUF model: architecture, tokenizer, embedding tensors, tensor types.
    Inspect(InspectArgs),
    /// Align a source GGUF's vocabulary with a target tokenizer and count the classes.
    Overlap(OverlapArgs),
    /// One command to a model worth shipping: plan, build every viable route (trim, and
    /// replacement with a fitted head), score them on a validation part of your text, and
    /// write the winner.
    Adapt(AdaptArgs),
    /// Before any transfer: each route's vocabulary, size, tokens per kB and cost on your
    /// text, and the route and initialiser to use.
    Plan(PlanArgs),
    /// Adapt a GGUF model to the target tokenizer and write a new GGUF.
    Transfer(TransferArgs),
    /// Evaluate GGUF models through llama.cpp: fertility, perplexity, bits per byte,
    /// tokenizer parity.
    Eval(EvalArgs),
    /// Fit the output rows (the head) of a GGUF on a target-language training text, with
    /// the body frozen, and write a new GGUF.
    Tune(TuneArgs),
    /// Train the embedding rows of a GGUF through its frozen body on a target-language
    /// text (llama, qwen2, gemma3; the output rows too with --lr-output), and write a
    /// new GGUF.
    Train(TrainArgs),
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
pub struct InspectArgs {
    /// GGUF files to summarise.
    #[arg(required = true)]
    pub models: Vec<PathBuf>,
    /// Print JSON (one object per file, in an array) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Trimming flags shared by `overlap` and `transfer`.
#[derive(clap::Args, Debug)]
#[command(next_help_heading = "Trimming")]
pub struct TrimArgs {
    /// Restrict the target vocabulary to the pieces this text uses.
    #[arg(long)]
    pub trim_to: Option<PathBuf>,
    /// With --trim-to: keep pieces used at least N times.
    #[arg(long, default_value_t = 1)]
    pub trim_min_count: usize,
    /// With --trim-to: also keep every single-character piece whose character occurs in
    /// the text.
    #[arg(long, requires = "trim_to")]
    pub keep_single_chars: bool,
    /// With --trim-to: also keep every piece made only of this script's characters
    /// (Hangul, Latin, Greek, Cyrillic, Hebrew, Arabic, Devanagari, Thai, Hiragana,
    /// Katakana, Han, Georgian); repeat for several.
    #[arg(long, requires = "trim_to")]
    pub keep_script: Vec<String>,
    /// With --trim-to: do not keep the single-character pieces of digits, ASCII and
    /// common punctuation that the text does not use.
    #[arg(long, requires = "trim_to")]
    pub no_keep_basic: bool,
    /// With --trim-to: report held-out lines of this text that the trim segments
    /// differently, and new unknown tokens.
    #[arg(long, requires = "trim_to")]
    pub heldout: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct OverlapArgs {
    /// The source GGUF model.
    #[arg(long)]
    pub source: PathBuf,
    /// The target tokenizer (tokenizer.json, SentencePiece .model, vocab.txt) or PLM folder.
    #[arg(long)]
    pub plm: PathBuf,
    #[command(flatten)]
    pub trim: TrimArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

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
    #[arg(help_heading = "Scoring", long, default_value_t = 512)]
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
    #[arg(help_heading = "Report", long, default_value_t = 3)]
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
#[command(
    after_help = "Examples:\n  trim (the source's own tokenizer cut to your text):\n    salt transfer --source model.gguf --trim-to my-language.txt --out trim.gguf\n  replace (a PLM's tokenizer, SALT rows):\n    salt transfer --source model.gguf --plm use/ --trim-to my-language.txt \\\n      --aux-train my-language.txt --method salt-centred --out new.gguf"
)]
pub struct TransferArgs {
    /// The source GGUF model.
    #[arg(long, help_heading = "Inputs")]
    pub source: PathBuf,
    /// The target PLM whose tokenizer replaces the source's: a folder (tokenizer +
    /// embeddings), a tokenizer file, or a GGUF. Without it (or with the source itself),
    /// the trim route: the source's own tokenizer cut to --trim-to's text, every row kept.
    #[arg(long, help_heading = "Inputs")]
    pub plm: Option<PathBuf>,
    /// The PLM's embedding table, FILE[:TENSOR] (.safetensors, .npy, .gguf).
    #[arg(long, help_heading = "Inputs")]
    pub plm_embeddings: Option<String>,
    /// Auxiliary vectors: a fastText .bin or .vec file, or `plm` (PLM space; not the paper's).
    #[arg(long, help_heading = "Inputs", conflicts_with = "aux_train")]
    pub aux: Option<String>,
    /// Train skipgram fastText vectors on this whitespace-tokenized target text.
    #[arg(long, help_heading = "Inputs")]
    pub aux_train: Option<PathBuf>,
    /// With --aux-train: save the trained fastText .bin here.
    #[arg(long, help_heading = "Inputs", requires = "aux_train")]
    pub aux_save: Option<PathBuf>,
    /// With --aux-train: vector width.
    #[arg(long, help_heading = "Inputs", default_value_t = aux_defaults().dim)]
    pub aux_dim: i32,
    /// With --aux-train: epochs.
    #[arg(long, help_heading = "Inputs", default_value_t = aux_defaults().epoch)]
    pub aux_epoch: i32,
    /// The output GGUF. With several methods, OUT-METHOD.gguf for each.
    #[arg(long, help_heading = "Output")]
    pub out: PathBuf,
    /// How new rows are initialised: one method, a comma-separated list, or `all`
    /// (one output per method; the shared stages run once). Methods: salt,
    /// salt-centred (or salt-centered), focus, fvt, omp, mean, random; trim for the trim
    /// route. Default: salt with --plm, trim without.
    #[arg(long, help_heading = "Method")]
    pub method: Option<String>,
    /// Write a separate output.weight for a tied source (needed by --output-method).
    #[arg(long, help_heading = "Output")]
    pub untie: bool,
    /// The rule for the new output rows (untied sources or --untie): any method.
    #[arg(long, help_heading = "Method")]
    pub output_method: Option<String>,
    /// With --method omp: at most K atoms per token.
    #[arg(long, help_heading = "Method", default_value_t = transfer_defaults().init.omp_k)]
    pub omp_k: usize,
    /// Seed for random rows (and fastText training).
    #[arg(long, help_heading = "Method", default_value_t = 0)]
    pub seed: u64,
    /// Singular values of A below rcond * max are dropped.
    #[arg(long, help_heading = "Method", default_value_t = transfer_defaults().rcond)]
    pub rcond: f64,
    /// Keep at most K neighbours per token.
    #[arg(long, help_heading = "Method")]
    pub max_k: Option<usize>,
    /// Output type of the embedding tensors: same, f32, f16, bf16, q8_0, ...
    #[arg(long, help_heading = "Output", default_value = "same")]
    pub embd_type: String,
    #[command(flatten)]
    pub trim: TrimArgs,
    /// Do not append the source's chat-template control tokens.
    #[arg(long, help_heading = "Method")]
    pub no_chat_tokens: bool,
    /// Write the per-token plan (class, neighbours, weights) as JSON lines (with several
    /// methods, PLAN-METHOD.plan.jsonl for each).
    #[arg(long, help_heading = "Output")]
    pub plan: Option<PathBuf>,
    /// Where neighbours and regressions run: cpu, cuda, cuda:N, auto (the GPU when one
    /// is usable, else the CPU with a log line) or cuda-shim (the CUDA kernels on the CPU;
    /// slow, for tests).
    #[arg(long, help_heading = "Run", default_value = "cpu", value_parser = parse_device)]
    pub device: salt::device::DeviceChoice,
    /// Split the output into files of at most SIZE (bytes, or with K, M, G: powers of
    /// 1000, as gguf-split reads them), named OUT-00001-of-0000N.gguf; llama.cpp loads
    /// the first.
    #[arg(long, help_heading = "Output", value_name = "SIZE", value_parser = parse_size)]
    pub split_max_size: Option<u64>,
    /// Replace existing output files.
    #[arg(long, help_heading = "Output")]
    pub force: bool,
    /// Worker threads (default: all cores).
    #[arg(long, help_heading = "Run")]
    pub threads: Option<usize>,
    /// No progress lines.
    #[arg(long, help_heading = "Output")]
    pub quiet: bool,
    /// Print the report as JSON.
    #[arg(long, help_heading = "Output")]
    pub json: bool,
}

/// A size such as `200M` or `2G` (powers of 1000, as llama.cpp's gguf-split reads them), or
/// plain bytes.
///
/// # Errors
/// A sentence naming the accepted forms.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1_000,
                'M' => 1_000_000,
                'G' => 1_000_000_000,
                'T' => 1_000_000_000_000,
                _ => 0,
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    num.parse::<u64>()
        .ok()
        .filter(|&n| n > 0 && mult > 0)
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| {
            format!("{s:?} is not a size: give bytes, or a number with K, M, G or T (200M, 2G)")
        })
}

/// `--device`.
///
/// # Errors
/// A sentence naming the accepted values.
pub fn parse_device(s: &str) -> Result<salt::device::DeviceChoice, String> {
    salt::device::DeviceChoice::parse(s)
        .ok_or_else(|| format!("{s:?} is not a device: cpu, cuda, cuda:N, auto or cuda-shim"))
}

/// `salt transfer`'s defaults are the library's (one place for each number).
fn transfer_defaults() -> salt::pipeline::TransferConfig {
    salt::pipeline::TransferConfig::new(PathBuf::new(), PathBuf::new(), None, PathBuf::new())
}

/// `--aux-train`'s defaults are the library's.
fn aux_defaults() -> salt::auxvec::TrainOptions {
    salt::auxvec::TrainOptions::new(PathBuf::new())
}

/// `salt train`'s defaults are the library's (one place for each number).
fn train_defaults() -> salt::train::TrainConfig {
    salt::train::TrainConfig::new(PathBuf::new(), PathBuf::new(), PathBuf::new())
}
