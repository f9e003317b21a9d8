//! Perplexity and bits per byte through llama.cpp.
//!
//! The text is tokenized by the model's own tokenizer (no special tokens), cut into
//! consecutive, non-overlapping windows of `ctx` positions (stride = window length).
//! When the model adds BOS, each window is `[BOS] + ctx-1 tokens` and every token of the
//! window is scored; otherwise a window is `ctx` tokens and its first token is context
//! only. Only full windows are scored. The negative log-likelihood of each scored token is
//! `logsumexp(logits) - logits[token]`, computed in f64 from llama.cpp's raw logits.
//! Bits per byte = total NLL / ln 2 / bytes of the scored tokens' pieces (llama.cpp's
//! detokenized bytes), the figure that compares models with different tokenizers.
//! EOS is never appended, whatever the tokenizer's `add_eos`.

use std::num::NonZeroU32;
use std::path::Path;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use serde::Serialize;

use super::backend::backend;
use crate::error::EvalError;
use crate::progress::{Progress, Reporter, Stage};

/// Settings of a perplexity run.
#[derive(Clone, Debug)]
pub struct ScoreOptions {
    /// Positions per window (BOS included).
    pub ctx: usize,
    /// Stop after this many scored tokens (whole windows; `None`: the whole text).
    pub max_tokens: Option<usize>,
    /// llama.cpp threads (`None`: all cores).
    pub threads: Option<usize>,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        Self {
            ctx: 512,
            max_tokens: None,
            threads: None,
        }
    }
}

/// One model's figures on one text.
#[derive(Clone, Debug, Serialize)]
pub struct ModelScore {
    /// The model file.
    pub model: String,
    /// Its vocabulary size.
    pub n_vocab: usize,
    /// UTF-8 bytes of the whole text.
    pub text_bytes: usize,
    /// Tokens of the whole text.
    pub text_tokens: usize,
    /// Tokens per 1,000 bytes of text (fertility).
    pub tokens_per_kb: f64,
    /// Whether windows start with BOS.
    pub add_bos: bool,
    /// Window size and stride.
    pub ctx: usize,
    /// Windows scored.
    pub windows: usize,
    /// Tokens scored.
    pub scored_tokens: usize,
    /// Bytes of the scored tokens.
    pub scored_bytes: usize,
    /// Total negative log-likelihood in nats.
    pub nll_nats: f64,
    /// exp(NLL / scored tokens).
    pub perplexity: f64,
    /// NLL / ln 2 / scored bytes.
    pub bits_per_byte: f64,
    /// Standard deviation of bits per byte over windows.
    pub bpb_window_std: f64,
    /// Seconds spent.
    pub seconds: f64,
}

/// log-softmax NLL of `target` under `logits`, in f64.
#[must_use]
pub fn token_nll(logits: &[f32], target: usize) -> f64 {
    let max = logits
        .iter()
        .fold(f64::NEG_INFINITY, |m, &l| m.max(f64::from(l)));
    let sum: f64 = logits.iter().map(|&l| (f64::from(l) - max).exp()).sum();
    max + sum.ln() - f64::from(logits[target])
}

/// Loads a full model with llama.cpp.
///
/// # Errors
/// [`EvalError::Load`] naming the file.
pub fn load_model(path: &Path) -> Result<LlamaModel, EvalError> {
    if !path.is_file() {
        return Err(EvalError::Load {
            path: path.to_path_buf(),
            reason: "no such file".into(),
        });
    }
    LlamaModel::load_from_file(backend()?, path, &LlamaModelParams::default()).map_err(|e| {
        EvalError::Load {
            path: path.to_path_buf(),
            reason: format!("llama.cpp could not load it ({e})"),
        }
    })
}

/// The windows of a tokenized text: (input tokens, index of the first scored input position).
#[must_use]
pub fn windows(
    tokens: &[LlamaToken],
    bos: Option<LlamaToken>,
    ctx: usize,
) -> Vec<(Vec<LlamaToken>, usize)> {
    let body = if bos.is_some() { ctx - 1 } else { ctx };
    tokens
        .chunks_exact(body.max(1))
        .map(|c| match bos {
            Some(b) => (std::iter::once(b).chain(c.iter().copied()).collect(), 1),
            None => (c.to_vec(), 1),
        })
        .collect()
}

