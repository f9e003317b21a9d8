#!/usr/bin/env bash
# The main job on the real demo assets: adapt Gemma-3-270M to Korean with the USE
# vocabulary trimmed to the Korean training split (fastText vectors trained on that split),
# with every method in one run (the shared stages run once), then evaluate the source and the four outputs through llama.cpp on the
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
# One run, four outputs (gemma-ko-METHOD.gguf): trimming, fastText, neighbours once.
$salt transfer --source "$src" --plm "$CACHE/plm/use" --trim-to "$train" \
  --heldout "$heldout" --aux-train "$train" --aux-save "$OUT/ko-fasttext.bin" \
  --method salt,focus,mean,random --plan "$OUT/gemma-ko.plan.jsonl" \
  --out "$OUT/gemma-ko.gguf" --force

echo "== evaluating on $(basename "$heldout") (at most $TOKENS scored tokens per model)"
$salt eval --model "$src" --model "$OUT/gemma-ko-salt.gguf" --model "$OUT/gemma-ko-focus.gguf" \
  --model "$OUT/gemma-ko-mean.gguf" --model "$OUT/gemma-ko-random.gguf" \
  --text "$heldout" --max-tokens "$TOKENS" --quiet \
  --report "$OUT/report.html" --plan "$OUT/gemma-ko-salt.plan.jsonl" --force
