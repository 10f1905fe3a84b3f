//! `palisade scan`: scan accounts into the store and evaluate them; also the AWS flags and
//! the progress display that `account add` shares.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use std::collections::HashMap;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::{GlobalArgs, InputError};
use crate::account::Account;
use crate::aws::{AwsOptions, DEFAULT_HOME_REGION, ErrorKind, Session};
use crate::scan::{Progress, ScanOptions, Scanner, Service, Task, issue_counts};
use crate::store::{ScanRecord, Store};

/// How to reach AWS and how hard to push it.
#[derive(Debug, Clone, clap::Args)]
pub struct AwsArgs {
    /// Send every AWS call to this endpoint (an emulator such as moto) instead of AWS.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub(super) endpoint_url: Option<String>,
    /// Region for global services and region discovery.
    #[arg(long, env = "PALISADE_HOME_REGION", default_value = DEFAULT_HOME_REGION)]
    pub(super) home_region: String,
    /// Scan only these regions (repeatable); default every enabled region.
    #[arg(long = "region", env = "PALISADE_REGIONS", value_delimiter = ',')]
    pub(super) regions: Vec<String>,
    /// Collector runs in flight at once.
    #[arg(long, env = "PALISADE_SCAN_CONCURRENCY", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(super) concurrency: u16,
}

