//! The source vocabulary, read from the GGUF's `tokenizer.ggml.*` keys.

use std::collections::BTreeMap;

use super::{Role, TokKind, Token, TokenizerKind, Vocab};
use crate::error::{GgufError, VocabError};
use crate::gguf::keys;
use crate::gguf::GgufFile;

/// Reads the tokenizer of a GGUF model.
///
/// # Errors
/// [`VocabError`] for a missing or malformed key, or a tokenizer model this tool does not
/// handle (names the model and the supported ones).
pub fn vocab_from_gguf(f: &GgufFile) -> Result<Vocab, VocabError> {
    let model = f.get_str(keys::TOKENIZER_MODEL)?;
    let kind =
        TokenizerKind::from_gguf_model(model).ok_or_else(|| VocabError::UnsupportedKind {
            path: f.path().to_path_buf(),
            kind: model.to_owned(),
            supported:
                "llama (SentencePiece BPE), t5 (Unigram), gpt2 (byte-level BPE), bert (WordPiece)",
        })?;
    let wrong = |key: &str, expected: &'static str| GgufError::WrongKeyType {
        path: f.path().to_path_buf(),
        key: key.into(),
        expected,
        found: f
            .get(key)
            .map_or_else(|| "absent".into(), |v| v.value_type().to_string()),
    };
    let tokens_v = f
        .get(keys::TOKENIZER_TOKENS)
        .ok_or_else(|| GgufError::MissingKey {
            path: f.path().to_path_buf(),
            key: keys::TOKENIZER_TOKENS.into(),
        })?;
    let tokens_a = tokens_v
        .as_array()
        .ok_or_else(|| wrong(keys::TOKENIZER_TOKENS, "an array of strings"))?;
    let n = tokens_a.len();
    let scores: Option<Vec<f32>> = match f.get(keys::TOKENIZER_SCORES) {
        None => None,
        Some(v) => {
            let a = v
                .as_array()
                .filter(|a| a.len() == n)
                .ok_or_else(|| wrong(keys::TOKENIZER_SCORES, "an array of one f32 per token"))?;
            Some(a.iter().map(|x| x.as_f64().unwrap_or(0.0) as f32).collect())
        }
    };
    let types: Option<Vec<TokKind>> = match f.get(keys::TOKENIZER_TOKEN_TYPE) {
        None => None,
        Some(v) => {
            let a = v.as_array().filter(|a| a.len() == n).ok_or_else(|| {
                wrong(keys::TOKENIZER_TOKEN_TYPE, "an array of one i32 per token")
            })?;
            Some(
                a.iter()
                    .map(|x| TokKind::from_gguf(x.as_int().unwrap_or(1) as i64))
                    .collect(),
            )
        }
    };
    let mut tokens = Vec::with_capacity(n);
    if n > 0 && tokens_a.elem() != crate::gguf::ValueType::Str {
        return Err(wrong(keys::TOKENIZER_TOKENS, "an array of strings").into());
    }
    for i in 0..n {
        let text = tokens_a.str_at(i).unwrap_or_default().to_vec();
        tokens.push(Token {
            text,
            score: scores.as_ref().map_or(0.0, |s| s[i]),
            kind: types.as_ref().map_or(TokKind::Normal, |t| t[i]),
        });
    }
    let mut roles = BTreeMap::new();
    for role in Role::ALL {
        let Some(key) = role.gguf_key() else { continue };
        if let Some(id) = f.opt_u64(key)? {
            // Ids past the vocabulary (some converters write -1 as u32::MAX) mean "none".
            if (id as usize) < n {
                roles.insert(role, id as u32);
            }
        }
    }
    Ok(Vocab {
        kind,
        tokens,
        roles,
    })
}
