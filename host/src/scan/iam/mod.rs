//! Collector for IAM, a global service (Region `global`): users, roles, groups,
//! customer-managed policies, the root user and the account password policy.
//!
//! The number of calls does not grow with the number of entities (`fetch.rs`): one paginated
//! `GetAccountAuthorizationDetails` gives every user, role, group and local policy with their
//! inline and attached policies; one paginated `ListRoles` adds the role members that answer
//! lacks (Description, MaxSessionDuration); the credential report (`credential_report.rs`),
//! one `ListVirtualMFADevices` and one `GetAccountPasswordPolicy` give the rest. Group
//! members and policy entities are derived here by inverting those lists.

mod credential_report;
mod fetch;

use std::collections::HashMap;

use aws_sdk_iam::types::{
    AttachedPermissionsBoundary, AttachedPolicy, GroupDetail, ManagedPolicyDetail, PasswordPolicy,
    PermissionsBoundaryAttachmentType, PolicyDetail, RoleDetail, Tag, UserDetail, VirtualMfaDevice,
};
use serde_json::{Map, Value};

use self::credential_report::{ROOT_ROW, ZERO_TIME};
use self::fetch::{Details, Fetched};
use super::shape::{ToJson, object, tags};
use super::{Collect, Doc};
use crate::aws::AwsError;

pub(crate) const USER: &str = "AWS.IAM.User";
pub(crate) const ROLE: &str = "AWS.IAM.Role";
pub(crate) const GROUP: &str = "AWS.IAM.Group";
pub(crate) const POLICY: &str = "AWS.IAM.Policy";
pub(crate) const ROOT_USER: &str = "AWS.IAM.RootUser";
pub(crate) const PASSWORD_POLICY: &str = "AWS.PasswordPolicy";
/// The account's IAM summary: who holds the AWS Support access policy.
pub(crate) const META: &str = "AWS.IAM.Meta";

pub const RESOURCE_TYPES: [&str; 7] = [USER, ROLE, GROUP, POLICY, ROOT_USER, PASSWORD_POLICY, META];

/// The region of every IAM document.
const GLOBAL: &str = "global";

/// The operation behind most fields, named in errors about what it returned.
const DETAILS: &str = "GetAccountAuthorizationDetails";

crate::json_shape! {
    AttachedPermissionsBoundary {
        "PermissionsBoundaryType" => permissions_boundary_type,
        "PermissionsBoundaryArn" => permissions_boundary_arn,
    }
    Tag { "Key" => key, "Value" => value }
}
crate::json_enum!(PermissionsBoundaryAttachmentType);

/// Collects every IAM resource type of the account (in a targeted run, the types in scope;
/// `Collect::push` keeps the entities it names).
pub async fn collect(cx: &mut Collect<'_>) {
    let fetched = fetch::everything(cx, &cx.session.iam()).await;

    let account_id = cx.account_id().to_owned();
    let partition = partition(&cx.account.role_arn).to_owned();
    let view = View {
        account_id: &account_id,
        fetched: &fetched,
    };
    let listed: Vec<&'static str> = [USER, ROLE, GROUP, POLICY]
        .into_iter()
        .filter(|t| cx.wants_type(t))
        .collect();
    match &fetched.details {
        Ok(details) => {
            let ix = Index::new(details);
            if listed.contains(&USER) {
                for user in &details.users {
                    push_with(cx, USER, user.arn(), |id| view.user(id, user, &ix));
                }
            }
            if listed.contains(&ROLE) {
                for role in &details.roles {
                    push_with(cx, ROLE, role.arn(), |id| view.role(id, role));
                }
            }
            if listed.contains(&GROUP) {
                for group in &details.groups {
                    push_with(cx, GROUP, group.arn(), |id| view.group(id, group, &ix));
                }
            }
            if listed.contains(&POLICY) {
                for policy in &details.policies {
                    push_with(cx, POLICY, policy.arn(), |id| view.policy(id, policy, &ix));
                }
            }
            if cx.wants_type(META) {
                let support = format!("arn:{partition}:iam::aws:policy/{SUPPORT_POLICY}");
                let entities = ix.attachments.get(support.as_str());
                let meta_id = format!("{account_id}::{META}");
                push_with(cx, META, Some(&meta_id), |id| {
                    let mut doc = Doc::new(META, &account_id, GLOBAL, id);
                    doc.set(
                        "SupportAccessEntities",
                        entities.map_or_else(|| Entities::default().to_json(), ToJson::to_json),
                    );
                    doc
                });
            }
        }
        Err(e) => {
            for resource_type in listed {
                cx.listing_failed(resource_type, e);
            }
            if cx.wants_type(META) {
                cx.listing_failed(META, e);
            }
        }
    }
    if cx.wants_type(ROOT_USER) {
        let root_arn = format!("arn:{partition}:iam::{account_id}:root");
        push_with(cx, ROOT_USER, Some(&root_arn), |id| {
            view.root_user(id, &partition)
        });
    }
    if cx.wants_type(PASSWORD_POLICY) {
        let policy_id = format!("{account_id}::{PASSWORD_POLICY}");
        push_with(cx, PASSWORD_POLICY, Some(&policy_id), |id| {
            view.password_policy(id)
        });
    }
}

