//! IAM user rules: console passwords (unused, without MFA), how permissions reach the user
//! (directly attached managed policies, inline policies), and conflicting group memberships.
//!
//! Lists the collector leaves empty may arrive as `null` (a Go collector serialises an empty
//! slice that way), so `null` reads as "none"; a document without the key at all is an error.

use std::collections::{BTreeMap, BTreeSet};

use palisade_sdk::time::parse_rfc3339;
use palisade_sdk::{Ctx, Error, Resource, Result, Rule, Setting, SettingKind, Severity, Verdict};
use serde::Deserialize;

use crate::credential_report::{Row, date};
use crate::display_name;

pub const PASSWORD_UNUSED: Rule = Rule::new(
    "AWS.Password.Unused",
    "Console passwords have been used within 90 days",
    Severity::Low,
    &["AWS.IAM.User"],
    password_unused,
)
.description(
    "A console password nobody uses can still be guessed, phished or reused from another \
     breach. A password counts from its last sign-in; one never used counts from when it was \
     last set (the credential report's PasswordLastChanged), or from the user's creation when \
     that is unknown. Users without a console password pass, whatever stale dates the report \
     still shows for them.",
)
.remediation(
    "Confirm with the user, then remove the console password (`aws iam delete-login-profile \
     --user-name USER`); the user keeps any access keys they need.",
)
.references(&[
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_finding-unused.html",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_passwords_admin-change-user.html",
])
.compliance(&["CIS-AWS-7.0:2.11"])
.settings(&[Setting::new(
    "days",
    SettingKind::Integer,
    "90",
    "Days a console password may go unused (counted from when it was set if never used).",
)]);

pub const USER_MFA: Rule = Rule::new(
    "AWS.IAM.User.MFA",
    "IAM users with a console password have MFA",
    Severity::High,
    &["AWS.IAM.User"],
    user_mfa,
)
.description(
    "A console password alone is one phished or reused secret away from an account takeover. \
     Every user who can sign in to the console needs an MFA device; users without a console \
     password pass.",
)
.remediation(
    "Have the user register an MFA device (a FIDO security key or an authenticator app) under \
     Security credentials in the IAM console, and enforce MFA with an IAM policy that denies \
     actions when aws:MultiFactorAuthPresent is false.",
)
.references(&["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_enable.html"])
.compliance(&["CIS-AWS-7.0:2.10"]);

pub const POLICY_ASSIGNED_TO_USER: Rule = Rule::new(
    "AWS.IAM.Policy.AssignedToUser",
    "No managed policy is attached directly to an IAM user",
    Severity::Low,
    &["AWS.IAM.User"],
    policy_assigned_to_user,
)
.description(
    "Permissions granted through groups are reviewed and revoked in one place; managed \
     policies attached to individual users drift and are missed in access reviews. Inline \
     user policies are the other way of granting permissions directly, covered by \
     AWS.IAM.Resource.DoesNotHaveInlinePolicy.",
)
.remediation(
    "Add the user to a group carrying the policy, then detach it from the user: `aws iam \
     detach-user-policy --user-name USER --policy-arn ARN`.",
)
.references(&[
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_groups_manage_attach-policy.html",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html",
])
.compliance(&["CIS-AWS-7.0:2.13"]);

pub const NO_INLINE_POLICY: Rule = Rule::new(
    "AWS.IAM.Resource.DoesNotHaveInlinePolicy",
    "IAM users and groups have no inline policies",
    Severity::Medium,
    &["AWS.IAM.User", "AWS.IAM.Group"],
    no_inline_policy,
)
.description(
    "Inline policies live inside one user or group, cannot be reused or versioned, and are easy \
     to overlook in reviews. Managed policies attached to groups keep permissions visible and \
     consistent.",
)
.remediation(
    "Recreate the permissions as a customer managed policy, attach it to a group, then delete \
     the inline policy: `aws iam delete-user-policy` / `aws iam delete-group-policy`.",
)
.references(&[
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html",
])
.compliance(&["CIS-AWS-7.0:2.13"]);

pub const NOT_IN_CONFLICTING_GROUPS: Rule = Rule::new(
    "AWS.IAM.User.NotInConflictingGroups",
    "IAM users are not members of conflicting groups",
    Severity::Medium,
    &["AWS.IAM.User"],
    not_in_conflicting_groups,
)
.description(
    "Separation of duties: some groups must not be combined in one person (for example, the \
     group that deploys and the group that approves, or administrators and auditors). The \
     setting maps a group name to the comma-separated names of the groups that conflict with \
     it; a conflict declared in either direction counts.",
)
.remediation("Remove the user from one of the two groups, or split the duties over two users.")
.references(&[
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_groups_manage_add-remove-users.html",
])
.settings(&[Setting::new(
    "conflicting-groups",
    SettingKind::TextMap,
    "{}",
    "Group name to the comma-separated names of the groups a member of it must not also be in.",
)])
.disabled_by_default();

