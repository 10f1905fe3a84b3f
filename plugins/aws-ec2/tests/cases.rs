//! Table-driven tests of the aws-ec2 rules: every case of `cases.json` is a realistic resource
//! document (the resource model's shapes) with the verdict the rule must reach on it.
//!
//! All cases run before anything is asserted, so one run lists every case that disagrees.

use palisade_aws_ec2::RULES;

palisade_sdk::case_table_tests!(RULES);

#[test]
fn every_rule_has_an_error_case() {
    let table = table();
    for rule in RULES {
        assert!(
            table
                .cases()
                .iter()
                .any(|c| c.rule == rule.id && c.expect == palisade_sdk::cases::Expect::Error),
            "{} has no error case",
            rule.id
        );
    }
}

#[test]
fn the_pack_holds_the_catalog_ec2_compute_rules() {
    use palisade_sdk::Severity::{High, Low, Medium};
    const INSTANCE: &[&str] = &["AWS.EC2.Instance"];
    const VOLUME: &[&str] = &["AWS.EC2.Volume"];
    const TAGGED: &[&str] = &[
        "AWS.EC2.Instance",
        "AWS.EC2.VPC",
        "AWS.EC2.SecurityGroup",
        "AWS.IAM.User",
    ];
    let catalog: &[(&str, _, bool, &[&str], &[&str])] = &[
        ("AWS.EC2.Volume.Encryption", High, true, VOLUME, &[]),
        ("AWS.EC2.Volume.Snapshot.Encrypted", High, true, VOLUME, &[]),
        ("AWS.EC2.CDEVolumeEncrypted", Medium, false, VOLUME, &[]),
        ("AWS.AMI.Private", High, true, &["AWS.EC2.AMI"], &[]),
        (
            "AWS.EC2.Instance.DetailedMonitoring",
            Low,
            true,
            INSTANCE,
            &[],
        ),
        ("AWS.EC2.Instance.EBSOptimization", Low, true, INSTANCE, &[]),
        ("AWS.EC2.Instance.ApprovedAMI", High, false, INSTANCE, &[]),
        ("AWS.EC2.Instance.ApprovedHost", Low, false, INSTANCE, &[]),
        (
            "AWS.EC2.Instance.ApprovedInstanceType",
            Low,
            false,
            INSTANCE,
            &[],
        ),
        (
            "AWS.EC2.Instance.ApprovedTenancy",
            Low,
            false,
            INSTANCE,
            &[],
        ),
        ("AWS.EC2.Instance.ApprovedVPC", High, false, INSTANCE, &[]),
        ("AWS.EC2.AMI.ApprovedHost", Low, false, INSTANCE, &[]),
        (
            "AWS.EC2.AMI.ApprovedInstanceType",
            Low,
            false,
            INSTANCE,
            &[],
        ),
        ("AWS.EC2.AMI.ApprovedTenancy", Low, false, INSTANCE, &[]),
        ("AWS.Resource.MinimumTags", Low, false, TAGGED, &[]),
        ("AWS.Resource.RequiredTags", Low, false, TAGGED, &[]),
        (
            "AWS.EC2.InstanceIMDSv2",
            High,
            true,
            INSTANCE,
            &["CIS-AWS-7.0:6.7"],
        ),
        (
            "AWS.EC2.Instance.IAMInstanceProfile",
            Low,
            false,
            INSTANCE,
            &["CIS-AWS-7.0:2.16"],
        ),
        (
            "AWS.EC2.EBSDefaultEncryption",
            High,
            true,
            &["AWS.EC2.Meta"],
            &["CIS-AWS-7.0:6.1.1"],
        ),
    ];
    let rules: Vec<_> = RULES
        .iter()
        .map(|r| {
            (
                r.id,
                r.severity,
                r.default_enabled,
                r.resource_types,
                r.compliance,
            )
        })
        .collect();
    assert_eq!(rules, catalog);
    for rule in RULES {
        for setting in rule.settings {
            use palisade_sdk::SettingKind;
            use serde_json::Value;
            let default: Value = serde_json::from_str(setting.default_json)
                .unwrap_or_else(|e| panic!("{}: default of {}: {e}", rule.id, setting.name));
            // The host refuses a pack whose defaults do not match their kinds.
            let fits = match setting.kind {
                SettingKind::Integer => default.is_i64(),
                SettingKind::TextList => default
                    .as_array()
                    .is_some_and(|items| items.iter().all(Value::is_string)),
                SettingKind::TextMap => default
                    .as_object()
                    .is_some_and(|map| map.values().all(Value::is_string)),
                other => panic!("{}: unexpected setting kind {other:?}", rule.id),
            };
            assert!(
                fits,
                "{}: default of {} does not fit its kind",
                rule.id, setting.name
            );
            assert!(
                setting
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{}: setting {} is not kebab-case",
                rule.id,
                setting.name
            );
            assert!(!setting.description.is_empty(), "{}", setting.name);
        }
    }
}
