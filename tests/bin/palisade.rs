//! The `palisade` command line, built inside this test package so its integration tests can
//! run it (`CARGO_BIN_EXE_palisade-cli`); the same entry point as host/src/main.rs.

use std::process::ExitCode;

fn main() -> ExitCode {
    palisade::cli::main()
}
