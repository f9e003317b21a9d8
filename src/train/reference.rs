//! llama.cpp's own logits for a window, the reference the training forward pass is held
//! to (tests/train.rs, and `salt train`'s check of the written file).

use std::path::Path;

use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;

use crate::error::EvalError;
use crate::llama::{backend, context_params, load_model};

/// llama.cpp's logits at every position of `tokens` under the GGUF at `path`, `[t x v]`.
///
/// # Errors
/// [`EvalError`] when llama.cpp cannot load the model or decode.
pub fn llama_logits(
    path: &Path,
    tokens: &[u32],
    threads: Option<usize>,
) -> Result<Vec<f32>, EvalError> {
    let model = load_model(path)?;
    let t = tokens.len();
    let params = context_params(t as u32, threads)
        .with_n_batch(t as u32)
        .with_n_ubatch(t as u32);
    let mut ctx = model
        .new_context(backend()?, params)
        .map_err(|e| EvalError::Load {
            path: path.to_path_buf(),
            reason: format!("creating a context of {t}: {e}"),
        })?;
    let mut batch = LlamaBatch::new(t, 1);
    for (p, &tk) in tokens.iter().enumerate() {
        batch
            .add(LlamaToken(tk as i32), p as i32, &[0], true)
            .map_err(|e| EvalError::Compute(e.to_string()))?;
    }
    ctx.decode(&mut batch)
        .map_err(|e| EvalError::Compute(format!("decode: {e}")))?;
    let mut out = Vec::new();
    for p in 0..t {
        out.extend_from_slice(ctx.get_logits_ith(p as i32));
    }
    Ok(out)
}
