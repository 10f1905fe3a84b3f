//! `aws-cloudtrail-kms`: the catalog's CloudTrail rules and KMS key rules, with the rule ids
//! Panther's policy library uses: trail rules (`AWS.CloudTrail` documents), rules on the trail's
//! S3 bucket (the trail's document, with the bucket's looked up), account rules (the account's
//! `AWS.CloudTrail.Meta` summary, with each trail's document looked up) and key rules
//! (`AWS.KMS.Key` documents).
//!
//! Every rule checks that the collector could read the fields it decides on
//! (`require_collected`) before reading them, so "could not read" is an `error`, never a pass;
//! so is a resource a rule needs that the account's inventory does not hold.

mod account;
mod bucket;
mod cloudtrail;
mod kms;

use std::borrow::Cow;

use palisade_sdk::{Resource, Result, Rule};

/// Every rule of the pack, in the order `palisade rules` lists them.
pub static RULES: &[Rule] = &[
    account::ENABLED,
    cloudtrail::LOG_VALIDATION,
    cloudtrail::LOG_ENCRYPTION,
    cloudtrail::CLOUDWATCH_LOGS,
    bucket::S3_BUCKET_ACCESS_LOGGING,
    bucket::S3_BUCKET_PUBLIC,
    account::S3_OBJECT_LOGGING,
    account::S3_OBJECT_READ_LOGGING,
    kms::KEY_ROTATION,
    kms::RESTRICTS_USAGE,
];

palisade_sdk::export_pack!(RULES);

/// Field `field` as text for messages, else the resource id.
fn display_name<'a>(res: &Resource<'a>, field: &str) -> Result<Cow<'a, str>> {
    let name: Option<Cow<'a, str>> = res.field(field)?;
    Ok(name.filter(|n| !n.is_empty()).unwrap_or_else(|| res.id()))
}

/// The resource's account: `AccountId`, else the part of the resource id before `::` (the
/// synthetic ids of account summaries, `<account>::AWS.CloudTrail.Meta`); empty when neither.
fn account_of(res: &Resource<'_>) -> String {
    let account = res.account_id();
    if !account.is_empty() {
        return account.into_owned();
    }
    let id = res.id();
    match id.split_once("::") {
        Some((account, _)) if !account.starts_with("arn:") => account.to_owned(),
        _ => String::new(),
    }
}
