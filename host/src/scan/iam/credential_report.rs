//! The IAM credential report: generated on demand (`GenerateCredentialReport`, polled until
//! complete), fetched once (`GetCredentialReport`) and parsed from CSV into one JSON object per
//! row with the resource model's `IAMCredentialReport` keys. Timestamps become RFC 3339 in UTC;
//! the report's placeholders (`N/A`, `no_information`, `not_supported`) become the zero time in
//! timestamp columns and stay as they are in the region and service columns.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_iam::Client;
use aws_sdk_iam::types::ReportStateType;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::aws::{AwsError, ErrorKind};
use crate::scan::Collect;

/// The user name the report gives the account's root user.
pub const ROOT_ROW: &str = "<root_account>";

/// What a timestamp column holds when the report has no time for it.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// `GenerateCredentialReport` calls before giving up on a report that is still being built.
const GENERATE_TRIES: u32 = 12;
/// Wait after the first unfinished answer; doubles each time up to [`MAX_WAIT`].
const FIRST_WAIT: Duration = Duration::from_millis(100);
const MAX_WAIT: Duration = Duration::from_secs(3);

#[derive(Clone, Copy)]
enum Column {
    Text,
    Flag,
    Time,
}

/// Report column → model key and how its values read.
const COLUMNS: [(&str, &str, Column); 22] = [
    ("user", "UserName", Column::Text),
    ("arn", "ARN", Column::Text),
    ("user_creation_time", "UserCreationTime", Column::Time),
    ("password_enabled", "PasswordEnabled", Column::Flag),
    ("password_last_used", "PasswordLastUsed", Column::Time),
    ("password_last_changed", "PasswordLastChanged", Column::Time),
    (
        "password_next_rotation",
        "PasswordNextRotation",
        Column::Time,
    ),
    ("mfa_active", "MfaActive", Column::Flag),
    ("access_key_1_active", "AccessKey1Active", Column::Flag),
    (
        "access_key_1_last_rotated",
        "AccessKey1LastRotated",
        Column::Time,
    ),
    (
        "access_key_1_last_used_date",
        "AccessKey1LastUsedDate",
        Column::Time,
    ),
    (
        "access_key_1_last_used_region",
        "AccessKey1LastUsedRegion",
        Column::Text,
    ),
    (
        "access_key_1_last_used_service",
        "AccessKey1LastUsedService",
        Column::Text,
    ),
    ("access_key_2_active", "AccessKey2Active", Column::Flag),
    (
        "access_key_2_last_rotated",
        "AccessKey2LastRotated",
        Column::Time,
    ),
    (
        "access_key_2_last_used_date",
        "AccessKey2LastUsedDate",
        Column::Time,
    ),
    (
        "access_key_2_last_used_region",
        "AccessKey2LastUsedRegion",
        Column::Text,
    ),
    (
        "access_key_2_last_used_service",
        "AccessKey2LastUsedService",
        Column::Text,
    ),
    ("cert_1_active", "Cert1Active", Column::Flag),
    ("cert_1_last_rotated", "Cert1LastRotated", Column::Time),
    ("cert_2_active", "Cert2Active", Column::Flag),
    ("cert_2_last_rotated", "Cert2LastRotated", Column::Time),
];

/// A parsed credential report: one row per user, plus the root user's.
#[derive(Debug, Clone, Default)]
pub struct CredentialReport {
    /// User name (or [`ROOT_ROW`]) → the row as an `IAMCredentialReport` object.
    rows: HashMap<String, Value>,
}

impl CredentialReport {
    /// Parses the report's CSV text (header line first).
    pub fn parse(csv_text: &[u8]) -> Result<CredentialReport, String> {
        // Flexible: a short row leaves its missing cells null instead of failing the report.
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(csv_text);
        let header = reader.headers().map_err(|e| e.to_string())?.clone();
        let position = |column: &str| header.iter().position(|h| h.trim() == column);
        let user_column = position("user").ok_or("the report has no `user` column")?;
        let columns: Vec<_> = COLUMNS
            .iter()
            .map(|&(column, key, kind)| (position(column), key, kind))
            .collect();

        let mut rows = HashMap::new();
        for record in reader.records() {
            let record = record.map_err(|e| e.to_string())?;
            let Some(user) = record.get(user_column) else {
                continue;
            };
            let row: Map<String, Value> = columns
                .iter()
                .map(|&(at, key, kind)| {
                    let value = at
                        .and_then(|i| record.get(i))
                        .map_or(Value::Null, |text| cell(text.trim(), kind));
                    (key.to_owned(), value)
                })
                .collect();
            rows.insert(user.to_owned(), Value::Object(row));
        }
        Ok(CredentialReport { rows })
    }

    /// The row of the IAM user `name`.
    pub fn user(&self, name: &str) -> Option<&Value> {
        self.rows.get(name)
    }

    /// The root user's row (real AWS always has one; some emulators do not).
    pub fn root(&self) -> Option<&Value> {
        self.rows.get(ROOT_ROW)
    }
}

/// One cell as the model wants it.
fn cell(text: &str, kind: Column) -> Value {
    match kind {
        Column::Text => Value::String(text.to_owned()),
        Column::Flag => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            // `not_supported` (the root user's password_enabled): unknown, not false.
            _ => Value::Null,
        },
        Column::Time => Value::String(rfc3339_utc(text).unwrap_or_else(|| ZERO_TIME.to_owned())),
    }
}

