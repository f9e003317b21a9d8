//! Perplexity and bits per byte through llama.cpp.
//!
//! The text is tokenized by the model's own tokenizer (no special tokens), cut into
//! consecutive, non-overlapping windows of `ctx` positions (stride = window length).
//! When the model adds BOS, each window is `[BOS] + ctx-1 tokens` and every token of the
//! window is scored; otherwise a window is `ctx` tokens and its first token is context
//! only. Only full windows are scored. The negative log-likelihood of each scored token is
//! `logsumexp(logits) - logits[token]`, computed in f64 from llama.cpp's raw logits.
//! Bits per byte = total NLL / ln 2 / bytes of the text the scored tokens cover, the figure
//! that compares models with different tokenizers. The bytes come from the reference
//! tokenizer's offsets when one is given and tokenizes the text exactly as llama.cpp did
//! (an `<unk>` then counts the bytes it replaced; llama.cpp detokenizes it to nothing),
//! else from llama.cpp's detokenized pieces (exact for byte-fallback and byte-level
//! models, which have no `<unk>`). The loss is also split by the class of the predicted
//! token (`salt.token_class` of adapted models).
//! EOS is never appended, whatever the tokenizer's `add_eos`.

use std::path::{Path, PathBuf};

use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;

use super::tally::{Frame, ModelScore, ScoreFacts, Tally};
use crate::error::EvalError;
use crate::llama::{backend, context_params, load_model, windows};
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
    /// The model's reference tokenizer: when it tokenizes the text exactly like llama.cpp,
    /// its byte offsets give each token's span of the text (the denominator of bits per
    /// byte; an `<unk>` then counts the bytes it stands for).
    pub reference: Option<PathBuf>,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        Self {
            ctx: 512,
            max_tokens: None,
            threads: None,
            reference: None,
        }
    }
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
    let mut frame = Frame::new(&model, model_path, text, opts.reference.as_deref())?;
    let ctx = opts.ctx.max(2);
    let wins = scored_windows(
        &frame.tokens,
        bos,
        ctx,
        opts.max_tokens,
        text_path,
        model_path,
    )?;
    let params = context_params(ctx as u32, opts.threads)
        .with_n_batch(ctx as u32)
        .with_n_ubatch(ctx as u32);
    let mut lctx = model
        .new_context(backend()?, params)
        .map_err(|e| EvalError::Load {
            path: model_path.to_path_buf(),
            reason: format!("creating a context of {ctx}: {e}"),
        })?;
    let n_vocab = vocab.n_tokens() as usize;
    let mut tally = Tally::default();
    let mut batch = LlamaBatch::new(ctx, 1);
    let total = wins.len();
    let body = if bos.is_some() { ctx - 1 } else { ctx };
    for (w, (input, first)) in wins.iter().enumerate() {
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
        // The logits at position p - 1 predict the token at p; input[p] is text token
        // w * body + p (- 1 after a BOS).
        for (p, &target) in input.iter().enumerate().skip(*first) {
            let logits = lctx.get_logits_ith((p - 1) as i32);
            let t = usize::try_from(target.0).unwrap_or(0);
            let x = token_nll(&logits[..n_vocab], t);
            let b = frame.bytes(w * body + p - usize::from(bos.is_some()), target);
            tally.add(x, b, frame.class(t));
        }
        tally.end_window();
    }
    rep.step(Stage::Eval, total, total)?;
    let facts = ScoreFacts {
        model: model_path.display().to_string(),
        n_vocab,
        text_bytes: text.len(),
        add_bos,
        ctx,
        seconds: start.elapsed().as_secs_f64(),
    };
    Ok(tally.finish(facts, &frame))
}

/// The windows `score` scores: all full windows, or the first of them that hold about
/// `max_tokens` scored tokens.
///
/// # Errors
/// [`EvalError::Text`] when the text is shorter than one window.
pub(super) fn scored_windows(
    tokens: &[LlamaToken],
    bos: Option<LlamaToken>,
    ctx: usize,
    max_tokens: Option<usize>,
    text_path: &Path,
    model_path: &Path,
) -> Result<Vec<(Vec<LlamaToken>, usize)>, EvalError> {
    let mut wins = windows(tokens, bos, ctx);
    if wins.is_empty() {
        return Err(EvalError::Text {
            path: text_path.to_path_buf(),
            reason: format!("{} tokens under {} is less than one window of {ctx}; give a longer text or a smaller --ctx", tokens.len(), model_path.display()),
        });
    }
    if let Some(m) = max_tokens {
        wins.truncate(m.div_ceil(ctx - 1).max(1));
    }
    Ok(wins)
}
