//! `palisade rules`: rule metadata as a JSON array.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};

use super::table::write_table;
use super::{GlobalArgs, OutputFormat, load_packs};
use crate::engine::{Pack, RuleMeta};

#[derive(Debug, clap::Args)]
pub struct RulesArgs {
    /// Pack component(s) to describe; the built-in packs when none is given.
    #[arg(long = "module", env = "PALISADE_MODULES", value_delimiter = ',')]
    modules: Vec<PathBuf>,
    /// Output: a `json` array or a `table`.
    #[arg(long, env = "PALISADE_FORMAT", value_enum, default_value_t = OutputFormat::Json)]
    format: OutputFormat,
}

pub fn run(global: &GlobalArgs, args: RulesArgs) -> anyhow::Result<ExitCode> {
    let engine = global.engine()?;
    let set = load_packs(&engine, &args.modules)?;
    let mut out = std::io::stdout().lock();
    match args.format {
        OutputFormat::Json => {
            let rules: Vec<Value> = set
                .rules()
                .map(|(pack, rule)| rule_json(pack, rule))
                .collect();
            serde_json::to_writer_pretty(&mut out, &rules)?;
            writeln!(out)?;
        }
        OutputFormat::Table => {
            let rows: Vec<Vec<String>> = set
                .rules()
                .map(|(pack, rule)| {
                    vec![
                        rule.id.clone(),
                        rule.severity.as_str().to_owned(),
                        if rule.default_enabled { "on" } else { "off" }.to_owned(),
                        pack.name().to_owned(),
                        rule.title.clone(),
                    ]
                })
                .collect();
            write_table(
                &mut out,
                &["RULE", "SEVERITY", "DEFAULT", "MODULE", "TITLE"],
                &rows,
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The public shape of a rule: its metadata, settings as a JSON Schema, and its pack.
pub fn rule_json(pack: &Pack, rule: &RuleMeta) -> Value {
    json!({
        "id": rule.id,
        "title": rule.title,
        "severity": rule.severity,
        "resource_types": rule.resource_types,
        "description": rule.description,
        "remediation": rule.remediation,
        "references": rule.references,
        "compliance": rule.compliance,
        "settings": rule.settings_schema(),
        "default_enabled": rule.default_enabled,
        "module": pack.name(),
        "module_digest": pack.digest(),
    })
}
