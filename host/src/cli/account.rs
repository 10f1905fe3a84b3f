//! `palisade account add|list|show|remove|role-template|events-template`: onboard accounts and
//! print the CloudFormation templates they deploy: the read-only role, and the rule that forwards
//! their CloudTrail API calls to Palisade's queue (with the policy that queue needs).

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;
use time::OffsetDateTime;

use super::output::{ListFormat, write_list};
use super::scan::{AwsArgs, scan_accounts};
use super::{GlobalArgs, InputError};
use crate::account::{Account, ResourceExclusion};
use crate::aws::role_template::{DEFAULT_ROLE_NAME, role_template};
use crate::events::template::{
    check_source_accounts, events_template, parse_queue_arn, queue_policy,
};
use crate::store::{ScanRecord, Store};

#[derive(Debug, clap::Subcommand)]
pub enum AccountCommand {
    /// Add an account and run its baseline scan.
    Add(Box<AddArgs>),
    /// List accounts.
    List {
        #[arg(long, env = "PALISADE_FORMAT", value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Show an account with its latest scan, as JSON.
    Show { name: String },
    /// Remove an account with its resources and findings.
    Remove { name: String },
    /// Print the CloudFormation template (JSON) that creates the read-only role.
    RoleTemplate {
        /// External id the role will require.
        #[arg(long, env = "PALISADE_EXTERNAL_ID")]
        external_id: Option<String>,
        /// ARN of the identity Palisade runs as; the only principal allowed to assume the role.
        #[arg(long, env = "PALISADE_TRUSTED_PRINCIPAL")]
        trusted_principal: Option<String>,
    },
    /// Print the CloudFormation template (JSON) that forwards CloudTrail API-call events of an
    /// account to Palisade's queue (deploy it in every region to monitor).
    EventsTemplate {
        /// ARN of the SQS queue Palisade consumes.
        #[arg(long, env = "PALISADE_QUEUE_ARN")]
        queue_arn: String,
        /// Print the policy to attach to the queue instead, letting the accounts' topics send to it.
        #[arg(long)]
        queue_policy: bool,
        /// With --queue-policy: an account whose topics may send to the queue (repeatable; none:
        /// any account's palisade-events topic).
        #[arg(
            long = "source-account",
            env = "PALISADE_SOURCE_ACCOUNTS",
            value_delimiter = ','
        )]
        source_accounts: Vec<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// A name for the account (letters, digits, '.', '_', '-').
    name: String,
    /// The 12-digit AWS account id.
    #[arg(long, env = "PALISADE_ACCOUNT_ID")]
    account_id: String,
    /// The read-only role to assume; default the role-template's `arn:aws:iam::<id>:role/PalisadeAudit`.
    #[arg(long, env = "PALISADE_ROLE_ARN")]
    role_arn: Option<String>,
    /// External id the role's trust policy requires.
    #[arg(long, env = "PALISADE_EXTERNAL_ID")]
    external_id: Option<String>,
    /// Region never to scan (repeatable).
    #[arg(
        long = "exclude-region",
        env = "PALISADE_EXCLUDE_REGIONS",
        value_delimiter = ','
    )]
    exclude_regions: Vec<String>,
    /// Resource type never to scan, e.g. AWS.EC2.AMI (repeatable).
    #[arg(
        long = "exclude-type",
        env = "PALISADE_EXCLUDE_TYPES",
        value_delimiter = ','
    )]
    exclude_types: Vec<String>,
    /// Resources never to scan: REGION=GLOB on the resource id, REGION may be '*' (repeatable).
    #[arg(
        long = "exclude-resource",
        env = "PALISADE_EXCLUDE_RESOURCES",
        value_delimiter = ','
    )]
    exclude_resources: Vec<String>,
    /// Do not run the baseline scan now.
    #[arg(long, env = "PALISADE_NO_SCAN")]
    no_scan: bool,
    #[command(flatten)]
    aws: AwsArgs,
}

