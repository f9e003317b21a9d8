//! Stage 5: neighbours of every new target token among the anchors (docs/method.md section 3).
//!
//! Input: auxiliary vectors of the query tokens and of the anchors (shared target tokens
//! that have a vector), anchors in ascending target id.
//! Output: for each query, the sparsemax support over its cosine similarities to all
//! anchors (anchor indices ascending, i.e. ordered by target id) and the weights p > 0.
//!
//! Similarities are float32 GEMMs over blocks of queries; one block is one rayon task
//! with a sequential faer GEMM inside, so results never depend on the thread count.

mod sparsemax;

pub use sparsemax::{sparsemax, sparsemax_full_sort, SparsemaxScratch};

use faer::linalg::matmul::matmul;
use faer::{Accum, MatRef, Par};
use rayon::prelude::*;

/// Queries per GEMM block.
pub const BLOCK: usize = 128;

/// Sparsemax supports in compressed rows: query q's neighbours are
/// `anchor[offsets[q]..offsets[q+1]]` with weights `weight[..]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Neighbours {
    /// Row starts, `n_queries + 1` entries.
    pub offsets: Vec<usize>,
    /// Anchor indices, ascending within a row.
    pub anchor: Vec<u32>,
    /// Sparsemax weights (sum to 1 per row).
    pub weight: Vec<f32>,
}

impl Neighbours {
    /// Number of queries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// True when there are no queries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Query q's (anchors, weights).
    #[must_use]
    pub fn row(&self, q: usize) -> (&[u32], &[f32]) {
        let r = self.offsets[q]..self.offsets[q + 1];
        (&self.anchor[r.clone()], &self.weight[r])
    }

    /// Histogram of support sizes k: (k, count), ascending.
    #[must_use]
    pub fn k_histogram(&self) -> Vec<(usize, usize)> {
        let mut h = std::collections::BTreeMap::new();
        for q in 0..self.len() {
            *h.entry(self.offsets[q + 1] - self.offsets[q]).or_insert(0) += 1;
        }
        h.into_iter().collect()
    }
}

/// The neighbour stage's output: anchors, queries and their sparsemax supports.
#[derive(Clone, Debug, Default)]
pub struct NeighbourSet {
    /// Anchor target ids (shared tokens with an auxiliary vector), ascending.
    pub anchors: Vec<u32>,
    /// Query target ids (new tokens with an auxiliary vector), ascending.
    pub queries: Vec<u32>,
    /// Query q's neighbours, as indices into `anchors`.
    pub nb: Neighbours,
    /// Target tokens with an auxiliary vector.
    pub with_aux: usize,
}

impl NeighbourSet {
    /// Anchors and queries (both ascending target ids): a shared token with an auxiliary
    /// vector is an anchor; a new token with one is a query. `shared[i]` and `new[i]`
    /// classify target id i; `has[i]` says whether it has a vector (ids past `has` have
    /// none: chat tokens).
    #[must_use]
    pub fn select(shared: &[bool], new: &[bool], has: &[bool]) -> (Vec<u32>, Vec<u32>) {
        let pick = |class: &[bool]| -> Vec<u32> {
            (0..has.len())
                .filter(|&i| class[i] && has[i])
                .map(|i| i as u32)
                .collect()
        };
        (pick(shared), pick(new))
    }
}

/// Rows `ids` of a row-major `[n x dim]` table, `[ids.len() x dim]`.
#[must_use]
pub fn select_rows(ids: &[u32], dim: usize, data: &[f32]) -> Vec<f32> {
    ids.iter()
        .flat_map(|&i| {
            data[i as usize * dim..(i as usize + 1) * dim]
                .iter()
                .copied()
        })
        .collect()
}

/// L2-normalises the rows of `[n x dim]` `v` (zero rows stay zero).
#[must_use]
pub fn normalize_rows(v: &[f32], dim: usize) -> Vec<f32> {
    let mut out = v.to_vec();
    for row in out.chunks_exact_mut(dim) {
        let n = row
            .iter()
            .map(|x| f64::from(*x).powi(2))
            .sum::<f64>()
            .sqrt();
        if n > 0.0 {
            row.iter_mut().for_each(|x| *x = (f64::from(*x) / n) as f32);
        }
    }
    out
}

