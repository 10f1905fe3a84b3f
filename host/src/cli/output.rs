//! Output of record lists (`resources list`, `findings list`, `account list`): an aligned
//! table for people, JSON Lines or CSV for programs. One function so every list command
//! renders the same way.

use std::io::{BufWriter, Write};

use clap::ValueEnum;
use serde::Serialize;

use super::table::write_table;

/// How a list command prints its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// An aligned text table.
    Table,
    /// One JSON object per line.
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

/// Prints `items` to stdout: JSON from their `Serialize`, table and CSV from `row`.
pub fn write_list<T: Serialize>(
    format: ListFormat,
    headers: &[&str],
    items: &[T],
    row: impl Fn(&T) -> Vec<String>,
) -> anyhow::Result<()> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    match format {
        ListFormat::Json => {
            for item in items {
                serde_json::to_writer(&mut out, item)?;
                out.write_all(b"\n")?;
            }
        }
        ListFormat::Table => {
            let rows: Vec<Vec<String>> = items.iter().map(&row).collect();
            write_table(&mut out, headers, &rows)?;
        }
        ListFormat::Csv => {
            let mut csv = csv::Writer::from_writer(&mut out);
            csv.write_record(headers.iter().map(|h| h.to_lowercase()))?;
            for item in items {
                csv.write_record(row(item))?;
            }
            csv.flush()?;
        }
    }
    out.flush()?;
    Ok(())
}
