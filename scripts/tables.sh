#!/usr/bin/env bash
# Reproduces one of the README's result tables at 51,000+ scored tokens per model:
#   scripts/tables.sh ko-gemma        Gemma-3-270M <- USE trimmed to Korean (the demo's setup)
#   scripts/tables.sh de-qwen         Qwen2.5-Coder-0.5B <- USE trimmed to German
#   scripts/tables.sh ko-smollm-trim  SmolLM2-135M <- USE trimmed to Korean
#   scripts/tables.sh ko-smollm       SmolLM2-135M <- the full USE vocabulary (no trimming)
# Each adapts the source once with every method of METHODS (one run: trimming, fastText on
# the language's training split and neighbours happen once), fits the head of each init of
# HEADS on the training split (salt tune with its defaults but ROWS, body frozen), evaluates the
# source, the inits, the fitted models and count-based unigram/bigram rows (counted on the
# training split) on the held-out split, and writes out/tables/NAME/{table.txt,report.html}.
# Korean tables are also scored on the Korean constitution (table-constitution.txt), a
# text unrelated to the Bible the heads and n-grams were fitted on.
# Each table ends with paired differences against its first row (same windows).
#
# TABLE_TOKENS (default 51000) caps the scored tokens per model; SALT_BIN picks the binary;
# METHODS (default focus,salt,fvt,omp,salt-centred) the inits; HEADS (default: METHODS;
# "none" for no head) the inits that get a fitted head; TUNE_TOKENS (default 32768) the
# head's training positions; ROWS (default: salt tune's, unshared) the rows it fits
# (all reproduces the tables fitted before 2026-12-04); INPUTS (default: salt tune's, keep)
# what happens to the fitted tokens' input rows (tie: the tied rows); ROUNDS (default 1) how
# many times salt tune runs, each round on the last round's output; SOURCE=0 leaves the source
# out of the held-out table (its row is the slowest to score and depends on nothing here; the
# constitution keeps it).
# Gemma on 2 cores: about 7 minutes per init or head scored (the source 25), 10 per head
# fitted.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/tables.sh ko-gemma|de-qwen|ko-smollm-trim|ko-smollm}
CACHE=${SALT_CACHE:-$HOME/.cache/salt}
TOKENS=${TABLE_TOKENS:-51000}
METHODS=${METHODS:-focus,salt,fvt,omp,salt-centred}
HEADS=${HEADS:-$METHODS}
TUNE_TOKENS=${TUNE_TOKENS:-32768}
ROWS=${ROWS:-unshared}
INPUTS=${INPUTS:-keep}
ROUNDS=${ROUNDS:-1}
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
stamp() { date -u +%H:%M:%S; }

IFS=, read -r -a methods <<<"$METHODS"
# Several methods write init-METHOD.gguf beside --out; one method writes --out itself.
out=init
[ ${#methods[@]} -gt 1 ] || out=init-${methods[0]}
echo "== $name: adapting $(basename "$src") with $METHODS ($(stamp))"
$salt transfer --source "$src" --plm "$CACHE/plm/use" "${trim[@]}" \
  --aux-train "$train" --aux-save "$OUT/fasttext.bin" --method "$METHODS" \
  --plan "$OUT/$out.plan.jsonl" --out "$OUT/$out.gguf" --force --quiet
models=()
for m in "${methods[@]}"; do models+=(--model "$OUT/init-$m.gguf"); done
if [ "$HEADS" != none ]; then
  IFS=, read -r -a heads <<<"$HEADS"
  for m in "${heads[@]}"; do
    from=$OUT/init-$m.gguf
    for ((round = 1; round <= ROUNDS; round++)); do
      echo "== $name: fitting the head of $m on $(basename "$train") ($TUNE_TOKENS positions, rows $ROWS, inputs $INPUTS, round $round of $ROUNDS, $(stamp))"
      # Round r reads round r-1's file; the last round writes init-M-head.gguf.
      to=$OUT/init-$m-head.gguf
      [ "$round" = "$ROUNDS" ] || to=$OUT/init-$m-head-round$round.gguf
      $salt tune --model "$from" --train "$train" --max-tokens "$TUNE_TOKENS" --rows "$ROWS" \
        --inputs "$INPUTS" --cache "$CACHE/hidden" --out "$to" --force --quiet
      from=$to
    done
    models+=(--model "$OUT/init-$m-head.gguf")
  done
fi
echo "== $name: evaluating, at most $TOKENS scored tokens per model ($(stamp))"
source=()
[ "${SOURCE:-1}" = 0 ] || source=(--model "$src")
$salt eval "${source[@]}" "${models[@]}" --text "$heldout" --max-tokens "$TOKENS" --quiet \
  --ngram "$train" --report "$OUT/report.html" --plan "$OUT/init-${methods[0]}.plan.jsonl" \
  --force | tee "$OUT/table.txt"
if [ "$lang" = ko ]; then
  echo "== $name: scoring the Korean constitution ($(stamp))"
  $salt eval --model "$src" "${models[@]}" --text "$CACHE/text/constitution-ko.txt" --quiet \
    --ngram "$train" | tee "$OUT/table-constitution.txt"
fi
echo "== $name: done ($(stamp))"
