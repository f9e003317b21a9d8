#!/usr/bin/env bash
# Set up and run the main job on the real demo assets.
# For now: summarise the three source GGUFs (later: adapt Gemma-3-270M to Korean and evaluate).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
CACHE=${SALT_CACHE:-$HOME/.cache/salt}
cargo build --release --locked
./target/release/salt inspect "$CACHE"/models/smollm2-135m-instruct-q4_1.gguf \
  "$CACHE"/models/gemma-3-270m-q4_k_m.gguf "$CACHE"/models/qwen2.5-coder-0.5b-instruct.gguf
