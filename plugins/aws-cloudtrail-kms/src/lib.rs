//! `aws-cloudtrail-kms`: the catalog's CloudTrail trail rules (`AWS.CloudTrail` documents) and
//! KMS key rules (`AWS.KMS.Key` documents), with the rule ids Panther's policy library uses.
//!
//! Every rule checks that the collector could read the fields it decides on
//! (`require_collected`) before reading them, so "could not read" is an `error`, never a pass.
//! The two rules on the trail's S3 bucket are not here: they need the bucket's document.

mod cloudtrail;
mod kms;

use std::borrow::Cow;

use palisade_sdk::{Error, Resource, Result, Rule};
use serde::Deserialize;

/// Every rule of the pack, in the order `palisade rules` lists them.
pub static RULES: &[Rule] = &[
    cloudtrail::LOG_VALIDATION,
    cloudtrail::LOG_ENCRYPTION,
    cloudtrail::CLOUDWATCH_LOGS,
    kms::KEY_ROTATION,
    kms::RESTRICTS_USAGE,
];

palisade_sdk::export_pack!(RULES);

/// Field `field` once the collector is known to have read it; a missing key reads as `null`.
fn collected<'a, T: Deserialize<'a>>(res: &Resource<'a>, field: &str) -> Result<T> {
    res.require_collected(&[field])?;
    res.field(field)
}

/// Like [`collected`], but a document without the key at all is an error, for fields whose
/// `null` a rule passes.
fn collected_present<'a, T: Deserialize<'a>>(res: &Resource<'a>, field: &str) -> Result<T> {
    res.require_collected(&[field])?;
    if res.raw_field(field)?.is_none() {
        return Err(Error::new(format!(
            "the document has no {field} field, so the rule cannot decide"
        )));
    }
    res.field(field)
}

/// Field `field` as text for messages, else the resource id.
fn display_name<'a>(res: &Resource<'a>, field: &str) -> Result<Cow<'a, str>> {
    let name: Option<Cow<'a, str>> = res.field(field)?;
    Ok(name.filter(|n| !n.is_empty()).unwrap_or_else(|| res.id()))
}
