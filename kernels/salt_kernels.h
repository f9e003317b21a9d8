// Shared definitions of salt's kernels. The kernels use a subset of CUDA C++ that both
// NVRTC and the CPU shim (shim/shim.h) accept; see README.md in this folder.
#pragma once

// Threads per block the kernels are written for at most (reductions use shared arrays of
// this size; any power of two up to it works).
#define SALT_MAX_BLOCK 256

// Four values read as 16-byte accesses (one float4, or two double2): p must be 16-byte
// aligned. The kernels' register tiles read shared memory this way, so that a warp's reads
// of a tile row take as few shared-memory wavefronts as its bytes need.
__device__ __forceinline__ void salt_load4(const float *p, float v[4]) {
    const float4 q = *(const float4 *)p;
    v[0] = q.x;
    v[1] = q.y;
    v[2] = q.z;
    v[3] = q.w;
}
__device__ __forceinline__ void salt_load4(const double *p, double v[4]) {
    const double2 a = *(const double2 *)p, b = *(const double2 *)(p + 2);
    v[0] = a.x;
    v[1] = a.y;
    v[2] = b.x;
    v[3] = b.y;
}
