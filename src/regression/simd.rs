//! The regression's vector kernels: float32 data (A, B, the float32 Cholesky factor) against
//! f64 vectors, accumulated in f64.
//!
//! faer's kernels take one scalar type, so mixing them meant an f64 copy of A per token
//! and round trips of every right-hand side through float32; with k in the hundreds these
//! short operations cost as much as the Gram product (profile in the README). Here the
//! float32 values are widened on the fly (exactly: every f32 is an f64).
//!
//! Each public function is compiled twice: plain, and with AVX2 enabled through pulp's
//! `vectorize` where the CPU has it (chosen at run time; the build does not assume it).
//! The code fixes the order of every addition (elementwise updates, and reductions over
//! [`LANES`] explicit partial sums), and Rust never fuses a multiply and an add, so both
//! versions give the same bits. (faer's own kernels, the Gram product and the Cholesky
//! factor, also choose their instructions at run time and carry no such promise: output
//! bytes are fixed per kind of CPU, whatever the thread count.)

/// Partial sums per reduction: four AVX2 registers of f64, enough independent additions
/// to hide the adder's latency. (Written out as a loop over 16 lanes, the compiler
/// vectorizes the reduction only two wide; hence [`partial_sums_avx2`].)
const LANES: usize = 16;

/// The AVX2 instruction set when the CPU has it (`None`: plain code).
#[cfg(target_arch = "x86_64")]
type Avx2 = Option<pulp::x86::V3>;
#[cfg(not(target_arch = "x86_64"))]
type Avx2 = Option<std::convert::Infallible>;

/// Runs `f` with AVX2 enabled when the CPU has it, plainly otherwise. `f` must be an
/// `#[inline(always)]` closure calling `#[inline(always)]` functions: code that is not
/// inlined into pulp's target-feature function is compiled without AVX2.
#[inline(always)]
fn dispatch<R>(f: impl FnOnce(Avx2) -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        return simd.vectorize(
            #[inline(always)]
            move || f(Some(simd)),
        );
    }
    f(None)
}

/// Σ x_i y_i in f64 over [`LANES`] partial sums (element i goes to sum i mod LANES),
/// folded pairwise, then the tail: the same additions in the same order on both paths.
#[inline(always)]
fn dot(simd: Avx2, x: &[f32], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    let body = n / LANES * LANES;
    let mut acc = match simd {
        #[cfg(target_arch = "x86_64")]
        Some(simd) => partial_sums_avx2(simd, &x[..body], &y[..body]),
        _ => partial_sums(&x[..body], &y[..body]),
    };
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            acc[l] += acc[l + width];
        }
    }
    let mut s = acc[0];
    for i in body..n {
        s += f64::from(x[i]) * y[i];
    }
    s
}

/// [`dot`]'s partial sums, plain (lengths are multiples of [`LANES`]).
#[inline(always)]
fn partial_sums(x: &[f32], y: &[f64]) -> [f64; LANES] {
    let mut acc = [0f64; LANES];
    for (xc, yc) in x.chunks_exact(LANES).zip(y.chunks_exact(LANES)) {
        for l in 0..LANES {
            acc[l] += f64::from(xc[l]) * yc[l];
        }
    }
    acc
}

/// [`partial_sums`] in AVX2 registers, spelled out: the compiler vectorizes these
/// reductions only 2 wide. Multiply then add, never fused, as the plain version.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn partial_sums_avx2(simd: pulp::x86::V3, x: &[f32], y: &[f64]) -> [f64; LANES] {
    use pulp::bytemuck::cast;
    use pulp::{f32x4, f64x4};
    const G: usize = LANES / 4;
    let mut acc = [simd.splat_f64x4(0.0); G];
    for (xc, yc) in x.chunks_exact(LANES).zip(y.chunks_exact(LANES)) {
        for (g, a) in acc.iter_mut().enumerate() {
            let xv: [f32; 4] = xc[4 * g..4 * g + 4].try_into().expect("4 lanes");
            let yv: [f64; 4] = yc[4 * g..4 * g + 4].try_into().expect("4 lanes");
            let xv = simd.convert_f32x4_to_f64x4(cast::<[f32; 4], f32x4>(xv));
            let p = simd.mul_f64x4(xv, cast::<[f64; 4], f64x4>(yv));
            *a = simd.add_f64x4(*a, p);
        }
    }
    cast::<[f64x4; G], [f64; LANES]>(acc)
}

