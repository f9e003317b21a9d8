// The per-token regression of docs/method.md section 4, one block per token:
//   A = anchors_t[idx] (k x h_t), e = queries_t[q], G = A A^T (k x k, f64),
//   w = G^-1 (A e) by a blocked left-looking Cholesky that also solves L y = A e, then a
//   blocked L^T w = y, and row = w B (B = anchors_s[idx], and w B_out).
// G comes from the anchors' Gram matrix when the host made one (salt_anchor_gram in
// product.cu: a gather of k^2 / 2 entries), else from k^2 / 2 dot products here. It lives in
// a global scratch of k_max^2 + 3 k_max doubles per block (k rows of stride k, then A e, the
// row means, the reciprocals of L's diagonal); the Cholesky's panel and the columns left of
// it are staged in shared memory. A pivot at or below `pivot_tol` times G's largest
// diagonal entry marks the token (status 1): G is too close to singular for G^-1 = G^+, and
// the host solves it on the CPU path instead.
// With `affine` (salt-centred) the same solve runs in the support's centred coordinates and
// the weights are made to sum to one (steps 1c and 3b).
// Barriers per token: about 2 k / (threads / 32) for A e, 3 per panel of the Cholesky and 2
// per staged block of columns left of it, 2 per block of the backward solve. The kernel is
// written for 256 threads, and runs (slower) with any power of two down to 1.
#include "salt_kernels.h"

// Doubles of the Cholesky's shared memory (44 KB): the panel T (nb columns) and the staged
// columns S (cs columns), each of k rows padded to a multiple of 4.
#define SALT_PANEL 5632
#define SALT_NB 16
#define SALT_CS 8

// Columns of S for a support of k: a third of what fits, at most SALT_CS, at least 1.
__device__ int salt_stage_columns(int k) {
    const int w = SALT_PANEL / (k + 3), cs = w / 3 < SALT_CS ? w / 3 : SALT_CS;
    return cs > 1 ? cs : 1;
}

// Columns per panel: the rest, at most SALT_NB (each panel's left columns are read once
// from L2, so wider panels read less).
__device__ int salt_panel_columns(int k) {
    const int nb = SALT_PANEL / (k + 3) - salt_stage_columns(k);
    return nb < SALT_NB ? nb : SALT_NB;
}

// G[i][j] for j <= i: a gather from the anchors' Gram matrix, or the dot product.
__device__ void salt_gram_entries(const float *anchors_t, int h_t, const unsigned *idx, int k,
                                  const double *gram, const int *gram_row, long long n_u,
                                  double *G) {
    // Four rows at a time (no division per entry; four loads in flight before the stores);
    // the threads of a row read left to right.
    for (int i0 = 0; i0 < k; i0 += 4) {
        for (int j = threadIdx.x; j < i0 + 4 && j < k; j += blockDim.x) {
            double v[4];
            for (int u = 0; u < 4; u++) {
                const int i = i0 + u;
                v[u] = 0.0;
                if (i >= k || j > i) continue;
                if (gram) {
                    v[u] = gram[(long long)gram_row[idx[i]] * n_u + gram_row[idx[j]]];
                } else {
                    const float *a = anchors_t + (long long)idx[i] * h_t;
                    const float *b = anchors_t + (long long)idx[j] * h_t;
                    for (int d = 0; d < h_t; d++) v[u] += (double)a[d] * (double)b[d];
                }
            }
            for (int u = 0; u < 4; u++)
                if (i0 + u < k && j <= i0 + u) G[(long long)(i0 + u) * k + j] = v[u];
        }
    }
}

