// Exact sparsemax per row of similarities, one block per row.
// salt_sparsemax_tau: Michelot's iteration t <- (sum_{z > t} z - 1) / #{z > t}, from any
// t at or below the threshold tau, rises to tau and stops there, where the set {z > t} no
// longer changes: that set is the support a full sort gives (the sums are f64, in another
// order than the sort's, so tau may differ from the CPU's in the last bits of a double).
// It starts from the larger of two lower bounds found in one pass over the row: the
// iteration's first step from -inf, and the threshold of the threads' largest values (a
// subset's threshold is at most the row's). A second pass copies the values above that
// start to shared memory, SALT_CAND / blockDim.x per thread, and the remaining steps read
// only those: two passes over the row. A thread with more values above the start than its
// share (not seen on real rows) sends the block back to stepping over the whole row.
// salt_sparsemax_support: the support's indices, ascending, and weights z - tau, written
// from out_offsets[row] (the host's prefix sum of the counts); the row is read coalesced,
// a tile at a time, into shared memory.
#include "salt_kernels.h"

#define SALT_MICHELOT_STEPS 1000
// Floats of a row's candidates in shared memory (32 KB).
#define SALT_CAND 8192

// The block's sums of s and n, in every thread.
__device__ void salt_block_sum(double *sum, int *num, double *s, int *n) {
    sum[threadIdx.x] = *s;
    num[threadIdx.x] = *n;
    __syncthreads();
    for (unsigned h = blockDim.x / 2; h > 0; h /= 2) {
        if (threadIdx.x < h) {
            sum[threadIdx.x] += sum[threadIdx.x + h];
            num[threadIdx.x] += num[threadIdx.x + h];
        }
        __syncthreads();
    }
    *s = sum[0];
    *n = num[0];
    // Every thread has read the totals before the arrays are written again.
    __syncthreads();
}

extern "C" __global__ void salt_sparsemax_tau(const float *sims, int n_a, double *tau,
                                              int *count) {
    __shared__ double sum[SALT_MAX_BLOCK];
    __shared__ int num[SALT_MAX_BLOCK];
    __shared__ float cand[SALT_CAND];
    const float *z = sims + (long long)blockIdx.x * n_a;
    const int slots = SALT_CAND / blockDim.x;
    // 1. Pass one: the row's sum and size, and this thread's largest value.
    double s = 0.0, top = -1.0e300;
    int n = 0;
    for (int a = threadIdx.x; a < n_a; a += blockDim.x) {
        const double v = (double)z[a];
        s += v;
        n++;
        top = v > top ? v : top;
    }
    const int mine = n > 0;
    salt_block_sum(sum, num, &s, &n);
    if (n == 0) {
        if (threadIdx.x == 0) {
            tau[blockIdx.x] = -1.0e300;
            count[blockIdx.x] = 0;
        }
        return;
    }
    double start = (s - 1.0) / (double)n;
    // The threshold of the threads' largest values, by the same iteration.
    double t = -1.0e300;
    for (int prev = -1, step = 0; step < SALT_MICHELOT_STEPS; step++) {
        double ss = mine && top > t ? top : 0.0;
        int nn = mine && top > t ? 1 : 0;
        salt_block_sum(sum, num, &ss, &nn);
        if (nn == prev) break;
        prev = nn;
        t = (ss - 1.0) / (double)nn;
    }
    start = t > start ? t : start;
    // 2. Pass two: this thread's values above the start, into its slots.
    int c = 0;
    for (int a = threadIdx.x; a < n_a; a += blockDim.x) {
        const float v = z[a];
        if ((double)v > start) {
            if (c < slots) cand[threadIdx.x * slots + c] = v;
            c++;
        }
    }
    double spill = 0.0;
    int over = c > slots ? 1 : 0;
    salt_block_sum(sum, num, &spill, &over);
    // 3. The iteration from the start, over the slots or, if one overflowed, the row.
    t = start;
    int n_prev = -1;
    for (int step = 0; step < SALT_MICHELOT_STEPS; step++) {
        double ss = 0.0;
        int nn = 0;
        if (over == 0) {
            for (int i = 0; i < c; i++) {
                const double v = (double)cand[threadIdx.x * slots + i];
                if (v > t) {
                    ss += v;
                    nn++;
                }
            }
        } else {
            for (int a = threadIdx.x; a < n_a; a += blockDim.x) {
                const double v = (double)z[a];
                if (v > t) {
                    ss += v;
                    nn++;
                }
            }
        }
        salt_block_sum(sum, num, &ss, &nn);
        if (nn == 0 || nn == n_prev) break;
        n_prev = nn;
        t = (ss - 1.0) / (double)nn;
    }
    if (threadIdx.x == 0) {
        tau[blockIdx.x] = t;
        count[blockIdx.x] = n_prev < 0 ? 0 : n_prev;
    }
}

// Row values per tile of salt_sparsemax_support, and the tile in shared memory with one
// float of padding every 32, so that threads reading their own contiguous runs of 32 hit
// 32 different banks (33 KB).
#define SALT_SUPPORT_TILE 8192
#define SALT_PAD(i) ((i) + (i) / 32)

extern "C" __global__ void salt_sparsemax_support(const float *sims, int n_a, const double *tau,
                                                  const long long *out_offsets,
                                                  unsigned *out_index, float *out_weight) {
    __shared__ float buf[SALT_PAD(SALT_SUPPORT_TILE)];
    __shared__ int before[SALT_MAX_BLOCK];
    __shared__ int total;
    const float *z = sims + (long long)blockIdx.x * n_a;
    const double t = tau[blockIdx.x];
    long long o_row = out_offsets[blockIdx.x];
    // Tile by tile: the row read coalesced into shared memory, then each thread takes one
    // contiguous run of it, so that the output stays in index order.
    for (int base = 0; base < n_a; base += SALT_SUPPORT_TILE) {
        const int len = n_a - base < SALT_SUPPORT_TILE ? n_a - base : SALT_SUPPORT_TILE;
        // The last tile's runs are written.
        __syncthreads();
        for (int i = threadIdx.x; i < len; i += blockDim.x) buf[SALT_PAD(i)] = z[base + i];
        __syncthreads();
        const int chunk = (len + blockDim.x - 1) / blockDim.x, me = (int)threadIdx.x;
        const int lo = me * chunk < len ? me * chunk : len;
        const int hi = lo + chunk < len ? lo + chunk : len;
        int n = 0;
        for (int a = lo; a < hi; a++) n += (double)buf[SALT_PAD(a)] > t ? 1 : 0;
        before[threadIdx.x] = n;
        __syncthreads();
        if (threadIdx.x == 0) {
            int acc = 0;
            for (unsigned i = 0; i < blockDim.x; i++) {
                const int c = before[i];
                before[i] = acc;
                acc += c;
            }
            total = acc;
        }
        __syncthreads();
        long long o = o_row + before[threadIdx.x];
        for (int a = lo; a < hi; a++) {
            const double v = (double)buf[SALT_PAD(a)];
            if (v > t) {
                out_index[o] = (unsigned)(base + a);
                out_weight[o] = (float)(v - t);
                o++;
            }
        }
        o_row += total;
    }
}
