//! Policy test cases: the file format kept beside a pack's rules (`tests/*.yaml|yml|json`),
//! loading and checking it, and running the cases against a loaded pack. Cases can also travel
//! inside the component (`embed.rs`); reports and JUnit XML are in `report.rs`. The format is
//! documented in docs/policy-tests.md; nothing here builds packs or talks HTTP.

mod embed;
mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::engine::{EvalContext, Lookup, Pack, Status, Subject};

pub use embed::{SECTION, embed, embedded};
pub use report::{junit_xml, print_report};

/// What a case expects the rule to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// One test case: a rule, a resource document, and the outcome expected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// Unique within the pack.
    pub name: String,
    /// The rule id.
    pub rule: String,
    /// Defaults to the document's `ResourceType`, else the rule's first resource type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// The resource document.
    pub resource: Value,
    pub expect: Expect,
    /// A substring the verdict's message must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Documents `lookup` finds, by resource id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lookups: BTreeMap<String, Value>,
    /// The evaluation time (RFC 3339); the time of the run when absent.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub now: Option<OffsetDateTime>,
    /// The rule's settings for this case; its defaults fill the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Map<String, Value>>,
}

/// Why test cases could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("test case {0:?} is defined twice")]
    Duplicate(String),
    #[error("test case {name:?}: `resource` must be a JSON object")]
    NotAnObject { name: String },
    #[error("the embedded test cases are unreadable: {0}")]
    Embedded(String),
}

/// Every case in the `*.yaml`, `*.yml` and `*.json` files of `dir` (a pack's `tests/`
/// folder), in file-name order. A missing folder has no cases.
pub fn load_dir(dir: &Path) -> Result<Vec<TestCase>, CaseError> {
    let read_err = |source| CaseError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(read_err(e)),
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.map(|e| e.path()).map_err(read_err))
        .collect::<Result<_, _>>()?;
    files.retain(|p| {
        matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        )
    });
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        cases.extend(load_file(&path)?);
    }
    check(&cases)?;
    Ok(cases)
}

