//! Which managed policies are attached where: no blocked managed policy on a user, role or
//! group, and mapped policies attached only to their roles. Also the pack's shared plumbing for
//! reading policy documents out of IAM resource documents.
//!
//! Documents hold policies as JSON strings (the resource model's shape); a JSON object, a
//! URL-encoded string and `Statement` as one object or a list all parse too. A document that
//! does not parse is an `error` naming the policy, never a pass.

use std::borrow::Cow;
use std::collections::BTreeMap;

use palisade_sdk::iam::{PolicyDocument, Statement, parse_policy, wildcard_match};
use palisade_sdk::{Ctx, Error, Resource, Result, Rule, Setting, SettingKind, Severity, Verdict};
use serde::Deserialize;
use serde_json::Value;

/// Users, roles and groups: the IAM identities that carry policies.
pub(crate) const ENTITIES: &[&str] = &["AWS.IAM.User", "AWS.IAM.Role", "AWS.IAM.Group"];

pub const BLACKLIST: Rule = Rule::new(
    "AWS.IAM.Policy.Blacklist",
    "IAM identity has no blocked managed policy attached",
    Severity::Medium,
    ENTITIES,
    blacklist,
)
.description(
    "Some managed policies (AdministratorAccess, IAMFullAccess, ...) should not be attached to \
     users, roles or groups at all, or only through a reviewed exception. Fails when a user, \
     role or group has a managed policy from the `blocked-policies` list attached. Entries are \
     policy names or ARNs. Users and roles list attached policies by name only, so an ARN entry \
     matches them by its name (the part after the last `/`); groups list ARNs, so an ARN entry \
     must match exactly there. Names compare ignoring case, as IAM names do.",
)
.remediation(
    "Detach the policy (`aws iam detach-user-policy`, `detach-role-policy` or \
     `detach-group-policy`) and attach a policy granting only the permissions needed, or remove \
     the policy from `blocked-policies` if it is allowed after all.",
)
.references(&[
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_manage-attach-detach.html",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege",
])
.settings(&[Setting::new(
    "blocked-policies",
    SettingKind::TextList,
    r#"["AdministratorAccess"]"#,
    "Managed policies that must not be attached, as names (e.g. `IAMFullAccess`) or ARNs (e.g. \
     `arn:aws:iam::aws:policy/AdministratorAccess`).",
)])
.disabled_by_default();

pub const ROLE_MAPPING: Rule = Rule::new(
    "AWS.IAM.Policy.RoleMapping",
    "IAM policy is attached only to the roles mapped to it",
    Severity::High,
    &["AWS.IAM.Policy"],
    role_mapping,
)
.description(
    "The `role-mapping` setting maps a policy (by name or ARN) to the comma-separated names of \
     the roles that may hold it. A mapped policy fails when it is attached to a role not in its \
     list, or to any user or group (which are not roles). Policies the mapping does not name \
     pass.",
)
.remediation(
    "Detach the policy from the entities named in the finding, or add the role to the policy's \
     entry in `role-mapping` if the attachment is intended.",
)
.references(&[
    "https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListEntitiesForPolicy.html",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_manage-attach-detach.html",
])
.settings(&[Setting::new(
    "role-mapping",
    SettingKind::TextMap,
    "{}",
    "Policy name or ARN to the comma-separated role names allowed to have it attached, e.g. \
     {\"billing-admin\": \"finance-admin,finance-auditor\"}. An empty value allows no role.",
)])
.disabled_by_default();

/// The resource's name for messages: `Name`, else the resource id.
pub(crate) fn display_name<'a>(res: &Resource<'a>) -> Result<Cow<'a, str>> {
    let name: Option<Cow<'a, str>> = res.field("Name")?;
    Ok(name.filter(|n| !n.is_empty()).unwrap_or_else(|| res.id()))
}

/// `user alice`, `role deploy`, `group admins`, `policy x` for messages.
pub(crate) fn entity_label(res: &Resource<'_>) -> Result<String> {
    let kind = match res.resource_type {
        "AWS.IAM.User" => "user",
        "AWS.IAM.Role" => "role",
        "AWS.IAM.Group" => "group",
        "AWS.IAM.Policy" => "policy",
        other => other,
    };
    Ok(format!("{kind} {}", display_name(res)?))
}

/// The policy document in field `field` (a JSON string or object), required: null is an error.
/// `what` names the document in messages (`policy x`, `role y's trust policy`).
pub(crate) fn required_document(
    res: &Resource<'_>,
    field: &str,
    what: &str,
) -> Result<PolicyDocument> {
    res.require_collected(&[field])?;
    let value: Option<Value> = res.field(field)?;
    let value = value.ok_or_else(|| Error::new(format!("{what} has no {field}")))?;
    parse_policy(&value).map_err(|e| Error::new(format!("{what}: {e}")))
}

