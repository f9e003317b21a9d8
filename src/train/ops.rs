//! The pieces of a decoder layer, each with its backward: RMS norm, rotary positions, the
//! gated activations and the products with frozen weights. Activations are row-major
//! `[tokens x width]` f32 buffers; weights are row-major `[out x in]`, as ggml stores a
//! `[in, out]` tensor, so a layer's product is `y = x W^T` and its input gradient `dx = dy W`.
//!
//! Only gradients with respect to activations are formed: the body is frozen, so no
//! weight gradient is ever needed. Every parallel loop splits by rows or heads, never a
//! sum, so the results do not depend on the thread count.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

/// A frozen dense weight, dequantized to f32.
pub struct Weight {
    /// `[rows x cols]` row-major (`rows` outputs, `cols` inputs).
    pub w: Vec<f32>,
    /// Outputs.
    pub rows: usize,
    /// Inputs.
    pub cols: usize,
}

impl Weight {
    fn view(&self) -> MatRef<'_, f32> {
        MatRef::from_row_major_slice(&self.w, self.rows, self.cols)
    }

    /// `x W^T` for `x` of `[t x cols]`: `[t x rows]`.
    pub fn forward(&self, x: &[f32], t: usize) -> Vec<f32> {
        let mut y = vec![0f32; t * self.rows];
        matmul(
            MatMut::from_row_major_slice_mut(&mut y, t, self.rows),
            Accum::Replace,
            MatRef::from_row_major_slice(x, t, self.cols),
            self.view().transpose(),
            1.0,
            Par::rayon(0),
        );
        y
    }

    /// Adds `dy W` (`dy` of `[t x rows]`) into `dx` of `[t x cols]`.
    pub fn backward_into(&self, dy: &[f32], t: usize, dx: &mut [f32]) {
        matmul(
            MatMut::from_row_major_slice_mut(dx, t, self.cols),
            Accum::Add,
            MatRef::from_row_major_slice(dy, t, self.rows),
            self.view(),
            1.0,
            Par::rayon(0),
        );
    }
}

/// Adds `bias` to every row of `y`.
pub fn add_bias(y: &mut [f32], bias: &[f32]) {
    y.par_chunks_mut(bias.len()).for_each(|row| {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    });
}

/// RMS norm of each `w.len()`-wide row of `x` (ggml's `rms_norm` then a product with `w`).
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32) -> Vec<f32> {
    let n = w.len();
    let mut y = vec![0f32; x.len()];
    y.par_chunks_mut(n)
        .zip(x.par_chunks(n))
        .for_each(|(yr, xr)| {
            let r = inv_rms(xr, eps);
            for ((o, v), g) in yr.iter_mut().zip(xr).zip(w) {
                *o = v * r * g;
            }
        });
    y
}

fn inv_rms(x: &[f32], eps: f32) -> f32 {
    let ms = x.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>() / x.len() as f64;
    (1.0 / (ms + f64::from(eps)).sqrt()) as f32
}

/// The input gradient of [`rms_norm`] at `x`, given the output gradient `dy`.
pub fn rms_norm_backward(x: &[f32], w: &[f32], eps: f32, dy: &[f32]) -> Vec<f32> {
    let n = w.len();
    let mut dx = vec![0f32; x.len()];
    dx.par_chunks_mut(n)
        .zip(x.par_chunks(n).zip(dy.par_chunks(n)))
        .for_each(|(dr, (xr, gr))| {
            let r = f64::from(inv_rms(xr, eps));
            // y_i = x_i r w_i, r = (mean x^2 + eps)^-1/2, so
            // dx_i = r w_i dy_i - x_i r^3 (sum_j w_j dy_j x_j) / n.
            let dot: f64 = xr
                .iter()
                .zip(gr)
                .zip(w)
                .map(|((x, g), w)| f64::from(*x) * f64::from(*g) * f64::from(*w))
                .sum();
            let c = r * r * r * dot / n as f64;
            for (((d, x), g), w) in dr.iter_mut().zip(xr).zip(gr).zip(w) {
                *d = (r * f64::from(*g) * f64::from(*w) - f64::from(*x) * c) as f32;
            }
        });
    dx
}

