//! Trimming a multilingual target vocabulary to the pieces a target-language text uses
//! (SALT.md section 6b). Kept: pieces the reference tokenizer emits on the text at least
//! `min_count` times, every control, unknown, byte and user-defined piece and every role,
//! and optionally every single-character piece whose character occurs in the text (an
//! approximation of "the scripts seen"). Ids are renumbered in the original order.

use std::collections::{BTreeMap, HashSet};

use rayon::prelude::*;
use serde::Serialize;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::ModelWrapper;

use super::target::{spm_reference, TargetTokenizer};
use super::{TokKind, TokenizerKind, Vocab};
use crate::error::VocabError;

/// What trimming kept and what it changed.
#[derive(Clone, Debug, Serialize)]
pub struct TrimReport {
    /// Pieces before.
    pub original: usize,
    /// Pieces kept.
    pub kept: usize,
    /// Of `kept`, pieces used on the text.
    pub used: usize,
    /// Lines of the trimming text.
    pub lines: usize,
}

/// Held-out lines that the trimmed tokenizer segments differently, and new unknowns.
#[derive(Clone, Debug, Serialize)]
pub struct SegmentationChange {
    /// Lines compared.
    pub lines: usize,
    /// Lines whose pieces (as text) differ.
    pub changed: usize,
    /// Unknown tokens the trimmed tokenizer emits that the full one did not.
    pub new_unknowns: usize,
}

/// Trims `tk` to the pieces used on `text`. Returns the trimmed tokenizer, the old id of
/// every kept piece (by new id), and the report.
///
/// # Errors
/// [`VocabError`] when the reference tokenizer fails or cannot be rebuilt.
pub fn trim_to_text(
    tk: &TargetTokenizer,
    text: &str,
    min_count: usize,
    keep_chars: bool,
) -> Result<(TargetTokenizer, Vec<u32>, TrimReport), VocabError> {
    let lines: Vec<&str> = text.lines().collect();
    let n = tk.vocab.len();
    let counts = lines
        .par_chunks(512)
        .map(|chunk| {
            let mut c = vec![0u32; n];
            for l in chunk {
                for id in tk.encode(l)? {
                    c[id as usize] += 1;
                }
            }
            Ok::<_, VocabError>(c)
        })
        .try_reduce(
            || vec![0u32; n],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                Ok(a)
            },
        )?;
    let chars: HashSet<char> = if keep_chars {
        text.chars().collect()
    } else {
        HashSet::new()
    };
    let roles: HashSet<u32> = tk.vocab.roles.values().copied().collect();
    let mut old_ids = Vec::new();
    let mut used = 0;
    for (id, t) in tk.vocab.tokens.iter().enumerate() {
        let is_used = counts[id] as usize >= min_count.max(1);
        used += usize::from(is_used);
        let structural = matches!(
            t.kind,
            TokKind::Control | TokKind::Unknown | TokKind::Byte | TokKind::UserDefined
        ) || roles.contains(&(id as u32));
        let single_char = keep_chars && {
            let s = String::from_utf8_lossy(&t.text);
            let s = s.trim_start_matches('\u{2581}').trim_start_matches("##");
            let mut it = s.chars();
            matches!((it.next(), it.next()), (Some(c), None) if chars.contains(&c))
        };
        if is_used || structural || single_char {
            old_ids.push(id as u32);
        }
    }
    if tk.vocab.kind == TokenizerKind::SentencePieceBpe {
        close_over_characters(tk, &mut old_ids);
    }
    let trimmed = subset(tk, &old_ids)?;
    let report = TrimReport {
        original: n,
        kept: old_ids.len(),
        used,
        lines: lines.len(),
    };
    Ok((trimmed, old_ids, report))
}

/// Adds the single-character piece of every character inside a kept piece.
///
/// SentencePiece BPE (and llama.cpp's `llama` tokenizer) starts from characters and merges
/// any adjacent pair whose concatenation is a piece, whether or not the characters are
/// pieces themselves; a `tokenizers` BPE (our reference) turns a character that is not a
/// piece into bytes first and can then never merge it. Trimming "않" away while keeping
/// "▁않고" made the two disagree on 5% of Korean lines. With every character of every kept
/// piece kept, each reachable symbol is a piece and the two merge alike.
fn close_over_characters(tk: &TargetTokenizer, old_ids: &mut Vec<u32>) {
    let mergeable = |t: &super::Token| matches!(t.kind, TokKind::Normal | TokKind::UserDefined);
    let chars: HashSet<char> = old_ids
        .iter()
        .map(|&i| &tk.vocab.tokens[i as usize])
        .filter(|t| mergeable(t))
        .flat_map(|t| String::from_utf8_lossy(&t.text).chars().collect::<Vec<_>>())
        .collect();
    let kept: HashSet<u32> = old_ids.iter().copied().collect();
    for (id, t) in tk.vocab.tokens.iter().enumerate() {
        if kept.contains(&(id as u32)) || !mergeable(t) {
            continue;
        }
        let s = String::from_utf8_lossy(&t.text);
        let mut it = s.chars();
        if matches!((it.next(), it.next()), (Some(c), None) if chars.contains(&c)) {
            old_ids.push(id as u32);
        }
    }
    old_ids.sort_unstable();
}

