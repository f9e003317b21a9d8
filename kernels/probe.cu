// A probe of one ceiling the regression's design rests on, run by `gpu_check` on a GPU
// machine (and by the tests through the shim): random 8-byte reads, as salt_regress makes
// when it gathers each token's Gram matrix from the anchors' Gram matrix. Each thread reads
// `reads` doubles at pseudo-random places of a table of `n` doubles (n a power of two, so
// that a mask picks the place) and writes their sum. With a table much larger than L2 each
// read is a 32-byte sector from HBM; with one that fits L2, from L2. (The other ceiling,
// f64 products, is probed with salt_anchor_gram itself.)
#include "salt_kernels.h"

// The place of read r of thread t: a 64-bit linear congruential step, its high bits.
__device__ __forceinline__ unsigned long long salt_probe_next(unsigned long long s) {
    return s * 6364136223846793005ULL + 1442695040888963407ULL;
}

extern "C" __global__ void salt_probe_gather(const double *table, long long n, int reads,
                                             unsigned long long seed, double *out) {
    const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    unsigned long long s = seed ^ ((unsigned long long)t * 0x9E3779B97F4A7C15ULL);
    const unsigned long long mask = (unsigned long long)n - 1;
    double sum = 0;
    for (int r = 0; r < reads; r++) {
        s = salt_probe_next(s);
        sum += table[(s >> 16) & mask];
    }
    out[t] = sum;
}
