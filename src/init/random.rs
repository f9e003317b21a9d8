//! `--method random`: no rows of its own; every new token gets the seeded normal row of
//! docs/method.md section 5 when the tensors are assembled (see [`crate::assemble`]).

use super::{InitInput, Needs, NewRows};
use crate::error::Error;
use crate::progress::Reporter;

/// Needs nothing beyond the alignment.
pub const NEEDS: Needs = Needs {
    neighbours: false,
    plm: false,
};

/// No rows: the assembler draws them.
///
/// # Errors
/// Never.
pub fn init(_: &InitInput<'_>, _: &mut Reporter<'_>) -> Result<NewRows, Error> {
    Ok(NewRows::default())
}