/// The AWS managed policy CIS asks to be attached to a support role.
const SUPPORT_POLICY: &str = "AWSSupportAccess";

/// Builds and pushes one document unless it is out of scope. Entities without an ARN (which
/// IAM always sends) cannot be identified and are skipped.
fn push_with(
    cx: &mut Collect<'_>,
    resource_type: &str,
    resource_id: Option<&str>,
    build: impl FnOnce(&str) -> Doc,
) {
    let Some(id) = resource_id else {
        tracing::warn!(resource_type, "IAM entity without an ARN skipped");
        return;
    };
    if !cx.excluded(GLOBAL, resource_type, id) {
        cx.push(build(id));
    }
}

// ---------------------------------------------------------------------------------------------
// Indexes: relations the listing gives one way, looked up the other way

/// A managed policy's attachments, as `ListEntitiesForPolicy` would list them.
#[derive(Default)]
struct Entities {
    groups: Vec<Value>,
    roles: Vec<Value>,
    users: Vec<Value>,
}

impl ToJson for Entities {
    fn to_json(&self) -> Value {
        object([
            ("PolicyGroups", Value::Array(self.groups.clone())),
            ("PolicyRoles", Value::Array(self.roles.clone())),
            ("PolicyUsers", Value::Array(self.users.clone())),
        ])
    }
}

struct Index<'a> {
    /// Group name → group.
    groups: HashMap<&'a str, &'a GroupDetail>,
    /// Group name → its members.
    members: HashMap<&'a str, Vec<&'a UserDetail>>,
    /// Managed policy ARN → who it is attached to.
    attachments: HashMap<&'a str, Entities>,
}

impl<'a> Index<'a> {
    fn new(details: &'a Details) -> Index<'a> {
        let mut ix = Index {
            groups: HashMap::new(),
            members: HashMap::new(),
            attachments: HashMap::new(),
        };
        for group in &details.groups {
            let name = group.group_name().unwrap_or_default();
            ix.groups.insert(name, group);
            for arn in policy_arns(group.attached_managed_policies()) {
                ix.attached(arn).groups.push(object([
                    ("GroupName", group.group_name().to_json()),
                    ("GroupId", group.group_id().to_json()),
                ]));
            }
        }
        for role in &details.roles {
            for arn in policy_arns(role.attached_managed_policies()) {
                ix.attached(arn).roles.push(object([
                    ("RoleName", role.role_name().to_json()),
                    ("RoleId", role.role_id().to_json()),
                ]));
            }
        }
        for user in &details.users {
            for group in user.group_list() {
                ix.members.entry(group.as_str()).or_default().push(user);
            }
            for arn in policy_arns(user.attached_managed_policies()) {
                ix.attached(arn).users.push(object([
                    ("UserName", user.user_name().to_json()),
                    ("UserId", user.user_id().to_json()),
                ]));
            }
        }
        ix
    }

    fn attached(&mut self, policy_arn: &'a str) -> &mut Entities {
        self.attachments.entry(policy_arn).or_default()
    }
}

fn policy_arns(attached: &[AttachedPolicy]) -> impl Iterator<Item = &str> {
    attached.iter().filter_map(AttachedPolicy::policy_arn)
}

// ---------------------------------------------------------------------------------------------
// Documents

/// What the documents are built from.
struct View<'a> {
    account_id: &'a str,
    fetched: &'a Fetched,
}

