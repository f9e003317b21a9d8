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
use crate::neighbours::select_rows;
use crate::progress::{Reporter, Stage};
use crate::regression::RegressionInput;

pub use crate::regression::centred_weights;

/// Needs the neighbours and the PLM table.
pub const NEEDS: Needs = Needs {
    neighbours: true,
    plm: true,
};

/// The centred-SALT row of every query of the neighbour set.
///
/// # Errors
/// [`Error::MissingInput`] without neighbours or PLM rows; the regression's errors;
/// [`Error::Cancelled`].
pub fn init(input: &InitInput<'_>, rep: &mut Reporter<'_>) -> Result<NewRows, Error> {
    let (set, rows) = input.require_neighbours(Method::SaltCentred)?;
    let plm = input.plm.ok_or(Error::MissingInput {
        method: Method::SaltCentred.name(),
        what: "the PLM's embedding table",
        fix: "give a PLM folder with embeddings, or --plm-embeddings FILE[:TENSOR]",
    })?;
    rep.message(
        Stage::Initialise,
        &format!("centred regression of {} tokens", set.queries.len()),
    );
    let inp = RegressionInput {
        e: &select_rows(&set.queries, plm.dim, &plm.data),
        anchors_t: &select_rows(&set.anchors, plm.dim, &plm.data),
        h_t: plm.dim,
        anchors_s: &rows.embd,
        anchors_out: rows.output.as_deref(),
        h_s: input.h_s,
        rcond: input.rcond,
        affine: true,
    };
    let r = input
        .device
        .regress(&inp, &set.nb, &mut rep.ticker(Stage::Initialise))?
        .ok_or(Error::Cancelled)?;
    let supports = NewRows::supports_of(set, |q| {
        r.w[set.nb.offsets[q]..set.nb.offsets[q + 1]].to_vec()
    });
    Ok(NewRows {
        ids: set.queries.clone(),
        embd: r.embd,
        output: r.output,
        supports,
        anchors: set.anchors.len(),
        solves: r.paths,
    })
}
