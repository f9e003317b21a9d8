#!/usr/bin/env bash
# The GPU checks, for a machine with an NVIDIA GPU and its driver but no CUDA toolkit and
# no network: finds libcuda and libnvrtc, builds with --features cuda, runs the GPU tests
# (the kernels against the CPU path on the Korean demo and the whole SmolLM2 stress case),
# the criterion bench of the GPU stages (demo, stress, stress with h_s 4096), and an
# end-to-end `salt transfer --device cuda` on the stress case beside `--device cpu`, and
# prints the figures.
#
# Needs what scripts/setup.sh leaves in $SALT_CACHE (models, USE, texts, the NVRTC wheel's
# libraries) and the crates in ~/.cargo (run `cargo fetch` where there is a network).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${SALT_CACHE:-$HOME/.cache/salt}
say() { printf '== %s\n' "$*"; }

libcuda=$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 /{print $NF; exit}')
[ -n "$libcuda" ] || libcuda=$(ls /usr/lib/x86_64-linux-gnu/libcuda.so.1 /usr/lib64/libcuda.so.1 2>/dev/null | head -1 || true)
[ -n "$libcuda" ] || { echo "no libcuda.so.1: is the NVIDIA driver installed?" >&2; exit 2; }
say "libcuda: $libcuda"
nvrtc=${SALT_NVRTC:-}
for c in "$CACHE/nvrtc/nvidia/cuda_nvrtc/lib/libnvrtc.so.12" shared/nvrtc/libnvrtc.so.12; do
  [ -z "$nvrtc" ] && [ -f "$c" ] && nvrtc=$c
done
[ -n "$nvrtc" ] || nvrtc=$(ldconfig -p 2>/dev/null | awk '/libnvrtc\.so\.1[23] /{print $NF; exit}')
[ -n "$nvrtc" ] || { echo "no libnvrtc: run scripts/setup.sh (it installs the nvidia-cuda-nvrtc wheel) or set SALT_NVRTC" >&2; exit 2; }
export SALT_NVRTC=$nvrtc
say "libnvrtc: $nvrtc"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

offline=()
[ "${SALT_OFFLINE:-1}" = 1 ] && offline=(--offline)
say "build (--features cuda)"
cargo build --release --locked "${offline[@]}" --features cuda --all-targets

say "GPU tests"
SALT_REQUIRE_GPU=1 SALT_REQUIRE_NVRTC=1 cargo test --release --locked "${offline[@]}" --features cuda \
  --test tests -- kernels:: --nocapture

say "GPU stage bench"
SALT_BENCH_DEVICE=1 cargo bench --locked "${offline[@]}" --features cuda --bench benches -- device 2>&1 \
  | grep -E "^(device/|RATIO|TARGET|device:)|time:" || true

say "end to end: SmolLM2 <- the full USE, Korean fastText"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=target/release/salt
$bin transfer --source "$CACHE/models/smollm2-135m-instruct-q4_1.gguf" --plm "$CACHE/plm/use" \
  --aux-train "$CACHE/text/bible-ko-train.txt" --aux-save "$tmp/ko.bin" --out "$tmp/warm.gguf" \
  --device cuda --quiet >/dev/null
for d in cuda cpu; do
  start=$(date +%s.%N)
  $bin transfer --source "$CACHE/models/smollm2-135m-instruct-q4_1.gguf" --plm "$CACHE/plm/use" \
    --aux "$tmp/ko.bin" --out "$tmp/$d.gguf" --device "$d" | grep -E "^(time|regression|neighbours)"
  end=$(date +%s.%N)
  printf 'salt transfer --device %s: %.1f s\n' "$d" "$(echo "$end - $start" | bc)"
done
