//! Bucket settings that protect data over time: versioning, MFA delete, server access logging,
//! lifecycle rules and object lock.

use std::borrow::Cow;

use palisade_sdk::{Ctx, Resource, Result, Rule, Severity, Verdict};
use serde::Deserialize;

use crate::{BUCKET, bucket_name};

pub const VERSIONING: Rule = Rule::new(
    "AWS.S3.Bucket.Versioning",
    "S3 bucket has versioning enabled",
    Severity::Low,
    BUCKET,
    versioning,
)
.description(
    "With versioning, an overwritten or deleted object keeps its earlier versions, so mistakes \
     and malicious deletions can be undone. A bucket whose versioning was never enabled, or is \
     suspended, keeps only the latest copy.",
)
.remediation(
    "Enable versioning: `aws s3api put-bucket-versioning --bucket NAME \
     --versioning-configuration Status=Enabled`, and add a lifecycle rule expiring noncurrent \
     versions to bound the cost.",
)
.references(&["https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html"]);

pub const MFA_DELETE: Rule = Rule::new(
    "AWS.S3.Bucket.MFADelete",
    "S3 bucket requires MFA to delete versions",
    Severity::Low,
    BUCKET,
    mfa_delete,
)
.description(
    "MFA delete makes permanently deleting an object version, or changing the bucket's \
     versioning state, require the root user's MFA code, so stolen credentials alone cannot \
     destroy versioned data.",
)
.remediation(
    "As the root user with its MFA device: `aws s3api put-bucket-versioning --bucket NAME \
     --versioning-configuration Status=Enabled,MFADelete=Enabled --mfa 'SERIAL CODE'`.",
)
.references(&[
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/MultiFactorAuthenticationDelete.html",
])
.compliance(&["CIS-AWS-7.0:3.1.2"]);

pub const LOGGING: Rule = Rule::new(
    "AWS.S3.Bucket.Logging",
    "S3 bucket has server access logging",
    Severity::Low,
    BUCKET,
    logging,
)
.description(
    "Server access logs record every request made to the bucket (requester, operation, key, \
     response), which investigations and access reviews need.",
)
.remediation(
    "Deliver access logs to a dedicated logging bucket: `aws s3api put-bucket-logging --bucket \
     NAME --bucket-logging-status '{\"LoggingEnabled\":{\"TargetBucket\":\"LOG-BUCKET\",\
     \"TargetPrefix\":\"NAME/\"}}'`.",
)
.references(&["https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerLogs.html"]);

pub const LIFECYCLE_CONFIGURATION: Rule = Rule::new(
    "AWS.S3.Bucket.LifecycleConfiguration",
    "S3 bucket has an enabled lifecycle rule",
    Severity::Low,
    BUCKET,
    lifecycle_configuration,
)
.description(
    "Lifecycle rules expire or archive objects, noncurrent versions and incomplete multipart \
     uploads, so data is not kept (and paid for) longer than intended. The bucket needs at \
     least one rule whose status is Enabled.",
)
.remediation(
    "Add a lifecycle configuration with an enabled rule, e.g. expiring noncurrent versions \
     and aborting incomplete multipart uploads: `aws s3api \
     put-bucket-lifecycle-configuration --bucket NAME --lifecycle-configuration file://rules.json`.",
)
.references(&["https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lifecycle-mgmt.html"]);

pub const OBJECT_LOCK_CONFIGURED: Rule = Rule::new(
    "AWS.S3.BucketObjectLockConfigured",
    "S3 bucket has object lock enabled",
    Severity::Low,
    BUCKET,
    object_lock_configured,
)
.description(
    "Object lock stores objects write-once-read-many: locked versions cannot be deleted or \
     overwritten until their retention ends, which protects backups and records from \
     ransomware and accidents. Off by default: only buckets holding such data need it.",
)
.remediation(
    "Enable object lock (it also enables versioning): `aws s3api \
     put-object-lock-configuration --bucket NAME --object-lock-configuration \
     '{\"ObjectLockEnabled\":\"Enabled\"}'`, then set a default retention if every object \
     needs one.",
)
.references(&["https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html"])
.disabled_by_default();

fn versioning(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let status: Option<Cow<'_, str>> = res.collected("Versioning")?;
    let name = bucket_name(res)?;
    Ok(match status.as_deref() {
        Some("Enabled") => Verdict::Pass,
        Some(status) => Verdict::fail(format!("bucket {name} has versioning {status}")),
        None => Verdict::fail(format!("bucket {name} has never had versioning enabled")),
    })
}

fn mfa_delete(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let status: Option<Cow<'_, str>> = res.collected("MFADelete")?;
    let name = bucket_name(res)?;
    Ok(match status.as_deref() {
        Some("Enabled") => Verdict::Pass,
        Some(status) => Verdict::fail(format!("bucket {name} has MFADelete {status}")),
        None => Verdict::fail(format!(
            "bucket {name} does not have MFA delete enabled (MFADelete is not set)"
        )),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LoggingEnabled<'a> {
    #[serde(borrow)]
    target_bucket: Option<Cow<'a, str>>,
}

fn logging(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let policy: Option<LoggingEnabled<'_>> = res.collected("LoggingPolicy")?;
    let name = bucket_name(res)?;
    Ok(match policy {
        None => Verdict::fail(format!(
            "bucket {name} has no server access logging configured"
        )),
        Some(policy) if policy.target_bucket.as_deref().is_none_or(str::is_empty) => Verdict::fail(
            format!("bucket {name} has a logging configuration without a target bucket"),
        ),
        Some(_) => Verdict::Pass,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LifecycleRule<'a> {
    #[serde(rename = "ID", borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
}

fn lifecycle_configuration(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let rules: Option<Vec<LifecycleRule<'_>>> = res.collected("LifecycleRules")?;
    let name = bucket_name(res)?;
    let rules = rules.unwrap_or_default();
    if rules.is_empty() {
        return Ok(Verdict::fail(format!(
            "bucket {name} has no lifecycle rules"
        )));
    }
    if rules.iter().any(|r| r.status.as_deref() == Some("Enabled")) {
        return Ok(Verdict::Pass);
    }
    let disabled: Vec<String> = rules
        .iter()
        .enumerate()
        .map(|(index, rule)| {
            let label = match rule.id.as_deref().filter(|id| !id.is_empty()) {
                Some(id) => format!("{id:?}"),
                None => format!("#{}", index + 1),
            };
            format!(
                "{label} is {}",
                rule.status.as_deref().unwrap_or("without status")
            )
        })
        .collect();
    Ok(Verdict::fail(format!(
        "bucket {name} has no enabled lifecycle rule: {}",
        disabled.join(", ")
    )))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ObjectLockConfiguration<'a> {
    #[serde(borrow)]
    object_lock_enabled: Option<Cow<'a, str>>,
}

fn object_lock_configured(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let config: Option<ObjectLockConfiguration<'_>> = res.collected("ObjectLockConfiguration")?;
    let name = bucket_name(res)?;
    Ok(
        match config.as_ref().map(|c| c.object_lock_enabled.as_deref()) {
            Some(Some("Enabled")) => Verdict::Pass,
            Some(Some(other)) => {
                Verdict::fail(format!("bucket {name} has ObjectLockEnabled {other}"))
            }
            Some(None) | None => {
                Verdict::fail(format!("bucket {name} does not have object lock enabled"))
            }
        },
    )
}
