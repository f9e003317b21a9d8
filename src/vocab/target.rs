//! The target (PLM) tokenizer: its vocabulary and an equivalent `tokenizers` object that
//! serves as the reference tokenizer (what llama.cpp must reproduce after the transfer).
//!
//! Accepted: a SentencePiece `.model` (Unigram), a Hugging Face `tokenizer.json`
//! (Unigram, WordPiece, BPE), a BERT `vocab.txt`, or a folder holding one of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sentencepiece_model::SentencePieceModel;
use tokenizers::models::unigram::Unigram;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::{BertNormalizer, Precompiled, Prepend, Replace, Sequence, Strip};
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::{ModelWrapper, NormalizerWrapper, Tokenizer};

use super::{Role, TokKind, Token, TokenizerKind, Vocab};
use crate::error::VocabError;

/// SentencePiece normalisation settings that the GGUF must carry for llama.cpp's UGM.
#[derive(Clone, Debug)]
pub struct SpmNormalizer {
    /// `add_dummy_prefix`.
    pub add_dummy_prefix: bool,
    /// `remove_extra_whitespaces`.
    pub remove_extra_whitespaces: bool,
    /// `escape_whitespaces`.
    pub escape_whitespaces: bool,
    /// The precompiled charsmap (empty for "identity").
    pub precompiled_charsmap: Vec<u8>,
}

/// A loaded target tokenizer.
pub struct TargetTokenizer {
    /// Where it was loaded from.
    pub path: PathBuf,
    /// The vocabulary in id order.
    pub vocab: Vocab,
    /// The reference tokenizer (truncation and padding off).
    pub reference: Tokenizer,
    /// SentencePiece settings, when loaded from a `.model`.
    pub spm: Option<SpmNormalizer>,
    /// The parsed `.model`, when loaded from one (trimming rewrites it).
    pub spm_model: Option<SentencePieceModel>,
    /// The `tokenizer.ggml.pre` value, when loaded from a GGUF: written back as is when
    /// it names the same splitting (aliases differ in detokenisation details).
    pub gguf_pre: Option<String>,
}

impl std::fmt::Debug for TargetTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetTokenizer")
            .field("path", &self.path)
            .field("tokens", &self.vocab.len())
            .finish_non_exhaustive()
    }
}

impl TargetTokenizer {
    /// A tokenizer loaded from `path`: its vocabulary and the reference that tokenizes
    /// like it (no SentencePiece model, no GGUF pre-tokenizer name).
    #[must_use]
    pub fn new(path: &Path, vocab: Vocab, reference: Tokenizer) -> Self {
        Self {
            path: path.to_path_buf(),
            vocab,
            reference,
            spm: None,
            spm_model: None,
            gguf_pre: None,
        }
    }

    /// With the SentencePiece settings and model it was loaded from.
    #[must_use]
    pub fn with_spm(
        mut self,
        spm: Option<SpmNormalizer>,
        model: Option<SentencePieceModel>,
    ) -> Self {
        self.spm = spm;
        self.spm_model = model;
        self
    }

    /// With the GGUF `tokenizer.ggml.pre` it was loaded from.
    #[must_use]
    pub fn with_gguf_pre(mut self, pre: Option<String>) -> Self {
        self.gguf_pre = pre;
        self
    }

    /// Token ids of `text` by the reference tokenizer, without special tokens.
    ///
    /// # Errors
    /// [`VocabError::Tokenize`].
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, VocabError> {
        self.reference
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| VocabError::Tokenize(e.to_string()))
    }
}

/// Finds the tokenizer file in a PLM folder (or returns the file itself).
fn find_tokenizer(path: &Path) -> Result<PathBuf, VocabError> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    if !path.is_dir() {
        return Err(VocabError::Load {
            path: path.to_path_buf(),
            reason: "no such file or folder".into(),
        });
    }
    for name in [
        "tokenizer.json",
        "sp.model",
        "tokenizer.model",
        "spiece.model",
        "sentencepiece.bpe.model",
    ] {
        if path.join(name).is_file() {
            return Ok(path.join(name));
        }
    }
    if let Ok(rd) = std::fs::read_dir(path) {
        let mut models: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "model"))
            .collect();
        models.sort();
        if let Some(m) = models.into_iter().next() {
            return Ok(m);
        }
    }
    if path.join("vocab.txt").is_file() {
        return Ok(path.join("vocab.txt"));
    }
    Err(VocabError::NotFound {
        path: path.to_path_buf(),
    })
}

/// Loads a target tokenizer from a file or a PLM folder.
///
/// # Errors
/// [`VocabError`] naming the file when it cannot be read or is of an unsupported kind.
pub fn load_target(path: &Path) -> Result<TargetTokenizer, VocabError> {
    let file = find_tokenizer(path)?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.ends_with(".gguf") {
        return load_gguf_vocab(&file);
    }
    if !(name.ends_with(".model") || name.ends_with(".json") || name.ends_with(".txt")) {
        return Err(VocabError::UnsupportedKind {
            path: file,
            kind: name,
            supported: "tokenizer.json, a SentencePiece .model, a BERT vocab.txt, or a GGUF",
        });
    }
    let bytes = std::fs::read(&file).map_err(|e| load_err(&file, e))?;
    parse_target(&file, &bytes)
}

