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
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use serde::Serialize;

use super::backend::{backend, context_params};
use super::tally::{Frame, ScoreFacts, Tally};
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

/// The loss on the tokens of one class (of the *predicted* token).
#[derive(Clone, Debug, Serialize)]
pub struct ClassScore {
    /// `shared`, `initialised`, `random`, `special` (from `salt.token_class`), or
    /// `source` for a model without that key.
    pub class: String,
    /// Scored tokens of the class.
    pub tokens: usize,
    /// Their bytes.
    pub bytes: usize,
    /// Their NLL in nats.
    pub nll_nats: f64,
    /// Mean NLL per token.
    pub mean_nll: f64,
    /// NLL / ln 2 / the class's bytes.
    pub bits_per_byte: f64,
    /// The class's share of all scored bytes.
    pub byte_share: f64,
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
    /// FNV-1a digest of those token ids (equal digests: the same windows, for [`super::paired`]).
    pub token_digest: u64,
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
    /// Bytes of the text the scored tokens cover.
    pub scored_bytes: usize,
    /// Where `scored_bytes` comes from: `text` (spans of the text, from the reference
    /// tokenizer's offsets) or `pieces` (llama.cpp's detokenized pieces; exact for models
    /// without `<unk>` in the text).
    pub bytes_from: &'static str,
    /// Unknown tokens in the whole text's tokenization.
    pub unknown_tokens: usize,
    /// `unknown_tokens` / `text_tokens`.
    pub unknown_share: f64,
    /// The loss split by the class of the predicted token.
    pub by_class: Vec<ClassScore>,
    /// Total negative log-likelihood in nats.
    pub nll_nats: f64,
    /// exp(NLL / scored tokens).
    pub perplexity: f64,
    /// NLL / ln 2 / scored bytes.
    pub bits_per_byte: f64,
    /// Standard deviation of bits per byte over windows.
    pub bpb_window_std: f64,
    /// Its standard error: `bpb_window_std / sqrt(windows)`.
    pub bpb_se: f64,
    /// Bits per byte of each window, in order (for paired comparisons of models scored
    /// on the same text).
    pub window_bpb: Vec<f64>,
    /// Seconds spent.
    pub seconds: f64,
}

/// FNV-1a over the token ids.
pub(super) fn digest(tokens: &[LlamaToken]) -> u64 {
    tokens.iter().fold(0xcbf2_9ce4_8422_2325, |h, t| {
        t.0.to_le_bytes()
            .iter()
            .fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
    })
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

/// Each token's span of `text` in bytes (from its start to the next token's start; the
/// last to its end), from the reference tokenizer's offsets, when `reference` is given and
/// tokenizes the text exactly as llama.cpp did (`tokens`); else `None`.
pub(super) fn text_spans(
    reference: Option<&Path>,
    text: &str,
    tokens: &[LlamaToken],
) -> Result<Option<Vec<usize>>, crate::Error> {
    let Some(r) = reference else {
        return Ok(None);
    };
    let tk = crate::vocab::load_target(r)?;
    let enc = tk
        .reference
        .encode(text, false)
        .map_err(|e| EvalError::Reference(e.to_string()))?;
    let same = enc.get_ids().len() == tokens.len()
        && enc
            .get_ids()
            .iter()
            .zip(tokens)
            .all(|(a, b)| i64::from(*a) == i64::from(b.0));
    if !same {
        return Ok(None);
    }
    let offs = enc.get_offsets();
    let spans = (0..offs.len())
        .map(|i| {
            let end = offs.get(i + 1).map_or(offs[i].1, |n| n.0);
            end.saturating_sub(offs[i].0)
        })
        .collect();
    Ok(Some(spans))
}

/// `salt.token_class` of a model (one code per token), when it has one of the right size.
pub(super) fn token_classes(model: &Path, n_vocab: usize) -> Result<Option<Vec<u8>>, crate::Error> {
    let f = crate::gguf::GgufFile::open(model)?;
    let Some(a) = f
        .get(crate::gguf::keys::SALT_TOKEN_CLASS)
        .and_then(|v| v.as_array())
    else {
        return Ok(None);
    };
    let codes: Vec<u8> = a
        .iter()
        .map(|v| {
            v.as_int()
                .and_then(|i| u8::try_from(i).ok())
                .unwrap_or(u8::MAX)
        })
        .collect();
    Ok((codes.len() == n_vocab).then_some(codes))
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