/// How rotary positions pair a head's dimensions (llama.cpp's rope types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeKind {
    /// Adjacent pairs `(2i, 2i+1)`: llama (whose converter permutes Q and K to match).
    Normal,
    /// Halves `(i, i + n/2)`: qwen2, gemma3 (GPT-NeoX).
    Neox,
}

/// Rotary positions for one layer: cosines and sines per position and pair.
pub struct Rope {
    kind: RopeKind,
    head_dim: usize,
    /// `[t x head_dim/2]`.
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl Rope {
    /// The tables for positions `0..t` with frequency base `base`.
    #[must_use]
    pub fn new(kind: RopeKind, head_dim: usize, base: f32, t: usize) -> Self {
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity(t * half);
        let mut sin = Vec::with_capacity(t * half);
        for p in 0..t {
            for i in 0..half {
                // As ggml: theta_i = p * base^(-2i/n), in f32.
                let theta = p as f32 * base.powf(-2.0 * i as f32 / head_dim as f32);
                cos.push(theta.cos());
                sin.push(theta.sin());
            }
        }
        Self {
            kind,
            head_dim,
            cos,
            sin,
        }
    }

    /// Rotates every head of `x` (`[t x heads*head_dim]`) in place; `inverse` rotates back,
    /// which is also the backward of the forward rotation (a rotation's transpose).
    pub fn apply(&self, x: &mut [f32], heads: usize, inverse: bool) {
        let (hd, half) = (self.head_dim, self.head_dim / 2);
        let sign = if inverse { -1.0 } else { 1.0 };
        x.par_chunks_mut(heads * hd)
            .enumerate()
            .for_each(|(p, row)| {
                let (c, s) = (&self.cos[p * half..][..half], &self.sin[p * half..][..half]);
                for head in row.chunks_mut(hd) {
                    for i in 0..half {
                        let (a, b) = match self.kind {
                            RopeKind::Normal => (2 * i, 2 * i + 1),
                            RopeKind::Neox => (i, i + half),
                        };
                        let (x0, x1, sn) = (head[a], head[b], sign * s[i]);
                        head[a] = x0 * c[i] - x1 * sn;
                        head[b] = x0 * sn + x1 * c[i];
                    }
                }
            });
    }
}

/// The gate's nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// `x sigmoid(x)`: llama, qwen2.
    Silu,
    /// GELU, tanh form (ggml's `gelu`): gemma3.
    Gelu,
}

const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const GELU_C: f32 = 0.044_715;

impl Act {
    /// The value and the derivative at `x`.
    #[must_use]
    pub fn eval(self, x: f32) -> (f32, f32) {
        match self {
            Self::Silu => {
                let s = 1.0 / (1.0 + (-x).exp());
                (x * s, s * (1.0 + x * (1.0 - s)))
            }
            Self::Gelu => {
                let u = SQRT_2_OVER_PI * x * (1.0 + GELU_C * x * x);
                let t = u.tanh();
                let du = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * x * x);
                (
                    0.5 * x * (1.0 + t),
                    0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du,
                )
            }
        }
    }
}

/// `act(gate) * up`, elementwise.
pub fn gated(act: Act, gate: &[f32], up: &[f32]) -> Vec<f32> {
    gate.par_iter()
        .zip(up.par_iter())
        .map(|(g, u)| act.eval(*g).0 * u)
        .collect()
}

/// The gradients of [`gated`] with respect to `gate` and `up`, given `da`.
pub fn gated_backward(act: Act, gate: &[f32], up: &[f32], da: &[f32]) -> (Vec<f32>, Vec<f32>) {
    gate.par_iter()
        .zip(up.par_iter())
        .zip(da.par_iter())
        .map(|((g, u), d)| {
            let (a, da_dg) = act.eval(*g);
            (d * u * da_dg, d * a)
        })
        .unzip()
}
