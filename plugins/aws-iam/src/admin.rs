//! Administrative access: managed policies that allow every action on every resource (CIS
//! 2.14), and groups able to administer CloudTrail.
//!
//! "Every action on every resource" is the SDK's `Statement::is_admin`: `Action` `*`/`*:*` (or a
//! `NotAction` not excluding them) with `Resource` `*` (or a `NotResource` not excluding it).
//! Conditions do not change the answer: an administrator with an MFA condition is still an
//! administrator.

use palisade_sdk::iam::{PolicyDocument, Statement};
use palisade_sdk::{Ctx, Resource, Result, Rule, Setting, SettingKind, Severity, Verdict};

use crate::policies::{
    Entities, action_element, denied_everywhere, display_name, entity_label, inline_policies,
    policy_name_of, required_document, statement_label, summarize,
};

pub const ADMINISTRATIVE_PRIVILEGES: Rule = Rule::new(
    "AWS.IAM.Policy.AdministrativePrivileges",
    "Attached IAM policy does not grant full administrative access",
    Severity::High,
    &["AWS.IAM.Policy"],
    administrative_privileges,
)
.description(
    "CIS 2.14: IAM policies that allow full `*:*` administrative privileges must not be \
     attached. Fails when a policy attached to at least one user, group or role (AttachmentCount \
     above zero, or Entities listing one) has an Allow statement for every action on every \
     resource, directly or through NotAction / NotResource. Unattached policies pass (see \
     AWS.IAM.Policy.DoesNotGrantAdminAccess for those); use as a permissions boundary does not \
     count as attachment, since a boundary grants nothing.",
)
.remediation(
    "Detach the policy from the users, groups and roles named in the finding (`aws iam \
     detach-role-policy` etc.) and attach policies listing only the actions and resources each \
     needs. Keep full administration on a dedicated, monitored break-glass role.",
)
.references(&[
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_manage-attach-detach.html",
])
.compliance(&["CIS-AWS-7.0:2.14"]);

pub const DOES_NOT_GRANT_ADMIN_ACCESS: Rule = Rule::new(
    "AWS.IAM.Policy.DoesNotGrantAdminAccess",
    "IAM policy does not grant full administrative access",
    Severity::Medium,
    &["AWS.IAM.Policy"],
    does_not_grant_admin_access,
)
.description(
    "A policy that allows every action on every resource (`\"Action\": \"*\", \"Resource\": \
     \"*\"`, or the same through `NotAction` or `NotResource`) makes whoever holds it an \
     administrator of the account, whether or not it is attached today. Grant the actions a \
     role needs instead.",
)
.remediation(
    "Replace the statement with one listing the needed actions and resources. For break-glass \
     administrators use the AWS managed AdministratorAccess policy on a dedicated, monitored role.",
)
.references(&[
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege",
])
.compliance(&["CIS-AWS-7.0:2.14"]);

pub const CLOUDTRAIL_LEAST_PRIVILEGE: Rule = Rule::new(
    "AWS.CloudTrail.LeastPrivilege",
    "Only allowed IAM groups can administer CloudTrail",
    Severity::Medium,
    &["AWS.IAM.Group"],
    cloudtrail_least_privilege,
)
.description(
    "Whoever can stop, delete or reconfigure trails can hide their tracks. Fails when a group \
     not in `allowed-groups` can change CloudTrail: an inline policy allows one of the trail \
     and event data store write actions (cloudtrail:StopLogging, DeleteTrail, UpdateTrail, \
     PutEventSelectors, ...), directly or through `cloudtrail:*`, `*` or NotAction, on any \
     resource, and no unconditional Deny in the same policy refuses it; or an AWS managed policy \
     known to grant them is attached (AdministratorAccess, PowerUserAccess, \
     AWSCloudTrail_FullAccess). Customer managed policies are not in the group's document and \
     are not inspected.",
)
.remediation(
    "Remove the CloudTrail write permissions from the group (detach the managed policy or edit \
     the inline policy, keeping read actions such as cloudtrail:Describe*, Get*, List* and \
     LookupEvents), or add the group to `allowed-groups` if it is the team that runs CloudTrail.",
)
.references(&[
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/security_iam_id-based-policy-examples.html",
    "https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudtrail.html",
])
.settings(&[Setting::new(
    "allowed-groups",
    SettingKind::TextList,
    "[]",
    "Names (or ARNs) of the IAM groups allowed to administer CloudTrail.",
)])
.disabled_by_default();

/// The first admin statement of `document`, described for a message: `statement "X" allows
/// every action (*) on every resource (*)`.
fn admin_finding(document: &PolicyDocument) -> Option<String> {
    let (index, statement) = document.admin_statement()?;
    let how = if statement.not_action.is_some() {
        "allows every action except those in NotAction on every resource"
    } else if statement.not_resource.is_some() {
        "allows every action on every resource except those in NotResource"
    } else {
        "allows every action (*) on every resource (*)"
    };
    Some(format!("{} {how}", statement_label(statement, index)))
}

