//! Stage 9 (evaluation): GGUF + text -> tokenizer parity, perplexity, bits per byte through llama.cpp.
//!
//! Not implemented in this version: [`stage`] returns [`crate::Error::NotImplemented`].

/// Reports that this stage is not implemented yet.
///
/// # Errors
/// Always [`crate::Error::NotImplemented`].
pub fn stage() -> crate::Result<()> {
    Err(crate::Error::NotImplemented { stage: "eval" })
}
