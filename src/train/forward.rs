//! The forward pass over one window, keeping what the backward pass needs.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::model::{Body, Hparams, Layer};
use super::ops::{add_bias, gated, rms_norm, Rope};

/// What one layer's backward pass reads.
pub struct LayerCache {
    /// The layer's input (the residual stream).
    pub x: Vec<f32>,
    /// Queries and keys before their per-head norm (gemma3).
    pub q_pre: Option<Vec<f32>>,
    /// Keys before their per-head norm.
    pub k_pre: Option<Vec<f32>>,
    /// Queries and keys as attended (normed, rotated), and values.
    pub q: Vec<f32>,
    /// Keys.
    pub k: Vec<f32>,
    /// Values.
    pub v: Vec<f32>,
    /// Attention probabilities, `[heads x t x t]`.
    pub p: Vec<f32>,
    /// The attention block's output before its post-norm (gemma3).
    pub attn_pre: Option<Vec<f32>>,
    /// The residual stream after attention.
    pub x1: Vec<f32>,
    /// Gate and up projections.
    pub gate: Vec<f32>,
    /// Up.
    pub up: Vec<f32>,
    /// The feed-forward output before its post-norm (gemma3).
    pub ffn_pre: Option<Vec<f32>>,
}

/// One window's forward pass.
pub struct Forward {
    /// Tokens in the window.
    pub t: usize,
    /// Per layer.
    pub layers: Vec<LayerCache>,
    /// The residual stream after the last layer.
    pub x_last: Vec<f32>,
    /// The final norm's output (`[t x d]`), the output rows' input.
    pub h: Vec<f32>,
}

/// The rotary tables of each layer for `t` positions (local and global bases differ).
pub fn ropes(hp: &Hparams, t: usize) -> Vec<Rope> {
    (0..hp.n_layer)
        .map(|il| {
            let base = if hp.is_swa(il) {
                hp.rope_base_swa
            } else {
                hp.rope_base
            };
            Rope::new(hp.rope_kind(), hp.head_dim, base, t)
        })
        .collect()
}

/// Runs `body` on the input rows `x0` (`[t x d]`, already scaled).
#[must_use]
pub fn forward(body: &Body, ropes: &[Rope], x0: Vec<f32>, t: usize) -> Forward {
    let mut x = x0;
    let mut layers = Vec::with_capacity(body.layers.len());
    for (il, l) in body.layers.iter().enumerate() {
        let (cache, next) = layer_forward(&body.hp, l, &ropes[il], il, x, t);
        layers.push(cache);
        x = next;
    }
    let h = rms_norm(&x, &body.out_norm, body.hp.eps);
    Forward {
        t,
        layers,
        x_last: x,
        h,
    }
}

