//! SentencePiece `.model` files (Unigram and BPE) and their `tokenizers` references.

use std::collections::BTreeMap;
use std::path::Path;

use sentencepiece_model::SentencePieceModel;
use tokenizers::models::unigram::Unigram;
use tokenizers::normalizers::{Precompiled, Prepend, Replace, Sequence, Strip};
use tokenizers::{ModelWrapper, NormalizerWrapper, Tokenizer};

use crate::error::VocabError;
use crate::vocab::{Role, TokKind, Token, TokenizerKind, Vocab};

use super::{load_err, SpmNormalizer, TargetTokenizer};

/// The reference normaliser of a SentencePiece Unigram model, built to match both
/// sentencepiece and llama.cpp's UGM: charsmap, then (with remove_extra_whitespaces) strip
/// and collapse runs of spaces, then the dummy prefix, then spaces as `▁`.
pub(crate) fn spm_normalizer(
    n: &SpmNormalizer,
    path: &Path,
    kind: TokenizerKind,
) -> Result<NormalizerWrapper, VocabError> {
    let mut seq: Vec<NormalizerWrapper> = Vec::new();
    if !n.precompiled_charsmap.is_empty() {
        seq.push(
            Precompiled::from(&n.precompiled_charsmap)
                .map_err(|e| load_err(path, e))?
                .into(),
        );
    }
    if n.remove_extra_whitespaces {
        seq.push(Strip::new(true, true).into());
        let collapse = Replace::new(
            tokenizers::normalizers::replace::ReplacePattern::Regex(" {2,}".into()),
            " ",
        )
        .map_err(|e| load_err(path, e))?;
        seq.push(collapse.into());
    }
    // llama.cpp's UGM puts a space before the first word whenever it merges spaces; its
    // SentencePiece BPE (`llama`) only with the dummy prefix.
    let ugm = kind == TokenizerKind::Unigram;
    if n.add_dummy_prefix || (ugm && n.remove_extra_whitespaces) {
        seq.push(Prepend::new(" ".into()).into());
    }
    if n.escape_whitespaces {
        seq.push(
            Replace::new(" ", "\u{2581}")
                .map_err(|e| load_err(path, e))?
                .into(),
        );
    }
    Ok(Sequence::new(seq).into())
}

