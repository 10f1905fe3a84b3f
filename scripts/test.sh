#!/usr/bin/env bash
# Runs every test: unit tests, the sandbox suite, the CLI contract and the rule cases. Ends with
# one summary line over all test binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/palisade-target}"
scripts/setup.sh
# The policy SDKs from this checkout: `palisade policy build` runs `python3 -m palisade_policy`
# and `palisade-policy-js`; componentize-py may sit in the user's script folder.
export PYTHONPATH="$PWD/sdk/python${PYTHONPATH:+:$PYTHONPATH}"
export PATH="$PWD/sdk/js/bin:$(python3 -m site --user-base)/bin:$PATH"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked "$@" 2>&1 | tee "$log" || status=$?
# The SDKs' own unit tests (plain Python and Node, outside any component).
python3 -m unittest discover -s sdk/python/tests -q 2>&1 | tee -a "$log" || status=$?
node --test sdk/js/test/ 2>&1 | tail -n 8 || status=$?
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' "$log"
exit "$status"
