//! Rule metadata as the host keeps it: converted from a pack's `describe`, validated, and able
//! to turn an operator's settings into the JSON a pack receives. No wasmtime calls here.

use std::collections::HashSet;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::bindings::palisade::policy::types as wit;

/// How bad a failure of a rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The severity named `name` (`info` ... `critical`), as stored with findings.
    pub fn parse(name: &str) -> Option<Severity> {
        [
            Severity::Info,
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// The kind of value a rule setting takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SettingKind {
    Boolean,
    Integer,
    Number,
    Text,
    TextList,
    TextMap,
}

impl SettingKind {
    fn accepts(self, value: &Value) -> bool {
        match self {
            SettingKind::Boolean => value.is_boolean(),
            SettingKind::Integer => value.is_i64(),
            SettingKind::Number => value.is_number(),
            SettingKind::Text => value.is_string(),
            SettingKind::TextList => value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string)),
            SettingKind::TextMap => value
                .as_object()
                .is_some_and(|map| map.values().all(Value::is_string)),
        }
    }

    /// This kind as a JSON Schema fragment.
    fn schema(self) -> Value {
        match self {
            SettingKind::Boolean => json!({"type": "boolean"}),
            SettingKind::Integer => json!({"type": "integer"}),
            SettingKind::Number => json!({"type": "number"}),
            SettingKind::Text => json!({"type": "string"}),
            SettingKind::TextList => json!({"type": "array", "items": {"type": "string"}}),
            SettingKind::TextMap => {
                json!({"type": "object", "additionalProperties": {"type": "string"}})
            }
        }
    }
}

/// A rule setting with its parsed default.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingSpec {
    pub name: String,
    pub description: String,
    pub kind: SettingKind,
    pub default: Value,
}

/// Everything the host knows about one rule of a loaded pack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleMeta {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub resource_types: Vec<String>,
    pub description: String,
    pub remediation: String,
    pub references: Vec<String>,
    pub compliance: Vec<String>,
    pub settings: Vec<SettingSpec>,
    pub default_enabled: bool,
}

impl RuleMeta {
    /// Whether the rule evaluates documents of `resource_type`.
    pub fn applies_to(&self, resource_type: &str) -> bool {
        self.resource_types.iter().any(|t| t == resource_type)
    }

    /// The rule's settings as a JSON Schema object, defaults included.
    pub fn settings_schema(&self) -> Value {
        let properties: Map<String, Value> = self
            .settings
            .iter()
            .map(|s| {
                let mut schema = s.kind.schema();
                schema["description"] = Value::String(s.description.clone());
                schema["default"] = s.default.clone();
                (s.name.clone(), schema)
            })
            .collect();
        json!({"type": "object", "properties": properties, "additionalProperties": false})
    }

    /// The settings object a pack receives: the operator's values over the declared defaults.
    /// Unknown names and values of the wrong kind are refused, naming the setting.
    pub fn settings_json(&self, operator: Option<&Map<String, Value>>) -> Result<String, String> {
        let mut merged: Map<String, Value> = self
            .settings
            .iter()
            .map(|s| (s.name.clone(), s.default.clone()))
            .collect();
        for (name, value) in operator.into_iter().flatten() {
            let spec = self
                .settings
                .iter()
                .find(|s| &s.name == name)
                .ok_or_else(|| format!("unknown setting `{name}`"))?;
            if !spec.kind.accepts(value) {
                return Err(format!(
                    "setting `{name}` must be {}, got {value}",
                    kind_name(spec.kind)
                ));
            }
            merged.insert(name.clone(), value.clone());
        }
        Ok(Value::Object(merged).to_string())
    }
}

fn kind_name(kind: SettingKind) -> &'static str {
    match kind {
        SettingKind::Boolean => "a boolean",
        SettingKind::Integer => "an integer",
        SettingKind::Number => "a number",
        SettingKind::Text => "a string",
        SettingKind::TextList => "a list of strings",
        SettingKind::TextMap => "an object of strings",
    }
}

/// Convert and validate what `describe` returned. Any problem rejects the whole pack: a pack
/// with one malformed rule is a broken build, not something to half-load.
pub(crate) fn from_describe(
    infos: Vec<wit::RuleInfo>,
    max_rules: usize,
) -> Result<Vec<RuleMeta>, String> {
    if infos.is_empty() {
        return Err("the pack describes no rules".into());
    }
    if infos.len() > max_rules {
        return Err(format!(
            "the pack describes {} rules, more than the limit of {max_rules}",
            infos.len()
        ));
    }
    let mut seen = HashSet::new();
    infos
        .into_iter()
        .map(|info| {
            let id = info.id.clone();
            if !seen.insert(id.clone()) {
                return Err(format!("rule id {id} is declared twice"));
            }
            convert(info).map_err(|e| format!("rule {id:?}: {e}"))
        })
        .collect()
}

