//! Stage 11: the input and output rows trained through the frozen body (`salt train`).
//!
//! The body's weights are dequantized to f32 once ([`model`]); a forward pass written from
//! llama.cpp's graphs keeps what its backward pass needs ([`forward`], [`backward`]), and
//! only the gradients at the activations are formed, plus those of the two row tables
//! ([`rows`]). The loop ([`run`]) trains on windows of the training text with Adam, keeps
//! the rows of the step with the lowest validation loss, and writes a new GGUF in which only
//! `token_embd.weight` and `output.weight` change.

pub mod adam;
pub mod backward;
pub mod config;
pub mod forward;
pub mod model;
pub mod ops;
pub mod reference;
pub mod rows;
pub mod run;
pub mod state;
pub mod windows;

pub use config::{TrainConfig, TrainReport};
pub use model::{Arch, Body, Hparams};
pub use rows::{start_rows, window_grad, window_logits, window_nll, Rows, WindowGrad};
pub use run::train;
pub use state::StepLog;

#[cfg(test)]
mod gradcheck;
