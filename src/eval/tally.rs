//! What every scorer of a text shares (llama.cpp's logits, or the count-based reference
//! rows): the bytes and class of each scored token, and the sums that become a
//! [`ModelScore`].

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token_type::LlamaTokenAttr;

use crate::error::EvalError;
use crate::provenance::{key, RowClass};

/// Bytes and classes of the tokens of one text under one model.
pub struct Frame<'m> {
    model: &'m LlamaModel,
    spans: Option<Vec<usize>>,
    classes: Option<Vec<u8>>,
    piece_bytes: HashMap<i32, usize>,
    /// The text's tokens.
    pub tokens: Vec<LlamaToken>,
    /// Unknown tokens among them.
    pub unknown: usize,
}

impl<'m> Frame<'m> {
    /// Tokenizes `text` with `model` (no special tokens); spans come from `reference`
    /// when it tokenizes the same way, classes from `salt.token_class` of `model_path`.
    ///
    /// # Errors
    /// The reference tokenizer's or the GGUF's errors.
    pub fn new(
        model: &'m LlamaModel,
        model_path: &Path,
        text: &str,
        reference: Option<&Path>,
    ) -> Result<Self, crate::Error> {
        let vocab = model.vocab();
        let tokens = vocab.tokenize(text.as_bytes(), false, false);
        let n_vocab = vocab.n_tokens() as usize;
        let unknown = tokens
            .iter()
            .filter(|t| vocab.attr(**t).contains(LlamaTokenAttr::Unknown))
            .count();
        Ok(Self {
            model,
            spans: text_spans(reference, text, &tokens)?,
            classes: token_classes(model_path, n_vocab)?,
            piece_bytes: HashMap::new(),
            tokens,
            unknown,
        })
    }

    /// Bytes of text token `i` (whose id is `t`).
    pub fn bytes(&mut self, i: usize, t: LlamaToken) -> usize {
        match &self.spans {
            Some(s) => s[i],
            None => {
                let model = self.model;
                *self
                    .piece_bytes
                    .entry(t.0)
                    .or_insert_with(|| model.vocab().token_to_piece(t, false, None).len())
            }
        }
    }

    /// The class code of token id `t` (`u8::MAX` without `salt.token_class`).
    #[must_use]
    pub fn class(&self, t: usize) -> u8 {
        self.classes.as_ref().map_or(u8::MAX, |c| c[t])
    }

    /// Where bytes come from.
    #[must_use]
    pub fn bytes_from(&self) -> &'static str {
        if self.spans.is_some() {
            "text"
        } else {
            "pieces"
        }
    }
}

/// Sums over scored tokens, by window and by class.
#[derive(Default)]
pub struct Tally {
    nll: f64,
    scored: usize,
    bytes: usize,
    by_class: BTreeMap<u8, (usize, usize, f64)>,
    per_window: Vec<f64>,
    w: (f64, usize),
}

/// A score's fixed facts, for [`Tally::finish`].
pub struct ScoreFacts {
    /// The model (or reference) named in the score.
    pub model: String,
    /// Vocabulary size.
    pub n_vocab: usize,
    /// Bytes of the whole text.
    pub text_bytes: usize,
    /// Whether windows start with BOS.
    pub add_bos: bool,
    /// Window size.
    pub ctx: usize,
    /// Seconds spent.
    pub seconds: f64,
}

impl Tally {
    /// One scored token: its NLL (nats), bytes and class code.
    pub fn add(&mut self, nll: f64, bytes: usize, class: u8) {
        self.w.0 += nll;
        self.w.1 += bytes;
        let c = self.by_class.entry(class).or_default();
        *c = (c.0 + 1, c.1 + bytes, c.2 + nll);
        self.scored += 1;
    }

    /// Closes the current window.
    pub fn end_window(&mut self) {
        let (n, b) = std::mem::take(&mut self.w);
        self.nll += n;
        self.bytes += b;
        self.per_window
            .push(n / std::f64::consts::LN_2 / b.max(1) as f64);
    }

    /// The score.
    #[must_use]
    pub fn finish(self, facts: ScoreFacts, frame: &Frame<'_>) -> ModelScore {
        let (nll, bytes, per_window) = (self.nll, self.bytes, self.per_window);
        let bpb = nll / std::f64::consts::LN_2 / bytes.max(1) as f64;
        let n_w = per_window.len().max(1) as f64;
        let mean_w = per_window.iter().sum::<f64>() / n_w;
        let var = per_window.iter().map(|x| (x - mean_w).powi(2)).sum::<f64>() / n_w;
        let by_class = self
            .by_class
            .into_iter()
            .map(|(code, (n, b, x))| ClassScore {
                class: RowClass::from_code(code)
                    .map_or("source", RowClass::name)
                    .to_owned(),
                tokens: n,
                bytes: b,
                nll_nats: x,
                mean_nll: x / n.max(1) as f64,
                bits_per_byte: x / std::f64::consts::LN_2 / b.max(1) as f64,
                byte_share: b as f64 / bytes.max(1) as f64,
            })
            .collect();
        let tokens = &frame.tokens;
        ModelScore {
            model: facts.model,
            n_vocab: facts.n_vocab,
            text_bytes: facts.text_bytes,
            text_tokens: tokens.len(),
            token_digest: digest(tokens),
            tokens_per_kb: tokens.len() as f64 * 1000.0 / facts.text_bytes.max(1) as f64,
            add_bos: facts.add_bos,
            ctx: facts.ctx,
            windows: per_window.len(),
            scored_tokens: self.scored,
            scored_bytes: bytes,
            bytes_from: frame.bytes_from(),
            unknown_tokens: frame.unknown,
            unknown_share: frame.unknown as f64 / tokens.len().max(1) as f64,
            by_class,
            nll_nats: nll,
            perplexity: (nll / self.scored.max(1) as f64).exp(),
            bits_per_byte: bpb,
            bpb_window_std: var.sqrt(),
            bpb_se: var.sqrt() / n_w.sqrt(),
            window_bpb: per_window,
            seconds: facts.seconds,
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
fn digest(tokens: &[LlamaToken]) -> u64 {
    tokens.iter().fold(0xcbf2_9ce4_8422_2325, |h, t| {
        t.0.to_le_bytes()
            .iter()
            .fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
    })
}

/// Each token's span of `text` in bytes (from its start to the next token's start; the
/// last to its end), from the reference tokenizer's offsets, when `reference` is given and
/// tokenizes the text exactly as llama.cpp did (`tokens`); else `None`.
fn text_spans(
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
fn token_classes(model: &Path, n_vocab: usize) -> Result<Option<Vec<u8>>, crate::Error> {
    let f = crate::gguf::GgufFile::open(model)?;
    let Some(a) = f.get(key::TOKEN_CLASS).and_then(|v| v.as_array()) else {
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