pub fn run(global: &GlobalArgs, command: AccountCommand) -> anyhow::Result<ExitCode> {
    match command {
        AccountCommand::Add(args) => add(global, *args),
        AccountCommand::List { format } => {
            let accounts = global.store()?.list_accounts()?;
            write_list(
                format,
                &["NAME", "ACCOUNT", "ROLE", "EXCLUSIONS"],
                &accounts,
                |a| {
                    let n = a.excluded_regions.len()
                        + a.excluded_resource_types.len()
                        + a.excluded_resources.len();
                    vec![
                        a.name.clone(),
                        a.account_id.clone(),
                        a.role_arn.clone(),
                        n.to_string(),
                    ]
                },
            )?;
            Ok(ExitCode::SUCCESS)
        }
        AccountCommand::Show { name } => {
            let store = global.store()?;
            let account = store
                .get_account(&name)?
                .ok_or_else(|| InputError(format!("no account named {name:?}")))?;
            #[derive(Serialize)]
            struct Shown {
                #[serde(flatten)]
                account: Account,
                last_scan: Option<ScanRecord>,
            }
            let shown = Shown {
                last_scan: store.last_scan(&name)?,
                account,
            };
            println!("{}", serde_json::to_string_pretty(&shown)?);
            Ok(ExitCode::SUCCESS)
        }
        AccountCommand::Remove { name } => {
            let store = global.store()?;
            let account = store
                .get_account(&name)?
                .ok_or_else(|| InputError(format!("no account named {name:?}")))?;
            let (resources, findings) = crate::store::remove_account(store.as_ref(), &account)?;
            println!(
                "removed account {name} ({}): {resources} resources, {findings} findings",
                account.account_id
            );
            Ok(ExitCode::SUCCESS)
        }
        AccountCommand::RoleTemplate {
            external_id,
            trusted_principal,
        } => {
            let t = role_template(trusted_principal.as_deref(), external_id.as_deref());
            println!("{}", serde_json::to_string_pretty(&t)?);
            Ok(ExitCode::SUCCESS)
        }
        AccountCommand::EventsTemplate {
            queue_arn,
            queue_policy: print_policy,
            source_accounts,
        } => {
            let queue = parse_queue_arn(&queue_arn).map_err(|e| InputError(e.to_string()))?;
            if queue.is_fifo() {
                return Err(InputError(format!(
                    "queue {queue_arn} is a FIFO queue: SNS standard topics deliver only to \
                     standard queues"
                ))
                .into());
            }
            let document = if print_policy {
                check_source_accounts(&source_accounts).map_err(|e| InputError(e.to_string()))?;
                queue_policy(&queue_arn, &source_accounts)
            } else {
                events_template(&queue_arn)
            };
            // A closed pipe (`… | head`) surfaces as an error the caller treats as success.
            let text = serde_json::to_string_pretty(&document)?;
            writeln!(std::io::stdout().lock(), "{text}")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn add(global: &GlobalArgs, args: AddArgs) -> anyhow::Result<ExitCode> {
    let exclusions = args
        .exclude_resources
        .iter()
        .map(|s| s.parse::<ResourceExclusion>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| InputError(e.to_string()))?;
    let account = Account {
        role_arn: args.role_arn.unwrap_or_else(|| {
            format!("arn:aws:iam::{}:role/{DEFAULT_ROLE_NAME}", args.account_id)
        }),
        name: args.name,
        account_id: args.account_id,
        external_id: args.external_id,
        excluded_regions: args.exclude_regions,
        excluded_resource_types: args.exclude_types,
        excluded_resources: exclusions,
        scan_interval_hours: None,
        added_at: OffsetDateTime::now_utc(),
    };
    account.validate().map_err(|e| InputError(e.to_string()))?;
    let store = global.store()?;
    match crate::store::add_account(store.as_ref(), &account) {
        Ok(()) => {}
        Err(crate::store::AddAccountError::Store(e)) => return Err(e.into()),
        Err(e @ crate::store::AddAccountError::NameTaken(_)) => {
            return Err(InputError(format!("{e}; remove it first")).into());
        }
        Err(conflict) => return Err(InputError(conflict.to_string()).into()),
    }
    println!("added account {} ({})", account.name, account.account_id);
    if args.no_scan {
        return Ok(ExitCode::SUCCESS);
    }
    scan_accounts(global, &args.aws, store, std::slice::from_ref(&account))
}
