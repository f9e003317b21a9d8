//! The trained rows (input and output, untied) and one window's loss and gradients.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::backward::backward;
use super::forward::forward;
use super::model::Body;
use super::ops::Rope;
use crate::codec::dequantize_rows;
use crate::error::Error;
use crate::gguf::{keys, GgufFile};

/// The input and output rows, `[v x d]` each, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Rows {
    /// Width.
    pub d: usize,
    /// Vocabulary size.
    pub v: usize,
    /// Input embedding rows (unscaled, as stored).
    pub input: Vec<f32>,
    /// Output rows.
    pub output: Vec<f32>,
}

/// The trained rows' starting point: `token_embd`, and `output` (or, for a tied model, a
/// copy of `token_embd`: the trained model is untied).
///
/// # Errors
/// A missing tensor, or one that cannot be dequantized.
pub fn start_rows(f: &GgufFile) -> Result<Rows, Error> {
    let embd = f.require_tensor(keys::TOKEN_EMBD)?;
    let (d, v) = (embd.row_width() as usize, embd.n_rows() as usize);
    let input = dequantize_rows(f, embd, 0, v)?;
    let output = match f.tensor(keys::OUTPUT) {
        Some(o) => dequantize_rows(f, o, 0, o.n_rows() as usize)?,
        None => input.clone(),
    };
    Ok(Rows {
        d,
        v,
        input,
        output,
    })
}

/// One window's summed loss and the gradients of the summed loss.
pub struct WindowGrad {
    /// Sum of the next-token negative log-likelihoods (nats).
    pub nll: f64,
    /// Positions scored.
    pub n: usize,
    /// Gradient of the input rows (`[v x d]`; rows of absent tokens are zero).
    pub input: Vec<f32>,
    /// Gradient of the output rows (`[v x d]`), when asked for.
    pub output: Option<Vec<f32>>,
}

/// The scaled input rows of `tokens`: the body's input.
fn embed(body: &Body, rows: &Rows, tokens: &[u32]) -> Vec<f32> {
    let (d, s) = (rows.d, body.hp.embd_scale);
    tokens
        .iter()
        .flat_map(|&tk| {
            rows.input[tk as usize * d..][..d]
                .iter()
                .map(move |x| x * s)
        })
        .collect()
}

/// Logits `[n x v]` of the hidden states `h` (`[n x d]`).
fn logits(rows: &Rows, h: &[f32], n: usize) -> Vec<f32> {
    let mut z = vec![0f32; n * rows.v];
    matmul(
        MatMut::from_row_major_slice_mut(&mut z, n, rows.v),
        Accum::Replace,
        MatRef::from_row_major_slice(h, n, rows.d),
        MatRef::from_row_major_slice(&rows.output, rows.v, rows.d).transpose(),
        1.0,
        Par::rayon(0),
    );
    z
}

/// Turns each logit row into softmax minus the one-hot target (the gradient of its NLL)
/// and returns the summed NLL.
fn softmax_grad(z: &mut [f32], v: usize, targets: &[u32]) -> f64 {
    z.par_chunks_mut(v)
        .zip(targets.par_iter())
        .map(|(row, &y)| {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f64 = row.iter().map(|x| f64::from(*x - max).exp()).sum();
            let lse = f64::from(max) + sum.ln();
            let nll = lse - f64::from(row[y as usize]);
            for x in row.iter_mut() {
                *x = (f64::from(*x) - lse).exp() as f32;
            }
            row[y as usize] -= 1.0;
            nll
        })
        .collect::<Vec<f64>>()
        .iter()
        .sum()
}

/// The logits `[t x v]` at every position of `tokens`.
#[must_use]
pub fn window_logits(body: &Body, ropes: &[Rope], rows: &Rows, tokens: &[u32]) -> Vec<f32> {
    let t = tokens.len();
    let fwd = forward(body, ropes, embed(body, rows, tokens), t);
    logits(rows, &fwd.h, t)
}

/// The summed NLL of `tokens[first..]`, each predicted from the tokens before it.
#[must_use]
pub fn window_nll(
    body: &Body,
    ropes: &[Rope],
    rows: &Rows,
    tokens: &[u32],
    first: usize,
) -> (f64, usize) {
    let t = tokens.len();
    let fwd = forward(body, ropes, embed(body, rows, tokens), t);
    let n = t - first;
    let mut z = logits(rows, &fwd.h[(first - 1) * rows.d..(t - 1) * rows.d], n);
    (softmax_grad(&mut z, rows.v, &tokens[first..]), n)
}

/// The summed NLL of `tokens[first..]` and its gradients with respect to the input rows
/// and, with `outputs`, the output rows.
#[must_use]
pub fn window_grad(
    body: &Body,
    ropes: &[Rope],
    rows: &Rows,
    tokens: &[u32],
    first: usize,
    outputs: bool,
) -> WindowGrad {
    let (t, d, v) = (tokens.len(), rows.d, rows.v);
    let fwd = forward(body, ropes, embed(body, rows, tokens), t);
    let n = t - first;
    let hs = &fwd.h[(first - 1) * d..(t - 1) * d];
    let mut dz = logits(rows, hs, n);
    let nll = softmax_grad(&mut dz, v, &tokens[first..]);
    // Output rows: dU = dZ^T H (only when they are trained); the hidden states: dH = dZ U.
    let output = outputs.then(|| {
        let mut output = vec![0f32; v * d];
        matmul(
            MatMut::from_row_major_slice_mut(&mut output, v, d),
            Accum::Replace,
            MatRef::from_row_major_slice(&dz, n, v).transpose(),
            MatRef::from_row_major_slice(hs, n, d),
            1.0,
            Par::rayon(0),
        );
        output
    });
    let mut dh = vec![0f32; t * d];
    matmul(
        MatMut::from_row_major_slice_mut(&mut dh[(first - 1) * d..(t - 1) * d], n, d),
        Accum::Replace,
        MatRef::from_row_major_slice(&dz, n, v),
        MatRef::from_row_major_slice(&rows.output, v, d),
        1.0,
        Par::rayon(0),
    );
    drop(dz);
    let dx = backward(body, ropes, &fwd, &dh);
    // Input rows: scatter-add in position order (deterministic), undoing nothing: the
    // embedding scale multiplies the row, so it multiplies its gradient too.
    let mut input = vec![0f32; v * d];
    let s = body.hp.embd_scale;
    for (p, &tk) in tokens.iter().enumerate() {
        for (g, x) in input[tk as usize * d..][..d]
            .iter_mut()
            .zip(&dx[p * d..][..d])
        {
            *g += x * s;
        }
    }
    WindowGrad {
        nll,
        n,
        input,
        output,
    }
}
