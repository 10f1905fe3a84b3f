//! Instance configuration rules: detailed monitoring, EBS optimization, IMDSv2 and an attached
//! IAM instance profile. Instances that are shutting down or terminated pass (see the crate
//! documentation).

use palisade_sdk::{Ctx, Error, Resource, Result, Rule, Severity, Verdict};
use serde::Deserialize;

use crate::{INSTANCE, instance_gone, label, reported};

pub const DETAILED_MONITORING: Rule = Rule::new(
    "AWS.EC2.Instance.DetailedMonitoring",
    "EC2 instance has detailed monitoring enabled",
    Severity::Low,
    INSTANCE,
    detailed_monitoring,
)
.description(
    "Detailed monitoring sends the instance's CloudWatch metrics every minute instead of every \
     five, so alarms and investigations see short spikes. Monitoring state `pending` (enabling \
     in progress) counts as enabled; `disabling` and `disabled` fail. Instances shutting down \
     or terminated pass.",
)
.remediation("Enable it: `aws ec2 monitor-instances --instance-ids INSTANCE`.")
.references(&[
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/manage-detailed-monitoring.html",
]);

pub const EBS_OPTIMIZATION: Rule = Rule::new(
    "AWS.EC2.Instance.EBSOptimization",
    "EC2 instance is EBS-optimized",
    Severity::Low,
    INSTANCE,
    ebs_optimization,
)
.description(
    "An EBS-optimized instance has dedicated bandwidth to its EBS volumes, so storage I/O does \
     not compete with network traffic. Current-generation instance types are EBS-optimized by \
     default whatever `EbsOptimized` says, and some previous-generation types (t1, t2, small \
     m1/m3/c3/r3 sizes, ...) cannot be EBS-optimized at all: both pass. The rule fails only \
     previous-generation types where EBS optimization is an option that is off. Instances \
     shutting down or terminated pass.",
)
.remediation(
    "Stop the instance, enable EBS optimization (`aws ec2 modify-instance-attribute \
     --instance-id INSTANCE --ebs-optimized`) and start it, or move it to a current-generation \
     instance type, which is always EBS-optimized.",
)
.references(&[
    "https://docs.aws.amazon.com/ebs/latest/userguide/ebs-optimized.html",
    "https://docs.aws.amazon.com/ec2/latest/instancetypes/previous-generation-instances.html",
]);

pub const IMDSV2: Rule = Rule::new(
    "AWS.EC2.InstanceIMDSv2",
    "EC2 instance metadata service requires IMDSv2",
    Severity::High,
    INSTANCE,
    imdsv2,
)
.description(
    "IMDSv1 answers plain GET requests, so a server-side request forgery in any application on \
     the instance can read the instance role's credentials. Requiring session tokens (IMDSv2, \
     `HttpTokens` = `required`) blocks that. An instance whose metadata endpoint is disabled \
     altogether passes, and so do instances shutting down or terminated.",
)
.remediation(
    "Check that the instance's software uses IMDSv2 (the CloudWatch metric \
     `MetadataNoToken` stays at zero), then require it: `aws ec2 modify-instance-metadata-options \
     --instance-id INSTANCE --http-tokens required --http-endpoint enabled`. Set the account's \
     instance metadata defaults and AMI `ImdsSupport` to `v2.0` so new instances start that way.",
)
.references(&[
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-IMDS-existing-instances.html",
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-v2-how-it-works.html",
])
.compliance(&["CIS-AWS-7.0:6.7"]);

pub const IAM_INSTANCE_PROFILE: Rule = Rule::new(
    "AWS.EC2.Instance.IAMInstanceProfile",
    "EC2 instance has an IAM instance profile",
    Severity::Low,
    INSTANCE,
    iam_instance_profile,
)
.description(
    "An instance that calls AWS should get short-lived credentials from an instance role, not \
     long-lived access keys stored on its disk. Instances without an instance profile fail; \
     stopped instances are evaluated too, since they start again as they are; instances \
     shutting down or terminated pass. Off by default: \
     instances that never call AWS do not need a role.",
)
.remediation(
    "Create a role with the least privileges the workload needs and attach it: `aws ec2 \
     associate-iam-instance-profile --instance-id INSTANCE --iam-instance-profile Name=PROFILE`; \
     then remove any access keys stored on the instance.",
)
.references(&[
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_switch-role-ec2_instance-profiles.html",
])
.compliance(&["CIS-AWS-7.0:2.16"])
.disabled_by_default();

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Monitoring {
    state: Option<String>,
}

fn detailed_monitoring(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    if instance_gone(res)?.is_some() {
        return Ok(Verdict::Pass);
    }
    let monitoring: Monitoring = reported(res, "Monitoring")?;
    let instance = label(res, "instance")?;
    match monitoring.state.as_deref() {
        Some("enabled" | "pending") => Ok(Verdict::Pass),
        Some(state) => Ok(Verdict::fail(format!(
            "{instance} has detailed monitoring {state} (Monitoring.State; expected enabled)"
        ))),
        None => Err(Error::new(format!(
            "{instance} reports no Monitoring.State, so the rule cannot decide"
        ))),
    }
}

