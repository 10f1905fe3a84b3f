//! Palisade: cloud security posture scanning with sandboxed WebAssembly policy packs.
//!
//! The data path is scan → store → evaluate → findings → API. This crate holds the host side:
//! [`engine`] (the only module that touches wasmtime), [`store`] (the embedded database), and
//! [`cli`] (the command line).

pub mod account;
pub mod alerts;
pub mod aws;
pub mod cli;
pub mod compliance;
pub mod console;
pub mod engine;
pub mod events;
pub mod findings;
pub mod policy_tests;
pub mod registry;
pub mod scan;
pub mod server;
pub mod store;
