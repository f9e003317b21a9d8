//! Stage 2 as the transfer runs it: load the target tokenizer, trim it (optionally),
//! append the source's chat-template tokens, align it to the source.

use std::path::Path;

use super::{
    align, append_chat_tokens, segmentation_change, trim_to_text, write_tokenizer_meta, Alignment,
    SegmentationChange, TargetClass, TargetTokenizer, TokenizerMetaOptions, TrimReport, Vocab,
};
use crate::error::{Error, VocabError};
use crate::gguf::{GgufFile, GgufHeader};
use crate::text::read_text;

/// How to trim the target vocabulary (SALT.md section 6b).
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
    let (t, old_ids, r) = trim_to_text(&full, &text, spec.min_count, &spec.keep)?;
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
///
/// # Errors
/// [`VocabError`] when llama.cpp could not tokenize like the reference (checked before
/// any compute), the trimming texts fail, or no token is shared.
pub fn prepare_target(
    source: &GgufFile,
    arch: &str,
    source_vocab: &Vocab,
    full: TargetTokenizer,
    trim: Option<&TrimSpec<'_>>,
    keep_chat: Option<bool>,
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
    let full_size = full.vocab.len();
    let selection = select_target(full, trim, log)?;
    let template = source
        .opt_str(crate::gguf::keys::TOKENIZER_CHAT_TEMPLATE)?
        .map(str::to_owned);
    let mut vocab = selection.tokenizer.vocab.clone();
    let chat = match (&template, keep_chat.unwrap_or(template.is_some())) {
        (Some(tpl), true) => append_chat_tokens(source_vocab, &mut vocab, tpl),
        _ => Vec::new(),
    };
    let alignment = align(source_vocab, &vocab, &chat);
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
    Ok(TargetVocab {
        selection,
        full_size,
        vocab,
        chat,
        alignment,
    })
}
