//! Compliance frameworks and reports: the controls of a framework (CIS AWS Foundations v7.0,
//! embedded from `cis_aws_7.0.tsv`), and a report of each control's status built from the
//! serving rules' compliance tags and the stored findings. Rendering is `render.rs`'s; the
//! finding exports other tools read (OCSF, SARIF) are `export.rs`'s. Nothing here reads the
//! store or talks HTTP: callers hand in rules and findings.

pub mod export;
pub mod render;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use time::OffsetDateTime;

use crate::registry::RuleInfo;
use crate::store::{FindingRecord, FindingStatus};

/// A compliance framework the report command knows.
#[derive(Debug)]
pub struct Framework {
    /// What `--framework` takes, e.g. `cis-aws-7.0`.
    pub id: &'static str,
    /// The prefix rules use in their compliance tags, e.g. `CIS-AWS-7.0` in `CIS-AWS-7.0:2.12`.
    pub tag: &'static str,
    pub title: &'static str,
    controls: &'static str,
}

/// The frameworks reports can be made for.
pub const FRAMEWORKS: &[Framework] = &[Framework {
    id: "cis-aws-7.0",
    tag: "CIS-AWS-7.0",
    title: "CIS Amazon Web Services Foundations Benchmark v7.0",
    controls: include_str!("cis_aws_7.0.tsv"),
}];

/// One control of a framework.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Control {
    pub id: String,
    /// The chapter it belongs to, e.g. `2 Identity and Access Management`.
    pub section: String,
    /// The profile, e.g. `Level 1`.
    pub level: String,
    /// Whether the benchmark calls its assessment automated (else manual).
    pub automated: bool,
    pub title: String,
}

impl Framework {
    /// The framework named `id` (case-insensitive).
    pub fn find(id: &str) -> Option<&'static Framework> {
        FRAMEWORKS.iter().find(|f| f.id.eq_ignore_ascii_case(id))
    }

    /// Its controls, in the benchmark's order.
    pub fn controls(&self) -> Vec<Control> {
        self.controls
            .lines()
            .skip(1)
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let mut cells = line.split('\t');
                let mut next = || cells.next().unwrap_or_default().trim().to_owned();
                let (id, section, level, assessment, title) =
                    (next(), next(), next(), next(), next());
                Control {
                    id,
                    section,
                    level,
                    automated: assessment.eq_ignore_ascii_case("automated"),
                    title,
                }
            })
            .collect()
    }

    /// The control ids `rule` implements in this framework.
    fn controls_of<'r>(&self, rule: &'r RuleInfo) -> impl Iterator<Item = &'r str> {
        rule.compliance.iter().filter_map(|tag| {
            let (framework, control) = tag.split_once(':')?;
            framework.eq_ignore_ascii_case(self.tag).then_some(control)
        })
    }
}

/// Where a control stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlStatus {
    /// Some resource fails a rule implementing the control.
    Fail,
    /// No failure, but some rule could not decide on some resource: not shown compliant.
    Error,
    /// Every evaluated resource passes (suppressed failures count as accepted).
    Pass,
    /// Rules implement the control, but no resource they apply to has been evaluated.
    NoData,
    /// The benchmark assesses it by hand and no rule implements it.
    Manual,
    /// Automated in the benchmark, but no enabled rule implements it.
    NotCovered,
}

impl ControlStatus {
    pub const ALL: [ControlStatus; 6] = [
        ControlStatus::Pass,
        ControlStatus::Fail,
        ControlStatus::Error,
        ControlStatus::NoData,
        ControlStatus::Manual,
        ControlStatus::NotCovered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ControlStatus::Pass => "pass",
            ControlStatus::Fail => "fail",
            ControlStatus::Error => "error",
            ControlStatus::NoData => "no_data",
            ControlStatus::Manual => "manual",
            ControlStatus::NotCovered => "not_covered",
        }
    }

    /// For people: `not covered` rather than `not_covered`.
    pub fn label(self) -> &'static str {
        match self {
            ControlStatus::NoData => "no data",
            ControlStatus::NotCovered => "not covered",
            other => other.as_str(),
        }
    }
}

/// Resources by their worst verdict among a control's rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
    pub suppressed: usize,
}

impl Counts {
    pub fn total(&self) -> usize {
        self.pass + self.fail + self.error + self.suppressed
    }
}

/// One failing (or undecided) verdict behind a control's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offender {
    pub rule_id: String,
    pub resource_id: String,
    pub resource_type: String,
    pub account_id: String,
    pub region: String,
    pub severity: String,
    pub status: FindingStatus,
    pub message: Option<String>,
}

/// A control's line in a report.
#[derive(Debug, Clone, Serialize)]
pub struct ControlResult {
    #[serde(flatten)]
    pub control: Control,
    pub status: ControlStatus,
    /// The enabled rules implementing it.
    pub rules: Vec<String>,
    /// Rules implementing it that are switched off (they do not count).
    pub disabled_rules: Vec<String>,
    /// Resources evaluated, by their worst verdict.
    pub resources: Counts,
    /// The failing and erroring verdicts, worst severity first.
    pub offenders: Vec<Offender>,
}

