#!/usr/bin/env bash
# The main job on the real demo assets: adapt Gemma-3-270M to Korean with the USE
# vocabulary trimmed to the Korean training split (fastText vectors trained on that split),
# with five methods in one run (the shared stages run once), fit the head of the best init
# on the training split (salt tune, body frozen), then evaluate the source, the five inits,
# the fitted model and count-based unigram/bigram rows through llama.cpp on the held-out
# Korean split and print the comparison table.
#
# DEMO_TOKENS (default 4000) caps the scored tokens per model and DEMO_FIT_TOKENS (default
# 8192) the head's training positions, so that the demo takes a few minutes on 2 cores;
# the README's tables use 50,000+ scored tokens and salt tune's defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
CACHE=${SALT_CACHE:-$HOME/.cache/salt}
OUT=${DEMO_OUT:-out/demo}
TOKENS=${DEMO_TOKENS:-4000}
FIT_TOKENS=${DEMO_FIT_TOKENS:-8192}
mkdir -p "$OUT"
cargo build --release --locked
salt=./target/release/salt
src=$CACHE/models/gemma-3-270m-q4_k_m.gguf
train=$CACHE/text/bible-ko-train.txt
heldout=$CACHE/text/bible-ko-heldout.txt

echo "== adapting $(basename "$src") to Korean (USE trimmed to $(basename "$train"))"
# One run, five outputs (gemma-ko-METHOD.gguf): trimming, fastText, neighbours once.
$salt transfer --source "$src" --plm "$CACHE/plm/use" --trim-to "$train" \
  --heldout "$heldout" --aux-train "$train" --aux-save "$OUT/ko-fasttext.bin" \
  --method salt,focus,fvt,salt-centred,random --plan "$OUT/gemma-ko.plan.jsonl" \
  --out "$OUT/gemma-ko.gguf" --force

echo "== fitting the head of the salt-centred init on $(basename "$train") ($FIT_TOKENS positions)"
$salt tune --model "$OUT/gemma-ko-salt-centred.gguf" --train "$train" --max-tokens "$FIT_TOKENS" \
  --iters 20 --out "$OUT/gemma-ko-salt-centred-head.gguf" --force

echo "== evaluating on $(basename "$heldout") (at most $TOKENS scored tokens per model)"
models=(--model "$src")
for m in salt focus fvt salt-centred random salt-centred-head; do
  models+=(--model "$OUT/gemma-ko-$m.gguf")
done
$salt eval "${models[@]}" --ngram "$train" \
  --text "$heldout" --max-tokens "$TOKENS" --quiet \
  --report "$OUT/report.html" --plan "$OUT/gemma-ko-salt.plan.jsonl" --force
