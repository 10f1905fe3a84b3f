//! Findings in the formats other security tools read: OCSF 1.3 Compliance Findings (what
//! Security Hub and Prowler users ingest) and SARIF 2.1.0 (code-scanning viewers). Both carry
//! the rule's metadata beside each verdict. Choosing which findings to export is the caller's.

use std::collections::HashMap;

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::engine::Severity;
use crate::registry::RuleInfo;
use crate::store::{FindingRecord, FindingStatus};

/// The OCSF schema version the events follow.
pub const OCSF_VERSION: &str = "1.3.0";
const PRODUCT: &str = "Palisade";
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Milliseconds since the epoch, OCSF's timestamp.
fn millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// OCSF `severity_id` and caption.
fn ocsf_severity(severity: &str) -> (u8, &'static str) {
    match Severity::parse(severity) {
        Some(Severity::Info) => (1, "Informational"),
        Some(Severity::Low) => (2, "Low"),
        Some(Severity::Medium) => (3, "Medium"),
        Some(Severity::High) => (4, "High"),
        Some(Severity::Critical) => (5, "Critical"),
        None => (0, "Unknown"),
    }
}

/// The finding's OCSF workflow status and the compliance status of the check.
fn ocsf_status(status: FindingStatus) -> ((u8, &'static str), (u8, &'static str)) {
    match status {
        FindingStatus::Pass => ((4, "Resolved"), (1, "Pass")),
        FindingStatus::Fail => ((1, "New"), (3, "Fail")),
        FindingStatus::Suppressed => ((3, "Suppressed"), (3, "Fail")),
        FindingStatus::Error => ((1, "New"), (0, "Unknown")),
    }
}

/// One OCSF Compliance Finding (class 2003) per finding, in order.
pub fn ocsf(findings: &[FindingRecord], rules: &[RuleInfo]) -> Vec<Value> {
    let rules: HashMap<&str, &RuleInfo> = rules.iter().map(|r| (r.id.as_str(), r)).collect();
    findings
        .iter()
        .map(|f| {
            let rule = rules.get(f.rule_id.as_str()).copied();
            let (severity_id, severity) = ocsf_severity(&f.severity);
            let ((status_id, status), (compliance_id, compliance)) = ocsf_status(f.status);
            let title = rule.map_or(f.rule_id.as_str(), |r| r.title.as_str());
            let standards: Vec<&str> = rule
                .into_iter()
                .flat_map(|r| &r.compliance)
                .filter_map(|c| c.split_once(':').map(|(framework, _)| framework))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            json!({
                "activity_id": 1,
                "activity_name": "Create",
                "category_uid": 2,
                "category_name": "Findings",
                "class_uid": 2003,
                "class_name": "Compliance Finding",
                "type_uid": 200301,
                "type_name": "Compliance Finding: Create",
                "severity_id": severity_id,
                "severity": severity,
                "status_id": status_id,
                "status": status,
                "status_code": f.status.as_str(),
                "status_detail": f.message,
                "message": f.message.clone().unwrap_or_else(|| title.to_owned()),
                "time": millis(f.last_seen),
                "time_dt": rfc3339(f.last_seen),
                "metadata": {
                    "version": OCSF_VERSION,
                    "event_code": f.rule_id,
                    "uid": finding_uid(f),
                    "product": {"name": PRODUCT, "vendor_name": PRODUCT, "version": VERSION},
                },
                "finding_info": {
                    "uid": finding_uid(f),
                    "title": title,
                    "desc": rule.map(|r| r.description.as_str()),
                    "types": ["Software and Configuration Checks"],
                    "created_time": millis(f.first_seen),
                    "first_seen_time": millis(f.first_seen),
                    "last_seen_time": millis(f.last_seen),
                    "modified_time": millis(f.status_changed_at),
                },
                "compliance": {
                    "control": f.rule_id,
                    "requirements": rule.map(|r| r.compliance.clone()).unwrap_or_default(),
                    "standards": standards,
                    "status_id": compliance_id,
                    "status": compliance,
                },
                "cloud": {
                    "provider": "AWS",
                    "region": f.region,
                    "account": {"uid": f.account_id, "type": "AWS Account", "type_id": 10},
                },
                "resources": [{
                    "uid": f.resource_id,
                    "type": f.resource_type,
                    "region": f.region,
                    "cloud_partition": partition(&f.resource_id),
                    "owner": {"account": {"uid": f.account_id}},
                }],
                "remediation": {
                    "desc": rule.map(|r| r.remediation.as_str()),
                    "references": rule.map(|r| r.references.clone()).unwrap_or_default(),
                },
            })
        })
        .collect()
}

