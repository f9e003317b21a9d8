// The shim's launcher: one entry point for every kernel, with CUDA's kernelParams
// convention (an array of pointers to the arguments), so that the Rust host code drives
// the shim and cudarc's cuLaunchKernel the same way.
#include "shim.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace salt_shim {
thread_local Dim3 thread_idx;
thread_local Dim3 block_idx;
Dim3 block_dim;
Dim3 grid_dim;
thread_local std::barrier<> *block_barrier;
// This thread's index in its block, and how many barriers it has passed in this launch.
thread_local unsigned flat;
thread_local unsigned long long passed;
}  // namespace salt_shim

namespace {
// The call site of the launcher's barrier at the end of every block (a kernel's own
// barriers have their line, which is positive).
constexpr int END_OF_BLOCK = -1;
constexpr int BLOCK_POISONED = -2;
// Where each thread of the running block waits, for the barrier being passed and the next
// (a thread can be one barrier ahead of a thread still reading the sites of the last).
std::vector<int> sites[2];
std::atomic<bool> diverged{false};
std::string failure;
// The calling thread's copy of the last failure, for salt_shim_error().
thread_local std::string last_error;

std::string site_name(int site) {
    if (site == END_OF_BLOCK || site == BLOCK_POISONED) return "the end of the kernel";
    return "the __syncthreads() of line " + std::to_string(site);
}
}  // namespace

// Threads of a block that wait at different call sites fail the launch; after that the
// barriers no longer wait (the launch's results are discarded), so nothing deadlocks.
void salt_shim::sync_at(int site) {
    if (diverged.load(std::memory_order_acquire)) return;
    std::vector<int> &at = sites[passed & 1];
    at[flat] = site;
    block_barrier->arrive_and_wait();
    passed++;
    for (unsigned t = 0; t < at.size(); t++) {
        if (at[t] != site) {
            bool first = false;
            if (diverged.compare_exchange_strong(first, true)) {
                failure = "divergent __syncthreads() in block (" + std::to_string(block_idx.x) +
                          ", " + std::to_string(block_idx.y) + ", " + std::to_string(block_idx.z) +
                          "): thread " + std::to_string(flat) + " waits at " + site_name(site) +
                          ", thread " + std::to_string(t) + " at " + site_name(at[t]);
            }
            return;
        }
    }
}

// The linker's bounds of the "salt_shared" section that shim.h puts every __shared__ in;
// hidden, so that a shared library of salt does not export them.
extern "C" {
extern char __start_salt_shared[] __attribute__((weak, visibility("hidden")));
extern char __stop_salt_shared[] __attribute__((weak, visibility("hidden")));
}

namespace {
// Shared memory as a GPU leaves it for a new block: undefined; here 0xFF bytes (NaN as a
// float or double, -1 as an integer), so a kernel that reads before it writes shows it.
void poison_shared() {
    if (__start_salt_shared != nullptr && __stop_salt_shared != nullptr)
        std::memset(__start_salt_shared, 0xFF,
                    static_cast<size_t>(__stop_salt_shared - __start_salt_shared));
}
}  // namespace

#include "../probe.cu"
#include "../product.cu"
#include "../regress.cu"
#include "../sparsemax.cu"
#include "selftest.cu"

namespace {
template <typename T>
T arg(void **p, int i) {
    return *static_cast<T *>(p[i]);
}

using Adapter = void (*)(void **);

void cosine_tiled(void **p) {
    salt_cosine_tiled(arg<const float *>(p, 0), arg<int>(p, 1), arg<const float *>(p, 2),
                      arg<int>(p, 3), arg<int>(p, 4), arg<float *>(p, 5));
}
void anchor_gram(void **p) {
    salt_anchor_gram(arg<const float *>(p, 0), arg<const unsigned *>(p, 1), arg<int>(p, 2),
                     arg<int>(p, 3), arg<double *>(p, 4));
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
void regress(void **p) {
    salt_regress(arg<const float *>(p, 0), arg<const float *>(p, 1), arg<int>(p, 2),
                 arg<const float *>(p, 3), arg<const float *>(p, 4), arg<int>(p, 5),
                 arg<const long long *>(p, 6), arg<const unsigned *>(p, 7),
                 arg<const int *>(p, 8), arg<double>(p, 9), arg<int>(p, 10), arg<float *>(p, 11),
                 arg<float *>(p, 12), arg<float *>(p, 13), arg<int *>(p, 14),
                 arg<const double *>(p, 15), arg<const int *>(p, 16), arg<long long>(p, 17),
                 arg<double *>(p, 18), arg<int>(p, 19));
}
void probe_gather(void **p) {
    salt_probe_gather(arg<const double *>(p, 0), arg<long long>(p, 1), arg<int>(p, 2),
                      arg<unsigned long long>(p, 3), arg<double *>(p, 4));
}
void selftest_divergent(void **p) { salt_selftest_divergent(arg<int *>(p, 0)); }
void selftest_shared(void **p) { salt_selftest_shared(arg<float *>(p, 0)); }

struct Entry {
    const char *name;
    Adapter run;
};
const Entry KERNELS[] = {
    {"salt_cosine_tiled", cosine_tiled},
    {"salt_anchor_gram", anchor_gram},
    {"salt_sparsemax_tau", sparsemax_tau},
    {"salt_sparsemax_support", sparsemax_support},
    {"salt_regress", regress},
    {"salt_probe_gather", probe_gather},
    {"salt_selftest_divergent", selftest_divergent},
    {"salt_selftest_shared", selftest_shared},
};

// __shared__ statics are one per process: one launch at a time.
std::mutex launch_lock;
}  // namespace

// Runs `name` over grid x block with the arguments `params`. Returns 0, or -1 for an
// unknown kernel, -2 for a block of more than 1024 threads, -3 for a divergent barrier
// (salt_shim_error() says where).
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
    sites[0].assign(threads, 0);
    sites[1].assign(threads, 0);
    diverged.store(false);
    failure.clear();
    poison_shared();
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (unsigned n = 0; n < threads; n++) {
        const unsigned t = reverse ? threads - 1 - n : n;
        pool.emplace_back([=, &bar] {
            salt_shim::block_barrier = &bar;
            salt_shim::flat = t;
            salt_shim::thread_idx = {t % bx, (t / bx) % by, t / (bx * by)};
            for (unsigned z = 0; z < gz; z++)
                for (unsigned y = 0; y < gy; y++)
                    for (unsigned x = 0; x < gx; x++) {
                        salt_shim::block_idx = {x, y, z};
                        run(params);
                        // Every thread has left the kernel; then the next block starts on
                        // poisoned shared memory.
                        salt_shim::sync_at(END_OF_BLOCK);
                        if (t == 0) poison_shared();
                        salt_shim::sync_at(BLOCK_POISONED);
                    }
        });
    }
    for (std::thread &th : pool) th.join();
    last_error = failure;
    return diverged.load() ? -3 : 0;
}

// What failed this thread's last launch that returned -3 (valid until its next launch).
extern "C" const char *salt_shim_error() { return last_error.c_str(); }
