#!/usr/bin/env bash
# Installs what building and testing Palisade needs on a fresh machine. Idempotent.
set -euo pipefail

if ! command -v cargo >/dev/null; then
    echo "error: cargo is not installed; install Rust with rustup first" >&2
    exit 1
fi
# Policy packs are WebAssembly components built for wasm32-wasip2.
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
# The AWS emulator that tests, the demo and the benchmark scan (moto in server mode, plus boto3
# for the demo's seeding). Installed for the current user unless already importable.
if ! python3 -c 'import moto.server, boto3, flask' 2>/dev/null; then
    # The tests pin down moto's answers (what it implements, its quirks): keep to the verified 5.2 line.
    python3 -m pip install --quiet --user 'moto[server]>=5.2.1,<5.3' 2>/dev/null \
        || python3 -m pip install --quiet 'moto[server]>=5.2.1,<5.3'
fi
# Policy SDKs (`palisade policy build`): Python packs build with componentize-py, JavaScript
# packs with componentize-js (npm). The SDKs themselves are used from this checkout (see
# scripts/test.sh), so a change to them never meets a stale installed copy.
if ! python3 -c 'import componentize_py' 2>/dev/null; then
    python3 -m pip install --quiet --user 'componentize-py==0.25.1' 2>/dev/null \
        || python3 -m pip install --quiet 'componentize-py==0.25.1'
fi
if ! command -v npm >/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get install -y -qq nodejs npm >/dev/null
    else
        echo "error: Node.js and npm are needed for JavaScript packs; install them (e.g. apt-get install nodejs npm)" >&2
        exit 1
    fi
fi
sdk_js="$(cd "$(dirname "$0")/.." && pwd)/sdk/js"
# Installed again only when the lock file changed since the last install.
stamp="$sdk_js/node_modules/.palisade-installed-lock"
if ! cmp -s "$sdk_js/package-lock.json" "$stamp" 2>/dev/null; then
    npm ci --prefix "$sdk_js" --no-audit --no-fund --loglevel=error >/dev/null
    cp "$sdk_js/package-lock.json" "$stamp"
fi
# The console's browser tests: Debian's Chromium, driven by playwright-core (npm, pinned by the
# lock file in tests/browser).
if ! command -v chromium >/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get install -y -qq chromium >/dev/null 2>&1 \
            || { apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; }
    else
        echo "error: Chromium is needed for the console's browser tests; install it (apt-get install chromium)" >&2
        exit 1
    fi
fi
browser_tests="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
stamp="$browser_tests/node_modules/.palisade-installed-lock"
if ! cmp -s "$browser_tests/package-lock.json" "$stamp" 2>/dev/null; then
    npm ci --prefix "$browser_tests" --no-audit --no-fund --loglevel=error >/dev/null
    cp "$browser_tests/package-lock.json" "$stamp"
fi
