//! The case tables packs test their rules with: `tests/cases.json` holds realistic resource
//! documents, each with the rule to run, the verdict it must reach and, optionally, words its
//! message must contain, the evaluation time, the rule's settings and the other resources its
//! lookups find. [`CaseTable`] runs them
//! natively through [`crate::runtime`] and reports every disagreement at once. Nothing here runs
//! inside a pack.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;
use serde_json::Value;

use crate::Rule;
use crate::runtime::{StaticHost, evaluate};
use crate::time::parse_rfc3339;
use crate::wit::{RuleRequest, Status};

/// The evaluation time of cases that do not set `now`.
pub const DEFAULT_NOW: &str = "2026-11-27T00:00:00Z";

/// The verdict a case expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
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

/// One case of a table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    pub rule: String,
    pub expect: Expect,
    #[serde(default)]
    pub message_contains: Option<String>,
    /// RFC 3339; [`DEFAULT_NOW`] when absent.
    #[serde(default)]
    pub now: Option<String>,
    #[serde(default)]
    pub settings: Option<serde_json::Map<String, Value>>,
    /// Other resources of the account the rule may `lookup`, by `ResourceId` (e.g. the bucket a
    /// trail writes to). Each must carry the `ResourceId` it is filed under.
    #[serde(default)]
    pub lookups: BTreeMap<String, Value>,
    pub resource: Value,
}

/// The cases of one pack, with the pack's rules.
pub struct CaseTable {
    rules: &'static [Rule],
    /// Where the cases came from, for messages.
    origin: String,
    cases: Vec<Case>,
}

impl CaseTable {
    /// Reads a case file; panics (this is test code) naming the file when it cannot.
    pub fn load(rules: &'static [Rule], path: &str) -> CaseTable {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        let cases: Vec<Case> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"));
        assert!(!cases.is_empty(), "{path} has no cases");
        CaseTable {
            rules,
            origin: path.to_owned(),
            cases,
        }
    }

    pub fn cases(&self) -> &[Case] {
        &self.cases
    }

    /// Runs every case, then fails listing each one whose outcome differs from its expectation.
    pub fn assert_verdicts(&self) {
        let failures: Vec<String> = self
            .cases
            .iter()
            .filter_map(|case| {
                self.run(case)
                    .err()
                    .map(|why| format!("  {}: {why}", case.name))
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} of {} cases of {} disagree:\n{}",
            failures.len(),
            self.cases.len(),
            self.origin,
            failures.join("\n")
        );
    }

    /// Fails when two cases share a name (a failure report must point at one case).
    pub fn assert_unique_names(&self) {
        let mut seen = HashSet::new();
        let duplicates: Vec<&str> = self
            .cases
            .iter()
            .map(|case| case.name.as_str())
            .filter(|name| !seen.insert(*name))
            .collect();
        assert!(
            duplicates.is_empty(),
            "duplicate case names in {}: {duplicates:?}",
            self.origin
        );
    }

    /// Fails unless every rule of the pack has at least one passing and one failing case.
    pub fn assert_each_rule_passes_and_fails(&self) {
        let mut covered: BTreeMap<&str, (usize, usize)> =
            self.rules.iter().map(|r| (r.id, (0, 0))).collect();
        for case in &self.cases {
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
            "rules without both a pass and a fail case in {}: {missing:?}",
            self.origin
        );
    }

    /// Runs one case; `Err` says how the outcome differs from the expectation.
    fn run(&self, case: &Case) -> Result<(), String> {
        let rule = self
            .rules
            .iter()
            .find(|r| r.id == case.rule)
            .ok_or_else(|| format!("the pack has no rule {}", case.rule))?;
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
        let mut host = StaticHost::at(now);
        for (id, document) in &case.lookups {
            if document.get("ResourceId").and_then(Value::as_str) != Some(id.as_str()) {
                return Err(format!("lookup {id} is filed under another ResourceId"));
            }
            host = host.with_resource(document);
        }
        let verdict = evaluate(
            self.rules,
            &request,
            resource_type,
            &case.resource.to_string(),
            &host,
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
}

/// Fails unless every rule of `rules` has a description, a remediation and a reference: what an
/// operator reads next to a failure.
pub fn assert_documented(rules: &[Rule]) {
    for rule in rules {
        assert!(
            !rule.description.is_empty() && !rule.remediation.is_empty(),
            "{} lacks a description or a remediation",
            rule.id
        );
        assert!(!rule.references.is_empty(), "{} has no reference", rule.id);
    }
}

/// The standard tests of a pack's `tests/cases.json`, for its `tests/cases.rs`: every case gets
/// its expected verdict, case names are unique, every rule of `$rules` has a passing and a
/// failing case, and every rule is documented. Defines `table()` for the pack's own further
/// checks.
#[macro_export]
macro_rules! case_table_tests {
    ($rules:expr) => {
        fn table() -> $crate::cases::CaseTable {
            $crate::cases::CaseTable::load(
                $rules,
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
        fn every_rule_is_documented() {
            $crate::cases::assert_documented($rules);
        }
    };
}
