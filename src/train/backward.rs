//! The backward pass through the frozen body: from the gradient at the final norm's
//! output back to the gradient at the input rows, through every layer in reverse.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::forward::{head_cols, Forward, LayerCache};
use super::model::{Body, Hparams, Layer};
use super::ops::{gated_backward, rms_norm_backward, Rope};

/// The gradient at the input rows (`[t x d]`, before the embedding scale is undone),
/// given `dh`, the gradient at the final norm's output.
#[must_use]
pub fn backward(body: &Body, ropes: &[Rope], fwd: &Forward, dh: &[f32]) -> Vec<f32> {
    let hp = &body.hp;
    let mut dx = rms_norm_backward(&fwd.x_last, &body.out_norm, hp.eps, dh);
    for (il, (l, c)) in body.layers.iter().zip(&fwd.layers).enumerate().rev() {
        dx = layer_backward(hp, l, c, &ropes[il], fwd.t, dx);
    }
    dx
}

fn add(a: &mut [f32], b: &[f32]) {
    a.par_iter_mut()
        .zip(b.par_iter())
        .for_each(|(x, y)| *x += y);
}

fn layer_backward(
    hp: &Hparams,
    l: &Layer,
    c: &LayerCache,
    rope: &Rope,
    t: usize,
    dx2: Vec<f32>,
) -> Vec<f32> {
    let (hd, nh, nkv) = (hp.head_dim, hp.n_head, hp.n_head_kv);
    // Feed-forward block: x2 = x1 + post(down(act(gate) * up)).
    let df = match (&l.ffn_post_norm, &c.ffn_pre) {
        (Some(w), Some(pre)) => rms_norm_backward(pre, w, hp.eps, &dx2),
        _ => dx2.clone(),
    };
    let mut da = vec![0f32; t * l.w_down.cols];
    l.w_down.backward_into(&df, t, &mut da);
    let (dgate, dup) = gated_backward(hp.act(), &c.gate, &c.up, &da);
    let mut dh2 = vec![0f32; t * hp.d];
    l.w_gate.backward_into(&dgate, t, &mut dh2);
    l.w_up.backward_into(&dup, t, &mut dh2);
    let mut dx1 = dx2;
    add(
        &mut dx1,
        &rms_norm_backward(&c.x1, &l.ffn_norm, hp.eps, &dh2),
    );
    // Attention block: x1 = x + post(wo(attention(q, k, v))).
    let dattn = match (&l.attn_post_norm, &c.attn_pre) {
        (Some(w), Some(pre)) => rms_norm_backward(pre, w, hp.eps, &dx1),
        _ => dx1.clone(),
    };
    let mut d_o = vec![0f32; t * nh * hd];
    l.wo.backward_into(&dattn, t, &mut d_o);
    let (mut dq, mut dk, dv) = attention_backward(c, &d_o, t, nh, nkv, hd, hp.attn_scale);
    rope.apply(&mut dq, nh, true);
    rope.apply(&mut dk, nkv, true);
    if let (Some(qn), Some(kn), Some(qp), Some(kp)) = (&l.q_norm, &l.k_norm, &c.q_pre, &c.k_pre) {
        dq = rms_norm_backward(qp, qn, hp.eps, &dq);
        dk = rms_norm_backward(kp, kn, hp.eps, &dk);
    }
    let mut dhn = vec![0f32; t * hp.d];
    l.wq.backward_into(&dq, t, &mut dhn);
    l.wk.backward_into(&dk, t, &mut dhn);
    l.wv.backward_into(&dv, t, &mut dhn);
    let mut dx = dx1;
    add(
        &mut dx,
        &rms_norm_backward(&c.x, &l.attn_norm, hp.eps, &dhn),
    );
    dx
}

/// Gradients at the attended queries, keys and values, given the output's `d_o`.
fn attention_backward(
    c: &LayerCache,
    d_o: &[f32],
    t: usize,
    nh: usize,
    nkv: usize,
    hd: usize,
    scale: f32,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let group = nh / nkv;
    // Per head: dQ_h, and its share of dK_g and dV_g (summed below in head order, so the
    // result does not depend on how the heads were scheduled).
    let parts: Vec<[Vec<f32>; 3]> = (0..nh)
        .into_par_iter()
        .map(|h| {
            let g = h / group;
            let p = MatRef::from_row_major_slice(&c.p[h * t * t..][..t * t], t, t);
            let doh = head_cols(d_o, t, nh, hd, h);
            let mut dp = vec![0f32; t * t];
            matmul(
                MatMut::from_row_major_slice_mut(&mut dp, t, t),
                Accum::Replace,
                doh,
                head_cols(&c.v, t, nkv, hd, g).transpose(),
                1.0,
                Par::Seq,
            );
            // Softmax backward: dS = P * (dP - sum_j dP_j P_j), row by row.
            let probs = &c.p[h * t * t..][..t * t];
            for (row, prow) in dp.chunks_mut(t).zip(probs.chunks(t)) {
                let dot: f64 = row
                    .iter()
                    .zip(prow)
                    .map(|(a, b)| f64::from(*a) * f64::from(*b))
                    .sum();
                for (r, pv) in row.iter_mut().zip(prow) {
                    *r = pv * (*r - dot as f32);
                }
            }
            let ds = MatRef::from_row_major_slice(&dp, t, t);
            let mut dq = vec![0f32; t * hd];
            let mut dk = vec![0f32; t * hd];
            let mut dv = vec![0f32; t * hd];
            matmul(
                MatMut::from_row_major_slice_mut(&mut dq, t, hd),
                Accum::Replace,
                ds,
                head_cols(&c.k, t, nkv, hd, g),
                scale,
                Par::Seq,
            );
            matmul(
                MatMut::from_row_major_slice_mut(&mut dk, t, hd),
                Accum::Replace,
                ds.transpose(),
                head_cols(&c.q, t, nh, hd, h),
                scale,
                Par::Seq,
            );
            matmul(
                MatMut::from_row_major_slice_mut(&mut dv, t, hd),
                Accum::Replace,
                p.transpose(),
                doh,
                1.0,
                Par::Seq,
            );
            [dq, dk, dv]
        })
        .collect();
    let mut dq = vec![0f32; t * nh * hd];
    let mut dk = vec![0f32; t * nkv * hd];
    let mut dv = vec![0f32; t * nkv * hd];
    for (h, [q, k, v]) in parts.iter().enumerate() {
        let g = h / group;
        for i in 0..t {
            dq[i * nh * hd + h * hd..][..hd].copy_from_slice(&q[i * hd..][..hd]);
            for (dst, src) in [(&mut dk, k), (&mut dv, v)] {
                for (a, b) in dst[i * nkv * hd + g * hd..][..hd]
                    .iter_mut()
                    .zip(&src[i * hd..][..hd])
                {
                    *a += b;
                }
            }
        }
    }
    (dq, dk, dv)
}