/// y += a x, widening x.
#[inline(always)]
fn axpy(y: &mut [f64], a: f64, x: &[f32]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += a * f64::from(xi);
    }
}

/// y = A x for the `[k x h]` row-major `a` (k = y.len()).
pub fn a_times(a: &[f32], h: usize, x: &[f64], y: &mut [f64]) {
    dispatch(
        #[inline(always)]
        |simd| {
            for (yi, row) in y.iter_mut().zip(a.chunks_exact(h.max(1))) {
                *yi = dot(simd, row, x);
            }
        },
    );
}

/// y = Aᵀ x for the `[k x h]` row-major `a` (k = x.len(), h = y.len()).
pub fn at_times(a: &[f32], x: &[f64], y: &mut [f64]) {
    let h = y.len();
    dispatch(
        #[inline(always)]
        |_elementwise_only| {
            y.fill(0.0);
            weighted_sum(y, x, |i| &a[i * h..(i + 1) * h]);
        },
    );
}

/// `out` = Σ_i w_i rows[idx_i] (rows of the `[n x width]` row-major `rows`), summed in f64
/// in `acc` (`width` entries) and rounded once to float32.
pub fn combine(
    w: &[f64],
    idx: &[u32],
    rows: &[f32],
    width: usize,
    acc: &mut [f64],
    out: &mut [f32],
) {
    dispatch(
        #[inline(always)]
        |_elementwise_only| {
            acc.fill(0.0);
            weighted_sum(acc, w, |i| {
                let start = idx[i] as usize * width;
                &rows[start..start + width]
            });
            for (o, a) in out.iter_mut().zip(acc.iter()) {
                *o = *a as f32;
            }
        },
    );
}

/// acc += Σ_i w_i row(i), [`BLOCK`] rows per pass over acc (one load and store of acc per
/// four rows instead of per row).
#[inline(always)]
fn weighted_sum<'r>(acc: &mut [f64], w: &[f64], row: impl Fn(usize) -> &'r [f32]) {
    let full = w.len() / BLOCK * BLOCK;
    for i in (0..full).step_by(BLOCK) {
        let c = [w[i], w[i + 1], w[i + 2], w[i + 3]];
        axpy4(acc, c, [row(i), row(i + 1), row(i + 2), row(i + 3)]);
    }
    for (i, &wi) in w.iter().enumerate().skip(full) {
        axpy(acc, wi, row(i));
    }
}

/// Rows (or columns) per pass in [`weighted_sum`] and [`llt_solve`].
const BLOCK: usize = 4;

/// y += Σ_c a_c x_c over [`BLOCK`] columns, widening the x_c, summed in a fixed order.
#[inline(always)]
fn axpy4(y: &mut [f64], a: [f64; BLOCK], x: [&[f32]; BLOCK]) {
    let n = y.len();
    let [x0, x1, x2, x3] = x.map(|c| &c[..n]);
    for i in 0..n {
        let p = a[0] * f64::from(x0[i]) + a[1] * f64::from(x1[i]);
        let q = a[2] * f64::from(x2[i]) + a[3] * f64::from(x3[i]);
        y[i] += p + q;
    }
}

/// Copies the lower triangle of the k x k column-major `l` onto its upper triangle, so
/// column j holds Lᵀ's column j above the diagonal and L's below: both triangular
/// solves of [`llt_solve`] then run down contiguous columns.
pub fn mirror_lower(l: &mut [f32], k: usize) {
    for j in 0..k {
        for i in 0..j {
            l[j * k + i] = l[i * k + j];
        }
    }
}

