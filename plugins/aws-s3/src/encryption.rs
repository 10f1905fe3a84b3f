//! Default encryption: objects written without an encryption header must still be encrypted.

use std::borrow::Cow;

use palisade_sdk::{Ctx, Resource, Result, Rule, Severity, Verdict};
use serde::Deserialize;

use crate::{BUCKET, bucket_name};

pub const ENCRYPTION: Rule = Rule::new(
    "AWS.S3.Bucket.Encryption",
    "S3 bucket has default encryption",
    Severity::High,
    BUCKET,
    encryption,
)
.description(
    "Objects written without an encryption header are stored unencrypted unless the bucket has \
     a default encryption configuration (SSE-S3, SSE-KMS or DSSE-KMS).",
)
.remediation(
    "Set default encryption on the bucket: `aws s3api put-bucket-encryption --bucket NAME \
     --server-side-encryption-configuration '{\"Rules\":[{\"ApplyServerSideEncryptionByDefault\":\
     {\"SSEAlgorithm\":\"aws:kms\"}}]}'`, or in the console under Properties > Default encryption.",
)
.references(&[
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-bucket-encryption.html",
]);

/// Server-side encryption algorithms S3 accepts as a bucket default.
const ALGORITHMS: &[&str] = &["AES256", "aws:kms", "aws:kms:dsse"];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptionRule<'a> {
    #[serde(borrow)]
    apply_server_side_encryption_by_default: Option<SseDefault<'a>>,
}

#[derive(Deserialize)]
struct SseDefault<'a> {
    #[serde(rename = "SSEAlgorithm", borrow)]
    algorithm: Option<Cow<'a, str>>,
}

fn encryption(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let rules: Option<Vec<EncryptionRule<'_>>> = res.collected("EncryptionRules")?;
    let name = bucket_name(res)?;
    let algorithms: Vec<&str> = rules
        .iter()
        .flatten()
        .filter_map(|rule| rule.apply_server_side_encryption_by_default.as_ref())
        .filter_map(|default| default.algorithm.as_deref())
        .collect();
    if algorithms.is_empty() {
        return Ok(Verdict::fail(format!(
            "bucket {name} has no default encryption configured"
        )));
    }
    match algorithms.iter().find(|a| !ALGORITHMS.contains(a)) {
        Some(unknown) => Ok(Verdict::fail(format!(
            "bucket {name} has default encryption with unrecognised algorithm {unknown:?}"
        ))),
        None => Ok(Verdict::Pass),
    }
}
