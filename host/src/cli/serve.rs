//! `palisade serve`: reads the service configuration (flags and environment first, then an
//! optional TOML file, then defaults), opens the data directory and runs the server until
//! SIGINT or SIGTERM. The service itself is `server`'s.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;

use super::scan::AwsArgs;
use super::{GlobalArgs, InputError};
use crate::alerts::{AlertOptions, Webhook};
use crate::engine::RuleSettings;
use crate::events::pending::Debounce;
use crate::events::realtime::RealTimeOptions;
use crate::registry::{Registry, RegistryOptions};
use crate::scan::ScanOptions;
use crate::server::auth::{Tokens, TrustedKeys};
use crate::server::metrics::Metrics;
use crate::server::scheduler::ScheduleOptions;
use crate::server::{MetricsObserver, ServeOptions, Server};
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// TOML configuration file; flags and environment variables override it.
    #[arg(long, env = "PALISADE_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "PALISADE_LISTEN")]
    listen: Option<SocketAddr>,
    /// Admin bearer tokens (comma-separated in the environment). Prefer the environment or
    /// the file: flags show up in process listings.
    #[arg(
        long = "admin-token",
        env = "PALISADE_ADMIN_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    admin_tokens: Vec<String>,
    /// Read-only bearer tokens.
    #[arg(
        long = "reader-token",
        env = "PALISADE_READER_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    reader_tokens: Vec<String>,
    /// Ed25519 public keys (hex or base64) trusted to sign modules; when any is set, every
    /// uploaded module must be signed by one.
    #[arg(
        long = "trusted-key",
        env = "PALISADE_TRUSTED_KEYS",
        value_delimiter = ','
    )]
    trusted_keys: Vec<String>,
    /// Hours between scans of accounts that set no interval of their own [default: 24].
    #[arg(long, env = "PALISADE_SCAN_INTERVAL_HOURS", value_parser = clap::value_parser!(u32).range(1..=8784))]
    scan_interval_hours: Option<u32>,
    /// Seconds between looks for accounts due a scan [default: 60].
    #[arg(long, env = "PALISADE_SCHEDULER_TICK_SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    scheduler_tick_secs: Option<u64>,
    /// Accounts scanned at once [default: 2].
    #[arg(long, env = "PALISADE_CONCURRENT_SCANS", value_parser = clap::value_parser!(u64).range(1..=64))]
    concurrent_scans: Option<u64>,
    /// Largest module accepted, in MiB [default: 50].
    #[arg(long, env = "PALISADE_MAX_MODULE_MIB", value_parser = clap::value_parser!(u64).range(1..=1024))]
    max_module_mib: Option<u64>,
    /// Seconds shutdown waits for running scans [default: 30].
    #[arg(long, env = "PALISADE_SHUTDOWN_GRACE_SECS")]
    shutdown_grace_secs: Option<u64>,
    /// Do not serve the packs built into the binary.
    #[arg(long, env = "PALISADE_NO_BUILTIN_PACKS")]
    no_builtin_packs: bool,
    /// SQS queue of CloudTrail events (EventBridge API-call events or S3 notifications of new
    /// log files, SNS-wrapped or not) that keeps findings current between scans.
    #[arg(long, env = "PALISADE_EVENTS_QUEUE_URL")]
    events_queue_url: Option<String>,
    /// Region of the event queue [default: from an AWS queue URL, else the home region].
    #[arg(long, env = "PALISADE_EVENTS_QUEUE_REGION")]
    events_queue_region: Option<String>,
    /// Milliseconds of quiet after a resource's last event before it is rescanned [default: 2000].
    #[arg(long, env = "PALISADE_EVENTS_DEBOUNCE_MS", value_parser = clap::value_parser!(u64).range(0..=600_000))]
    events_debounce_ms: Option<u64>,
    /// Seconds one receive waits for messages (SQS long polling) [default: 20].
    #[arg(long, env = "PALISADE_EVENTS_WAIT_SECS", value_parser = clap::value_parser!(u64).range(0..=20))]
    events_wait_secs: Option<u64>,
    /// Webhook URLs that receive alerts as JSON posts (comma-separated in the environment).
    #[arg(
        long = "alert-webhook",
        env = "PALISADE_ALERT_WEBHOOKS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    alert_webhooks: Vec<String>,
    /// Secret that signs alert bodies (`X-Palisade-Signature: sha256=<hex HMAC-SHA256>`).
    #[arg(long, env = "PALISADE_ALERT_SIGNING_SECRET", hide_env_values = true)]
    alert_signing_secret: Option<String>,
    /// Base URL of this API as alert receivers reach it, for links [default: the address
    /// listened on].
    #[arg(long, env = "PALISADE_PUBLIC_URL")]
    public_url: Option<String>,
    #[command(flatten)]
    aws: AwsArgs,
}