fn layer_forward(
    hp: &Hparams,
    l: &Layer,
    rope: &Rope,
    il: usize,
    x: Vec<f32>,
    t: usize,
) -> (LayerCache, Vec<f32>) {
    let (hd, nh, nkv) = (hp.head_dim, hp.n_head, hp.n_head_kv);
    let hn = rms_norm(&x, &l.attn_norm, hp.eps);
    let mut q = l.wq.forward(&hn, t);
    let mut k = l.wk.forward(&hn, t);
    let mut v = l.wv.forward(&hn, t);
    for (y, b) in [(&mut q, &l.bq), (&mut k, &l.bk), (&mut v, &l.bv)] {
        if let Some(b) = b {
            add_bias(y, b);
        }
    }
    let (mut q_pre, mut k_pre) = (None, None);
    if let (Some(qn), Some(kn)) = (&l.q_norm, &l.k_norm) {
        let qq = rms_norm(&q, qn, hp.eps);
        let kk = rms_norm(&k, kn, hp.eps);
        q_pre = Some(std::mem::replace(&mut q, qq));
        k_pre = Some(std::mem::replace(&mut k, kk));
    }
    rope.apply(&mut q, nh, false);
    rope.apply(&mut k, nkv, false);
    let window = hp.is_swa(il).then(|| hp.swa.map_or(usize::MAX, |s| s.0));
    let (o, p) = attention(&q, &k, &v, t, nh, nkv, hd, hp.attn_scale, window);
    let mut attn = l.wo.forward(&o, t);
    let attn_pre = l.attn_post_norm.as_ref().map(|w| {
        let normed = rms_norm(&attn, w, hp.eps);
        std::mem::replace(&mut attn, normed)
    });
    let x1: Vec<f32> = x.iter().zip(&attn).map(|(a, b)| a + b).collect();
    let h2 = rms_norm(&x1, &l.ffn_norm, hp.eps);
    let gate = l.w_gate.forward(&h2, t);
    let up = l.w_up.forward(&h2, t);
    let a = gated(hp.act(), &gate, &up);
    let mut f = l.w_down.forward(&a, t);
    let ffn_pre = l.ffn_post_norm.as_ref().map(|w| {
        let normed = rms_norm(&f, w, hp.eps);
        std::mem::replace(&mut f, normed)
    });
    let x2: Vec<f32> = x1.iter().zip(&f).map(|(a, b)| a + b).collect();
    let cache = LayerCache {
        x,
        q_pre,
        k_pre,
        q,
        k,
        v,
        p,
        attn_pre,
        x1,
        gate,
        up,
        ffn_pre,
    };
    (cache, x2)
}

/// Whether query `i` may see key `j`: causal, and within `window` positions if given
/// (llama.cpp masks a key `window` or more positions back).
fn visible(i: usize, j: usize, window: Option<usize>) -> bool {
    j <= i && window.is_none_or(|w| i - j < w)
}

/// A head's columns of a `[t x heads*hd]` buffer.
pub fn head_cols(buf: &[f32], t: usize, heads: usize, hd: usize, h: usize) -> MatRef<'_, f32> {
    MatRef::from_row_major_slice(buf, t, heads * hd).subcols(h * hd, hd)
}

/// Causal attention of every head: the output `[t x nh*hd]` and the probabilities.
#[allow(clippy::too_many_arguments)]
fn attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    t: usize,
    nh: usize,
    nkv: usize,
    hd: usize,
    scale: f32,
    window: Option<usize>,
) -> (Vec<f32>, Vec<f32>) {
    let group = nh / nkv;
    let per_head: Vec<(Vec<f32>, Vec<f32>)> = (0..nh)
        .into_par_iter()
        .map(|h| {
            let g = h / group;
            let mut s = vec![0f32; t * t];
            matmul(
                MatMut::from_row_major_slice_mut(&mut s, t, t),
                Accum::Replace,
                head_cols(q, t, nh, hd, h),
                head_cols(k, t, nkv, hd, g).transpose(),
                scale,
                Par::Seq,
            );
            for (i, row) in s.chunks_mut(t).enumerate() {
                let max = (0..t)
                    .filter(|&j| visible(i, j, window))
                    .map(|j| row[j])
                    .fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0f64;
                for (j, r) in row.iter_mut().enumerate() {
                    *r = if visible(i, j, window) {
                        (*r - max).exp()
                    } else {
                        0.0
                    };
                    sum += f64::from(*r);
                }
                let inv = (1.0 / sum) as f32;
                row.iter_mut().for_each(|r| *r *= inv);
            }
            let mut o = vec![0f32; t * hd];
            matmul(
                MatMut::from_row_major_slice_mut(&mut o, t, hd),
                Accum::Replace,
                MatRef::from_row_major_slice(&s, t, t),
                head_cols(v, t, nkv, hd, g),
                1.0,
                Par::Seq,
            );
            (o, s)
        })
        .collect();
    let mut out = vec![0f32; t * nh * hd];
    let mut probs = Vec::with_capacity(nh * t * t);
    for (h, (o, p)) in per_head.into_iter().enumerate() {
        for (i, row) in o.chunks(hd).enumerate() {
            out[i * nh * hd + h * hd..][..hd].copy_from_slice(row);
        }
        probs.extend_from_slice(&p);
    }
    (out, probs)
}