fn convert(info: wit::RuleInfo) -> Result<RuleMeta, String> {
    if !valid_id(&info.id) {
        return Err("ids are 1-128 characters of letters, digits, `.`, `_` and `-`".into());
    }
    if info.title.trim().is_empty() {
        return Err("the title is empty".into());
    }
    if info.resource_types.is_empty() || info.resource_types.iter().any(|t| !valid_id(t)) {
        return Err("resource types must be a non-empty list like [\"AWS.S3.Bucket\"]".into());
    }
    let mut names = HashSet::new();
    let settings = info
        .settings
        .into_iter()
        .map(|s| {
            if s.name.is_empty() || !names.insert(s.name.clone()) {
                return Err(format!("setting name {:?} is empty or repeated", s.name));
            }
            let kind = match s.kind {
                wit::SettingKind::Boolean => SettingKind::Boolean,
                wit::SettingKind::Integer => SettingKind::Integer,
                wit::SettingKind::Number => SettingKind::Number,
                wit::SettingKind::Text => SettingKind::Text,
                wit::SettingKind::TextList => SettingKind::TextList,
                wit::SettingKind::TextMap => SettingKind::TextMap,
            };
            let default: Value = serde_json::from_str(&s.default_json)
                .map_err(|e| format!("setting `{}` has a default that is not JSON: {e}", s.name))?;
            if !kind.accepts(&default) {
                return Err(format!(
                    "setting `{}` has default {default}, which is not {}",
                    s.name,
                    kind_name(kind)
                ));
            }
            Ok(SettingSpec {
                name: s.name,
                description: s.description,
                kind,
                default,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(RuleMeta {
        id: info.id,
        title: info.title,
        severity: match info.severity {
            wit::Severity::Info => Severity::Info,
            wit::Severity::Low => Severity::Low,
            wit::Severity::Medium => Severity::Medium,
            wit::Severity::High => Severity::High,
            wit::Severity::Critical => Severity::Critical,
        },
        resource_types: info.resource_types,
        description: info.description,
        remediation: info.remediation,
        references: info.references,
        compliance: info.compliance,
        settings,
        default_enabled: info.default_enabled,
    })
}

fn valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str) -> wit::RuleInfo {
        wit::RuleInfo {
            id: id.into(),
            title: "t".into(),
            severity: wit::Severity::High,
            resource_types: vec!["AWS.S3.Bucket".into()],
            description: String::new(),
            remediation: String::new(),
            references: vec![],
            compliance: vec![],
            settings: vec![wit::Setting {
                name: "max-age-days".into(),
                description: "days".into(),
                kind: wit::SettingKind::Integer,
                default_json: "90".into(),
            }],
            default_enabled: true,
        }
    }

    #[test]
    fn settings_merge_over_defaults_and_refuse_bad_values() {
        let rules = from_describe(vec![info("AWS.X")], 10).unwrap();
        let rule = &rules[0];
        assert_eq!(rule.settings_json(None).unwrap(), r#"{"max-age-days":90}"#);
        let ops: Map<String, Value> = serde_json::from_str(r#"{"max-age-days": 30}"#).unwrap();
        assert_eq!(
            rule.settings_json(Some(&ops)).unwrap(),
            r#"{"max-age-days":30}"#
        );
        let bad: Map<String, Value> = serde_json::from_str(r#"{"max-age-days": "30"}"#).unwrap();
        assert_eq!(
            rule.settings_json(Some(&bad)).unwrap_err(),
            "setting `max-age-days` must be an integer, got \"30\""
        );
        let unknown: Map<String, Value> = serde_json::from_str(r#"{"days": 1}"#).unwrap();
        assert!(
            rule.settings_json(Some(&unknown))
                .unwrap_err()
                .contains("unknown setting")
        );
        let schema = rule.settings_schema();
        assert_eq!(schema["properties"]["max-age-days"]["type"], "integer");
        assert_eq!(schema["properties"]["max-age-days"]["default"], 90);
    }

    #[test]
    fn malformed_metadata_rejects_the_pack() {
        assert!(from_describe(vec![], 10).unwrap_err().contains("no rules"));
        assert!(
            from_describe(vec![info("A"), info("A")], 10)
                .unwrap_err()
                .contains("twice")
        );
        assert!(from_describe(vec![info("bad id!")], 10).is_err());
        let mut no_types = info("A");
        no_types.resource_types.clear();
        assert!(from_describe(vec![no_types], 10).is_err());
        let mut bad_default = info("A");
        bad_default.settings[0].default_json = "\"ninety\"".into();
        assert!(
            from_describe(vec![bad_default], 10)
                .unwrap_err()
                .contains("not an integer")
        );
        assert!(
            from_describe(vec![info("A"), info("B")], 1)
                .unwrap_err()
                .contains("limit")
        );
    }
}
