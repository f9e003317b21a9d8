//! Stage 8 (tokenizer part): `tokenizer.ggml.*` metadata for the target vocabulary, written
//! so that llama.cpp tokenizes exactly like the reference tokenizer (docs/method.md section 7).

use crate::error::VocabError;
use crate::gguf::{keys, Array, GgufHeader, Kv, Value};

use super::pretok;
use super::target::TargetTokenizer;
use super::{Role, TokKind, TokenizerKind, Vocab};

/// Choices that are not in the target tokenizer itself.
#[derive(Clone, Debug, Default)]
pub struct TokenizerMetaOptions {
    /// Add BOS when llama.cpp tokenizes (the source model's habit, when the target has a bos).
    pub add_bos: bool,
    /// Add EOS when llama.cpp tokenizes.
    pub add_eos: bool,
    /// Keep `tokenizer.chat_template` (only meaningful with the chat tokens appended).
    pub keep_chat_template: bool,
    /// Target id of the end-of-turn token, when a chat token plays that role.
    pub eot: Option<u32>,
}

fn str_array(items: impl Iterator<Item = Vec<u8>>) -> Value {
    Value::Array(Array::strings(items))
}

/// The piece as llama.cpp's `bert` (WPM) tokenizer expects it: word-initial pieces get the
/// phantom space `▁`, continuation pieces lose their `##` (as llama.cpp's converter writes).
fn wpm_piece(text: &[u8], kind: TokKind) -> Vec<u8> {
    if kind != TokKind::Normal {
        return text.to_vec();
    }
    match text.strip_prefix(b"##") {
        Some(rest) if !rest.is_empty() => rest.to_vec(),
        _ => {
            let mut v = "\u{2581}".as_bytes().to_vec();
            v.extend_from_slice(text);
            v
        }
    }
}

/// The `tokenizer.ggml.pre` value for a byte-level BPE target: the GGUF's own name when it
/// was loaded from one and still splits the same way, else the known name that matches.
fn byte_level_pre(tk: &TargetTokenizer) -> Result<&str, VocabError> {
    let known = pretok::match_known(&tk.reference).map_err(|why| VocabError::NoGgufEquivalent {
        what: format!("{}: {why}", tk.path.display()),
    })?;
    Ok(tk
        .gguf_pre
        .as_deref()
        .filter(|p| pretok::by_gguf_name(p).is_some_and(|k| std::ptr::eq(k, known)))
        .unwrap_or(known.name))
}

/// The merges of a byte-level BPE reference, by rank, as GGUF spells them (`"left right"`).
fn bpe_merges(tk: &TargetTokenizer) -> Result<Vec<Vec<u8>>, VocabError> {
    let bad = |why: String| VocabError::NoGgufEquivalent {
        what: format!("{}: {why}", tk.path.display()),
    };
    let pairs = pretok::merges(&tk.reference).map_err(bad)?;
    let mut out = Vec::with_capacity(pairs.len());
    for (i, (a, b)) in pairs.iter().enumerate() {
        if a.is_empty() || a.contains(' ') || b.contains(' ') {
            return Err(bad(format!(
                "merge {i} ({a:?}, {b:?}) cannot be written as GGUF's \"left right\" (a piece holds a space)"
            )));
        }
        out.push(format!("{a} {b}").into_bytes());
    }
    Ok(out)
}

