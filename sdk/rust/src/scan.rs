//! A fast structural scan of a JSON object's top level: where each field's value starts and
//! ends, without building or validating the values. Rules then parse (and so validate) only the
//! fields they read. This is the hot path of every evaluation, so strings are skipped eight
//! bytes at a time (64-bit words work as well in WebAssembly as natively).
//!
//! The scan trusts nothing: malformed structure is an error, never a panic or a wrong slice.
//! It does not check what it skips (numbers, escapes); a field that is read is fully parsed.

use std::borrow::Cow;
use std::fmt;

/// The document is not a well-formed JSON object at the top level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError {
    pub offset: usize,
    pub reason: &'static str,
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.offset)
    }
}

impl std::error::Error for ScanError {}

/// Top-level fields of the JSON object in `text`, in order: (key, value as JSON text). Keys
/// with escape sequences are decoded; values are slices of `text`. (Tests compare the scanner
/// with serde through it.)
#[cfg(test)]
fn top_level_fields(text: &str) -> Result<Vec<(Cow<'_, str>, &str)>, ScanError> {
    let mut scanner = FieldScanner::new(text);
    while scanner.next_field()?.is_some() {}
    Ok(scanner.fields)
}

/// Scans a document's top level lazily: [`FieldScanner::find`] reads only as far as the field
/// it is asked for, remembering what it has passed, so a rule reading two early fields never
/// scans the rest of the document. A structural defect is reported when the scan reaches it.
pub struct FieldScanner<'a> {
    text: &'a str,
    /// Where the next field's key starts (after `{` or `,` and whitespace).
    pos: usize,
    state: State,
    fields: Vec<(Cow<'a, str>, &'a str)>,
}

#[derive(Clone, PartialEq, Eq)]
enum State {
    Start,
    InObject,
    Done,
    Failed(ScanError),
}

impl<'a> FieldScanner<'a> {
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            pos: 0,
            state: State::Start,
            fields: Vec::new(),
        }
    }

    /// The value text of top-level field `name`, scanning forward as far as needed.
    pub fn find(&mut self, name: &str) -> Result<Option<&'a str>, ScanError> {
        if let Some((_, value)) = self.fields.iter().find(|(k, _)| k == name) {
            return Ok(Some(value));
        }
        while let Some((key, value)) = self.next_field()? {
            if key == name {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    /// Scan one more field; `None` at the end of the object.
    fn next_field(&mut self) -> Result<Option<(&str, &'a str)>, ScanError> {
        let result = self.step();
        if let Err(e) = &result {
            self.state = State::Failed(e.clone());
        }
        result.map(|found| {
            found
                .then(|| self.fields.last().map(|(k, v)| (k.as_ref(), *v)))
                .flatten()
        })
    }

    /// Advance past one field (true) or to the end (false).
    fn step(&mut self) -> Result<bool, ScanError> {
        let (text, bytes) = (self.text, self.text.as_bytes());
        match &self.state {
            State::Done => return Ok(false),
            State::Failed(e) => return Err(e.clone()),
            State::Start => {
                let pos = skip_ws(bytes, 0);
                expect(bytes, pos, b'{', "expected a JSON object")?;
                let pos = skip_ws(bytes, pos + 1);
                if bytes.get(pos) == Some(&b'}') {
                    finish(bytes, pos + 1)?;
                    self.state = State::Done;
                    return Ok(false);
                }
                self.fields.reserve(32);
                self.pos = pos;
                self.state = State::InObject;
            }
            State::InObject => {}
        }
        let pos = self.pos;
        expect(bytes, pos, b'"', "expected a field name")?;
        let key_end = skip_string(bytes, pos)?;
        let raw_key = &text[pos + 1..key_end - 1];
        let key = if raw_key.contains('\\') {
            let decoded: String =
                serde_json::from_str(&text[pos..key_end]).map_err(|_| ScanError {
                    offset: pos,
                    reason: "invalid escape in a field name",
                })?;
            Cow::Owned(decoded)
        } else {
            Cow::Borrowed(raw_key)
        };
        let colon = skip_ws(bytes, key_end);
        expect(bytes, colon, b':', "expected `:` after a field name")?;
        let value_start = skip_ws(bytes, colon + 1);
        let value_end = skip_value(bytes, value_start)?;
        self.fields.push((key, &text[value_start..value_end]));
        let next = skip_ws(bytes, value_end);
        match bytes.get(next) {
            Some(b',') => self.pos = skip_ws(bytes, next + 1),
            Some(b'}') => {
                finish(bytes, next + 1)?;
                self.state = State::Done;
            }
            _ => {
                return Err(ScanError {
                    offset: next,
                    reason: "expected `,` or `}`",
                });
            }
        }
        Ok(true)
    }
}

fn finish(bytes: &[u8], pos: usize) -> Result<(), ScanError> {
    let end = skip_ws(bytes, pos);
    if end != bytes.len() {
        return Err(ScanError {
            offset: end,
            reason: "trailing characters after the object",
        });
    }
    Ok(())
}

fn expect(bytes: &[u8], pos: usize, byte: u8, reason: &'static str) -> Result<(), ScanError> {
    if bytes.get(pos) == Some(&byte) {
        Ok(())
    } else {
        Err(ScanError {
            offset: pos,
            reason,
        })
    }
}

fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(pos) {
        pos += 1;
    }
    pos
}

/// `bytes[pos]` starts a value; returns the offset just past it.
fn skip_value(bytes: &[u8], pos: usize) -> Result<usize, ScanError> {
    match bytes.get(pos) {
        Some(b'"') => skip_string(bytes, pos),
        Some(b'{' | b'[') => skip_container(bytes, pos),
        Some(b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
            let mut end = pos + 1;
            while let Some(b) = bytes.get(end) {
                if matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                    break;
                }
                end += 1;
            }
            Ok(end)
        }
        _ => Err(ScanError {
            offset: pos,
            reason: "expected a value",
        }),
    }
}

