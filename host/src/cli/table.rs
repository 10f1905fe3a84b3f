//! Plain-text tables for terminals: columns padded to their widest cell, the last column left
//! unpadded so long messages do not push everything right.

use std::io::{self, Write};

/// Write `rows` under `headers`, columns separated by two spaces.
pub fn write_table(out: &mut impl Write, headers: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len().saturating_sub(1);
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i == last {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(
                    ' ',
                    widths[i] - cell.chars().count() + 2,
                ));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_the_last_is_free() {
        let mut out = Vec::new();
        let rows = vec![
            vec![
                "fail".to_owned(),
                "AWS.S3.Bucket.Encryption".to_owned(),
                "no encryption".to_owned(),
            ],
            vec!["pass".to_owned(), "X".to_owned(), String::new()],
        ];
        write_table(&mut out, &["STATUS", "RULE", "MESSAGE"], &rows).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "STATUS  RULE                      MESSAGE\n\
             fail    AWS.S3.Bucket.Encryption  no encryption\n\
             pass    X\n"
        );
    }
}
