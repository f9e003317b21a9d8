//! `--method trim` (the trim route): the target vocabulary is the source's own, cut to the
//! pieces a text uses, so every token is a source token and no row is made. This
//! initialiser only checks that: a new token here means the alignment went wrong.

use super::{InitInput, Needs, NewRows};
use crate::error::Error;
use crate::progress::Reporter;

/// Needs nothing: every row is the source's.
pub const NEEDS: Needs = Needs {
    neighbours: false,
    plm: false,
};

/// No rows.
///
/// # Errors
/// [`Error::Route`] naming the first token without a source row.
pub fn init(input: &InitInput<'_>, _: &mut Reporter<'_>) -> Result<NewRows, Error> {
    match input.new_ids.first() {
        None => Ok(NewRows::default()),
        Some(&id) => Err(Error::Route {
            reason: format!(
                "--method trim: target token {id} ({:?}) has no source row",
                input.target.vocab.text(id)
            ),
            fix: "trim keeps the source's own tokenizer: drop --plm, or give --plm the source GGUF",
        }),
    }
}