/// The inline policies (`InlinePolicies`: policy name to document) in name order, parsed. A
/// null map is no inline policies; a policy that does not parse is an error naming it.
pub(crate) fn inline_policies(res: &Resource<'_>) -> Result<Vec<(String, PolicyDocument)>> {
    let map: Option<BTreeMap<String, Value>> = res.collected_present("InlinePolicies")?;
    map.unwrap_or_default()
        .into_iter()
        .map(|(name, value)| match parse_policy(&value) {
            Ok(document) => Ok((name, document)),
            Err(e) => Err(Error::new(format!(
                "inline policy {name} of {}: {e}",
                entity_label(res)?
            ))),
        })
        .collect()
}

/// `statement "Sid"`, or `statement #n` (1-based) for statements without a (non-empty) Sid.
pub(crate) fn statement_label(statement: &Statement, index: usize) -> String {
    match statement.sid.as_deref().filter(|sid| !sid.is_empty()) {
        Some(sid) => format!("statement {sid:?}"),
        None => format!("statement #{}", index + 1),
    }
}

/// The statement's action element as written: `Action ec2:*` or `NotAction iam:*, s3:*`.
pub(crate) fn action_element(statement: &Statement) -> String {
    match (&statement.action, &statement.not_action) {
        (Some(actions), _) => format!("Action {}", actions.join(", ")),
        (None, Some(excluded)) => format!("NotAction {}", excluded.join(", ")),
        (None, None) => "no Action".to_owned(),
    }
}

/// Returns true if the statement's resource element covers every resource of `service`:
/// `Resource` holds `*`, an ARN whose resource part is `*` for that service (any region and
/// account, e.g. `arn:aws:ec2:*:*:*`), or a whole resource type (`arn:aws:ec2:*:*:route-table/*`);
/// or `NotResource` is present without excluding `*`.
pub(crate) fn reaches_every_resource(statement: &Statement, service: &str) -> bool {
    match (&statement.resource, &statement.not_resource) {
        (Some(patterns), _) => patterns.iter().any(|p| broad_resource(p, service)),
        (None, Some(excluded)) => !excluded.iter().any(|p| is_all_stars(p)),
        (None, None) => false,
    }
}

/// See [`reaches_every_resource`].
fn broad_resource(pattern: &str, service: &str) -> bool {
    if is_all_stars(pattern) {
        return true;
    }
    let parts: Vec<&str> = pattern.splitn(6, ':').collect();
    let [arn, _partition, arn_service, _region, _account, resource] = parts.as_slice() else {
        return false;
    };
    if !arn.eq_ignore_ascii_case("arn") || !wildcard_match(arn_service, service) {
        return false;
    }
    match resource.split_once('/') {
        Some((kind, rest)) => !kind.contains(['*', '?']) && is_all_stars(rest),
        None => is_all_stars(resource),
    }
}

/// `*`, `**`, ...
pub(crate) fn is_all_stars(pattern: &str) -> bool {
    !pattern.is_empty() && pattern.bytes().all(|b| b == b'*')
}

/// Returns true if a Deny statement of the document without any condition refuses `action`
/// on every resource of `service`, so no Allow in the same policy can grant it.
pub(crate) fn denied_everywhere(document: &PolicyDocument, action: &str, service: &str) -> bool {
    document.statements.iter().any(|s| {
        !s.is_allow()
            && !s.has_condition()
            && s.matches_action(action)
            && reaches_every_resource(s, service)
    })
}

/// `a, b, c` for short lists, `a, b, c and 4 more` for long ones.
pub(crate) fn summarize(items: &[&str]) -> String {
    const SHOWN: usize = 3;
    if items.len() <= SHOWN + 1 {
        items.join(", ")
    } else {
        format!(
            "{} and {} more",
            items[..SHOWN].join(", "),
            items.len() - SHOWN
        )
    }
}

/// The last `/`-separated part of a policy ARN (its name); the input itself if not an ARN.
pub(crate) fn policy_name_of(arn_or_name: &str) -> &str {
    if arn_or_name.starts_with("arn:") {
        arn_or_name.rsplit('/').next().unwrap_or(arn_or_name)
    } else {
        arn_or_name
    }
}

fn blacklist(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    let blocked: Vec<String> = ctx.setting("blocked-policies")?;
    let who = entity_label(res)?;
    let (field, by_arn) = match res.resource_type {
        "AWS.IAM.Group" => ("ManagedPolicyARNs", true),
        _ => ("ManagedPolicyNames", false),
    };
    let attached: Option<Vec<String>> = res.collected_present(field)?;
    let mut failures = Vec::new();
    for policy in attached.iter().flatten() {
        let hit = blocked.iter().find(|entry| {
            let entry = entry.trim();
            match (by_arn, entry.starts_with("arn:")) {
                // Group ARNs against an ARN entry: the whole ARN.
                (true, true) => policy.eq_ignore_ascii_case(entry),
                // A name entry: the attached policy's name.
                (true, false) => policy_name_of(policy).eq_ignore_ascii_case(entry),
                // User and role names: only an entry's name part can be compared.
                (false, _) => policy.eq_ignore_ascii_case(policy_name_of(entry)),
            }
        });
        if let Some(entry) = hit {
            failures.push(format!(
                "{who} has managed policy {policy} attached, which blocked-policies blocks \
                 (entry {entry})"
            ));
        }
    }
    Ok(Verdict::from_failures(failures))
}

