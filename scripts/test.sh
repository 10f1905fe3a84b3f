#!/usr/bin/env bash
# Runs every test: unit tests, the sandbox suite, the CLI contract and the rule cases.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/palisade-target}"
scripts/setup.sh
cargo test --workspace --locked "$@"
