#!/usr/bin/env bash
# Evaluates a sample AWS account with the built-in packs and prints the failing findings.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/palisade-target}"
scripts/setup.sh
cargo build --locked --quiet --bin palisade
palisade="$CARGO_TARGET_DIR/debug/palisade"

echo "== Rules in the built-in packs"
"$palisade" rules | python3 -c 'import json,sys; [print(f"  {r[\"severity\"]:<8} {r[\"id\"]:<42} {r[\"title\"]}") for r in json.load(sys.stdin)]'
echo
echo "== Failing findings in examples/aws-account.jsonl"
"$palisade" eval --resource examples/aws-account.jsonl --now 2026-11-27T00:00:00Z \
    | python3 -c 'import json,sys
for line in sys.stdin:
    v = json.loads(line)
    if v["status"] != "pass":
        print(f"  {v[\"status\"].upper():<5} {v[\"rule_id\"]:<42} {v[\"resource_id\"]}\n        {v[\"message\"]}")'
