//! Stage 6 (regression): neighbours + E_t + E_s -> new rows, w = (A e)ᵀ (A Aᵀ)⁺.
//!
//! Not implemented in this version: [`stage`] returns [`crate::Error::NotImplemented`].

/// Reports that this stage is not implemented yet.
///
/// # Errors
/// Always [`crate::Error::NotImplemented`].
pub fn stage() -> crate::Result<()> {
    Err(crate::Error::NotImplemented {
        stage: "regression",
    })
}
