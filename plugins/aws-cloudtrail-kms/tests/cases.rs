//! Table-driven tests of the aws-cloudtrail-kms rules: every case of `cases.json` is a realistic
//! resource document (the resource model's shapes) with the verdict the rule must reach on it.
//!
//! All cases run before anything is asserted, so one run lists every case that disagrees.

use palisade_aws_cloudtrail_kms::RULES;

palisade_sdk::case_table_tests!(RULES);

#[test]
fn the_pack_holds_the_catalog_cloudtrail_and_kms_rules() {
    use palisade_sdk::Severity::{High, Low, Medium};
    // Id, severity, default on, resource type, CIS AWS Foundations v7.0 controls.
    let (trail, meta, key) = ("AWS.CloudTrail", "AWS.CloudTrail.Meta", "AWS.KMS.Key");
    let catalog = [
        (
            "AWS.CloudTrail.Enabled",
            High,
            true,
            meta,
            &["CIS-AWS-7.0:4.1"][..],
        ),
        (
            "AWS.CloudTrail.LogValidation",
            Medium,
            true,
            trail,
            &["CIS-AWS-7.0:4.2"],
        ),
        (
            "AWS.CloudTrail.LogEncryption",
            Medium,
            true,
            trail,
            &["CIS-AWS-7.0:4.5"],
        ),
        ("AWS.CloudTrail.CloudWatchLogs", Low, false, trail, &[]),
        (
            "AWS.CloudTrail.S3Bucket.AccessLogging",
            Medium,
            true,
            trail,
            &["CIS-AWS-7.0:4.4"],
        ),
        ("AWS.CloudTrail.S3Bucket.Public", High, true, trail, &[]),
        (
            "AWS.CloudTrail.S3ObjectLogging",
            Medium,
            false,
            meta,
            &["CIS-AWS-7.0:4.8"],
        ),
        (
            "AWS.CloudTrail.S3ObjectReadLogging",
            Medium,
            false,
            meta,
            &["CIS-AWS-7.0:4.9"],
        ),
        ("AWS.CMK.KeyRotation", Low, true, key, &["CIS-AWS-7.0:4.6"]),
        (
            "AWS.KMS.RestrictsUsage",
            High,
            true,
            key,
            &["CIS-AWS-7.0:2.21"],
        ),
    ];
    let rules: Vec<_> = RULES
        .iter()
        .map(|r| {
            (
                r.id,
                r.severity,
                r.default_enabled,
                r.resource_types[0],
                r.compliance,
            )
        })
        .collect();
    assert_eq!(rules, catalog);
    for rule in RULES {
        assert_eq!(rule.resource_types.len(), 1, "{}", rule.id);
    }
}
