//! What every scorer of a text shares (llama.cpp's logits, or the count-based reference
//! rows): the bytes and class of each scored token, and the sums that become a
//! [`ModelScore`].

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token_type::LlamaTokenAttr;

use super::perplexity::{text_spans, token_classes};
use super::{ClassScore, ModelScore};
use crate::assemble::RowClass;

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
            token_digest: super::perplexity::digest(tokens),
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