/// The TOML file: the same settings as the flags, in snake case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    #[serde(default)]
    admin_tokens: Vec<String>,
    #[serde(default)]
    reader_tokens: Vec<String>,
    #[serde(default)]
    trusted_keys: Vec<String>,
    scan_interval_hours: Option<u32>,
    scheduler_tick_secs: Option<u64>,
    concurrent_scans: Option<u64>,
    max_module_mib: Option<u64>,
    shutdown_grace_secs: Option<u64>,
    no_builtin_packs: Option<bool>,
    events_queue_url: Option<String>,
    events_queue_region: Option<String>,
    events_debounce_ms: Option<u64>,
    events_wait_secs: Option<u64>,
    #[serde(default)]
    alert_webhooks: Vec<String>,
    alert_signing_secret: Option<String>,
    public_url: Option<String>,
    /// `[rule_settings."AWS.AccessKey.Rotation"]` tables; `--rule-settings` wins rule by rule.
    #[serde(default)]
    rule_settings: RuleSettings,
}

impl FileConfig {
    fn read(path: &Path) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError(format!("cannot read {}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| {
            InputError(format!("invalid configuration {}: {e}", path.display())).into()
        })
    }
}

/// Flags win over the file; a list given as a flag replaces the file's.
fn pick<T>(flag: Vec<T>, file: Vec<T>) -> Vec<T> {
    if flag.is_empty() { file } else { flag }
}

pub fn run(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let file = match &args.config {
        Some(path) => FileConfig::read(path)?,
        None => FileConfig::default(),
    };
    let tokens = Tokens::new(
        &pick(args.admin_tokens, file.admin_tokens),
        &pick(args.reader_tokens, file.reader_tokens),
    )
    .map_err(|e| InputError(e.to_string()))?;
    if tokens.is_empty() {
        return Err(InputError(
            "no API tokens: set PALISADE_ADMIN_TOKENS (and PALISADE_READER_TOKENS), or admin_tokens in the configuration file".into(),
        )
        .into());
    }
    let trusted = TrustedKeys::parse(&pick(args.trusted_keys, file.trusted_keys))
        .map_err(|e| InputError(e.to_string()))?;
    let interval_hours = args
        .scan_interval_hours
        .or(file.scan_interval_hours)
        .unwrap_or(24);
    let max_module_bytes =
        (args.max_module_mib.or(file.max_module_mib).unwrap_or(50) as usize) << 20;
    let schedule = ScheduleOptions {
        default_interval: Duration::from_secs(u64::from(interval_hours) * 3600),
        tick: Duration::from_secs(
            args.scheduler_tick_secs
                .or(file.scheduler_tick_secs)
                .unwrap_or(60),
        ),
        concurrent_scans: args.concurrent_scans.or(file.concurrent_scans).unwrap_or(2) as usize,
        scan: ScanOptions {
            concurrency: usize::from(args.aws.concurrency),
            regions: args.aws.regions.clone(),
            ..ScanOptions::default()
        },
        ..ScheduleOptions::default()
    };
    let builtin = !(args.no_builtin_packs || file.no_builtin_packs.unwrap_or(false));
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let alerts = AlertOptions {
        webhooks: pick(args.alert_webhooks, file.alert_webhooks)
            .iter()
            .map(|url| Webhook::parse(url))
            .collect::<Result<_, _>>()
            .map_err(|e| InputError(e.to_string()))?,
        public_url: args.public_url.or(file.public_url).unwrap_or_default(),
        signing_secret: args.alert_signing_secret.or(file.alert_signing_secret),
        ..AlertOptions::default()
    };
    let events = args.events_queue_url.or(file.events_queue_url).map(|url| {
        let mut events = RealTimeOptions::new(url);
        events.queue_region = args.events_queue_region.or(file.events_queue_region);
        if let Some(ms) = args.events_debounce_ms.or(file.events_debounce_ms) {
            let delay = Duration::from_millis(ms);
            events.debounce = Debounce {
                delay,
                // However busy a resource stays, it is rescanned this often.
                max_delay: (delay * 15).max(Debounce::default().max_delay),
            };
        }
        if let Some(secs) = args.events_wait_secs.or(file.events_wait_secs) {
            events.wait_seconds = secs as i32;
        }
        events
    });
    let options = ServeOptions {
        listen,
        tokens,
        trusted,
        aws: args.aws.options(),
        schedule,
        max_module_bytes,
        shutdown_grace: Duration::from_secs(
            args.shutdown_grace_secs
                .or(file.shutdown_grace_secs)
                .unwrap_or(30),
        ),
        alerts,
        events,
    };

    let mut settings = file.rule_settings.clone();
    settings.extend(global.configured_settings()?);
    let store = global.store()?;
    let mut limits = global.limits();
    limits.max_module_bytes = max_module_bytes;
    let engine = global.engine_with(store.clone(), limits)?;
    let metrics = Arc::new(Metrics::new());
    let registry = Registry::open(
        engine,
        store.clone(),
        RegistryOptions {
            builtin,
            observer: Some(Arc::new(MetricsObserver(metrics.clone()))),
            settings,
        },
    )
    .map_err(super::registry_error)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let signal = shutdown_signal()?;
        let server = Server::start(
            options,
            store.clone() as Arc<dyn Store>,
            Arc::new(registry),
            metrics,
        )
        .await?;
        // Scripts and tests wait for this line to know the port.
        eprintln!("palisade: listening on http://{}", server.addr);
        server.run_until(signal).await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed now, before the service
/// announces itself, so a signal sent right after the announcement is never missed.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
