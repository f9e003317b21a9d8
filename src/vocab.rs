//! Stage 2 (vocabulary alignment): target tokenizer -> canonical keys -> shared / non-shared / byte / special classes.
//!
//! Not implemented in this version: [`stage`] returns [`crate::Error::NotImplemented`].

/// Reports that this stage is not implemented yet.
///
/// # Errors
/// Always [`crate::Error::NotImplemented`].
pub fn stage() -> crate::Result<()> {
    Err(crate::Error::NotImplemented { stage: "vocab" })
}
