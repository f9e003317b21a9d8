//! Adam on a subset of a row table's rows.

/// Adam's moments for the trained rows of one table (row `k` of the state is table row
/// `ids[k]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Adam {
    /// First moments, `[ids x d]`.
    pub m: Vec<f32>,
    /// Second moments.
    pub v: Vec<f32>,
    lr: f32,
    /// The rate `lr` starts at; [`Adam::scale_rate`] sets `lr` as a multiple of it.
    base: f32,
    d: usize,
}

const B1: f32 = 0.9;
const B2: f32 = 0.999;
const EPS: f32 = 1e-8;

impl Adam {
    /// State for `rows` rows of width `d`, stepping at rate `lr`.
    #[must_use]
    pub fn new(rows: usize, d: usize, lr: f32) -> Self {
        Self {
            m: vec![0.0; rows * d],
            v: vec![0.0; rows * d],
            lr,
            base: lr,
            d,
        }
    }

    /// Steps from now on move at `scale` times the starting rate.
    pub fn scale_rate(&mut self, scale: f32) {
        self.lr = self.base * scale;
    }

    /// Step `t` (from 1) on `table`'s rows `ids`, with the gradient `grad` (of the whole
    /// table) times `scale`; with `only`, rows outside it are left as they are, moments
    /// included (lazy Adam: a row moves only on a step that has evidence about it).
    pub fn step(
        &mut self,
        table: &mut [f32],
        grad: &[f32],
        ids: &[u32],
        scale: f32,
        t: i32,
        only: Option<&[bool]>,
    ) {
        let (d, lr) = (self.d, self.lr);
        let (c1, c2) = (1.0 - B1.powi(t), 1.0 - B2.powi(t));
        for (k, &id) in ids.iter().enumerate() {
            if only.is_some_and(|o| !o[id as usize]) {
                continue;
            }
            let r = id as usize * d;
            let (m, v) = (&mut self.m[k * d..][..d], &mut self.v[k * d..][..d]);
            for j in 0..d {
                let g = grad[r + j] * scale;
                m[j] = B1 * m[j] + (1.0 - B1) * g;
                v[j] = B2 * v[j] + (1.0 - B2) * g * g;
                table[r + j] -= lr * (m[j] / c1) / ((v[j] / c2).sqrt() + EPS);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Adam;

    /// The first step moves each trained entry by the learning rate against the sign of
    /// its gradient (bias-corrected moments equal the gradient), and leaves the other rows.
    #[test]
    fn first_step_is_sign_descent_on_the_trained_rows_only() {
        let mut table = vec![0.0f32; 3 * 2];
        let grad = vec![1.0, -2.0, 5.0, 5.0, 0.5, -0.25];
        let mut a = Adam::new(2, 2, 0.1);
        a.step(&mut table, &grad, &[0, 2], 1.0, 1, None);
        let expect = [-0.1, 0.1, 0.0, 0.0, -0.1, 0.1];
        for (x, e) in table.iter().zip(expect) {
            assert!((x - e).abs() < 1e-6, "{table:?}");
        }
    }
}
