//! S3 bucket documents (`AWS.S3.Bucket`): the judgements several packs make about a bucket, kept
//! in one place so they agree. Which ACL grants and which bucket-policy statements make a bucket
//! public, what its public access block switches off, and, putting the three together, whether
//! the bucket is public as things stand ([`public_exposure`]).
//!
//! The model follows S3's own: an ACL is public when it grants the `AllUsers` or
//! `AuthenticatedUsers` group READ, WRITE, WRITE_ACP or FULL_CONTROL (S3 counts READ_ACP too;
//! these checks do not, reading an ACL exposes no data); a policy is public when an Allow
//! statement names everyone (`*`) without a condition that confines the caller to known
//! accounts, organizations or networks.
//! `IgnorePublicAcls` makes S3 ignore public ACL grants and `RestrictPublicBuckets` limits a
//! bucket with a public policy to AWS services and the owner's account; `BlockPublicAcls` and
//! `BlockPublicPolicy` only refuse new public settings, so they neutralise nothing already there.
//!
//! Policy decisions that belong to one rule (its messages' wording around these findings, what
//! to do with a bucket that has none) stay in the packs.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use crate::iam::{PolicyDocument, Statement, parse_policy};
use crate::{Error, Resource, Result};

/// ACL permissions that let the grantee read: list the bucket (`READ`) or do anything.
pub const READ_PERMISSIONS: &[&str] = &["READ", "FULL_CONTROL"];

/// ACL permissions that let the grantee write objects, rewrite the ACL, or do anything.
pub const WRITE_PERMISSIONS: &[&str] = &["WRITE", "WRITE_ACP", "FULL_CONTROL"];

/// The permissions of [`READ_PERMISSIONS`] and [`WRITE_PERMISSIONS`] together: a public grant
/// of any of them makes the bucket public.
pub const PUBLIC_PERMISSIONS: &[&str] = &["READ", "WRITE", "WRITE_ACP", "FULL_CONTROL"];

/// Condition keys that, tested for a bounded set of values, confine a statement to known
/// callers or networks, so a public principal with such a condition is not open to anyone.
pub const CALLER_KEYS: &[&str] = &[
    "aws:SourceArn",
    "aws:SourceAccount",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:SourceIp",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "s3:DataAccessPointAccount",
    "s3:DataAccessPointArn",
];

/// One grant of a bucket ACL (the s3 `Grant` shape); only the members these checks read.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Grant<'a> {
    #[serde(default, borrow)]
    pub grantee: Option<Grantee<'a>>,
    #[serde(default, borrow)]
    pub permission: Option<Cow<'a, str>>,
}

/// The grantee of a [`Grant`]: groups are named by `URI`.
#[derive(Debug, Clone, Deserialize)]
pub struct Grantee<'a> {
    #[serde(rename = "URI", default, borrow)]
    pub uri: Option<Cow<'a, str>>,
}

/// A grant of the ACL to a public group, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicGrant<'a> {
    /// The grant's position in the ACL, from 1.
    pub number: usize,
    pub permission: &'a str,
    /// Who the group stands for, e.g. `everyone (AllUsers)`.
    pub group: &'static str,
    pub uri: &'a str,
}

/// `grant #2 gives READ to everyone (AllUsers) (http://acs.amazonaws.com/groups/global/AllUsers)`.
impl fmt::Display for PublicGrant<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "grant #{} gives {} to {} ({})",
            self.number, self.permission, self.group, self.uri
        )
    }
}

/// The grants of `grants` that give one of `permissions` to a public group, in ACL order.
pub fn public_grants<'g>(grants: &'g [Grant<'_>], permissions: &[&str]) -> Vec<PublicGrant<'g>> {
    grants
        .iter()
        .enumerate()
        .filter_map(|(index, grant)| {
            let permission = grant.permission.as_deref()?;
            let uri = grant.grantee.as_ref()?.uri.as_deref()?;
            let group = public_group(uri)?;
            permissions.contains(&permission).then_some(PublicGrant {
                number: index + 1,
                permission,
                group,
                uri,
            })
        })
        .collect()
}

/// The public group a grantee URI names, described for messages; `None` for other grantees
/// (such as the log delivery group). The scheme and a trailing slash do not matter.
pub fn public_group(uri: &str) -> Option<&'static str> {
    let path = uri
        .strip_prefix("http://")
        .or_else(|| uri.strip_prefix("https://"))
        .unwrap_or(uri)
        .trim_end_matches('/');
    match path {
        "acs.amazonaws.com/groups/global/AllUsers" => Some("everyone (AllUsers)"),
        "acs.amazonaws.com/groups/global/AuthenticatedUsers" => {
            Some("every AWS account (AuthenticatedUsers)")
        }
        _ => None,
    }
}