fn password_unused(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    let days: i64 = ctx.setting("days")?;
    let row = Row::of(res)?;
    if !row.known_flag("PasswordEnabled")? {
        return Ok(Verdict::Pass);
    }
    // GetUser's PasswordLastUsed is fresher than the report (generated up to hours earlier);
    // take the later of the two when the collector read it.
    let from_user = if res.require_collected(&["PasswordLastUsed"]).is_ok() {
        res.field::<Option<String>>("PasswordLastUsed")?
            .and_then(|t| parse_rfc3339(&t).ok())
            .filter(|t| !t.is_zero_time())
    } else {
        None
    };
    let last_used = row.time("PasswordLastUsed")?.max(from_user);
    if let Some(used) = last_used {
        let age = used.age_days(ctx.now());
        return Ok(if age > days {
            Verdict::fail(format!(
                "the console password of {} was last used {age} days ago ({}), over the \
                 {days}-day limit",
                row.who,
                date(used)
            ))
        } else {
            Verdict::Pass
        });
    }
    let (since, what) = match row.time("PasswordLastChanged")? {
        Some(set) => (set, "it was set"),
        None => (
            row.time("UserCreationTime")?.ok_or_else(|| {
                Error::new(format!(
                    "the console password of {} was never used and neither its last change nor \
                     the user's creation time is known",
                    row.who
                ))
            })?,
            "the user was created",
        ),
    };
    let age = since.age_days(ctx.now());
    Ok(if age > days {
        Verdict::fail(format!(
            "the console password of {} has never been used since {what} {age} days ago ({}), \
             over the {days}-day limit",
            row.who,
            date(since)
        ))
    } else {
        Verdict::Pass
    })
}

fn user_mfa(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let row = Row::of(res)?;
    if !row.known_flag("PasswordEnabled")? {
        return Ok(Verdict::Pass);
    }
    if row.known_flag("MfaActive")? {
        return Ok(Verdict::Pass);
    }
    let last = match row.time("PasswordLastUsed")? {
        Some(t) => format!("last signed in {}", date(t)),
        None => "never signed in".to_owned(),
    };
    Ok(Verdict::fail(format!(
        "user {} has a console password but no MFA device ({last})",
        row.who
    )))
}

fn policy_assigned_to_user(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let names: Option<Vec<String>> = res.collected_present("ManagedPolicyNames")?;
    let names = names.unwrap_or_default();
    if names.is_empty() {
        return Ok(Verdict::Pass);
    }
    Ok(Verdict::fail(format!(
        "user {} has {} managed {} attached directly: {}",
        display_name(res)?,
        names.len(),
        if names.len() == 1 {
            "policy"
        } else {
            "policies"
        },
        names.join(", ")
    )))
}

fn no_inline_policy(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let policies: Option<BTreeMap<String, serde::de::IgnoredAny>> =
        res.collected_present("InlinePolicies")?;
    let names: Vec<String> = policies.unwrap_or_default().into_keys().collect();
    if names.is_empty() {
        return Ok(Verdict::Pass);
    }
    let kind = if res.resource_type == "AWS.IAM.Group" {
        "group"
    } else {
        "user"
    };
    Ok(Verdict::fail(format!(
        "{kind} {} has {} inline {}: {}",
        display_name(res)?,
        names.len(),
        if names.len() == 1 {
            "policy"
        } else {
            "policies"
        },
        names.join(", ")
    )))
}

#[derive(Deserialize)]
struct GroupRef {
    #[serde(rename = "GroupName")]
    name: String,
}

fn not_in_conflicting_groups(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    let conflicts: BTreeMap<String, String> = ctx.setting("conflicting-groups")?;
    let groups: Option<Vec<GroupRef>> = res.collected_present("Groups")?;
    let member: BTreeSet<String> = groups
        .unwrap_or_default()
        .into_iter()
        .map(|g| g.name)
        .collect();
    let mut pairs = BTreeSet::new();
    for (group, others) in &conflicts {
        if !member.contains(group) {
            continue;
        }
        for other in others.split(',').map(str::trim) {
            if !other.is_empty() && other != group && member.contains(other) {
                let pair = if group < &other.to_owned() {
                    (group.clone(), other.to_owned())
                } else {
                    (other.to_owned(), group.clone())
                };
                pairs.insert(pair);
            }
        }
    }
    let who = display_name(res)?;
    Ok(Verdict::from_failures(
        pairs
            .into_iter()
            .map(|(a, b)| {
                format!("user {who} is in groups {a} and {b}, which are declared conflicting")
            })
            .collect(),
    ))
}