fn does_not_grant_admin_access(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let name = display_name(res)?;
    let document = required_document(res, "PolicyDocument", &format!("policy {name}"))?;
    Ok(match admin_finding(&document) {
        None => Verdict::Pass,
        Some(finding) => Verdict::fail(format!("policy {name}: {finding}")),
    })
}

fn administrative_privileges(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let name = display_name(res)?;
    let count: Option<i64> = res.collected_present("AttachmentCount")?;
    let entities: Option<Entities> = res.collected_present("Entities")?;
    let attached_to = entities.as_ref().map(Entities::labels).unwrap_or_default();
    let attached = match (count, entities.is_some()) {
        (Some(n), _) => n > 0 || !attached_to.is_empty(),
        (None, true) => !attached_to.is_empty(),
        (None, false) => {
            return Err(palisade_sdk::Error::new(format!(
                "policy {name} has neither AttachmentCount nor Entities, so the rule cannot tell \
                 whether it is attached"
            )));
        }
    };
    if !attached {
        return Ok(Verdict::Pass);
    }
    let document = required_document(res, "PolicyDocument", &format!("policy {name}"))?;
    Ok(match admin_finding(&document) {
        None => Verdict::Pass,
        Some(finding) => {
            let to = if attached_to.is_empty() {
                format!("{} entities", count.unwrap_or_default())
            } else {
                let labels: Vec<&str> = attached_to.iter().map(String::as_str).collect();
                summarize(&labels)
            };
            Verdict::fail(format!("policy {name} (attached to {to}): {finding}"))
        }
    })
}

/// CloudTrail actions that create, change, stop or delete trails and event data stores.
const CLOUDTRAIL_WRITE_ACTIONS: &[&str] = &[
    "cloudtrail:StopLogging",
    "cloudtrail:DeleteTrail",
    "cloudtrail:UpdateTrail",
    "cloudtrail:PutEventSelectors",
    "cloudtrail:PutInsightSelectors",
    "cloudtrail:CreateTrail",
    "cloudtrail:StartLogging",
    "cloudtrail:DeleteEventDataStore",
    "cloudtrail:UpdateEventDataStore",
    "cloudtrail:StopEventDataStoreIngestion",
];

/// AWS managed policies (names under `arn:<partition>:iam::aws:policy/`) that allow the actions
/// above on every trail.
const CLOUDTRAIL_ADMIN_MANAGED_POLICIES: &[&str] = &[
    "AdministratorAccess",
    "PowerUserAccess",
    "AWSCloudTrail_FullAccess",
    "AWSCloudTrailFullAccess",
];

/// The CloudTrail write actions `statement` allows on some resource and the policy does not
/// deny outright.
fn cloudtrail_grants<'a>(document: &PolicyDocument, statement: &Statement) -> Vec<&'a str> {
    if !statement.is_allow() || (statement.resource.is_none() && statement.not_resource.is_none()) {
        return Vec::new();
    }
    CLOUDTRAIL_WRITE_ACTIONS
        .iter()
        .copied()
        .filter(|action| {
            statement.allows_action(action) && !denied_everywhere(document, action, "cloudtrail")
        })
        .collect()
}

/// Returns true for an AWS managed policy ARN (`arn:aws:iam::aws:policy/...`, any partition).
fn is_aws_managed(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    parts.next() == Some("arn")
        && parts.nth(3) == Some("aws")
        && parts.next().is_some_and(|rest| rest.starts_with("policy/"))
}

fn cloudtrail_least_privilege(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    let allowed: Vec<String> = ctx.setting("allowed-groups")?;
    let name = display_name(res)?;
    let id = res.id();
    if allowed
        .iter()
        .map(|a| a.trim())
        .any(|a| a.eq_ignore_ascii_case(&name) || a == id)
    {
        return Ok(Verdict::Pass);
    }
    let who = entity_label(res)?;
    let managed: Option<Vec<String>> = res.collected_present("ManagedPolicyARNs")?;
    let inline = inline_policies(res)?;
    let mut failures = Vec::new();
    for arn in managed.iter().flatten() {
        let policy = policy_name_of(arn);
        if is_aws_managed(arn)
            && CLOUDTRAIL_ADMIN_MANAGED_POLICIES
                .iter()
                .any(|p| p.eq_ignore_ascii_case(policy))
        {
            failures.push(format!(
                "{who} has AWS managed policy {policy} attached, which allows CloudTrail changes \
                 such as cloudtrail:StopLogging and cloudtrail:DeleteTrail"
            ));
        }
    }
    for (policy, document) in &inline {
        for (index, statement) in document.statements.iter().enumerate() {
            let grants = cloudtrail_grants(document, statement);
            if !grants.is_empty() {
                failures.push(format!(
                    "{who}: inline policy {policy} {} ({}) allows {}",
                    statement_label(statement, index),
                    action_element(statement),
                    summarize(&grants)
                ));
            }
        }
    }
    if failures.is_empty() {
        return Ok(Verdict::Pass);
    }
    let allowed = if allowed.is_empty() {
        "none".to_owned()
    } else {
        allowed.join(", ")
    };
    Ok(Verdict::fail(format!(
        "{} (allowed-groups: {allowed})",
        failures.join("; ")
    )))
}
