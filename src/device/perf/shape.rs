//! The problem a model is run on: the sizes of a transfer and its support sizes, and how
//! many passes over a row of similarities the sparsemax threshold takes.

/// A replacement transfer's stages 5 and 6.
#[derive(Clone, Debug)]
pub struct Shape {
    /// New tokens (queries).
    pub n_q: usize,
    /// Anchors (shared tokens).
    pub n_a: usize,
    /// Anchors some support uses.
    pub n_u: usize,
    /// Width of the auxiliary vectors (the neighbours' space).
    pub dim: usize,
    /// PLM width.
    pub h_t: usize,
    /// Source width.
    pub h_s: usize,
    /// Whether the source has an output table of its own (two tables of rows to make).
    pub untied: bool,
    /// (k, tokens with that k), k ascending.
    pub ks: Vec<(usize, usize)>,
    /// Michelot's iteration on a row, averaged over sampled rows.
    pub michelot: Michelot,
}

impl Shape {
    /// The shape of a problem: the auxiliary vectors of its queries and anchors (`dim`
    /// wide), its widths and whether the source is untied, and the neighbours `nb` the CPU
    /// path (or a device) found; the threshold kernel's passes measured on `sample` rows of
    /// similarities spread over the queries (f32 dot products of the normalised rows, as the
    /// kernels compute them).
    #[must_use]
    pub fn measure(
        aux: (&[f32], &[f32], usize),
        widths: (usize, usize, bool),
        nb: &crate::neighbours::Neighbours,
        sample: usize,
    ) -> Self {
        let (queries_aux, anchors_aux, dim) = aux;
        let (h_t, h_s, untied) = widths;
        let n_a = anchors_aux.len() / dim.max(1);
        let mut used = vec![false; n_a];
        nb.anchor.iter().for_each(|&a| used[a as usize] = true);
        let a = crate::neighbours::normalize_rows(anchors_aux, dim);
        let step = (nb.len() / sample.max(1)).max(1);
        // Only the sampled queries are normalised (each row on its own, as the kernels do).
        let picked: Vec<f32> = (0..nb.len())
            .step_by(step)
            .take(sample)
            .flat_map(|i| queries_aux[i * dim..(i + 1) * dim].iter().copied())
            .collect();
        let q = crate::neighbours::normalize_rows(&picked, dim);
        let rows: Vec<Vec<f32>> = q
            .chunks(dim.max(1))
            .map(|qr| {
                a.chunks(dim)
                    .map(|ar| qr.iter().zip(ar).map(|(x, y)| x * y).sum())
                    .collect()
            })
            .collect();
        let block = crate::device::kernels::launch_block("salt_sparsemax_tau") as usize;
        Self {
            n_q: nb.len(),
            n_a,
            n_u: used.iter().filter(|&&u| u).count(),
            dim,
            h_t,
            h_s,
            untied,
            ks: nb.k_histogram(),
            michelot: michelot_mean(rows.iter().map(Vec::as_slice), block, super::SPARSEMAX_CAND),
        }
    }

    /// The sum over tokens of `f(k)`.
    #[must_use]
    pub fn sum_k(&self, f: impl Fn(f64) -> f64) -> f64 {
        self.ks.iter().map(|&(k, n)| n as f64 * f(k as f64)).sum()
    }
}

/// How the threshold kernels read one row, on average.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Michelot {
    /// Steps of the iteration from -inf, each a pass over the row (the kernel before the
    /// current one).
    pub plain_steps: f64,
    /// Steps of `salt_sparsemax_tau` (over its threads' largest values, then its
    /// candidates), each a block reduction.
    pub steps: f64,
    /// Its passes over the whole row.
    pub row_passes: f64,
    /// Its candidates (values above its start) in shared memory.
    pub candidates: f64,
}