impl View<'_> {
    fn user(&self, id: &str, user: &UserDetail, ix: &Index<'_>) -> Doc {
        let mut doc = Doc::new(USER, self.account_id, GLOBAL, id);
        let name = user.user_name().unwrap_or_default();
        doc.set("Arn", id)
            .set("Id", user.user_id())
            .set("Name", name)
            .set("Tags", tag_map(user.tags()))
            .set("TimeCreated", user.create_date())
            .set("Path", user.path())
            .set("PermissionsBoundary", user.permissions_boundary())
            .set(
                "ManagedPolicyNames",
                managed_policy_names(user.attached_managed_policies()),
            );
        let groups: Vec<Value> = user
            .group_list()
            .iter()
            .map(|g| match ix.groups.get(g.as_str()) {
                Some(group) => group_shape(group),
                // Not in the listing (changed while paging): the name is all there is.
                None => object([("GroupName", g.to_json())]),
            })
            .collect();
        doc.set("Groups", groups);
        set_or_fail(
            &mut doc,
            "InlinePolicies",
            inline_policies(user.user_policy_list()),
        );
        match self.report_row(name) {
            Ok(row) => doc
                .set("CredentialReport", row)
                .set("PasswordLastUsed", &row["PasswordLastUsed"]),
            Err(e) => doc
                .failed("CredentialReport", &e)
                .failed("PasswordLastUsed", &e),
        };
        set_or_fail(
            &mut doc,
            "VirtualMFA",
            self.mfa_device(|d| d.user().is_some_and(|u| u.arn() == id)),
        );
        doc
    }

    fn role(&self, id: &str, role: &RoleDetail) -> Doc {
        let mut doc = Doc::new(ROLE, self.account_id, GLOBAL, id);
        doc.set("Arn", id)
            .set("Id", role.role_id())
            .set("Name", role.role_name())
            .set("Tags", tag_map(role.tags()))
            .set("TimeCreated", role.create_date())
            .set("Path", role.path())
            .set("PermissionsBoundary", role.permissions_boundary())
            .set(
                "ManagedPolicyNames",
                managed_policy_names(role.attached_managed_policies()),
            );
        set_or_fail(
            &mut doc,
            "AssumeRolePolicyDocument",
            policy_document(role.assume_role_policy_document(), "the trust policy"),
        );
        set_or_fail(
            &mut doc,
            "InlinePolicies",
            inline_policies(role.role_policy_list()),
        );
        let listed = match &self.fetched.roles {
            Ok(roles) => roles.get(id).ok_or_else(|| {
                AwsError::malformed("ListRoles", "the role is missing from the answer")
            }),
            Err(e) => Err(e.clone()),
        };
        match listed {
            Ok(listed) => doc
                .set("Description", listed.description())
                .set("MaxSessionDuration", listed.max_session_duration()),
            Err(e) => doc
                .failed("Description", &e)
                .failed("MaxSessionDuration", &e),
        };
        doc
    }

    fn group(&self, id: &str, group: &GroupDetail, ix: &Index<'_>) -> Doc {
        let mut doc = Doc::new(GROUP, self.account_id, GLOBAL, id);
        let name = group.group_name().unwrap_or_default();
        let arns: Vec<&str> = policy_arns(group.attached_managed_policies()).collect();
        let users: Vec<Value> = ix
            .members
            .get(name)
            .into_iter()
            .flatten()
            .map(|user| self.user_shape(user))
            .collect();
        doc.set("Arn", id)
            .set("Id", group.group_id())
            .set("Name", name)
            .set("TimeCreated", group.create_date())
            .set("Path", group.path())
            .set("ManagedPolicyARNs", arns)
            .set("Users", users);
        set_or_fail(
            &mut doc,
            "InlinePolicies",
            inline_policies(group.group_policy_list()),
        );
        doc
    }

    fn policy(&self, id: &str, policy: &ManagedPolicyDetail, ix: &Index<'_>) -> Doc {
        let mut doc = Doc::new(POLICY, self.account_id, GLOBAL, id);
        let name = policy.policy_name().unwrap_or_else(|| last_segment(id));
        doc.set("Arn", id)
            .set("Id", policy.policy_id())
            .set("Name", name)
            .set("TimeCreated", policy.create_date())
            .set("AttachmentCount", policy.attachment_count())
            .set("DefaultVersionId", policy.default_version_id())
            .set("Description", policy.description())
            .set("IsAttachable", policy.is_attachable())
            .set("Path", policy.path())
            .set(
                "PermissionsBoundaryUsageCount",
                policy.permissions_boundary_usage_count(),
            )
            .set("UpdateDate", policy.update_date())
            .set(
                "Entities",
                ix.attachments.get(id).unwrap_or(&Entities::default()),
            );
        let default = policy.policy_version_list().iter().find(|v| {
            v.is_default_version()
                || v.version_id()
                    .is_some_and(|n| Some(n) == policy.default_version_id())
        });
        let document = match default {
            Some(version) => policy_document(version.document(), "the default version"),
            None => Err(AwsError::malformed(
                DETAILS,
                "the policy's default version is not in the answer",
            )),
        };
        set_or_fail(&mut doc, "PolicyDocument", document);
        doc
    }

    fn root_user(&self, id: &str, partition: &str) -> Doc {
        let mut doc = Doc::new(ROOT_USER, self.account_id, GLOBAL, id);
        // The root user's user id is the account id.
        doc.set("Arn", id)
            .set("Id", self.account_id)
            .set("Name", ROOT_ROW);
        let row = match &self.fetched.report {
            Ok(report) => report.root().ok_or_else(|| {
                AwsError::malformed(
                    "GetCredentialReport",
                    "the credential report has no <root_account> row",
                )
            }),
            Err(e) => Err(e.clone()),
        };
        match row {
            Ok(row) => doc
                .set("CredentialReport", row)
                .set("TimeCreated", &row["UserCreationTime"]),
            Err(e) => doc.failed("CredentialReport", &e),
        };
        let serial = format!(
            "arn:{partition}:iam::{}:mfa/root-account-mfa-device",
            self.account_id
        );
        set_or_fail(
            &mut doc,
            "VirtualMFA",
            self.mfa_device(|d| {
                d.serial_number() == serial || d.user().is_some_and(|u| u.arn() == id)
            }),
        );
        doc
    }

    fn password_policy(&self, id: &str) -> Doc {
        let mut doc = Doc::new(PASSWORD_POLICY, self.account_id, GLOBAL, id);
        match &self.fetched.password {
            Ok(policy) => {
                for (member, value) in password_policy_members(policy.as_ref()) {
                    doc.set(member, value);
                }
                doc.set("AnyExist", policy.is_some());
            }
            Err(e) => {
                for (member, _) in password_policy_members(None) {
                    doc.failed(member, e);
                }
                doc.failed("AnyExist", e);
            }
        }
        doc
    }

    /// The user's credential report row.
    fn report_row(&self, user_name: &str) -> Result<&Value, AwsError> {
        match &self.fetched.report {
            Ok(report) => report.user(user_name).ok_or_else(|| {
                AwsError::malformed(
                    "GetCredentialReport",
                    "the credential report has no row for this user (it may predate the user)",
                )
            }),
            Err(e) => Err(e.clone()),
        }
    }

    /// `{SerialNumber, EnableDate}` of the first assigned virtual MFA device that matches, or
    /// null when none does.
    fn mfa_device(&self, matches: impl Fn(&VirtualMfaDevice) -> bool) -> Result<Value, AwsError> {
        let devices = self.fetched.mfa.as_ref().map_err(Clone::clone)?;
        Ok(devices
            .iter()
            .find(|d| matches(d))
            .map_or(Value::Null, |d| {
                object([
                    ("SerialNumber", d.serial_number().to_json()),
                    ("EnableDate", d.enable_date().to_json()),
                ])
            }))
    }

    /// The IAM `User` shape of a group member. `PasswordLastUsed` comes from the credential
    /// report and, as in the API shape, is null when there is no such time.
    fn user_shape(&self, user: &UserDetail) -> Value {
        let password_last_used = self
            .report_row(user.user_name().unwrap_or_default())
            .ok()
            .map(|row| &row["PasswordLastUsed"])
            .filter(|t| t.as_str() != Some(ZERO_TIME))
            .cloned()
            .unwrap_or(Value::Null);
        object([
            ("Path", user.path().to_json()),
            ("UserName", user.user_name().to_json()),
            ("UserId", user.user_id().to_json()),
            ("Arn", user.arn().to_json()),
            ("CreateDate", user.create_date().to_json()),
            ("PasswordLastUsed", password_last_used),
            ("PermissionsBoundary", user.permissions_boundary().to_json()),
            ("Tags", user.tags().to_json()),
        ])
    }
}

