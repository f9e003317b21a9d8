//! `--method salt-centred`: SALT's regression in centred coordinates, an affine map.
//!
//! SALT's rows are short: the weights w of e · pinv(A) sum to about 0.25 on the Korean
//! demo, so a row keeps a quarter of what its anchors' source rows have in common (a
//! median norm of 0.31 against 1.03 for copied rows). Here the support's mean PLM row μ
//! is taken out first: w_c = (e - μ) · pinv(A - 1μ), and the row is
//! μ_B + w_c (B - 1μ_B), i.e. the weights w = w_c + (1 - Σ w_c) / k · 1, which sum to one.
//! The same neighbours as `salt`; the same exact solver (G in f64, eigenvalues below
//! rcond² λ_max dropped: A - 1μ has rank at most k - 1). It runs on the compute device as
//! `salt` does, with the regression's `affine` switch ([`crate::regression`]'s
//! `centred.rs` on the CPU, the same kernels as `salt` on a GPU).

use super::{InitInput, Method, Needs, NewRows};
use crate::error::Error;
use crate::progress::Reporter;

pub use crate::regression::centred_weights;

/// Needs the neighbours and the PLM table.
pub const NEEDS: Needs = Needs {
    neighbours: true,
    plm: true,
};

/// The centred-SALT row of every query of the neighbour set: `salt`'s path with the
/// regression's affine switch.
///
/// # Errors
/// [`Error::MissingInput`] without neighbours or PLM rows; the regression's errors;
/// [`Error::Cancelled`].
pub fn init(input: &InitInput<'_>, rep: &mut Reporter<'_>) -> Result<NewRows, Error> {
    super::salt::regressed(input, rep, Method::SaltCentred)
}