/// Computes the neighbours of `queries` (`[n_q x dim]`) among `anchors` (`[n_a x dim]`).
/// Both are normalised here. `max_k` keeps the K most similar of each support (ties to
/// the lower anchor index), renormalising nothing: the weights stay sparsemax's.
#[must_use]
pub fn neighbours(
    queries: &[f32],
    anchors: &[f32],
    dim: usize,
    max_k: Option<usize>,
) -> Neighbours {
    neighbours_ticked(queries, anchors, dim, max_k, &mut |_, _| true)
        .expect("a tick that never stops")
}

/// Queries between two ticks (a multiple of [`BLOCK`], so blocks are the same as in one
/// pass and no result changes).
pub const TICK_QUERIES: usize = 64 * BLOCK;

/// [`neighbours`], calling `tick(done, total)` on this thread after every
/// [`TICK_QUERIES`] queries; `None` when a tick returns `false` (cancelled).
pub fn neighbours_ticked(
    queries: &[f32],
    anchors: &[f32],
    dim: usize,
    max_k: Option<usize>,
    tick: &mut dyn FnMut(usize, usize) -> bool,
) -> Option<Neighbours> {
    let q = normalize_rows(queries, dim);
    let a = normalize_rows(anchors, dim);
    let n_q = q.len() / dim.max(1);
    let n_a = a.len() / dim.max(1);
    if n_q == 0 || n_a == 0 {
        return Some(Neighbours {
            offsets: vec![0; n_q + 1],
            ..Default::default()
        });
    }
    let mut out = Neighbours {
        offsets: Vec::with_capacity(n_q + 1),
        ..Default::default()
    };
    out.offsets.push(0);
    let mut done = 0;
    for part in q.chunks(TICK_QUERIES * dim) {
        for (lens, idx, w) in neighbour_blocks(part, &a, dim, n_a, max_k) {
            out.anchor.extend_from_slice(&idx);
            out.weight.extend_from_slice(&w);
            for l in lens {
                out.offsets
                    .push(out.offsets.last().copied().unwrap_or(0) + l);
            }
        }
        done += part.len() / dim;
        if !tick(done, n_q) {
            return None;
        }
    }
    Some(out)
}

/// `--max-k`: keeps the `k` most similar of a support (similarities `s` of the whole row;
/// ties to the lower anchor index), in ascending index order, weights unchanged.
pub fn truncate_support(support: &mut Vec<(u32, f32)>, s: &[f32], k: usize) {
    if support.len() > k {
        support.sort_by(|x, y| {
            s[y.0 as usize]
                .total_cmp(&s[x.0 as usize])
                .then(x.0.cmp(&y.0))
        });
        support.truncate(k);
        support.sort_by_key(|x| x.0);
    }
}

/// Supports of the normalised queries `q` among the normalised anchors `a`, one
/// (lengths, anchor indices, weights) triple per block of [`BLOCK`] queries.
fn neighbour_blocks(
    q: &[f32],
    a: &[f32],
    dim: usize,
    n_a: usize,
    max_k: Option<usize>,
) -> Vec<(Vec<usize>, Vec<u32>, Vec<f32>)> {
    // anchors as a dim x n_a column-major view of the row-major [n_a x dim] buffer.
    let a_t = MatRef::from_column_major_slice(a, dim, n_a);
    // Per-worker scratch (the similarity block is 11 MB at 21,889 anchors): allocating it
    // per block between the small long-lived result vectors fragments the heap into GBs.
    q.par_chunks(BLOCK * dim)
        .map_init(
            || {
                (
                    faer::Mat::<f32>::zeros(n_a, BLOCK),
                    SparsemaxScratch::default(),
                )
            },
            |(sims, scratch), qb| {
                let rows = qb.len() / dim;
                // sims is column-major n_a x rows: column r = similarities of query r.
                let mut sims = sims.as_mut().submatrix_mut(0, 0, n_a, rows);
                let q_t = MatRef::from_column_major_slice(qb, dim, rows);
                matmul(
                    sims.as_mut(),
                    Accum::Replace,
                    a_t.transpose(),
                    q_t,
                    1.0f32,
                    Par::Seq,
                );
                let (mut lens, mut idx, mut wts) =
                    (Vec::with_capacity(rows), Vec::new(), Vec::new());
                for r in 0..rows {
                    let col = sims.as_ref().col(r);
                    let s: &[f32] = col
                        .try_as_col_major()
                        .expect("contiguous column")
                        .as_slice();
                    let mut support = sparsemax(s, scratch);
                    if let Some(k) = max_k {
                        truncate_support(&mut support, s, k);
                    }
                    lens.push(support.len());
                    for (i, w) in support {
                        idx.push(i);
                        wts.push(w);
                    }
                }
                (lens, idx, wts)
            },
        )
        .collect()
}
