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
