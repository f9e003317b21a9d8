// The CPU shim: compiles salt's CUDA kernels as host C++ (g++ -std=c++20 -x c++ -include
// shim.h). A launch runs the blocks of the grid one after another; the threads of a block
// are OS threads that meet at a std::barrier for every __syncthreads(), so a kernel that
// forgets one races in the shim as it would on a GPU (ThreadSanitizer sees it, and
// SALT_SHIM_REVERSE=1 starts the threads in reverse order). Two ways a GPU fails that a
// plain barrier hides are checked:
// - every __syncthreads() names its call site (its line), and a barrier that the threads
//   of a block reach from different sites (a divergent barrier, or a thread that left the
//   kernel while others wait) fails the launch instead of silently pairing them up;
// - __shared__ variables become statics in one linker section ("salt_shared"): one copy,
//   shared by the threads of the running block, and filled with 0xFF bytes (NaN for floats
//   and doubles, -1 for integers) before every block, as a GPU leaves them undefined.
//
// Supported: extern "C" __global__ kernels, __device__ functions, fixed-size __shared__
// arrays and scalars at kernel scope, threadIdx/blockIdx/blockDim/gridDim (.x, .y, .z),
// __syncthreads(), <cmath> double and float math, float4 and double2. Not supported: warp intrinsics
// (__shfl_*, __ballot_*), atomics, dynamic shared memory, cooperative groups, textures.
#pragma once

#include <barrier>
#include <cmath>
#include <cstdint>

namespace salt_shim {
struct Dim3 {
    unsigned x, y, z;
};
extern thread_local Dim3 thread_idx;
extern thread_local Dim3 block_idx;
extern Dim3 block_dim;
extern Dim3 grid_dim;
extern thread_local std::barrier<> *block_barrier;
// Waits at the block's barrier from call site `site` (checked against the other threads').
void sync_at(int site);
}  // namespace salt_shim

#define threadIdx (salt_shim::thread_idx)
#define blockIdx (salt_shim::block_idx)
#define blockDim (salt_shim::block_dim)
#define gridDim (salt_shim::grid_dim)
#define __global__
#define __device__ static
#define __forceinline__ inline
#define __shared__ __attribute__((section("salt_shared"))) static
#define __syncthreads() (salt_shim::sync_at(__LINE__))

using std::sqrt;

// CUDA's 16-byte vector types, as the kernels read them from shared memory.
struct alignas(16) float4 {
    float x, y, z, w;
};
struct alignas(16) double2 {
    double x, y;
};
