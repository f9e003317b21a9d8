//! The raw command-line flags (clap). Nothing here is checked beyond clap's own parsing;
//! [`super::config`] turns them into the library's configurations.

mod adapt;
mod check;
mod defaults;
mod transfer;

use clap::{Parser, Subcommand};

pub use adapt::{AdaptArgs, PlanArgs, TrainArgs, TuneArgs};
pub use check::{EvalArgs, InspectArgs};
pub use transfer::{OverlapArgs, TransferArgs, TrimArgs};

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