/// Reads a target tokenizer from the bytes of `path`, by its name: `*.model`
/// (SentencePiece), `*.json` (`tokenizer.json`), else a BERT `vocab.txt`.
///
/// # Errors
/// [`VocabError`] naming `path` when the bytes are not such a tokenizer.
pub fn parse_target(path: &Path, bytes: &[u8]) -> Result<TargetTokenizer, VocabError> {
    let name = path.to_string_lossy();
    if name.ends_with(".model") {
        return load_spm(path, bytes);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| load_err(path, "not UTF-8 text"))?;
    if name.ends_with(".json") {
        load_json(path, text)
    } else {
        load_vocab_txt(path, text)
    }
}

/// The vocabulary of a GGUF (`tokenizer.ggml.*`) as a target tokenizer.
///
/// `llama` (SentencePiece BPE) and `t5` (Unigram) vocabularies become the SentencePiece
/// model they were converted from (pieces, scores, types, special ids, normaliser keys with
/// llama.cpp's defaults), so they load, trim and write back like a `.model`; `bert`
/// becomes its WordPiece `vocab.txt`; `gpt2` becomes a byte-level BPE with the GGUF's
/// merges and the pre-tokenizer its `tokenizer.ggml.pre` names (see [`super::pretok`]).
fn load_gguf_vocab(path: &Path) -> Result<TargetTokenizer, VocabError> {
    target_from_gguf(&crate::gguf::GgufFile::open(path)?)
}

/// The vocabulary of an opened GGUF as a target tokenizer (see [`load_target`]).
///
/// # Errors
/// [`VocabError`] for a malformed or unsupported vocabulary.
pub fn target_from_gguf(f: &crate::gguf::GgufFile) -> Result<TargetTokenizer, VocabError> {
    let path = f.path();
    let v = super::vocab_from_gguf(f)?;
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
    let v = super::vocab_from_gguf(f)?;
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

fn spm_proto(
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
fn load_gguf_bpe(
    path: &Path,
    f: &crate::gguf::GgufFile,
    vocab: Vocab,
) -> Result<TargetTokenizer, VocabError> {
    use tokenizers::models::bpe::BPE;
    let pre_name = f
        .opt_str(crate::gguf::keys::TOKENIZER_PRE)?
        .unwrap_or("default")
        .to_owned();
    let known = super::pretok::by_gguf_name(&pre_name).ok_or_else(|| VocabError::UnsupportedKind {
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
    let (pre, decoder) = super::pretok::build(known).map_err(|e| load_err(path, e))?;
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

fn load_err(path: &Path, e: impl std::fmt::Display) -> VocabError {
    VocabError::Load {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

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

fn load_spm(path: &Path, bytes: &[u8]) -> Result<TargetTokenizer, VocabError> {
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
fn spm_bpe_reference(
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

/// Special roles of a `tokenizers` vocabulary, from the usual special-token spellings.
fn roles_by_name(vocab: &[Token]) -> BTreeMap<Role, u32> {
    let mut roles = BTreeMap::new();
    for (id, t) in vocab.iter().enumerate() {
        let role = match t.text.as_slice() {
            b"[CLS]" => Role::Cls,
            b"[SEP]" => Role::Sep,
            b"[PAD]" | b"<pad>" => Role::Pad,
            b"[UNK]" | b"<unk>" => Role::Unk,
            b"[MASK]" | b"<mask>" => Role::Mask,
            b"<s>" | b"<|begin_of_text|>" | b"<bos>" => Role::Bos,
            b"</s>" | b"<|end_of_text|>" | b"<eos>" | b"<|endoftext|>" => Role::Eos,
            _ => continue,
        };
        roles.entry(role).or_insert(id as u32);
    }
    roles
}

fn load_json(path: &Path, text: &str) -> Result<TargetTokenizer, VocabError> {
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
        ModelWrapper::BPE(b) if super::pretok::is_byte_level(&tk) => {
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

fn load_vocab_txt(path: &Path, text: &str) -> Result<TargetTokenizer, VocabError> {
    // One piece per line, id = line number, as `WordPiece::from_file` reads it.
    let map = WordPiece::read_bytes(text.as_bytes()).map_err(|e| load_err(path, e))?;
    let wp = WordPiece::builder()
        .vocab(map)
        .build()
        .map_err(|e| load_err(path, e))?;
    let mut tk = Tokenizer::new(ModelWrapper::WordPiece(wp));
    tk.with_normalizer(Some(BertNormalizer::new(true, true, None, true)))
        .map_err(|e| load_err(path, e))?;
    tk.with_pre_tokenizer(Some(BertPreTokenizer));
    let mut tokens: Vec<Token> = text
        .lines()
        .map(|l| Token {
            text: l.trim_end_matches('\r').as_bytes().to_vec(),
            score: 0.0,
            kind: TokKind::Normal,
        })
        .collect();
    let roles = roles_by_name(&tokens);
    for (role, &id) in &roles {
        tokens[id as usize].kind = if *role == Role::Unk {
            TokKind::Unknown
        } else {
            TokKind::Control
        };
    }
    let vocab = Vocab {
        kind: TokenizerKind::WordPiece,
        tokens,
        roles,
    };
    Ok(TargetTokenizer::new(path, vocab, tk))
}
