//! Rules on the S3 bucket a trail delivers its log files to: the bucket keeps server access logs,
//! and it is not public. The bucket's `AWS.S3.Bucket` document is looked up by its ARN, built
//! from the trail's `S3BucketName` and the partition of the trail's ARN.
//!
//! A bucket the lookup does not find is outside this account's inventory (typically a central
//! log-archive account's bucket): the rules say so as an `error`, since nothing here can see it.
//! Whether the bucket is public is `palisade_sdk::s3`'s judgement, the one the aws-s3 pack's
//! PublicRead, PublicWrite and PrincipalRestrictions rules make, less what the bucket's (and the
//! account's) public access block neutralises.

use std::borrow::Cow;

use palisade_sdk::s3::{PublicAccessBlock, public_exposure};
use palisade_sdk::{Ctx, Error, LogLevel, Resource, Result, Rule, Severity, Value, Verdict};
use serde::Deserialize;

use crate::account_of;
use crate::cloudtrail::{TRAIL, trail_name};

pub const S3_BUCKET_ACCESS_LOGGING: Rule = Rule::new(
    "AWS.CloudTrail.S3Bucket.AccessLogging",
    "CloudTrail's S3 bucket has server access logging",
    Severity::Medium,
    TRAIL,
    s3_bucket_access_logging,
)
.description(
    "Server access logs of the bucket holding a trail's log files record who read, changed or \
     deleted those files, which CloudTrail itself does not (object-level S3 requests are data \
     events). The trail's bucket must have server access logging configured, delivering to \
     another bucket. A bucket outside this account's inventory cannot be checked here: the \
     rule reports an error naming it.",
)
.remediation(
    "Deliver the bucket's access logs to a separate logging bucket: `aws s3api \
     put-bucket-logging --bucket TRAIL_BUCKET --bucket-logging-status \
     '{\"LoggingEnabled\":{\"TargetBucket\":\"LOG_BUCKET\",\"TargetPrefix\":\"TRAIL_BUCKET/\"}}'`. \
     For a bucket in another account, check it in that account.",
)
.references(&[
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html",
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/best-practices-security.html",
])
.compliance(&["CIS-AWS-7.0:4.4"]);

pub const S3_BUCKET_PUBLIC: Rule = Rule::new(
    "AWS.CloudTrail.S3Bucket.Public",
    "CloudTrail's S3 bucket is not public",
    Severity::High,
    TRAIL,
    s3_bucket_public,
)
.description(
    "A trail's log files reveal the account's resources, principals and activity. The bucket \
     holding them must not be public: no ACL grant of READ, WRITE, WRITE_ACP or FULL_CONTROL to \
     the AllUsers or AuthenticatedUsers group, and no bucket-policy Allow to principal `*` \
     without a condition confining the caller. A public ACL grant does not count when \
     IgnorePublicAcls is on, a public policy does not when RestrictPublicBuckets is on, at the \
     bucket or the account. A bucket outside this account's inventory cannot be checked here: \
     the rule reports an error naming it.",
)
.remediation(
    "Remove the public grants (`aws s3api put-bucket-acl --bucket TRAIL_BUCKET --acl private`) \
     and public statements from the bucket policy, keeping the statements that let \
     cloudtrail.amazonaws.com write with an aws:SourceArn condition; then turn on Block Public \
     Access: `aws s3api put-public-access-block --bucket TRAIL_BUCKET \
     --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,\
     BlockPublicPolicy=true,RestrictPublicBuckets=true`.",
)
.references(&[
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html",
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html",
]);

/// The resource type of the looked-up bucket document.
const BUCKET_TYPE: &str = "AWS.S3.Bucket";

/// The trail's bucket, as found in the account's inventory.
struct TrailBucket {
    /// The trail's name, for messages.
    trail: String,
    /// The bucket's name.
    name: String,
    /// The bucket's document, as JSON text.
    document: String,
}

impl TrailBucket {
    /// The bucket's document as a resource rules can read.
    fn resource(&self) -> Resource<'_> {
        Resource::new(BUCKET_TYPE, &self.document)
    }

    /// An error about the bucket, naming the trail and the bucket.
    fn error(&self, why: impl std::fmt::Display) -> Error {
        Error::new(format!("trail {}: bucket {}: {why}", self.trail, self.name))
    }
}

