#!/usr/bin/env bash
# Runs the cargo-fuzz targets (nightly toolchain, `cargo install cargo-fuzz`) for
# FUZZ_SECONDS each (default 600), seeded with pieces of the real assets. A single
# allocation over 256 MB counts as a crash (-malloc_limit_mb), as does a panic.
# Usage: scripts/fuzz.sh [TARGET...]   (default: all four)
set -euo pipefail
cd "$(dirname "$0")/.."
C=${SALT_CACHE:-$HOME/.cache/salt}
secs=${FUZZ_SECONDS:-600}
for t in gguf_reader fasttext_reader tokenizer_loaders embedding_readers; do
    mkdir -p "fuzz/corpus/$t"
done
cp tests/data/fasttext-tiny.bin fuzz/corpus/fasttext_reader/tiny.bin
head -c 65536 "$C/llama-vocab/ggml-vocab-bert-bge.gguf" > fuzz/corpus/gguf_reader/bert-head.gguf
head -c 65536 "$C/llama-vocab/ggml-vocab-llama-spm.gguf" > fuzz/corpus/gguf_reader/spm-head.gguf
# The first byte picks the format: 0 .model, 1 tokenizer.json, 2 vocab.txt.
{ printf '\000'; head -c 65536 "$C/plm/use/sp.model"; } > fuzz/corpus/tokenizer_loaders/sp
{ printf '\001'; head -c 65536 "$C/plm/minilm/tokenizer.json"; } > fuzz/corpus/tokenizer_loaders/json
{ printf '\002'; head -n 300 "$C/plm/minilm/vocab.txt"; } > fuzz/corpus/tokenizer_loaders/txt
# 0 .npy, 1 safetensors.
{ printf '\000'; head -c 16384 "$C/plm/use/embeddings.npy"; } > fuzz/corpus/embedding_readers/npy
{ printf '\001'; head -c 16384 "$C/plm/minilm/model.safetensors"; } > fuzz/corpus/embedding_readers/st
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gguf_reader fasttext_reader tokenizer_loaders embedding_readers)
for t in "${targets[@]}"; do
    echo "== fuzzing $t for ${secs}s"
    log="fuzz/$t.log"
    rc=0
    cargo +nightly fuzz run "$t" -- -max_total_time="$secs" -max_len=262144 \
        -malloc_limit_mb=256 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || rc=$?
    # The panic or sanitizer report (if any), then libFuzzer's final statistics.
    grep -m 3 -E "panicked at|ERROR: |SUMMARY: |Reproduce with|crash-" "$log" || true
    grep -E "^stat::|^Done [0-9]+ runs" "$log" || tail -n 15 "$log"
    echo "exit code $rc (log: $log)"
done