/// The tokenizer restricted to `old_ids` (ascending), renumbered.
fn subset(tk: &TargetTokenizer, old_ids: &[u32]) -> Result<TargetTokenizer, VocabError> {
    let mut new_of_old = BTreeMap::new();
    for (new, &old) in old_ids.iter().enumerate() {
        new_of_old.insert(old, new as u32);
    }
    let vocab = Vocab {
        kind: tk.vocab.kind,
        tokens: old_ids
            .iter()
            .map(|&o| tk.vocab.tokens[o as usize].clone())
            .collect(),
        roles: tk
            .vocab
            .roles
            .iter()
            .filter_map(|(r, o)| new_of_old.get(o).map(|&n| (*r, n)))
            .collect(),
    };
    let path = tk.path.clone();
    let err = |e: &dyn std::fmt::Display| VocabError::Load {
        path: path.clone(),
        reason: format!("rebuilding the trimmed tokenizer: {e}"),
    };
    let (reference, spm_model) = match (vocab.kind, &tk.spm, &tk.spm_model) {
        (TokenizerKind::Unigram | TokenizerKind::SentencePieceBpe, Some(spm), Some(model)) => {
            let byte_fallback = model
                .trainer()
                .is_some_and(sentencepiece_model::TrainerSpec::byte_fallback);
            // For BPE the merges are derived again from the kept pieces, as llama.cpp
            // derives them from the trimmed vocabulary.
            let reference = spm_reference(&vocab, spm, byte_fallback, &tk.path)?;
            let mut proto = model.model().clone();
            proto.pieces = old_ids
                .iter()
                .map(|&o| model.pieces()[o as usize].clone())
                .collect();
            if let Some(t) = proto.trainer_spec.as_mut() {
                let remap = |id: Option<i32>| {
                    id.map(|i| {
                        u32::try_from(i)
                            .ok()
                            .and_then(|u| new_of_old.get(&u))
                            .map_or(-1, |&n| n as i32)
                    })
                };
                t.unk_id = remap(t.unk_id);
                t.bos_id = remap(t.bos_id);
                t.eos_id = remap(t.eos_id);
                t.pad_id = remap(t.pad_id);
                t.vocab_size = Some(old_ids.len() as i32);
            }
            let bytes = prost::Message::encode_to_vec(&proto);
            let m =
                sentencepiece_model::SentencePieceModel::from_slice(bytes).map_err(|e| err(&e))?;
            (reference, Some(m))
        }
        (TokenizerKind::WordPiece, _, _) => {
            let ModelWrapper::WordPiece(wp) = tk.reference.get_model() else {
                return Err(err(&"expected a WordPiece model"));
            };
            let map: ahash::AHashMap<String, u32> = vocab
                .tokens
                .iter()
                .enumerate()
                .map(|(i, t)| (String::from_utf8_lossy(&t.text).into_owned(), i as u32))
                .collect();
            let new = WordPiece::builder()
                .vocab(map)
                .unk_token(wp.unk_token.clone())
                .continuing_subword_prefix(wp.continuing_subword_prefix.clone())
                .max_input_chars_per_word(wp.max_input_chars_per_word)
                .build()
                .map_err(|e| err(&e))?;
            let mut reference = tk.reference.clone();
            reference.with_model(ModelWrapper::WordPiece(new));
            (reference, None)
        }
        (kind, _, _) => {
            return Err(err(&format!(
                "trimming a {kind:?} tokenizer is not supported yet"
            )))
        }
    };
    Ok(TargetTokenizer {
        path: tk.path.clone(),
        vocab,
        reference,
        spm: tk.spm.clone(),
        spm_model,
    })
}

/// Compares the segmentation of `lines` by the full and the trimmed tokenizer.
///
/// # Errors
/// [`VocabError::Tokenize`].
pub fn segmentation_change(
    full: &TargetTokenizer,
    trimmed: &TargetTokenizer,
    lines: &[&str],
) -> Result<SegmentationChange, VocabError> {
    let unk_full = full.vocab.roles.get(&super::Role::Unk).copied();
    let unk_trim = trimmed.vocab.roles.get(&super::Role::Unk).copied();
    let per_line: Vec<(bool, usize)> = lines
        .par_iter()
        .map(|l| {
            let a = full.encode(l)?;
            let b = trimmed.encode(l)?;
            let pa: Vec<&[u8]> = a
                .iter()
                .map(|&i| full.vocab.tokens[i as usize].text.as_slice())
                .collect();
            let pb: Vec<&[u8]> = b
                .iter()
                .map(|&i| trimmed.vocab.tokens[i as usize].text.as_slice())
                .collect();
            let ua = a.iter().filter(|&&i| Some(i) == unk_full).count();
            let ub = b.iter().filter(|&&i| Some(i) == unk_trim).count();
            Ok((pa != pb, ub.saturating_sub(ua)))
        })
        .collect::<Result<_, VocabError>>()?;
    Ok(SegmentationChange {
        lines: lines.len(),
        changed: per_line.iter().filter(|(c, _)| *c).count(),
        new_unknowns: per_line.iter().map(|(_, u)| u).sum(),
    })
}
