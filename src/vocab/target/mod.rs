//! The target (PLM) tokenizer: its vocabulary and an equivalent `tokenizers` object that
//! serves as the reference tokenizer (what llama.cpp must reproduce after the transfer).
//!
//! Accepted: a SentencePiece `.model` (Unigram), a Hugging Face `tokenizer.json`
//! (Unigram, WordPiece, BPE), a BERT `vocab.txt`, or a folder holding one of them.

mod gguf;
mod json;
mod spm;
mod vocab_txt;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sentencepiece_model::SentencePieceModel;
use tokenizers::Tokenizer;

use crate::error::VocabError;

use super::{Role, Token, Vocab};
use gguf::load_gguf_vocab;
use json::load_json;
use spm::load_spm;
use vocab_txt::load_vocab_txt;

pub use gguf::{sentencepiece_proto, target_from_gguf};
pub(crate) use spm::spm_reference;

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

pub(super) fn load_err(path: &Path, e: impl std::fmt::Display) -> VocabError {
    VocabError::Load {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Special roles of a `tokenizers` vocabulary, from the usual special-token spellings.
pub(super) fn roles_by_name(vocab: &[Token]) -> BTreeMap<Role, u32> {
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
