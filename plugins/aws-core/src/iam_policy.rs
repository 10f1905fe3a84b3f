//! IAM managed policy rules.

use std::borrow::Cow;

use palisade_sdk::iam::PolicyDocument;
use palisade_sdk::{Ctx, Error, Resource, Result, Rule, Severity, Verdict};

pub const DOES_NOT_GRANT_ADMIN_ACCESS: Rule = Rule::new(
    "AWS.IAM.Policy.DoesNotGrantAdminAccess",
    "IAM policy does not grant full administrative access",
    Severity::Medium,
    &["AWS.IAM.Policy"],
    does_not_grant_admin_access,
)
.description(
    "A policy that allows every action on every resource (`\"Action\": \"*\", \"Resource\": \"*\"`, \
     or the same through `NotAction`) makes whoever holds it an administrator of the account. \
     Grant the actions a role needs instead.",
)
.remediation(
    "Replace the statement with one listing the needed actions and resources. For break-glass \
     administrators use the AWS managed AdministratorAccess policy on a dedicated, monitored role.",
)
.references(&["https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege"]);

fn does_not_grant_admin_access(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    res.require_collected(&["PolicyDocument"])?;
    let name: Option<Cow<'_, str>> = res.field("Name")?;
    let id = res.id();
    let name = name.as_deref().unwrap_or(&id);
    let text: Option<Cow<'_, str>> = res.field("PolicyDocument")?;
    let text = text.ok_or_else(|| Error::new(format!("policy {name} has no policy document")))?;
    let document: PolicyDocument = text.parse()?;
    Ok(match document.admin_statement() {
        None => Verdict::Pass,
        Some((index, statement)) => {
            // Policy generators emit `"Sid": ""`; number those like statements without one.
            let which = match statement.sid.as_deref().filter(|sid| !sid.is_empty()) {
                Some(sid) => format!("statement {sid:?}"),
                None => format!("statement #{}", index + 1),
            };
            let how = if statement.not_action.is_some() {
                "allows every action except those in NotAction on every resource"
            } else if statement.not_resource.is_some() {
                "allows every action on every resource except those in NotResource"
            } else {
                "allows every action (*) on every resource (*)"
            };
            Verdict::fail(format!("policy {name}: {which} {how}"))
        }
    })
}
