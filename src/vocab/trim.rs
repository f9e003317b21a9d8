//! Trimming a multilingual target vocabulary to the pieces a target-language text uses
//! (docs/method.md section 6b). Kept: pieces the reference tokenizer emits on the text at least
//! `min_count` times, every control, unknown, byte and user-defined piece and every role,
//! and optionally every single-character piece whose character occurs in the text (an
//! approximation of "the scripts seen"). Ids are renumbered in the original order.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use rayon::prelude::*;
use serde::Serialize;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::ModelWrapper;

use super::scripts::{is_basic, Script};
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

/// Which pieces a trim keeps besides the ones the text uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrimKeep {
    /// Every single-character piece whose character occurs in the text.
    pub chars: bool,
    /// Every single-character piece of a character any text needs (digits, ASCII,
    /// common punctuation: [`is_basic`]). On by default: a Bible-trimmed Korean
    /// vocabulary otherwise turned 680 of the constitution's 11,724 tokens into `<unk>`.
    pub basic: bool,
    /// Every piece made only of these scripts' characters (`--keep-script`).
    pub scripts: Vec<Script>,
}

impl Default for TrimKeep {
    fn default() -> Self {
        Self {
            chars: false,
            basic: true,
            scripts: Vec::new(),
        }
    }
}

/// Trims `tk` to the pieces used on `text` (and those `keep` names). Returns the trimmed
/// tokenizer, the old id of every kept piece (by new id), and the report.
///
/// # Errors
/// [`VocabError`] when the reference tokenizer fails or cannot be rebuilt.
pub fn trim_to_text(
    tk: &TargetTokenizer,
    text: &str,
    min_count: usize,
    keep: &TrimKeep,
) -> Result<(TargetTokenizer, Vec<u32>, TrimReport), VocabError> {
    trim_pieces(tk, text, min_count, keep, None)
}

/// Trims a model's own vocabulary (the trim route): as [`trim_to_text`], but of the
/// special pieces (control, unknown, unused, user-defined) only the roles and `named`
/// survive unless the text uses them; every byte-fallback piece stays. A model carries
/// thousands of reserved control tokens (6,249 in Gemma 3) that no text reaches.
///
/// # Errors
/// As [`trim_to_text`].
pub fn trim_own(
    tk: &TargetTokenizer,
    text: &str,
    min_count: usize,
    keep: &TrimKeep,
    named: &BTreeSet<u32>,
) -> Result<(TargetTokenizer, Vec<u32>, TrimReport), VocabError> {
    trim_pieces(tk, text, min_count, keep, Some(named))
}

