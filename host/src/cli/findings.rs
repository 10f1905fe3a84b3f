//! `palisade findings list|history`: read the findings the scans recorded.

use std::process::ExitCode;

use serde::Serialize;
use time::format_description::well_known::Rfc3339;

use super::output::{ListFormat, write_list};
use super::{GlobalArgs, InputError};
use crate::compliance::export;
use crate::engine::Severity;
use crate::store::{FindingFilter, FindingRecord, FindingState, FindingStatus, Store};

#[derive(Debug, clap::Subcommand)]
pub enum FindingsCommand {
    /// List open findings (closed ones with --include-closed).
    List(ListArgs),
    /// Print the status changes of one finding, oldest first.
    History {
        /// Rule id.
        #[arg(long)]
        rule: String,
        /// Resource id.
        #[arg(long)]
        resource: String,
        #[arg(long, env = "PALISADE_FORMAT", value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Export open findings as OCSF Compliance Findings (a JSON array) or a SARIF log.
    Export(ExportArgs),
}

/// The exchange formats of `findings export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// OCSF 1.3 Compliance Findings (class 2003), as read by Security Hub and Prowler users.
    Ocsf,
    /// SARIF 2.1.0: failures and undecided verdicts as results, rules as descriptors.
    Sarif,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[arg(long, env = "PALISADE_EXPORT_FORMAT", value_enum)]
    format: ExportFormat,
    /// Only these accounts (name or 12-digit id; repeatable); default every account.
    #[arg(long = "account", env = "PALISADE_ACCOUNTS", value_delimiter = ',')]
    accounts: Vec<String>,
    /// Only findings with this status: pass, fail, error or suppressed.
    #[arg(long, env = "PALISADE_STATUS", value_enum)]
    status: Option<FindingStatus>,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only findings with this status: pass, fail or error.
    #[arg(long, env = "PALISADE_STATUS", value_enum)]
    status: Option<FindingStatus>,
    /// Only findings of this severity or higher: info, low, medium, high, critical.
    #[arg(long, env = "PALISADE_SEVERITY", value_enum)]
    severity: Option<Severity>,
    /// Only findings of this rule.
    #[arg(long, env = "PALISADE_RULE")]
    rule: Option<String>,
    /// Only findings in this account (name or 12-digit id).
    #[arg(long, env = "PALISADE_ACCOUNT")]
    account: Option<String>,
    /// Also list findings closed because their resource went away.
    #[arg(long, env = "PALISADE_INCLUDE_CLOSED")]
    include_closed: bool,
    #[arg(long, env = "PALISADE_FORMAT", value_enum, default_value_t = ListFormat::Table)]
    format: ListFormat,
}

/// One line of `findings list --format json`: `palisade eval`'s fields first, then the
/// finding's own.
#[derive(Serialize)]
struct FindingLine<'a> {
    rule_id: &'a str,
    resource_id: &'a str,
    resource_type: &'a str,
    status: FindingStatus,
    message: Option<&'a str>,
    severity: &'a str,
    account_id: &'a str,
    region: &'a str,
    first_seen: String,
    last_seen: String,
    status_changed_at: String,
    closed_at: Option<String>,
    /// For the table: the status, or closed.
    #[serde(skip)]
    state: FindingState,
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

impl<'a> From<&'a FindingRecord> for FindingLine<'a> {
    fn from(f: &'a FindingRecord) -> Self {
        FindingLine {
            rule_id: &f.rule_id,
            resource_id: &f.resource_id,
            resource_type: &f.resource_type,
            status: f.status,
            message: f.message.as_deref(),
            severity: &f.severity,
            account_id: &f.account_id,
            region: &f.region,
            first_seen: rfc3339(f.first_seen),
            last_seen: rfc3339(f.last_seen),
            status_changed_at: rfc3339(f.status_changed_at),
            closed_at: f.closed_at.map(rfc3339),
            state: f.state(),
        }
    }
}

pub fn run(global: &GlobalArgs, command: FindingsCommand) -> anyhow::Result<ExitCode> {
    let store = global.store()?;
    match command {
        FindingsCommand::List(args) => list(store.as_ref(), args),
        FindingsCommand::Export(args) => {
            let accounts = super::report::accounts(store.as_ref(), &args.accounts)?;
            let mut findings = crate::findings::open_findings(store.as_ref(), &accounts)?;
            findings.retain(|f| args.status.is_none_or(|s| f.status == s));
            let rules = global.registry(store.clone())?.current().rules();
            let value = match args.format {
                ExportFormat::Ocsf => serde_json::Value::Array(export::ocsf(&findings, &rules)),
                ExportFormat::Sarif => export::sarif(&findings, &rules),
            };
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            serde_json::to_writer_pretty(&mut out, &value)?;
            std::io::Write::write_all(&mut out, b"\n")?;
            std::io::Write::flush(&mut out)?;
            Ok(ExitCode::SUCCESS)
        }
        FindingsCommand::History {
            rule,
            resource,
            format,
        } => {
            let changes = store.finding_history(&rule, &resource)?;
            if changes.is_empty() {
                return Err(InputError(format!("no finding for rule {rule} on {resource}")).into());
            }
            write_list(format, &["AT", "FROM", "TO", "MESSAGE"], &changes, |c| {
                vec![
                    rfc3339(c.at),
                    c.from.map_or("-", FindingState::as_str).to_owned(),
                    c.to.as_str().to_owned(),
                    c.message.clone().unwrap_or_default(),
                ]
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn list(store: &dyn Store, args: ListArgs) -> anyhow::Result<ExitCode> {
    let account_id = args
        .account
        .map(|a| super::account_id(store, &a))
        .transpose()?;
    let mut findings = store.list_findings(&FindingFilter {
        rule_id: args.rule,
        status: args.status,
        account_id,
    })?;
    findings.retain(|f| {
        (args.include_closed || f.closed_at.is_none())
            && args
                .severity
                .is_none_or(|min| Severity::parse(&f.severity).is_some_and(|s| s >= min))
    });
    // Worst first, then by rule and resource.
    findings.sort_by(|a, b| {
        let rank = |f: &FindingRecord| Severity::parse(&f.severity);
        rank(b)
            .cmp(&rank(a))
            .then_with(|| a.rule_id.cmp(&b.rule_id))
            .then_with(|| a.resource_id.cmp(&b.resource_id))
    });
    let lines: Vec<FindingLine<'_>> = findings.iter().map(FindingLine::from).collect();
    write_list(
        args.format,
        &["STATUS", "SEVERITY", "RULE", "RESOURCE", "MESSAGE"],
        &lines,
        |l| {
            vec![
                l.state.as_str().to_uppercase(),
                l.severity.to_owned(),
                l.rule_id.to_owned(),
                l.resource_id.to_owned(),
                l.message.unwrap_or_default().to_owned(),
            ]
        },
    )?;
    Ok(ExitCode::SUCCESS)
}
