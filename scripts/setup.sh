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
