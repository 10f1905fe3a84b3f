//! `aws-ec2`: the compute rules of the catalog's "EC2 and VPC" section (EBS volumes and their
//! snapshots, AMIs, instances, tagging) plus the CIS checks on IMDSv2, instance profiles and EBS
//! encryption by default. Rule ids are the ones Panther's policy library uses for the same
//! checks, so migrating users keep their ids, suppressions and reports. The network rules
//! (security groups, network ACLs, VPCs) live in the `aws-vpc` pack.
//!
//! Conventions shared by every rule of the pack:
//! - A field the rule needs that the collector lists in `CollectionErrors` makes the rule return
//!   an `error`, never a pass (`require_collected`).
//! - A field AWS always returns (a volume's `Encrypted`, an instance's `Placement`, ...) that is
//!   null anyway is an `error` too: the document cannot say what the rule needs.
//! - Instances that are `shutting-down` or `terminated` pass every instance rule: DescribeInstances
//!   keeps listing a terminated instance for about an hour, without its network fields, and there
//!   is nothing left to remediate. Stopped instances are evaluated: they can be started again as
//!   they are.
//! - Rules driven by an operator-supplied list (approved AMIs, hosts, ...) are off by default.
//!   Enabled with an empty list they return an `error` saying the setting is empty, rather than
//!   passing everything (an allow-list nobody filled in approves nothing) or failing every
//!   instance for a configuration mistake that is not the instance's.

mod account;
mod ami;
mod approval;
mod instance;
mod tags;
mod volume;

use std::collections::BTreeMap;

use palisade_sdk::{Ctx, Error, Resource, Result, Rule};
use serde::Deserialize;

/// Every rule of the pack, in the order `palisade rules` lists them.
pub static RULES: &[Rule] = &[
    volume::ENCRYPTION,
    volume::SNAPSHOT_ENCRYPTED,
    volume::CDE_VOLUME_ENCRYPTED,
    ami::PRIVATE,
    instance::DETAILED_MONITORING,
    instance::EBS_OPTIMIZATION,
    approval::APPROVED_AMI,
    approval::APPROVED_HOST,
    approval::APPROVED_INSTANCE_TYPE,
    approval::APPROVED_TENANCY,
    approval::APPROVED_VPC,
    approval::AMI_APPROVED_HOST,
    approval::AMI_APPROVED_INSTANCE_TYPE,
    approval::AMI_APPROVED_TENANCY,
    tags::MINIMUM_TAGS,
    tags::REQUIRED_TAGS,
    instance::IMDSV2,
    instance::IAM_INSTANCE_PROFILE,
    account::EBS_DEFAULT_ENCRYPTION,
];

palisade_sdk::export_pack!(RULES);

const INSTANCE: &[&str] = &["AWS.EC2.Instance"];
const VOLUME: &[&str] = &["AWS.EC2.Volume"];
const AMI: &[&str] = &["AWS.EC2.AMI"];
const EC2_META: &[&str] = &["AWS.EC2.Meta"];

/// `kind id (name)` for messages: the AWS id (`Id`, else the resource id), and the `Name` when
/// there is one that differs from it.
fn label(res: &Resource<'_>, kind: &str) -> Result<String> {
    let id: Option<String> = res.field("Id")?;
    let id = id
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| res.id().into_owned());
    let name: Option<String> = res.field("Name")?;
    Ok(match name.filter(|n| !n.is_empty() && *n != id) {
        Some(name) => format!("{kind} {id} ({name})"),
        None => format!("{kind} {id}"),
    })
}

/// Like [`collected`], for a field AWS always returns: null (or missing) is an error.
fn reported<'a, T: Deserialize<'a>>(res: &Resource<'a>, field: &str) -> Result<T> {
    let value: Option<T> = res.collected(field)?;
    value.ok_or_else(|| {
        Error::new(format!(
            "{field} is null (or absent) in the document, but AWS always reports it; the rule \
             cannot decide"
        ))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InstanceState {
    name: Option<String>,
}

/// The instance's state name when the instance is going or gone (`shutting-down`,
/// `terminated`): instance rules pass those (see the module documentation).
fn instance_gone(res: &Resource<'_>) -> Result<Option<String>> {
    let state: Option<InstanceState> = res.collected("State")?;
    Ok(state
        .and_then(|s| s.name)
        .filter(|name| name == "shutting-down" || name == "terminated"))
}

/// The error for an operator list setting that is empty.
fn empty_setting(ctx: &Ctx<'_>, name: &str, what: &str) -> Error {
    Error::new(format!(
        "setting `{name}` of {} is empty: fill in the {what} before enabling the rule, which \
         cannot decide without them",
        ctx.rule_id()
    ))
}

/// A text-list setting with blank entries dropped; an error when nothing is left.
fn list_setting(ctx: &Ctx<'_>, name: &str, what: &str) -> Result<Vec<String>> {
    let values: Vec<String> = ctx.setting(name)?;
    let values: Vec<String> = values
        .into_iter()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() {
        return Err(empty_setting(ctx, name, what));
    }
    Ok(values)
}

/// A text-map setting with blank keys dropped; an error when nothing is left.
fn map_setting(ctx: &Ctx<'_>, name: &str, what: &str) -> Result<BTreeMap<String, String>> {
    let map: BTreeMap<String, String> = ctx.setting(name)?;
    let map: BTreeMap<String, String> = map
        .into_iter()
        .map(|(k, v)| (k.trim().to_owned(), v))
        .filter(|(k, _)| !k.is_empty())
        .collect();
    if map.is_empty() {
        return Err(empty_setting(ctx, name, what));
    }
    Ok(map)
}

/// The items of a comma-separated list, trimmed, blanks dropped.
fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `[a, b, c]` for messages.
fn show_list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_lists_are_trimmed_and_blanks_dropped() {
        assert_eq!(split_list(" a, b ,,c,"), ["a", "b", "c"]);
        assert!(split_list(" , ").is_empty());
        assert_eq!(show_list(&split_list("x,y")), "[x, y]");
    }
}
