//! Table-driven tests of the aws-cloudtrail-kms rules: every case of `cases.json` is a realistic
//! resource document (the resource model's shapes) with the verdict the rule must reach on it.
//!
//! All cases run before anything is asserted, so one run lists every case that disagrees.

use palisade_aws_cloudtrail_kms::RULES;
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
fn the_pack_holds_the_catalog_cloudtrail_and_kms_rules() {
    use palisade_sdk::Severity::{High, Low, Medium};
    let catalog = [
        (
            "AWS.CloudTrail.LogValidation",
            Medium,
            true,
            "AWS.CloudTrail",
        ),
        (
            "AWS.CloudTrail.LogEncryption",
            Medium,
            true,
            "AWS.CloudTrail",
        ),
        (
            "AWS.CloudTrail.CloudWatchLogs",
            Low,
            false,
            "AWS.CloudTrail",
        ),
        ("AWS.CMK.KeyRotation", Low, true, "AWS.KMS.Key"),
        ("AWS.KMS.RestrictsUsage", High, true, "AWS.KMS.Key"),
    ];
    let rules: Vec<_> = RULES
        .iter()
        .map(|r| (r.id, r.severity, r.default_enabled, r.resource_types[0]))
        .collect();
    assert_eq!(rules, catalog);
    for rule in RULES {
        assert_eq!(rule.resource_types.len(), 1, "{}", rule.id);
        assert!(
            !rule.description.is_empty() && !rule.remediation.is_empty(),
            "{}",
            rule.id
        );
        assert!(!rule.references.is_empty(), "{}", rule.id);
    }
}
