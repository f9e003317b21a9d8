//! Stage 4 (auxiliary vectors): fastText model -> one vector per target token (or none).
//!
//! Not implemented in this version: [`stage`] returns [`crate::Error::NotImplemented`].

/// Reports that this stage is not implemented yet.
///
/// # Errors
/// Always [`crate::Error::NotImplemented`].
pub fn stage() -> crate::Result<()> {
    Err(crate::Error::NotImplemented { stage: "auxvec" })
}
