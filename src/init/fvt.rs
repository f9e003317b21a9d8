//! `--method fvt`, subword composition (Gee et al. 2022, "Fast Vocabulary Transfer"): the
//! source model's own tokenizer (llama.cpp, the same GGUF, no special tokens) splits each
//! new token's text into source pieces, and the new row is the mean of their source rows.
//! It needs neither a PLM table nor auxiliary vectors: a baseline beside FOCUS.
//!
//! The text split is the token's canonical key (docs/method.md section 1: `▁` and GPT-2's `Ġ`
//! are spaces, WordPiece word starts carry a space). A source SentencePiece tokenizer with
//! `add_space_prefix` puts `▁` before the text itself, so a key's leading space is
//! dropped before it tokenizes, and a lone `▁` piece it adds to a word-internal key is
//! dropped after. Tokens whose text gives no piece (special, empty) keep random rows.

use std::collections::BTreeMap;

use super::{InitInput, Needs, NewRows};
use crate::error::{Error, EvalError};
use crate::progress::{Reporter, Stage};
use crate::vocab::{canonical_key, gpt2_byte_decoder, TokenizerKind};

/// Needs only the source model and the target vocabulary.
pub const NEEDS: Needs = Needs {
    neighbours: false,
    plm: false,
};

/// The source pieces of each new token (target id -> source ids), by llama.cpp.
///
/// # Errors
/// [`EvalError::Load`] when llama.cpp cannot load the source's vocabulary.
pub fn source_pieces(input: &InitInput<'_>) -> Result<BTreeMap<u32, Vec<u32>>, Error> {
    let src = input.source;
    let model = crate::llama::load_vocab_only(&src.path)?;
    let vocab = model.vocab();
    let spm = src.vocab.kind == TokenizerKind::SentencePieceBpe;
    // llama.cpp's default for SentencePiece vocabularies without the key is true.
    let prefix = spm
        && src
            .file
            .opt_bool("tokenizer.ggml.add_space_prefix")?
            .unwrap_or(true);
    let space_piece: Option<i32> = spm
        .then(|| vocab.tokenize(b"\xe2\x96\x81", false, false))
        .and_then(|t| (t.len() == 1).then(|| t[0].0));
    let gpt2 = gpt2_byte_decoder();
    let tv = &input.target.vocab;
    let mut out = BTreeMap::new();
    for &id in input.new_ids {
        let Some(key) = canonical_key(tv.kind, &tv.tokens[id as usize], &gpt2) else {
            continue;
        };
        let (text, leading) = match key.strip_prefix(b" ") {
            Some(rest) if prefix => (rest.to_vec(), true),
            _ => (key.clone(), false),
        };
        if text.is_empty() {
            continue;
        }
        let mut toks: Vec<u32> = vocab
            .tokenize(&text, false, false)
            .into_iter()
            .map(|t| t.0 as u32)
            .collect();
        if prefix && !leading && toks.len() > 1 && space_piece == Some(toks[0] as i32) {
            toks.remove(0);
        }
        if !toks.is_empty() {
            out.insert(id, toks);
        }
    }
    if out.is_empty() && !input.new_ids.is_empty() {
        return Err(EvalError::Load {
            path: src.path.clone(),
            reason: "its tokenizer split none of the new tokens' texts".into(),
        }
        .into());
    }
    Ok(out)
}

/// The mean source row of each new token's source pieces.
///
/// # Errors
/// As [`source_pieces`], or a codec error reading rows.
pub fn init(input: &InitInput<'_>, rep: &mut Reporter<'_>) -> Result<NewRows, Error> {
    rep.message(
        Stage::Initialise,
        "subword composition by the source tokenizer",
    );
    let pieces = source_pieces(input)?;
    let mut ids: Vec<u32> = pieces.values().flatten().copied().collect();
    ids.sort_unstable();
    ids.dedup();
    let rows = input.source.rows(&ids)?;
    let h = input.h_s;
    let at = |src: u32| ids.binary_search(&src).expect("gathered");
    let mean = |table: &[f32], parts: &[u32]| -> Vec<f32> {
        let mut acc = vec![0f64; h];
        for &p in parts {
            let r = at(p);
            for (a, x) in acc.iter_mut().zip(&table[r * h..(r + 1) * h]) {
                *a += f64::from(*x);
            }
        }
        acc.iter()
            .map(|v| (v / parts.len() as f64) as f32)
            .collect()
    };
    let mut out = NewRows {
        ids: pieces.keys().copied().collect(),
        output: rows.output.as_ref().map(|_| Vec::new()),
        ..NewRows::default()
    };
    for parts in pieces.values() {
        out.embd.extend(mean(&rows.embd, parts));
        if let (Some(o), Some(t)) = (out.output.as_mut(), rows.output.as_deref()) {
            o.extend(mean(t, parts));
        }
    }
    rep.step(Stage::Initialise, pieces.len(), pieces.len())?;
    Ok(out)
}
