//! Stage 7 (assembly): new f32 rows + copied rows -> token_embd / output tensor bytes.
//!
//! Not implemented in this version: [`stage`] returns [`crate::Error::NotImplemented`].

/// Reports that this stage is not implemented yet.
///
/// # Errors
/// Always [`crate::Error::NotImplemented`].
pub fn stage() -> crate::Result<()> {
    Err(crate::Error::NotImplemented { stage: "assemble" })
}
