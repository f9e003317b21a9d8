//! Stage 8 (header): the output GGUF's header. The tokenizer metadata is rewritten for
//! the target vocabulary, `token_embd` (and `output`) get the new row count and type,
//! the `salt.*` provenance keys are set, and every other key and tensor is the source's.

use crate::error::Error;
use crate::ggml::GgmlType;
use crate::gguf::{keys, GgufHeader, TensorSource, Value};
use crate::provenance::key;
use crate::source::SourceModel;
use crate::vocab::{self, TargetVocab, TokenizerMetaOptions};

/// The `salt.*` keys of one output, written in this order.
#[derive(Clone, Debug)]
pub struct Provenance {
    /// `salt.method`.
    pub method: String,
    /// `salt.source`, `salt.source_sha256`.
    pub source: (String, String),
    /// `salt.target_tokenizer`, `salt.target_tokenizer_sha256`.
    pub tokenizer: (String, String),
    /// `salt.trim_to`, `salt.trim_to_sha256`.
    pub trim_to: Option<(String, String)>,
    /// `salt.aux`.
    pub aux: String,
    /// `salt.rcond`.
    pub rcond: f64,
    /// `salt.seed`.
    pub seed: u64,
    /// `salt.shared`, `salt.regressed`, `salt.random`, `salt.specials`.
    pub counts: [usize; 4],
    /// `salt.token_class`: one [`crate::provenance::RowClass`] code per token.
    pub token_class: Vec<u8>,
    /// `salt.output_method`, when the output rows had their own rule.
    pub output_method: Option<String>,
    /// `salt.trim_scripts`: the scripts whose every piece a trim kept (`--keep-script`),
    /// comma-joined; absent when none.
    pub trim_scripts: Option<String>,
}

/// The output header for `target`, with embedding tensors of `types` and the
/// provenance `prov`.
///
/// # Errors
/// [`Error`] when the tokenizer metadata cannot be written.
pub fn output_header(
    source: &SourceModel,
    target: &TargetVocab,
    types: (GgmlType, Option<GgmlType>),
    prov: &Provenance,
) -> Result<GgufHeader, Error> {
    let f = &source.file;
    let mut header = GgufHeader::from_file(f);
    // The end-of-turn token where the output has it: an appended chat token, or, in a
    // trimmed own vocabulary, the kept source token.
    let eot = f.opt_u64("tokenizer.ggml.eot_token_id")?.and_then(|s| {
        if target.own {
            let classes = &target.alignment.classes;
            return classes
                .iter()
                .position(|c| c.source().map(u64::from) == Some(s))
                .map(|t| t as u32);
        }
        target
            .chat
            .iter()
            .find(|(_, src)| u64::from(*src) == s)
            .map(|(t, _)| *t)
    });
    let add_bos = f.opt_bool(keys::TOKENIZER_ADD_BOS)?.unwrap_or(false)
        && target.vocab.roles.contains_key(&vocab::Role::Bos);
    let meta = TokenizerMetaOptions {
        add_bos,
        add_eos: false,
        keep_chat_template: target.keeps_template,
        eot,
    };
    vocab::write_tokenizer_meta(
        &mut header,
        &source.arch,
        &target.vocab,
        target.tokenizer(),
        &meta,
    )?;
    let n = target.vocab.len() as u64;
    if source.output_from_embd {
        header.tensors.push(crate::gguf::TensorInfo {
            name: keys::OUTPUT.as_bytes().to_vec(),
            ..source.embd.clone()
        });
    }
    for t in &mut header.tensors {
        if t.name == keys::TOKEN_EMBD.as_bytes() {
            t.dims[1] = n;
            t.ty = types.0;
        } else if t.name == keys::OUTPUT.as_bytes() {
            t.dims[1] = n;
            t.ty = types.1.unwrap_or(t.ty);
        }
    }
    let s = Value::str;
    // general.name says what was made: the source's name and the route or method.
    let what = match &prov.trim_scripts {
        Some(scripts) => format!("{}+{scripts}", prov.method),
        None => prov.method.clone(),
    };
    let name = f.opt_str(keys::GENERAL_NAME)?.unwrap_or(&source.arch);
    header.set(keys::GENERAL_NAME, s(format!("{name} (salt {what})")));
    header.set(key::VERSION, s(env!("CARGO_PKG_VERSION").to_owned()));
    header.set(key::METHOD, s(prov.method.clone()));
    header.set(key::SOURCE, s(prov.source.0.clone()));
    header.set(key::SOURCE_SHA256, s(prov.source.1.clone()));
    header.set(key::TARGET_TOKENIZER, s(prov.tokenizer.0.clone()));
    header.set(key::TARGET_TOKENIZER_SHA256, s(prov.tokenizer.1.clone()));
    if let Some((name, sha)) = &prov.trim_to {
        header.set(key::TRIM_TO, s(name.clone()));
        header.set(key::TRIM_TO_SHA256, s(sha.clone()));
    }
    header.set(key::AUX, s(prov.aux.clone()));
    header.set(key::RCOND, Value::F64(prov.rcond));
    header.set(key::SEED, Value::U64(prov.seed));
    for (key, v) in [key::SHARED, key::REGRESSED, key::RANDOM, key::SPECIALS]
        .into_iter()
        .zip(prov.counts)
    {
        header.set(key, Value::U64(v as u64));
    }
    if source.output_from_embd {
        header.set(key::UNTIED, Value::Bool(1));
    }
    if let Some(m) = &prov.output_method {
        header.set(key::OUTPUT_METHOD, s(m.clone()));
    }
    if let Some(scripts) = &prov.trim_scripts {
        header.set(key::TRIM_SCRIPTS, s(scripts.clone()));
    }
    header.set(
        key::TOKEN_CLASS,
        Value::Array(crate::gguf::Array::u8s(&prov.token_class)),
    );
    Ok(header)
}

/// The data of every tensor of `header`: the new embedding bytes, the source's for the
/// rest (copied from the mapped file when written).
#[must_use]
pub fn tensor_sources<'a>(
    source: &'a SourceModel,
    header: &GgufHeader,
    embd: Vec<u8>,
    output: Option<Vec<u8>>,
) -> Vec<TensorSource<'a>> {
    let (mut embd, mut output) = (Some(embd), output);
    header
        .tensors
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if t.name == keys::TOKEN_EMBD.as_bytes() {
                TensorSource::Bytes(embd.take().unwrap_or_default())
            } else if t.name == keys::OUTPUT.as_bytes() {
                TensorSource::Bytes(output.take().unwrap_or_default())
            } else {
                TensorSource::Copy(&source.file, i)
            }
        })
        .collect()
}
