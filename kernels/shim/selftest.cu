// Kernels that break the rules of README.md on purpose, compiled into the shim only (never
// for a GPU): the shim's own tests show that it fails them the way a GPU would.
#include "salt_kernels.h"

// A divergent barrier: only the even threads of a block wait at it.
extern "C" __global__ void salt_selftest_divergent(int *out) {
    if (threadIdx.x % 2 == 0) __syncthreads();
    out[blockIdx.x * blockDim.x + threadIdx.x] = 1;
}

// Reads shared memory that this block never wrote: each thread copies what it finds, so
// the test sees what a block inherits (poison, not the last block's values).
extern "C" __global__ void salt_selftest_shared(float *seen) {
    __shared__ float s[SALT_MAX_BLOCK];
    seen[blockIdx.x * blockDim.x + threadIdx.x] = s[threadIdx.x];
    __syncthreads();
    s[threadIdx.x] = (float)(blockIdx.x + 1);
    __syncthreads();
}
