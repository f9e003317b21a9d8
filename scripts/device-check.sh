#!/usr/bin/env bash
# The GPU checks, made here and run on a GPU machine that has a driver but no Rust, no CUDA
# toolkit and no network.
#
#   scripts/device-check.sh [DIR]   (here; DIR defaults to out/device, git-ignored)
#     1. builds `examples/gpu_check.rs` (--features cuda; no toolkit needed) and strips it;
#     2. `gpu_check prepare DIR`: the Korean demo's kernel inputs, the SmolLM2 stress case's
#        auxiliary vectors (its large tables are made on the GPU machine from a seed), the
#        kernels' PTX for compute_90 and cubins for sm_90 (H100, H200: loaded without JIT,
#        whatever the driver's version), ptxas's report (NVRTC from setup's wheel);
#     3. writes DIR/run.sh, checks that DIR is at most 60 MiB, and runs DIR/run.sh here too:
#        without a GPU it stops where it needs one, with exit code 3.
#
#   DIR/run.sh   (on the GPU machine, from DIR; at most a few minutes)
#     finds libcuda (ldconfig, the usual library folders, /usr/local/nvidia, CUDA's compat
#     folder), prints the GPU, runs compute-sanitizer (memcheck, racecheck, synccheck) on 300
#     demo tokens where a toolkit left one, and runs `gpu_check run DIR`: the kernels
#     against the CPU path on every row and against the literal formula on a sample (salt
#     and salt-centred), each stage timed (median of 5 after a warm-up) at h_s 576 and 4096,
#     each kernel timed with CUDA events on the stress case beside the performance model's
#     prediction, the transfer rates (pageable, page-locked), the random-gather and f64
#     product probes; tables, and DIR/result.json.
#
# Exit codes (of both): 0 every check passed; 1 a check failed; 2 a missing input or a
# folder over budget; 3 no usable GPU (libcuda or a device missing).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-out/device}
say() { printf '== %s\n' "$*"; }

say "build gpu_check (--features cuda)"
cargo build --release --locked --features cuda --example gpu_check
mkdir -p "$DIR"
cp target/release/examples/gpu_check "$DIR/gpu_check"
strip "$DIR/gpu_check" 2>/dev/null || true

say "prepare $DIR"
"$DIR/gpu_check" prepare "$DIR"

cat > "$DIR/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs the GPU checks from this folder (made by scripts/device-check.sh). Exit codes: 0 all
# checks passed, 1 a check failed, 2 a missing input, 3 no usable GPU.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
libcuda=$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 /{print $NF; exit}')
for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/nvidia/lib64 /usr/local/nvidia/lib \
         /usr/local/cuda/compat /usr/lib/wsl/lib; do
  [ -z "$libcuda" ] && [ -e "$d/libcuda.so.1" ] && libcuda=$d/libcuda.so.1
done
if [ -z "$libcuda" ]; then
  echo "run.sh: no libcuda.so.1 (ldconfig, /usr/lib*, /usr/local/nvidia, /usr/local/cuda/compat): this step needs a GPU and its driver" >&2
  exit 3
fi
export LD_LIBRARY_PATH="$(dirname "$libcuda")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "== libcuda: $libcuda"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
# compute-sanitizer, where a toolkit left one, on 300 demo tokens (2 minutes a tool at most).
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
bad=0
if [ -n "$san" ]; then
  for tool in memcheck racecheck synccheck; do
    echo "== compute-sanitizer --tool $tool: 300 demo tokens"
    timeout 120 "$san" --tool "$tool" --error-exitcode 9 "$here/gpu_check" run "$here" --small
    r=$?
    [ "$r" = 124 ] && echo "== compute-sanitizer $tool: stopped after 120 s"
    [ "$r" != 0 ] && [ "$r" != 124 ] && { echo "compute-sanitizer $tool: exit code $r" >&2; bad=1; }
  done
else
  echo "== no compute-sanitizer on this machine: skipped"
fi
"$here/gpu_check" run "$here"
rc=$?
[ "$bad" = 1 ] && [ "$rc" = 0 ] && rc=1
exit "$rc"
RUN
chmod +x "$DIR/run.sh"

bytes=$(du -sb "$DIR" | cut -f1)
say "$DIR: $((bytes / 1048576)) MiB"
if [ "$bytes" -gt $((60 * 1048576)) ]; then
  echo "device-check: $DIR is over 60 MiB" >&2
  exit 2
fi

say "run.sh here (stops with exit code 3 where it needs a GPU)"
set +e
"$DIR/run.sh"
rc=$?
set -e
[ "$rc" = 3 ] && say "no GPU here: carry $DIR to a GPU machine and run $DIR/run.sh there"
exit "$rc"
