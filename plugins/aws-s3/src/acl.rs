//! Bucket ACL rules: no grant to the global groups that stand for everyone (`AllUsers`) or any
//! AWS account at all (`AuthenticatedUsers`).

use std::borrow::Cow;

use palisade_sdk::{Ctx, Resource, Result, Rule, Severity, Verdict};
use serde::Deserialize;

use crate::{BUCKET, bucket_name, collected_present};

pub const PUBLIC_READ: Rule = Rule::new(
    "AWS.S3.Bucket.PublicRead",
    "S3 bucket ACL does not allow public read",
    Severity::High,
    BUCKET,
    public_read,
)
.description(
    "A bucket ACL grant of READ (or FULL_CONTROL) to the AllUsers group lets anyone on the \
     internet list the bucket; to AuthenticatedUsers, anyone with any AWS account.",
)
.remediation(
    "Remove the grant: `aws s3api put-bucket-acl --bucket NAME --acl private`, and prefer \
     Object Ownership set to BucketOwnerEnforced, which disables ACLs altogether.",
)
.references(&[
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html",
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html",
]);

pub const PUBLIC_WRITE: Rule = Rule::new(
    "AWS.S3.Bucket.PublicWrite",
    "S3 bucket ACL does not allow public write",
    Severity::Critical,
    BUCKET,
    public_write,
)
.description(
    "A bucket ACL grant of WRITE, WRITE_ACP or FULL_CONTROL to the AllUsers or \
     AuthenticatedUsers group lets anyone (or anyone with an AWS account) upload and overwrite \
     objects, or rewrite the bucket's ACL.",
)
.remediation(
    "Remove the grant: `aws s3api put-bucket-acl --bucket NAME --acl private`, and set Object \
     Ownership to BucketOwnerEnforced so ACLs no longer apply.",
)
.references(&["https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html"]);

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Grant<'a> {
    #[serde(borrow)]
    grantee: Option<Grantee<'a>>,
    #[serde(borrow)]
    permission: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Grantee<'a> {
    #[serde(rename = "URI", borrow)]
    uri: Option<Cow<'a, str>>,
}

fn public_read(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    public_grants(res, &["READ", "FULL_CONTROL"])
}

fn public_write(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    public_grants(res, &["WRITE", "WRITE_ACP", "FULL_CONTROL"])
}

/// Fails for each grant of one of `permissions` to a public group.
fn public_grants(res: &Resource<'_>, permissions: &[&str]) -> Result<Verdict> {
    let grants: Option<Vec<Grant<'_>>> = collected_present(res, "Grants")?;
    let name = bucket_name(res)?;
    let failures: Vec<String> = grants
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(index, grant)| {
            let permission = grant.permission.as_deref()?;
            let uri = grant.grantee.as_ref()?.uri.as_deref()?;
            let group = public_group(uri)?;
            permissions
                .contains(&permission)
                .then(|| format!("grant #{} gives {permission} to {group} ({uri})", index + 1))
        })
        .collect();
    Ok(if failures.is_empty() {
        Verdict::Pass
    } else {
        Verdict::fail(format!("bucket {name} ACL: {}", failures.join("; ")))
    })
}

/// The public group a grantee URI names, described for messages; `None` for other grantees
/// (such as the log delivery group).
fn public_group(uri: &str) -> Option<&'static str> {
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