impl AwsArgs {
    /// How to reach AWS.
    pub(super) fn options(&self) -> AwsOptions {
        AwsOptions {
            endpoint_url: self.endpoint_url.clone(),
            home_region: self.home_region.clone(),
            ..AwsOptions::default()
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Accounts to scan, by name (repeatable); default every account.
    #[arg(long = "account", env = "PALISADE_ACCOUNTS", value_delimiter = ',')]
    accounts: Vec<String>,
    #[command(flatten)]
    aws: AwsArgs,
}

pub fn run(global: &GlobalArgs, args: ScanArgs) -> anyhow::Result<ExitCode> {
    let store = global.store()?;
    let accounts = if args.accounts.is_empty() {
        store.list_accounts()?
    } else {
        args.accounts
            .iter()
            .map(|name| {
                store
                    .get_account(name)?
                    .ok_or_else(|| InputError(format!("no account named {name:?}")).into())
            })
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    if accounts.is_empty() {
        return Err(
            InputError("no accounts to scan: add one with `palisade account add`".into()).into(),
        );
    }
    scan_accounts(global, &args.aws, store, &accounts)
}

/// Scans `accounts` one after another, printing a summary of each; exit code 1 when any scan
/// failed or could not reach AWS for part of the account.
pub fn scan_accounts(
    global: &GlobalArgs,
    aws: &AwsArgs,
    store: Arc<crate::store::SledStore>,
    accounts: &[Account],
) -> anyhow::Result<ExitCode> {
    let rules = Arc::new(global.registry(store.clone())?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let options = aws.options();
    let scan_options = ScanOptions {
        concurrency: usize::from(aws.concurrency),
        regions: aws.regions.clone(),
        ..ScanOptions::default()
    };
    let mut failed = false;
    for account in accounts {
        let progress = Display::new();
        let result = runtime.block_on(async {
            let host = Session::host(options.clone()).await;
            let scanner = Scanner::new(
                host,
                store.clone() as Arc<dyn Store>,
                rules.clone(),
                scan_options.clone(),
            );
            scanner.scan(account, &progress).await
        });
        progress.done();
        match result {
            Ok(record) => {
                print_summary(&record);
                failed |= record
                    .issues
                    .iter()
                    .any(|i| matches!(i.kind, ErrorKind::Unreachable | ErrorKind::Credentials));
            }
            Err(e) => {
                eprintln!("error: scan of account {} failed: {e}", account.name);
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_summary(r: &ScanRecord) {
    let took = (r.finished_at - r.started_at).as_seconds_f64();
    let total: u64 = r.resources.values().sum();
    println!(
        "account {} ({}): {total} resources in {} regions; {} new or changed, {} deleted; {} evaluated; {took:.1}s, {} API calls",
        r.account_name,
        r.account_id,
        r.regions.len(),
        r.changed,
        r.deleted,
        r.evaluated,
        r.api_calls,
    );
    for (ty, n) in &r.resources {
        println!("  {ty:<28} {n}");
    }
    let failing: Vec<String> = ["critical", "high", "medium", "low", "info"]
        .iter()
        .map(|s| format!("{s} {}", r.failing.get(*s).copied().unwrap_or(0)))
        .collect();
    println!(
        "  failing findings: {}; in error: {}",
        failing.join(", "),
        r.errors
    );
    if !r.issues.is_empty() {
        let mut kinds: Vec<_> = issue_counts(&r.issues).into_iter().collect();
        kinds.sort();
        let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
        println!(
            "  collection errors: {} ({})",
            r.issues.len(),
            kinds.join(", ")
        );
        for issue in r.issues.iter().take(10) {
            let what = issue
                .resource_id
                .as_deref()
                .or(issue.resource_type.as_deref())
                .unwrap_or("");
            let field = issue
                .field
                .as_deref()
                .map(|f| format!(" {f}"))
                .unwrap_or_default();
            println!(
                "    {}/{} {what}{field}: {}",
                issue.service, issue.region, issue.message
            );
        }
        if r.issues.len() > 10 {
            println!(
                "    ... and {} more (`palisade account show {}`)",
                r.issues.len() - 10,
                r.account_name
            );
        }
    }
}

/// On a terminal, an overall bar with a spinner per running service/region; one log line per
/// collector run otherwise.
struct Display {
    bars: Option<Bars>,
}

struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    /// The spinner of each running (service, region).
    running: Mutex<HashMap<(Service, String), ProgressBar>>,
}

impl Display {
    fn new() -> Display {
        let bars = std::io::stderr().is_terminal().then(|| {
            let multi = MultiProgress::new();
            let overall = multi.add(ProgressBar::new(0));
            overall.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} runs {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            Bars {
                multi,
                overall,
                running: Mutex::new(HashMap::new()),
            }
        });
        Display { bars }
    }

    fn done(&self) {
        if let Some(bars) = &self.bars {
            bars.overall.finish_and_clear();
            let _ = bars.multi.clear();
        }
    }
}

impl Progress for Display {
    fn planned(&self, account: &Account, tasks: usize) {
        match &self.bars {
            Some(bars) => {
                bars.overall.set_prefix(account.name.clone());
                bars.overall.set_length(tasks as u64);
            }
            None => eprintln!(
                "scanning {} ({}): {tasks} collector runs",
                account.name, account.account_id
            ),
        }
    }

    fn started(&self, task: &Task) {
        if let Some(bars) = &self.bars {
            let spinner = bars.multi.add(ProgressBar::new_spinner());
            spinner.set_style(
                ProgressStyle::with_template("  {spinner} {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            spinner.set_message(format!("{}/{}", task.service.name(), task.region));
            spinner.enable_steady_tick(Duration::from_millis(120));
            if let Ok(mut running) = bars.running.lock() {
                running.insert((task.service, task.region.clone()), spinner);
            }
        }
    }

    fn finished(&self, task: &Task, resources: usize, issues: usize, took: Duration) {
        let line = format!(
            "{}/{}: {resources} resources, {issues} errors, {:.1}s",
            task.service.name(),
            task.region,
            took.as_secs_f64()
        );
        match &self.bars {
            Some(bars) => {
                let spinner = bars
                    .running
                    .lock()
                    .ok()
                    .and_then(|mut r| r.remove(&(task.service, task.region.clone())));
                if let Some(spinner) = spinner {
                    spinner.finish_and_clear();
                    bars.multi.remove(&spinner);
                }
                bars.overall.inc(1);
            }
            None => eprintln!("  {line}"),
        }
    }

    fn evaluating(&self, resources: usize) {
        let line = format!("evaluating {resources} resources");
        match &self.bars {
            Some(bars) => bars.overall.set_message(line),
            None => eprintln!("  {line}"),
        }
    }
}