/// [`trim_to_text`] and [`trim_own`]: `named` is `None` to keep every special piece.
fn trim_pieces(
    tk: &TargetTokenizer,
    text: &str,
    min_count: usize,
    keep: &TrimKeep,
    named: Option<&BTreeSet<u32>>,
) -> Result<(TargetTokenizer, Vec<u32>, TrimReport), VocabError> {
    let lines: Vec<&str> = text.lines().collect();
    let n = tk.vocab.len();
    // A model's own vocabulary is scored on whole texts, line breaks included, and a
    // byte-level pre-tokenizer joins a line's end with its break (Qwen's ".\n" is one
    // piece): the trim route counts blocks of lines as they stand in the text. Counted
    // line by line, Gemma lost its "\n" piece (every line break a byte token: 1.09 ->
    // 1.33 bits/byte) and Qwen its ".\n". A PLM's trim keeps its measured behaviour,
    // line by line.
    let whole = named.is_some();
    let counts = lines
        .par_chunks(512)
        .map(|chunk| {
            let mut c = vec![0u32; n];
            let mut count = |s: &str| -> Result<(), VocabError> {
                for id in tk.encode(s)? {
                    c[id as usize] += 1;
                }
                Ok(())
            };
            if whole {
                count(&(chunk.join("\n") + "\n"))?;
            } else {
                for l in chunk {
                    count(l)?;
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
    let chars: HashSet<char> = if keep.chars {
        text.chars().collect()
    } else {
        HashSet::new()
    };
    let roles: HashSet<u32> = tk.vocab.roles.values().copied().collect();
    let gpt2 = super::gpt2_byte_decoder();
    let mut old_ids = Vec::new();
    let mut used = 0;
    for (id, t) in tk.vocab.tokens.iter().enumerate() {
        let is_used = counts[id] as usize >= min_count.max(1);
        used += usize::from(is_used);
        let structural = match named {
            None => matches!(
                t.kind,
                TokKind::Control | TokKind::Unknown | TokKind::Byte | TokKind::UserDefined
            ),
            Some(named) => t.kind == TokKind::Byte || named.contains(&(id as u32)),
        } || roles.contains(&(id as u32));
        let body = piece_body(tk.vocab.kind, &t.text, &gpt2);
        let mut it = body.chars();
        let single = match (it.next(), it.next()) {
            (Some(c), None) => Some(c),
            _ => None,
        };
        let kept_char = single.is_some_and(|c| chars.contains(&c) || (keep.basic && is_basic(c)));
        let in_scripts = t.kind == TokKind::Normal
            && !keep.scripts.is_empty()
            && !body.is_empty()
            && body
                .chars()
                .all(|c| keep.scripts.iter().any(|s| s.contains(c)));
        if is_used || structural || kept_char || in_scripts {
            old_ids.push(id as u32);
        }
    }
    match tk.vocab.kind {
        TokenizerKind::SentencePieceBpe => close_over_characters(tk, &mut old_ids),
        TokenizerKind::ByteLevelBpe => close_over_merges(tk, &mut old_ids)?,
        TokenizerKind::Unigram | TokenizerKind::WordPiece => {}
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

/// A piece's characters without its word-start marker (`▁`, WordPiece's `##`); byte-level
/// pieces decoded through GPT-2's alphabet.
fn piece_body(
    kind: TokenizerKind,
    text: &[u8],
    gpt2: &std::collections::HashMap<char, u8>,
) -> String {
    let s = match kind {
        TokenizerKind::ByteLevelBpe => {
            let bytes: Option<Vec<u8>> = String::from_utf8_lossy(text)
                .chars()
                .map(|c| gpt2.get(&c).copied())
                .collect();
            String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned()
        }
        _ => String::from_utf8_lossy(text).into_owned(),
    };
    s.trim_start_matches('\u{2581}')
        .trim_start_matches(' ')
        .trim_start_matches("##")
        .to_owned()
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

/// The merges of a BPE reference by rank, as piece pairs.
fn bpe_merges(tk: &TargetTokenizer) -> Result<Vec<(String, String)>, VocabError> {
    super::pretok::merges(&tk.reference).map_err(|why| VocabError::Load {
        path: tk.path.clone(),
        reason: format!("reading the BPE merges: {why}"),
    })
}

/// Keeps everything a byte-level BPE needs to reach the kept pieces: the 256 pieces of
/// GPT-2's byte alphabet (any text stays encodable) and, for every kept piece, the two
/// parts of each merge that produces it, to a fixed point.
///
/// Every merge applied while encoding the trimming text produces a kept piece, so each
/// stays, and merges are kept when both parts and the result are kept: the trimmed
/// tokenizer therefore applies the same merges in the same order to that text and
/// segments it identically (tests/bpe.rs checks it). Text outside it may segment
/// differently, which the held-out report measures.
fn close_over_merges(tk: &TargetTokenizer, old_ids: &mut Vec<u32>) -> Result<(), VocabError> {
    let merges = bpe_merges(tk)?;
    let id_of: ahash::AHashMap<&[u8], u32> = tk
        .vocab
        .tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.text.as_slice(), i as u32))
        .collect();
    let mut producers: ahash::AHashMap<u32, Vec<(u32, u32)>> = ahash::AHashMap::new();
    for (l, r) in &merges {
        let joined = [l.as_bytes(), r.as_bytes()].concat();
        if let (Some(&a), Some(&b), Some(&ab)) = (
            id_of.get(l.as_bytes()),
            id_of.get(r.as_bytes()),
            id_of.get(joined.as_slice()),
        ) {
            producers.entry(ab).or_default().push((a, b));
        }
    }
    let mut kept: HashSet<u32> = old_ids.iter().copied().collect();
    for c in super::gpt2_byte_decoder().keys() {
        if let Some(&id) = id_of.get(c.to_string().as_bytes()) {
            kept.insert(id);
        }
    }
    let mut todo: Vec<u32> = kept.iter().copied().collect();
    while let Some(id) = todo.pop() {
        for &(a, b) in producers.get(&id).map_or(&[][..], Vec::as_slice) {
            for part in [a, b] {
                if kept.insert(part) {
                    todo.push(part);
                }
            }
        }
    }
    *old_ids = kept.into_iter().collect();
    old_ids.sort_unstable();
    Ok(())
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
            (
                rebuilt(&tk.reference, ModelWrapper::WordPiece(new), &err)?,
                None,
            )
        }
        (TokenizerKind::ByteLevelBpe, _, _) => {
            let ModelWrapper::BPE(bpe) = tk.reference.get_model() else {
                return Err(err(&"expected a BPE model"));
            };
            let texts: Vec<String> = vocab
                .tokens
                .iter()
                .map(|t| String::from_utf8_lossy(&t.text).into_owned())
                .collect();
            let kept: HashSet<&str> = texts.iter().map(String::as_str).collect();
            let merges: Vec<(String, String)> = bpe_merges(tk)?
                .into_iter()
                .filter(|(l, r)| {
                    kept.contains(l.as_str())
                        && kept.contains(r.as_str())
                        && kept.contains(format!("{l}{r}").as_str())
                })
                .collect();
            let map: ahash::AHashMap<String, u32> = texts
                .iter()
                .enumerate()
                .map(|(i, t)| (t.clone(), i as u32))
                .collect();
            let mut b = tokenizers::models::bpe::BPE::builder()
                .vocab_and_merges(map, merges)
                .fuse_unk(bpe.fuse_unk)
                .byte_fallback(bpe.byte_fallback)
                .ignore_merges(bpe.ignore_merges);
            if let Some(u) = bpe.unk_token.clone().filter(|u| kept.contains(u.as_str())) {
                b = b.unk_token(u);
            }
            if let Some(p) = bpe.continuing_subword_prefix.clone() {
                b = b.continuing_subword_prefix(p);
            }
            if let Some(p) = bpe.end_of_word_suffix.clone() {
                b = b.end_of_word_suffix(p);
            }
            let new = b.build().map_err(|e| err(&e))?;
            (rebuilt(&tk.reference, ModelWrapper::BPE(new), &err)?, None)
        }
        (kind, _, _) => {
            return Err(err(&format!(
                "trimming a {kind:?} tokenizer is not supported yet"
            )))
        }
    };
    Ok(TargetTokenizer::new(&tk.path, vocab, reference)
        .with_spm(tk.spm.clone(), spm_model)
        .with_gguf_pre(tk.gguf_pre.clone()))
}

/// `old` with its model replaced by the trimmed `model`, and its added tokens registered
/// again (their ids come from the model, so they follow the renumbering).
///
/// The post-processor is dropped: its templates hold special-token ids of the full
/// vocabulary. Nothing here encodes with special tokens, and a stale template in the
/// written tokenizer.json would mislead whoever loads it.
fn rebuilt(
    old: &tokenizers::Tokenizer,
    model: ModelWrapper,
    err: &dyn Fn(&dyn std::fmt::Display) -> VocabError,
) -> Result<tokenizers::Tokenizer, VocabError> {
    let mut t = tokenizers::Tokenizer::new(model);
    t.with_normalizer(old.get_normalizer().cloned())
        .map_err(|e| err(&e))?;
    t.with_pre_tokenizer(old.get_pre_tokenizer().cloned());
    t.with_decoder(old.get_decoder().cloned());
    let mut added: Vec<(u32, tokenizers::AddedToken)> =
        old.get_added_tokens_decoder().into_iter().collect();
    added.sort_by_key(|(id, _)| *id);
    for (_, a) in added {
        if t.token_to_id(&a.content).is_none() {
            continue;
        }
        if a.special {
            t.add_special_tokens([a]).map_err(|e| err(&e))?;
        } else {
            t.add_tokens([a]).map_err(|e| err(&e))?;
        }
    }
    Ok(t)
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
