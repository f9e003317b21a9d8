#!/usr/bin/env bash
# Reproduces one of the training tables (docs/results.md#training): the rows trained
# through the frozen body (salt train) on the training split, against the models they
# start from and the source, at 51,000+ scored held-out tokens per model:
#   scripts/train-tables.sh ko-smollm   SmolLM2-135M, Korean
#   scripts/train-tables.sh ko-gemma    Gemma-3-270M, Korean
#   scripts/train-tables.sh de-qwen     Qwen2.5-Coder-0.5B, German
# The starting models are scripts/routes.sh's (its trim and its replacement with a fitted
# head; built first when missing, in out/routes/NAME/). Each is trained with salt train's
# defaults but STEPS; Korean runs take the Korean bill corpus as --val-text (the step kept
# may not score worse on it than the start) and are also scored on the Korean constitution,
# which nothing chooses on. Writes out/train/NAME/.
#
# STEPS (default: salt train's) the training steps; TABLE_TOKENS (default 51000) the scored
# tokens per model; SALT_BIN the binary; THREADS the threads (default all cores); ROUTES
# (default "trim replace") which starting models to train; SOURCE=0 leaves the source out
# of the tables (the slowest row to score; scripts/routes.sh has it); OTHER (default
# "constitution kobill") the Korean texts of other domains scored.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/train-tables.sh ko-smollm|ko-gemma|de-qwen}
CACHE=${SALT_CACHE:-$HOME/.cache/salt}
TOKENS=${TABLE_TOKENS:-51000}
ROUTES=${ROUTES:-trim replace}
if [ -z "${SALT_BIN:-}" ]; then
  scripts/setup.sh
  cargo build --release --locked
fi
salt=${SALT_BIN:-./target/release/salt}
export SALT_BIN=$salt
threads=()
[ -z "${THREADS:-}" ] || threads=(--threads "$THREADS")
case "$name" in
  ko-gemma) src=gemma-3-270m-q4_k_m.gguf lang=ko method=salt-centred ;;
  de-qwen) src=qwen2.5-coder-0.5b-instruct.gguf lang=de method=salt-centred ;;
  ko-smollm) src=smollm2-135m-instruct-q4_1.gguf lang=ko method=fvt ;;
  *) echo "unknown table $name (ko-smollm, ko-gemma, de-qwen)" >&2; exit 2 ;;
esac
src=$CACHE/models/$src
train=$CACHE/text/bible-$lang-train.txt
heldout=$CACHE/text/bible-$lang-heldout.txt
ROUTE_DIR=out/routes/$name
OUT=out/train/$name
mkdir -p "$OUT"
stamp() { date -u +%H:%M:%S; }
need=()
for r in $ROUTES; do
  case "$r" in
    trim) need+=("$ROUTE_DIR/trim.gguf") ;;
    replace) need+=("$ROUTE_DIR/replace-$method-head.gguf") ;;
  esac
done
for f in "${need[@]}"; do
  if [ ! -f "$f" ]; then
    echo "== $name: building the starting models with scripts/routes.sh ($(stamp))"
    NO_SPEED=1 scripts/routes.sh "$name"
    break
  fi
done
steps=()
[ -z "${STEPS:-}" ] || steps=(--steps "$STEPS")
val=()
[ "$lang" != ko ] || val=(--val-text "$CACHE/text/kobill-ko.txt")
models=()
[ "${SOURCE:-1}" = 0 ] || models=(--model "$src")
for r in $ROUTES; do
  case "$r" in
    trim) base=$ROUTE_DIR/trim.gguf ;;
    replace) base=$ROUTE_DIR/replace-$method-head.gguf ;;
    *) echo "unknown route $r (trim, replace)" >&2; exit 2 ;;
  esac
  echo "== $name: training $base ($(stamp))"
  $salt train --model "$base" --train "$train" "${val[@]}" "${steps[@]}" "${threads[@]}" \
    --out "$OUT/$r-train.gguf" --force --json > "$OUT/$r-train.json"
  models+=(--model "$base" --model "$OUT/$r-train.gguf")
done
echo "== $name: evaluating, at most $TOKENS scored tokens per model ($(stamp))"
$salt eval "${models[@]}" "${threads[@]}" --text "$heldout" --max-tokens "$TOKENS" --quiet \
  --no-speed --report "$OUT/report.html" --force | tee "$OUT/table.txt"
if [ "$lang" = ko ]; then
  for other in ${OTHER:-constitution kobill}; do
    echo "== $name: scoring the Korean $other ($(stamp))"
    $salt eval "${models[@]}" "${threads[@]}" --text "$CACHE/text/$other-ko.txt" --quiet \
      --no-speed | tee "$OUT/table-$other.txt"
  done
fi
echo "== $name: done ($(stamp))"
