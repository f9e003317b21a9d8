//! A GGUF's own vocabulary (`tokenizer.ggml.*`) as a target tokenizer: `llama` and `t5` rebuilt as the SentencePiece model they came from, `bert` as its `vocab.txt`, `gpt2` as a byte-level BPE.

use std::path::Path;

use tokenizers::{ModelWrapper, Tokenizer};

use crate::error::VocabError;
use crate::vocab::{Role, TokKind, TokenizerKind, Vocab};

use super::spm::load_spm;
use super::vocab_txt::load_vocab_txt;
use super::{load_err, TargetTokenizer};

/// The vocabulary of a GGUF (`tokenizer.ggml.*`) as a target tokenizer.
///
/// `llama` (SentencePiece BPE) and `t5` (Unigram) vocabularies become the SentencePiece
/// model they were converted from (pieces, scores, types, special ids, normaliser keys with
/// llama.cpp's defaults), so they load, trim and write back like a `.model`; `bert`
/// becomes its WordPiece `vocab.txt`; `gpt2` becomes a byte-level BPE with the GGUF's
/// merges and the pre-tokenizer its `tokenizer.ggml.pre` names (see [`crate::vocab::pretok`]).
pub(super) fn load_gguf_vocab(path: &Path) -> Result<TargetTokenizer, VocabError> {
    target_from_gguf(&crate::gguf::GgufFile::open(path)?)
}

/// The vocabulary of an opened GGUF as a target tokenizer (see [`super::load_target`]).
///
/// # Errors
/// [`VocabError`] for a malformed or unsupported vocabulary.
pub fn target_from_gguf(f: &crate::gguf::GgufFile) -> Result<TargetTokenizer, VocabError> {
    let path = f.path();
    let v = crate::vocab::vocab_from_gguf(f)?;
    let texts = || {
        v.tokens
            .iter()
            .map(|t| String::from_utf8_lossy(&t.text).into_owned())
    };
    match v.kind {
        TokenizerKind::SentencePieceBpe | TokenizerKind::Unigram => {
            let proto = spm_proto(f, &v)?;
            load_spm(path, &prost::Message::encode_to_vec(&proto))
        }
        TokenizerKind::WordPiece => {
            // llama.cpp's `bert` vocabularies spell word-initial pieces with `▁` and
            // continuations bare; WordPiece spells them bare and with `##`.
            let lines: String = texts()
                .zip(&v.tokens)
                .map(|(s, t)| {
                    let piece = match (t.kind, s.strip_prefix('\u{2581}')) {
                        (TokKind::Normal, Some(word)) => word.to_owned(),
                        (TokKind::Normal, None) => format!("##{s}"),
                        _ => s,
                    };
                    piece + "\n"
                })
                .collect();
            load_vocab_txt(path, &lines)
        }
        TokenizerKind::ByteLevelBpe => load_gguf_bpe(path, f, v),
    }
}

/// The SentencePiece model a `llama` or `t5` GGUF vocabulary was converted from: pieces,
/// scores, types, special ids, and the normaliser keys with llama.cpp's defaults for
/// absent ones. Its `.model` bytes load as a target like any other.
///
/// # Errors
/// [`VocabError`] for a malformed key, or a vocabulary of another kind.
pub fn sentencepiece_proto(
    f: &crate::gguf::GgufFile,
) -> Result<sentencepiece_model::ModelProto, VocabError> {
    let v = crate::vocab::vocab_from_gguf(f)?;
    if !matches!(
        v.kind,
        TokenizerKind::SentencePieceBpe | TokenizerKind::Unigram
    ) {
        return Err(VocabError::UnsupportedKind {
            path: f.path().to_path_buf(),
            kind: v.kind.gguf_model().into(),
            supported: "llama and t5 vocabularies",
        });
    }
    spm_proto(f, &v)
}

