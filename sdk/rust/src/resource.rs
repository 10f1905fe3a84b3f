//! A resource document as a rule sees it: typed envelope fields plus lazy access to the JSON.
//! Parsing happens at most once per resource and only when a rule asks for it.

use std::cell::OnceCell;
use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use crate::{Error, Result, deep_get};

/// One resource document under evaluation.
pub struct Resource<'a> {
    /// `ResourceId`: the ARN where AWS has one.
    pub id: &'a str,
    /// `ResourceType`, e.g. `AWS.S3.Bucket`.
    pub resource_type: &'a str,
    /// `AccountId`.
    pub account_id: &'a str,
    /// `Region`, or `global`.
    pub region: &'a str,
    /// The document as JSON text.
    pub raw: &'a str,
    parsed: OnceCell<std::result::Result<Value, String>>,
}

impl<'a> Resource<'a> {
    pub fn new(
        id: &'a str,
        resource_type: &'a str,
        account_id: &'a str,
        region: &'a str,
        raw: &'a str,
    ) -> Self {
        Self {
            id,
            resource_type,
            account_id,
            region,
            raw,
            parsed: OnceCell::new(),
        }
    }

    /// The whole document as a JSON value, parsed on first use and shared by every rule that
    /// evaluates this resource.
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

    /// Deserialize the document into a typed view that names only the fields a rule reads.
    /// Faster than [`Resource::doc`] for a single rule: unknown fields are skipped, not built.
    pub fn parse<T: Deserialize<'a>>(&self) -> Result<T> {
        serde_json::from_str(self.raw).map_err(|e| {
            Error::new(format!(
                "resource document does not have the expected shape: {e}"
            ))
        })
    }

    /// Fails when the collector recorded an error for any of `fields` (the envelope's
    /// `CollectionErrors` map, field name to reason). A rule calls this before reading a field it
    /// depends on, so "could not read" never looks like "not configured".
    pub fn require_collected(&self, fields: &[&str]) -> Result<()> {
        #[derive(Deserialize)]
        struct Envelope<'b> {
            #[serde(rename = "CollectionErrors", borrow, default)]
            errors: Option<HashMap<&'b str, Value>>,
        }
        // Cheap path: most documents carry no errors at all.
        if !self.raw.contains("\"CollectionErrors\"") {
            return Ok(());
        }
        let errors = match self.parsed.get() {
            Some(Ok(doc)) => doc
                .get("CollectionErrors")
                .and_then(Value::as_object)
                .map(|m| {
                    fields
                        .iter()
                        .filter_map(|f| m.get(*f).map(|why| (*f, why.clone())))
                        .collect::<Vec<_>>()
                }),
            _ => serde_json::from_str::<Envelope<'_>>(self.raw)
                .ok()
                .and_then(|e| e.errors)
                .map(|m| {
                    fields
                        .iter()
                        .filter_map(|f| m.get(f).map(|why| (*f, why.clone())))
                        .collect::<Vec<_>>()
                }),
        };
        match errors
            .unwrap_or_default()
            .into_iter()
            .find(|(_, why)| !why.is_null())
        {
            None => Ok(()),
            Some((field, why)) => {
                let why = why
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| why.to_string());
                Err(Error::new(format!("{field} was not collected: {why}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(raw: &str) -> Resource<'_> {
        Resource::new("id", "AWS.S3.Bucket", "123456789012", "us-east-1", raw)
    }

    #[test]
    fn doc_is_parsed_once_and_reports_bad_json() {
        let r = res(r#"{"Name": "b", "Versioning": null}"#);
        assert_eq!(r.get(&["Name"]).unwrap().unwrap(), "b");
        assert_eq!(r.get(&["Versioning"]).unwrap(), None);
        let bad = res("{not json");
        let err = bad.doc().unwrap_err();
        assert!(err.message().contains("not valid JSON"), "{err}");
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
