#!/usr/bin/env bash
# Reproduces one of the README's result tables at 50,000+ scored tokens per model:
#   scripts/tables.sh ko-gemma   Gemma-3-270M <- USE trimmed to Korean (the demo's setup)
#   scripts/tables.sh de-qwen    Qwen2.5-Coder-0.5B (untied output) <- USE trimmed to German
#   scripts/tables.sh ko-smollm  SmolLM2-135M <- the full USE vocabulary (no trimming), Korean
# Each adapts the source once per method (fastText trained on the language's training
# split), evaluates the source and the four outputs on the held-out split and writes
# out/tables/NAME/{table.txt,report.html}. About 25-50 minutes per table on 2 cores.
# TABLE_TOKENS (default 51000) caps the scored tokens per model; SALT_BIN picks the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/tables.sh ko-gemma|de-qwen|ko-smollm}
CACHE=${SALT_CACHE:-$HOME/.cache/salt}
TOKENS=${TABLE_TOKENS:-51000}
if [ -z "${SALT_BIN:-}" ]; then
  scripts/setup.sh
  cargo build --release --locked
fi
salt=${SALT_BIN:-./target/release/salt}
trim=(--trim-to)
case "$name" in
  ko-gemma) src=gemma-3-270m-q4_k_m.gguf lang=ko ;;
  de-qwen) src=qwen2.5-coder-0.5b-instruct.gguf lang=de ;;
  ko-smollm) src=smollm2-135m-instruct-q4_1.gguf lang=ko trim=() ;;
  *) echo "unknown table $name (ko-gemma, de-qwen, ko-smollm)" >&2; exit 2 ;;
esac
src=$CACHE/models/$src
train=$CACHE/text/bible-$lang-train.txt
heldout=$CACHE/text/bible-$lang-heldout.txt
OUT=out/tables/$name
mkdir -p "$OUT"
[ ${#trim[@]} -gt 0 ] && trim+=("$train" --heldout "$heldout")

echo "== $name: adapting $(basename "$src") ($(date -u +%H:%M:%S))"
$salt transfer --source "$src" --plm "$CACHE/plm/use" "${trim[@]}" \
  --aux-train "$train" --aux-save "$OUT/fasttext.bin" --method salt \
  --plan "$OUT/salt.plan.jsonl" --out "$OUT/salt.gguf" --force --quiet
for m in focus mean random; do
  $salt transfer --source "$src" --plm "$CACHE/plm/use" "${trim[@]}" \
    --aux "$OUT/fasttext.bin" --method $m --out "$OUT/$m.gguf" --force --quiet
done
echo "== $name: evaluating, at most $TOKENS scored tokens per model ($(date -u +%H:%M:%S))"
$salt eval --model "$src" --model "$OUT/salt.gguf" --model "$OUT/focus.gguf" \
  --model "$OUT/mean.gguf" --model "$OUT/random.gguf" --text "$heldout" \
  --max-tokens "$TOKENS" --quiet --report "$OUT/report.html" \
  --plan "$OUT/salt.plan.jsonl" --force | tee "$OUT/table.txt"
echo "== $name: done ($(date -u +%H:%M:%S))"