/// The IAM `Group` shape.
fn group_shape(group: &GroupDetail) -> Value {
    object([
        ("Path", group.path().to_json()),
        ("GroupName", group.group_name().to_json()),
        ("GroupId", group.group_id().to_json()),
        ("Arn", group.arn().to_json()),
        ("CreateDate", group.create_date().to_json()),
    ])
}

/// The `PasswordPolicy` members, all null for None.
fn password_policy_members(policy: Option<&PasswordPolicy>) -> [(&'static str, Value); 10] {
    let get = |member: fn(&PasswordPolicy) -> Value| policy.map_or(Value::Null, member);
    [
        (
            "MinimumPasswordLength",
            get(|p| p.minimum_password_length().to_json()),
        ),
        ("RequireSymbols", get(|p| p.require_symbols().to_json())),
        ("RequireNumbers", get(|p| p.require_numbers().to_json())),
        (
            "RequireUppercaseCharacters",
            get(|p| p.require_uppercase_characters().to_json()),
        ),
        (
            "RequireLowercaseCharacters",
            get(|p| p.require_lowercase_characters().to_json()),
        ),
        (
            "AllowUsersToChangePassword",
            get(|p| p.allow_users_to_change_password().to_json()),
        ),
        ("ExpirePasswords", get(|p| p.expire_passwords().to_json())),
        ("MaxPasswordAge", get(|p| p.max_password_age().to_json())),
        (
            "PasswordReusePrevention",
            get(|p| p.password_reuse_prevention().to_json()),
        ),
        ("HardExpiry", get(|p| p.hard_expiry().to_json())),
    ]
}

fn set_or_fail(doc: &mut Doc, field: &str, value: Result<impl ToJson, AwsError>) {
    match value {
        Ok(value) => doc.set(field, value),
        Err(e) => doc.failed(field, &e),
    };
}

fn tag_map(list: &[Tag]) -> Value {
    tags(list.iter().map(|t| (Some(t.key()), Some(t.value()))))
}

/// Names of attached managed policies; the name is the ARN's last segment when missing.
fn managed_policy_names(attached: &[AttachedPolicy]) -> Vec<&str> {
    attached
        .iter()
        .filter_map(|p| p.policy_name().or_else(|| p.policy_arn().map(last_segment)))
        .collect()
}

/// `arn:aws:iam::1:policy/path/name` → `name`.
fn last_segment(arn: &str) -> &str {
    arn.rsplit(['/', ':']).next().unwrap_or(arn)
}

/// The partition of an ARN (`aws`, `aws-cn`, `aws-us-gov`), `aws` when it is not an ARN.
fn partition(arn: &str) -> &str {
    match arn.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", partition, ..] if !partition.is_empty() => partition,
        _ => "aws",
    }
}

