//! Bucket ACL rules: no grant to the global groups that stand for everyone (`AllUsers`) or any
//! AWS account at all (`AuthenticatedUsers`). Which grants count is `palisade_sdk::s3`'s
//! judgement, shared with the CloudTrail pack's check of the trail's bucket.

use palisade_sdk::s3::{self, Grant, READ_PERMISSIONS, WRITE_PERMISSIONS};
use palisade_sdk::{Ctx, Resource, Result, Rule, Severity, Verdict};

use crate::{BUCKET, bucket_name};

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

fn public_read(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    public_grants(res, READ_PERMISSIONS)
}

fn public_write(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    public_grants(res, WRITE_PERMISSIONS)
}

/// Fails for each grant of one of `permissions` to a public group.
fn public_grants(res: &Resource<'_>, permissions: &[&str]) -> Result<Verdict> {
    let grants: Option<Vec<Grant<'_>>> = res.collected_present("Grants")?;
    let name = bucket_name(res)?;
    let failures: Vec<String> =
        s3::public_grants(grants.as_deref().unwrap_or_default(), permissions)
            .iter()
            .map(ToString::to_string)
            .collect();
    Ok(if failures.is_empty() {
        Verdict::Pass
    } else {
        Verdict::fail(format!("bucket {name} ACL: {}", failures.join("; ")))
    })
}
