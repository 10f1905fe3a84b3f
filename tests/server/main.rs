//! `palisade serve` end to end: the real binary on a real socket, real WASM components built
//! from source, and scans against the AWS emulator. Each test has its own data directory and
//! service; scanning tests each use a fresh emulator account.

#[path = "../aws/support/mod.rs"]
#[allow(dead_code)] // the emulator harness serves the aws tests too; this uses part of it
mod support;

mod service;

#[path = "../common/builtin.rs"]
mod builtin;

mod api;
mod auth;
mod config;
mod console;
mod events;
mod modules;
mod scans;
