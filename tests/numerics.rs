//! Numerics against independent slow paths: sparsemax vs a full sort, the Gram-form
//! regression vs the paper's literal e · pinv(A) · B in f64.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use salt::neighbours::{neighbours, sparsemax, sparsemax_full_sort, SparsemaxScratch};
use salt::regression::{
    literal_pinv_row, regress, solve_token, solve_weights, RegressionInput, Scratch, SolvePath,
};

use crate::util::asset;

fn normal(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| rng.sample::<f32, _>(rand_distr::StandardNormal))
        .collect()
}

/// sparsemax equals the full-sort reference exactly (same support, same weight bits: both
/// add the sorted values in the same order) and is a distribution.
fn check_sparsemax(z: &[f32], scratch: &mut SparsemaxScratch, label: &str) {
    let fast = sparsemax(z, scratch);
    let slow = sparsemax_full_sort(z);
    assert_eq!(
        fast.iter().map(|x| x.0).collect::<Vec<_>>(),
        slow.iter().map(|x| x.0).collect::<Vec<_>>(),
        "support differs ({label})"
    );
    let sum: f64 = fast.iter().map(|x| f64::from(x.1)).sum();
    assert!(
        (sum - 1.0).abs() < 1e-4 * (fast.len() as f64).sqrt().max(1.0),
        "sum {sum} ({label})"
    );
    assert!(fast.iter().all(|x| x.1 > 0.0), "{label}");
    for (a, b) in fast.iter().zip(&slow) {
        assert_eq!(a.1.to_bits(), b.1.to_bits(), "{a:?} vs {b:?} ({label})");
    }
}

#[test]
fn sparsemax_matches_full_sort_and_is_a_distribution() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut scratch = SparsemaxScratch::default();
    // Sizes below and above the 32-value blocks whose maxima bound τ (21,889 = the stress
    // case's anchors); scales giving tiny and huge supports.
    for &(n, scale) in &[
        (5usize, 1.0f32),
        (100, 0.3),
        (3000, 0.05),
        (3000, 0.002),
        (20_000, 0.001),
        (20_000, 2.0),
        (21_889, 0.02),
    ] {
        for _ in 0..5 {
            let z: Vec<f32> = normal(&mut rng, n).iter().map(|v| v * scale).collect();
            check_sparsemax(&z, &mut scratch, &format!("n {n}, scale {scale}"));
            // The support packed into the last blocks (their maxima bound τ poorly), and
            // a plateau of equal top values inside one region.
            let mut sorted = z.clone();
            sorted.sort_by(f32::total_cmp);
            check_sparsemax(&sorted, &mut scratch, &format!("ascending, n {n}"));
            let mut plateau = z.clone();
            let top = sorted[n - 1];
            plateau
                .iter_mut()
                .skip(n / 2)
                .take(300)
                .for_each(|v| *v = top);
            check_sparsemax(&plateau, &mut scratch, &format!("plateau, n {n}"));
        }
    }
    // Ties and a constant vector: uniform over all.
    let p = sparsemax(&[0.5; 700], &mut scratch);
    assert_eq!(p.len(), 700);
    // Values exactly at the threshold stay out: τ = 0 for (0, 1, 0).
    let p = sparsemax(&[0.0, 1.0, 0.0], &mut scratch);
    assert_eq!(p, vec![(1, 1.0)]);
    assert_eq!(sparsemax_full_sort(&[0.0, 1.0, 0.0]), p);
    assert_eq!(sparsemax(&[], &mut scratch), vec![]);
    // A NaN (refused upstream; the function must still not panic) leaves only finite,
    // positive weights, and the values of its own block are still considered.
    let mut z = vec![0.01f32; 100];
    z[40] = f32::NAN;
    z[33] = 0.9;
    let p = sparsemax(&z, &mut scratch);
    assert!(p.iter().all(|x| x.1.is_finite() && x.1 > 0.0), "{p:?}");
    assert!(p.iter().any(|x| x.0 == 33), "{p:?}");
}