/// A compliance report: every control of a framework with its status.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub framework: &'static str,
    pub title: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
    /// The accounts covered (12-digit ids).
    pub accounts: Vec<String>,
    /// Controls by status.
    pub summary: BTreeMap<ControlStatus, usize>,
    pub controls: Vec<ControlResult>,
}

impl Report {
    /// The report of `framework` over `findings` (the open findings of the accounts covered),
    /// judged by the serving `rules`.
    pub fn build(
        framework: &'static Framework,
        rules: &[RuleInfo],
        findings: &[FindingRecord],
        accounts: Vec<String>,
        generated_at: OffsetDateTime,
    ) -> Report {
        // Control id → (enabled rules, disabled rules).
        let mut mapped: BTreeMap<&str, (Vec<&RuleInfo>, Vec<&RuleInfo>)> = BTreeMap::new();
        for rule in rules {
            for control in framework.controls_of(rule) {
                let entry = mapped.entry(control).or_default();
                if rule.enabled {
                    entry.0.push(rule);
                } else {
                    entry.1.push(rule);
                }
            }
        }
        let mut by_rule: BTreeMap<&str, Vec<&FindingRecord>> = BTreeMap::new();
        for finding in findings.iter().filter(|f| f.closed_at.is_none()) {
            by_rule.entry(&finding.rule_id).or_default().push(finding);
        }
        let controls: Vec<ControlResult> = framework
            .controls()
            .into_iter()
            .map(|control| {
                let (enabled, disabled) = mapped
                    .get(control.id.as_str())
                    .map(|(e, d)| (e.as_slice(), d.as_slice()))
                    .unwrap_or_default();
                let findings: Vec<&FindingRecord> = enabled
                    .iter()
                    .flat_map(|r| by_rule.get(r.id.as_str()).into_iter().flatten())
                    .copied()
                    .collect();
                judge(control, enabled, disabled, &findings)
            })
            .collect();
        let mut summary: BTreeMap<ControlStatus, usize> =
            ControlStatus::ALL.iter().map(|s| (*s, 0)).collect();
        for c in &controls {
            *summary.entry(c.status).or_default() += 1;
        }
        Report {
            framework: framework.id,
            title: framework.title,
            generated_at,
            accounts,
            summary,
            controls,
        }
    }
}