// rhs = A e: groups of `lanes` threads share a row (consecutive threads read consecutive
// floats of it), then lane 0 sums the group's partial sums.
__device__ void salt_a_dot_e(const float *anchors_t, int h_t, const unsigned *idx, int k,
                             const float *e, double *red, double *rhs) {
    const int lanes = blockDim.x < 32 ? blockDim.x : 32;
    const int groups = blockDim.x / lanes;
    const int lane = threadIdx.x % lanes, grp = threadIdx.x / lanes;
    for (int i0 = 0; i0 < k; i0 += groups) {
        const int i = i0 + grp;
        double s = 0.0;
        if (i < k) {
            const float *a = anchors_t + (long long)idx[i] * h_t;
            for (int d = lane; d < h_t; d += lanes) s += (double)a[d] * (double)e[d];
        }
        red[threadIdx.x] = s;
        __syncthreads();
        if (lane == 0 && i < k) {
            double r = 0.0;
            for (int l = 0; l < lanes; l++) r += red[threadIdx.x + l];
            rhs[i] = r;
        }
        __syncthreads();
    }
}

// Affine weights: G_c = H G H and b_c = H (A e - G 1 / k), H = I - 1 1^T / k, from the f64
// sums (the rows of A - 1 mu^T, mu their mean). G_c is singular along 1, so c 1 1^T is
// added (c > 0, G_c's largest diagonal entry): on the complement of 1, where b_c lies, the
// solve is unchanged, and the weights' 1-component is set in step 3b.
__device__ void salt_centre(int k, double *G, double *rhs, double *rmean) {
    for (int i = threadIdx.x; i < k; i += blockDim.x) {
        double s = 0.0;
        for (int j = 0; j < k; j++)
            s += j <= i ? G[(long long)i * k + j] : G[(long long)j * k + i];
        rmean[i] = s / k;
    }
    __syncthreads();
    double m = 0.0, eb = 0.0, c = 0.0;
    for (int i = 0; i < k; i++) {
        m += rmean[i];
        eb += rhs[i];
    }
    m /= k;
    eb /= k;
    for (int i = 0; i < k; i++) {
        const double d = G[(long long)i * k + i] - 2.0 * rmean[i] + m;
        c = d > c ? d : c;
    }
    if (!(c > 0.0)) c = 1.0;
    // Every thread has read G's diagonal and rhs before any of them changes.
    __syncthreads();
    for (int i = 0; i < k; i++)
        for (int j = threadIdx.x; j <= i; j += blockDim.x)
            G[(long long)i * k + j] += m + c - rmean[i] - rmean[j];
    for (int i = threadIdx.x; i < k; i += blockDim.x) rhs[i] += m - eb - rmean[i];
    __syncthreads();
}

