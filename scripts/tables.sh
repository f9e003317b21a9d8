#!/usr/bin/env bash
# Reproduces one of the README's result tables at 51,000+ scored tokens per model:
#   scripts/tables.sh ko-gemma        Gemma-3-270M <- USE trimmed to Korean (the demo's setup)
#   scripts/tables.sh de-qwen         Qwen2.5-Coder-0.5B <- USE trimmed to German
#   scripts/tables.sh ko-smollm-trim  SmolLM2-135M <- USE trimmed to Korean
#   scripts/tables.sh ko-smollm       SmolLM2-135M <- the full USE vocabulary (no trimming)
# Each adapts the source once with every method of METHODS (one run: trimming, fastText on
# the language's training split and neighbours happen once), evaluates the source and the
# outputs on the held-out split and writes out/tables/NAME/{table.txt,report.html}.
# The table ends with paired differences against the first method (same windows).
# TABLE_TOKENS (default 51000) caps the scored tokens per model; SALT_BIN picks the binary;
# METHODS (default focus,salt,fvt,omp,salt-centred) the methods. About 6-12 minutes per
# model on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/tables.sh ko-gemma|de-qwen|ko-smollm-trim|ko-smollm}
CACHE=${SALT_CACHE:-$HOME/.cache/salt}
TOKENS=${TABLE_TOKENS:-51000}
METHODS=${METHODS:-focus,salt,fvt,omp,salt-centred}
if [ -z "${SALT_BIN:-}" ]; then
  scripts/setup.sh
  cargo build --release --locked
fi
salt=${SALT_BIN:-./target/release/salt}
trim=(--trim-to)
case "$name" in
  ko-gemma) src=gemma-3-270m-q4_k_m.gguf lang=ko ;;
  de-qwen) src=qwen2.5-coder-0.5b-instruct.gguf lang=de ;;
  ko-smollm-trim) src=smollm2-135m-instruct-q4_1.gguf lang=ko ;;
  ko-smollm) src=smollm2-135m-instruct-q4_1.gguf lang=ko trim=() ;;
  *) echo "unknown table $name (ko-gemma, de-qwen, ko-smollm-trim, ko-smollm)" >&2; exit 2 ;;
esac
src=$CACHE/models/$src
train=$CACHE/text/bible-$lang-train.txt
heldout=$CACHE/text/bible-$lang-heldout.txt
OUT=out/tables/$name
mkdir -p "$OUT"
[ ${#trim[@]} -gt 0 ] && trim+=("$train" --heldout "$heldout")

echo "== $name: adapting $(basename "$src") with $METHODS ($(date -u +%H:%M:%S))"
$salt transfer --source "$src" --plm "$CACHE/plm/use" "${trim[@]}" \
  --aux-train "$train" --aux-save "$OUT/fasttext.bin" --method "$METHODS" \
  --plan "$OUT/init.plan.jsonl" --out "$OUT/init.gguf" --force --quiet
models=(--model "$src")
IFS=, read -r -a methods <<<"$METHODS"
for m in "${methods[@]}"; do models+=(--model "$OUT/init-$m.gguf"); done
echo "== $name: evaluating, at most $TOKENS scored tokens per model ($(date -u +%H:%M:%S))"
$salt eval "${models[@]}" --text "$heldout" --max-tokens "$TOKENS" --quiet \
  --report "$OUT/report.html" --plan "$OUT/init-${methods[0]}.plan.jsonl" \
  --force | tee "$OUT/table.txt"
echo "== $name: done ($(date -u +%H:%M:%S))"
