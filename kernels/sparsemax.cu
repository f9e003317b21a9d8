// Exact sparsemax per row of similarities, one block per row.
// salt_sparsemax_tau: Michelot's iteration t <- (sum_{z > t} z - 1) / #{z > t} from
// t = -inf rises to the threshold tau and stops there, where the set {z > t} no longer
// changes: that set is the support a full sort gives (the sums are f64, in another order
// than the sort's, so tau may differ from the CPU's in the last bits of a double).
// salt_sparsemax_support: the support's indices, ascending, and weights z - tau, written
// from out_offsets[row] (the host's prefix sum of the counts).
#include "salt_kernels.h"

#define SALT_MICHELOT_STEPS 1000

extern "C" __global__ void salt_sparsemax_tau(const float *sims, int n_a, double *tau,
                                              int *count) {
    __shared__ double sum[SALT_MAX_BLOCK];
    __shared__ int num[SALT_MAX_BLOCK];
    const float *z = sims + (long long)blockIdx.x * n_a;
    double t = -1.0e300;
    int n_prev = -1;
    for (int step = 0; step < SALT_MICHELOT_STEPS; step++) {
        double s = 0.0;
        int n = 0;
        for (int a = threadIdx.x; a < n_a; a += blockDim.x) {
            const double v = (double)z[a];
            if (v > t) {
                s += v;
                n++;
            }
        }
        sum[threadIdx.x] = s;
        num[threadIdx.x] = n;
        __syncthreads();
        for (unsigned h = blockDim.x / 2; h > 0; h /= 2) {
            if (threadIdx.x < h) {
                sum[threadIdx.x] += sum[threadIdx.x + h];
                num[threadIdx.x] += num[threadIdx.x + h];
            }
            __syncthreads();
        }
        const double total = sum[0];
        const int n_all = num[0];
        __syncthreads();
        if (n_all == 0 || n_all == n_prev) break;
        n_prev = n_all;
        t = (total - 1.0) / (double)n_all;
    }
    if (threadIdx.x == 0) {
        tau[blockIdx.x] = t;
        count[blockIdx.x] = n_prev < 0 ? 0 : n_prev;
    }
}

extern "C" __global__ void salt_sparsemax_support(const float *sims, int n_a, const double *tau,
                                                  const long long *out_offsets,
                                                  unsigned *out_index, float *out_weight) {
    __shared__ int before[SALT_MAX_BLOCK];
    const float *z = sims + (long long)blockIdx.x * n_a;
    const double t = tau[blockIdx.x];
    // Each thread takes one contiguous chunk, so that the output stays in index order.
    const int chunk = (n_a + blockDim.x - 1) / blockDim.x;
    const int lo = threadIdx.x * chunk;
    const int hi = lo + chunk < n_a ? lo + chunk : n_a;
    int n = 0;
    for (int a = lo; a < hi; a++) n += (double)z[a] > t ? 1 : 0;
    before[threadIdx.x] = n;
    __syncthreads();
    if (threadIdx.x == 0) {
        int acc = 0;
        for (unsigned i = 0; i < blockDim.x; i++) {
            const int c = before[i];
            before[i] = acc;
            acc += c;
        }
    }
    __syncthreads();
    long long o = out_offsets[blockIdx.x] + before[threadIdx.x];
    for (int a = lo; a < hi; a++) {
        const double v = (double)z[a];
        if (v > t) {
            out_index[o] = (unsigned)a;
            out_weight[o] = (float)(v - t);
            o++;
        }
    }
}
