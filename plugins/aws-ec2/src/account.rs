//! Per-region account settings of EC2, read from the region's `AWS.EC2.Meta` summary document
//! (`EbsEncryptionByDefault` from ec2:GetEbsEncryptionByDefault, `EbsDefaultKmsKeyId` from
//! ec2:GetEbsDefaultKmsKeyId).

use palisade_sdk::{Ctx, Resource, Result, Rule, Severity, Verdict};

use crate::{EC2_META, reported};

pub const EBS_DEFAULT_ENCRYPTION: Rule = Rule::new(
    "AWS.EC2.EBSDefaultEncryption",
    "EBS encryption by default is enabled in the region",
    Severity::High,
    EC2_META,
    ebs_default_encryption,
)
.description(
    "With EBS encryption by default, every new volume and snapshot copy in the region is \
     encrypted, whoever creates it and however. The setting is per region, so each region \
     (including those the account does not use, where an attacker might) needs it on.",
)
.remediation(
    "In every region: `aws ec2 enable-ebs-encryption-by-default --region REGION`, optionally \
     with a customer managed key (`aws ec2 modify-ebs-default-kms-key-id --kms-key-id KEY`). \
     Existing unencrypted volumes stay unencrypted and must be replaced.",
)
.references(&[
    "https://docs.aws.amazon.com/ebs/latest/userguide/encryption-by-default.html",
    "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_GetEbsEncryptionByDefault.html",
])
.compliance(&["CIS-AWS-7.0:6.1.1"]);

fn ebs_default_encryption(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let enabled: bool = reported(res, "EbsEncryptionByDefault")?;
    Ok(if enabled {
        Verdict::Pass
    } else {
        let region = res.region();
        let region = if region.is_empty() {
            "(unknown)"
        } else {
            &region
        };
        Verdict::fail(format!(
            "EBS encryption by default is disabled in region {region} of account {} \
             (EbsEncryptionByDefault is false)",
            res.account_id()
        ))
    })
}
