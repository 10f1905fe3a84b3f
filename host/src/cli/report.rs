//! `palisade report`: a compliance report (CIS AWS Foundations v7.0) of the stored findings, as
//! HTML, JSON or CSV. Building and rendering the report is `compliance`'s.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use time::OffsetDateTime;

use super::{GlobalArgs, InputError};
use crate::compliance::render::{ReportFormat, render};
use crate::compliance::{FRAMEWORKS, Framework, Report};
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The framework, e.g. `cis-aws-7.0`.
    #[arg(long, env = "PALISADE_FRAMEWORK", default_value = "cis-aws-7.0")]
    framework: String,
    /// Only these accounts (name or 12-digit id; repeatable); default every account.
    #[arg(long = "account", env = "PALISADE_ACCOUNTS", value_delimiter = ',')]
    accounts: Vec<String>,
    /// `html` (one self-contained page), `json` or `csv` (a row per control).
    #[arg(long, env = "PALISADE_FORMAT", value_enum, default_value_t = ReportFormat::Html)]
    format: ReportFormat,
    /// Write the report here instead of to standard output.
    #[arg(long, short, env = "PALISADE_OUTPUT")]
    output: Option<PathBuf>,
}

pub fn run(global: &GlobalArgs, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let framework = Framework::find(&args.framework).ok_or_else(|| {
        let known: Vec<&str> = FRAMEWORKS.iter().map(|f| f.id).collect();
        InputError(format!(
            "unknown framework {:?}; known: {}",
            args.framework,
            known.join(", ")
        ))
    })?;
    let store = global.store()?;
    let registry = global.registry(store.clone())?;
    let accounts = accounts(store.as_ref(), &args.accounts)?;
    let findings = crate::findings::open_findings(store.as_ref(), &accounts)?;
    let report = Report::build(
        framework,
        &registry.current().rules(),
        &findings,
        accounts,
        OffsetDateTime::now_utc(),
    );
    let bytes = render(&report, args.format)?;
    match &args.output {
        Some(path) => std::fs::write(path, &bytes)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The 12-digit ids of the accounts named, or of every stored account.
pub(super) fn accounts(store: &dyn Store, named: &[String]) -> anyhow::Result<Vec<String>> {
    if named.is_empty() {
        return Ok(store
            .list_accounts()?
            .into_iter()
            .map(|a| a.account_id)
            .collect());
    }
    named.iter().map(|a| super::account_id(store, a)).collect()
}
