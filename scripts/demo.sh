#!/usr/bin/env bash
# The main job on the real demo assets: `salt adapt` decides, by measurement, how to give
# two models a Korean tokenizer, from the Korean training split alone:
#   1. SmolLM2-135M, whose tokenizer falls back to bytes on Korean: replacement (the USE
#      vocabulary trimmed to the text, fvt rows, a fitted head) should win;
#   2. Gemma-3-270M, whose tokenizer already serves Korean: trimming should win.
# Each run plans, builds every viable route, scores the source and the candidates on the
# last 10% of the training split (bits per byte and speed), writes the winner and prints
# its verdict; the winner is then scored on the held-out split, for the report only.
#
# DEMO_EVAL_TOKENS (default 8192) caps the scored tokens per model on the validation part,
# DEMO_FIT_TOKENS (default 8192) and DEMO_FIT_ITERS (default 20) the replacement's head fit,
# DEMO_TRAIN_STEPS (default 0, to stay short; salt adapt's own default is 50) the steps of
# training the trim and replacement candidates' rows through the frozen body.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
CACHE=${SALT_CACHE:-$HOME/.cache/salt}
OUT=${DEMO_OUT:-out/demo}
mkdir -p "$OUT"
cargo build --release --locked
salt=./target/release/salt
train=$CACHE/text/bible-ko-train.txt
heldout=$CACHE/text/bible-ko-heldout.txt
budget=(--eval-tokens "${DEMO_EVAL_TOKENS:-8192}" --fit-tokens "${DEMO_FIT_TOKENS:-8192}"
  --fit-iters "${DEMO_FIT_ITERS:-20}" --train-steps "${DEMO_TRAIN_STEPS:-0}")

for model in smollm2-135m-instruct-q4_1 gemma-3-270m-q4_k_m; do
  echo "== salt adapt: $model <- Korean ($(date -u +%H:%M:%S))"
  $salt adapt --source "$CACHE/models/$model.gguf" --plm "$CACHE/plm/use" --text "$train" \
    --heldout "$heldout" "${budget[@]}" --out "$OUT/$model-ko.gguf" \
    --report "$OUT/$model-ko.validation.html" --force --quiet
done
echo "== done ($(date -u +%H:%M:%S)); the adapted models are in $OUT"
