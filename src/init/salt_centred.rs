//! `--method salt-centred`: SALT's regression in centred coordinates, an affine map.
//!
//! SALT's rows are short: the weights w of e · pinv(A) sum to about 0.25 on the Korean
//! demo, so a row keeps a quarter of what its anchors' source rows have in common (a
//! median norm of 0.31 against 1.03 for copied rows). Here the support's mean PLM row μ
//! is taken out first: w_c = (e - μ) · pinv(A - 1μ), and the row is
//! μ_B + w_c (B - 1μ_B), i.e. the weights w = w_c + (1 - Σ w_c) / k · 1, which sum to one.
//! The same neighbours as `salt`; the same exact solver (G in f64, eigenvalues below
//! rcond² λ_max dropped: A - 1μ has rank at most k - 1).

use rayon::prelude::*;

use super::{InitInput, Method, Needs, NewRows};
use crate::error::Error;
use crate::progress::{Reporter, Stage};
use crate::regression::solve_weights;

/// Needs the neighbours and the PLM table.
pub const NEEDS: Needs = Needs {
    neighbours: true,
    plm: true,
};

/// Affine weights of `e` on the rows `idx` of `[n x h]` `table`.
pub fn centred_weights(table: &[f32], idx: &[u32], e: &[f32], h: usize, rcond: f64) -> Vec<f64> {
    let k = idx.len();
    let mut mu = vec![0f64; h];
    for &i in idx {
        for (m, x) in mu
            .iter_mut()
            .zip(&table[i as usize * h..(i as usize + 1) * h])
        {
            *m += f64::from(*x) / k as f64;
        }
    }
    let local: Vec<f32> = idx
        .iter()
        .flat_map(|&i| {
            table[i as usize * h..(i as usize + 1) * h]
                .iter()
                .zip(&mu)
                .map(|(x, m)| (f64::from(*x) - m) as f32)
        })
        .collect();
    let ec: Vec<f32> = e
        .iter()
        .zip(&mu)
        .map(|(x, m)| (f64::from(*x) - m) as f32)
        .collect();
    let ids: Vec<u32> = (0..k as u32).collect();
    let (wc, _) = solve_weights(&local, &ids, &ec, h, rcond);
    let rest = (1.0 - wc.iter().sum::<f64>()) / k as f64;
    wc.into_iter().map(|w| w + rest).collect()
}

/// One token's weights, `token_embd` row and `output` row.
type TokenRows = (Vec<f64>, Vec<f32>, Option<Vec<f32>>);

/// `Σ w_j rows[idx_j]` in f64, for `[n x width]` `rows`.
fn combine(w: &[f64], idx: &[u32], rows: &[f32], width: usize) -> Vec<f32> {
    let mut acc = vec![0f64; width];
    for (&i, &wi) in idx.iter().zip(w) {
        for (a, x) in acc
            .iter_mut()
            .zip(&rows[i as usize * width..(i as usize + 1) * width])
        {
            *a += wi * f64::from(*x);
        }
    }
    acc.into_iter().map(|v| v as f32).collect()
}

/// The centred-SALT row of every query of the neighbour set.
///
/// # Errors
/// [`Error::MissingInput`] without neighbours or PLM rows.
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
    let anchors_t = crate::neighbours::select_rows(&set.anchors, plm.dim, &plm.data);
    let h_s = input.h_s;
    let per: Vec<TokenRows> = (0..set.queries.len())
        .into_par_iter()
        .map(|q| {
            let (idx, _) = set.nb.row(q);
            let e = plm.row(set.queries[q] as usize);
            let w = centred_weights(&anchors_t, idx, e, plm.dim, input.rcond);
            let embd = combine(&w, idx, &rows.embd, h_s);
            let out = rows.output.as_deref().map(|b| combine(&w, idx, b, h_s));
            (w, embd, out)
        })
        .collect();
    rep.step(Stage::Initialise, per.len(), per.len())?;
    let supports = NewRows::supports_of(set, |q| per[q].0.iter().map(|w| *w as f32).collect());
    let mut out = NewRows {
        ids: set.queries.clone(),
        output: rows.output.as_ref().map(|_| Vec::new()),
        supports,
        anchors: set.anchors.len(),
        ..NewRows::default()
    };
    for (_, e, o) in per {
        out.embd.extend(e);
        if let (Some(dst), Some(o)) = (out.output.as_mut(), o) {
            dst.extend(o);
        }
    }
    if let Some((i, v)) = out.embd.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(crate::error::RegressionError::NonFinite {
            query: i / h_s.max(1),
            value: *v,
        }
        .into());
    }
    Ok(out)
}
