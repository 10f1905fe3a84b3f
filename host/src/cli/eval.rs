//! `palisade eval`: evaluate resource documents with packs and print JSONL verdicts.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::input::{Document, read_documents};
use super::table::write_table;
use super::{GlobalArgs, InputError, OutputFormat, load_packs};
use crate::engine::{EvalContext, Lookup, RuleSettings, Status};

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Pack component(s) to evaluate with; the built-in packs when none is given.
    #[arg(long = "module", env = "PALISADE_MODULES", value_delimiter = ',')]
    modules: Vec<PathBuf>,
    /// Only these rules (repeatable). Default: every rule enabled by default.
    #[arg(long = "rule", env = "PALISADE_RULES", value_delimiter = ',')]
    rules: Vec<String>,
    /// Also run rules that are disabled by default.
    #[arg(long, env = "PALISADE_ALL_RULES")]
    all_rules: bool,
    /// Resource documents: a JSON document, a JSON array, or JSONL; `-` reads stdin.
    #[arg(long, env = "PALISADE_RESOURCE")]
    resource: PathBuf,
    /// Other resources that rules may look up (same formats). The evaluated documents are
    /// visible to lookups too.
    #[arg(long, env = "PALISADE_CONTEXT")]
    context: Option<PathBuf>,
    /// Rule settings: a JSON object of rule id to an object of setting values.
    #[arg(long, env = "PALISADE_SETTINGS")]
    settings: Option<PathBuf>,
    /// Evaluation time (RFC 3339); rules measure ages against it. Default: now.
    #[arg(long, env = "PALISADE_NOW", value_parser = parse_now)]
    now: Option<OffsetDateTime>,
    /// Output: `json` (JSON Lines, one verdict per line) or `table`.
    #[arg(long, env = "PALISADE_FORMAT", value_enum, default_value_t = OutputFormat::Json)]
    format: OutputFormat,
    /// Print only verdicts with these statuses (repeatable). Default: all.
    #[arg(
        long = "status",
        env = "PALISADE_STATUS",
        value_enum,
        value_delimiter = ','
    )]
    statuses: Vec<Status>,
    /// Exit with code 3 when any verdict is `fail` or `error`.
    #[arg(long, env = "PALISADE_EXIT_CODE")]
    exit_code: bool,
}

/// One line of `palisade eval` output; field order is part of the contract.
#[derive(Serialize)]
struct VerdictLine<'a> {
    rule_id: &'a str,
    resource_id: &'a str,
    resource_type: &'a str,
    status: Status,
    message: Option<&'a str>,
}

fn parse_now(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| format!("not an RFC 3339 time ({e})"))
}

pub fn run(global: &GlobalArgs, args: EvalArgs) -> anyhow::Result<ExitCode> {
    // The evaluated documents first, then the context: lookups see both without a copy.
    let mut all = read_documents(&args.resource)?;
    let evaluated = all.len();
    if let Some(path) = &args.context {
        all.extend(read_documents(path)?);
    }
    let all = Arc::new(all);
    let settings = match &args.settings {
        Some(path) => super::read_rule_settings(path)?,
        None => RuleSettings::new(),
    };
    let engine = global.engine()?;
    let set = load_packs(&engine, &args.modules)?;
    let selected = (!args.rules.is_empty()).then_some(args.rules.as_slice());
    let plans = set
        .plan(selected, args.all_rules, &settings)
        .map_err(|e| InputError(e.to_string()))?;

    let ctx = EvalContext {
        now: args.now.unwrap_or_else(OffsetDateTime::now_utc),
        lookup: Arc::new(DocumentLookup::new(all.clone(), evaluated)),
    };
    let documents = &all[..evaluated];
    let subjects: Vec<_> = documents.iter().map(Document::subject).collect();
    let verdicts = set.evaluate(&plans, &ctx, &subjects);

    let findings = verdicts.iter().any(|v| v.status != Status::Pass);
    let shown = verdicts
        .iter()
        .filter(|v| args.statuses.is_empty() || args.statuses.contains(&v.status));
    let mut out = BufWriter::new(std::io::stdout().lock());
    match args.format {
        OutputFormat::Json => {
            for v in shown {
                let doc = &documents[v.subject];
                let line = VerdictLine {
                    rule_id: &v.rule.id,
                    resource_id: &doc.id,
                    resource_type: &doc.resource_type,
                    status: v.status,
                    message: v.message.as_deref(),
                };
                serde_json::to_writer(&mut out, &line)?;
                out.write_all(b"\n")?;
            }
        }
        OutputFormat::Table => {
            let rows: Vec<Vec<String>> = shown
                .map(|v| {
                    vec![
                        v.status.as_str().to_uppercase(),
                        v.rule.severity.as_str().to_owned(),
                        v.rule.id.clone(),
                        documents[v.subject].id.clone(),
                        v.message.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            write_table(
                &mut out,
                &["STATUS", "SEVERITY", "RULE", "RESOURCE", "MESSAGE"],
                &rows,
            )?;
        }
    }
    out.flush()?;
    Ok(if args.exit_code && findings {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

/// Lookups over documents given on the command line, scoped by account.
struct DocumentLookup {
    docs: Arc<Vec<Document>>,
    /// Account id -> resource id -> index into `docs`.
    index: HashMap<String, HashMap<String, usize>>,
}

impl DocumentLookup {
    /// `docs[..evaluated]` are the evaluated documents, the rest context; where both hold the
    /// same resource the evaluated document wins.
    fn new(docs: Arc<Vec<Document>>, evaluated: usize) -> Self {
        let mut index: HashMap<String, HashMap<String, usize>> = HashMap::new();
        for i in (evaluated..docs.len()).chain(0..evaluated) {
            let doc = &docs[i];
            index
                .entry(doc.account_id.clone())
                .or_default()
                .insert(doc.id.clone(), i);
        }
        Self { docs, index }
    }
}

impl Lookup for DocumentLookup {
    fn lookup(&self, account_id: &str, resource_id: &str) -> Option<String> {
        let i = *self.index.get(account_id)?.get(resource_id)?;
        Some(self.docs[i].text.clone())
    }
}