/// Michelot's iteration over the values of `z` above `t` from `t` (at or below the
/// threshold): (steps, the threshold, the support size).
#[must_use]
pub fn michelot_from(z: &[f64], t: f64) -> (usize, f64, usize) {
    let (mut t, mut prev, mut steps) = (t, None, 0);
    loop {
        steps += 1;
        let (s, n) = z
            .iter()
            .filter(|&&v| v > t)
            .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
        if n == 0 || Some(n) == prev {
            return (steps, t, prev.unwrap_or(0));
        }
        prev = Some(n);
        t = (s - 1.0) / n as f64;
    }
}

/// `salt_sparsemax_tau` on `z` at `block` threads with `cand` floats of candidates:
/// (steps, passes over the row, candidates, support size). Pass one gives the first step from -inf and
/// each thread's largest value (thread i holds i, i + block, ...); the iteration over those
/// maxima gives a second lower bound; pass two copies the values above the larger bound,
/// `cand / block` per thread, unless one thread has more (then every step reads the row).
#[must_use]
pub fn tau_kernel(z: &[f32], block: usize, cand: usize) -> (usize, usize, usize, usize) {
    let v: Vec<f64> = z.iter().map(|&x| f64::from(x)).collect();
    if v.is_empty() {
        return (0, 1, 0, 0);
    }
    let first = (v.iter().sum::<f64>() - 1.0) / v.len() as f64;
    let tops: Vec<f64> = (0..block.min(v.len()))
        .map(|i| {
            v[i..]
                .iter()
                .step_by(block)
                .copied()
                .fold(f64::MIN, f64::max)
        })
        .collect();
    let (sub_steps, t_sub, _) = michelot_from(&tops, f64::MIN);
    let start = first.max(t_sub);
    let slots = cand / block;
    let over = (0..block.min(v.len()))
        .any(|i| v[i..].iter().step_by(block).filter(|&&x| x > start).count() > slots);
    let above: Vec<f64> = v.iter().copied().filter(|&x| x > start).collect();
    let (steps, _, k) = michelot_from(&above, start);
    let passes = if over { 2 + steps } else { 2 };
    (sub_steps + steps, passes, above.len(), k)
}

/// The means of [`michelot_from`] (from -inf) and [`tau_kernel`] over rows.
#[must_use]
pub fn michelot_mean<'a>(
    rows: impl Iterator<Item = &'a [f32]>,
    block: usize,
    cand: usize,
) -> Michelot {
    let (mut plain, mut steps, mut passes, mut cands, mut n) = (0, 0, 0, 0, 0usize);
    for r in rows {
        let v: Vec<f64> = r.iter().map(|&x| f64::from(x)).collect();
        plain += michelot_from(&v, f64::MIN).0;
        let (s, p, c, _) = tau_kernel(r, block, cand);
        steps += s;
        passes += p;
        cands += c;
        n += 1;
    }
    let n = n.max(1) as f64;
    Michelot {
        plain_steps: plain as f64 / n,
        steps: steps as f64 / n,
        row_passes: passes as f64 / n,
        candidates: cands as f64 / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_iterations_find_the_sparsemax_support() {
        let mut seed = 7u64;
        for len in [1usize, 5, 300, 5000] {
            let z: Vec<f32> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    ((seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
                })
                .collect();
            // The support by sorting: the largest m with 1 + m z_(m) > sum of the top m.
            let mut s = z.iter().map(|&v| f64::from(v)).collect::<Vec<_>>();
            s.sort_by(|a, b| b.total_cmp(a));
            let (mut acc, mut m) = (0.0, 0);
            for (i, v) in s.iter().enumerate() {
                acc += v;
                if 1.0 + (i + 1) as f64 * v > acc {
                    m = i + 1;
                }
            }
            let v: Vec<f64> = z.iter().map(|&x| f64::from(x)).collect();
            assert_eq!(michelot_from(&v, f64::MIN).2, m, "len {len}");
            for (block, cand) in [(256, 8192), (8, 16), (256, 256)] {
                let (steps, passes, _, k) = tau_kernel(&z, block, cand);
                assert_eq!(k, m, "len {len}, block {block}");
                assert!(steps >= 1 && passes >= 2, "{steps} {passes}");
            }
        }
    }
}
