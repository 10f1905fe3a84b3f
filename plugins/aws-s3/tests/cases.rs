//! Table-driven tests of the aws-s3 rules: every case of `cases.json` is a realistic resource
//! document (the resource model's shapes) with the verdict the rule must reach on it.
//!
//! All cases run before anything is asserted, so one run lists every case that disagrees.

use palisade_aws_s3::RULES;
use palisade_sdk::cases::CaseTable;

fn table() -> CaseTable {
    CaseTable::load(
        RULES,
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases.json"),
    )
}

#[test]
fn every_case_gets_its_expected_verdict() {
    table().assert_verdicts();
}

#[test]
fn case_names_are_unique() {
    table().assert_unique_names();
}

#[test]
fn every_rule_has_a_passing_and_a_failing_case() {
    table().assert_each_rule_passes_and_fails();
}

#[test]
fn the_pack_holds_the_catalog_s3_rules() {
    use palisade_sdk::Severity::{Critical, High, Info, Low, Medium};
    let catalog = [
        ("AWS.S3.Bucket.Encryption", High, true),
        ("AWS.S3.Bucket.PublicAccessBlock", Medium, true),
        ("AWS.S3.Bucket.PublicRead", High, true),
        ("AWS.S3.Bucket.PublicWrite", Critical, true),
        ("AWS.S3.Bucket.Versioning", Low, true),
        ("AWS.S3.Bucket.MFADelete", Low, true),
        ("AWS.S3.Bucket.Logging", Low, true),
        ("AWS.S3.Bucket.LifecycleConfiguration", Low, true),
        ("AWS.S3.Bucket.NameDNSCompliance", Info, true),
        ("AWS.S3.Bucket.SecureAccess", Low, true),
        ("AWS.S3.Bucket.ActionRestrictions", Medium, true),
        ("AWS.S3.Bucket.PrincipalRestrictions", High, true),
        ("AWS.S3.Bucket.PolicyAllowWithNotPrincipal", High, true),
        ("AWS.S3.Bucket.PolicyConfusedDeputyProtection", High, true),
        ("AWS.S3.BucketObjectLockConfigured", Low, false),
    ];
    let rules: Vec<_> = RULES
        .iter()
        .map(|r| (r.id, r.severity, r.default_enabled))
        .collect();
    assert_eq!(rules, catalog);
    for rule in RULES {
        assert_eq!(rule.resource_types, ["AWS.S3.Bucket"], "{}", rule.id);
        assert!(
            !rule.description.is_empty() && !rule.remediation.is_empty(),
            "{}",
            rule.id
        );
        assert!(!rule.references.is_empty(), "{}", rule.id);
    }
}
