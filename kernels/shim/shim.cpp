// The shim's launcher: one entry point for every kernel, with CUDA's kernelParams
// convention (an array of pointers to the arguments), so that the Rust host code drives
// the shim and cudarc's cuLaunchKernel the same way.
#include "shim.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace salt_shim {
thread_local Dim3 thread_idx;
thread_local Dim3 block_idx;
Dim3 block_dim;
Dim3 grid_dim;
thread_local std::barrier<> *block_barrier;
}  // namespace salt_shim

#include "../cosine.cu"
#include "../regress.cu"
#include "../sparsemax.cu"

namespace {
template <typename T>
T arg(void **p, int i) {
    return *static_cast<T *>(p[i]);
}

using Adapter = void (*)(void **);

void cosine(void **p) {
    salt_cosine(arg<const float *>(p, 0), arg<const float *>(p, 1), arg<int>(p, 2),
                arg<int>(p, 3), arg<float *>(p, 4));
}
void sparsemax_tau(void **p) {
    salt_sparsemax_tau(arg<const float *>(p, 0), arg<int>(p, 1), arg<double *>(p, 2),
                       arg<int *>(p, 3));
}
void sparsemax_support(void **p) {
    salt_sparsemax_support(arg<const float *>(p, 0), arg<int>(p, 1), arg<const double *>(p, 2),
                           arg<const long long *>(p, 3), arg<unsigned *>(p, 4),
                           arg<float *>(p, 5));
}
void regress_shared(void **p) {
    salt_regress_shared(arg<const float *>(p, 0), arg<const float *>(p, 1), arg<int>(p, 2),
                        arg<const float *>(p, 3), arg<const float *>(p, 4), arg<int>(p, 5),
                        arg<const long long *>(p, 6), arg<const unsigned *>(p, 7),
                        arg<const int *>(p, 8), arg<double>(p, 9), arg<int>(p, 10),
                        arg<float *>(p, 11), arg<float *>(p, 12), arg<float *>(p, 13),
                        arg<int *>(p, 14));
}
void regress_global(void **p) {
    salt_regress_global(arg<const float *>(p, 0), arg<const float *>(p, 1), arg<int>(p, 2),
                        arg<const float *>(p, 3), arg<const float *>(p, 4), arg<int>(p, 5),
                        arg<const long long *>(p, 6), arg<const unsigned *>(p, 7),
                        arg<const int *>(p, 8), arg<double>(p, 9), arg<int>(p, 10),
                        arg<float *>(p, 11), arg<float *>(p, 12), arg<float *>(p, 13),
                        arg<int *>(p, 14), arg<double *>(p, 15), arg<int>(p, 16));
}

struct Entry {
    const char *name;
    Adapter run;
};
const Entry KERNELS[] = {
    {"salt_cosine", cosine},
    {"salt_sparsemax_tau", sparsemax_tau},
    {"salt_sparsemax_support", sparsemax_support},
    {"salt_regress_shared", regress_shared},
    {"salt_regress_global", regress_global},
};

// __shared__ statics are one per process: one launch at a time.
std::mutex launch_lock;
}  // namespace

// Runs `name` over grid x block with the arguments `params`. Returns 0, or -1 for an
// unknown kernel, -2 for a block of more than 1024 threads.
extern "C" int salt_shim_launch(const char *name, unsigned gx, unsigned gy, unsigned gz,
                                unsigned bx, unsigned by, unsigned bz, void **params) {
    Adapter run = nullptr;
    for (const Entry &e : KERNELS)
        if (std::strcmp(e.name, name) == 0) run = e.run;
    if (run == nullptr) return -1;
    const unsigned threads = bx * by * bz;
    if (threads == 0 || threads > 1024) return -2;
    std::lock_guard<std::mutex> guard(launch_lock);
    salt_shim::grid_dim = {gx, gy, gz};
    salt_shim::block_dim = {bx, by, bz};
    const bool reverse = std::getenv("SALT_SHIM_REVERSE") != nullptr;
    std::barrier<> bar(threads);
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (unsigned n = 0; n < threads; n++) {
        const unsigned t = reverse ? threads - 1 - n : n;
        pool.emplace_back([=, &bar] {
            salt_shim::block_barrier = &bar;
            salt_shim::thread_idx = {t % bx, (t / bx) % by, t / (bx * by)};
            for (unsigned z = 0; z < gz; z++)
                for (unsigned y = 0; y < gy; y++)
                    for (unsigned x = 0; x < gx; x++) {
                        salt_shim::block_idx = {x, y, z};
                        run(params);
                        // The block's shared statics are reused by the next block.
                        bar.arrive_and_wait();
                    }
        });
    }
    for (std::thread &th : pool) th.join();
    return 0;
}
