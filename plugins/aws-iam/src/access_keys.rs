//! Access key rules (rotation, unused keys, keys created with the user), read from the IAM
//! credential report row carried by users and the root user. Only active keys matter: an
//! inactive key cannot sign requests, whatever its dates say.

use palisade_sdk::{Ctx, Error, Resource, Result, Rule, Setting, SettingKind, Severity, Verdict};

use crate::credential_report::{Row, date};

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

pub const UNUSED: Rule = Rule::new(
    "AWS.AccessKey.Unused",
    "Active access keys have been used within 90 days",
    Severity::Low,
    &["AWS.IAM.User"],
    unused,
)
.description(
    "An active access key nobody uses is pure exposure: it can still sign requests if it \
     leaks, and nothing would break if it were removed. A key counts from its last use, or, \
     when the credential report says it was never used, from when it was created.",
)
.remediation(
    "Check with the key's owner, then deactivate the key (`aws iam update-access-key \
     --user-name USER --access-key-id KEY --status Inactive`) and delete it once you are sure \
     nothing depends on it.",
)
.references(&[
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_finding-unused.html",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html",
])
.compliance(&["CIS-AWS-7.0:2.11"])
.settings(&[Setting::new(
    "days",
    SettingKind::Integer,
    "90",
    "Days an active access key may go unused (counted from its creation if never used).",
)]);

pub const ACCOUNT_CREATION: Rule = Rule::new(
    "AWS.AccessKeys.AccountCreation",
    "No access key was created together with the user",
    Severity::Low,
    &["AWS.IAM.User", "AWS.IAM.RootUser"],
    account_creation,
)
.description(
    "Access keys handed out as part of creating a user (the console's \"programmatic access\" \
     option, or a script creating both at once) are often never needed, and never rotated. \
     An active key whose creation time (the credential report's last-rotated time) lies within \
     60 seconds after the user's creation time is taken as created with the user; a key that \
     has been rotated since no longer matches. The tolerance covers the seconds between the \
     CreateUser and CreateAccessKey calls of one setup flow.",
)
.remediation(
    "If the key is not needed, deactivate and delete it. If it is, create a new key, move the \
     workload to it and delete the original, and prefer roles and short-lived credentials.",
)
.references(&[
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_getting-report.html",
]);

/// Seconds after the user's creation within which a key counts as created with the user.
const CREATED_WITH_USER_SECONDS: i64 = 60;

fn rotation(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    let max_days: i64 = ctx.setting("max-age-days")?;
    let row = Row::of(res)?;
    let mut failures = Vec::new();
    for key in row.access_keys()? {
        if !key.active {
            continue;
        }
        let rotated = key.rotated_or_err(&row.who)?;
        let age = rotated.age_days(ctx.now());
        if age > max_days {
            failures.push(format!(
                "access key {} of {} was last rotated {age} days ago ({}), over the \
                 {max_days}-day limit",
                key.n,
                row.who,
                date(rotated)
            ));
        }
    }
    Ok(Verdict::from_failures(failures))
}

fn unused(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    let days: i64 = ctx.setting("days")?;
    let row = Row::of(res)?;
    let mut failures = Vec::new();
    for key in row.access_keys()? {
        if !key.active {
            continue;
        }
        match key.last_used_or_err(&row.who)? {
            Some(used) => {
                let age = used.age_days(ctx.now());
                if age > days {
                    failures.push(format!(
                        "access key {} of {} was last used {age} days ago ({}{}), over the \
                         {days}-day limit",
                        key.n,
                        row.who,
                        date(used),
                        key.where_used()
                    ));
                }
            }
            None => {
                let created = key.rotated_or_err(&row.who)?;
                let age = created.age_days(ctx.now());
                if age > days {
                    failures.push(format!(
                        "access key {} of {} has never been used since it was created {age} \
                         days ago ({}), over the {days}-day limit",
                        key.n,
                        row.who,
                        date(created)
                    ));
                }
            }
        }
    }
    Ok(Verdict::from_failures(failures))
}

fn account_creation(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let row = Row::of(res)?;
    let keys = row.access_keys()?;
    if keys.iter().all(|k| !k.active) {
        return Ok(Verdict::Pass);
    }
    let created = row.time("UserCreationTime")?.ok_or_else(|| {
        Error::new(format!(
            "the credential report row of {} has no UserCreationTime",
            row.who
        ))
    })?;
    let mut failures = Vec::new();
    for key in keys.iter().filter(|k| k.active) {
        let rotated = key.rotated_or_err(&row.who)?;
        let after = rotated.seconds - created.seconds;
        if (0..=CREATED_WITH_USER_SECONDS).contains(&after) {
            failures.push(format!(
                "active access key {} of {} was created at {}, {after} seconds after the user \
                 itself ({}), and has never been rotated",
                key.n,
                row.who,
                date(rotated),
                date(created)
            ));
        }
    }
    Ok(Verdict::from_failures(failures))
}
