//! What a rule may ask while it evaluates: the evaluation time, its settings, other resources of
//! the same account, and the log. The [`Host`] trait is the seam between the component imports
//! (in a pack) and plain Rust (in native tests and benchmarks).

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::time::Timestamp;
use crate::{Error, Result, Rule};

/// Log levels, as in the WIT `host` interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// The services a host offers a pack. In a component these are the `palisade:policy/host`
/// imports; natively, anything that implements this trait.
pub trait Host {
    /// The evaluation time.
    fn now(&self) -> Timestamp;
    /// Another resource of the same account, as JSON text.
    fn lookup(&self, resource_id: &str) -> Option<String>;
    /// A line for the host's log.
    fn log(&self, level: LogLevel, message: &str);
}

/// Per-evaluation context handed to a rule's check.
pub struct Ctx<'a> {
    rule: &'a Rule,
    settings: &'a Map<String, Value>,
    now: Timestamp,
    host: &'a dyn Host,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        rule: &'a Rule,
        settings: &'a Map<String, Value>,
        now: Timestamp,
        host: &'a dyn Host,
    ) -> Self {
        Self {
            rule,
            settings,
            now,
            host,
        }
    }

    /// The evaluation time: use it for every age computation, never a clock.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The id of the rule being evaluated.
    pub fn rule_id(&self) -> &'static str {
        self.rule.id
    }

    /// The operator's value for setting `name`, or the rule's declared default.
    pub fn setting<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        let invalid = |e: serde_json::Error| {
            Error::new(format!(
                "setting `{name}` of {} is invalid: {e}",
                self.rule.id
            ))
        };
        if let Some(value) = self.settings.get(name) {
            return T::deserialize(value).map_err(invalid);
        }
        let declared = self
            .rule
            .settings
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| Error::new(format!("{} declares no setting `{name}`", self.rule.id)))?;
        serde_json::from_str(declared.default_json).map_err(invalid)
    }

    /// Another resource of this account by `ResourceId`, parsed; `Ok(None)` when there is none.
    pub fn lookup(&self, resource_id: &str) -> Result<Option<Value>> {
        match self.host.lookup(resource_id) {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                Error::new(format!(
                    "looked-up resource {resource_id} is not valid JSON: {e}"
                ))
            }),
        }
    }

    /// Write to the host log, tagged by the host with this rule and pack.
    pub fn log(&self, level: LogLevel, message: &str) {
        self.host.log(level, message);
    }
}
