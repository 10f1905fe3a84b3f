//! The `palisade` binary: parses the command line, sets up logging, and hands over to `cli`.
//! Exit codes: 0 success, 1 runtime failure, 2 bad input or usage, 3 findings with `--exit-code`.

use std::process::ExitCode;

fn main() -> ExitCode {
    palisade::cli::main()
}
