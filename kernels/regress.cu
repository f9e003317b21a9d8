// The per-token regression of docs/method.md section 4, one block per token:
//   A = anchors_t[idx] (k x h_t), e = queries_t[q], G = A A^T (k x k, f64),
//   w = G^-1 (A e) by Cholesky and two triangular solves, row = w B (B = anchors_s[idx]).
// G is in shared memory for k <= SALT_SHARED_K (salt_regress_shared) and in a global
// scratch of k*k doubles per token otherwise (salt_regress_global). A pivot at or below
// `pivot_tol` times the largest diagonal entry marks the token (status 1): G is too close
// to singular for G^-1 = G^+, and the host solves it on the CPU path instead.
// With `affine` (salt-centred) the same solve runs in the support's centred coordinates and
// the weights are made to sum to one (steps 1b and 3b).
#include "salt_kernels.h"

// The row i and column j <= i of the p-th entry of a lower triangle stored row by row.
__device__ void salt_tri_index(int p, int *i, int *j) {
    int r = (int)((sqrt(8.0 * p + 1.0) - 1.0) / 2.0);
    while (r * (r + 1) / 2 > p) r--;
    while ((r + 1) * (r + 2) / 2 <= p) r++;
    *i = r;
    *j = p - r * (r + 1) / 2;
}

