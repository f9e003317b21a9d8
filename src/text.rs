//! Text inputs (training, trimming and held-out texts): read once, checked the same way
//! by every stage that takes one.

use std::path::Path;

use crate::error::VocabError;

/// Reads a UTF-8 text file for trimming or training; refuses empty or binary files.
///
/// # Errors
/// [`VocabError::Load`] naming the file.
pub fn read_text(path: &Path) -> Result<String, VocabError> {
    const FIX: &str = "pass a plain UTF-8 text file in the target language";
    let bad = |what: &str| VocabError::Load {
        path: path.to_path_buf(),
        reason: format!("{what}; {FIX}"),
    };
    let bytes = std::fs::read(path).map_err(|e| VocabError::Load {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let text = String::from_utf8(bytes).map_err(|_| bad("not UTF-8 text"))?;
    if text.contains('\0') {
        return Err(bad("not UTF-8 text but binary content (NUL bytes)"));
    }
    if text.trim().is_empty() {
        return Err(bad("the text is empty"));
    }
    Ok(text)
}
