#!/usr/bin/env bash
# Set up (system packages, real assets) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked --all-targets
cargo test --release --locked
