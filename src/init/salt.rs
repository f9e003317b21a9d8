//! `--method salt` (docs/method.md section 4): new(t) = e · pinv(A) · B for the token's
//! neighbours, solved on the compute device as w = (A e)ᵀ G⁺, row = w B (and w B_out for
//! an untied `output`). See [`crate::regression`].

use super::{InitInput, Method, Needs, NewRows};
use crate::error::Error;
use crate::neighbours::select_rows;
use crate::progress::{Reporter, Stage};
use crate::regression::RegressionInput;

/// Needs the neighbours and the PLM table.
pub const NEEDS: Needs = Needs {
    neighbours: true,
    plm: true,
};

/// The SALT row of every query of the neighbour set.
///
/// # Errors
/// [`Error::MissingInput`] without neighbours or PLM rows; the regression's errors;
/// [`Error::Cancelled`].
pub fn init(input: &InitInput<'_>, rep: &mut Reporter<'_>) -> Result<NewRows, Error> {
    regressed(input, rep, Method::Salt)
}

/// The rows of `method` (`salt`, or `salt-centred`: the regression's affine switch) for
/// every query of the neighbour set, solved on the compute device.
///
/// # Errors
/// As [`init`].
pub(super) fn regressed(
    input: &InitInput<'_>,
    rep: &mut Reporter<'_>,
    method: Method,
) -> Result<NewRows, Error> {
    let (set, rows) = input.require_neighbours(method)?;
    let plm = input.plm.ok_or(Error::MissingInput {
        method: method.name(),
        what: "the PLM's embedding table",
        fix: "give a PLM folder with embeddings, or --plm-embeddings FILE[:TENSOR]",
    })?;
    let affine = method == Method::SaltCentred;
    let kind = if affine {
        "centred regression"
    } else {
        "regression"
    };
    rep.message(
        Stage::Initialise,
        &format!("{kind} of {} tokens", set.queries.len()),
    );
    let inp = RegressionInput {
        e: &select_rows(&set.queries, plm.dim, &plm.data),
        anchors_t: &select_rows(&set.anchors, plm.dim, &plm.data),
        h_t: plm.dim,
        anchors_s: &rows.embd,
        anchors_out: rows.output.as_deref(),
        h_s: input.h_s,
        rcond: input.rcond,
        affine,
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
