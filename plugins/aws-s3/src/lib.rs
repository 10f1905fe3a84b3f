//! `aws-s3`: the S3 rules of the catalog: the bucket rules on `AWS.S3.Bucket` documents and the
//! account's public access block on the account's `AWS.S3.Meta` document. Rule ids are the ones
//! Panther's policy library uses for the same checks, so migrating users keep their ids,
//! suppressions and reports.
//!
//! Each rule reads only the fields it needs (`Resource::field`) after checking the collector
//! could read them (`require_collected`), so "could not read" is an `error`, never a pass.

mod account;
mod acl;
mod configuration;
mod encryption;
mod name;
mod policy;
mod public_access;

use std::borrow::Cow;

use palisade_sdk::{Resource, Result, Rule};

/// Every rule of the pack, in the order `palisade rules` lists them.
pub static RULES: &[Rule] = &[
    encryption::ENCRYPTION,
    public_access::PUBLIC_ACCESS_BLOCK,
    acl::PUBLIC_READ,
    acl::PUBLIC_WRITE,
    configuration::VERSIONING,
    configuration::MFA_DELETE,
    configuration::LOGGING,
    configuration::LIFECYCLE_CONFIGURATION,
    name::NAME_DNS_COMPLIANCE,
    policy::SECURE_ACCESS,
    policy::ACTION_RESTRICTIONS,
    policy::PRINCIPAL_RESTRICTIONS,
    policy::ALLOW_WITH_NOT_PRINCIPAL,
    policy::CONFUSED_DEPUTY_PROTECTION,
    configuration::OBJECT_LOCK_CONFIGURED,
    account::ACCOUNT_PUBLIC_ACCESS_BLOCK,
];

palisade_sdk::export_pack!(RULES);

/// The resource type every bucket rule applies to.
const BUCKET: &[&str] = &["AWS.S3.Bucket"];

/// The bucket's name for messages: `Name`, else the resource id.
fn bucket_name<'a>(res: &Resource<'a>) -> Result<Cow<'a, str>> {
    let name: Option<Cow<'a, str>> = res.field("Name")?;
    Ok(name.unwrap_or_else(|| res.id()))
}
