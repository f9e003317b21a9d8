//! Stage 3 (PLM embeddings): PLM directory or file -> [n_target x h_t] f32 table.
//!
//! Not implemented in this version: [`stage`] returns [`crate::Error::NotImplemented`].

/// Reports that this stage is not implemented yet.
///
/// # Errors
/// Always [`crate::Error::NotImplemented`].
pub fn stage() -> crate::Result<()> {
    Err(crate::Error::NotImplemented { stage: "plm" })
}
