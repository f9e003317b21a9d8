// Shared definitions of salt's kernels. The kernels use a subset of CUDA C++ that both
// NVRTC and the CPU shim (shim/shim.h) accept; see README.md in this folder.
#pragma once

// Threads per block the kernels are written for at most (reductions use shared arrays of
// this size; any power of two up to it works).
#define SALT_MAX_BLOCK 256
// Largest k whose k x k Gram matrix (f64) fits the regression kernel's shared memory.
#define SALT_SHARED_K 48
