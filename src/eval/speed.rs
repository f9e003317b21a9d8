//! Speed through llama.cpp: prompt processing and generation, in tokens and in bytes of
//! text per second.
//!
//! Tokens per second alone favours a tokenizer that cuts text finely; bytes of text per
//! second is the figure that compares models with different tokenizers. Prompt
//! processing decodes `prompt_tokens` consecutive tokens of the text in one batch (logits
//! of the last position only, as a runtime does), `reps` times at evenly spaced places;
//! its bytes are those tokens' detokenized pieces. Generation decodes `gen_tokens` tokens
//! one at a time after a prompt of the text, each followed by a greedy pick over the
//! whole vocabulary (the output layer is part of a token's cost), `reps` times; its bytes
//! per second are its tokens per second times the model's bytes per token on the text, so
//! that a model is not credited for writing long tokens of its own choosing. One untimed
//! decode warms the context first. Every model of one `salt eval` runs with the same
//! threads, one after the other: compare figures of one run only.

use std::path::Path;
use std::time::Instant;

use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use serde::Serialize;

use crate::error::EvalError;
use crate::llama::load_model;
use crate::llama::{backend, context_params};

/// How much to time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpeedOptions {
    /// Tokens of one prompt-processing batch.
    pub prompt_tokens: usize,
    /// Tokens generated after each prompt.
    pub gen_tokens: usize,
    /// Batches and generations timed (each at another place of the text).
    pub reps: usize,
    /// llama.cpp threads (`None`: all cores).
    pub threads: Option<usize>,
}

impl Default for SpeedOptions {
    fn default() -> Self {
        Self {
            prompt_tokens: 256,
            gen_tokens: 32,
            reps: 3,
            threads: None,
        }
    }
}

/// One model's speed on one text.
#[derive(Clone, Debug, Serialize)]
pub struct Speed {
    /// llama.cpp threads.
    pub threads: usize,
    /// Tokens per prompt batch.
    pub prompt_tokens: usize,
    /// Prompt processing, tokens per second.
    pub prompt_tok_per_s: f64,
    /// Prompt processing, bytes of text per second.
    pub prompt_bytes_per_s: f64,
    /// Tokens generated per repetition.
    pub gen_tokens: usize,
    /// Generation, tokens per second.
    pub gen_tok_per_s: f64,
    /// Generation, bytes of text per second (tokens per second x bytes per token).
    pub gen_bytes_per_s: f64,
    /// The model's bytes per token on the text.
    pub bytes_per_token: f64,
    /// Repetitions timed.
    pub reps: usize,
}

/// The thread count llama.cpp gets for `threads`.
#[must_use]
pub fn thread_count(threads: Option<usize>) -> usize {
    threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
}

/// This machine in words (the CPU's model name and its logical cores), for reports.
#[must_use]
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|n| n.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    format!("{cpu}, {} logical cores", thread_count(None))
}

/// Times the model at `path` on `text`.
///
/// # Errors
/// [`EvalError`] when the model cannot be loaded, the text holds too few tokens, or
/// llama.cpp fails.
pub fn measure_speed(path: &Path, text: &str, opts: &SpeedOptions) -> Result<Speed, EvalError> {
    let model = load_model(path)?;
    let tokens = model.vocab().tokenize(text.as_bytes(), false, false);
    let (pp, tg, reps) = (
        opts.prompt_tokens.max(1),
        opts.gen_tokens.max(1),
        opts.reps.max(1),
    );
    if tokens.len() < pp + 1 {
        return Err(EvalError::Text {
            path: path.to_path_buf(),
            reason: format!(
                "the text holds {} tokens under this model, fewer than one prompt of {pp}; give a longer text",
                tokens.len()
            ),
        });
    }
    let threads = thread_count(opts.threads);
    let n_ctx = (pp + tg + 1) as u32;
    let params = context_params(n_ctx, Some(threads))
        .with_n_batch(n_ctx)
        .with_n_ubatch(n_ctx);
    let mut ctx = model
        .new_context(backend()?, params)
        .map_err(|e| EvalError::Load {
            path: path.to_path_buf(),
            reason: format!("creating a context of {n_ctx}: {e}"),
        })?;
    let compute = |e: &dyn std::fmt::Display| EvalError::Compute(e.to_string());
    let starts: Vec<usize> = (0..reps).map(|r| r * (tokens.len() - pp) / reps).collect();
    let mut batch = LlamaBatch::new(n_ctx as usize, 1);
    let prompt = |ctx: &mut llama_cpp_2::context::LlamaContext<'_>,
                  part: &[LlamaToken],
                  batch: &mut LlamaBatch|
     -> Result<f64, EvalError> {
        ctx.clear_kv_cache();
        batch.clear();
        for (i, t) in part.iter().enumerate() {
            batch
                .add(*t, i as i32, &[0], i + 1 == part.len())
                .map_err(|e| compute(&e))?;
        }
        let t0 = Instant::now();
        ctx.decode(batch).map_err(|e| compute(&e))?;
        Ok(t0.elapsed().as_secs_f64())
    };
    prompt(&mut ctx, &tokens[..pp], &mut batch)?;
    let (mut pp_seconds, mut pp_bytes) = (0.0, 0usize);
    let (mut tg_seconds, mut tg_done) = (0.0, 0usize);
    for &s in &starts {
        let part = &tokens[s..s + pp];
        pp_seconds += prompt(&mut ctx, part, &mut batch)?;
        pp_bytes += piece_bytes(&model, part);
        // The batch now holds the prompt, with logits at its last position.
        let t0 = Instant::now();
        for pos in part.len()..part.len() + tg {
            let next = argmax(ctx.get_logits_ith(batch.n_tokens() - 1));
            batch.clear();
            batch
                .add(next, pos as i32, &[0], true)
                .map_err(|e| compute(&e))?;
            ctx.decode(&mut batch).map_err(|e| compute(&e))?;
            tg_done += 1;
        }
        tg_seconds += t0.elapsed().as_secs_f64();
    }
    let bytes_per_token = text.len() as f64 / tokens.len() as f64;
    let per_s = |n: f64, s: f64| n / s.max(f64::MIN_POSITIVE);
    let gen_tok_per_s = per_s(tg_done as f64, tg_seconds);
    Ok(Speed {
        threads,
        prompt_tokens: pp,
        prompt_tok_per_s: per_s((pp * reps) as f64, pp_seconds),
        prompt_bytes_per_s: per_s(pp_bytes as f64, pp_seconds),
        gen_tokens: tg,
        gen_tok_per_s,
        gen_bytes_per_s: gen_tok_per_s * bytes_per_token,
        bytes_per_token,
        reps,
    })
}

/// The bytes the pieces of `tokens` detokenize to.
fn piece_bytes(model: &LlamaModel, tokens: &[LlamaToken]) -> usize {
    let vocab = model.vocab();
    tokens
        .iter()
        .map(|&t| vocab.token_to_piece(t, false, None).len())
        .sum()
}

/// The highest logit's token, ties to the lower id (greedy decoding).
pub(super) fn argmax(logits: &[f32]) -> LlamaToken {
    let best = logits
        .iter()
        .enumerate()
        .fold((0usize, f32::NEG_INFINITY), |b, (i, &l)| {
            if l > b.1 {
                (i, l)
            } else {
                b
            }
        })
        .0;
    LlamaToken(best as i32)
}
