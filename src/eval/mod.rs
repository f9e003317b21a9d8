//! Stage 9: validation through llama.cpp itself (the `llama-cpp-2` crate).
//!
//! Input: an output GGUF (and its reference tokenizer, and held-out text).
//! Output: tokenizer parity (identical ids line by line) and, in `perplexity`, the
//! negative log-likelihood, perplexity and bits per byte of the text under the model.

mod backend;
mod parity;

pub use backend::backend;
pub use parity::{load_vocab_only, parity, ParityMismatch, ParityReport};
