//! A resource document as a rule sees it: typed envelope fields plus lazy access to the JSON.
//! The top level is scanned only as far as the fields rules ask for, and a field is parsed only
//! when a rule reads it; every rule evaluating the same resource shares the scan.

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::sync::OnceLock;

use memchr::memmem;

use serde::Deserialize;
use serde_json::Value;

use crate::scan::FieldScanner;

use crate::{Error, Result, deep_get};

/// One resource document under evaluation.
pub struct Resource<'a> {
    /// `ResourceType`, e.g. `AWS.S3.Bucket`.
    pub resource_type: &'a str,
    /// The document as JSON text.
    pub raw: &'a str,
    fields: RefCell<FieldScanner<'a>>,
    parsed: OnceCell<std::result::Result<Value, String>>,
}

impl<'a> Resource<'a> {
    /// A resource of `resource_type` whose document is the JSON text `raw`.
    pub fn new(resource_type: &'a str, raw: &'a str) -> Self {
        Self {
            resource_type,
            raw,
            fields: RefCell::new(FieldScanner::new(raw)),
            parsed: OnceCell::new(),
        }
    }

    /// The JSON text of top-level field `name`, or `None` when the document has no such key.
    pub fn raw_field(&self, name: &str) -> Result<Option<&'a str>> {
        self.fields
            .borrow_mut()
            .find(name)
            .map_err(|e| Error::new(format!("resource document is not a valid JSON object: {e}")))
    }

    /// A top-level string field as text: borrowed when it has no escapes, `""` when absent,
    /// null, not a string, or unreadable. For envelope fields every document carries.
    fn envelope(&self, name: &str) -> Cow<'a, str> {
        match self.raw_field(name) {
            Ok(Some(text)) if text.len() >= 2 && text.starts_with('"') && !text.contains('\\') => {
                Cow::Borrowed(&text[1..text.len() - 1])
            }
            Ok(Some(text)) => serde_json::from_str::<String>(text)
                .map(Cow::Owned)
                .unwrap_or_default(),
            _ => Cow::Borrowed(""),
        }
    }

    /// `ResourceId`: the ARN where AWS has one.
    pub fn id(&self) -> Cow<'a, str> {
        self.envelope("ResourceId")
    }

    /// `AccountId`, 12 digits.
    pub fn account_id(&self) -> Cow<'a, str> {
        self.envelope("AccountId")
    }

    /// `Region`, or `global`.
    pub fn region(&self) -> Cow<'a, str> {
        self.envelope("Region")
    }

    /// Top-level field `name` deserialized as `T`; a missing key reads as JSON `null`, so
    /// `Option<_>` fields see `None` for both. Only this field's text is parsed.
    pub fn field<T: Deserialize<'a>>(&self, name: &str) -> Result<T> {
        let text = self.raw_field(name)?.unwrap_or("null");
        serde_json::from_str(text).map_err(|e| {
            Error::new(format!(
                "field {name} does not have the expected shape: {e}"
            ))
        })
    }

    /// The whole document as a JSON value, parsed on first use and shared by every rule that
    /// evaluates this resource. Prefer [`Resource::field`] on hot paths.
    pub fn doc(&self) -> Result<&Value> {
        self.parsed
            .get_or_init(|| serde_json::from_str(self.raw).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| Error::new(format!("resource document is not valid JSON: {e}")))
    }

    /// The value at `path` (see [`deep_get`]); `Ok(None)` when absent or null.
    pub fn get(&self, path: &[&str]) -> Result<Option<&Value>> {
        Ok(deep_get(self.doc()?, path))
    }

    /// Deserialize the whole document into a typed view that names the fields a rule reads.
    pub fn parse<T: Deserialize<'a>>(&self) -> Result<T> {
        serde_json::from_str(self.raw).map_err(|e| {
            Error::new(format!(
                "resource document does not have the expected shape: {e}"
            ))
        })
    }

    /// Field `field` once the collector is known to have read it (an error when
    /// `CollectionErrors` names it); a missing key reads as `null`. For fields whose `null`
    /// fails the rule, so a document without the field fails too.
    pub fn collected<T: Deserialize<'a>>(&self, field: &str) -> Result<T> {
        self.require_collected(&[field])?;
        self.field(field)
    }

    /// Like [`Resource::collected`], but a document without the key at all is an error: for
    /// fields whose `null` ("none configured") lets a rule pass, so a partial or hand-made
    /// document cannot pass by omission. Collected documents always carry their fields.
    pub fn collected_present<T: Deserialize<'a>>(&self, field: &str) -> Result<T> {
        self.require_collected(&[field])?;
        if self.raw_field(field)?.is_none() {
            return Err(Error::new(format!(
                "the document has no {field} field (it is null when there is none), so the \
                 rule cannot decide"
            )));
        }
        self.field(field)
    }

    /// Fails when the collector recorded an error for any of `fields` (the envelope's
    /// `CollectionErrors` map, field name to reason). A rule calls this before reading a field it
    /// depends on, so "could not read" never looks like "not configured".
    pub fn require_collected(&self, fields: &[&str]) -> Result<()> {
        // Most documents carry no collection errors: a vectorised substring search answers that
        // without scanning the document's structure.
        static FINDER: OnceLock<memmem::Finder<'static>> = OnceLock::new();
        let finder = FINDER.get_or_init(|| memmem::Finder::new(b"\"CollectionErrors\""));
        if finder.find(self.raw.as_bytes()).is_none() {
            return Ok(());
        }
        let Some(raw) = self.raw_field("CollectionErrors")? else {
            return Ok(());
        };
        let errors: Option<serde_json::Map<String, Value>> =
            serde_json::from_str(raw).map_err(|e| {
                Error::new(format!("CollectionErrors is not an object of reasons: {e}"))
            })?;
        for field in fields {
            let why = match errors.as_ref().and_then(|m| m.get(*field)) {
                None | Some(Value::Null) => continue,
                Some(Value::String(why)) => why.clone(),
                Some(why) => why.to_string(),
            };
            return Err(Error::new(format!("{field} was not collected: {why}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(raw: &str) -> Resource<'_> {
        Resource::new("AWS.S3.Bucket", raw)
    }

    #[test]
    fn envelope_fields_come_from_the_document() {
        let r = res(
            r#"{"ResourceId": "arn:aws:s3:::b", "AccountId": "123456789012", "Region": "eu-west-1"}"#,
        );
        assert_eq!(r.id(), "arn:aws:s3:::b");
        assert_eq!(r.account_id(), "123456789012");
        assert_eq!(r.region(), "eu-west-1");
        let escaped = res(r#"{"ResourceId": "a\"b", "Region": null}"#);
        assert_eq!(escaped.id(), "a\"b");
        assert_eq!(escaped.region(), "");
        assert_eq!(res("not json").id(), "");
    }

    #[test]
    fn doc_is_parsed_once_and_reports_bad_json() {
        let r = res(r#"{"Name": "b", "Versioning": null}"#);
        assert_eq!(r.get(&["Name"]).unwrap().unwrap(), "b");
        assert_eq!(r.get(&["Versioning"]).unwrap(), None);
        let bad = res("{not json");
        let err = bad.doc().unwrap_err();
        assert!(err.message().contains("not valid JSON"), "{err}");
        assert!(bad.field::<Option<String>>("Name").is_err());
    }

    #[test]
    fn typed_parse_reads_only_named_fields() {
        #[derive(Deserialize)]
        struct View<'a> {
            #[serde(rename = "Name")]
            name: &'a str,
        }
        let r = res(r#"{"Name": "b", "Huge": [1, 2, {"x": "y"}]}"#);
        assert_eq!(r.parse::<View<'_>>().unwrap().name, "b");
        assert!(res(r#"{"Name": 5}"#).parse::<View<'_>>().is_err());
    }

    #[test]
    fn fields_are_read_one_at_a_time_and_missing_reads_as_null() {
        let r = res(r#"{"Name": "b", "Tags": {"a": "1"}, "Versioning": null, "N": 3}"#);
        assert_eq!(r.field::<Option<&str>>("Name").unwrap(), Some("b"));
        assert_eq!(r.field::<Option<String>>("Versioning").unwrap(), None);
        assert_eq!(r.field::<Option<String>>("Missing").unwrap(), None);
        assert!(r.raw_field("Missing").unwrap().is_none());
        assert_eq!(r.raw_field("Tags").unwrap().unwrap(), r#"{"a": "1"}"#);
        let err = r.field::<String>("N").unwrap_err();
        assert!(
            err.message()
                .starts_with("field N does not have the expected shape"),
            "{err}"
        );
        assert!(res("[1, 2]").field::<Option<String>>("Name").is_err());
    }

    #[test]
    fn collection_errors_block_the_fields_they_name() {
        let r = res(r#"{"Policy": null, "CollectionErrors": {"Policy": "AccessDenied"}}"#);
        let err = r.require_collected(&["Policy"]).unwrap_err();
        assert_eq!(err.message(), "Policy was not collected: AccessDenied");
        assert!(r.require_collected(&["Versioning"]).is_ok());
        // Same answer once the document has been parsed.
        r.doc().unwrap();
        assert!(r.require_collected(&["Versioning", "Policy"]).is_err());
        assert!(
            res(r#"{"CollectionErrors": null}"#)
                .require_collected(&["Policy"])
                .is_ok()
        );
        assert!(
            res(r#"{"Policy": "{}"}"#)
                .require_collected(&["Policy"])
                .is_ok()
        );
    }
}
