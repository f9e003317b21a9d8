//! Stage 2 as the transfer runs it: load the target tokenizer, trim it (optionally),
//! append the source's chat-template tokens, align it to the source.

use std::collections::BTreeSet;
use std::path::Path;

use super::{
    align, align_identity, append_chat_tokens, segmentation_change, trim_own, trim_to_text,
    write_tokenizer_meta, Alignment, SegmentationChange, TargetClass, TargetTokenizer,
    TokenizerMetaOptions, TrimReport, Vocab,
};
use crate::error::{Error, VocabError};
use crate::gguf::{GgufFile, GgufHeader};
use crate::text::read_text;

/// How to trim the target vocabulary (docs/method.md section 6b).
#[derive(Clone, Debug)]
pub struct TrimSpec<'a> {
    /// The target-language text whose pieces are kept.
    pub text: &'a Path,
    /// Keep pieces used at least this often.
    pub min_count: usize,
    /// Pieces kept besides those the text uses.
    pub keep: super::TrimKeep,
    /// Held-out text for the segmentation-change report.
    pub heldout: Option<&'a Path>,
    /// The trim route (a model's own vocabulary): the special tokens kept, by id (roles
    /// are always kept). `None` keeps every special token, as a PLM's trim does.
    pub specials: Option<BTreeSet<u32>>,
}

/// The target tokenizer after the optional trim, as `transfer` and `overlap` use it.
#[derive(Debug)]
pub struct TargetSelection {
    /// The (trimmed) target tokenizer.
    pub tokenizer: TargetTokenizer,
    /// For each of its ids, the id in the untrimmed tokenizer (PLM embedding row).
    pub old_ids: Vec<u32>,
    /// What trimming kept, when it ran.
    pub trim: Option<TrimReport>,
    /// Held-out segmentation changes, when a held-out text was given.
    pub segmentation: Option<SegmentationChange>,
}

/// Trims `full` to `spec`'s text when given (else keeps it whole).
///
/// # Errors
/// [`VocabError`] for unreadable texts or a failing reference tokenizer.
pub fn select_target(
    full: TargetTokenizer,
    spec: Option<&TrimSpec<'_>>,
    log: &mut dyn FnMut(&str),
) -> Result<TargetSelection, VocabError> {
    let Some(spec) = spec else {
        return Ok(TargetSelection {
            old_ids: (0..full.vocab.len() as u32).collect(),
            tokenizer: full,
            trim: None,
            segmentation: None,
        });
    };
    let text = read_text(spec.text)?;
    log(&format!(
        "trimming {} target pieces to {}",
        full.vocab.len(),
        spec.text.display()
    ));
    let (t, old_ids, r) = match &spec.specials {
        Some(named) => trim_own(&full, &text, spec.min_count, &spec.keep, named)?,
        None => trim_to_text(&full, &text, spec.min_count, &spec.keep)?,
    };
    let segmentation = match spec.heldout {
        Some(h) => {
            let held = read_text(h)?;
            let lines: Vec<&str> = held.lines().collect();
            Some(segmentation_change(&full, &t, &lines)?)
        }
        None => None,
    };
    Ok(TargetSelection {
        tokenizer: t,
        old_ids,
        trim: Some(r),
        segmentation,
    })
}

/// The target side of a transfer: the selected tokenizer, the final vocabulary (chat
/// tokens appended) and its alignment to the source.
#[derive(Debug)]
pub struct TargetVocab {
    /// The (trimmed) tokenizer and what trimming did.
    pub selection: TargetSelection,
    /// Untrimmed tokenizer size (rows of the PLM table).
    pub full_size: usize,
    /// The output vocabulary: the tokenizer's tokens, then the appended chat tokens.
    pub vocab: Vocab,
    /// Appended chat tokens: (target id, source id).
    pub chat: Vec<(u32, u32)>,
    /// One class per token of `vocab`.
    pub alignment: Alignment,
    /// The source's own tokenizer, trimmed (the trim route).
    pub own: bool,
    /// The output keeps the source's chat template: its control tokens were appended, or
    /// (trim route) kept in place.
    pub keeps_template: bool,
}

impl TargetVocab {
    /// The target tokenizer.
    #[must_use]
    pub fn tokenizer(&self) -> &TargetTokenizer {
        &self.selection.tokenizer
    }

    /// Target ids without a source counterpart, ascending.
    #[must_use]
    pub fn new_ids(&self) -> Vec<u32> {
        (0..self.vocab.len() as u32)
            .filter(|&i| self.alignment.classes[i as usize] == TargetClass::New)
            .collect()
    }
}

