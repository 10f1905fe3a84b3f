//! `aws-iam`: the IAM rules of the catalog on users, the root user, groups, roles, managed
//! policies, the account password policy and the account-level IAM summary (`AWS.IAM.Meta`). Rule ids are the ones Panther's
//! policy library uses for the same checks, so migrating users keep their ids, suppressions and
//! reports.
//!
//! Credential rules read the IAM credential report row through [`credential_report`], which
//! turns the report's "no value" spellings into `None` and makes a missing row or column an
//! error. Policy documents are read with the SDK's `iam` helpers; the plumbing the policy and
//! role rules share (reading a document field, naming statements, deciding whether a statement
//! reaches every resource) lives in `policies.rs`. Every rule checks the collector could read the fields it needs (`require_collected`),
//! so "could not read" is an `error`, never a pass.

mod access_keys;
mod account;
mod admin;
mod credential_report;
mod groups;
mod network_admin;
mod password_policy;
mod policies;
mod roles;
mod root;
mod users;

use std::borrow::Cow;

use palisade_sdk::{Resource, Result, Rule};

/// Every rule of the pack, in the order `palisade rules` lists them.
pub static RULES: &[Rule] = &[
    access_keys::ROTATION,
    access_keys::UNUSED,
    access_keys::ACCOUNT_CREATION,
    users::PASSWORD_UNUSED,
    users::USER_MFA,
    users::POLICY_ASSIGNED_TO_USER,
    users::NO_INLINE_POLICY,
    users::NOT_IN_CONFLICTING_GROUPS,
    groups::GROUP_USERS,
    account::SUPPORT_ROLE,
    root::ACCESS_KEYS,
    root::MFA,
    root::HARDWARE_MFA,
    root::RECENT_USE,
    password_policy::COMPLEXITY_GUIDELINES,
    password_policy::PASSWORD_AGE_LIMIT,
    password_policy::PASSWORD_REUSE,
    password_policy::MINIMUM_LENGTH,
    network_admin::INLINE_POLICY_NETWORK_ADMIN,
    policies::BLACKLIST,
    admin::CLOUDTRAIL_LEAST_PRIVILEGE,
    admin::ADMINISTRATIVE_PRIVILEGES,
    admin::DOES_NOT_GRANT_ADMIN_ACCESS,
    network_admin::POLICY_NETWORK_ADMIN,
    policies::ROLE_MAPPING,
    roles::RESTRICTS_USAGE,
    roles::EXTERNAL_PERMISSION,
    roles::GITHUB_ACTIONS_TRUST,
];

palisade_sdk::export_pack!(RULES);

/// The resource's name for messages: `Name`, else the resource id.
fn display_name<'a>(res: &Resource<'a>) -> Result<Cow<'a, str>> {
    let name: Option<Cow<'a, str>> = res.field("Name")?;
    Ok(name.filter(|n| !n.is_empty()).unwrap_or_else(|| res.id()))
}
