#!/usr/bin/env bash
# The main job on the real demo assets: adapt Gemma-3-270M to Korean with the USE
# vocabulary trimmed to the Korean training split (fastText vectors trained on that split),
# once per method, then evaluate the source and the four outputs through llama.cpp on the
# held-out Korean split and print the comparison table.
#
# DEMO_TOKENS (default 4000) caps the scored tokens per model so that the demo takes a few
# minutes on 2 cores; the README's tables use 50,000+.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
CACHE=${SALT_CACHE:-$HOME/.cache/salt}
OUT=${DEMO_OUT:-out/demo}
TOKENS=${DEMO_TOKENS:-4000}
mkdir -p "$OUT"
cargo build --release --locked
salt=./target/release/salt
src=$CACHE/models/gemma-3-270m-q4_k_m.gguf
train=$CACHE/text/bible-ko-train.txt
heldout=$CACHE/text/bible-ko-heldout.txt

echo "== adapting $(basename "$src") to Korean (USE trimmed to $(basename "$train"))"
$salt transfer --source "$src" --plm "$CACHE/plm/use" --trim-to "$train" \
  --heldout "$heldout" --aux-train "$train" --aux-save "$OUT/ko-fasttext.bin" \
  --method salt --plan "$OUT/gemma-ko-salt.plan.jsonl" --out "$OUT/gemma-ko-salt.gguf" --force
for m in focus mean random; do
  $salt transfer --source "$src" --plm "$CACHE/plm/use" --trim-to "$train" \
    --aux "$OUT/ko-fasttext.bin" --method $m --out "$OUT/gemma-ko-$m.gguf" --force --quiet
done

echo "== evaluating on $(basename "$heldout") (at most $TOKENS scored tokens per model)"
$salt eval --model "$src" --model "$OUT/gemma-ko-salt.gguf" --model "$OUT/gemma-ko-focus.gguf" \
  --model "$OUT/gemma-ko-mean.gguf" --model "$OUT/gemma-ko-random.gguf" \
  --text "$heldout" --max-tokens "$TOKENS" --quiet \
  --report "$OUT/report.html" --plan "$OUT/gemma-ko-salt.plan.jsonl" --force
