//! Access key rules, read from the IAM credential report row carried by users and the root
//! user.

use std::borrow::Cow;

use palisade_sdk::time::{Timestamp, parse_rfc3339};
use palisade_sdk::{Ctx, Error, Resource, Result, Rule, Setting, SettingKind, Severity, Verdict};
use serde::Deserialize;

pub const ROTATION: Rule = Rule::new(
    "AWS.AccessKey.Rotation",
    "Active access keys are rotated within 90 days",
    Severity::Medium,
    &["AWS.IAM.User", "AWS.IAM.RootUser"],
    rotation,
)
.description(
    "Long-lived access keys that are never rotated stay valid for as long as they exist: a key \
     leaked from a laptop, a repository or a log remains usable until someone notices.",
)
.remediation(
    "Create a second access key, move the workload to it, deactivate the old key, and delete it \
     once nothing uses it. Prefer roles and short-lived credentials over access keys.",
)
.references(&["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html#rotating_access_keys_console"])
.compliance(&["CIS-AWS-7.0:2.12"])
.settings(&[Setting::new(
    "max-age-days",
    SettingKind::Integer,
    "90",
    "Days an active access key may go without rotation.",
)]);

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CredentialReport<'a> {
    #[serde(borrow, rename = "UserName")]
    user: Option<Cow<'a, str>>,
    access_key1_active: Option<bool>,
    #[serde(borrow)]
    access_key1_last_rotated: Option<Cow<'a, str>>,
    access_key2_active: Option<bool>,
    #[serde(borrow)]
    access_key2_last_rotated: Option<Cow<'a, str>>,
}

fn rotation(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    res.require_collected(&["CredentialReport"])?;
    let max_days: i64 = ctx.setting("max-age-days")?;
    let report: Option<CredentialReport<'_>> = res.field("CredentialReport")?;
    let report = report.ok_or_else(|| Error::new("the credential report row is missing"))?;
    let id = res.id();
    let who = report.user.as_deref().unwrap_or(&id);
    let keys = [
        (
            1,
            report.access_key1_active,
            report.access_key1_last_rotated.as_deref(),
        ),
        (
            2,
            report.access_key2_active,
            report.access_key2_last_rotated.as_deref(),
        ),
    ];
    let mut failures = Vec::new();
    for (n, active, rotated) in keys {
        if active != Some(true) {
            continue;
        }
        let rotated = rotated
            .and_then(|t| parse_rfc3339(t).ok())
            .filter(|t| !t.is_zero_time())
            .ok_or_else(|| {
                Error::new(format!(
                    "access key {n} of {who} is active but its last rotation time is unknown"
                ))
            })?;
        let age = rotated.age_days(ctx.now());
        if age > max_days {
            failures.push(format!(
                "access key {n} of {who} was last rotated {age} days ago ({}), over the {max_days}-day limit",
                format_date(rotated)
            ));
        }
    }
    Ok(Verdict::from_failures(failures))
}

fn format_date(t: Timestamp) -> String {
    palisade_sdk::time::format_rfc3339(t)
}