/// A control's status from the findings of its enabled rules.
fn judge(
    control: Control,
    enabled: &[&RuleInfo],
    disabled: &[&RuleInfo],
    findings: &[&FindingRecord],
) -> ControlResult {
    // Each resource counts once, at its worst verdict among the control's rules.
    let mut worst: BTreeMap<&str, FindingStatus> = BTreeMap::new();
    for f in findings {
        let rank = |s: FindingStatus| match s {
            FindingStatus::Fail => 3,
            FindingStatus::Error => 2,
            FindingStatus::Suppressed => 1,
            FindingStatus::Pass => 0,
        };
        let slot = worst.entry(&f.resource_id).or_insert(f.status);
        if rank(f.status) > rank(*slot) {
            *slot = f.status;
        }
    }
    let mut resources = Counts::default();
    for status in worst.values() {
        match status {
            FindingStatus::Pass => resources.pass += 1,
            FindingStatus::Fail => resources.fail += 1,
            FindingStatus::Error => resources.error += 1,
            FindingStatus::Suppressed => resources.suppressed += 1,
        }
    }
    let status = if enabled.is_empty() {
        if control.automated {
            ControlStatus::NotCovered
        } else {
            ControlStatus::Manual
        }
    } else if resources.fail > 0 {
        ControlStatus::Fail
    } else if resources.error > 0 {
        ControlStatus::Error
    } else if resources.total() == 0 {
        ControlStatus::NoData
    } else {
        ControlStatus::Pass
    };
    let mut offenders: Vec<Offender> = findings
        .iter()
        .filter(|f| matches!(f.status, FindingStatus::Fail | FindingStatus::Error))
        .map(|f| Offender {
            rule_id: f.rule_id.clone(),
            resource_id: f.resource_id.clone(),
            resource_type: f.resource_type.clone(),
            account_id: f.account_id.clone(),
            region: f.region.clone(),
            severity: f.severity.clone(),
            status: f.status,
            message: f.message.clone(),
        })
        .collect();
    offenders.sort_by(|a, b| {
        let severity = |o: &Offender| crate::engine::Severity::parse(&o.severity);
        (b.status == FindingStatus::Fail)
            .cmp(&(a.status == FindingStatus::Fail))
            .then(severity(b).cmp(&severity(a)))
            .then(a.rule_id.cmp(&b.rule_id))
            .then(a.resource_id.cmp(&b.resource_id))
    });
    let ids = |rules: &[&RuleInfo]| -> Vec<String> {
        let set: BTreeSet<&str> = rules.iter().map(|r| r.id.as_str()).collect();
        set.into_iter().map(str::to_owned).collect()
    };
    ControlResult {
        control,
        status,
        rules: ids(enabled),
        disabled_rules: ids(disabled),
        resources,
        offenders,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, compliance: &[&str], enabled: bool) -> RuleInfo {
        RuleInfo {
            id: id.into(),
            title: id.into(),
            severity: "high".into(),
            resource_types: vec!["AWS.X".into()],
            description: String::new(),
            remediation: String::new(),
            references: vec![],
            compliance: compliance.iter().map(|c| (*c).to_owned()).collect(),
            module: "m".into(),
            enabled,
            default_enabled: enabled,
            settings: Default::default(),
            settings_schema: serde_json::Value::Null,
            suppressions: 0,
        }
    }

    fn finding(rule: &str, resource: &str, status: FindingStatus) -> FindingRecord {
        FindingRecord {
            rule_id: rule.into(),
            resource_id: resource.into(),
            account_id: "123456789012".into(),
            resource_type: "AWS.X".into(),
            region: "us-east-1".into(),
            status,
            message: Some(format!("{rule} on {resource}")),
            severity: "high".into(),
            first_seen: OffsetDateTime::UNIX_EPOCH,
            last_seen: OffsetDateTime::UNIX_EPOCH,
            status_changed_at: OffsetDateTime::UNIX_EPOCH,
            closed_at: None,
        }
    }

    fn status_of(report: &Report, id: &str) -> ControlStatus {
        report
            .controls
            .iter()
            .find(|c| c.control.id == id)
            .unwrap_or_else(|| panic!("no control {id}"))
            .status
    }

    #[test]
    fn the_cis_controls_load_in_order_with_their_assessment() {
        let cis = Framework::find("CIS-AWS-7.0").expect("known");
        let controls = cis.controls();
        assert_eq!(controls.len(), 70);
        assert_eq!(controls[0].id, "2.1.1");
        assert!(!controls[0].automated);
        let c = controls.iter().find(|c| c.id == "2.12").unwrap();
        assert!(c.automated);
        assert_eq!(c.level, "Level 1");
        assert!(c.title.contains("access keys are rotated"), "{c:?}");
        assert!(Framework::find("nist-800-53").is_none());
    }

    #[test]
    fn statuses_follow_the_worst_verdict_and_the_assessment() {
        let cis = Framework::find("cis-aws-7.0").unwrap();
        let rules = [
            rule("R.Keys", &["CIS-AWS-7.0:2.12"], true),
            rule("R.Unused.A", &["CIS-AWS-7.0:2.11"], true),
            rule("R.Unused.B", &["CIS-AWS-7.0:2.11"], true),
            rule("R.Root", &["CIS-AWS-7.0:2.4"], true),
            rule("R.Mfa", &["CIS-AWS-7.0:2.10"], true),
            rule("R.Off", &["CIS-AWS-7.0:2.13"], false),
            rule("R.Hw", &["CIS-AWS-7.0:2.6", "OTHER:1"], true),
        ];
        let findings = [
            finding("R.Keys", "u1", FindingStatus::Pass),
            finding("R.Keys", "u2", FindingStatus::Suppressed),
            // One resource passing one rule and failing the other counts once, failing.
            finding("R.Unused.A", "u1", FindingStatus::Pass),
            finding("R.Unused.B", "u1", FindingStatus::Fail),
            finding("R.Unused.A", "u2", FindingStatus::Pass),
            finding("R.Root", "root", FindingStatus::Error),
            finding("R.Off", "u1", FindingStatus::Fail),
            finding("R.Hw", "root", FindingStatus::Pass),
        ];
        let report = Report::build(
            cis,
            &rules,
            &findings,
            vec!["123456789012".into()],
            OffsetDateTime::UNIX_EPOCH,
        );
        assert_eq!(status_of(&report, "2.12"), ControlStatus::Pass);
        assert_eq!(status_of(&report, "2.11"), ControlStatus::Fail);
        assert_eq!(status_of(&report, "2.4"), ControlStatus::Error);
        assert_eq!(status_of(&report, "2.10"), ControlStatus::NoData);
        // Switched off: as if no rule implemented it.
        assert_eq!(status_of(&report, "2.13"), ControlStatus::NotCovered);
        // A manual control a rule implements is judged like any other.
        assert_eq!(status_of(&report, "2.6"), ControlStatus::Pass);
        assert_eq!(status_of(&report, "2.2"), ControlStatus::Manual);
        let unused = report
            .controls
            .iter()
            .find(|c| c.control.id == "2.11")
            .unwrap();
        assert_eq!(
            unused.resources,
            Counts {
                pass: 1,
                fail: 1,
                error: 0,
                suppressed: 0
            }
        );
        assert_eq!(unused.rules, ["R.Unused.A", "R.Unused.B"]);
        assert_eq!(unused.offenders.len(), 1);
        assert_eq!(unused.offenders[0].resource_id, "u1");
        let keys = report
            .controls
            .iter()
            .find(|c| c.control.id == "2.12")
            .unwrap();
        assert_eq!(keys.resources.suppressed, 1);
        let off = report
            .controls
            .iter()
            .find(|c| c.control.id == "2.13")
            .unwrap();
        assert_eq!(off.disabled_rules, ["R.Off"]);
        assert_eq!(report.summary.values().sum::<usize>(), 70);
        assert_eq!(report.summary[&ControlStatus::Fail], 1);
    }
}
