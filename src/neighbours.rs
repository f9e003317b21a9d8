//! Stage 5 (neighbours): aux vectors of targets and anchors -> sparsemax supports and weights.
//!
//! Not implemented in this version: [`stage`] returns [`crate::Error::NotImplemented`].

/// Reports that this stage is not implemented yet.
///
/// # Errors
/// Always [`crate::Error::NotImplemented`].
pub fn stage() -> crate::Result<()> {
    Err(crate::Error::NotImplemented {
        stage: "neighbours",
    })
}