/// Solves L Lᵀ x = b in place, in f64, for the float32 Cholesky factor of a k x k
/// matrix stored column-major as [`mirror_lower`] leaves it (k = b.len()).
pub fn llt_solve(l: &[f32], b: &mut [f64]) {
    let k = b.len();
    let at = |i: usize, j: usize| f64::from(l[j * k + i]);
    let inv_diag = |j: usize| 1.0 / at(j, j);
    dispatch(
        #[inline(always)]
        |_elementwise_only| {
            // L y = b, by blocks of columns: each block's y from its diagonal block, then
            // the rest of b loses the block's columns times y.
            let mut j = 0;
            while j < k {
                let n = BLOCK.min(k - j);
                for c in 0..n {
                    let jj = j + c;
                    b[jj] *= inv_diag(jj);
                    for r in c + 1..n {
                        b[j + r] -= b[jj] * at(j + r, jj);
                    }
                }
                let rest = j + n;
                let mut y = [0f64; BLOCK];
                for c in 0..n {
                    y[c] = -b[j + c];
                }
                weighted_sum(&mut b[rest..], &y[..n], |c| {
                    &l[(j + c) * k + rest..(j + c + 1) * k]
                });
                j = rest;
            }
            // Lᵀ x = y, by blocks from the bottom, through Lᵀ's columns (upper triangle).
            let mut end = k;
            while end > 0 {
                let n = BLOCK.min(end);
                let s = end - n;
                for c in (0..n).rev() {
                    let jj = s + c;
                    b[jj] *= inv_diag(jj);
                    for r in 0..c {
                        b[s + r] -= b[jj] * at(s + r, jj);
                    }
                }
                let mut x = [0f64; BLOCK];
                for c in 0..n {
                    x[c] = -b[s + c];
                }
                weighted_sum(&mut b[..s], &x[..n], |c| &l[(s + c) * k..(s + c) * k + s]);
                end = s;
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u64) -> Vec<f32> {
        (0..n as u64)
            .map(|i| {
                let h = (i + seed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                (h >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn dot_matches_a_plain_sum_for_every_length() {
        for n in [0, 1, 15, 16, 17, 100, 513] {
            let x = values(n, 1);
            let y: Vec<f64> = values(n, 2).iter().map(|v| f64::from(*v)).collect();
            let plain: f64 = x.iter().zip(&y).map(|(a, b)| f64::from(*a) * b).sum();
            // With AVX2 where this CPU has it, and plainly.
            let ours = dispatch(
                #[inline(always)]
                |simd| dot(simd, &x, &y),
            );
            assert!((ours - plain).abs() <= 1e-12 * (1.0 + plain.abs()), "n {n}");
            assert_eq!(ours.to_bits(), dot(None, &x, &y).to_bits(), "n {n}");
        }
    }

    #[test]
    fn llt_solve_inverts_the_factor() {
        // Sizes around the block of four, and the diagonal's tail blocks.
        for k in [1, 3, 4, 5, 8, 37] {
            // L: diagonal above 1, entries in [-0.5, 0.5) below.
            let mut l = values(k * k, 3);
            for j in 0..k {
                for i in 0..k {
                    if i < j {
                        l[j * k + i] = f32::NAN; // overwritten by mirror_lower
                    } else if i == j {
                        l[j * k + i] = 1.0 + l[j * k + i].abs();
                    }
                }
            }
            let x: Vec<f64> = values(k, 4).iter().map(|v| f64::from(*v)).collect();
            // b = L (Lᵀ x), with L read from the lower triangle only.
            let lij = |i: usize, j: usize| if i >= j { f64::from(l[j * k + i]) } else { 0.0 };
            let y: Vec<f64> = (0..k)
                .map(|i| (0..k).map(|j| lij(j, i) * x[j]).sum())
                .collect();
            let mut b: Vec<f64> = (0..k)
                .map(|i| (0..k).map(|j| lij(i, j) * y[j]).sum())
                .collect();
            mirror_lower(&mut l, k);
            llt_solve(&l, &mut b);
            for (got, want) in b.iter().zip(&x) {
                assert!((got - want).abs() < 1e-12, "k {k}: {got} vs {want}");
            }
        }
    }
}
