//! Metadata key and tensor name constants, and typed getters whose errors name the key.

use super::{GgufFile, Value};
use crate::error::GgufError;

/// `general.architecture`
pub const GENERAL_ARCHITECTURE: &str = "general.architecture";
/// `general.alignment`
pub const GENERAL_ALIGNMENT: &str = "general.alignment";
/// `general.name`
pub const GENERAL_NAME: &str = "general.name";
/// `tokenizer.ggml.model`
pub const TOKENIZER_MODEL: &str = "tokenizer.ggml.model";
/// `tokenizer.ggml.pre`
pub const TOKENIZER_PRE: &str = "tokenizer.ggml.pre";
/// `tokenizer.ggml.tokens`
pub const TOKENIZER_TOKENS: &str = "tokenizer.ggml.tokens";
/// `tokenizer.ggml.scores`
pub const TOKENIZER_SCORES: &str = "tokenizer.ggml.scores";
/// `tokenizer.ggml.token_type`
pub const TOKENIZER_TOKEN_TYPE: &str = "tokenizer.ggml.token_type";
/// `tokenizer.ggml.merges`
pub const TOKENIZER_MERGES: &str = "tokenizer.ggml.merges";
/// `tokenizer.ggml.add_bos_token`
pub const TOKENIZER_ADD_BOS: &str = "tokenizer.ggml.add_bos_token";
/// `tokenizer.ggml.add_eos_token`
pub const TOKENIZER_ADD_EOS: &str = "tokenizer.ggml.add_eos_token";
/// `tokenizer.chat_template`
pub const TOKENIZER_CHAT_TEMPLATE: &str = "tokenizer.chat_template";
/// Special-token id keys, by role.
pub const SPECIAL_ID_KEYS: [(&str, &str); 7] = [
    ("bos", "tokenizer.ggml.bos_token_id"),
    ("eos", "tokenizer.ggml.eos_token_id"),
    ("unk", "tokenizer.ggml.unknown_token_id"),
    ("pad", "tokenizer.ggml.padding_token_id"),
    ("sep", "tokenizer.ggml.seperator_token_id"),
    ("mask", "tokenizer.ggml.mask_token_id"),
    ("eot", "tokenizer.ggml.eot_token_id"),
];
/// The input embedding tensor.
pub const TOKEN_EMBD: &str = "token_embd.weight";
/// The untied LM head.
pub const OUTPUT: &str = "output.weight";
/// gguf-split: this file's index, from 0 (u16).
pub const SPLIT_NO: &str = "split.no";
/// gguf-split: how many files hold the model (u16).
pub const SPLIT_COUNT: &str = "split.count";
/// gguf-split: how many tensors all the files hold together (i32).
pub const SPLIT_TENSORS_COUNT: &str = "split.tensors.count";

/// `{arch}.embedding_length`
#[must_use]
pub fn embedding_length(arch: &str) -> String {
    format!("{arch}.embedding_length")
}
/// `{arch}.block_count`
#[must_use]
pub fn block_count(arch: &str) -> String {
    format!("{arch}.block_count")
}
/// `{arch}.vocab_size`
#[must_use]
pub fn vocab_size(arch: &str) -> String {
    format!("{arch}.vocab_size")
}

impl GgufFile {
    fn required(&self, key: &str) -> Result<&Value, GgufError> {
        self.get(key).ok_or_else(|| GgufError::MissingKey {
            path: self.path().to_path_buf(),
            key: key.into(),
        })
    }

    fn wrong(&self, key: &str, expected: &'static str, v: &Value) -> GgufError {
        GgufError::WrongKeyType {
            path: self.path().to_path_buf(),
            key: key.into(),
            expected,
            found: v.value_type().to_string(),
        }
    }

    /// A required UTF-8 string.
    ///
    /// # Errors
    /// Missing key, another type, or bytes that are not UTF-8.
    pub fn get_str(&self, key: &str) -> Result<&str, GgufError> {
        let v = self.required(key)?;
        let b = v.as_bytes().ok_or_else(|| self.wrong(key, "a string", v))?;
        std::str::from_utf8(b).map_err(|_| self.wrong(key, "a UTF-8 string", v))
    }

    /// An optional UTF-8 string.
    ///
    /// # Errors
    /// Present with another type.
    pub fn opt_str(&self, key: &str) -> Result<Option<&str>, GgufError> {
        if self.get(key).is_none() {
            return Ok(None);
        }
        self.get_str(key).map(Some)
    }

    /// An optional unsigned integer of any stored width.
    ///
    /// # Errors
    /// Present but not an integer, or negative / too large.
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>, GgufError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let i = v.as_int().ok_or_else(|| self.wrong(key, "an integer", v))?;
        u64::try_from(i)
            .map(Some)
            .map_err(|_| self.wrong(key, "a non-negative integer", v))
    }

    /// A required unsigned integer.
    ///
    /// # Errors
    /// Missing, or as [`GgufFile::opt_u64`].
    pub fn get_u64(&self, key: &str) -> Result<u64, GgufError> {
        self.required(key)?;
        self.opt_u64(key).map(|v| v.unwrap_or_default())
    }

    /// An optional boolean.
    ///
    /// # Errors
    /// Present with another type.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, GgufError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        v.as_bool()
            .map(Some)
            .ok_or_else(|| self.wrong(key, "a bool", v))
    }

    /// The length of a required array.
    ///
    /// # Errors
    /// Missing, or not an array.
    pub fn array_len(&self, key: &str) -> Result<usize, GgufError> {
        let v = self.required(key)?;
        v.as_array()
            .map(super::Array::len)
            .ok_or_else(|| self.wrong(key, "an array", v))
    }

    /// A required tensor.
    ///
    /// # Errors
    /// [`GgufError::MissingTensor`].
    pub fn require_tensor(&self, name: &str) -> Result<&super::TensorInfo, GgufError> {
        self.tensor(name).ok_or_else(|| GgufError::MissingTensor {
            path: self.path().to_path_buf(),
            tensor: name.into(),
        })
    }
}
