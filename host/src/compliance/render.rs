//! A compliance report as JSON, CSV (one row per control) or one self-contained HTML page
//! (inline style and SVG chart, no scripts, no external requests) a person can open or mail
//! to an auditor. Building the report is `mod.rs`'s.

use std::fmt::Write as _;

use super::{ControlResult, ControlStatus, Report};

/// The formats a report renders to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    Html,
    Json,
    Csv,
}

impl ReportFormat {
    /// The HTTP content type of the rendering.
    pub fn content_type(self) -> &'static str {
        match self {
            ReportFormat::Html => "text/html; charset=utf-8",
            ReportFormat::Json => "application/json",
            ReportFormat::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// Renders `report` in `format`.
pub fn render(report: &Report, format: ReportFormat) -> Result<Vec<u8>, RenderError> {
    match format {
        ReportFormat::Json => Ok(serde_json::to_vec_pretty(report)?),
        ReportFormat::Csv => csv(report),
        ReportFormat::Html => Ok(html(report).into_bytes()),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot write the report as JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot write the report as CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// Offenders a control's CSV cell or HTML list shows; the JSON has them all.
const OFFENDERS_SHOWN: usize = 200;

fn csv(report: &Report) -> Result<Vec<u8>, RenderError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "control",
        "section",
        "level",
        "assessment",
        "title",
        "status",
        "rules",
        "resources_passing",
        "resources_failing",
        "resources_error",
        "resources_suppressed",
        "failing_resources",
    ])?;
    for c in &report.controls {
        let failing: Vec<String> = c
            .offenders
            .iter()
            .take(OFFENDERS_SHOWN)
            .map(|o| format!("{} ({})", o.resource_id, o.rule_id))
            .collect();
        out.write_record([
            c.control.id.as_str(),
            &c.control.section,
            &c.control.level,
            assessment(c),
            &c.control.title,
            c.status.as_str(),
            &c.rules.join(" "),
            &c.resources.pass.to_string(),
            &c.resources.fail.to_string(),
            &c.resources.error.to_string(),
            &c.resources.suppressed.to_string(),
            &failing.join("; "),
        ])?;
    }
    out.into_inner()
        .map_err(|e| RenderError::Csv(e.into_error().into()))
}

fn assessment(c: &ControlResult) -> &'static str {
    if c.control.automated {
        "automated"
    } else {
        "manual"
    }
}

