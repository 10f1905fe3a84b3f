//! Reading resource documents from files or stdin: one JSON document, a JSON array of them, or
//! JSONL. Every error names the line it happened on.

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::InputError;
use crate::engine::Subject;

/// One resource document with its envelope fields.
#[derive(Debug, Clone)]
pub struct Document {
    pub text: String,
    pub id: String,
    pub resource_type: String,
    pub account_id: String,
}

impl Document {
    pub fn subject(&self) -> Subject<'_> {
        Subject {
            id: &self.id,
            resource_type: &self.resource_type,
            account_id: &self.account_id,
            document: &self.text,
        }
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "ResourceId", borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(rename = "ResourceType", borrow)]
    resource_type: Option<Cow<'a, str>>,
    #[serde(rename = "AccountId", borrow)]
    account_id: Option<Cow<'a, str>>,
}

/// Read `source` (a path, or `-` for stdin).
pub fn read_documents(source: &Path) -> Result<Vec<Document>, InputError> {
    let name = source.display().to_string();
    let mut text = String::new();
    let read = if name == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(source).map(|t| text = t)
    };
    read.map_err(|e| InputError(format!("cannot read {name}: {e}")))?;
    let name = if name == "-" {
        "stdin".to_owned()
    } else {
        name
    };
    parse_documents(&text, &name)
}

/// Parse documents out of `text`; `source` names it in errors.
pub fn parse_documents(text: &str, source: &str) -> Result<Vec<Document>, InputError> {
    let mut docs = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<&RawValue>();
    // Line numbers are counted on from the previous document, not from the start each time.
    let (mut counted_to, mut line) = (0, 1);
    loop {
        let start = stream.byte_offset();
        let raw = match stream.next() {
            None => break,
            Some(Ok(raw)) => raw,
            Some(Err(e)) => {
                return Err(InputError(format!(
                    "{source}: line {}, column {}: invalid JSON: {}",
                    e.line(),
                    e.column(),
                    strip_position(&e.to_string())
                )));
            }
        };
        let at = start + leading_whitespace(&text[start..]);
        line += newlines(&text[counted_to..at]);
        counted_to = at;
        if raw.get().starts_with('[') {
            let items: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(|e| {
                InputError(format!("{source}: line {line}: invalid JSON array: {e}"))
            })?;
            for (i, item) in items.into_iter().enumerate() {
                docs.push(document(
                    item,
                    &format!("{source}: line {line}, array item {}", i + 1),
                )?);
            }
        } else {
            docs.push(document(raw, &format!("{source}: line {line}"))?);
        }
    }
    if docs.is_empty() {
        return Err(InputError(format!("{source}: no resource documents")));
    }
    Ok(docs)
}

fn document(raw: &RawValue, place: &str) -> Result<Document, InputError> {
    if !raw.get().starts_with('{') {
        return Err(InputError(format!(
            "{place}: a resource document must be a JSON object"
        )));
    }
    let envelope: Envelope<'_> = serde_json::from_str(raw.get())
        .map_err(|e| InputError(format!("{place}: envelope fields must be strings: {e}")))?;
    let required = |value: Option<Cow<'_, str>>, field: &str| {
        value
            .filter(|v| !v.is_empty())
            .map(Cow::into_owned)
            .ok_or_else(|| InputError(format!("{place}: the document has no {field}")))
    };
    Ok(Document {
        id: required(envelope.id, "ResourceId")?,
        resource_type: required(envelope.resource_type, "ResourceType")?,
        account_id: envelope.account_id.map(Cow::into_owned).unwrap_or_default(),
        text: raw.get().to_owned(),
    })
}

fn leading_whitespace(s: &str) -> usize {
    s.len() - s.trim_start().len()
}

fn newlines(text: &str) -> usize {
    text.bytes().filter(|b| *b == b'\n').count()
}

/// serde_json appends " at line L column C"; we say it first.
fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUCKET: &str = r#"{"ResourceId": "arn:aws:s3:::b", "ResourceType": "AWS.S3.Bucket", "AccountId": "123456789012", "Region": "us-east-1"}"#;

    #[test]
    fn accepts_one_document_jsonl_and_arrays() {
        assert_eq!(parse_documents(BUCKET, "x").unwrap().len(), 1);
        let pretty = serde_json::to_string_pretty(
            &serde_json::from_str::<serde_json::Value>(BUCKET).unwrap(),
        )
        .unwrap();
        assert_eq!(
            parse_documents(&pretty, "x").unwrap()[0].id,
            "arn:aws:s3:::b"
        );
        let jsonl = format!("{BUCKET}\n\n{BUCKET}\n");
        assert_eq!(parse_documents(&jsonl, "x").unwrap().len(), 2);
        let array = format!("[{BUCKET}, {BUCKET}, {BUCKET}]");
        assert_eq!(parse_documents(&array, "x").unwrap().len(), 3);
    }

    #[test]
    fn errors_name_the_line() {
        let bad = format!("{BUCKET}\n{BUCKET}\n{{\"ResourceId\": \"x\", oops}}\n");
        let err = parse_documents(&bad, "in.jsonl").unwrap_err().0;
        assert!(err.starts_with("in.jsonl: line 3, column"), "{err}");
        let missing = format!("{BUCKET}\n{{\"ResourceType\": \"AWS.S3.Bucket\"}}\n");
        let err = parse_documents(&missing, "in.jsonl").unwrap_err().0;
        assert_eq!(err, "in.jsonl: line 2: the document has no ResourceId");
        assert!(
            parse_documents("  \n", "in")
                .unwrap_err()
                .0
                .contains("no resource documents")
        );
        assert!(
            parse_documents("42", "in")
                .unwrap_err()
                .0
                .contains("must be a JSON object")
        );
        let typed = r#"{"ResourceId": 5, "ResourceType": "T"}"#;
        assert!(
            parse_documents(typed, "in")
                .unwrap_err()
                .0
                .contains("must be strings")
        );
    }
}
