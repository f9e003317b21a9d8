//! `salt inspect`: what a GGUF model holds, as a plain struct (printed as text or JSON).
//! Reads only the header; no tensor data is touched.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::GgufError;
use crate::gguf::keys;
use crate::gguf::{GgufFile, TensorInfo};

/// A tensor's type and shape.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TensorSummary {
    /// ggml type name.
    #[serde(rename = "type")]
    pub ty: String,
    /// ggml `ne` (innermost first): `[n_embd, n_vocab]` for embeddings.
    pub shape: Vec<u64>,
}

impl From<&TensorInfo> for TensorSummary {
    fn from(t: &TensorInfo) -> Self {
        Self {
            ty: t.ty.to_string(),
            shape: t.dims.clone(),
        }
    }
}

/// The facts `salt inspect` reports. JSON keys are the field names (README documents them).
#[derive(Clone, Debug, Serialize)]
pub struct ModelSummary {
    /// The file.
    pub path: String,
    /// GGUF version.
    pub version: u32,
    /// Data alignment.
    pub alignment: u64,
    /// `general.architecture`.
    pub architecture: String,
    /// `general.name`, if set.
    pub name: Option<String>,
    /// `{arch}.embedding_length`.
    pub n_embd: Option<u64>,
    /// `{arch}.block_count`.
    pub n_layer: Option<u64>,
    /// `tokenizer.ggml.model`.
    pub tokenizer_model: Option<String>,
    /// `tokenizer.ggml.pre`.
    pub tokenizer_pre: Option<String>,
    /// Length of `tokenizer.ggml.tokens`.
    pub n_vocab: Option<usize>,
    /// Special token ids by role (bos, eos, unk, pad, sep, mask, eot) when set.
    pub special_ids: BTreeMap<String, u64>,
    /// `tokenizer.ggml.add_bos_token`.
    pub add_bos: Option<bool>,
    /// `tokenizer.ggml.add_eos_token`.
    pub add_eos: Option<bool>,
    /// Whether `tokenizer.chat_template` is present.
    pub chat_template: bool,
    /// `token_embd.weight`.
    pub token_embd: Option<TensorSummary>,
    /// `output.weight`, when the LM head is untied.
    pub output: Option<TensorSummary>,
    /// True when there is no `output.weight` (the LM head reuses `token_embd`).
    pub tied: bool,
    /// Number of metadata keys.
    pub n_kv: usize,
    /// Number of tensors.
    pub n_tensors: usize,
    /// Number of files (more than 1 for a split model, opened from its first file).
    pub n_files: usize,
    /// Tensor count per ggml type.
    pub tensor_types: BTreeMap<String, usize>,
    /// Bytes of tensor data per ggml type.
    pub tensor_bytes: BTreeMap<String, u64>,
}

/// Summarises a parsed GGUF file.
///
/// # Errors
/// [`GgufError`] when `general.architecture` is missing or a known key has the wrong type.
pub fn inspect(f: &GgufFile) -> Result<ModelSummary, GgufError> {
    let arch = f.get_str(keys::GENERAL_ARCHITECTURE)?.to_owned();
    let mut special_ids = BTreeMap::new();
    for (role, key) in keys::SPECIAL_ID_KEYS {
        if let Some(id) = f.opt_u64(key)? {
            special_ids.insert(role.to_owned(), id);
        }
    }
    let mut tensor_types = BTreeMap::new();
    let mut tensor_bytes = BTreeMap::new();
    for t in &f.tensors {
        *tensor_types.entry(t.ty.to_string()).or_insert(0) += 1;
        *tensor_bytes.entry(t.ty.to_string()).or_insert(0) += t.n_bytes();
    }
    let output = f.tensor(keys::OUTPUT).map(TensorSummary::from);
    Ok(ModelSummary {
        path: f.path().display().to_string(),
        version: f.version,
        alignment: f.alignment,
        name: f.opt_str(keys::GENERAL_NAME)?.map(str::to_owned),
        n_embd: f.opt_u64(&keys::embedding_length(&arch))?,
        n_layer: f.opt_u64(&keys::block_count(&arch))?,
        tokenizer_model: f.opt_str(keys::TOKENIZER_MODEL)?.map(str::to_owned),
        tokenizer_pre: f.opt_str(keys::TOKENIZER_PRE)?.map(str::to_owned),
        n_vocab: f
            .get(keys::TOKENIZER_TOKENS)
            .and_then(|v| v.as_array())
            .map(crate::gguf::Array::len),
        special_ids,
        add_bos: f.opt_bool(keys::TOKENIZER_ADD_BOS)?,
        add_eos: f.opt_bool(keys::TOKENIZER_ADD_EOS)?,
        chat_template: f.get(keys::TOKENIZER_CHAT_TEMPLATE).is_some(),
        token_embd: f.tensor(keys::TOKEN_EMBD).map(TensorSummary::from),
        tied: output.is_none(),
        output,
        n_kv: f.kvs.len(),
        n_tensors: f.tensors.len(),
        n_files: f.n_parts(),
        tensor_types,
        tensor_bytes,
        architecture: arch,
    })
}

impl std::fmt::Display for ModelSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        let tensor = |t: &Option<TensorSummary>| {
            t.as_ref()
                .map_or_else(|| "-".to_owned(), |t| format!("{} {:?}", t.ty, t.shape))
        };
        writeln!(f, "{}", self.path)?;
        let files = if self.n_files > 1 {
            format!(" in {} files", self.n_files)
        } else {
            String::new()
        };
        writeln!(
            f,
            "  gguf v{}, alignment {}, {} keys, {} tensors{files}",
            self.version, self.alignment, self.n_kv, self.n_tensors
        )?;
        writeln!(
            f,
            "  architecture  {}{}",
            self.architecture,
            self.name
                .as_ref()
                .map_or(String::new(), |n| format!(" ({n})"))
        )?;
        writeln!(f, "  n_embd        {}", opt(self.n_embd))?;
        writeln!(f, "  n_layer       {}", opt(self.n_layer))?;
        writeln!(
            f,
            "  tokenizer     {} / {}, {} tokens",
            self.tokenizer_model.as_deref().unwrap_or("-"),
            self.tokenizer_pre.as_deref().unwrap_or("-"),
            self.n_vocab.map_or_else(|| "-".into(), |n| n.to_string())
        )?;
        let ids: Vec<String> = self
            .special_ids
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        writeln!(f, "  special ids   {}", ids.join(" "))?;
        let b = |v: Option<bool>| v.map_or("-".to_owned(), |v| v.to_string());
        writeln!(
            f,
            "  add_bos {}  add_eos {}  chat template {}",
            b(self.add_bos),
            b(self.add_eos),
            if self.chat_template { "yes" } else { "no" }
        )?;
        writeln!(f, "  token_embd    {}", tensor(&self.token_embd))?;
        writeln!(
            f,
            "  output        {}",
            if self.tied {
                "tied to token_embd".to_owned()
            } else {
                tensor(&self.output)
            }
        )?;
        let types: Vec<String> = self
            .tensor_types
            .iter()
            .map(|(k, n)| {
                format!(
                    "{k}: {n} ({:.1} MiB)",
                    self.tensor_bytes[k] as f64 / 1048576.0
                )
            })
            .collect();
        write!(f, "  tensor types  {}", types.join(", "))
    }
}
