//! Runs a rule list against WIT-shaped requests: the body of every exported pack function.
//!
//! Packs reach it through [`export_pack!`](crate::export_pack); natively it is how pack tests and
//! the engine benchmark run the very same code path without a WebAssembly boundary. Nothing here
//! may depend on the target: the component imports sit behind [`Host`].

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::time::Timestamp;
use crate::wit::{Outcome, RuleInfo, RuleRequest, Status};
use crate::{Ctx, Host, LogLevel, Resource, Rule, SettingKind, Severity, Verdict, wit};

/// Messages longer than this are cut (at a character boundary): the host keeps 4 KiB.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// `rules.describe`: the metadata of every rule.
pub fn describe(rules: &[Rule]) -> Vec<RuleInfo> {
    rules.iter().map(rule_info).collect()
}

/// `rules.evaluate`: one rule on one document.
pub fn evaluate(
    rules: &[Rule],
    request: &RuleRequest,
    resource_type: &str,
    document: &str,
    host: &dyn Host,
) -> wit::Verdict {
    match prepare(rules, request, resource_type) {
        Ok((rule, settings)) => {
            let ctx = Ctx::new(rule, &settings, host.now(), host);
            run(rule, &Resource::new(resource_type, document), &ctx)
        }
        Err(message) => error_verdict(message),
    }
}

/// A requested rule with its parsed settings, or why it cannot run.
type Prepared<'r> = Result<(&'r Rule, Map<String, Value>), String>;

/// Find the requested rule, check it applies to `resource_type`, and parse its settings.
fn prepare<'r>(rules: &'r [Rule], request: &RuleRequest, resource_type: &str) -> Prepared<'r> {
    let rule = rules
        .iter()
        .find(|r| r.id == request.rule_id)
        .ok_or_else(|| format!("this pack has no rule {}", request.rule_id))?;
    if !rule.applies_to(resource_type) {
        return Err(format!("{} does not apply to {resource_type}", rule.id));
    }
    Ok((rule, parse_settings(&request.settings_json)?))
}

/// `rules.evaluate-batch`: every requested rule on every document (all of `resource_type`).
/// Each document is scanned at most once however many rules read it.
pub fn evaluate_batch<D: AsRef<str>>(
    rules: &[Rule],
    requests: &[RuleRequest],
    resource_type: &str,
    documents: &[D],
    host: &dyn Host,
) -> Vec<Outcome> {
    let now = host.now();
    let prepared: Vec<Prepared<'_>> = requests
        .iter()
        .map(|request| prepare(rules, request, resource_type))
        .collect();
    let mut outcomes = Vec::with_capacity(documents.len() * requests.len());
    for (d_idx, document) in documents.iter().enumerate() {
        let resource = Resource::new(resource_type, document.as_ref());
        for (r_idx, prepared) in prepared.iter().enumerate() {
            let verdict = match prepared {
                Ok((rule, settings)) => run(rule, &resource, &Ctx::new(rule, settings, now, host)),
                Err(message) => error_verdict(message.clone()),
            };
            outcomes.push(Outcome {
                rule: r_idx as u32,
                document: d_idx as u32,
                verdict,
            });
        }
    }
    outcomes
}

fn run(rule: &Rule, resource: &Resource<'_>, ctx: &Ctx<'_>) -> wit::Verdict {
    match (rule.check)(resource, ctx) {
        Ok(Verdict::Pass) => wit::Verdict {
            status: Status::Pass,
            message: None,
        },
        Ok(Verdict::Fail(message)) => wit::Verdict {
            status: Status::Fail,
            message: Some(capped(message)),
        },
        Err(err) => error_verdict(err.message().to_owned()),
    }
}

fn error_verdict(message: String) -> wit::Verdict {
    wit::Verdict {
        status: Status::Error,
        message: Some(capped(message)),
    }
}

fn capped(mut message: String) -> String {
    if message.len() > MAX_MESSAGE_BYTES {
        let mut cut = MAX_MESSAGE_BYTES - 3;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push_str("...");
    }
    message
}

fn parse_settings(json: &str) -> Result<Map<String, Value>, String> {
    if json.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str(json) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("rule settings must be a JSON object".to_owned()),
        Err(e) => Err(format!("rule settings are not valid JSON: {e}")),
    }
}