/// Parses a bucket's `Policy` value: the policy text (a JSON string), or an object. `bucket`
/// names the bucket in the error.
pub fn parse_bucket_policy(policy: &Value, bucket: &str) -> Result<PolicyDocument> {
    parse_policy(policy).map_err(|e| {
        Error::new(format!(
            "bucket {bucket}: the bucket policy cannot be read: {e}"
        ))
    })
}

/// The Allow statements of `policy` open to everyone: a public principal (see
/// [`Statement::has_public_principal`]) and no condition narrowing the caller by one of
/// [`CALLER_KEYS`]. With their positions in the policy.
pub fn public_statements(policy: &PolicyDocument) -> Vec<(usize, &Statement)> {
    policy
        .statements
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_allow() && s.has_public_principal() && !s.narrowed_by(CALLER_KEYS))
        .collect()
}

/// A public statement (see [`public_statements`]) for messages: `statement "Sid" allows
/// s3:GetObject to everyone (Principal "*") without a condition`.
pub fn describe_public_statement(index: usize, statement: &Statement) -> String {
    let unless = if statement.has_condition() {
        "with no condition that narrows the caller"
    } else {
        "without a condition"
    };
    format!(
        "{} allows {} to {} {unless}",
        statement_label(index, statement),
        statement_actions(statement),
        public_principal(statement)
    )
}

/// A statement for messages: `statement "Sid"` when it has a Sid, else `statement #N` (its
/// position from 1).
pub fn statement_label(index: usize, statement: &Statement) -> String {
    match statement.sid.as_deref().filter(|sid| !sid.is_empty()) {
        Some(sid) => format!("statement {sid:?}"),
        None => format!("statement #{}", index + 1),
    }
}

/// The statement's action element for messages.
pub fn statement_actions(statement: &Statement) -> String {
    match (&statement.action, &statement.not_action) {
        (Some(actions), _) if !actions.is_empty() => actions.join(", "),
        (None, Some(excluded)) => format!("every action except {}", excluded.join(", ")),
        _ => "no action".to_owned(),
    }
}

/// The public principal of a statement for messages.
pub fn public_principal(statement: &Statement) -> String {
    match (&statement.principal, &statement.not_principal) {
        (Some(principal), _) if principal.is_public() => {
            format!("everyone (Principal {principal})")
        }
        (_, Some(excluded)) => format!("every principal except NotPrincipal {excluded}"),
        _ => "everyone".to_owned(),
    }
}

/// A public access block configuration (the s3 and s3control `PublicAccessBlockConfiguration`
/// shape). An unset switch is off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublicAccessBlock {
    #[serde(default)]
    pub block_public_acls: Option<bool>,
    #[serde(default)]
    pub ignore_public_acls: Option<bool>,
    #[serde(default)]
    pub block_public_policy: Option<bool>,
    #[serde(default)]
    pub restrict_public_buckets: Option<bool>,
}

