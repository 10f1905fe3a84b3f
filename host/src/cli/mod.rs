//! Command-line interface: argument parsing (clap, every flag with an environment fallback),
//! logging set-up and exit codes. Commands parse and delegate; the work happens in `engine` and
//! `store`.

mod eval;
mod input;
mod rules;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use crate::engine::{ArtifactCache, BUILTIN_PACKS, Engine, Limits, Pack, PackSet};
use crate::store::SledStore;

/// Palisade: cloud security posture scanning with sandboxed WebAssembly policy packs.
#[derive(Debug, Parser)]
#[command(name = "palisade", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct GlobalArgs {
    /// Log filter (tracing `EnvFilter` syntax, e.g. `info` or `palisade=debug`). Logs go to stderr.
    #[arg(long, global = true, env = "PALISADE_LOG", default_value = "warn")]
    log: String,
    /// Log line format.
    #[arg(long, global = true, env = "PALISADE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Data directory. When set, compiled packs are cached there between runs.
    #[arg(long, global = true, env = "PALISADE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// CPU deadline of one pack call, in milliseconds.
    #[arg(long, global = true, env = "PALISADE_DEADLINE_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    deadline_ms: u64,
    /// Memory cap of one pack instance, in MiB.
    #[arg(long, global = true, env = "PALISADE_MEMORY_MIB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    memory_mib: u64,
}

/// How a command prints its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// Machine-readable JSON (JSON Lines for streams of verdicts).
    Json,
    /// An aligned text table for people.
    Table,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List rule metadata as a JSON array.
    Rules(rules::RulesArgs),
    /// Evaluate resource documents; prints one JSON line per (resource, rule).
    Eval(eval::EvalArgs),
}

/// A problem with what the user supplied (exit code 2), as opposed to a failure while working
/// (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// Run the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.global);
    match run(cli) {
        Ok(code) => code,
        // The reader went away (`palisade eval ... | head`): nothing is wrong with the run.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.downcast_ref::<InputError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let kind = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                cause
                    .downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            });
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Rules(args) => rules::run(&cli.global, args),
        Command::Eval(args) => eval::run(&cli.global, args),
    }
}

fn init_logging(global: &GlobalArgs) {
    let filter = tracing_subscriber::EnvFilter::try_new(&global.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match global.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

impl GlobalArgs {
    fn limits(&self) -> Limits {
        Limits {
            deadline: std::time::Duration::from_millis(self.deadline_ms),
            memory_bytes: (self.memory_mib as usize) << 20,
            ..Limits::default()
        }
    }

    fn engine(&self) -> anyhow::Result<Engine> {
        let limits = self.limits();
        let engine = match &self.data_dir {
            None => Engine::new(limits),
            Some(dir) => {
                let store = SledStore::open(&dir.join("store"))
                    .with_context(|| format!("cannot open the store in {}", dir.display()))?;
                let cache = ArtifactCache::open(Arc::new(store), &dir.join("artifact.key"))?;
                Engine::with_cache(limits, cache)
            }
        };
        Ok(engine?)
    }
}

/// The packs named by `--module`, or the built-in packs when there are none.
fn load_packs(engine: &Engine, modules: &[PathBuf]) -> anyhow::Result<PackSet> {
    let packs = if modules.is_empty() {
        BUILTIN_PACKS
            .iter()
            .map(|b| engine.load(b.name, b.wasm).map(Arc::new))
            .collect::<Result<Vec<Arc<Pack>>, _>>()
            .context("a built-in pack failed to load")?
    } else {
        modules
            .iter()
            .map(|path| {
                let wasm = std::fs::read(path).map_err(|e| {
                    InputError(format!("cannot read module {}: {e}", path.display()))
                })?;
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| path.display().to_string());
                engine.load(&name, &wasm).map(Arc::new).map_err(|e| {
                    InputError(format!("cannot load module {}: {e}", path.display())).into()
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    PackSet::new(packs).map_err(|e| InputError(e.to_string()).into())
}
