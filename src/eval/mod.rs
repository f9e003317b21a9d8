//! Stage 9: validation through llama.cpp itself (the `llama-cpp-2` crate).
//!
//! Input: an output GGUF (and its reference tokenizer, and held-out text).
//! Output: tokenizer parity (identical ids line by line), and the negative
//! log-likelihood, perplexity, fertility and bits per byte of the text under the model.

mod generate;
mod ngram;
mod paired;
mod parity;
mod perplexity;
mod report;
mod request;
mod run;
mod speed;
mod tally;

// The llama.cpp seam's loaders, where callers of the evaluation have always found them.
pub use crate::llama::{backend, load_model, load_vocab_only, windows};
pub use generate::{continuations, prompts, Continuation};
pub use ngram::ngram_scores;
#[cfg(test)]
pub(crate) use paired::test_row;
pub use paired::{paired, Paired};
pub use parity::{parity, ParityMismatch, ParityReport};
pub use perplexity::{score, token_nll, ScoreOptions};
pub use report::{read_plan, render_report, EvalRow, PlanSummary, ReportAbout};
pub use request::EvalRequest;
pub use run::{evaluate, table, EvalConfig, EvalReport};
pub use speed::{machine, measure_speed, thread_count, Speed, SpeedOptions};
pub use tally::{ClassScore, ModelScore};
