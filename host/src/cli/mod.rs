//! Command-line interface: argument parsing (clap, every flag with an environment fallback),
//! logging set-up and exit codes. Commands parse and delegate; the work happens in `engine` and
//! `store`.

mod account;
mod eval;
mod findings;
mod input;
mod output;
mod policy;
mod report;
mod resources;
mod rules;
mod scan;
mod serve;
mod table;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use crate::engine::{ArtifactCache, Engine, Limits, PackSet, RuleSettings, builtin_packs};
use crate::registry::{Registry, RegistryError, RegistryOptions};
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
    /// Data directory: accounts, resources, findings, and compiled packs. Commands that keep
    /// state default to `./palisade-data`; `eval` uses it only for its compile cache, when set.
    #[arg(long, global = true, env = "PALISADE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// CPU deadline of one pack call, in milliseconds.
    #[arg(long, global = true, env = "PALISADE_DEADLINE_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    deadline_ms: u64,
    /// Memory cap of one pack instance, in MiB.
    #[arg(long, global = true, env = "PALISADE_MEMORY_MIB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    memory_mib: u64,
    /// Rule settings (JSON, or TOML for a `.toml` file): rule id → setting → value, e.g.
    /// `{"AWS.AccessKey.Rotation": {"max-age-days": 45}}`. Values set over the API win.
    #[arg(long, global = true, env = "PALISADE_RULE_SETTINGS")]
    rule_settings: Option<PathBuf>,
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
    /// Onboard, inspect and remove cloud accounts.
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Scan accounts into the store and evaluate every enabled rule.
    Scan(scan::ScanArgs),
    /// Read stored resources.
    #[command(subcommand)]
    Resources(resources::ResourcesCommand),
    /// Read findings.
    #[command(subcommand)]
    Findings(findings::FindingsCommand),
    /// A compliance report (CIS AWS Foundations v7.0) of the stored findings.
    Report(report::ReportArgs),
    /// Run the service: the HTTP API, scheduled scans and hot-loaded policy modules.
    Serve(Box<serve::ServeArgs>),
    /// Build policy packs from Rust, Python or JavaScript rules, and run their test cases.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
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
        Command::Account(command) => account::run(&cli.global, command),
        Command::Scan(args) => scan::run(&cli.global, args),
        Command::Resources(command) => resources::run(&cli.global, command),
        Command::Findings(command) => findings::run(&cli.global, command),
        Command::Report(args) => report::run(&cli.global, args),
        Command::Serve(args) => serve::run(&cli.global, *args),
        Command::Policy(command) => policy::run(&cli.global, command),
    }
}

fn init_logging(global: &GlobalArgs) {
    let filter = tracing_subscriber::EnvFilter::try_new(&global.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour only for people: escape codes in a log file or a pipe are noise.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
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

    /// An engine for `eval`: cached in the data directory only when one was given.
    fn engine(&self) -> anyhow::Result<Engine> {
        match &self.data_dir {
            None => Ok(Engine::new(self.limits())?),
            Some(_) => self.engine_on(self.store()?),
        }
    }

    /// The rule settings of `--rule-settings`; none when it is not given.
    fn configured_settings(&self) -> Result<RuleSettings, InputError> {
        match &self.rule_settings {
            Some(path) => read_rule_settings(path),
            None => Ok(RuleSettings::new()),
        }
    }

    /// The data directory of stateful commands.
    fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
    }

    /// Opens the store in the data directory (one handle per process: sled locks it).
    fn store(&self) -> anyhow::Result<Arc<SledStore>> {
        let dir = self.data_dir();
        let store = SledStore::open(&dir.join("store"))
            .with_context(|| format!("cannot open the store in {}", dir.display()))?;
        Ok(Arc::new(store))
    }

    /// The rules that serve from this data directory: the built-in packs, the modules
    /// uploaded to it, and the operator's rule switches and suppressions.
    fn registry(&self, store: Arc<SledStore>) -> anyhow::Result<Registry> {
        let engine = self.engine_on(store.clone())?;
        let options = RegistryOptions {
            builtin: true,
            observer: None,
            settings: self.configured_settings()?,
        };
        Registry::open(engine, store, options).map_err(registry_error)
    }

    /// An engine whose compiled packs are cached in `store`, keyed next to it.
    fn engine_on(&self, store: Arc<SledStore>) -> anyhow::Result<Engine> {
        self.engine_with(store, self.limits())
    }

    /// Like [`GlobalArgs::engine_on`], with other limits.
    fn engine_with(&self, store: Arc<SledStore>, limits: Limits) -> anyhow::Result<Engine> {
        let cache = ArtifactCache::open(store, &self.data_dir().join("artifact.key"))?;
        Ok(Engine::with_cache(limits, cache)?)
    }
}

/// A registry that cannot open: configured settings it refuses are bad input (exit 2).
fn registry_error(e: RegistryError) -> anyhow::Error {
    match e {
        RegistryError::Settings { .. } => InputError(e.to_string()).into(),
        e => anyhow::Error::new(e).context("cannot load the policy modules"),
    }
}

/// Reads rule settings: an object of rule id to an object of setting values, as JSON, or as
/// TOML when the file name ends in `.toml` (one table per rule).
fn read_rule_settings(path: &Path) -> Result<RuleSettings, InputError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError(format!("cannot read settings {}: {e}", path.display())))?;
    let parsed = if path.extension().is_some_and(|e| e == "toml") {
        toml::from_str(&text).map_err(|e| e.to_string())
    } else {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    };
    parsed.map_err(|e| {
        InputError(format!(
            "settings {}: expected an object of rule id to an object of values: {e}",
            path.display()
        ))
    })
}

/// Where stateful commands keep their data when `--data-dir` is not given.
const DEFAULT_DATA_DIR: &str = "palisade-data";

/// The account id of an account given by name or by 12-digit id.
fn account_id(store: &dyn crate::store::Store, account: &str) -> anyhow::Result<String> {
    crate::store::resolve_account_id(store, account)?
        .ok_or_else(|| InputError(format!("no account named {account:?}")).into())
}

/// The packs named by `--module`, or the built-in packs when there are none.
fn load_packs(engine: &Engine, modules: &[PathBuf]) -> anyhow::Result<PackSet> {
    if modules.is_empty() {
        return builtin_packs(engine).context("the built-in packs failed to load");
    }
    let packs = modules
        .iter()
        .map(|path| {
            let wasm = std::fs::read(path)
                .map_err(|e| InputError(format!("cannot read module {}: {e}", path.display())))?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string());
            engine.load(&name, &wasm).map(Arc::new).map_err(|e| {
                InputError(format!("cannot load module {}: {e}", path.display())).into()
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    PackSet::new(packs).map_err(|e| InputError(e.to_string()).into())
}