#[test]
fn neighbours_are_sorted_and_thread_count_independent() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let dim = 16;
    let anchors = normal(&mut rng, 900 * dim);
    let queries = normal(&mut rng, 300 * dim);
    let nb = neighbours(&queries, &anchors, dim, None);
    assert_eq!(nb.len(), 300);
    for q in 0..nb.len() {
        let (idx, w) = nb.row(q);
        assert!(idx.windows(2).all(|p| p[0] < p[1]));
        assert!(!w.is_empty());
    }
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| neighbours(&queries, &anchors, dim, None));
    assert_eq!(one, nb);
    let capped = neighbours(&queries, &anchors, dim, Some(3));
    assert!((0..capped.len()).all(|q| capped.row(q).0.len() <= 3));
}

/// Rows `idx` of the row-major `[n x width]` table, as one f64 buffer.
fn rows_f64(table: &[f32], idx: &[u32], width: usize) -> Vec<f64> {
    idx.iter()
        .flat_map(|&a| {
            table[a as usize * width..(a as usize + 1) * width]
                .iter()
                .map(|x| f64::from(*x))
        })
        .collect()
}

fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    let num: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt();
    let den: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    num / den.max(1e-300)
}

#[test]
fn regress_rows_match_literal_and_thread_counts() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let (h_t, h_s, n_a, n_q) = (32usize, 24usize, 200usize, 50usize);
    let anchors_t = normal(&mut rng, n_a * h_t);
    let anchors_s = normal(&mut rng, n_a * h_s);
    let anchors_out = normal(&mut rng, n_a * h_s);
    let e = normal(&mut rng, n_q * h_t);
    let nb = neighbours(&e, &anchors_t, h_t, None);
    let inp = RegressionInput {
        e: &e,
        anchors_t: &anchors_t,
        h_t,
        anchors_s: &anchors_s,
        anchors_out: Some(&anchors_out),
        h_s,
        rcond: 1e-6,
        affine: false,
    };
    let r = regress(&inp, &nb).unwrap();
    let p = r.paths;
    assert_eq!(p.refined + p.cholesky + p.eigen, n_q, "{p:?}");
    assert!(
        p.refined > n_q / 2,
        "well-posed supports take the refined path: {p:?}"
    );
    let r1 = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| regress(&inp, &nb).unwrap());
    assert_eq!(r.embd, r1.embd);
    assert_eq!(r.output, r1.output);
    for q in 0..n_q {
        let (idx, _) = nb.row(q);
        let k = idx.len();
        let a64: Vec<f64> = rows_f64(&anchors_t, idx, h_t);
        for (b, got) in [
            (&anchors_s, &r.embd),
            (&anchors_out, r.output.as_ref().unwrap()),
        ] {
            let b64: Vec<f64> = rows_f64(b, idx, h_s);
            let e64: Vec<f64> = e[q * h_t..(q + 1) * h_t]
                .iter()
                .map(|x| f64::from(*x))
                .collect();
            let lit = literal_pinv_row(&a64, &b64, &e64, k, h_t, h_s, 1e-6);
            let ours: Vec<f64> = got[q * h_s..(q + 1) * h_s]
                .iter()
                .map(|x| f64::from(*x))
                .collect();
            assert!(rel_err(&ours, &lit) < 1e-4, "query {q} (k {k})");
        }
    }
}

/// `solve_token`'s w and path, with the error of its row w B against the literal formula.
fn token_vs_literal(
    anchors_t: &[f32],
    anchors_s: &[f32],
    idx: &[u32],
    e: &[f32],
    (h_t, h_s): (usize, usize),
) -> (f64, SolvePath) {
    let (w, path) = solve_token(anchors_t, idx, e, h_t, 1e-6, &mut Scratch::default());
    (
        row_error(&w, anchors_t, anchors_s, idx, e, (h_t, h_s)),
        path,
    )
}

/// Relative error of the row w B against the literal e · pinv(A) · B in f64, for weights
/// `w` over anchors `idx`.
fn row_error(
    w: &[f64],
    anchors_t: &[f32],
    anchors_s: &[f32],
    idx: &[u32],
    e: &[f32],
    (h_t, h_s): (usize, usize),
) -> f64 {
    let ours: Vec<f64> = (0..h_s)
        .map(|c| {
            w.iter()
                .zip(idx)
                .map(|(wi, &a)| wi * f64::from(anchors_s[a as usize * h_s + c]))
                .sum()
        })
        .collect();
    let e64: Vec<f64> = e.iter().map(|x| f64::from(*x)).collect();
    let lit = literal_pinv_row(
        &rows_f64(anchors_t, idx, h_t),
        &rows_f64(anchors_s, idx, h_s),
        &e64,
        idx.len(),
        h_t,
        h_s,
        1e-6,
    );
    rel_err(&ours, &lit)
}