/// Escapes text for HTML element content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn color(status: ControlStatus) -> &'static str {
    match status {
        ControlStatus::Pass => "#2e7d32",
        ControlStatus::Fail => "#c62828",
        ControlStatus::Error => "#ef6c00",
        ControlStatus::NoData => "#78909c",
        ControlStatus::Manual => "#5c6bc0",
        ControlStatus::NotCovered => "#bdbdbd",
    }
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#212121;padding:0 1rem}\
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}\
.meta{color:#616161}.summary{display:flex;gap:2rem;align-items:center;flex-wrap:wrap}\
.legend td{padding:.1rem .6rem}table.controls{border-collapse:collapse;width:100%}\
table.controls th,table.controls td{border-bottom:1px solid #eee;padding:.35rem .5rem;text-align:left;vertical-align:top}\
.badge{display:inline-block;min-width:5.5rem;text-align:center;border-radius:.8rem;color:#fff;font-size:.8rem;padding:.05rem .5rem}\
.swatch{display:inline-block;width:.8rem;height:.8rem;border-radius:.2rem;margin-right:.3rem}\
code{font-size:.85em;word-break:break-all}details summary{cursor:pointer;color:#424242}ul.off{margin:.3rem 0 .3rem 1rem;padding:0}\
.num{text-align:right;white-space:nowrap}";

fn html(report: &Report) -> String {
    let mut page = String::with_capacity(64 * 1024);
    let generated = report
        .generated_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let accounts = if report.accounts.is_empty() {
        "no accounts".to_owned()
    } else {
        report.accounts.join(", ")
    };
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title} — Palisade report</title><style>{STYLE}</style></head><body>\
         <h1>{title}</h1><p class=\"meta\">Accounts: {accounts} · generated {generated} by Palisade</p>",
        title = esc(report.title),
        accounts = esc(&accounts),
        generated = esc(&generated),
    );
    page.push_str("<div class=\"summary\">");
    page.push_str(&donut(report));
    page.push_str("<table class=\"legend\">");
    for status in ControlStatus::ALL {
        let n = report.summary.get(&status).copied().unwrap_or(0);
        let _ = write!(
            page,
            "<tr><td><span class=\"swatch\" style=\"background:{}\"></span>{}</td><td class=\"num\">{n}</td></tr>",
            color(status),
            status.label(),
        );
    }
    let total: usize = report.summary.values().sum();
    let _ = write!(
        page,
        "<tr><td><b>controls</b></td><td class=\"num\"><b>{total}</b></td></tr></table></div>"
    );

    let mut section = None;
    for c in &report.controls {
        if section != Some(&c.control.section) {
            if section.is_some() {
                page.push_str("</tbody></table>");
            }
            section = Some(&c.control.section);
            let _ = write!(
                page,
                "<h2>{}</h2><table class=\"controls\"><thead><tr><th>Control</th><th>Status</th>\
                 <th>Title and rules</th><th class=\"num\">Pass</th><th class=\"num\">Fail</th>\
                 <th class=\"num\">Error</th></tr></thead><tbody>",
                esc(&c.control.section)
            );
        }
        control_row(&mut page, c);
    }
    if section.is_some() {
        page.push_str("</tbody></table>");
    }
    page.push_str("</body></html>\n");
    page
}

fn control_row(page: &mut String, c: &ControlResult) {
    let _ = write!(
        page,
        "<tr id=\"c{id}\"><td><b>{id}</b><br><span class=\"meta\">{level}, {assessment}</span></td>\
         <td><span class=\"badge\" style=\"background:{color}\">{status}</span></td><td>{title}",
        id = esc(&c.control.id),
        level = esc(&c.control.level),
        assessment = assessment(c),
        color = color(c.status),
        status = c.status.label(),
        title = esc(&c.control.title),
    );
    if !c.rules.is_empty() {
        let rules: Vec<String> = c
            .rules
            .iter()
            .map(|r| format!("<code>{}</code>", esc(r)))
            .collect();
        let _ = write!(
            page,
            "<br><span class=\"meta\">Rules: {}</span>",
            rules.join(", ")
        );
    }
    if !c.disabled_rules.is_empty() {
        let _ = write!(
            page,
            "<br><span class=\"meta\">Switched off: {}</span>",
            esc(&c.disabled_rules.join(", "))
        );
    }
    if !c.offenders.is_empty() {
        let _ = write!(
            page,
            "<details><summary>{} failing or undecided verdicts</summary><ul class=\"off\">",
            c.offenders.len()
        );
        for o in c.offenders.iter().take(OFFENDERS_SHOWN) {
            let _ = write!(
                page,
                "<li><code>{}</code> — {} {} ({}, {}): {}</li>",
                esc(&o.resource_id),
                esc(&o.rule_id),
                o.status.as_str(),
                esc(&o.severity),
                esc(&o.region),
                esc(o.message.as_deref().unwrap_or("")),
            );
        }
        if c.offenders.len() > OFFENDERS_SHOWN {
            let _ = write!(
                page,
                "<li>… and {} more (see the JSON report)</li>",
                c.offenders.len() - OFFENDERS_SHOWN
            );
        }
        page.push_str("</ul></details>");
    }
    let _ = write!(
        page,
        "</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
        c.resources.pass, c.resources.fail, c.resources.error
    );
}

/// An SVG donut of controls by status.
fn donut(report: &Report) -> String {
    let total: usize = report.summary.values().sum();
    let (r, width) = (60.0_f64, 28.0_f64);
    let circumference = 2.0 * std::f64::consts::PI * r;
    let mut svg = format!(
        "<svg width=\"180\" height=\"180\" viewBox=\"0 0 180 180\" role=\"img\" aria-label=\"controls by status\">\
         <circle cx=\"90\" cy=\"90\" r=\"{r}\" fill=\"none\" stroke=\"#eee\" stroke-width=\"{width}\"/>"
    );
    let mut offset = 0.0;
    for status in ControlStatus::ALL {
        let n = report.summary.get(&status).copied().unwrap_or(0);
        if n == 0 || total == 0 {
            continue;
        }
        let length = circumference * n as f64 / total as f64;
        let _ = write!(
            svg,
            "<circle cx=\"90\" cy=\"90\" r=\"{r}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{width}\" \
             stroke-dasharray=\"{length:.2} {rest:.2}\" stroke-dashoffset=\"{dash:.2}\" transform=\"rotate(-90 90 90)\">\
             <title>{}: {n}</title></circle>",
            color(status),
            status.label(),
            rest = circumference - length,
            dash = -offset,
        );
        offset += length;
    }
    let passing = report
        .summary
        .get(&ControlStatus::Pass)
        .copied()
        .unwrap_or(0);
    let judged: usize = [
        ControlStatus::Pass,
        ControlStatus::Fail,
        ControlStatus::Error,
    ]
    .iter()
    .map(|s| report.summary.get(s).copied().unwrap_or(0))
    .sum();
    let _ = write!(
        svg,
        "<text x=\"90\" y=\"88\" text-anchor=\"middle\" font-size=\"22\" font-weight=\"bold\">{passing}/{judged}</text>\
         <text x=\"90\" y=\"108\" text-anchor=\"middle\" font-size=\"11\" fill=\"#616161\">controls passing</text></svg>"
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::super::{Control, Counts, Offender};
    use super::*;
    use crate::store::FindingStatus;
    use std::collections::BTreeMap;
    use time::OffsetDateTime;

    fn report() -> Report {
        let control = |id: &str, automated| Control {
            id: id.into(),
            section: "6 Networking".into(),
            level: "Level 1".into(),
            automated,
            title: format!("Control <{id}> & \"friends\""),
        };
        let failing = ControlResult {
            control: control("6.3", true),
            status: ControlStatus::Fail,
            rules: vec!["AWS.SecurityGroup.AdministrativeIngress".into()],
            disabled_rules: vec![],
            resources: Counts {
                pass: 3,
                fail: 1,
                error: 0,
                suppressed: 0,
            },
            offenders: vec![Offender {
                rule_id: "AWS.SecurityGroup.AdministrativeIngress".into(),
                resource_id: "arn:aws:ec2:us-east-1:123456789012:security-group/sg-1".into(),
                resource_type: "AWS.EC2.SecurityGroup".into(),
                account_id: "123456789012".into(),
                region: "us-east-1".into(),
                severity: "high".into(),
                status: FindingStatus::Fail,
                message: Some("allows SSH <script>".into()),
            }],
        };
        let manual = ControlResult {
            control: control("6.6", false),
            status: ControlStatus::Manual,
            rules: vec![],
            disabled_rules: vec![],
            resources: Counts::default(),
            offenders: vec![],
        };
        let mut summary: BTreeMap<ControlStatus, usize> =
            ControlStatus::ALL.iter().map(|s| (*s, 0)).collect();
        summary.insert(ControlStatus::Fail, 1);
        summary.insert(ControlStatus::Manual, 1);
        Report {
            framework: "cis-aws-7.0",
            title: "CIS Amazon Web Services Foundations Benchmark v7.0",
            generated_at: OffsetDateTime::UNIX_EPOCH,
            accounts: vec!["123456789012".into()],
            summary,
            controls: vec![failing, manual],
        }
    }

    #[test]
    fn csv_has_a_row_per_control_with_counts_and_offenders() {
        let text = String::from_utf8(render(&report(), ReportFormat::Csv).unwrap()).unwrap();
        let mut rows = csv::Reader::from_reader(text.as_bytes());
        let headers = rows.headers().unwrap().clone();
        assert_eq!(&headers[0], "control");
        let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[0][0], "6.3");
        assert_eq!(&rows[0][5], "fail");
        assert_eq!(&rows[0][8], "1");
        assert!(rows[0][11].contains("sg-1 (AWS.SecurityGroup.AdministrativeIngress)"));
        assert_eq!(&rows[1][3], "manual");
        assert_eq!(&rows[1][5], "manual");
    }

    #[test]
    fn html_is_one_escaped_page_with_a_chart_and_no_external_references() {
        let page = String::from_utf8(render(&report(), ReportFormat::Html).unwrap()).unwrap();
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<svg"), "a summary chart");
        assert!(page.contains("Control &lt;6.3&gt; &amp; &quot;friends&quot;"));
        assert!(page.contains("allows SSH &lt;script&gt;"));
        assert!(!page.contains("<script"), "no scripts");
        assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("src="));
        assert!(page.contains("0/1") || page.contains("controls passing"));
    }

    #[test]
    fn json_carries_the_summary_and_every_control() {
        let value: serde_json::Value =
            serde_json::from_slice(&render(&report(), ReportFormat::Json).unwrap()).unwrap();
        assert_eq!(value["framework"], "cis-aws-7.0");
        assert_eq!(value["summary"]["fail"], 1);
        assert_eq!(value["controls"][0]["id"], "6.3");
        assert_eq!(value["controls"][0]["status"], "fail");
        assert_eq!(value["controls"][0]["resources"]["pass"], 3);
        assert_eq!(value["controls"][1]["automated"], false);
    }
}
