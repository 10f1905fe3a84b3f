//! `palisade resources list|get`: read the resources the scans stored.

use std::process::ExitCode;

use serde::Serialize;
use time::format_description::well_known::Rfc3339;

use super::output::{ListFormat, write_list};
use super::{GlobalArgs, InputError};
use crate::store::{ResourceFilter, Store};

#[derive(Debug, clap::Subcommand)]
pub enum ResourcesCommand {
    /// List stored resources.
    List {
        /// Only resources of this account (name or 12-digit id).
        #[arg(long, env = "PALISADE_ACCOUNT")]
        account: Option<String>,
        /// Only resources of this type, e.g. AWS.S3.Bucket.
        #[arg(long = "type", env = "PALISADE_RESOURCE_TYPE")]
        resource_type: Option<String>,
        /// Only resources in this region (`global` for IAM).
        #[arg(long, env = "PALISADE_REGION")]
        region: Option<String>,
        /// Also list resources that were deleted.
        #[arg(long, env = "PALISADE_INCLUDE_DELETED")]
        include_deleted: bool,
        #[arg(long, env = "PALISADE_FORMAT", value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Print one resource's document as JSON.
    Get {
        /// The resource id (an ARN where AWS has one).
        id: String,
        /// The account, when the id alone is ambiguous.
        #[arg(long, env = "PALISADE_ACCOUNT")]
        account: Option<String>,
    },
}

/// One line of `resources list --format json`.
#[derive(Serialize)]
struct ResourceLine<'a> {
    resource_id: &'a str,
    resource_type: &'a str,
    account_id: &'a str,
    region: &'a str,
    updated_at: String,
    deleted_at: Option<String>,
}

pub fn run(global: &GlobalArgs, command: ResourcesCommand) -> anyhow::Result<ExitCode> {
    let store = global.store()?;
    match command {
        ResourcesCommand::List {
            account,
            resource_type,
            region,
            include_deleted,
            format,
        } => {
            let account_id = account
                .map(|a| super::account_id(store.as_ref(), &a))
                .transpose()?;
            let records = store.list_resources(&ResourceFilter {
                account_id,
                resource_type,
            })?;
            let lines: Vec<ResourceLine<'_>> = records
                .iter()
                .filter(|r| include_deleted || r.deleted_at.is_none())
                .filter(|r| region.as_ref().is_none_or(|g| *g == r.region))
                .map(|r| ResourceLine {
                    resource_id: &r.resource_id,
                    resource_type: &r.resource_type,
                    account_id: &r.account_id,
                    region: &r.region,
                    updated_at: r.updated_at.format(&Rfc3339).unwrap_or_default(),
                    deleted_at: r.deleted_at.and_then(|t| t.format(&Rfc3339).ok()),
                })
                .collect();
            write_list(
                format,
                &["TYPE", "REGION", "ACCOUNT", "RESOURCE", "DELETED"],
                &lines,
                |l| {
                    vec![
                        l.resource_type.to_owned(),
                        l.region.to_owned(),
                        l.account_id.to_owned(),
                        l.resource_id.to_owned(),
                        l.deleted_at.clone().unwrap_or_default(),
                    ]
                },
            )?;
            Ok(ExitCode::SUCCESS)
        }
        ResourcesCommand::Get { id, account } => {
            let account_id = account
                .map(|a| super::account_id(store.as_ref(), &a))
                .transpose()?;
            let accounts: Vec<String> = match account_id {
                Some(a) => vec![a],
                // `account add` refuses a second account with the same id.
                None => store
                    .list_accounts()?
                    .into_iter()
                    .map(|a| a.account_id)
                    .collect(),
            };
            for a in accounts {
                if let Some(r) = store.find_resource(&a, &id)? {
                    println!("{}", serde_json::to_string_pretty(&r.document)?);
                    return Ok(ExitCode::SUCCESS);
                }
            }
            Err(InputError(format!("no resource with id {id:?}")).into())
        }
    }
}
