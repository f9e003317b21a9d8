//! Greedy continuations of a few prompts, so that a person can see whether an adapted
//! model writes the language (the HTML report shows them beside the numbers).

use std::path::Path;

use llama_cpp_2::llama_batch::LlamaBatch;
use serde::Serialize;

use crate::error::EvalError;
use crate::llama::load_model;
use crate::llama::{backend, context_params};

/// One prompt and what the model wrote after it.
#[derive(Clone, Debug, Serialize)]
pub struct Continuation {
    /// The prompt.
    pub prompt: String,
    /// The greedy continuation (up to the first newline or end of generation).
    pub text: String,
}

/// `n` prompts from `text`: the first third (at least 8 characters) of lines at evenly
/// spaced positions among the lines of 24 characters or more.
#[must_use]
pub fn prompts(text: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().filter(|l| l.chars().count() >= 24).collect();
    (0..n.min(lines.len()))
        .map(|i| {
            let l = lines[i * lines.len() / n.max(1)];
            let keep = (l.chars().count() / 3).max(8);
            l.chars().take(keep).collect()
        })
        .collect()
}

/// Greedy continuations of `prompts` under the model at `path`, at most `max_tokens`
/// each. Deterministic: argmax with ties to the lower id, one sequence at a time.
///
/// # Errors
/// [`EvalError`] when the model cannot be loaded or llama.cpp fails.
pub fn continuations(
    path: &Path,
    prompts: &[String],
    max_tokens: usize,
    threads: Option<usize>,
) -> Result<Vec<Continuation>, EvalError> {
    if prompts.is_empty() {
        return Ok(Vec::new());
    }
    let model = load_model(path)?;
    let vocab = model.vocab();
    let n_ctx = 512u32;
    let params = context_params(n_ctx, threads);
    let mut ctx = model
        .new_context(backend()?, params)
        .map_err(|e| EvalError::Load {
            path: path.to_path_buf(),
            reason: format!("creating a context: {e}"),
        })?;
    let compute = |e: &dyn std::fmt::Display| EvalError::Compute(e.to_string());
    let mut out = Vec::with_capacity(prompts.len());
    for prompt in prompts {
        let mut toks = Vec::new();
        if vocab.should_add_bos() {
            toks.push(vocab.bos());
        }
        toks.extend(vocab.tokenize(prompt.as_bytes(), false, false));
        toks.truncate(n_ctx as usize - max_tokens - 1);
        ctx.clear_kv_cache();
        let mut batch = LlamaBatch::new(n_ctx as usize, 1);
        for (i, t) in toks.iter().enumerate() {
            batch
                .add(*t, i as i32, &[0], i + 1 == toks.len())
                .map_err(|e| compute(&e))?;
        }
        ctx.decode(&mut batch).map_err(|e| compute(&e))?;
        let mut bytes = Vec::new();
        for pos in toks.len()..toks.len() + max_tokens {
            let tok = super::speed::argmax(ctx.get_logits_ith(batch.n_tokens() - 1));
            if vocab.is_eog(tok) {
                break;
            }
            let piece = vocab.token_to_piece(tok, false, None);
            if piece.contains(&b'\n') {
                break;
            }
            bytes.extend_from_slice(&piece);
            batch.clear();
            batch
                .add(tok, pos as i32, &[0], true)
                .map_err(|e| compute(&e))?;
            ctx.decode(&mut batch).map_err(|e| compute(&e))?;
        }
        out.push(Continuation {
            prompt: prompt.clone(),
            text: String::from_utf8_lossy(&bytes).into_owned(),
        });
    }
    Ok(out)
}