/// `2024-01-31T12:00:00+00:00` → `2024-01-31T12:00:00Z`; None for `N/A` and friends.
fn rfc3339_utc(text: &str) -> Option<String> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    t.to_offset(time::UtcOffset::UTC).format(&Rfc3339).ok()
}

/// Has IAM build a current report, then fetches and parses it: a fixed number of calls
/// whatever the number of users.
pub async fn fetch(cx: &Collect<'_>, iam: &Client) -> Result<CredentialReport, AwsError> {
    let mut wait = FIRST_WAIT;
    let mut complete = false;
    for _ in 0..GENERATE_TRIES {
        let out = cx
            .call("GenerateCredentialReport", || {
                iam.generate_credential_report().send()
            })
            .await?;
        if out.state() == Some(&ReportStateType::Complete) {
            complete = true;
            break;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(MAX_WAIT);
    }
    if !complete {
        return Err(AwsError {
            operation: "GenerateCredentialReport",
            kind: ErrorKind::Other,
            code: None,
            message: format!(
                "the credential report was still being generated after {GENERATE_TRIES} checks"
            ),
        });
    }

    let out = cx
        .call("GetCredentialReport", || iam.get_credential_report().send())
        .await?;
    let content = out
        .content()
        .ok_or_else(|| AwsError::malformed("GetCredentialReport", "the answer has no report"))?;
    CredentialReport::parse(content.as_ref()).map_err(|e| {
        AwsError::malformed(
            "GetCredentialReport",
            format!("the report is not valid CSV: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Shaped like a real AWS report: a root row with `not_supported` password columns, a
    /// user with a password and one active key, a user with nothing.
    const REPORT: &str = "\
user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
<root_account>,arn:aws:iam::123456789012:root,2019-03-04T05:06:07+00:00,not_supported,2024-05-01T10:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
alice,arn:aws:iam::123456789012:user/alice,2020-01-02T03:04:05+00:00,true,no_information,2020-01-02T03:04:05+00:00,N/A,false,true,2021-06-07T08:09:10+00:00,2024-05-02T11:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
bob,arn:aws:iam::123456789012:user/bob,2020-01-02T03:04:05+02:00,false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,true,2022-02-02T02:02:02+00:00,false,N/A
";

    #[test]
    fn rows_use_model_keys_and_types() {
        let report = CredentialReport::parse(REPORT.as_bytes()).unwrap();
        let alice = report.user("alice").unwrap();
        assert_eq!(
            *alice,
            json!({
                "UserName": "alice", "ARN": "arn:aws:iam::123456789012:user/alice",
                "UserCreationTime": "2020-01-02T03:04:05Z", "PasswordEnabled": true,
                "PasswordLastUsed": ZERO_TIME, "PasswordLastChanged": "2020-01-02T03:04:05Z",
                "PasswordNextRotation": ZERO_TIME, "MfaActive": false,
                "AccessKey1Active": true, "AccessKey1LastRotated": "2021-06-07T08:09:10Z",
                "AccessKey1LastUsedDate": "2024-05-02T11:00:00Z",
                "AccessKey1LastUsedRegion": "us-east-1", "AccessKey1LastUsedService": "s3",
                "AccessKey2Active": false, "AccessKey2LastRotated": ZERO_TIME,
                "AccessKey2LastUsedDate": ZERO_TIME, "AccessKey2LastUsedRegion": "N/A",
                "AccessKey2LastUsedService": "N/A", "Cert1Active": false,
                "Cert1LastRotated": ZERO_TIME, "Cert2Active": false, "Cert2LastRotated": ZERO_TIME,
            })
        );
        let bob = report.user("bob").unwrap();
        assert_eq!(bob["UserCreationTime"], json!("2020-01-02T01:04:05Z"));
        assert_eq!(bob["Cert1Active"], json!(true));
        assert!(report.user("carol").is_none());
    }

    #[test]
    fn root_row_is_found_and_not_supported_is_unknown() {
        let report = CredentialReport::parse(REPORT.as_bytes()).unwrap();
        let root = report.root().unwrap();
        assert_eq!(root["ARN"], json!("arn:aws:iam::123456789012:root"));
        assert_eq!(root["PasswordEnabled"], Value::Null);
        assert_eq!(root["PasswordLastChanged"], json!(ZERO_TIME));
        assert_eq!(root["MfaActive"], json!(true));
        assert!(report.user(ROOT_ROW).is_some());
    }

    #[test]
    fn missing_columns_are_null_and_a_report_without_users_is_an_error() {
        let report =
            CredentialReport::parse(b"user,arn\nalice,arn:aws:iam::1:user/alice\n").unwrap();
        let alice = report.user("alice").unwrap();
        assert_eq!(alice["ARN"], json!("arn:aws:iam::1:user/alice"));
        assert_eq!(alice["AccessKey1Active"], Value::Null);
        assert_eq!(alice.as_object().unwrap().len(), COLUMNS.len());
        let short =
            CredentialReport::parse(b"user,arn,mfa_active\nbob,arn:aws:iam::1:user/bob\n").unwrap();
        assert_eq!(short.user("bob").unwrap()["MfaActive"], Value::Null);
        assert!(CredentialReport::parse(b"name,arn\nx,y\n").is_err());
    }
}
