//! The flags of `salt transfer` and `salt overlap` (which share the trimming flags).

use std::path::PathBuf;

use super::defaults::{aux_defaults, parse_device, parse_size, transfer_defaults};

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
    #[arg(long, help_heading = "Method", default_value_t = transfer_defaults().init.params.omp_k)]
    pub omp_k: usize,
    /// Seed for random rows (and fastText training).
    #[arg(long, help_heading = "Method", default_value_t = 0)]
    pub seed: u64,
    /// Singular values of A below rcond * max are dropped.
    #[arg(long, help_heading = "Method", default_value_t = transfer_defaults().init.rcond)]
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
