//! How a test run is shown: a line per case for people, and JUnit XML for CI systems.

use std::fmt::Write as _;
use std::io::Write;

use super::CaseResult;

/// One line per case, then a summary; returns whether every case passed.
pub fn print_report(
    out: &mut impl Write,
    pack: &str,
    results: &[CaseResult],
) -> std::io::Result<bool> {
    for r in results {
        match &r.failure {
            None => writeln!(out, "ok    {}  ({})", r.name, r.rule)?,
            Some(why) => writeln!(out, "FAIL  {}  ({}): {why}", r.name, r.rule)?,
        }
    }
    let failed = results.iter().filter(|r| !r.passed()).count();
    writeln!(
        out,
        "{pack}: {} passed, {failed} failed",
        results.len() - failed
    )?;
    Ok(failed == 0)
}

/// The run as a JUnit XML document: one suite for the pack, one test case per case, classed by
/// rule.
pub fn junit_xml(pack: &str, results: &[CaseResult]) -> String {
    let failures = results.iter().filter(|r| !r.passed()).count();
    let total: f64 = results.iter().map(|r| r.took.as_secs_f64()).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites tests=\"{}\" failures=\"{failures}\" time=\"{total:.6}\">",
        results.len()
    );
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{total:.6}\">",
        escape(pack),
        results.len()
    );
    for r in results {
        let _ = write!(
            xml,
            "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.6}\"",
            escape(&r.name),
            escape(&r.rule),
            r.took.as_secs_f64()
        );
        match &r.failure {
            None => xml.push_str("/>\n"),
            Some(why) => {
                let detail = match (&r.status, &r.message) {
                    (Some(s), Some(m)) => format!("verdict: {} ({m})", s.as_str()),
                    (Some(s), None) => format!("verdict: {}", s.as_str()),
                    _ => "no verdict".to_owned(),
                };
                let _ = write!(
                    xml,
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                    escape(why),
                    escape(&detail)
                );
            }
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// Text safe in XML attributes and content; characters XML 1.0 cannot carry become U+FFFD.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Status;
    use std::time::Duration;

    fn result(name: &str, failure: Option<&str>) -> CaseResult {
        CaseResult {
            name: name.into(),
            rule: "R.<1>".into(),
            status: Some(Status::Fail),
            message: Some("bad & \"worse\"".into()),
            failure: failure.map(str::to_owned),
            took: Duration::from_millis(2),
        }
    }

    #[test]
    fn junit_counts_failures_and_escapes() {
        let xml = junit_xml(
            "pack",
            &[
                result("a", None),
                result("b\u{1}", Some("expected pass, got fail")),
            ],
        );
        assert!(
            xml.contains("<testsuite name=\"pack\" tests=\"2\" failures=\"1\""),
            "{xml}"
        );
        assert!(
            xml.contains("<testcase name=\"a\" classname=\"R.&lt;1&gt;\""),
            "{xml}"
        );
        assert!(xml.contains("name=\"b\u{FFFD}\""), "{xml}");
        assert!(xml.contains("<failure message=\"expected pass, got fail\">verdict: fail (bad &amp; &quot;worse&quot;)</failure>"), "{xml}");
    }

    #[test]
    fn the_report_says_what_failed() {
        let mut out = Vec::new();
        let ok = print_report(
            &mut out,
            "pack",
            &[result("a", None), result("b", Some("why"))],
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!ok);
        assert!(text.contains("ok    a  (R.<1>)"));
        assert!(text.contains("FAIL  b  (R.<1>): why"));
        assert!(text.ends_with("pack: 1 passed, 1 failed\n"));
    }
}