pub(super) fn spm_proto(
    f: &crate::gguf::GgufFile,
    v: &Vocab,
) -> Result<sentencepiece_model::ModelProto, VocabError> {
    use sentencepiece_model::{ModelProto, ModelType, NormalizerSpec, TrainerSpec};
    let texts = || {
        v.tokens
            .iter()
            .map(|t| String::from_utf8_lossy(&t.text).into_owned())
    };
    let bpe = v.kind == TokenizerKind::SentencePieceBpe;
    let id = |r| v.roles.get(&r).map(|&i| i as i32);
    let charsmap: Vec<u8> = f
        .get("tokenizer.ggml.precompiled_charsmap")
        .and_then(crate::gguf::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_int())
                .map(|x| x as u8)
                .collect()
        })
        .unwrap_or_default();
    let proto = ModelProto {
        pieces: texts()
            .zip(&v.tokens)
            .map(|(piece, t)| sentencepiece_model::SentencePiece {
                piece: Some(piece),
                score: Some(t.score),
                r#type: Some(t.kind.to_gguf()),
            })
            .collect(),
        trainer_spec: Some(TrainerSpec {
            model_type: Some(if bpe {
                ModelType::Bpe
            } else {
                ModelType::Unigram
            } as i32),
            vocab_size: Some(v.tokens.len() as i32),
            byte_fallback: Some(v.tokens.iter().any(|t| t.kind == TokKind::Byte)),
            unk_id: id(Role::Unk).or(Some(-1)),
            bos_id: id(Role::Bos).or(Some(-1)),
            eos_id: id(Role::Eos).or(Some(-1)),
            pad_id: id(Role::Pad).or(Some(-1)),
            ..Default::default()
        }),
        normalizer_spec: Some(NormalizerSpec {
            name: Some(
                if charsmap.is_empty() {
                    "identity"
                } else {
                    "custom"
                }
                .into(),
            ),
            // llama.cpp's defaults when the keys are absent.
            add_dummy_prefix: Some(
                f.opt_bool("tokenizer.ggml.add_space_prefix")?
                    .unwrap_or(true),
            ),
            remove_extra_whitespaces: Some(
                f.opt_bool("tokenizer.ggml.remove_extra_whitespaces")?
                    .unwrap_or(false),
            ),
            escape_whitespaces: Some(true),
            precompiled_charsmap: (!charsmap.is_empty()).then_some(charsmap),
            ..Default::default()
        }),
        ..Default::default()
    };
    Ok(proto)
}

/// A `gpt2` GGUF vocabulary as a byte-level BPE reference tokenizer.
pub(super) fn load_gguf_bpe(
    path: &Path,
    f: &crate::gguf::GgufFile,
    vocab: Vocab,
) -> Result<TargetTokenizer, VocabError> {
    use tokenizers::models::bpe::BPE;
    let pre_name = f
        .opt_str(crate::gguf::keys::TOKENIZER_PRE)?
        .unwrap_or("default")
        .to_owned();
    let known = crate::vocab::pretok::by_gguf_name(&pre_name).ok_or_else(|| VocabError::UnsupportedKind {
        path: path.to_path_buf(),
        kind: format!("gpt2 vocabulary with tokenizer.ggml.pre = {pre_name:?}"),
        supported: "byte-level BPE with pre gpt-2, starcoder, llama-bpe, dbrx, qwen2, qwen35 or one of their aliases (src/vocab/pretok.rs)",
    })?;
    let merges_v = f
        .get("tokenizer.ggml.merges")
        .and_then(crate::gguf::Value::as_array);
    let Some(merges_a) = merges_v else {
        return Err(load_err(
            path,
            "a gpt2 vocabulary without tokenizer.ggml.merges",
        ));
    };
    let mut merges = Vec::with_capacity(merges_a.len());
    for i in 0..merges_a.len() {
        let m = String::from_utf8_lossy(merges_a.str_at(i).unwrap_or_default());
        // llama.cpp splits a merge at the first space after its first character.
        let cut = m
            .char_indices()
            .skip(1)
            .find(|(_, c)| *c == ' ')
            .map(|(j, _)| j);
        let Some(cut) = cut else {
            return Err(load_err(
                path,
                format!("tokenizer.ggml.merges[{i}] = {m:?} is not \"left right\""),
            ));
        };
        merges.push((m[..cut].to_owned(), m[cut + 1..].to_owned()));
    }
    let mut ids: ahash::AHashMap<String, u32> = ahash::AHashMap::with_capacity(vocab.len());
    for (i, t) in vocab.tokens.iter().enumerate() {
        ids.entry(String::from_utf8_lossy(&t.text).into_owned())
            .or_insert(i as u32);
    }
    let model = BPE::builder()
        .vocab_and_merges(ids, merges)
        .ignore_merges(known.ignore_merges)
        .build()
        .map_err(|e| load_err(path, format!("tokenizer.ggml.merges: {e}")))?;
    let mut tk = Tokenizer::new(ModelWrapper::BPE(model));
    let (pre, decoder) = crate::vocab::pretok::build(known).map_err(|e| load_err(path, e))?;
    tk.with_pre_tokenizer(Some(pre));
    tk.with_decoder(Some(decoder));
    // User-defined tokens are matched in the raw text first, as llama.cpp's partition
    // does; control tokens only with special parsing, which parity and eval leave off.
    let user: Vec<tokenizers::AddedToken> = vocab
        .tokens
        .iter()
        .filter(|t| t.kind == TokKind::UserDefined)
        .map(|t| {
            tokenizers::AddedToken::from(String::from_utf8_lossy(&t.text), false).normalized(false)
        })
        .collect();
    tk.add_tokens(user).map_err(|e| load_err(path, e))?;
    Ok(TargetTokenizer::new(path, vocab, tk).with_gguf_pre(Some(pre_name)))
}
