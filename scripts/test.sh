#!/usr/bin/env bash
# Set up (system packages, real assets) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The CUDA path builds without a toolkit (cudarc loads the driver at run time); the
# default build comes last so that target/release/salt is the default binary.
cargo build --release --locked --features cuda --all-targets
cargo build --release --locked --all-targets
# NVRTC from setup's wheel compiles every kernel (a missing NVRTC fails, not skips).
export SALT_REQUIRE_NVRTC=1
# The hostile-input tests print their counts (inputs, parses, typed errors, panics,
# peak memory) and each bad-input row's message, and the kernel tests their NVRTC
# registers and spills and the shim's agreement with the CPU path, and the performance
# model its predictions: show them in the CI log.
shown=(readers_hostile:: gguf_hostile::mutation bad_inputs:: kernels:: perf_model::)
skip=()
for t in "${shown[@]}"; do skip+=(--skip "$t"); done
cargo test --release --locked -- "${skip[@]}"
cargo test --release --locked --test tests -- "${shown[@]}" --show-output
# The GPU window's folder: built and checked here (at most 60 MiB), its program run with the
# CPU path standing in for the GPU; its run.sh must stop with exit code 3 (no GPU here).
rc=0
scripts/device-check.sh out/device || rc=$?
[ "$rc" = 3 ] || [ "$rc" = 0 ] || { echo "device-check: exit code $rc" >&2; exit 1; }
out/device/gpu_check run out/device --dry-run
