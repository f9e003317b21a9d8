// Cosine similarities of a block of queries to all anchors (rows already L2-normalised
// on the host, as the CPU path normalises them): sims[r * n_a + a] = <q_r, a_a>, summed
// in f64 and rounded once to f32. Grid: (anchor blocks, query rows), grid-stride over the
// anchors; the query row is staged in shared memory in tiles of SALT_COS_TILE values.
#include "salt_kernels.h"

#define SALT_COS_TILE 512

extern "C" __global__ void salt_cosine(const float *queries, const float *anchors, int dim,
                                       int n_a, float *sims) {
    __shared__ float qs[SALT_COS_TILE];
    const int r = blockIdx.y;
    const float *q = queries + (long long)r * dim;
    const int stride = gridDim.x * blockDim.x;
    if (dim <= SALT_COS_TILE) {
        // The whole query row staged once (fastText and PLM widths).
        for (int d = threadIdx.x; d < dim; d += blockDim.x) qs[d] = q[d];
        __syncthreads();
        for (int a = blockIdx.x * blockDim.x + threadIdx.x; a < n_a; a += stride) {
            const float *v = anchors + (long long)a * dim;
            double s = 0.0;
            for (int d = 0; d < dim; d++) s += (double)qs[d] * (double)v[d];
            sims[(long long)r * n_a + a] = (float)s;
        }
        return;
    }
    // Wider rows, tile by tile. The loop bounds are the same for every thread of the
    // block, so all of them reach each __syncthreads().
    for (int a0 = blockIdx.x * blockDim.x; a0 < n_a; a0 += stride) {
        const int a = a0 + threadIdx.x;
        double s = 0.0;
        for (int d0 = 0; d0 < dim; d0 += SALT_COS_TILE) {
            const int n = dim - d0 < SALT_COS_TILE ? dim - d0 : SALT_COS_TILE;
            for (int d = threadIdx.x; d < n; d += blockDim.x) qs[d] = q[d0 + d];
            __syncthreads();
            if (a < n_a) {
                const float *v = anchors + (long long)a * dim + d0;
                for (int d = 0; d < n; d++) s += (double)qs[d] * (double)v[d];
            }
            __syncthreads();
        }
        if (a < n_a) sims[(long long)r * n_a + a] = (float)s;
    }
}