/// Whether an instance type can be EBS-optimized, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EbsSupport {
    /// Always EBS-optimized (every current-generation type).
    Default,
    /// An option that can be turned on (some previous-generation types).
    Optional,
    /// Not available for the type.
    Unsupported,
}

/// Previous-generation types on which EBS optimization is an option (it is on by default for
/// all others that support it).
const EBS_OPTIONAL: &[&str] = &[
    "c1.xlarge",
    "c3.xlarge",
    "c3.2xlarge",
    "c3.4xlarge",
    "g2.2xlarge",
    "i2.xlarge",
    "i2.2xlarge",
    "i2.4xlarge",
    "m1.large",
    "m1.xlarge",
    "m2.2xlarge",
    "m2.4xlarge",
    "m3.xlarge",
    "m3.2xlarge",
    "r3.xlarge",
    "r3.2xlarge",
    "r3.4xlarge",
];

/// Previous-generation families that are not EBS-optimized by default: their sizes not in
/// [`EBS_OPTIONAL`] cannot be EBS-optimized.
const NOT_DEFAULT_FAMILIES: &[&str] = &[
    "c1", "c3", "cc2", "cg1", "cr1", "g2", "hi1", "hs1", "i2", "m1", "m2", "m3", "r3", "t1", "t2",
];

fn ebs_support(instance_type: &str) -> EbsSupport {
    if EBS_OPTIONAL.contains(&instance_type) {
        return EbsSupport::Optional;
    }
    let family = instance_type.split('.').next().unwrap_or_default();
    if NOT_DEFAULT_FAMILIES.contains(&family) {
        EbsSupport::Unsupported
    } else {
        EbsSupport::Default
    }
}

fn ebs_optimization(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    if instance_gone(res)?.is_some() {
        return Ok(Verdict::Pass);
    }
    let optimized: bool = reported(res, "EbsOptimized")?;
    if optimized {
        return Ok(Verdict::Pass);
    }
    let instance_type: String = reported(res, "InstanceType")?;
    Ok(match ebs_support(&instance_type) {
        EbsSupport::Default | EbsSupport::Unsupported => Verdict::Pass,
        EbsSupport::Optional => Verdict::fail(format!(
            "{} is not EBS-optimized: EbsOptimized is false, and its type {instance_type} \
             supports EBS optimization as an option that is off by default",
            label(res, "instance")?
        )),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetadataOptions {
    http_endpoint: Option<String>,
    http_tokens: Option<String>,
}

fn imdsv2(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    if instance_gone(res)?.is_some() {
        return Ok(Verdict::Pass);
    }
    let options: MetadataOptions = reported(res, "MetadataOptions")?;
    if options.http_endpoint.as_deref() == Some("disabled") {
        return Ok(Verdict::Pass);
    }
    let instance = label(res, "instance")?;
    match options.http_tokens.as_deref() {
        Some("required") => Ok(Verdict::Pass),
        Some(tokens) => Ok(Verdict::fail(format!(
            "{instance} allows IMDSv1: MetadataOptions.HttpTokens is {tokens} (expected \
             required) with the metadata endpoint {}",
            options.http_endpoint.as_deref().unwrap_or("enabled")
        ))),
        None => Err(Error::new(format!(
            "{instance} reports no MetadataOptions.HttpTokens, so the rule cannot decide"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IamInstanceProfile {
    arn: Option<String>,
    id: Option<String>,
}

fn iam_instance_profile(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    if instance_gone(res)?.is_some() {
        return Ok(Verdict::Pass);
    }
    let profile: Option<IamInstanceProfile> = res.collected("IamInstanceProfile")?;
    let attached = profile.is_some_and(|p| {
        p.arn.is_some_and(|a| !a.is_empty()) || p.id.is_some_and(|i| !i.is_empty())
    });
    Ok(if attached {
        Verdict::Pass
    } else {
        Verdict::fail(format!(
            "{} has no IAM instance profile (IamInstanceProfile is null)",
            label(res, "instance")?
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ebs_support_by_instance_type() {
        assert_eq!(ebs_support("m5.large"), EbsSupport::Default);
        assert_eq!(ebs_support("c4.large"), EbsSupport::Default);
        assert_eq!(ebs_support("m3.xlarge"), EbsSupport::Optional);
        assert_eq!(ebs_support("m3.medium"), EbsSupport::Unsupported);
        assert_eq!(ebs_support("t2.micro"), EbsSupport::Unsupported);
        assert_eq!(ebs_support("t3.micro"), EbsSupport::Default);
        assert_eq!(ebs_support("m7i-flex.large"), EbsSupport::Default);
    }
}
