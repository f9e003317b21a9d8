// Tiled products of row tables, C[r][c] = sum_d X[r][d] Y[c][d], in 64 x 64 tiles:
// - salt_cosine_tiled: similarities of a chunk of (normalised) queries to all anchors, f32
//   sums (the CPU path's precision: faer's f32 product);
// - salt_anchor_gram: the f64 Gram matrix of the anchors a regression uses (their PLM rows,
//   gathered through `rows`), lower tiles only, mirrored, so that each token's Gram matrix
//   is a gather from it instead of k^2 / 2 dot products of length h_t.
// Grid: (column tiles, row tiles). Each thread accumulates 4 x 4 outputs in registers from
// 16-wide slices of both tables staged in shared memory, already in the accumulator's type
// (a conversion per staged value, not one per product); a block of T threads takes the
// 256 sub-tiles of its tile in 256 / T passes (T a power of two up to 256).
#include "salt_kernels.h"

#define SALT_TILE 64
#define SALT_TILE_D 16

template <typename Acc, typename Out>
__device__ void salt_tile_product(const float *x, const unsigned *x_rows, int n_x,
                                  const float *y, const unsigned *y_rows, int n_y, int dim,
                                  Out *out, long long ld, int mirror,
                                  Acc (*xs)[SALT_TILE], Acc (*ys)[SALT_TILE]) {
    const int r0 = blockIdx.y * SALT_TILE, c0 = blockIdx.x * SALT_TILE;
    // A mirrored product computes the lower tiles only (the same for the whole block).
    if (mirror && c0 > r0) return;
    const int passes = (SALT_TILE / 4) * (SALT_TILE / 4) / blockDim.x;
    for (int pass = 0; pass < passes; pass++) {
        const int s = pass * blockDim.x + threadIdx.x;
        const int sr = (s / (SALT_TILE / 4)) * 4, sc = (s % (SALT_TILE / 4)) * 4;
        Acc acc[4][4];
        for (int u = 0; u < 4; u++)
            for (int v = 0; v < 4; v++) acc[u][v] = 0;
        for (int d0 = 0; d0 < dim; d0 += SALT_TILE_D) {
            // The last slice is still being read by the others until here.
            __syncthreads();
            for (int p = threadIdx.x; p < SALT_TILE * SALT_TILE_D; p += blockDim.x) {
                const int rr = p / SALT_TILE_D, dd = p % SALT_TILE_D, d = d0 + dd;
                const int r = r0 + rr, c = c0 + rr;
                xs[dd][rr] = r < n_x && d < dim
                                 ? (Acc)x[(long long)(x_rows ? x_rows[r] : r) * dim + d]
                                 : (Acc)0;
                ys[dd][rr] = c < n_y && d < dim
                                 ? (Acc)y[(long long)(y_rows ? y_rows[c] : c) * dim + d]
                                 : (Acc)0;
            }
            __syncthreads();
            for (int dd = 0; dd < SALT_TILE_D; dd++) {
                Acc a[4], b[4];
                salt_load4(&xs[dd][sr], a);
                salt_load4(&ys[dd][sc], b);
                for (int u = 0; u < 4; u++)
                    for (int v = 0; v < 4; v++) acc[u][v] += a[u] * b[v];
            }
        }
        for (int u = 0; u < 4; u++)
            for (int v = 0; v < 4; v++) {
                const int r = r0 + sr + u, c = c0 + sc + v;
                if (r >= n_x || c >= n_y || (mirror && c > r)) continue;
                out[(long long)r * ld + c] = (Out)acc[u][v];
                if (mirror && c < r) out[(long long)c * ld + r] = (Out)acc[u][v];
            }
    }
}

extern "C" __global__ void salt_cosine_tiled(const float *queries, int n_q, const float *anchors,
                                             int n_a, int dim, float *sims) {
    // Declared as vectors for their 16-byte alignment.
    __shared__ float4 xs[SALT_TILE_D][SALT_TILE / 4];
    __shared__ float4 ys[SALT_TILE_D][SALT_TILE / 4];
    salt_tile_product<float, float>(queries, 0, n_q, anchors, 0, n_a, dim, sims, n_a, 0,
                                    (float (*)[SALT_TILE])xs, (float (*)[SALT_TILE])ys);
}

// gram[i][j] = <anchors_t[rows[i]], anchors_t[rows[j]]> for i, j < n_u (n_u x n_u, f64).
extern "C" __global__ void salt_anchor_gram(const float *anchors_t, const unsigned *rows,
                                            int n_u, int h_t, double *gram) {
    __shared__ double2 xs[SALT_TILE_D][SALT_TILE / 2];
    __shared__ double2 ys[SALT_TILE_D][SALT_TILE / 2];
    salt_tile_product<double, double>(anchors_t, rows, n_u, anchors_t, rows, n_u, h_t, gram,
                                      n_u, 1, (double (*)[SALT_TILE])xs,
                                      (double (*)[SALT_TILE])ys);
}