/// Skip an object or array, tracking nesting; strings are skipped whole so brackets inside
/// them do not count.
fn skip_container(bytes: &[u8], pos: usize) -> Result<usize, ScanError> {
    let mut depth = 0usize;
    let mut i = pos;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i = skip_string(bytes, i)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Err(ScanError {
        offset: pos,
        reason: "unterminated object or array",
    })
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Bytes of `word` equal to `byte` have their high bit set in the result (exact for the
/// lowest match, which is all the caller uses).
#[inline]
fn matches(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * byte as u64);
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// `bytes[pos]` is an opening quote; returns the offset just past the closing quote.
fn skip_string(bytes: &[u8], pos: usize) -> Result<usize, ScanError> {
    let mut i = pos + 1;
    loop {
        // Eight bytes at a time to the next quote or backslash.
        while let Some(chunk) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            let hits = matches(word, b'"') | matches(word, b'\\');
            if hits != 0 {
                i += (hits.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        match bytes.get(i) {
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => i += 2,
            Some(_) => i += 1,
            None => {
                return Err(ScanError {
                    offset: pos,
                    reason: "unterminated string",
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn keys_and_values(text: &str) -> Vec<(String, Value)> {
        top_level_fields(text)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k.into_owned(), serde_json::from_str(v).expect(v)))
            .collect()
    }

    #[test]
    fn agrees_with_serde_on_real_shapes() {
        let docs = [
            r#"{}"#,
            r#"  { "a" : 1 , "b":[1,{"c":"}]"}], "d": {"e": [ ]}, "f": null, "g": true, "h": -1.5e3 }  "#,
            r#"{"Policy":"{\"Statement\":[{\"Effect\":\"Allow\"}]}","Name":"b\\\"q\"uoted","Tags":{"k\"]":"v"}}"#,
            r#"{"unicode":"héllo wörld – ✓ 😀","esc\u0041ped":"x\ny","long":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\"}"#,
            "{\"a\":\"\",\"b\":\"1234567\",\"c\":\"12345678\",\"d\":\"123456789\\\\\"}",
        ];
        for doc in docs {
            let expected: serde_json::Map<String, Value> = serde_json::from_str(doc).unwrap();
            let got = keys_and_values(doc);
            assert_eq!(got.len(), expected.len(), "{doc}");
            for (k, v) in got {
                assert_eq!(expected.get(&k), Some(&v), "{doc}: {k}");
            }
        }
        let fields = top_level_fields(r#"{"esc\u0041ped": 1}"#).unwrap();
        assert_eq!(fields[0].0, "escAped");
    }

    #[test]
    fn malformed_structure_is_an_error_not_a_panic() {
        // (document, whether the scan must reject it). A defect inside a value that is skipped
        // (an unfinished escape) may pass the scan: the field is validated when it is read.
        let cases = [
            ("", true),
            ("[1]", true),
            ("{", true),
            ("{\"a\"", true),
            ("{\"a\":", true),
            ("{\"a\":1", true),
            ("{\"a\":1,}", true),
            ("{\"a\" 1}", true),
            ("{\"a\":\"x}", true),
            ("{\"a\":[1,2}", true),
            ("{\"a\":{\"b\":1}", true),
            ("{\"a\":1} x", true),
            ("{a:1}", true),
            ("{\"a\":}", true),
            ("{\"a\":1 \"b\":2}", true),
            ("{\"a\":]}", true),
            ("{\"a\":\"\\", true),
            ("{\"a\":\"\\u00\"", false),
        ];
        for (doc, must_fail) in cases {
            let result = std::panic::catch_unwind(|| top_level_fields(doc));
            let result = result.unwrap_or_else(|_| panic!("panicked on {doc:?}"));
            if must_fail {
                assert!(result.is_err(), "accepted {doc:?}");
            }
        }
    }

    #[test]
    fn lazy_lookups_read_only_as_far_as_needed() {
        // The defect sits after the fields asked for: it only surfaces when the scan gets there.
        let doc = r#"{"A": 1, "B": {"x": [1, "}"]}, "C": "three", oops}"#;
        let mut scanner = FieldScanner::new(doc);
        assert_eq!(scanner.find("B").unwrap(), Some(r#"{"x": [1, "}"]}"#));
        assert_eq!(scanner.find("A").unwrap(), Some("1"), "already scanned");
        assert_eq!(scanner.fields.len(), 2, "stopped at B");
        assert_eq!(scanner.find("C").unwrap(), Some(r#""three""#));
        let err = scanner.find("D").unwrap_err();
        assert_eq!(err.reason, "expected a field name");
        assert_eq!(scanner.find("D").unwrap_err(), err, "the failure sticks");
        let mut empty = FieldScanner::new(" { } ");
        assert_eq!(empty.find("A").unwrap(), None);
        let mut not_object = FieldScanner::new("[]");
        assert!(not_object.find("A").is_err());
    }

    #[test]
    fn every_truncation_of_a_document_is_handled() {
        let doc = r#"{"ResourceId":"arn:aws:s3:::b","Tags":{"a":"b\"c"},"Rules":[{"X":[1,2,{"y":"]"}]}],"N":12}"#;
        for cut in 0..doc.len() {
            let prefix = &doc[..cut];
            assert!(
                top_level_fields(prefix).is_err(),
                "accepted a truncated document {prefix:?}"
            );
        }
        assert_eq!(top_level_fields(doc).unwrap().len(), 4);
    }
}