pub(super) fn load_spm(path: &Path, bytes: &[u8]) -> Result<TargetTokenizer, VocabError> {
    let model = SentencePieceModel::from_slice(bytes).map_err(|e| load_err(path, e))?;
    let trainer = model.trainer().cloned().unwrap_or_default();
    let kind = match trainer.model_type() {
        sentencepiece_model::ModelType::Unigram => TokenizerKind::Unigram,
        sentencepiece_model::ModelType::Bpe => TokenizerKind::SentencePieceBpe,
        other => {
            return Err(VocabError::UnsupportedKind {
                path: path.to_path_buf(),
                kind: format!("SentencePiece {other:?}"),
                supported: "SentencePiece Unigram and BPE (.model)",
            })
        }
    };
    let norm = model.normalizer();
    let spm = SpmNormalizer {
        add_dummy_prefix: norm.is_none_or(|n| n.add_dummy_prefix()),
        remove_extra_whitespaces: norm.is_none_or(|n| n.remove_extra_whitespaces()),
        escape_whitespaces: norm.is_none_or(|n| n.escape_whitespaces()),
        precompiled_charsmap: norm
            .and_then(|n| n.precompiled_charsmap.clone())
            .unwrap_or_default(),
    };
    let mut tokens = Vec::with_capacity(model.pieces().len());
    for p in model.pieces() {
        tokens.push(Token {
            text: p.piece().as_bytes().to_vec(),
            score: p.score(),
            kind: TokKind::from_gguf(i64::from(p.r#type() as i32)),
        });
    }
    let mut roles = BTreeMap::new();
    let n = tokens.len() as i64;
    for (role, id) in [
        (Role::Unk, trainer.unk_id()),
        (Role::Bos, trainer.bos_id()),
        (Role::Eos, trainer.eos_id()),
        (Role::Pad, trainer.pad_id()),
    ] {
        if (0..n).contains(&i64::from(id)) {
            roles.insert(role, id as u32);
        }
    }
    let vocab = Vocab {
        kind,
        tokens,
        roles,
    };
    let reference = spm_reference(&vocab, &spm, trainer.byte_fallback(), path)?;
    Ok(TargetTokenizer::new(path, vocab, reference).with_spm(Some(spm), Some(model)))
}

/// The `tokenizers` equivalent of a SentencePiece vocabulary of either kind.
pub(crate) fn spm_reference(
    vocab: &Vocab,
    spm: &SpmNormalizer,
    byte_fallback: bool,
    path: &Path,
) -> Result<Tokenizer, VocabError> {
    match vocab.kind {
        TokenizerKind::SentencePieceBpe => spm_bpe_reference(vocab, spm, byte_fallback, path),
        _ => unigram_reference(vocab, spm, byte_fallback, path),
    }
}

/// A `tokenizers` BPE equivalent to a SentencePiece BPE vocabulary.
///
/// SentencePiece BPE (and llama.cpp's `llama` tokenizer) repeatedly merges the adjacent
/// pair whose concatenation is the highest-scoring piece, leftmost first. A BPE with one
/// merge `(a, b)` per piece `ab` (every split into two pieces), ranked by the score of `ab`
/// (then its id), makes the same choices. No pre-tokenizer: pieces never span a `▁` in the
/// middle, so merging the whole line equals merging word by word. Byte and control
/// pieces are never produced by merging.
pub(super) fn spm_bpe_reference(
    vocab: &Vocab,
    spm: &SpmNormalizer,
    byte_fallback: bool,
    path: &Path,
) -> Result<Tokenizer, VocabError> {
    use tokenizers::models::bpe::BPE;
    let texts: Vec<String> = vocab
        .tokens
        .iter()
        .map(|t| String::from_utf8_lossy(&t.text).into_owned())
        .collect();
    let mut ids: ahash::AHashMap<String, u32> = ahash::AHashMap::with_capacity(texts.len());
    for (i, t) in texts.iter().enumerate() {
        ids.entry(t.clone()).or_insert(i as u32);
    }
    let mergeable = |id: usize| {
        matches!(
            vocab.tokens[id].kind,
            TokKind::Normal | TokKind::UserDefined
        )
    };
    // (score of the merged piece, its id, left, right)
    let mut merges: Vec<(f32, u32, String, String)> = Vec::new();
    for (id, t) in texts.iter().enumerate() {
        if !mergeable(id) {
            continue;
        }
        for (cut, _) in t.char_indices().skip(1) {
            let (a, b) = t.split_at(cut);
            let ok = |p: &str| ids.get(p).is_some_and(|&i| mergeable(i as usize));
            if ok(a) && ok(b) {
                merges.push((
                    vocab.tokens[id].score,
                    id as u32,
                    a.to_owned(),
                    b.to_owned(),
                ));
            }
        }
    }
    merges.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    let mut builder = BPE::builder()
        .vocab_and_merges(ids, merges.into_iter().map(|(_, _, a, b)| (a, b)).collect())
        .byte_fallback(byte_fallback)
        .fuse_unk(true);
    if let Some(&u) = vocab.roles.get(&Role::Unk) {
        builder = builder.unk_token(texts[u as usize].clone());
    }
    let model = builder.build().map_err(|e| load_err(path, e))?;
    let mut tk = Tokenizer::new(ModelWrapper::BPE(model));
    tk.with_normalizer(Some(spm_normalizer(
        spm,
        path,
        TokenizerKind::SentencePieceBpe,
    )?))
    .map_err(|e| load_err(path, e))?;
    tk.with_decoder(Some(tokenizers::decoders::metaspace::Metaspace::new(
        '\u{2581}',
        tokenizers::pre_tokenizers::metaspace::PrependScheme::Always,
        true,
    )));
    // User-defined pieces (Gemma's runs of spaces and tabs, for example) are matched in
    // the raw text before anything else, as llama.cpp's tokenizer partition does.
    let user: Vec<tokenizers::AddedToken> = vocab
        .tokens
        .iter()
        .zip(&texts)
        .filter(|(t, _)| t.kind == TokKind::UserDefined)
        .map(|(_, s)| tokenizers::AddedToken::from(s.clone(), false).normalized(false))
        .collect();
    tk.add_tokens(user).map_err(|e| load_err(path, e))?;
    Ok(tk)
}

/// A `tokenizers` Unigram equivalent to a SentencePiece Unigram vocabulary.
pub(crate) fn unigram_reference(
    vocab: &Vocab,
    spm: &SpmNormalizer,
    byte_fallback: bool,
    path: &Path,
) -> Result<Tokenizer, VocabError> {
    let pieces: Vec<(String, f64)> = vocab
        .tokens
        .iter()
        .map(|t| {
            (
                String::from_utf8_lossy(&t.text).into_owned(),
                f64::from(t.score),
            )
        })
        .collect();
    let unk = vocab.roles.get(&Role::Unk).map(|&u| u as usize);
    let model = Unigram::from(pieces, unk, byte_fallback).map_err(|e| load_err(path, e))?;
    let mut tk = Tokenizer::new(ModelWrapper::Unigram(model));
    tk.with_normalizer(Some(spm_normalizer(spm, path, TokenizerKind::Unigram)?))
        .map_err(|e| load_err(path, e))?;
    tk.with_decoder(Some(tokenizers::decoders::metaspace::Metaspace::new(
        '\u{2581}',
        tokenizers::pre_tokenizers::metaspace::PrependScheme::Always,
        true,
    )));
    Ok(tk)
}
