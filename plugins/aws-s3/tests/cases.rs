//! Table-driven tests of the aws-s3 rules: every case of `cases.json` is a realistic resource
//! document (the resource model's shapes) with the verdict the rule must reach on it.
//!
//! All cases run before anything is asserted, so one run lists every case that disagrees.

use palisade_aws_s3::RULES;

palisade_sdk::case_table_tests!(RULES);

#[test]
fn the_pack_holds_the_catalog_s3_rules() {
    use palisade_sdk::Severity::{Critical, High, Info, Low, Medium};
    // Id, severity, default on, resource type, CIS AWS Foundations v7.0 controls.
    let bucket = "AWS.S3.Bucket";
    let catalog = [
        ("AWS.S3.Bucket.Encryption", High, true, bucket, &[][..]),
        (
            "AWS.S3.Bucket.PublicAccessBlock",
            Medium,
            true,
            bucket,
            &["CIS-AWS-7.0:3.1.4"][..],
        ),
        ("AWS.S3.Bucket.PublicRead", High, true, bucket, &[]),
        ("AWS.S3.Bucket.PublicWrite", Critical, true, bucket, &[]),
        ("AWS.S3.Bucket.Versioning", Low, true, bucket, &[]),
        (
            "AWS.S3.Bucket.MFADelete",
            Low,
            true,
            bucket,
            &["CIS-AWS-7.0:3.1.2"],
        ),
        ("AWS.S3.Bucket.Logging", Low, true, bucket, &[]),
        (
            "AWS.S3.Bucket.LifecycleConfiguration",
            Low,
            true,
            bucket,
            &[],
        ),
        ("AWS.S3.Bucket.NameDNSCompliance", Info, true, bucket, &[]),
        (
            "AWS.S3.Bucket.SecureAccess",
            Low,
            true,
            bucket,
            &["CIS-AWS-7.0:3.1.1"],
        ),
        (
            "AWS.S3.Bucket.ActionRestrictions",
            Medium,
            true,
            bucket,
            &[],
        ),
        (
            "AWS.S3.Bucket.PrincipalRestrictions",
            High,
            true,
            bucket,
            &["CIS-AWS-7.0:2.21"],
        ),
        (
            "AWS.S3.Bucket.PolicyAllowWithNotPrincipal",
            High,
            true,
            bucket,
            &[],
        ),
        (
            "AWS.S3.Bucket.PolicyConfusedDeputyProtection",
            High,
            true,
            bucket,
            &[],
        ),
        ("AWS.S3.BucketObjectLockConfigured", Low, false, bucket, &[]),
        (
            "AWS.S3.AccountPublicAccessBlock",
            High,
            true,
            "AWS.S3.Meta",
            &["CIS-AWS-7.0:3.1.4"],
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