/// The cases of one file.
pub fn load_file(path: &Path) -> Result<Vec<TestCase>, CaseError> {
    let text = std::fs::read_to_string(path).map_err(|source| CaseError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let parse = |message: String| CaseError::Parse {
        path: path.to_path_buf(),
        message,
    };
    // JSON is YAML, but its own parser gives better messages.
    let value: Value = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| parse(e.to_string()))?
    } else {
        serde_yaml::from_str(&text).map_err(|e| parse(e.to_string()))?
    };
    let list = match value {
        Value::Array(list) => list,
        Value::Object(mut map) => match map.remove("cases") {
            Some(Value::Array(list)) if map.is_empty() => list,
            _ => {
                return Err(parse(
                    "expected a list of cases, or an object with only a `cases` list".into(),
                ));
            }
        },
        _ => return Err(parse("expected a list of cases".into())),
    };
    // Case by case, so an error names the case it is in.
    let cases = list
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let name = v.get("name").and_then(Value::as_str).map(str::to_owned);
            serde_json::from_value::<TestCase>(v).map_err(|e| {
                let which = name.map_or(format!("case #{}", i + 1), |n| format!("case {n:?}"));
                parse(format!("{which}: {e}"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    check(&cases)?;
    Ok(cases)
}

fn check(cases: &[TestCase]) -> Result<(), CaseError> {
    let mut names = std::collections::HashSet::new();
    for case in cases {
        if !names.insert(case.name.as_str()) {
            return Err(CaseError::Duplicate(case.name.clone()));
        }
        if !case.resource.is_object() {
            return Err(CaseError::NotAnObject {
                name: case.name.clone(),
            });
        }
    }
    Ok(())
}

/// How one case went.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseResult {
    pub name: String,
    pub rule: String,
    /// The verdict, when the rule ran.
    pub status: Option<Status>,
    pub message: Option<String>,
    /// Why the case failed; `None` when it passed.
    pub failure: Option<String>,
    pub took: Duration,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// Runs every case against `pack`, through the same batch path evaluations use.
pub fn run(pack: &Pack, cases: &[TestCase]) -> Vec<CaseResult> {
    cases.iter().map(|case| run_one(pack, case)).collect()
}

fn run_one(pack: &Pack, case: &TestCase) -> CaseResult {
    let started = Instant::now();
    let result = |status, message, failure: Option<String>| CaseResult {
        name: case.name.clone(),
        rule: case.rule.clone(),
        status,
        message,
        failure,
        took: started.elapsed(),
    };
    let Some(meta) = pack.rules().iter().find(|r| r.id == case.rule) else {
        return result(
            None,
            None,
            Some(format!("the pack has no rule {}", case.rule)),
        );
    };
    let field = |name: &str| case.resource.get(name).and_then(Value::as_str);
    let resource_type = case
        .resource_type
        .as_deref()
        .or_else(|| field("ResourceType"))
        .or_else(|| meta.resource_types.first().map(String::as_str))
        .unwrap_or_default()
        .to_owned();
    if !meta.applies_to(&resource_type) {
        return result(
            None,
            None,
            Some(format!(
                "rule {} does not apply to {resource_type}",
                case.rule
            )),
        );
    }
    let settings = case
        .settings
        .iter()
        .map(|s| (case.rule.clone(), s.clone()))
        .collect();
    let plan = match pack.plan(|r| r.id == case.rule, &settings) {
        Ok(plan) => plan,
        Err(e) => return result(None, None, Some(e.to_string())),
    };
    let document = case.resource.to_string();
    let subject = Subject {
        id: field("ResourceId").unwrap_or("test-resource"),
        resource_type: &resource_type,
        account_id: field("AccountId").unwrap_or("000000000000"),
        document: &document,
    };
    let ctx = EvalContext {
        now: case.now.unwrap_or_else(OffsetDateTime::now_utc),
        lookup: Arc::new(CaseLookup(case.lookups.clone())),
    };
    let Some(verdict) = pack.evaluate(&plan, &ctx, &[subject]).into_iter().next() else {
        return result(None, None, Some("the rule gave no verdict".into()));
    };
    let mut failure = None;
    if !case.expect.matches(verdict.status) {
        failure = Some(format!(
            "expected {}, got {}",
            expect_str(case.expect),
            verdict.status.as_str()
        ));
    } else if let Some(want) = &case.message
        && !verdict
            .message
            .as_deref()
            .unwrap_or("")
            .contains(want.as_str())
    {
        failure = Some(format!(
            "expected a message containing {want:?}, got {:?}",
            verdict.message.as_deref().unwrap_or("")
        ));
    }
    result(Some(verdict.status), verdict.message, failure)
}

fn expect_str(e: Expect) -> &'static str {
    match e {
        Expect::Pass => "pass",
        Expect::Fail => "fail",
        Expect::Error => "error",
    }
}

/// A case's lookups: any account, by resource id.
struct CaseLookup(BTreeMap<String, Value>);

impl Lookup for CaseLookup {
    fn lookup(&self, _account_id: &str, resource_id: &str) -> Option<String> {
        self.0.get(resource_id).map(Value::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).expect("write");
    }

    #[test]
    fn yaml_and_json_files_load_in_name_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            "b.yaml",
            "- name: second\n  rule: R\n  resource: {ResourceId: x}\n  expect: fail\n  message: bad\n  now: 2026-01-02T03:04:05Z\n  lookups: {y: {ResourceId: y}}\n",
        );
        write(
            dir.path(),
            "a.json",
            r#"{"cases": [{"name": "first", "rule": "R", "resource": {}, "expect": "pass", "settings": {"limit": 3}}]}"#,
        );
        write(dir.path(), "notes.txt", "not a case file");
        let cases = load_dir(dir.path()).expect("load");
        assert_eq!(
            cases.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["first", "second"]
        );
        assert_eq!(cases[1].expect, Expect::Fail);
        assert_eq!(
            cases[1].now,
            Some(time::macros::datetime!(2026-01-02 03:04:05 UTC))
        );
        assert!(cases[1].lookups.contains_key("y"));
        assert_eq!(
            cases[0].settings.as_ref().and_then(|s| s.get("limit")),
            Some(&serde_json::json!(3))
        );
        assert!(
            load_dir(&dir.path().join("missing"))
                .expect("no folder")
                .is_empty()
        );
    }

    #[test]
    fn bad_files_are_errors_naming_the_problem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases = [
            (
                "typo.yaml",
                "- name: a\n  rule: R\n  resource: {}\n  expect: pass\n  expected: fail\n",
                "expected",
            ),
            (
                "status.yaml",
                "- name: a\n  rule: R\n  resource: {}\n  expect: maybe\n",
                "maybe",
            ),
            (
                "dup.yaml",
                "- {name: a, rule: R, resource: {}, expect: pass}\n- {name: a, rule: R, resource: {}, expect: fail}\n",
                "twice",
            ),
            (
                "scalar.yaml",
                "- {name: a, rule: R, resource: 3, expect: pass}\n",
                "JSON object",
            ),
            (
                "time.json",
                r#"[{"name": "a", "rule": "R", "resource": {}, "expect": "pass", "now": "yesterday"}]"#,
                "time.json",
            ),
        ];
        for (file, text, needle) in cases {
            let path = dir.path().join(file);
            std::fs::write(&path, text).expect("write");
            let err = load_file(&path).expect_err(file).to_string();
            assert!(err.contains(needle), "{file}: {err}");
        }
    }
}
