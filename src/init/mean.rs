//! `--method mean`: every new token gets the mean source row (per tensor).

use super::{InitInput, Needs, NewRows};
use crate::error::Error;
use crate::progress::Reporter;

/// Needs the source's row statistics only.
pub const NEEDS: Needs = Needs {
    neighbours: false,
    plm: false,
};

/// The mean row of `token_embd` (and of `output`) for every new token.
///
/// # Errors
/// Never.
pub fn init(input: &InitInput<'_>, _: &mut Reporter<'_>) -> Result<NewRows, Error> {
    let to_f32 = |m: &[f64]| -> Vec<f32> { m.iter().map(|v| *v as f32).collect() };
    let embd = to_f32(&input.stats.embd.0);
    let output = input.stats.output.as_ref().map(|s| to_f32(&s.0));
    Ok(NewRows::repeated(input.new_ids, &embd, output.as_deref()))
}
