//! `Doc`: one resource document under construction, with the common envelope of
//! ../shared/resource-model (ResourceId, ResourceType, AccountId, Region, Arn, Id, Name, Tags,
//! TimeCreated) and `CollectionErrors`, the fields a collector could not read. Absent data is
//! `null`, never a missing key.

use serde_json::{Map, Value};

use super::shape::ToJson;
use crate::aws::AwsError;

/// Envelope keys every document carries, in order.
const ENVELOPE: [&str; 9] = [
    "ResourceId",
    "ResourceType",
    "AccountId",
    "Region",
    "Arn",
    "Id",
    "Name",
    "Tags",
    "TimeCreated",
];

/// The key under which a document lists the fields that could not be collected.
pub const COLLECTION_ERRORS: &str = "CollectionErrors";

/// A resource document being filled in by a collector.
#[derive(Debug, Clone)]
pub struct Doc {
    fields: Map<String, Value>,
    errors: Vec<(String, AwsError)>,
}

impl Doc {
    /// A document with its envelope set and every optional envelope field null.
    pub fn new(resource_type: &str, account_id: &str, region: &str, resource_id: &str) -> Doc {
        let mut fields = Map::new();
        for key in ENVELOPE {
            fields.insert(key.to_owned(), Value::Null);
        }
        fields.insert("ResourceId".into(), resource_id.into());
        fields.insert("ResourceType".into(), resource_type.into());
        fields.insert("AccountId".into(), account_id.into());
        fields.insert("Region".into(), region.into());
        Doc {
            fields,
            errors: Vec::new(),
        }
    }

    /// Sets a field (replacing any earlier value).
    pub fn set(&mut self, key: &str, value: impl ToJson) -> &mut Self {
        self.fields.insert(key.to_owned(), value.to_json());
        self
    }

    /// Records that `field` could not be collected: it becomes null and is listed in
    /// `CollectionErrors`, so rules that need it report `error` rather than `pass`.
    pub fn failed(&mut self, field: &str, err: &AwsError) -> &mut Self {
        self.fields.insert(field.to_owned(), Value::Null);
        self.errors.retain(|(f, _)| f != field);
        self.errors.push((field.to_owned(), err.clone()));
        self
    }

    /// Sets `field` from a call's result: the value on success, null when the service says
    /// there is none (`NotFound`), a collection error otherwise.
    pub fn set_result<T: ToJson>(
        &mut self,
        field: &str,
        result: Result<Option<T>, AwsError>,
    ) -> &mut Self {
        match result {
            Ok(value) => self.set(field, value),
            Err(e) if e.kind == crate::aws::ErrorKind::NotFound => self.set(field, Value::Null),
            Err(e) => self.failed(field, &e),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.get(key)
    }

    pub fn resource_id(&self) -> &str {
        self.str_field("ResourceId")
    }

    pub fn resource_type(&self) -> &str {
        self.str_field("ResourceType")
    }

    pub fn region(&self) -> &str {
        self.str_field("Region")
    }

    /// The envelope fields alone, enough to tell which resource this is (e.g. to match it
    /// against an event's target before its details are read).
    pub fn envelope(&self) -> Value {
        Value::Object(
            ENVELOPE
                .iter()
                .filter_map(|k| Some(((*k).to_owned(), self.fields.get(*k)?.clone())))
                .collect(),
        )
    }

    /// Field name → reason for each field that could not be collected.
    pub fn collection_errors(&self) -> &[(String, AwsError)] {
        &self.errors
    }

    /// The finished document.
    pub fn into_value(self) -> Value {
        let mut fields = self.fields;
        let errors = if self.errors.is_empty() {
            Value::Null
        } else {
            Value::Object(
                self.errors
                    .into_iter()
                    .map(|(field, e)| (field, Value::String(e.to_string())))
                    .collect(),
            )
        };
        fields.insert(COLLECTION_ERRORS.into(), errors);
        Value::Object(fields)
    }

    fn str_field(&self, key: &str) -> &str {
        self.fields.get(key).and_then(Value::as_str).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ErrorKind;
    use serde_json::json;

    #[test]
    fn envelope_is_complete_and_errors_are_listed() {
        let mut doc = Doc::new(
            "AWS.S3.Bucket",
            "123456789012",
            "us-east-1",
            "arn:aws:s3:::b",
        );
        doc.set("Name", "b");
        let denied = AwsError {
            operation: "GetBucketPolicy",
            kind: ErrorKind::AccessDenied,
            code: Some("AccessDenied".into()),
            message: "no".into(),
        };
        doc.set("Policy", "{}").failed("Policy", &denied);
        let v = doc.into_value();
        for key in ENVELOPE {
            assert!(v.get(key).is_some(), "{key} missing");
        }
        assert_eq!(v["Name"], json!("b"));
        assert_eq!(v["Arn"], Value::Null);
        assert_eq!(v["Policy"], Value::Null);
        assert_eq!(
            v["CollectionErrors"],
            json!({"Policy": "GetBucketPolicy: AccessDenied: no"})
        );
    }

    #[test]
    fn not_found_is_null_not_an_error() {
        let mut doc = Doc::new("AWS.S3.Bucket", "1", "r", "id");
        let missing = AwsError {
            operation: "GetBucketPolicy",
            kind: ErrorKind::NotFound,
            code: Some("NoSuchBucketPolicy".into()),
            message: "none".into(),
        };
        doc.set_result::<String>("Policy", Err(missing));
        let v = doc.into_value();
        assert_eq!(v["Policy"], Value::Null);
        assert_eq!(v["CollectionErrors"], Value::Null);
    }
}
