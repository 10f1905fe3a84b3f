//! Test cases inside a component: a top-level custom section named [`SECTION`] holding
//! `{"version": 1, "cases": [...]}`. Custom sections do not change what a component does, so a
//! pack with its cases embedded loads and runs exactly as without them. Only the section's
//! framing is parsed here; everything else in the binary is left to wasmtime.

use serde::{Deserialize, Serialize};

use super::{CaseError, TestCase};

/// The custom section's name.
pub const SECTION: &str = "palisade-tests";

/// The format version written, and the only one read.
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Embedded {
    version: u32,
    cases: Vec<TestCase>,
}

/// The test cases embedded in `wasm`, if it carries any.
pub fn embedded(wasm: &[u8]) -> Result<Option<Vec<TestCase>>, CaseError> {
    let bad = |m: &str| CaseError::Embedded(m.to_owned());
    let mut found = None;
    for section in sections(wasm).map_err(|m| bad(&m))? {
        if let Section::Custom { name, data, .. } = section
            && name == SECTION
        {
            if found.is_some() {
                return Err(bad("two palisade-tests sections"));
            }
            let embedded: Embedded =
                serde_json::from_slice(data).map_err(|e| bad(&e.to_string()))?;
            if embedded.version != VERSION {
                return Err(bad(&format!("unknown version {}", embedded.version)));
            }
            super::check(&embedded.cases)?;
            found = Some(embedded.cases);
        }
    }
    Ok(found)
}

/// `wasm` with `cases` embedded, replacing any cases it carried.
pub fn embed(wasm: &[u8], cases: &[TestCase]) -> Result<Vec<u8>, CaseError> {
    let bad = |m: String| CaseError::Embedded(m);
    let mut out = Vec::with_capacity(wasm.len() + 4096);
    out.extend_from_slice(
        wasm.get(..8)
            .ok_or_else(|| bad("not a WebAssembly binary".into()))?,
    );
    for section in sections(wasm).map_err(bad)? {
        match section {
            Section::Custom { name, .. } if name == SECTION => {}
            Section::Custom { raw, .. } | Section::Other { raw } => out.extend_from_slice(raw),
        }
    }
    let payload = serde_json::to_vec(&Embedded {
        version: VERSION,
        cases: cases.to_vec(),
    })
    .map_err(|e| bad(e.to_string()))?;
    let mut body = Vec::with_capacity(payload.len() + SECTION.len() + 5);
    leb128(&mut body, SECTION.len() as u32);
    body.extend_from_slice(SECTION.as_bytes());
    body.extend_from_slice(&payload);
    out.push(0);
    leb128(
        &mut out,
        u32::try_from(body.len()).map_err(|_| bad("the cases are too large".into()))?,
    );
    out.extend_from_slice(&body);
    Ok(out)
}

enum Section<'a> {
    Custom {
        name: &'a str,
        data: &'a [u8],
        raw: &'a [u8],
    },
    Other {
        raw: &'a [u8],
    },
}

/// The top-level sections of a module or component, each with its raw bytes (id and size
/// included).
fn sections(wasm: &[u8]) -> Result<Vec<Section<'_>>, String> {
    if wasm.get(..4) != Some(b"\0asm") || wasm.len() < 8 {
        return Err("not a WebAssembly binary".into());
    }
    let mut out = Vec::new();
    let mut at = 8;
    while at < wasm.len() {
        let start = at;
        let id = wasm[at];
        at += 1;
        let (size, n) = read_leb128(&wasm[at..]).ok_or("a section size is malformed")?;
        at += n;
        let end = at
            .checked_add(size as usize)
            .filter(|&e| e <= wasm.len())
            .ok_or("a section runs past the end")?;
        let raw = &wasm[start..end];
        if id == 0 {
            let (len, n) =
                read_leb128(&wasm[at..end]).ok_or("a custom section name is malformed")?;
            let name_end = (at + n)
                .checked_add(len as usize)
                .filter(|&e| e <= end)
                .ok_or("a custom section name runs past its section")?;
            let name = std::str::from_utf8(&wasm[at + n..name_end])
                .map_err(|_| "a custom section name is not UTF-8")?;
            out.push(Section::Custom {
                name,
                data: &wasm[name_end..end],
                raw,
            });
        } else {
            out.push(Section::Other { raw });
        }
        at = end;
    }
    Ok(out)
}

fn read_leb128(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value: u32 = 0;
    for (i, &b) in bytes.iter().enumerate().take(5) {
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

fn leb128(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy_tests::Expect;

    fn case(name: &str) -> TestCase {
        TestCase {
            name: name.into(),
            rule: "R".into(),
            resource_type: None,
            resource: serde_json::json!({"ResourceId": "x"}),
            expect: Expect::Pass,
            message: None,
            lookups: Default::default(),
            now: None,
            settings: None,
        }
    }

    /// A component-shaped binary: header, one opaque section, one unrelated custom section.
    fn binary() -> Vec<u8> {
        let mut w = b"\0asm\x0d\0\x01\0".to_vec();
        w.extend_from_slice(&[1, 3, 9, 9, 9]);
        w.extend_from_slice(&[0, 4, 3, b'f', b'o', b'o']);
        w
    }

    #[test]
    fn embedding_round_trips_and_replaces_keeping_other_sections() {
        let w = binary();
        assert!(embedded(&w).unwrap().is_none());
        let once = embed(&w, &[case("a")]).unwrap();
        assert_eq!(embedded(&once).unwrap().unwrap(), [case("a")]);
        assert!(once.starts_with(&w), "existing sections stay in place");
        let twice = embed(&once, &[case("b"), case("c")]).unwrap();
        assert_eq!(embedded(&twice).unwrap().unwrap(), [case("b"), case("c")]);
        assert_eq!(
            twice.len() - w.len(),
            embed(&w, &[case("b"), case("c")]).unwrap().len() - w.len()
        );
    }

    #[test]
    fn large_sections_use_multi_byte_sizes() {
        let many: Vec<TestCase> = (0..500).map(|i| case(&format!("case {i}"))).collect();
        let w = embed(&binary(), &many).unwrap();
        assert_eq!(embedded(&w).unwrap().unwrap().len(), 500);
    }

    #[test]
    fn malformed_binaries_are_errors() {
        assert!(embedded(b"nope").is_err());
        let mut truncated = embed(&binary(), &[case("a")]).unwrap();
        truncated.truncate(truncated.len() - 3);
        assert!(embedded(&truncated).is_err());
        // A well-framed section whose JSON is not.
        let mut w = binary();
        w.extend_from_slice(&[0, 19, 14]);
        w.extend_from_slice(b"palisade-tests");
        w.extend_from_slice(b"{bad");
        assert!(matches!(embedded(&w), Err(CaseError::Embedded(_))));
    }
}
