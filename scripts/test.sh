#!/usr/bin/env bash
# Set up (system packages, real assets) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked --all-targets
# The hostile-input tests print their counts (inputs, parses, typed errors, panics,
# peak memory) and each bad-input row's message: show them in the CI log.
shown=(readers_hostile:: gguf_hostile::mutation bad_inputs::)
skip=()
for t in "${shown[@]}"; do skip+=(--skip "$t"); done
cargo test --release --locked -- "${skip[@]}"
cargo test --release --locked --test tests -- "${shown[@]}" --show-output