/// Both solvers on the same supports: the exact path (`solve_weights`, G in f64) and the
/// path regression takes (`solve_token`), each row against the literal formula.
#[test]
fn both_paths_equal_literal_pinv() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    // (k, h_t, h_s): well-posed, k near h_t, and k > h_t (rank-deficient G, eigen path).
    for &(k, h_t, h_s) in &[
        (3usize, 16usize, 8usize),
        (40, 64, 32),
        (60, 64, 24),
        (120, 48, 16),
        (250, 512, 64),
        (350, 512, 576),
    ] {
        let n_a = k + 5;
        let anchors_t = normal(&mut rng, n_a * h_t);
        let anchors_s = normal(&mut rng, n_a * h_s);
        let e = normal(&mut rng, h_t);
        let idx: Vec<u32> = (0..k as u32).map(|i| i + 2).collect();
        let (w, exact) = solve_weights(&anchors_t, &idx, &e, h_t, 1e-6);
        let err = row_error(&w, &anchors_t, &anchors_s, &idx, &e, (h_t, h_s));
        assert!(
            err < 1e-4,
            "exact path, k {k} h_t {h_t}: relative error {err:.2e} ({exact:?})"
        );
        let (err, path) = token_vs_literal(&anchors_t, &anchors_s, &idx, &e, (h_t, h_s));
        assert!(
            err < 1e-4,
            "k {k} h_t {h_t}: relative error {err:.2e} ({path:?})"
        );
        // Gaussian rows: cond(G) stays small while k is well below h_t.
        if 2 * k <= h_t {
            assert_eq!(path, SolvePath::Refined, "k {k} h_t {h_t}");
        }
        if k > h_t {
            assert_eq!(
                exact,
                SolvePath::Eigen,
                "k {k} > h_t {h_t} must take the eigen path"
            );
            assert_eq!(path, SolvePath::Eigen, "k {k} > h_t {h_t}");
        }
    }
}

#[test]
fn near_singular_supports_leave_the_refined_path() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let (k, h_t, h_s) = (40usize, 64usize, 32usize);
    let base = normal(&mut rng, k * h_t);
    let anchors_s = normal(&mut rng, k * h_s);
    let e = normal(&mut rng, h_t);
    let idx: Vec<u32> = (0..k as u32).collect();
    // Two equal rows (PLM tables hold duplicates, e.g. untrained tokens): G is singular
    // and the pseudo-inverse splits the weight between them. A float32 Ĝ hides that.
    let mut dup = base.clone();
    dup.copy_within(3 * h_t..4 * h_t, 17 * h_t);
    // A row within 1e-5 of another: cond(G) about 1e10, above what float32 resolves.
    let mut near = base.clone();
    for c in 0..h_t {
        near[17 * h_t + c] =
            near[3 * h_t + c] + 1e-5 * rng.sample::<f32, _>(rand_distr::StandardNormal);
    }
    for (name, rows) in [("equal rows", &dup), ("nearly equal rows", &near)] {
        let (err, path) = token_vs_literal(rows, &anchors_s, &idx, &e, (h_t, h_s));
        assert_ne!(path, SolvePath::Refined, "{name}");
        assert!(err < 1e-4, "{name}: relative error {err:.2e} ({path:?})");
    }
    // Graded rows (singular values of A spread over 1..300): whichever path, the answer.
    let mut graded = base;
    for (i, row) in graded.chunks_exact_mut(h_t).enumerate() {
        let s = 300f32.powf(i as f32 / (k - 1) as f32);
        row.iter_mut().for_each(|x| *x /= s);
    }
    let (err, path) = token_vs_literal(&graded, &anchors_s, &idx, &e, (h_t, h_s));
    assert!(
        err < 1e-4,
        "graded rows: relative error {err:.2e} ({path:?})"
    );
}