// G = L L^T in place (lower triangle), left-looking by panels of nb columns, and the
// forward solve L y = rhs with it (y replaces rhs). For the panel [j0, j1), with the m rows
// j0..k-1 padded to mp (a multiple of 4) in shared memory:
// (1) T = G[j0.., j0..j1) is staged, then loses L[j0.., c] L[j0..j1, c]^T for every column
//     c < j0, cs columns at a time staged in S (coalesced rows of L), each thread a 4 x 4
//     tile of T in registers, read as 16-byte vectors;
// (2) thread 0 factors T's nb x nb diagonal block (checking each pivot), keeps the
//     reciprocals of its diagonal (rdiag for (3), idiag for the backward solve) and solves
//     the block's part of y;
// (3) every thread takes rows below the block: L21 = T21 L11^-T, a row each, written to G,
//     and the row's rhs loses L21 y.
// Every entry of L is read from L2 once per later panel (not loaded and stored, as a
// right-looking update would). Returns 1 (the same in every thread) when a pivot is too small.
__device__ int salt_cholesky(int k, double *G, double *rhs, double pivot_tol, double *T,
                             double *rdiag, double *idiag, int *stop) {
    const int nb_max = salt_panel_columns(k), cs = salt_stage_columns(k);
    double dmax = 0.0;
    for (int i = 0; i < k; i++) {
        const double d = G[(long long)i * k + i];
        dmax = d > dmax ? d : dmax;
    }
    for (int j0 = 0; j0 < k; j0 += nb_max) {
        const int nb = k - j0 < nb_max ? k - j0 : nb_max;
        const int m = k - j0, mp = (m + 3) & ~3;
        double *S = T + nb_max * mp;
        for (int p = threadIdx.x; p < mp * nb; p += blockDim.x) {
            const int r = p / nb, jj = p % nb;
            T[jj * mp + r] = r < m && r >= jj ? G[(long long)(j0 + r) * k + j0 + jj] : 0.0;
        }
        // (1) the columns left of the panel, cs at a time.
        const int tiles = (mp / 4) * ((nb + 3) / 4);
        for (int c0 = 0; c0 < j0; c0 += cs) {
            const int cw = j0 - c0 < cs ? j0 - c0 : cs;
            // T is staged, and the last columns' tiles are done.
            __syncthreads();
            for (int p = threadIdx.x; p < mp * cs; p += blockDim.x) {
                const int r = p / cs, cc = p % cs;
                S[cc * mp + r] = r < m && cc < cw ? G[(long long)(j0 + r) * k + c0 + cc] : 0.0;
            }
            __syncthreads();
            for (int t = threadIdx.x; t < tiles; t += blockDim.x) {
                const int ti = (t / ((nb + 3) / 4)) * 4, tj = (t % ((nb + 3) / 4)) * 4;
                // Tiles wholly above the diagonal stay zero.
                if (ti + 3 < tj) continue;
                double acc[4][4];
                for (int u = 0; u < 4; u++)
                    for (int v = 0; v < 4; v++) acc[u][v] = 0.0;
                for (int cc = 0; cc < cw; cc++) {
                    double a[4], b[4];
                    salt_load4(&S[cc * mp + ti], a);
                    salt_load4(&S[cc * mp + tj], b);
                    for (int u = 0; u < 4; u++)
                        for (int v = 0; v < 4; v++) acc[u][v] += a[u] * b[v];
                }
                for (int u = 0; u < 4; u++)
                    for (int v = 0; v < 4; v++)
                        if (tj + v < nb && ti + u >= tj + v) T[(tj + v) * mp + ti + u] -= acc[u][v];
            }
        }
        __syncthreads();
        // (2) the diagonal block and its part of y.
        if (threadIdx.x == 0) {
            int bad = 0;
            for (int jj = 0; jj < nb && !bad; jj++) {
                double d = T[jj * mp + jj];
                for (int c = 0; c < jj; c++) d -= T[c * mp + jj] * T[c * mp + jj];
                if (!(d > pivot_tol * dmax)) {
                    bad = 1;
                    break;
                }
                const double ljj = sqrt(d), r = 1.0 / ljj;
                T[jj * mp + jj] = ljj;
                G[(long long)(j0 + jj) * k + j0 + jj] = ljj;
                rdiag[jj] = r;
                idiag[j0 + jj] = r;
                for (int i = jj + 1; i < nb; i++) {
                    double v = T[jj * mp + i];
                    for (int c = 0; c < jj; c++) v -= T[c * mp + i] * T[c * mp + jj];
                    v *= r;
                    T[jj * mp + i] = v;
                    G[(long long)(j0 + i) * k + j0 + jj] = v;
                }
                double y = rhs[j0 + jj];
                for (int c = 0; c < jj; c++) y -= T[c * mp + jj] * rhs[j0 + c];
                rhs[j0 + jj] = y * r;
            }
            *stop = bad;
        }
        __syncthreads();
        if (*stop) return 1;
        // (3) the rows below the block, and their rhs.
        for (int r = nb + threadIdx.x; r < m; r += blockDim.x) {
            double *row = G + (long long)(j0 + r) * k + j0;
            double y = rhs[j0 + r];
            for (int jj = 0; jj < nb; jj++) {
                double v = T[jj * mp + r];
                for (int c = 0; c < jj; c++) v -= T[c * mp + r] * T[c * mp + jj];
                v *= rdiag[jj];
                T[jj * mp + r] = v;
                row[jj] = v;
                y -= v * rhs[j0 + jj];
            }
            rhs[j0 + r] = y;
        }
        // The next panel reads these rows of L (and T is staged again).
        __syncthreads();
    }
    return 0;
}

