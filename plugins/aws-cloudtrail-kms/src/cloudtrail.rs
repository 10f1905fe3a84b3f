//! CloudTrail trail rules: the trail validates and encrypts its log files, and (off by default)
//! delivers events to CloudWatch Logs and did so within the last day.

use std::borrow::Cow;

use palisade_sdk::time::parse_timestamp_value;
use palisade_sdk::{Ctx, Error, Resource, Result, Rule, Severity, Value, Verdict};

use crate::display_name;

/// The resource type every trail rule applies to.
pub(crate) const TRAIL: &[&str] = &["AWS.CloudTrail"];

pub const LOG_VALIDATION: Rule = Rule::new(
    "AWS.CloudTrail.LogValidation",
    "CloudTrail log file validation is enabled",
    Severity::Medium,
    TRAIL,
    log_validation,
)
.description(
    "With log file validation, CloudTrail writes an hourly digest file signed with SHA-256 and \
     RSA, so a changed, deleted or forged log file can be detected. Without it, whoever can \
     write to the log bucket can rewrite history unnoticed.",
)
.remediation(
    "Turn validation on: `aws cloudtrail update-trail --name NAME \
     --enable-log-file-validation`, then check files with `aws cloudtrail validate-logs`.",
)
.references(&[
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-intro.html",
])
.compliance(&["CIS-AWS-7.0:4.2"]);

pub const LOG_ENCRYPTION: Rule = Rule::new(
    "AWS.CloudTrail.LogEncryption",
    "CloudTrail logs are encrypted with a KMS key",
    Severity::Medium,
    TRAIL,
    log_encryption,
)
.description(
    "By default CloudTrail log files get the bucket's S3 server-side encryption. Encrypting \
     them with a KMS key (SSE-KMS) adds a second permission: reading the logs then needs \
     kms:Decrypt on the key as well as s3:GetObject, and every use of the key is itself logged.",
)
.remediation(
    "Create a customer managed key whose policy lets cloudtrail.amazonaws.com encrypt for this \
     trail, then `aws cloudtrail update-trail --name NAME --kms-key-id KEY_ARN`.",
)
.references(&[
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/encrypting-cloudtrail-log-files-with-aws-kms.html",
])
.compliance(&["CIS-AWS-7.0:4.5"]);

pub const CLOUDWATCH_LOGS: Rule = Rule::new(
    "AWS.CloudTrail.CloudWatchLogs",
    "CloudTrail delivers events to CloudWatch Logs",
    Severity::Low,
    TRAIL,
    cloudwatch_logs,
)
.description(
    "Sending the trail to a CloudWatch Logs group lets metric filters and alarms react to API \
     activity (root logins, policy changes) within minutes. Passes when the trail names a log \
     group and, if its status records a CloudWatch Logs delivery, the latest one is less than a \
     day old.",
)
.remediation(
    "Create a log group and a role CloudTrail can assume to write to it, then `aws cloudtrail \
     update-trail --name NAME --cloud-watch-logs-log-group-arn GROUP_ARN \
     --cloud-watch-logs-role-arn ROLE_ARN`. If deliveries stopped, check the status's \
     LatestCloudWatchLogsDeliveryError and the role's permissions.",
)
.references(&[
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/send-cloudtrail-events-to-cloudwatch-logs.html",
])
.disabled_by_default();

/// Seconds in the window within which the latest CloudWatch Logs delivery counts as recent.
const RECENT_SECONDS: i64 = 24 * 60 * 60;

fn log_validation(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let enabled: Option<bool> = res.collected("LogFileValidationEnabled")?;
    Ok(if enabled == Some(true) {
        Verdict::Pass
    } else {
        Verdict::fail(format!(
            "trail {} does not validate its log files (LogFileValidationEnabled is {})",
            trail_name(res)?,
            shown(enabled)
        ))
    })
}

fn log_encryption(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let key: Option<Cow<'_, str>> = res.collected("KmsKeyId")?;
    Ok(if key.is_some_and(|k| !k.trim().is_empty()) {
        Verdict::Pass
    } else {
        Verdict::fail(format!(
            "trail {} does not encrypt its log files with a KMS key (no KmsKeyId)",
            trail_name(res)?
        ))
    })
}

fn cloudwatch_logs(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    let name = trail_name(res)?;
    let group: Option<Cow<'_, str>> = res.collected("CloudWatchLogsLogGroupArn")?;
    let Some(group) = group.filter(|g| !g.trim().is_empty()) else {
        return Ok(Verdict::fail(format!(
            "trail {name} does not deliver to CloudWatch Logs (no CloudWatchLogsLogGroupArn)"
        )));
    };
    let status: Option<Value> = res.collected("Status")?;
    let Some(delivered) = status
        .as_ref()
        .and_then(|s| s.get("LatestCloudWatchLogsDeliveryTime"))
        .filter(|t| !t.is_null())
    else {
        // The status records no delivery (or there is none yet): the configuration decides.
        return Ok(Verdict::Pass);
    };
    let delivered = parse_timestamp_value(delivered).ok_or_else(|| {
        Error::new(format!(
            "trail {name}: Status.LatestCloudWatchLogsDeliveryTime is not a timestamp: \
             {delivered}"
        ))
    })?;
    if ctx.now().seconds - delivered.seconds <= RECENT_SECONDS {
        return Ok(Verdict::Pass);
    }
    let error = status
        .as_ref()
        .and_then(|s| s.get("LatestCloudWatchLogsDeliveryError"))
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
        .map(|e| format!(" (latest delivery error: {e})"))
        .unwrap_or_default();
    Ok(Verdict::fail(format!(
        "trail {name} last delivered to CloudWatch Logs group {group} at {delivered}, more than \
         a day before {}{error}",
        ctx.now()
    )))
}

/// The trail's name for messages: `Name`, else the resource id (its ARN).
pub(crate) fn trail_name<'a>(res: &Resource<'a>) -> Result<Cow<'a, str>> {
    display_name(res, "Name")
}

/// A boolean field's value for messages: `true`, `false` or `null`.
fn shown(value: Option<bool>) -> String {
    value.map_or_else(|| "null".to_owned(), |v| v.to_string())
}