fn rule_info(rule: &Rule) -> RuleInfo {
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
    RuleInfo {
        id: rule.id.to_owned(),
        title: rule.title.to_owned(),
        severity: match rule.severity {
            Severity::Info => wit::Severity::Info,
            Severity::Low => wit::Severity::Low,
            Severity::Medium => wit::Severity::Medium,
            Severity::High => wit::Severity::High,
            Severity::Critical => wit::Severity::Critical,
        },
        resource_types: strings(rule.resource_types),
        description: rule.description.to_owned(),
        remediation: rule.remediation.to_owned(),
        references: strings(rule.references),
        compliance: strings(rule.compliance),
        settings: rule
            .settings
            .iter()
            .map(|s| wit::Setting {
                name: s.name.to_owned(),
                description: s.description.to_owned(),
                kind: match s.kind {
                    SettingKind::Boolean => wit::SettingKind::Boolean,
                    SettingKind::Integer => wit::SettingKind::Integer,
                    SettingKind::Number => wit::SettingKind::Number,
                    SettingKind::Text => wit::SettingKind::Text,
                    SettingKind::TextList => wit::SettingKind::TextList,
                    SettingKind::TextMap => wit::SettingKind::TextMap,
                },
                default_json: s.default_json.to_owned(),
            })
            .collect(),
        default_enabled: rule.default_enabled,
    }
}

/// The component's imports as a [`Host`]. Only callable inside a pack component.
pub struct ImportedHost;

impl Host for ImportedHost {
    fn now(&self) -> Timestamp {
        let t = crate::bindings::palisade::policy::host::now();
        Timestamp {
            seconds: t.seconds,
            nanoseconds: t.nanoseconds,
        }
    }

    fn lookup(&self, resource_id: &str) -> Option<String> {
        crate::bindings::palisade::policy::host::lookup(resource_id)
    }

    fn log(&self, level: LogLevel, message: &str) {
        use crate::bindings::palisade::policy::host::{LogLevel as L, log};
        let level = match level {
            LogLevel::Trace => L::Trace,
            LogLevel::Debug => L::Debug,
            LogLevel::Info => L::Info,
            LogLevel::Warn => L::Warn,
            LogLevel::Error => L::Error,
        };
        log(level, message);
    }
}

/// A [`Host`] for native runs: a fixed time and a map of resources that lookups may see.
/// Log lines are dropped.
#[derive(Debug, Clone)]
pub struct StaticHost {
    pub now: Timestamp,
    pub resources: HashMap<String, String>,
}

impl StaticHost {
    pub fn at(now: Timestamp) -> Self {
        Self {
            now,
            resources: HashMap::new(),
        }
    }

    /// Make `document` visible to lookups under its `ResourceId`.
    pub fn with_resource(mut self, document: &Value) -> Self {
        if let Some(id) = document.get("ResourceId").and_then(Value::as_str) {
            self.resources.insert(id.to_owned(), document.to_string());
        }
        self
    }
}

impl Host for StaticHost {
    fn now(&self) -> Timestamp {
        self.now
    }

    fn lookup(&self, resource_id: &str) -> Option<String> {
        self.resources.get(resource_id).cloned()
    }

    fn log(&self, _level: LogLevel, _message: &str) {}
}