/// Replaces the tokenizer keys of `header` (a copy of the source's) with the target's.
///
/// `vocab` is the final target vocabulary (trimmed, chat tokens appended); `tk` supplies the
/// normaliser settings. New keys take the place of the first old `tokenizer.` key, so the
/// rest of the file keeps its order.
///
/// # Errors
/// [`VocabError::NoGgufEquivalent`] for a tokenizer llama.cpp cannot reproduce here.
pub fn write_tokenizer_meta(
    header: &mut GgufHeader,
    arch: &str,
    vocab: &Vocab,
    tk: &TargetTokenizer,
    opts: &TokenizerMetaOptions,
) -> Result<(), VocabError> {
    let mut kvs: Vec<Kv> = Vec::new();
    let mut put = |k: &str, v: Value| kvs.push(Kv::new(k, v));
    let pre = match vocab.kind {
        TokenizerKind::ByteLevelBpe => byte_level_pre(tk)?,
        _ => "default",
    };
    put(keys::TOKENIZER_MODEL, Value::str(vocab.kind.gguf_model()));
    put(keys::TOKENIZER_PRE, Value::str(pre));
    let texts: Box<dyn Iterator<Item = Vec<u8>>> = match vocab.kind {
        TokenizerKind::WordPiece => {
            Box::new(vocab.tokens.iter().map(|t| wpm_piece(&t.text, t.kind)))
        }
        _ => Box::new(vocab.tokens.iter().map(|t| t.text.clone())),
    };
    put(keys::TOKENIZER_TOKENS, str_array(texts));
    put(
        keys::TOKENIZER_SCORES,
        Value::Array(Array::f32s(vocab.tokens.iter().map(|t| t.score))),
    );
    put(
        keys::TOKENIZER_TOKEN_TYPE,
        Value::Array(Array::i32s(vocab.tokens.iter().map(|t| t.kind.to_gguf()))),
    );
    match vocab.kind {
        TokenizerKind::Unigram => {
            let spm = tk.spm.as_ref().ok_or_else(|| VocabError::NoGgufEquivalent {
                what: format!("{}: a Unigram tokenizer.json is not supported yet for GGUF output; pass the SentencePiece .model", tk.path.display()),
            })?;
            put(
                "tokenizer.ggml.add_space_prefix",
                Value::Bool(u8::from(spm.add_dummy_prefix)),
            );
            put(
                "tokenizer.ggml.remove_extra_whitespaces",
                Value::Bool(u8::from(spm.remove_extra_whitespaces)),
            );
            if !spm.precompiled_charsmap.is_empty() {
                put(
                    "tokenizer.ggml.precompiled_charsmap",
                    Value::Array(Array::u8s(&spm.precompiled_charsmap)),
                );
            }
        }
        TokenizerKind::WordPiece => {}
        TokenizerKind::SentencePieceBpe => {
            // llama.cpp's `llama` tokenizer escapes spaces and adds the dummy prefix, and
            // nothing else: a model that normalises more cannot be reproduced.
            let spm = tk.spm.as_ref().ok_or_else(|| VocabError::NoGgufEquivalent {
                what: format!("{}: a SentencePiece-style BPE tokenizer.json (no ByteLevel step) is not supported for GGUF output; pass the SentencePiece .model it came from", tk.path.display()),
            })?;
            if !spm.precompiled_charsmap.is_empty()
                || spm.remove_extra_whitespaces
                || !spm.escape_whitespaces
            {
                return Err(VocabError::NoGgufEquivalent {
                    what: format!(
                        "{}: this SentencePiece BPE model normalises text (charsmap {} bytes, remove_extra_whitespaces {}, escape_whitespaces {}), which llama.cpp's `llama` tokenizer does not do; tokenization would differ",
                        tk.path.display(),
                        spm.precompiled_charsmap.len(),
                        spm.remove_extra_whitespaces,
                        spm.escape_whitespaces
                    ),
                });
            }
            put(
                "tokenizer.ggml.add_space_prefix",
                Value::Bool(u8::from(spm.add_dummy_prefix)),
            );
        }
        TokenizerKind::ByteLevelBpe => {
            put(
                "tokenizer.ggml.merges",
                str_array(bpe_merges(tk)?.into_iter()),
            );
        }
    }
    for role in Role::ALL {
        let id = match role {
            // llama.cpp's WPM uses bos as [CLS] and sep as [SEP].
            Role::Bos if vocab.kind == TokenizerKind::WordPiece => {
                vocab.roles.get(&Role::Cls).or(vocab.roles.get(&Role::Bos))
            }
            _ => vocab.roles.get(&role),
        };
        if let (Some(key), Some(&id)) = (role.gguf_key(), id) {
            put(key, Value::U32(id));
        }
    }
    if let Some(eot) = opts.eot {
        put("tokenizer.ggml.eot_token_id", Value::U32(eot));
    }
    put(keys::TOKENIZER_ADD_BOS, Value::Bool(u8::from(opts.add_bos)));
    put(keys::TOKENIZER_ADD_EOS, Value::Bool(u8::from(opts.add_eos)));

    let chat = header
        .kvs
        .iter()
        .find(|kv| kv.key == keys::TOKENIZER_CHAT_TEMPLATE.as_bytes())
        .cloned();
    let first = header
        .kvs
        .iter()
        .position(|kv| kv.key.starts_with(b"tokenizer."))
        .unwrap_or(header.kvs.len());
    header.kvs.retain(|kv| !kv.key.starts_with(b"tokenizer."));
    let at = first.min(header.kvs.len());
    if let (true, Some(c)) = (opts.keep_chat_template, chat) {
        kvs.push(c);
    }
    header.kvs.splice(at..at, kvs);
    let vs = keys::vocab_size(arch);
    if header.kvs.iter().any(|kv| kv.key == vs.as_bytes()) {
        header.set(&vs, Value::U32(vocab.len() as u32));
    }
    Ok(())
}
