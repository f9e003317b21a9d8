//! `--method focus` (Dobler and de Melo 2023): new(t) = Σ_j p_j · E_s[src(j)], the
//! sparsemax weights over the same anchors SALT uses, summed in f64.

use super::{InitInput, Method, Needs, NewRows};
use crate::error::Error;
use crate::progress::{Reporter, Stage};

/// Needs the neighbours (no PLM table, unless the auxiliary vectors are the PLM's).
pub const NEEDS: Needs = Needs {
    neighbours: true,
    plm: false,
};

/// `Σ p_j rows[j]` over `(idx, p)`, for `[n x width]` `rows`.
fn mix(idx: &[u32], p: &[f32], rows: &[f32], width: usize) -> Vec<f32> {
    let mut acc = vec![0f64; width];
    for (&a, &w) in idx.iter().zip(p) {
        for (o, x) in acc
            .iter_mut()
            .zip(&rows[a as usize * width..(a as usize + 1) * width])
        {
            *o += f64::from(w) * f64::from(*x);
        }
    }
    acc.into_iter().map(|v| v as f32).collect()
}

/// The FOCUS row of every query of the neighbour set.
///
/// # Errors
/// [`Error::MissingInput`] without neighbours.
pub fn init(input: &InitInput<'_>, rep: &mut Reporter<'_>) -> Result<NewRows, Error> {
    let (set, rows) = input.require_neighbours(Method::Focus)?;
    let h_s = input.h_s;
    let n = set.queries.len();
    let mut out = NewRows {
        ids: set.queries.clone(),
        embd: Vec::with_capacity(n * h_s),
        output: rows.output.as_ref().map(|_| Vec::with_capacity(n * h_s)),
        supports: NewRows::supports_of(set, |q| set.nb.row(q).1.to_vec()),
        anchors: set.anchors.len(),
        ..NewRows::default()
    };
    for q in 0..n {
        let (idx, p) = set.nb.row(q);
        out.embd.extend(mix(idx, p, &rows.embd, h_s));
        if let (Some(o), Some(b)) = (out.output.as_mut(), rows.output.as_deref()) {
            o.extend(mix(idx, p, b, h_s));
        }
    }
    rep.step(Stage::Initialise, n, n)?;
    Ok(out)
}
