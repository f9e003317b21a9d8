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
pub mod forward;
pub mod model;
pub mod ops;
pub mod reference;
pub mod rows;
pub mod run;
pub mod state;

pub use model::{Arch, Body, Hparams};
pub use rows::{window_grad, window_logits, window_nll, Rows, WindowGrad};
pub use run::{train, StepLog, TrainConfig, TrainReport};

use crate::codec::dequantize_rows;
use crate::error::Error;
use crate::gguf::{keys, GgufFile};

/// The trained rows' starting point: `token_embd`, and `output` (or, for a tied model, a
/// copy of `token_embd`: the trained model is untied).
///
/// # Errors
/// A missing tensor, or one that cannot be dequantized.
pub fn start_rows(f: &GgufFile) -> Result<Rows, Error> {
    let embd = f.require_tensor(keys::TOKEN_EMBD)?;
    let (d, v) = (embd.row_width() as usize, embd.n_rows() as usize);
    let input = dequantize_rows(f, embd, 0, v)?;
    let output = match f.tensor(keys::OUTPUT) {
        Some(o) => dequantize_rows(f, o, 0, o.n_rows() as usize)?,
        None => input.clone(),
    };
    Ok(Rows {
        d,
        v,
        input,
        output,
    })
}

#[cfg(test)]
mod gradcheck;