__device__ void salt_regress_token(
    const float *anchors_t, const float *queries_t, int h_t,
    const float *anchors_s, const float *anchors_out, int h_s,
    const long long *offsets, const unsigned *anchor, const int *tokens,
    double pivot_tol, int affine, float *out_embd, float *out_output, float *out_w,
    int *status, double *G, double *rhs, double *rmean) {
    const int q = tokens[blockIdx.x];
    const long long start = offsets[q];
    const int k = (int)(offsets[q + 1] - start);
    const unsigned *idx = anchor + start;
    const float *e = queries_t + (long long)q * h_t;
    // 1. Lower triangle of G and A e, f64 sums of f32 products.
    const int pairs = k * (k + 1) / 2;
    for (int p = threadIdx.x; p < pairs + k; p += blockDim.x) {
        if (p < pairs) {
            int i, j;
            salt_tri_index(p, &i, &j);
            const float *a = anchors_t + (long long)idx[i] * h_t;
            const float *b = anchors_t + (long long)idx[j] * h_t;
            double s = 0.0;
            for (int d = 0; d < h_t; d++) s += (double)a[d] * (double)b[d];
            G[i * k + j] = s;
        } else {
            const int i = p - pairs;
            const float *a = anchors_t + (long long)idx[i] * h_t;
            double s = 0.0;
            for (int d = 0; d < h_t; d++) s += (double)a[d] * (double)e[d];
            rhs[i] = s;
        }
    }
    __syncthreads();
    // 1b. Affine weights: G_c = H G H and b_c = H (A e - G 1 / k), H = I - 1 1^T / k, from
    // the f64 sums above (the rows of A - 1 mu^T, mu their mean). G_c is singular along 1,
    // so c 1 1^T is added (c > 0, G_c's largest diagonal entry): on the complement of 1,
    // where b_c lies, the solve is unchanged, and the weights' 1-component is set in 3b.
    if (affine) {
        for (int i = threadIdx.x; i < k; i += blockDim.x) {
            double s = 0.0;
            for (int j = 0; j < k; j++) s += j <= i ? G[i * k + j] : G[j * k + i];
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
            const double d = G[i * k + i] - 2.0 * rmean[i] + m;
            c = d > c ? d : c;
        }
        if (!(c > 0.0)) c = 1.0;
        // Every thread has read G's diagonal and rhs before any of them changes.
        __syncthreads();
        for (int p = threadIdx.x; p < pairs; p += blockDim.x) {
            int i, j;
            salt_tri_index(p, &i, &j);
            G[i * k + j] += m + c - rmean[i] - rmean[j];
        }
        for (int i = threadIdx.x; i < k; i += blockDim.x) rhs[i] += m - eb - rmean[i];
        __syncthreads();
    }
    double dmax = 0.0;
    for (int i = 0; i < k; i++) dmax = G[i * k + i] > dmax ? G[i * k + i] : dmax;
    // 2. Cholesky G = L L^T in place (lower triangle), column by column. Every thread
    // reads the pivot itself (the same value, written before the last barrier), so the
    // decision to stop is the same in all of them; thread 0 stores L_jj at the end.
    int singular = 0;
    for (int j = 0; j < k; j++) {
        const double d = G[j * k + j];
        if (!(d > pivot_tol * dmax)) {
            singular = 1;
            break;
        }
        const double ljj = sqrt(d);
        for (int i = j + 1 + threadIdx.x; i < k; i += blockDim.x) G[i * k + j] /= ljj;
        __syncthreads();
        // Trailing update: G[i][l] -= L[i][j] L[l][j] for j < l <= i.
        const int m = k - j - 1;
        const int tri = m * (m + 1) / 2;
        for (int p = threadIdx.x; p < tri; p += blockDim.x) {
            int r, c;
            salt_tri_index(p, &r, &c);
            const int i = j + 1 + r, l = j + 1 + c;
            G[i * k + l] -= G[i * k + j] * G[l * k + j];
        }
        if (threadIdx.x == 0) G[j * k + j] = ljj;
        __syncthreads();
    }
    if (singular) {
        if (threadIdx.x == 0) status[q] = 1;
        return;
    }
    // 3. L y = A e, then L^T w = y, by thread 0 (k^2 work, no barrier per column); rhs is
    // overwritten by y, then by w.
    if (threadIdx.x == 0) {
        for (int j = 0; j < k; j++) {
            double v = rhs[j];
            for (int i = 0; i < j; i++) v -= G[j * k + i] * rhs[i];
            rhs[j] = v / G[j * k + j];
        }
        for (int j = k - 1; j >= 0; j--) {
            double v = rhs[j];
            for (int i = j + 1; i < k; i++) v -= G[i * k + j] * rhs[i];
            rhs[j] = v / G[j * k + j];
        }
    }
    __syncthreads();
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
    // 4. The rows: w B (and w B_out), f64 sums; the weights as f32.
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

extern "C" __global__ void salt_regress_shared(
    const float *anchors_t, const float *queries_t, int h_t,
    const float *anchors_s, const float *anchors_out, int h_s,
    const long long *offsets, const unsigned *anchor, const int *tokens,
    double pivot_tol, int affine, float *out_embd, float *out_output, float *out_w,
    int *status) {
    __shared__ double G[SALT_SHARED_K * SALT_SHARED_K];
    __shared__ double rhs[SALT_SHARED_K];
    __shared__ double rmean[SALT_SHARED_K];
    salt_regress_token(anchors_t, queries_t, h_t, anchors_s, anchors_out, h_s, offsets,
                       anchor, tokens, pivot_tol, affine, out_embd, out_output, out_w, status,
                       G, rhs, rmean);
}

// scratch: per block (token of this launch) k_max*k_max + 2*k_max doubles.
extern "C" __global__ void salt_regress_global(
    const float *anchors_t, const float *queries_t, int h_t,
    const float *anchors_s, const float *anchors_out, int h_s,
    const long long *offsets, const unsigned *anchor, const int *tokens,
    double pivot_tol, int affine, float *out_embd, float *out_output, float *out_w,
    int *status, double *scratch, int k_max) {
    double *G = scratch + (long long)blockIdx.x * ((long long)k_max * k_max + 2 * k_max);
    double *rhs = G + (long long)k_max * k_max;
    salt_regress_token(anchors_t, queries_t, h_t, anchors_s, anchors_out, h_s, offsets,
                       anchor, tokens, pivot_tol, affine, out_embd, out_output, out_w, status,
                       G, rhs, rhs + k_max);
}