/// A stable id for a rule's verdict on a resource, the same in every export.
fn finding_uid(f: &FindingRecord) -> String {
    format!("palisade:{}:{}", f.rule_id, f.resource_id)
}

/// The ARN partition of a resource id, `aws` for ids that are not ARNs.
fn partition(resource_id: &str) -> &str {
    resource_id
        .strip_prefix("arn:")
        .and_then(|rest| rest.split(':').next())
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
}

/// SARIF's `level` for a failing finding of `severity`.
fn sarif_level(severity: &str) -> &'static str {
    match Severity::parse(severity) {
        Some(Severity::Critical | Severity::High) => "error",
        Some(Severity::Medium) => "warning",
        _ => "note",
    }
}

/// The `security-severity` score code-scanning viewers rank by.
fn security_severity(severity: &str) -> &'static str {
    match Severity::parse(severity) {
        Some(Severity::Critical) => "9.5",
        Some(Severity::High) => "8.0",
        Some(Severity::Medium) => "5.5",
        Some(Severity::Low) => "3.0",
        _ => "0.0",
    }
}

/// One SARIF 2.1.0 log with one run: every rule as a reporting descriptor, each finding that
/// is not a pass as a result (`fail` for failures, `review` for rules that could not decide).
pub fn sarif(findings: &[FindingRecord], rules: &[RuleInfo]) -> Value {
    let index: HashMap<&str, usize> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let descriptors: Vec<Value> = rules
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.id.replace('.', ""),
                "shortDescription": {"text": r.title},
                "fullDescription": {"text": r.description},
                "help": {"text": r.remediation},
                "helpUri": r.references.first(),
                "defaultConfiguration": {"level": sarif_level(&r.severity), "enabled": r.enabled},
                "properties": {
                    "tags": r.compliance,
                    "security-severity": security_severity(&r.severity),
                    "resourceTypes": r.resource_types,
                },
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .filter(|f| matches!(f.status, FindingStatus::Fail | FindingStatus::Error | FindingStatus::Suppressed))
        .map(|f| {
            let (kind, level) = match f.status {
                FindingStatus::Error => ("review", "none"),
                _ => ("fail", sarif_level(&f.severity)),
            };
            let mut result = json!({
                "ruleId": f.rule_id,
                "kind": kind,
                "level": level,
                "message": {"text": f.message.clone().unwrap_or_else(|| format!("{} on {}", f.rule_id, f.resource_id))},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": f.resource_id}},
                    "logicalLocations": [{"fullyQualifiedName": f.resource_id, "kind": "resource"}],
                }],
                "partialFingerprints": {"palisadeFinding/v1": finding_uid(f)},
                "properties": {
                    "accountId": f.account_id,
                    "region": f.region,
                    "resourceType": f.resource_type,
                    "severity": f.severity,
                    "firstSeen": rfc3339(f.first_seen),
                    "lastSeen": rfc3339(f.last_seen),
                },
            });
            if let Some(i) = index.get(f.rule_id.as_str()) {
                result["ruleIndex"] = json!(i);
            }
            if f.status == FindingStatus::Suppressed {
                result["suppressions"] = json!([{"kind": "external", "status": "accepted"}]);
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": PRODUCT,
                "version": VERSION,
                "informationUri": "https://github.com/palisade-sec/palisade",
                "rules": descriptors,
            }},
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> RuleInfo {
        RuleInfo {
            id: "AWS.S3.Bucket.Encryption".into(),
            title: "S3 bucket has default encryption".into(),
            severity: "high".into(),
            resource_types: vec!["AWS.S3.Bucket".into()],
            description: "Unencrypted buckets.".into(),
            remediation: "Turn on default encryption.".into(),
            references: vec!["https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-bucket-encryption.html".into()],
            compliance: vec!["CIS-AWS-7.0:3.1.1".into()],
            module: "aws-s3".into(),
            enabled: true,
            default_enabled: true,
            settings: Default::default(),
            settings_schema: Value::Null,
            suppressions: 0,
        }
    }

    fn finding(resource: &str, status: FindingStatus) -> FindingRecord {
        let t = OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
        FindingRecord {
            rule_id: "AWS.S3.Bucket.Encryption".into(),
            resource_id: format!("arn:aws:s3:::{resource}"),
            account_id: "123456789012".into(),
            resource_type: "AWS.S3.Bucket".into(),
            region: "us-east-1".into(),
            status,
            message: Some(format!("bucket {resource} has no default encryption")),
            severity: "high".into(),
            first_seen: t,
            last_seen: t,
            status_changed_at: t,
            closed_at: None,
        }
    }

    #[test]
    fn ocsf_compliance_findings_carry_class_severity_status_and_resource() {
        let events = ocsf(
            &[
                finding("logs", FindingStatus::Fail),
                finding("site", FindingStatus::Pass),
                finding("odd", FindingStatus::Error),
            ],
            &[rule()],
        );
        let e = &events[0];
        assert_eq!(e["class_uid"], 2003);
        assert_eq!(e["type_uid"], 200301);
        assert_eq!(e["category_uid"], 2);
        assert_eq!(e["severity_id"], 4);
        assert_eq!(e["status"], "New");
        assert_eq!(e["compliance"]["status"], "Fail");
        assert_eq!(e["compliance"]["requirements"][0], "CIS-AWS-7.0:3.1.1");
        assert_eq!(e["compliance"]["standards"][0], "CIS-AWS-7.0");
        assert_eq!(e["resources"][0]["uid"], "arn:aws:s3:::logs");
        assert_eq!(e["resources"][0]["cloud_partition"], "aws");
        assert_eq!(e["cloud"]["account"]["uid"], "123456789012");
        assert_eq!(e["time"], 1_790_000_000_000_i64);
        assert_eq!(e["metadata"]["version"], OCSF_VERSION);
        assert_eq!(
            e["finding_info"]["title"],
            "S3 bucket has default encryption"
        );
        assert_eq!(events[1]["compliance"]["status"], "Pass");
        assert_eq!(events[1]["status"], "Resolved");
        assert_eq!(events[2]["compliance"]["status_id"], 0);
    }

    #[test]
    fn sarif_lists_rules_and_the_findings_that_are_not_passes() {
        let log = sarif(
            &[
                finding("logs", FindingStatus::Fail),
                finding("site", FindingStatus::Pass),
                finding("odd", FindingStatus::Error),
                finding("ok-by-exception", FindingStatus::Suppressed),
            ],
            &[rule()],
        );
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        assert_eq!(
            run["tool"]["driver"]["rules"][0]["id"],
            "AWS.S3.Bucket.Encryption"
        );
        assert_eq!(
            run["tool"]["driver"]["rules"][0]["properties"]["security-severity"],
            "8.0"
        );
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 3, "passes are not results");
        assert_eq!(results[0]["level"], "error");
        assert_eq!(results[0]["kind"], "fail");
        assert_eq!(results[0]["ruleIndex"], 0);
        assert_eq!(
            results[0]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
            "arn:aws:s3:::logs"
        );
        assert_eq!(results[1]["kind"], "review");
        assert_eq!(results[2]["suppressions"][0]["status"], "accepted");
    }
}
