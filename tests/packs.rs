//! The built-in packs, run through the WebAssembly engine: every case of a pack's
//! `tests/cases.json` (the same table its native unit tests use) must get the same verdict from
//! the compiled component as from the rule code compiled natively.

use std::collections::BTreeMap;
use std::sync::Arc;

use palisade::engine::{
    BUILTIN_PACKS, Engine, EvalContext, Limits, Lookup, Pack, RuleSettings, Status, Subject,
    builtin_packs,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const DEFAULT_NOW: &str = "2026-11-27T00:00:00Z";

/// The plugins under `plugins/`, each built in, each with a case table.
const PLUGINS: [&str; 5] = [
    "aws-cloudtrail-kms",
    "aws-ec2",
    "aws-iam",
    "aws-s3",
    "aws-vpc",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    rule: String,
    expect: String,
    message_contains: Option<String>,
    now: Option<String>,
    settings: Option<Map<String, Value>>,
    #[serde(default)]
    lookups: BTreeMap<String, Value>,
    resource: Value,
}

/// A case's `lookups`, served to the pack's `lookup` calls (the account is the case's own).
struct CaseLookups(BTreeMap<String, Value>);

impl Lookup for CaseLookups {
    fn lookup(&self, _account_id: &str, resource_id: &str) -> Option<String> {
        self.0.get(resource_id).map(Value::to_string)
    }
}

fn builtin(engine: &Engine, name: &str) -> Pack {
    let pack = BUILTIN_PACKS
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("{name} is built in"));
    engine
        .load(pack.name, pack.wasm)
        .expect("built-in pack loads")
}

fn cases(plugin: &str) -> Vec<Case> {
    let path = format!(
        "{}/../plugins/{plugin}/tests/cases.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect("cases.json")).expect("cases parse")
}

fn field<'a>(doc: &'a Value, name: &str) -> &'a str {
    doc.get(name).and_then(Value::as_str).unwrap_or_default()
}

#[test]
fn the_builtin_packs_are_the_plugins() {
    let names: Vec<&str> = BUILTIN_PACKS.iter().map(|p| p.name).collect();
    assert_eq!(names, PLUGINS);
}

#[test]
fn aws_cloudtrail_kms_cases_hold_through_the_wasm_engine() {
    cases_hold_through_the_wasm_engine("aws-cloudtrail-kms", 120);
}

#[test]
fn aws_ec2_cases_hold_through_the_wasm_engine() {
    cases_hold_through_the_wasm_engine("aws-ec2", 100);
}

#[test]
fn aws_iam_cases_hold_through_the_wasm_engine() {
    cases_hold_through_the_wasm_engine("aws-iam", 300);
}

#[test]
fn aws_vpc_cases_hold_through_the_wasm_engine() {
    cases_hold_through_the_wasm_engine("aws-vpc", 100);
}

#[test]
fn aws_s3_cases_hold_through_the_wasm_engine() {
    cases_hold_through_the_wasm_engine("aws-s3", 120);
}