/// `IAMPolicyEntities`: the IAM `ListEntitiesForPolicy` shapes.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Entities {
    #[serde(default)]
    pub policy_groups: Option<Vec<PolicyGroup>>,
    #[serde(default)]
    pub policy_roles: Option<Vec<PolicyRole>>,
    #[serde(default)]
    pub policy_users: Option<Vec<PolicyUser>>,
}

#[derive(Deserialize)]
pub(crate) struct PolicyGroup {
    #[serde(rename = "GroupName")]
    pub name: String,
}

#[derive(Deserialize)]
pub(crate) struct PolicyRole {
    #[serde(rename = "RoleName")]
    pub name: String,
}

#[derive(Deserialize)]
pub(crate) struct PolicyUser {
    #[serde(rename = "UserName")]
    pub name: String,
}

impl Entities {
    /// `role a`, `user b`, `group c`: every entity the policy is attached to.
    pub(crate) fn labels(&self) -> Vec<String> {
        let roles = self
            .policy_roles
            .iter()
            .flatten()
            .map(|r| format!("role {}", r.name));
        let users = self
            .policy_users
            .iter()
            .flatten()
            .map(|u| format!("user {}", u.name));
        let groups = self
            .policy_groups
            .iter()
            .flatten()
            .map(|g| format!("group {}", g.name));
        roles.chain(users).chain(groups).collect()
    }
}

fn role_mapping(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    let mapping: BTreeMap<String, String> = ctx.setting("role-mapping")?;
    let name = display_name(res)?;
    let arn: Option<Cow<'_, str>> = res.field("Arn")?;
    let arn = arn.unwrap_or_else(|| res.id());
    let Some((key, allowed)) = mapping.iter().find(|(key, _)| {
        let key = key.trim();
        key.eq_ignore_ascii_case(&name) || key == arn.as_ref()
    }) else {
        return Ok(Verdict::Pass);
    };
    let allowed: Vec<&str> = allowed
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .collect();
    let entities: Option<Entities> = res.collected_present("Entities")?;
    let Some(entities) = entities else {
        let count: Option<i64> = res.field("AttachmentCount")?;
        return match count {
            Some(0) => Ok(Verdict::Pass),
            _ => Err(Error::new(format!(
                "policy {name} has no Entities, so the rule cannot tell what it is attached to"
            ))),
        };
    };
    let mut offending: Vec<String> = entities
        .policy_roles
        .iter()
        .flatten()
        .filter(|role| !allowed.iter().any(|a| a.eq_ignore_ascii_case(&role.name)))
        .map(|role| format!("role {}", role.name))
        .collect();
    offending.extend(
        entities
            .policy_users
            .iter()
            .flatten()
            .map(|u| format!("user {}", u.name)),
    );
    offending.extend(
        entities
            .policy_groups
            .iter()
            .flatten()
            .map(|g| format!("group {}", g.name)),
    );
    if offending.is_empty() {
        return Ok(Verdict::Pass);
    }
    let allowed = if allowed.is_empty() {
        "no role".to_owned()
    } else {
        format!("only role(s) {}", allowed.join(", "))
    };
    Ok(Verdict::fail(format!(
        "policy {name} is attached to {}, but role-mapping (entry {key}) allows {allowed}",
        offending.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broad_resources() {
        for broad in [
            "*",
            "arn:aws:ec2:*:*:*",
            "arn:aws:ec2:us-east-1:123456789012:*",
            "arn:aws:ec2:*:123456789012:security-group/*",
            "arn:aws:*:*:*:*",
        ] {
            assert!(broad_resource(broad, "ec2"), "{broad}");
        }
        for narrow in [
            "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0a1b2c3d4e5f67890",
            "arn:aws:ec2:*:*:security-group/sg-*",
            "arn:aws:s3:::*",
            "arn:aws:ec2:*:*:*-group/*",
            "not-an-arn",
        ] {
            assert!(!broad_resource(narrow, "ec2"), "{narrow}");
        }
    }

    #[test]
    fn summaries_and_names() {
        assert_eq!(summarize(&["a", "b"]), "a, b");
        assert_eq!(summarize(&["a", "b", "c", "d"]), "a, b, c, d");
        assert_eq!(summarize(&["a", "b", "c", "d", "e"]), "a, b, c and 2 more");
        assert_eq!(
            policy_name_of("arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"),
            "ViewOnlyAccess"
        );
        assert_eq!(policy_name_of("ReadOnlyAccess"), "ReadOnlyAccess");
    }
}