/// Builds the target side of a transfer from the full tokenizer `full`.
///
/// `source` and `source_vocab` are the source GGUF and its vocabulary; `keep_chat`
/// (`None`: when the source has a chat template) appends the template's control tokens.
/// `own` says that `full` is the source's own tokenizer (the trim route): every kept token
/// is then aligned to the source token it was, never by key, so every row is copied.
///
/// # Errors
/// [`VocabError`] when llama.cpp could not tokenize like the reference (checked before
/// any compute), the trimming texts fail, or no token is shared.
#[allow(clippy::too_many_arguments)]
pub fn prepare_target(
    source: &GgufFile,
    arch: &str,
    source_vocab: &Vocab,
    full: TargetTokenizer,
    trim: Option<&TrimSpec<'_>>,
    keep_chat: Option<bool>,
    own: bool,
    log: &mut dyn FnMut(&str),
) -> Result<TargetVocab, Error> {
    // A target llama.cpp cannot tokenize like the reference (an unknown byte-level
    // pre-tokenizer, a normalising SentencePiece BPE) is refused before any compute;
    // trimming changes neither.
    write_tokenizer_meta(
        &mut GgufHeader::from_file(source),
        arch,
        &full.vocab,
        &full,
        &TokenizerMetaOptions::default(),
    )?;
    if lowercases(&full.reference) {
        log(&format!(
            "warning: {} lowercases its input (an uncased vocabulary): the adapted model will only ever see and write lowercase text; use a cased vocabulary to keep case",
            full.path.display()
        ));
    }
    let full_size = full.vocab.len();
    let selection = select_target(full, trim, log)?;
    let template = source
        .opt_str(crate::gguf::keys::TOKENIZER_CHAT_TEMPLATE)?
        .map(str::to_owned);
    let mut vocab = selection.tokenizer.vocab.clone();
    let keep_chat = keep_chat.unwrap_or(template.is_some());
    let chat = match (&template, keep_chat) {
        (Some(tpl), true) => append_chat_tokens(source_vocab, &mut vocab, tpl),
        _ => Vec::new(),
    };
    let alignment = if own {
        align_identity(source_vocab, &vocab, &selection.old_ids, &chat)
    } else {
        align(source_vocab, &vocab, &chat)
    };
    if alignment.stats.shared == 0 {
        return Err(VocabError::NoSharedTokens {
            source_gguf: source.path().to_path_buf(),
            target: selection.tokenizer.path.clone(),
        }
        .into());
    }
    let s = &alignment.stats;
    log(&format!(
        "vocabulary: {} target tokens, {} shared, {} special, {} chat, {} new",
        vocab.len(),
        s.shared,
        s.special,
        s.chat,
        s.new
    ));
    let keeps_template = !chat.is_empty() || (own && keep_chat && template.is_some());
    Ok(TargetVocab {
        selection,
        full_size,
        vocab,
        chat,
        alignment,
        own,
        keeps_template,
    })
}

/// Control tokens that mark chat turns in the common templates; llama.cpp recognises the
/// end markers by these texts when a GGUF names no end-of-turn id (Gemma's does not).
const TURN_MARKERS: [&str; 10] = [
    "<start_of_turn>",
    "<end_of_turn>",
    "<|im_start|>",
    "<|im_end|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|endoftext|>",
    "<|end|>",
    "<end_of_utterance>",
];

/// The special tokens the trim route keeps besides the roles: end of turn and end of
/// message (`tokenizer.ggml.eot_token_id`, `eom_token_id`), the control tokens of
/// [`TURN_MARKERS`] and, with `keep_chat`, every control token the chat template names.
///
/// # Errors
/// [`Error`] for a malformed key.
pub fn own_specials(
    source: &GgufFile,
    source_vocab: &Vocab,
    keep_chat: Option<bool>,
) -> Result<BTreeSet<u32>, Error> {
    let mut named = BTreeSet::new();
    for key in ["tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"] {
        if let Some(id) = source.opt_u64(key)? {
            named.insert(u32::try_from(id).unwrap_or(u32::MAX));
        }
    }
    for (id, t) in source_vocab.tokens.iter().enumerate() {
        let marker = std::str::from_utf8(&t.text).is_ok_and(|s| TURN_MARKERS.contains(&s));
        if marker && t.kind != super::TokKind::Normal {
            named.insert(id as u32);
        }
    }
    let template = source.opt_str(crate::gguf::keys::TOKENIZER_CHAT_TEMPLATE)?;
    if let (Some(tpl), true) = (template, keep_chat.unwrap_or(template.is_some())) {
        let mut none = Vocab {
            tokens: Vec::new(),
            ..source_vocab.clone()
        };
        for (_, s) in append_chat_tokens(source_vocab, &mut none, tpl) {
            named.insert(s);
        }
    }
    Ok(named)
}

/// Whether a tokenizer's normaliser lowercases (BERT's uncased vocabularies do).
fn lowercases(tk: &tokenizers::Tokenizer) -> bool {
    use tokenizers::{NormalizedString, Normalizer};
    let Some(n) = tk.get_normalizer() else {
        return false;
    };
    let mut s = NormalizedString::from("Salt AB");
    n.normalize(&mut s).is_ok() && s.get().contains("salt ab")
}