/// Real rows: USE's embedding table and SmolLM2's `token_embd`. Supports are each query's
/// k most cosine-similar anchors in USE space, k up to the stress case's maximum (353):
/// similar rows are the badly conditioned case (sparsemax in USE space alone gives k of
/// 4..60). Every row against the literal formula in f64.
#[test]
fn real_rows_match_literal_pinv() {
    let table = salt::plm::load_embeddings(&asset("plm/use"), None, 128_000).unwrap();
    let h_t = table.dim;
    let gguf = salt::gguf::GgufFile::open(asset("models/smollm2-135m-instruct-q4_1.gguf")).unwrap();
    let embd = gguf.require_tensor("token_embd.weight").unwrap().clone();
    let h_s = embd.row_width() as usize;
    // 4,000 anchors and 24 queries spread over the table; source rows by anchor index.
    let anchor_ids: Vec<u32> = (0..4000u32).map(|i| 1000 + 29 * i).collect();
    let query_ids: Vec<u32> = (0..24u32).map(|i| 1013 + 4_801 * i).collect();
    let rows = |ids: &[u32]| -> Vec<f32> {
        ids.iter()
            .flat_map(|&i| table.row(i as usize).iter().copied())
            .collect()
    };
    let anchors_t = rows(&anchor_ids);
    let src: Vec<u32> = (0..anchor_ids.len() as u32).map(|i| 100 + 11 * i).collect();
    let anchors_s = salt::codec::gather_rows(&gguf, &embd, &src).unwrap();
    let unit = salt::neighbours::normalize_rows(&anchors_t, h_t);
    let mut refined = 0;
    for (n, &id) in query_ids.iter().enumerate() {
        let e = table.row(id as usize);
        let k = [50usize, 165, 353][n % 3];
        let mut by_sim: Vec<(f64, u32)> = unit
            .chunks_exact(h_t)
            .enumerate()
            .map(|(a, r)| {
                let s: f64 = r
                    .iter()
                    .zip(e)
                    .map(|(x, y)| f64::from(*x) * f64::from(*y))
                    .sum();
                (-s, a as u32)
            })
            .collect();
        by_sim.sort_by(|x, y| x.partial_cmp(y).unwrap());
        let mut idx: Vec<u32> = by_sim[..k].iter().map(|&(_, a)| a).collect();
        idx.sort_unstable();
        let (err, path) = token_vs_literal(&anchors_t, &anchors_s, &idx, e, (h_t, h_s));
        assert!(
            err < 1e-4,
            "token {id} (k {k}): relative error {err:.2e} ({path:?})"
        );
        refined += usize::from(path == SolvePath::Refined);
    }
    assert!(
        refined * 2 > query_ids.len(),
        "{refined} of {} refined",
        query_ids.len()
    );
}

/// k > h_t with A of rank below h_t (rows in a 20-dimensional subspace): the h_t x h_t
/// side (`tall_weights`) must drop the same directions as the literal pseudo-inverse.
#[test]
fn tall_rank_deficient_supports_equal_literal_pinv() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let (k, h_t, h_s, rank) = (150usize, 48usize, 24usize, 20usize);
    let basis = normal(&mut rng, rank * h_t);
    let mix = normal(&mut rng, (k + 2) * rank);
    let anchors_t: Vec<f32> = (0..(k + 2) * h_t)
        .map(|i| {
            let (r, c) = (i / h_t, i % h_t);
            (0..rank)
                .map(|j| mix[r * rank + j] * basis[j * h_t + c])
                .sum()
        })
        .collect();
    let anchors_s = normal(&mut rng, (k + 2) * h_s);
    let e = normal(&mut rng, h_t);
    let idx: Vec<u32> = (0..k as u32).map(|i| i + 2).collect();
    let (w, path) = solve_weights(&anchors_t, &idx, &e, h_t, 1e-6);
    assert_eq!(path, SolvePath::Eigen);
    let err = row_error(&w, &anchors_t, &anchors_s, &idx, &e, (h_t, h_s));
    assert!(err < 1e-4, "relative error {err:.2e}");
}
