#!/usr/bin/env bash
# The demo: starts a local AWS emulator (moto on 127.0.0.1), seeds an account with classic
# misconfigurations, onboards it with `palisade account add` (which runs the baseline scan)
# and prints the failing findings, then starts `palisade serve` on the same data and reads their
# summary over the API. Installs what it needs; leaves nothing running.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/palisade-target}"
scripts/setup.sh
cargo build --locked --quiet --bin palisade
palisade="$CARGO_TARGET_DIR/debug/palisade"

work=$(mktemp -d)
# The emulator stops when its stdin (fd 3 here) closes, i.e. when this script exits.
mkfifo "$work/control"
python3 tests/emulator/moto_server.py <"$work/control" >"$work/emulator.out" 2>"$work/emulator.log" &
exec 3>"$work/control"
trap 'exec 3>&-; wait; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
    grep -q READY "$work/emulator.out" 2>/dev/null && break
    sleep 0.2
done
port=$(awk '/^READY/ { print $2 }' "$work/emulator.out")
[ -n "$port" ] || { echo "error: the emulator did not start; see $work/emulator.log" >&2; exit 1; }

# Talk to the emulator only: fixed test credentials, no profile files, no instance metadata.
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export PALISADE_DATA_DIR="$work/data"

echo "== Seeding the demo account 123456789012 on $AWS_ENDPOINT_URL"
python3 scripts/demo_seed.py | while read -r command; do
    echo "$command" >&3   # age deploy-bot's access key by 200 days
done
for _ in $(seq 1 50); do grep -qx ok "$work/emulator.out" && break; sleep 0.1; done
echo
echo "== palisade account add demo (baseline scan of us-east-1 and eu-west-1)"
"$palisade" account add demo --account-id 123456789012 --region us-east-1 --region eu-west-1
echo
echo "== palisade findings list --status fail"
"$palisade" findings list --status fail
echo
report="${PALISADE_DEMO_REPORT:-${TMPDIR:-/tmp}/palisade-demo-cis-aws-7.0.html}"
echo "== palisade report --framework cis-aws-7.0 (the HTML page is $report)"
"$palisade" report --framework cis-aws-7.0 --format html --output "$report"
"$palisade" report --framework cis-aws-7.0 --format csv \
    | python3 -c 'import csv, collections, sys
rows = list(csv.DictReader(sys.stdin))
print("controls:", dict(collections.Counter(r["status"] for r in rows)))
for r in rows:
    if r["status"] == "fail":
        print("  FAIL %-6s %-70s %s failing" % (r["control"], r["title"][:70], r["resources_failing"]))'
echo
echo "== palisade serve: the same data over the API"
token=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
queue=$(python3 scripts/demo_event.py queue)
PALISADE_ADMIN_TOKENS="$token" "$palisade" serve --listen 127.0.0.1:0 \
    --events-queue-url "$queue" --events-debounce-ms 500 --events-wait-secs 1 2>"$work/serve.log" &
serve=$!
for _ in $(seq 1 100); do
    grep -q "listening on" "$work/serve.log" 2>/dev/null && break
    sleep 0.2
done
base=$(sed -n 's/^palisade: listening on //p' "$work/serve.log")
[ -n "$base" ] || { echo "error: palisade serve did not start:" >&2; cat "$work/serve.log" >&2; kill "$serve"; exit 1; }
api() { python3 - "$base$1" "$token" <<'PY'
import json, sys, urllib.request
request = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]})
with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request) as answer:
    print(json.dumps(json.load(answer), indent=2))
PY
}
echo "GET $base/api/v1/findings/summary"
api /api/v1/findings/summary
echo
echo "== Real time: a change in the account, its CloudTrail event on $queue, and the alert"
python3 scripts/demo_event.py open-ssh "$queue"
for _ in $(seq 1 100); do
    grep -q "finding failing" "$work/serve.log" && break
    sleep 0.2
done
echo "GET $base/api/v1/alerts"
api /api/v1/alerts
kill -TERM "$serve"
wait "$serve"