impl PublicAccessBlock {
    /// The four switches by their API names, in the order the S3 console lists them.
    pub fn flags(&self) -> [(&'static str, Option<bool>); 4] {
        [
            ("BlockPublicAcls", self.block_public_acls),
            ("IgnorePublicAcls", self.ignore_public_acls),
            ("BlockPublicPolicy", self.block_public_policy),
            ("RestrictPublicBuckets", self.restrict_public_buckets),
        ]
    }

    /// The switches that are not on, for messages: `BlockPublicAcls is false`, `IgnorePublicAcls
    /// is not set`. Empty when all four are on.
    pub fn off_flags(&self) -> Vec<String> {
        self.flags()
            .iter()
            .filter_map(|(flag, value)| match value {
                Some(true) => None,
                Some(false) => Some(format!("{flag} is false")),
                None => Some(format!("{flag} is not set")),
            })
            .collect()
    }

    /// Whether S3 ignores public ACL grants.
    pub fn ignores_public_acls(&self) -> bool {
        self.ignore_public_acls == Some(true)
    }

    /// Whether S3 confines a bucket with a public policy to AWS services and the owner's account.
    pub fn restricts_public_buckets(&self) -> bool {
        self.restrict_public_buckets == Some(true)
    }

    /// The configuration in force when both apply (an account's and a bucket's): a switch is on
    /// when either turns it on.
    pub fn combined(&self, other: &PublicAccessBlock) -> PublicAccessBlock {
        let either = |a: Option<bool>, b: Option<bool>| match (a, b) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), _) | (_, Some(false)) => Some(false),
            (None, None) => None,
        };
        PublicAccessBlock {
            block_public_acls: either(self.block_public_acls, other.block_public_acls),
            ignore_public_acls: either(self.ignore_public_acls, other.ignore_public_acls),
            block_public_policy: either(self.block_public_policy, other.block_public_policy),
            restrict_public_buckets: either(
                self.restrict_public_buckets,
                other.restrict_public_buckets,
            ),
        }
    }
}

/// Whether a bucket is public as things stand, from its document: see [`public_exposure`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exposure {
    /// What makes the bucket public: ACL grants and policy statements that no public access
    /// block switch neutralises. Each names the grant or statement.
    pub public: Vec<String>,
    /// Public grants and statements a public access block switch neutralises, each saying which.
    pub neutralised: Vec<String>,
    /// Parts that could not be judged (not collected, or absent from the document), each saying
    /// why. When `public` is empty and this is not, the bucket may or may not be public.
    pub undecided: Vec<String>,
}

impl Exposure {
    /// Whether something makes the bucket public for certain.
    pub fn is_public(&self) -> bool {
        !self.public.is_empty()
    }
}

/// Judges whether the bucket of document `bucket` (an `AWS.S3.Bucket`) is public: its ACL
/// grants to public groups ([`PUBLIC_PERMISSIONS`]) and its policy's [`public_statements`],
/// less what its `PublicAccessBlockConfiguration`, together with `account_block` (the account's
/// configuration, when known), neutralises.
///
/// `Grants` or `Policy` that the collector could not read, or that the document lacks, goes to
/// [`Exposure::undecided`] unless a switch that is on makes it moot (IgnorePublicAcls for the
/// ACL, RestrictPublicBuckets for the policy); so does a public grant or statement when the
/// bucket's public access block was not collected and the account's does not neutralise it. A
/// policy that does not parse is an error.
pub fn public_exposure(
    bucket: &Resource<'_>,
    account_block: Option<&PublicAccessBlock>,
) -> Result<Exposure> {
    let name: Option<Cow<'_, str>> = bucket.field("Name")?;
    let name = name.unwrap_or_else(|| bucket.id());
    let account = account_block.copied().unwrap_or_default();
    // The switches known to be on: the account's, and the bucket's when they were collected.
    let (block, block_unknown) = match bucket.require_collected(&["PublicAccessBlockConfiguration"])
    {
        Ok(()) => {
            let own: Option<PublicAccessBlock> = bucket.field("PublicAccessBlockConfiguration")?;
            (own.unwrap_or_default().combined(&account), None)
        }
        Err(why) => (account, Some(why.message().to_owned())),
    };
    let mut exposure = Exposure::default();
    let mut judge = |finding: String, switch: &str, neutralised: bool| {
        if neutralised {
            exposure
                .neutralised
                .push(format!("{finding} (neutralised: {switch} is on)"));
        } else if let Some(why) = &block_unknown {
            exposure.undecided.push(format!(
                "{finding}, and whether {switch} neutralises it is unknown ({why})"
            ));
        } else {
            exposure.public.push(finding);
        }
    };

    let mut undecided = Vec::new();
    match readable(bucket, "Grants")? {
        Err(why) => {
            if !block.ignores_public_acls() {
                undecided.push(format!("the bucket ACL cannot be judged: {why}"));
            }
        }
        Ok(raw) => {
            let grants: Option<Vec<Grant<'_>>> = serde_json::from_str(raw).map_err(|e| {
                Error::new(format!(
                    "field Grants does not have the expected shape: {e}"
                ))
            })?;
            for grant in public_grants(grants.as_deref().unwrap_or_default(), PUBLIC_PERMISSIONS) {
                judge(
                    format!("ACL {grant}"),
                    "IgnorePublicAcls",
                    block.ignores_public_acls(),
                );
            }
        }
    }
    match readable(bucket, "Policy")? {
        Err(why) => {
            if !block.restricts_public_buckets() {
                undecided.push(format!("the bucket policy cannot be judged: {why}"));
            }
        }
        Ok(raw) => {
            let policy: Option<Value> = serde_json::from_str(raw).map_err(|e| {
                Error::new(format!(
                    "field Policy does not have the expected shape: {e}"
                ))
            })?;
            if let Some(policy) = policy {
                let policy = parse_bucket_policy(&policy, &name)?;
                for (index, statement) in public_statements(&policy) {
                    judge(
                        format!("policy {}", describe_public_statement(index, statement)),
                        "RestrictPublicBuckets",
                        block.restricts_public_buckets(),
                    );
                }
            }
        }
    }
    exposure.undecided.extend(undecided);
    Ok(exposure)
}

