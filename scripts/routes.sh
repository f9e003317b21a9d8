#!/usr/bin/env bash
# Reproduces one of the route tables (docs/results.md) at 51,000+ scored tokens per model:
#   scripts/routes.sh ko-gemma    Gemma-3-270M, Korean
#   scripts/routes.sh de-qwen     Qwen2.5-Coder-0.5B, German
#   scripts/routes.sh ko-smollm   SmolLM2-135M, Korean
# Rows: the source; its own vocabulary trimmed to the training split (trim) and the same
# keeping every piece of the language's script (trim+SCRIPT); the USE vocabulary trimmed
# to the training split with the initialiser `salt plan` names for the case (METHOD), and
# that init with its head fitted on the training split (salt tune's defaults, body
# frozen). Columns: bits per byte ± se, tokens per kB, MiB, and prompt and generation
# speed in tokens and bytes per second (one eval run, the same threads for every model).
# Korean tables are also scored on the Korean constitution. Writes out/routes/NAME/.
#
# Speed is timed in a pass of its own (speed.txt: a short eval, every model one after
# the other, the same threads), so that it can be rerun on a quiet machine: SPEED_ONLY=1
# runs just that pass on the files already built, NO_SPEED=1 skips it.
#
# REPLACE=0 leaves the two replacement rows out (their build and head fit are the
# longest part for Qwen).
#
# TABLE_TOKENS (default 51000) caps the scored tokens per model; SALT_BIN picks the
# binary; TUNE_TOKENS (default 32768) the head's training positions; THREADS llama.cpp's
# threads (default all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/routes.sh ko-gemma|de-qwen|ko-smollm}
CACHE=${SALT_CACHE:-$HOME/.cache/salt}
TOKENS=${TABLE_TOKENS:-51000}
TUNE_TOKENS=${TUNE_TOKENS:-32768}
if [ -z "${SALT_BIN:-}" ]; then
  scripts/setup.sh
  cargo build --release --locked
fi
salt=${SALT_BIN:-./target/release/salt}
threads=()
[ -z "${THREADS:-}" ] || threads=(--threads "$THREADS")
case "$name" in
  ko-gemma) src=gemma-3-270m-q4_k_m.gguf lang=ko script=Hangul method=salt-centred ;;
  de-qwen) src=qwen2.5-coder-0.5b-instruct.gguf lang=de script=Latin method=salt-centred ;;
  ko-smollm) src=smollm2-135m-instruct-q4_1.gguf lang=ko script=Hangul method=fvt ;;
  *) echo "unknown table $name (ko-gemma, de-qwen, ko-smollm)" >&2; exit 2 ;;
esac
src=$CACHE/models/$src
train=$CACHE/text/bible-$lang-train.txt
heldout=$CACHE/text/bible-$lang-heldout.txt
OUT=out/routes/$name
mkdir -p "$OUT"
stamp() { date -u +%H:%M:%S; }

models=(--model "$src" --model "$OUT/trim.gguf" --model "$OUT/trim-$script.gguf")
[ "${REPLACE:-1}" = 0 ] || models+=(--model "$OUT/replace-$method.gguf"
  --model "$OUT/replace-$method-head.gguf")
speed() {
  echo "== $name: timing prompt processing and generation ($(stamp))"
  $salt eval "${models[@]}" "${threads[@]}" --text "$heldout" --max-tokens 64 --ctx 64 \
    --quiet | tee "$OUT/speed.txt"
}
if [ "${SPEED_ONLY:-0}" = 1 ]; then speed; exit 0; fi

echo "== $name: plan ($(stamp))"
$salt plan --source "$src" --plm "$CACHE/plm/use" --text "$train" --quiet | tee "$OUT/plan.txt"
echo "== $name: trim and trim+$script ($(stamp))"
$salt transfer --source "$src" --trim-to "$train" --heldout "$heldout" \
  --out "$OUT/trim.gguf" --force --quiet
$salt transfer --source "$src" --trim-to "$train" --keep-script "$script" --heldout "$heldout" \
  --out "$OUT/trim-$script.gguf" --force --quiet
if [ "${REPLACE:-1}" != 0 ]; then
echo "== $name: replacement, USE trimmed to the training split, $method ($(stamp))"
aux=()
[ "$method" = fvt ] || aux=(--aux-train "$train")
$salt transfer --source "$src" --plm "$CACHE/plm/use" --trim-to "$train" "${aux[@]}" \
  --method "$method" --out "$OUT/replace-$method.gguf" --force --quiet
echo "== $name: its head ($TUNE_TOKENS positions, $(stamp))"
$salt tune --model "$OUT/replace-$method.gguf" --train "$train" --max-tokens "$TUNE_TOKENS" \
  --cache "$CACHE/hidden" --out "$OUT/replace-$method-head.gguf" --force --quiet
fi
echo "== $name: evaluating, at most $TOKENS scored tokens per model ($(stamp))"
$salt eval "${models[@]}" "${threads[@]}" --text "$heldout" --max-tokens "$TOKENS" --quiet \
  --no-speed --report "$OUT/report.html" --force | tee "$OUT/table.txt"
if [ "$lang" = ko ]; then
  echo "== $name: scoring the Korean constitution ($(stamp))"
  $salt eval "${models[@]}" "${threads[@]}" --text "$CACHE/text/constitution-ko.txt" --quiet \
    --no-speed | tee "$OUT/table-constitution.txt"
fi
[ "${NO_SPEED:-0}" = 1 ] || speed
echo "== $name: done ($(stamp))"
