//! Reading the IAM credential report row that `AWS.IAM.User` and `AWS.IAM.RootUser` documents
//! carry in `CredentialReport`.
//!
//! The resource model turns the report's CSV into an object: flags are booleans, timestamps are
//! RFC 3339, and the report's `N/A` / `no_information` become the zero time
//! `0001-01-01T00:00:00Z`. Here every "no value" form (the zero time, `null`, and the raw
//! placeholders should a collector leave them) reads as `None`, so a rule asks one question:
//! "is there a time?". A row that lacks a column a rule needs is an error, never a pass: a
//! missing column means the row was not built from a real report.

use palisade_sdk::time::{Timestamp, format_rfc3339, parse_rfc3339};
use palisade_sdk::{Error, Resource, Result, Value};
use serde_json::Map;

/// One credential report row.
pub(crate) struct Row {
    /// The report's `UserName`, or the resource's name / id when the row has none; the root
    /// user's row names it `<root_account>`.
    pub who: String,
    columns: Map<String, Value>,
}

/// One of the two access key slots of a row.
pub(crate) struct AccessKey {
    /// 1 or 2.
    pub n: u8,
    pub active: bool,
    /// When the key in this slot was created or last rotated.
    pub last_rotated: Option<Timestamp>,
    pub last_used: Option<Timestamp>,
    /// Whether the row has the last-use columns at all: rules about last use need them, rules
    /// about rotation do not.
    pub last_used_reported: bool,
    pub last_used_region: Option<String>,
    pub last_used_service: Option<String>,
}

impl Row {
    /// The row of `res`, once the collector is known to have read it. `null` is an error: the
    /// report may have been generated before the user existed, so nothing can be decided.
    pub fn of(res: &Resource<'_>) -> Result<Row> {
        res.require_collected(&["CredentialReport"])?;
        let columns: Option<Map<String, Value>> = res.field("CredentialReport")?;
        let columns = columns.ok_or_else(|| {
            Error::new(format!(
                "the credential report row is missing for {} (CredentialReport is null)",
                res.id()
            ))
        })?;
        let who = match columns.get("UserName").and_then(Value::as_str) {
            Some(name) if !name.is_empty() => name.to_owned(),
            _ => {
                let name: Option<String> = res.field("Name")?;
                name.unwrap_or_else(|| res.id().into_owned())
            }
        };
        Ok(Row { who, columns })
    }

    fn column(&self, name: &str) -> Result<&Value> {
        self.columns.get(name).ok_or_else(|| {
            Error::new(format!(
                "the credential report row of {} has no {name} column",
                self.who
            ))
        })
    }

    /// A boolean column; `None` when `null` (the root user's `not_supported` values).
    pub fn flag(&self, name: &str) -> Result<Option<bool>> {
        match self.column(name)? {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(*b)),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Value::String(s) if is_placeholder(s) => Ok(None),
            other => Err(Error::new(format!(
                "column {name} of the credential report row of {} is not a boolean: {other}",
                self.who
            ))),
        }
    }

    /// A boolean column that must be known: `null` is an error.
    pub fn known_flag(&self, name: &str) -> Result<bool> {
        self.flag(name)?.ok_or_else(|| {
            Error::new(format!(
                "column {name} of the credential report row of {} is null, so the rule cannot \
                 decide",
                self.who
            ))
        })
    }

    /// A timestamp column; `None` for the zero time, `null` and the report's placeholders.
    pub fn time(&self, name: &str) -> Result<Option<Timestamp>> {
        match self.column(name)? {
            Value::Null => Ok(None),
            Value::String(s) if is_placeholder(s) => Ok(None),
            Value::String(s) => {
                let t = parse_rfc3339(s).map_err(|e| {
                    Error::new(format!(
                        "column {name} of the credential report row of {} is not a timestamp: {e}",
                        self.who
                    ))
                })?;
                Ok(Some(t).filter(|t| !t.is_zero_time()))
            }
            other => Err(Error::new(format!(
                "column {name} of the credential report row of {} is not a timestamp: {other}",
                self.who
            ))),
        }
    }

    /// A text column; `None` for `null` and the report's placeholders.
    pub fn text(&self, name: &str) -> Result<Option<String>> {
        match self.column(name)? {
            Value::Null => Ok(None),
            Value::String(s) if is_placeholder(s) || s.is_empty() => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other => Err(Error::new(format!(
                "column {name} of the credential report row of {} is not text: {other}",
                self.who
            ))),
        }
    }

    /// Access key slot `n` (1 or 2). `AccessKeyNActive` and `AccessKeyNLastRotated` must be
    /// present; the last-use columns are read when present (see
    /// [`AccessKey::last_used_or_err`]).
    pub fn access_key(&self, n: u8) -> Result<AccessKey> {
        let col = |suffix: &str| format!("AccessKey{n}{suffix}");
        let optional_time = |name: String| match self.columns.contains_key(&name) {
            true => self.time(&name),
            false => Ok(None),
        };
        let optional_text = |name: String| match self.columns.contains_key(&name) {
            true => self.text(&name),
            false => Ok(None),
        };
        Ok(AccessKey {
            n,
            active: self.known_flag(&col("Active"))?,
            last_rotated: self.time(&col("LastRotated"))?,
            last_used: optional_time(col("LastUsedDate"))?,
            last_used_reported: self.columns.contains_key(&col("LastUsedDate")),
            last_used_region: optional_text(col("LastUsedRegion"))?,
            last_used_service: optional_text(col("LastUsedService"))?,
        })
    }

    /// Both access key slots.
    pub fn access_keys(&self) -> Result<[AccessKey; 2]> {
        Ok([self.access_key(1)?, self.access_key(2)?])
    }
}

impl AccessKey {
    /// When the active key in this slot was created or last rotated; an error when unknown,
    /// since an active key always has one.
    pub fn rotated_or_err(&self, who: &str) -> Result<Timestamp> {
        self.last_rotated.ok_or_else(|| {
            Error::new(format!(
                "access key {} of {who} is active but its last rotation time is unknown",
                self.n
            ))
        })
    }

    /// When the key was last used (`None`: never); an error when the row lacks the column.
    pub fn last_used_or_err(&self, who: &str) -> Result<Option<Timestamp>> {
        if !self.last_used_reported {
            return Err(Error::new(format!(
                "the credential report row of {who} has no AccessKey{}LastUsedDate column",
                self.n
            )));
        }
        Ok(self.last_used)
    }

    /// " by s3 in us-east-1" (service and region of the last use), or "" when the report names
    /// neither.
    pub fn where_used(&self) -> String {
        match (&self.last_used_service, &self.last_used_region) {
            (Some(service), Some(region)) => format!(" by {service} in {region}"),
            (Some(service), None) => format!(" by {service}"),
            (None, Some(region)) => format!(" in {region}"),
            (None, None) => String::new(),
        }
    }
}

/// The credential report's "no value" spellings.
fn is_placeholder(s: &str) -> bool {
    matches!(s, "N/A" | "no_information" | "not_supported")
}

/// `2026-08-28T00:00:00Z`, for messages.
pub(crate) fn date(t: Timestamp) -> String {
    format_rfc3339(t)
}
