//! Hugging Face `tokenizer.json` files (Unigram, WordPiece, BPE).

use std::path::Path;

use tokenizers::{ModelWrapper, Tokenizer};

use crate::error::VocabError;
use crate::vocab::{Role, TokKind, Token, TokenizerKind, Vocab};

use super::{load_err, roles_by_name, TargetTokenizer};

pub(super) fn load_json(path: &Path, text: &str) -> Result<TargetTokenizer, VocabError> {
    // `tokenizers` panics on some malformed files (an `expect` in its decoder
    // deserialisation meets a JSON syntax error): check the syntax first, for a clear
    // message, and contain any other panic.
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map_err(|e| load_err(path, format!("not valid JSON: {e}")))?;
    let mut tk: Tokenizer = std::panic::catch_unwind(|| text.parse::<Tokenizer>())
        .map_err(|_| {
            load_err(
                path,
                "not a valid tokenizer.json (the tokenizers crate failed on it)",
            )
        })?
        .map_err(|e| load_err(path, e))?;
    // Truncation and padding (MiniLM pads to 128) would make long lines look like mismatches.
    tk.with_truncation(None).map_err(|e| load_err(path, e))?;
    tk.with_padding(None);
    let (kind, unk) = match tk.get_model() {
        ModelWrapper::Unigram(_) => (TokenizerKind::Unigram, None),
        ModelWrapper::WordPiece(w) => (TokenizerKind::WordPiece, Some(w.unk_token.clone())),
        // A BPE without GPT-2's byte alphabet spells pieces SentencePiece's way (`▁`).
        ModelWrapper::BPE(b) if crate::vocab::pretok::is_byte_level(&tk) => {
            (TokenizerKind::ByteLevelBpe, b.unk_token.clone())
        }
        ModelWrapper::BPE(b) => (TokenizerKind::SentencePieceBpe, b.unk_token.clone()),
        ModelWrapper::WordLevel(_) => {
            return Err(VocabError::UnsupportedKind {
                path: path.to_path_buf(),
                kind: "WordLevel".into(),
                supported: "Unigram, WordPiece, BPE",
            })
        }
    };
    let vocab_map = tk.get_vocab(true);
    // Ids must be 0..n-1 (a file could claim id 4e9 for one token).
    let n = vocab_map.len();
    let mut seen = vec![false; n];
    for (text, &id) in &vocab_map {
        match seen.get_mut(id as usize) {
            Some(s) if !*s => *s = true,
            _ => {
                return Err(load_err(
                    path,
                    format!("token {text:?} has id {id}: ids must be 0..{n} without repeats"),
                ))
            }
        }
    }
    let mut tokens = vec![
        Token {
            text: Vec::new(),
            score: 0.0,
            kind: TokKind::Unused
        };
        n
    ];
    for (text, id) in &vocab_map {
        tokens[*id as usize] = Token {
            text: text.as_bytes().to_vec(),
            score: 0.0,
            kind: TokKind::Normal,
        };
    }
    if let ModelWrapper::Unigram(u) = tk.get_model() {
        for (token, (_, score)) in tokens.iter_mut().zip(u.iter()) {
            token.score = *score as f32;
        }
    }
    for (id, added) in tk.get_added_tokens_decoder() {
        // Added tokens are in the vocabulary map, so their ids were checked above.
        if let Some(t) = tokens.get_mut(id as usize) {
            t.kind = if added.special {
                TokKind::Control
            } else {
                TokKind::UserDefined
            };
        }
    }
    let roles = roles_by_name(&tokens);
    if let Some(unk) = unk {
        if let Some(&u) = vocab_map.get(&unk) {
            tokens[u as usize].kind = TokKind::Unknown;
        }
    }
    if let Some(&u) = roles.get(&Role::Unk) {
        tokens[u as usize].kind = TokKind::Unknown;
    }
    let vocab = Vocab {
        kind,
        tokens,
        roles,
    };
    Ok(TargetTokenizer::new(path, vocab, tk))
}
