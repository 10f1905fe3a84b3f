//! Table-driven tests of the aws-s3 rules: every case of `cases.json` is a realistic resource
//! document (the resource model's shapes) with the verdict the rule must reach on it.
//!
//! All cases run before anything is asserted, so one run lists every case that disagrees.

use std::collections::{BTreeMap, HashSet};

use palisade_aws_s3::RULES;
use palisade_sdk::runtime::{StaticHost, evaluate};
use palisade_sdk::time::parse_rfc3339;
use palisade_sdk::wit::{RuleRequest, Status};
use serde::Deserialize;
use serde_json::Value;

/// The evaluation time of cases that do not set `now`.
const DEFAULT_NOW: &str = "2026-11-27T00:00:00Z";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Expect {
    Pass,
    Fail,
    Error,
}

impl Expect {
    fn matches(self, status: Status) -> bool {
        matches!(
            (self, status),
            (Expect::Pass, Status::Pass)
                | (Expect::Fail, Status::Fail)
                | (Expect::Error, Status::Error)
        )
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    rule: String,
    expect: Expect,
    #[serde(default)]
    message_contains: Option<String>,
    #[serde(default)]
    now: Option<String>,
    #[serde(default)]
    settings: Option<serde_json::Map<String, Value>>,
    resource: Value,
}

fn load_cases() -> Vec<Case> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

/// Runs one case; `Err` says how the outcome differs from the expectation.
fn run(case: &Case) -> Result<(), String> {
    let rule = RULES
        .iter()
        .find(|r| r.id == case.rule)
        .ok_or_else(|| format!("no rule {} in palisade_aws_s3::RULES", case.rule))?;
    let resource_type = case
        .resource
        .get("ResourceType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !rule.applies_to(resource_type) {
        return Err(format!(
            "rule {} does not apply to resource type {resource_type:?}",
            rule.id
        ));
    }
    if case.message_contains.is_some() && case.expect == Expect::Pass {
        return Err("message_contains is only meaningful for fail and error cases".to_owned());
    }
    let now = case.now.as_deref().unwrap_or(DEFAULT_NOW);
    let now = parse_rfc3339(now).map_err(|e| format!("bad `now`: {e}"))?;
    let settings_json = match &case.settings {
        Some(settings) => serde_json::to_string(settings).expect("a JSON map serializes"),
        None => "{}".to_owned(),
    };
    let request = RuleRequest {
        rule_id: case.rule.clone(),
        settings_json,
    };
    let verdict = evaluate(
        RULES,
        &request,
        resource_type,
        &case.resource.to_string(),
        &StaticHost::at(now),
    );
    let message = verdict.message.as_deref();
    if !case.expect.matches(verdict.status) {
        return Err(format!(
            "expected {:?}, got {:?} with message {message:?}",
            case.expect, verdict.status
        ));
    }
    if let Some(needle) = &case.message_contains
        && !message.is_some_and(|m| m.contains(needle.as_str()))
    {
        return Err(format!(
            "expected the message to contain {needle:?}, got {message:?}"
        ));
    }
    Ok(())
}

#[test]
fn every_case_gets_its_expected_verdict() {
    let cases = load_cases();
    assert!(!cases.is_empty(), "cases.json has no cases");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| run(case).err().map(|why| format!("  {}: {why}", case.name)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases disagree:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn case_names_are_unique() {
    let cases = load_cases();
    let mut seen = HashSet::new();
    let duplicates: Vec<&str> = cases
        .iter()
        .map(|case| case.name.as_str())
        .filter(|name| !seen.insert(*name))
        .collect();
    assert!(
        duplicates.is_empty(),
        "duplicate case names: {duplicates:?}"
    );
}

#[test]
fn every_rule_has_a_passing_and_a_failing_case() {
    let cases = load_cases();
    let mut covered: BTreeMap<&str, (usize, usize)> =
        RULES.iter().map(|r| (r.id, (0, 0))).collect();
    for case in &cases {
        if let Some((pass, fail)) = covered.get_mut(case.rule.as_str()) {
            match case.expect {
                Expect::Pass => *pass += 1,
                Expect::Fail => *fail += 1,
                Expect::Error => {}
            }
        }
    }
    let missing: Vec<String> = covered
        .iter()
        .filter(|(_, (pass, fail))| *pass == 0 || *fail == 0)
        .map(|(id, (pass, fail))| format!("{id} ({pass} pass, {fail} fail)"))
        .collect();
    assert!(
        missing.is_empty(),
        "rules without both a pass and a fail case: {missing:?}"
    );
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