/// Evaluate `document` with the rule `rule_id` of `rules` at `host`'s time, with default
/// settings, taking the resource type from the document. The one-liner pack unit tests use.
pub fn check(rules: &[Rule], rule_id: &str, document: &Value, host: &dyn Host) -> wit::Verdict {
    let request = RuleRequest {
        rule_id: rule_id.to_owned(),
        settings_json: String::new(),
    };
    let resource_type = document
        .get("ResourceType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    evaluate(rules, &request, resource_type, &document.to_string(), host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, Result, Setting, json};

    fn encryption(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
        match res.get(&["EncryptionRules"])? {
            Some(_) => Ok(Verdict::Pass),
            None => Ok(Verdict::fail("no default encryption")),
        }
    }

    fn age(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
        let max: i64 = ctx.setting("max-age-days")?;
        let created = res
            .get(&["TimeCreated"])?
            .and_then(Value::as_str)
            .ok_or_else(|| Error::new("no TimeCreated"))?;
        let days = crate::time::parse_rfc3339(created)?.age_days(ctx.now());
        Ok(if days > max {
            Verdict::fail(format!("{days} days old"))
        } else {
            Verdict::Pass
        })
    }

    fn peer(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
        let target = res
            .get(&["Peer"])?
            .and_then(Value::as_str)
            .unwrap_or_default();
        Ok(match ctx.lookup(target)? {
            Some(_) => Verdict::Pass,
            None => Verdict::fail(format!("{target} not found")),
        })
    }

    static RULES: &[Rule] = &[
        Rule::new(
            "T.Encryption",
            "enc",
            Severity::High,
            &["T.Bucket"],
            encryption,
        ),
        Rule::new("T.Age", "age", Severity::Low, &["T.Bucket", "T.Key"], age).settings(&[
            Setting::new("max-age-days", SettingKind::Integer, "90", "days"),
        ]),
        Rule::new("T.Peer", "peer", Severity::Info, &["T.Key"], peer),
    ];

    fn doc(id: &str, extra: Value) -> String {
        let mut v = json!({"ResourceId": id, "AccountId": "123456789012", "Region": "us-east-1"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v.to_string()
    }

    fn req(id: &str, settings: &str) -> RuleRequest {
        RuleRequest {
            rule_id: id.into(),
            settings_json: settings.into(),
        }
    }

    fn now() -> Timestamp {
        crate::time::parse_rfc3339("2026-01-01T00:00:00Z").unwrap()
    }

    #[test]
    fn batch_yields_one_outcome_per_rule_and_document() {
        let keys = vec![
            doc(
                "k1",
                json!({"TimeCreated": "2020-01-01T00:00:00Z", "Peer": "b1"}),
            ),
            doc(
                "k2",
                json!({"TimeCreated": "2025-12-01T00:00:00Z", "Peer": "nope"}),
            ),
        ];
        let requests = vec![req("T.Age", ""), req("T.Peer", "{}")];
        let host = StaticHost::at(now()).with_resource(&json!({"ResourceId": "b1"}));
        let got: Vec<(u32, u32, Status)> = evaluate_batch(RULES, &requests, "T.Key", &keys, &host)
            .into_iter()
            .map(|o| (o.rule, o.document, o.verdict.status))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 0, Status::Fail),
                (1, 0, Status::Pass),
                (0, 1, Status::Pass),
                (1, 1, Status::Fail),
            ]
        );
    }

    #[test]
    fn rules_asked_about_the_wrong_type_or_unknown_are_errors() {
        let host = StaticHost::at(now());
        let bucket = doc("b", json!({}));
        let got = evaluate_batch(
            RULES,
            &[req("T.Peer", ""), req("T.Nope", "")],
            "T.Bucket",
            &[&bucket],
            &host,
        );
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|o| o.verdict.status == Status::Error));
        assert!(
            got[0]
                .verdict
                .message
                .as_deref()
                .unwrap()
                .contains("does not apply to T.Bucket")
        );
        assert!(
            got[1]
                .verdict
                .message
                .as_deref()
                .unwrap()
                .contains("no rule T.Nope")
        );
    }

    #[test]
    fn operator_settings_override_defaults_and_bad_settings_are_errors() {
        let key = doc("k1", json!({"TimeCreated": "2025-11-01T00:00:00Z"}));
        let host = StaticHost::at(now());
        let default = evaluate(RULES, &req("T.Age", "{}"), "T.Key", &key, &host);
        assert_eq!(default.status, Status::Pass);
        let strict = evaluate(
            RULES,
            &req("T.Age", r#"{"max-age-days": 30}"#),
            "T.Key",
            &key,
            &host,
        );
        assert_eq!(strict.status, Status::Fail);
        assert_eq!(strict.message.as_deref(), Some("61 days old"));
        let wrong_type = evaluate(
            RULES,
            &req("T.Age", r#"{"max-age-days": "x"}"#),
            "T.Key",
            &key,
            &host,
        );
        assert_eq!(wrong_type.status, Status::Error);
        assert!(wrong_type.message.unwrap().contains("max-age-days"));
        let not_json = evaluate(RULES, &req("T.Age", "[1"), "T.Key", &key, &host);
        assert_eq!(not_json.status, Status::Error);
    }

    #[test]
    fn unknown_rules_and_malformed_documents_are_errors_not_passes() {
        let host = StaticHost::at(now());
        let v = evaluate(RULES, &req("T.Nope", "{}"), "T.Bucket", "{}", &host);
        assert_eq!(v.status, Status::Error);
        let v = evaluate(
            RULES,
            &req("T.Encryption", "{}"),
            "T.Bucket",
            "{\"EncryptionRules\": [",
            &host,
        );
        assert_eq!(v.status, Status::Error);
        assert!(v.message.unwrap().contains("not valid JSON"));
    }

    #[test]
    fn check_reads_the_type_from_the_document() {
        let host = StaticHost::at(now());
        let bucket =
            json!({"ResourceId": "b", "ResourceType": "T.Bucket", "EncryptionRules": null});
        assert_eq!(
            check(RULES, "T.Encryption", &bucket, &host).status,
            Status::Fail
        );
    }

    #[test]
    fn long_messages_are_capped_on_a_char_boundary() {
        let s = capped("é".repeat(5000));
        assert!(s.len() <= MAX_MESSAGE_BYTES);
        assert!(s.ends_with("..."));
    }

    #[test]
    fn describe_carries_every_field() {
        let info = describe(RULES);
        assert_eq!(info.len(), 3);
        assert_eq!(info[1].settings[0].name, "max-age-days");
        assert_eq!(info[1].settings[0].default_json, "90");
        assert_eq!(info[1].resource_types, vec!["T.Bucket", "T.Key"]);
        assert!(info[0].default_enabled);
    }
}
