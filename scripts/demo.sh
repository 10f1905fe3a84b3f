#!/usr/bin/env bash
# Evaluates a sample AWS account with the built-in packs and prints the failing findings.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/palisade-target}"
scripts/setup.sh
cargo build --locked --quiet --bin palisade
palisade="$CARGO_TARGET_DIR/debug/palisade"

echo "== Rules in the built-in packs"
"$palisade" rules --format table
echo
echo "== Findings in examples/aws-account.jsonl (11 resources)"
"$palisade" eval --resource examples/aws-account.jsonl --now 2026-11-27T00:00:00Z \
    --format table --status fail --status error