/// Every case of `plugin`'s table (at least `at_least` of them) gets its expected verdict
/// from the embedded component, through both its batch and its single-evaluation export.
fn cases_hold_through_the_wasm_engine(plugin: &str, at_least: usize) {
    let engine = Engine::new(Limits::default()).unwrap();
    let pack = builtin(&engine, plugin);
    let cases = cases(plugin);
    assert!(
        cases.len() >= at_least,
        "the case table is the pack's specification"
    );
    let mut mismatches = Vec::new();
    for case in &cases {
        let mut settings = RuleSettings::new();
        if let Some(values) = &case.settings {
            settings.insert(case.rule.clone(), values.clone());
        }
        // The host validates settings before any guest runs: a refusal is the host's `error`.
        let plan = match pack.plan(|r| r.id == case.rule, &settings) {
            Ok(plan) => plan,
            Err(e) if case.expect == "error" => {
                assert!(e.to_string().contains("setting"), "{}: {e}", case.name);
                continue;
            }
            Err(e) => panic!("{}: {e}", case.name),
        };
        let now =
            OffsetDateTime::parse(case.now.as_deref().unwrap_or(DEFAULT_NOW), &Rfc3339).unwrap();
        let text = case.resource.to_string();
        let subject = Subject {
            id: field(&case.resource, "ResourceId"),
            resource_type: field(&case.resource, "ResourceType"),
            account_id: field(&case.resource, "AccountId"),
            document: &text,
        };
        let ctx = EvalContext {
            now,
            lookup: Arc::new(CaseLookups(case.lookups.clone())),
        };
        let verdicts = pack.evaluate(&plan, &ctx, &[subject]);
        // The single-evaluation export must agree with the batch path.
        let rule = pack.rules().iter().position(|r| r.id == case.rule).unwrap();
        let one = pack
            .evaluate_one(&plan, rule, &ctx, &subject)
            .expect("planned and applicable");
        if verdicts.first().map(|v| (v.status, &v.message)) != Some((one.status, &one.message)) {
            mismatches.push(format!(
                "{}: evaluate and evaluate-batch disagree: {verdicts:?} vs {one:?}",
                case.name
            ));
        }
        let [verdict] = verdicts.as_slice() else {
            mismatches.push(format!("{}: {} verdicts", case.name, verdicts.len()));
            continue;
        };
        let message = verdict.message.clone().unwrap_or_default();
        if verdict.status.as_str() != case.expect
            || !case
                .message_contains
                .as_deref()
                .is_none_or(|m| message.contains(m))
        {
            mismatches.push(format!(
                "{}: expected {} ({:?}), got {} ({message:?})",
                case.name,
                case.expect,
                case.message_contains,
                verdict.status.as_str()
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} cases disagree:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn one_batch_of_every_case_matches_case_by_case_evaluation() {
    // The batch path (many resources, every built-in pack and rule, one call per 256) must
    // agree with the single-resource path used above.
    let engine = Engine::new(Limits::default()).unwrap();
    let set = builtin_packs(&engine).unwrap();
    let cases: Vec<Case> = PLUGINS
        .iter()
        .flat_map(|plugin| cases(plugin))
        .filter(|c| c.now.is_none() && c.settings.is_none() && c.lookups.is_empty())
        .collect();
    let texts: Vec<String> = cases.iter().map(|c| c.resource.to_string()).collect();
    let subjects: Vec<Subject<'_>> = cases
        .iter()
        .zip(&texts)
        .map(|(c, text)| Subject {
            id: field(&c.resource, "ResourceId"),
            resource_type: field(&c.resource, "ResourceType"),
            account_id: field(&c.resource, "AccountId"),
            document: text,
        })
        .collect();
    // Every rule, the ones off by default included, so each case's rule runs.
    let plans = set.plan(None, true, &RuleSettings::new()).unwrap();
    let now = OffsetDateTime::parse(DEFAULT_NOW, &Rfc3339).unwrap();
    let verdicts = set.evaluate(&plans, &EvalContext::at(now), &subjects);
    let applicable = |resource_type: &str| {
        set.rules()
            .filter(|(_, rule)| rule.applies_to(resource_type))
            .count()
    };
    assert_eq!(
        verdicts.len(),
        subjects
            .iter()
            .map(|s| applicable(s.resource_type))
            .sum::<usize>(),
        "one verdict per applicable rule of every pack"
    );
    for (index, case) in cases.iter().enumerate() {
        let own: Vec<_> = verdicts
            .iter()
            .filter(|v| v.subject == index && v.rule.id == case.rule)
            .collect();
        let [v] = own.as_slice() else {
            panic!("{}: {} verdicts of its rule", case.name, own.len());
        };
        let expected = match case.expect.as_str() {
            "pass" => Status::Pass,
            "fail" => Status::Fail,
            _ => Status::Error,
        };
        assert_eq!(v.status, expected, "{}: {:?}", case.name, v.message);
    }
}
