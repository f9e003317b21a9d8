//! Stage 2: vocabularies and their alignment.
//!
//! Input: the source GGUF's tokenizer metadata and the target (PLM) tokenizer.
//! Output: a [`Vocab`] for each side and an [`Alignment`]: for every target token, whether
//! it is shared with a source token (same canonical key, docs/method.md section 1), matched by
//! special role, or new. This stage does not look at embeddings.

mod align;
mod gguf_meta;
mod keys;
pub mod pretok;
mod scripts;
mod select;
mod source;
mod target;
mod trim;

pub use align::{
    align, align_identity, append_chat_tokens, Alignment, AlignmentStats, TargetClass,
};
pub use gguf_meta::{write_tokenizer_meta, TokenizerMetaOptions};
pub use keys::{byte_piece, canonical_key, gpt2_byte_decoder};
pub use scripts::{is_basic, Script, SCRIPTS};
pub use select::{
    own_specials, prepare_target, select_target, TargetSelection, TargetVocab, TrimSpec,
};
pub use source::vocab_from_gguf;
pub use target::{
    load_target, parse_target, sentencepiece_proto, target_from_gguf, SpmNormalizer,
    TargetTokenizer,
};
pub use trim::{
    segmentation_change, trim_own, trim_to_text, SegmentationChange, TrimKeep, TrimReport,
};

use std::collections::BTreeMap;

/// A token's type, numbered as GGUF's `tokenizer.ggml.token_type` (and SentencePiece).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokKind {
    /// 1: a normal piece.
    Normal,
    /// 2: the unknown token.
    Unknown,
    /// 3: a control token (bos, eos, chat markers).
    Control,
    /// 4: user-defined (always matched as a whole).
    UserDefined,
    /// 5: unused.
    Unused,
    /// 6: a byte-fallback token `<0xNN>`.
    Byte,
}

impl TokKind {
    /// From the GGUF / SentencePiece type number (unknown numbers count as normal).
    #[must_use]
    pub fn from_gguf(t: i64) -> Self {
        match t {
            2 => Self::Unknown,
            3 => Self::Control,
            4 => Self::UserDefined,
            5 => Self::Unused,
            6 => Self::Byte,
            _ => Self::Normal,
        }
    }

    /// The GGUF type number.
    #[must_use]
    pub fn to_gguf(self) -> i32 {
        match self {
            Self::Normal => 1,
            Self::Unknown => 2,
            Self::Control => 3,
            Self::UserDefined => 4,
            Self::Unused => 5,
            Self::Byte => 6,
        }
    }
}

/// How a vocabulary's pieces are spelled, which decides canonical keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenizerKind {
    /// SentencePiece BPE (`llama` in GGUF): `▁` for spaces, `<0xNN>` byte fallback.
    SentencePieceBpe,
    /// Unigram (`t5` in GGUF): `▁` for spaces.
    Unigram,
    /// Byte-level BPE (`gpt2` in GGUF): GPT-2's bytes-to-unicode alphabet.
    ByteLevelBpe,
    /// WordPiece (`bert` in GGUF): `##` continuation pieces.
    WordPiece,
}

impl TokenizerKind {
    /// From `tokenizer.ggml.model`.
    #[must_use]
    pub fn from_gguf_model(m: &str) -> Option<Self> {
        Some(match m {
            "llama" => Self::SentencePieceBpe,
            "t5" => Self::Unigram,
            "gpt2" => Self::ByteLevelBpe,
            "bert" => Self::WordPiece,
            _ => return None,
        })
    }

    /// The `tokenizer.ggml.model` value.
    #[must_use]
    pub fn gguf_model(self) -> &'static str {
        match self {
            Self::SentencePieceBpe => "llama",
            Self::Unigram => "t5",
            Self::ByteLevelBpe => "gpt2",
            Self::WordPiece => "bert",
        }
    }
}

/// A special-token role. Special tokens match across vocabularies by role, never by text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Beginning of sequence.
    Bos,
    /// End of sequence.
    Eos,
    /// Unknown.
    Unk,
    /// Padding.
    Pad,
    /// Separator.
    Sep,
    /// Classifier (BERT's `[CLS]`).
    Cls,
    /// Mask.
    Mask,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 7] = [
        Role::Bos,
        Role::Eos,
        Role::Unk,
        Role::Pad,
        Role::Sep,
        Role::Cls,
        Role::Mask,
    ];

    /// The role's name (`bos`, ...).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Bos => "bos",
            Self::Eos => "eos",
            Self::Unk => "unk",
            Self::Pad => "pad",
            Self::Sep => "sep",
            Self::Cls => "cls",
            Self::Mask => "mask",
        }
    }

    /// The GGUF key holding this role's id (`cls` has none; llama.cpp uses bos for it).
    #[must_use]
    pub fn gguf_key(self) -> Option<&'static str> {
        Some(match self {
            Self::Bos => "tokenizer.ggml.bos_token_id",
            Self::Eos => "tokenizer.ggml.eos_token_id",
            Self::Unk => "tokenizer.ggml.unknown_token_id",
            Self::Pad => "tokenizer.ggml.padding_token_id",
            Self::Sep => "tokenizer.ggml.seperator_token_id",
            Self::Mask => "tokenizer.ggml.mask_token_id",
            Self::Cls => return None,
        })
    }
}

/// One token: its stored text (raw bytes, in the vocabulary's own spelling), score, type.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// The piece as stored (`▁the`, `Ġthe`, `##ing`, `<0x41>`).
    pub text: Vec<u8>,
    /// Unigram log-probability or BPE rank score (0 when the format has none).
    pub score: f32,
    /// Type.
    pub kind: TokKind,
}

/// A vocabulary: tokens in id order, how they are spelled, and the special roles.
#[derive(Clone, Debug)]
pub struct Vocab {
    /// Spelling convention.
    pub kind: TokenizerKind,
    /// Tokens; the index is the id.
    pub tokens: Vec<Token>,
    /// Special role -> id.
    pub roles: BTreeMap<Role, u32>,
}

impl Vocab {
    /// Number of tokens.
    #[must_use]
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// True when empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The token text as (lossy) UTF-8, for messages and reports.
    #[must_use]
    pub fn text(&self, id: u32) -> String {
        String::from_utf8_lossy(&self.tokens[id as usize].text).into_owned()
    }
}