/// Looks up the trail's bucket; an error when the trail names none or the account's inventory
/// has no such bucket.
fn trail_bucket(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<TrailBucket> {
    let trail = trail_name(res)?.into_owned();
    let name: Option<Cow<'_, str>> = res.collected("S3BucketName")?;
    let Some(name) = name.filter(|n| !n.trim().is_empty()) else {
        return Err(Error::new(format!(
            "trail {trail} names no S3 bucket (S3BucketName is null), so its bucket cannot be \
             checked"
        )));
    };
    let arn = format!("arn:{}:s3:::{name}", partition(res)?);
    let Some(document) = ctx.lookup(&arn)? else {
        return Err(Error::new(format!(
            "trail {trail} delivers to bucket {name} ({arn}), which is not in this account's \
             inventory (it may belong to another account, such as a log archive account): \
             check the bucket in the account that owns it"
        )));
    };
    let bucket = TrailBucket {
        trail,
        name: name.into_owned(),
        document: document.to_string(),
    };
    let kind = document.get("ResourceType").and_then(Value::as_str);
    if kind != Some(BUCKET_TYPE) {
        return Err(bucket.error(format!(
            "the document found under {arn} is of type {}, not {BUCKET_TYPE}",
            kind.unwrap_or("null")
        )));
    }
    Ok(bucket)
}

/// The AWS partition of the trail (`aws`, `aws-cn`, `aws-us-gov`, ...), from its ARN (`Arn`,
/// else the resource id); `aws` when neither is an ARN.
fn partition(res: &Resource<'_>) -> Result<String> {
    let arn: Option<Cow<'_, str>> = res.field("Arn")?;
    let arn = arn.unwrap_or_else(|| res.id());
    Ok(arn
        .strip_prefix("arn:")
        .and_then(|rest| rest.split_once(':'))
        .map(|(partition, _)| partition)
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
        .to_owned())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LoggingEnabled<'a> {
    #[serde(default, borrow)]
    target_bucket: Option<Cow<'a, str>>,
}

fn s3_bucket_access_logging(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    let bucket = trail_bucket(res, ctx)?;
    let doc = bucket.resource();
    doc.require_collected(&["LoggingPolicy"])
        .map_err(|e| bucket.error(e))?;
    if doc.raw_field("LoggingPolicy")?.is_none() {
        return Err(bucket.error("the bucket's document has no LoggingPolicy field"));
    }
    let policy: Option<LoggingEnabled<'_>> =
        doc.field("LoggingPolicy").map_err(|e| bucket.error(e))?;
    let (trail, name) = (&bucket.trail, &bucket.name);
    Ok(match policy {
        None => Verdict::fail(format!(
            "trail {trail} delivers to bucket {name}, which has no server access logging"
        )),
        Some(policy) if policy.target_bucket.as_deref().is_none_or(str::is_empty) => {
            Verdict::fail(format!(
                "trail {trail} delivers to bucket {name}, whose logging configuration has no \
                 target bucket"
            ))
        }
        Some(_) => Verdict::Pass,
    })
}

fn s3_bucket_public(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    let bucket = trail_bucket(res, ctx)?;
    let doc = bucket.resource();
    let account = account_block(&doc, ctx)?;
    let exposure = public_exposure(&doc, account.as_ref())
        .map_err(|e| Error::new(format!("trail {}: {e}", bucket.trail)))?;
    let (trail, name) = (&bucket.trail, &bucket.name);
    if exposure.is_public() {
        return Ok(Verdict::fail(format!(
            "trail {trail} delivers to bucket {name}, which is public: {}",
            exposure.public.join("; ")
        )));
    }
    if !exposure.undecided.is_empty() {
        return Err(bucket.error(format!(
            "cannot tell whether the bucket is public: {}",
            exposure.undecided.join("; ")
        )));
    }
    if !exposure.neutralised.is_empty() {
        ctx.log(
            LogLevel::Debug,
            &format!(
                "trail {trail}: bucket {name} is not public only thanks to its public access \
                 block: {}",
                exposure.neutralised.join("; ")
            ),
        );
    }
    Ok(Verdict::Pass)
}

/// The account's public access block, from the account's `AWS.S3.Meta` document when the
/// inventory has one and its configuration was collected; `None` otherwise (then only the
/// bucket's own switches count).
fn account_block(bucket: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Option<PublicAccessBlock>> {
    let account = account_of(bucket);
    if account.is_empty() {
        return Ok(None);
    }
    let Some(meta) = ctx.lookup(&format!("{account}::AWS.S3.Meta"))? else {
        return Ok(None);
    };
    let text = meta.to_string();
    let meta = Resource::new("AWS.S3.Meta", &text);
    if meta
        .require_collected(&["PublicAccessBlockConfiguration"])
        .is_err()
    {
        return Ok(None);
    }
    meta.field("PublicAccessBlockConfiguration")
        .map_err(|e| Error::new(format!("account {account}'s AWS.S3.Meta: {e}")))
}
