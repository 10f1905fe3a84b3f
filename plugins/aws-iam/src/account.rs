//! Account-level IAM rules, on the `AWS.IAM.Meta` summary document (one per account).

use palisade_sdk::{Ctx, Error, Resource, Result, Rule, Severity, Verdict};
use serde::Deserialize;

pub const SUPPORT_ROLE: Rule = Rule::new(
    "AWS.IAM.SupportRole",
    "A role is allowed to manage incidents with AWS Support",
    Severity::Low,
    &["AWS.IAM.Meta"],
    support_role,
)
.description(
    "Someone must be able to open and follow AWS Support cases during an incident without \
     using the root user. The AWS managed policy AWSSupportAccess grants exactly that; it must \
     be attached to at least one IAM role, which people or federated identities assume when \
     needed. Only a role counts: an attachment to a group or a user is reported but does not \
     satisfy the rule, as CIS asks for a support role and long-lived user credentials are what \
     the other IAM rules steer away from.",
)
.remediation(
    "Create a role for support staff (trusting your identity provider or the accounts that \
     should assume it) and attach the policy: `aws iam attach-role-policy --role-name \
     aws-support --policy-arn arn:aws:iam::aws:policy/AWSSupportAccess`.",
)
.references(&[
    "https://docs.aws.amazon.com/awssupport/latest/user/accessing-support.html",
    "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSSupportAccess.html",
])
.compliance(&["CIS-AWS-7.0:2.15"]);

/// `ListEntitiesForPolicy` for AWSSupportAccess. Empty lists may arrive as `null`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entities {
    #[serde(default)]
    policy_groups: Option<Vec<Group>>,
    #[serde(default)]
    policy_roles: Option<Vec<serde::de::IgnoredAny>>,
    #[serde(default)]
    policy_users: Option<Vec<User>>,
}

#[derive(Deserialize)]
struct Group {
    #[serde(rename = "GroupName")]
    name: String,
}

#[derive(Deserialize)]
struct User {
    #[serde(rename = "UserName")]
    name: String,
}

fn support_role(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    res.require_collected(&["SupportAccessEntities"])?;
    let entities: Option<Entities> = res.field("SupportAccessEntities")?;
    let entities = entities.ok_or_else(|| {
        Error::new(
            "SupportAccessEntities is missing or null: the attachments of AWSSupportAccess are \
             unknown, so the rule cannot decide",
        )
    })?;
    let roles = entities.policy_roles.unwrap_or_default();
    if !roles.is_empty() {
        return Ok(Verdict::Pass);
    }
    let mut others: Vec<String> = Vec::new();
    others.extend(
        entities
            .policy_groups
            .unwrap_or_default()
            .into_iter()
            .map(|g| format!("group {}", g.name)),
    );
    others.extend(
        entities
            .policy_users
            .unwrap_or_default()
            .into_iter()
            .map(|u| format!("user {}", u.name)),
    );
    let account = res.account_id();
    Ok(Verdict::fail(if others.is_empty() {
        format!(
            "no IAM role of account {account} has AWSSupportAccess attached; it is attached to nothing"
        )
    } else {
        format!(
            "no IAM role of account {account} has AWSSupportAccess attached; it is attached only \
             to {}, which does not count",
            others.join(", ")
        )
    }))
}