/// The JSON text of field `field` (`null` included), or why it cannot be judged: the collector
/// recorded an error for it, or the document has no such key.
fn readable<'a>(res: &Resource<'a>, field: &str) -> Result<std::result::Result<&'a str, String>> {
    if let Err(why) = res.require_collected(&[field]) {
        return Ok(Err(why.message().to_owned()));
    }
    Ok(match res.raw_field(field)? {
        Some(raw) => Ok(raw),
        None => Err(format!("the document has no {field} field")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";

    fn bucket(extra: Value) -> String {
        let mut doc = json!({
            "ResourceId": "arn:aws:s3:::logs",
            "ResourceType": "AWS.S3.Bucket",
            "Name": "logs",
            "Grants": [],
            "Policy": null,
            "PublicAccessBlockConfiguration": null,
        });
        for (key, value) in extra.as_object().unwrap() {
            doc[key] = value.clone();
        }
        doc.to_string()
    }

    fn exposure(doc: &str, account: Option<&PublicAccessBlock>) -> Exposure {
        public_exposure(&Resource::new("AWS.S3.Bucket", doc), account).unwrap()
    }

    fn all_on() -> PublicAccessBlock {
        PublicAccessBlock {
            block_public_acls: Some(true),
            ignore_public_acls: Some(true),
            block_public_policy: Some(true),
            restrict_public_buckets: Some(true),
        }
    }

    #[test]
    fn public_groups_ignore_scheme_and_trailing_slash() {
        assert!(public_group(ALL_USERS).is_some());
        assert!(public_group("https://acs.amazonaws.com/groups/global/AllUsers/").is_some());
        assert!(public_group("acs.amazonaws.com/groups/global/AuthenticatedUsers").is_some());
        assert!(public_group("http://acs.amazonaws.com/groups/s3/LogDelivery").is_none());
    }

    #[test]
    fn public_grants_keep_acl_positions() {
        let text = json!([
            {"Grantee": {"ID": "abc", "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"URI": ALL_USERS, "Type": "Group"}, "Permission": "READ_ACP"},
            {"Grantee": {"URI": ALL_USERS, "Type": "Group"}, "Permission": "WRITE"},
        ])
        .to_string();
        let grants: Vec<Grant<'_>> = serde_json::from_str(&text).unwrap();
        let found = public_grants(&grants, PUBLIC_PERMISSIONS);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].to_string(),
            format!("grant #3 gives WRITE to everyone (AllUsers) ({ALL_USERS})")
        );
        assert!(public_grants(&grants, READ_PERMISSIONS).is_empty());
    }

    #[test]
    fn off_flags_and_combination() {
        let partial = PublicAccessBlock {
            block_public_acls: Some(true),
            ignore_public_acls: Some(false),
            ..PublicAccessBlock::default()
        };
        assert_eq!(
            partial.off_flags(),
            [
                "IgnorePublicAcls is false",
                "BlockPublicPolicy is not set",
                "RestrictPublicBuckets is not set"
            ]
        );
        assert!(all_on().off_flags().is_empty());
        let combined = partial.combined(&PublicAccessBlock {
            restrict_public_buckets: Some(true),
            ..PublicAccessBlock::default()
        });
        assert!(combined.restricts_public_buckets() && !combined.ignores_public_acls());
        assert_eq!(combined.block_public_policy, None);
    }

    #[test]
    fn private_bucket_is_not_exposed() {
        assert_eq!(exposure(&bucket(json!({})), None), Exposure::default());
    }

    #[test]
    fn public_acl_and_policy_are_found_in_string_and_object_policies() {
        let statement = json!({"Sid": "Open", "Effect": "Allow", "Principal": "*",
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::logs/*"});
        let grants = json!([{"Grantee": {"URI": ALL_USERS}, "Permission": "READ"}]);
        for policy in [
            json!({"Statement": [statement]}),
            json!(json!({"Statement": [statement]}).to_string()),
        ] {
            let found = exposure(&bucket(json!({"Grants": grants, "Policy": policy})), None);
            assert_eq!(found.public.len(), 2, "{found:?}");
            assert!(found.public[0].starts_with("ACL grant #1 gives READ"));
            assert!(found.public[1].contains("statement \"Open\" allows s3:GetObject"));
        }
    }

    #[test]
    fn public_access_block_neutralises_what_it_covers() {
        let doc = bucket(json!({
            "Grants": [{"Grantee": {"URI": ALL_USERS}, "Permission": "READ"}],
            "Policy": r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:*"}}"#,
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": false, "IgnorePublicAcls": true,
                "BlockPublicPolicy": true, "RestrictPublicBuckets": false},
        }));
        let found = exposure(&doc, None);
        assert_eq!(found.public.len(), 1, "{found:?}");
        assert!(found.public[0].starts_with("policy statement #1"));
        assert_eq!(found.neutralised.len(), 1);
        assert!(found.neutralised[0].contains("IgnorePublicAcls is on"));
        // The account's RestrictPublicBuckets covers the policy too.
        let account = PublicAccessBlock {
            restrict_public_buckets: Some(true),
            ..PublicAccessBlock::default()
        };
        let found = exposure(&doc, Some(&account));
        assert!(!found.is_public(), "{found:?}");
        assert_eq!(found.neutralised.len(), 2);
    }

    #[test]
    fn conditions_that_confine_the_caller_are_not_public() {
        let policy = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}}]});
        assert!(!exposure(&bucket(json!({"Policy": policy})), None).is_public());
    }

    #[test]
    fn uncollected_parts_are_undecided_unless_moot() {
        let doc = bucket(
            json!({"CollectionErrors": {"Grants": "AccessDenied", "Policy": "AccessDenied"}}),
        );
        let found = exposure(&doc, None);
        assert!(!found.is_public());
        assert_eq!(found.undecided.len(), 2, "{found:?}");
        assert!(found.undecided[0].contains("Grants was not collected: AccessDenied"));
        assert!(exposure(&doc, Some(&all_on())).undecided.is_empty());

        let no_grants = json!({"ResourceId": "arn:aws:s3:::b", "Policy": null}).to_string();
        let found = exposure(&no_grants, None);
        assert!(found.undecided[0].contains("no Grants field"), "{found:?}");

        let unknown_block = bucket(json!({
            "Grants": [{"Grantee": {"URI": ALL_USERS}, "Permission": "FULL_CONTROL"}],
            "CollectionErrors": {"PublicAccessBlockConfiguration": "AccessDenied"},
        }));
        let found = exposure(&unknown_block, None);
        assert!(!found.is_public());
        assert!(found.undecided[0].contains("whether IgnorePublicAcls neutralises it is unknown"));
    }

    #[test]
    fn unreadable_policy_is_an_error() {
        let doc = bucket(json!({"Policy": "{not json"}));
        let err = public_exposure(&Resource::new("AWS.S3.Bucket", &doc), None).unwrap_err();
        assert!(
            err.message()
                .starts_with("bucket logs: the bucket policy cannot be read")
        );
    }
}