/// Inline policies as name → decoded document.
fn inline_policies(list: &[PolicyDetail]) -> Result<Value, AwsError> {
    let mut map = Map::new();
    for policy in list {
        let name = policy.policy_name().unwrap_or_default();
        let document = policy_document(policy.policy_document(), name)?;
        map.insert(name.to_owned(), document.to_json());
    }
    Ok(Value::Object(map))
}

/// A policy document as JSON text. IAM URL-encodes documents (RFC 3986), though some answers
/// (and some emulators) carry plain JSON; an encoded document never starts with `{`, so that
/// tells them apart without touching a `%` inside plain JSON.
fn policy_document(text: Option<&str>, what: &str) -> Result<Option<String>, AwsError> {
    let Some(text) = text else {
        return Ok(None);
    };
    if text.trim_start().starts_with('{') {
        return Ok(Some(text.to_owned()));
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| Some(decoded.into_owned()))
        .map_err(|_| {
            AwsError::malformed(
                DETAILS,
                format!("{what}: the policy document is not UTF-8 once URL-decoded"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_documents_decode_both_ways() {
        let plain = r#"{"Statement":[{"Action":"s3:GetObject","Condition":{"StringLike":{"s3:prefix":"50%25"}}}]}"#;
        assert_eq!(
            policy_document(Some(plain), "p").unwrap().as_deref(),
            Some(plain)
        );
        let encoded = "%7B%22Statement%22%3A%20%5B%7B%22Action%22%3A%20%22%2A%22%7D%5D%7D";
        assert_eq!(
            policy_document(Some(encoded), "p").unwrap().as_deref(),
            Some(r#"{"Statement": [{"Action": "*"}]}"#)
        );
        assert_eq!(policy_document(None, "p").unwrap(), None);
        assert!(policy_document(Some("%FF%FE"), "p").is_err());
    }

    #[test]
    fn names_and_partitions_come_from_arns() {
        assert_eq!(
            last_segment("arn:aws:iam::123456789012:policy/team/admin"),
            "admin"
        );
        assert_eq!(
            last_segment("arn:aws:iam::123456789012:policy/admin"),
            "admin"
        );
        assert_eq!(
            partition("arn:aws-us-gov:iam::123456789012:role/Audit"),
            "aws-us-gov"
        );
        assert_eq!(partition("not-an-arn"), "aws");
    }

    #[test]
    fn a_missing_password_policy_is_all_null() {
        assert!(
            password_policy_members(None)
                .iter()
                .all(|(_, v)| v.is_null())
        );
        let policy = PasswordPolicy::builder().minimum_password_length(6).build();
        let members: HashMap<_, _> = password_policy_members(Some(&policy)).into_iter().collect();
        assert_eq!(members["MinimumPasswordLength"], Value::from(6));
        assert_eq!(members["RequireSymbols"], Value::Bool(false));
        assert_eq!(members["HardExpiry"], Value::Null);
    }
}