/// Scores `text` (from `text_path`, for messages) under the model at `model_path`.
///
/// # Errors
/// [`EvalError`] when the model cannot be loaded, the text is shorter than one window,
/// or llama.cpp fails.
pub fn score(
    model_path: &Path,
    text_path: &Path,
    text: &str,
    opts: &ScoreOptions,
    progress: &mut dyn Progress,
) -> Result<ModelScore, crate::Error> {
    let mut rep = Reporter::new(progress);
    let start = std::time::Instant::now();
    let model = load_model(model_path)?;
    let vocab = model.vocab();
    let add_bos = vocab.should_add_bos();
    let bos = add_bos.then(|| vocab.bos());
    let tokens = vocab.tokenize(text.as_bytes(), false, false);
    let ctx = opts.ctx.max(2);
    let wins = windows(&tokens, bos, ctx);
    if wins.is_empty() {
        return Err(EvalError::Text {
            path: text_path.to_path_buf(),
            reason: format!("{} tokens under {} is less than one window of {ctx}; give a longer text or a smaller --ctx", tokens.len(), model_path.display()),
        }
        .into());
    }
    let threads = opts
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
        as i32;
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(ctx as u32))
        .with_n_batch(ctx as u32)
        .with_n_ubatch(ctx as u32)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut lctx = model
        .new_context(backend()?, params)
        .map_err(|e| EvalError::Load {
            path: model_path.to_path_buf(),
            reason: format!("creating a context of {ctx}: {e}"),
        })?;
    let n_vocab = vocab.n_tokens() as usize;
    let mut piece_bytes = std::collections::HashMap::new();
    let (mut nll, mut scored, mut bytes) = (0f64, 0usize, 0usize);
    let mut per_window = Vec::new();
    let mut batch = LlamaBatch::new(ctx, 1);
    let total = opts
        .max_tokens
        .map_or(wins.len(), |m| wins.len().min(m.div_ceil(ctx - 1).max(1)));
    for (w, (input, first)) in wins.iter().take(total).enumerate() {
        rep.step(Stage::Eval, w, total)?;
        lctx.clear_kv_cache();
        batch.clear();
        for (p, t) in input.iter().enumerate() {
            batch
                .add(*t, p as i32, &[0], true)
                .map_err(|e| EvalError::Compute(e.to_string()))?;
        }
        lctx.decode(&mut batch)
            .map_err(|e| EvalError::Compute(format!("decode: {e}")))?;
        let (mut w_nll, mut w_bytes) = (0f64, 0usize);
        // The logits at position p - 1 predict the token at p.
        for (p, &target) in input.iter().enumerate().skip(*first) {
            let logits = lctx.get_logits_ith((p - 1) as i32);
            let t = usize::try_from(target.0).unwrap_or(0);
            w_nll += token_nll(&logits[..n_vocab], t);
            w_bytes += *piece_bytes
                .entry(target.0)
                .or_insert_with(|| vocab.token_to_piece(target, false, None).len());
            scored += 1;
        }
        nll += w_nll;
        bytes += w_bytes;
        per_window.push(w_nll / std::f64::consts::LN_2 / w_bytes.max(1) as f64);
    }
    rep.step(Stage::Eval, total, total)?;
    let bpb = nll / std::f64::consts::LN_2 / bytes.max(1) as f64;
    let mean_w = per_window.iter().sum::<f64>() / per_window.len() as f64;
    let var =
        per_window.iter().map(|x| (x - mean_w).powi(2)).sum::<f64>() / per_window.len() as f64;
    Ok(ModelScore {
        model: model_path.display().to_string(),
        n_vocab,
        text_bytes: text.len(),
        text_tokens: tokens.len(),
        tokens_per_kb: tokens.len() as f64 * 1000.0 / text.len().max(1) as f64,
        add_bos,
        ctx,
        windows: per_window.len(),
        scored_tokens: scored,
        scored_bytes: bytes,
        nll_nats: nll,
        perplexity: (nll / scored.max(1) as f64).exp(),
        bits_per_byte: bpb,
        bpb_window_std: var.sqrt(),
        seconds: start.elapsed().as_secs_f64(),
    })
}