// L^T w = y, in place, by blocks of SALT_NB: thread 0 solves a block's triangle, then every
// thread takes the block's share out of the rows still to solve.
__device__ void salt_backward(int k, const double *G, const double *idiag, double *rhs) {
    for (int j1 = k; j1 > 0; j1 -= SALT_NB) {
        const int j0 = j1 - SALT_NB > 0 ? j1 - SALT_NB : 0;
        if (threadIdx.x == 0)
            for (int j = j1 - 1; j >= j0; j--) {
                double v = rhs[j];
                for (int c = j + 1; c < j1; c++) v -= G[(long long)c * k + j] * rhs[c];
                rhs[j] = v * idiag[j];
            }
        __syncthreads();
        for (int i = threadIdx.x; i < j0; i += blockDim.x) {
            double v = rhs[i];
            for (int c = j0; c < j1; c++) v -= G[(long long)c * k + i] * rhs[c];
            rhs[i] = v;
        }
        __syncthreads();
    }
}

// scratch: per block (token of this launch) k_max * k_max + 3 * k_max doubles.
extern "C" __global__ void salt_regress(
    const float *anchors_t, const float *queries_t, int h_t,
    const float *anchors_s, const float *anchors_out, int h_s,
    const long long *offsets, const unsigned *anchor, const int *tokens,
    double pivot_tol, int affine, float *out_embd, float *out_output, float *out_w,
    int *status, const double *gram, const int *gram_row, long long n_u, double *scratch,
    int k_max) {
    // Declared as vectors for their 16-byte alignment.
    __shared__ double2 panel[SALT_PANEL / 2];
    __shared__ double red[SALT_MAX_BLOCK];
    __shared__ double rdiag[SALT_NB];
    __shared__ int stop;
    const int q = tokens[blockIdx.x];
    const long long start = offsets[q];
    const int k = (int)(offsets[q + 1] - start);
    const unsigned *idx = anchor + start;
    double *G = scratch + (long long)blockIdx.x * ((long long)k_max * k_max + 3 * k_max);
    double *rhs = G + (long long)k_max * k_max;
    double *rmean = rhs + k_max;
    double *idiag = rmean + k_max;
    // 1. G's lower triangle and A e (f64 sums of f32 products).
    salt_gram_entries(anchors_t, h_t, idx, k, gram, gram_row, n_u, G);
    salt_a_dot_e(anchors_t, h_t, idx, k, queries_t + (long long)q * h_t, red, rhs);
    // 1c. salt-centred: the support's centred coordinates.
    if (affine) salt_centre(k, G, rhs, rmean);
    // 2. Cholesky and y = L^-1 (A e); a token too close to singular goes back to the host.
    if (salt_cholesky(k, G, rhs, pivot_tol, (double *)panel, rdiag, idiag, &stop)) {
        if (threadIdx.x == 0) status[q] = 1;
        return;
    }
    // 3. w = L^-T y = G^-1 (A e).
    salt_backward(k, G, idiag, rhs);
    // 3b. Affine weights sum to one: 1/k of what they lack goes to each (the exact
    // G_c^+ b_c sums to zero; this also removes what the shift c 1 1^T left along 1).
    if (affine) {
        if (threadIdx.x == 0) {
            double s = 0.0;
            for (int i = 0; i < k; i++) s += rhs[i];
            const double rest = (1.0 - s) / k;
            for (int i = 0; i < k; i++) rhs[i] += rest;
        }
        __syncthreads();
    }
    // 4. The rows: w B (and w B_out), f64 sums, consecutive threads on consecutive columns;
    // the weights as f32.
    for (int i = threadIdx.x; i < k; i += blockDim.x) out_w[start + i] = (float)rhs[i];
    for (int c = threadIdx.x; c < h_s; c += blockDim.x) {
        double s = 0.0, o = 0.0;
        for (int i = 0; i < k; i++) {
            s += rhs[i] * (double)anchors_s[(long long)idx[i] * h_s + c];
            if (anchors_out) o += rhs[i] * (double)anchors_out[(long long)idx[i] * h_s + c];
        }
        out_embd[(long long)q * h_s + c] = (float)s;
        if (anchors_out) out_output[(long long)q * h_s + c] = (float)o;
    }
    if (threadIdx.x == 0) status[q] = 0;
}
