//! What one SQS message body carries. Palisade's queue receives EventBridge CloudTrail events,
//! S3 notifications of new CloudTrail log files and bare CloudTrail logs, each possibly inside
//! one SNS envelope; [`parse`] reduces all of them to a [`Body`], and [`parse_log`] reads a log
//! file once it has been fetched. Parsing only: no AWS calls (fetching objects, deleting
//! messages) and no interpretation of records (that is [`super::mapping`]'s work).

use std::borrow::Cow;
use std::io::Read;

use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Default cap for [`parse_log`]: CloudTrail files are at most tens of MB uncompressed.
pub const MAX_LOG_BYTES: u64 = 256 * 1024 * 1024;

/// EventBridge detail-types whose `detail` is one CloudTrail record.
const CLOUDTRAIL_DETAIL_TYPES: [&str; 3] = [
    "AWS API Call via CloudTrail",
    "AWS Console Sign In via CloudTrail",
    "AWS Service Event via CloudTrail",
];

/// Folders of a trail's bucket that hold files other than logs: integrity digests and Insight
/// events. Their objects are announced like logs but carry no `Records` to map.
const NOT_LOG_FOLDERS: [&str; 2] = ["/CloudTrail-Digest/", "/CloudTrail-Insight/"];

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// What one queue message asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// CloudTrail records to map.
    Records(Vec<Value>),
    /// CloudTrail log files to fetch and read.
    LogObjects(Vec<LogObject>),
    /// An SNS topic asks the queue to confirm its subscription (a topic deployed by the
    /// events template in a monitored account delivers nothing until this is answered).
    Subscription { topic_arn: String, token: String },
    /// A well-formed message with nothing to do, and why (for the log).
    Nothing(&'static str),
}

/// A CloudTrail log file announced by S3: where to fetch it from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogObject {
    pub bucket: String,
    /// The object key, URL-decoded: ready for `GetObject`.
    pub key: String,
    /// The bucket's region, when the notification says.
    pub region: Option<String>,
    /// The object's size in bytes, when the notification says.
    pub size: Option<u64>,
}

/// Why a message body or a log file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("message is not JSON: {source}")]
    NotJson { source: serde_json::Error },
    #[error("{what} is not a JSON object")]
    NotObject { what: &'static str },
    #[error("SNS notification has no string Message")]
    SnsWithoutMessage,
    #[error("SNS notification's Message is not JSON: {source}")]
    SnsMessageNotJson { source: serde_json::Error },
    #[error("SNS envelope inside an SNS notification: only one level of SNS is expected")]
    NestedSns,
    #[error("SNS message of unknown Type {0:?}")]
    UnknownSnsType(String),
    #[error("SNS subscription confirmation has no string {0}")]
    SubscriptionMissing(&'static str),
    #[error("EventBridge event's detail-type is not a string")]
    DetailTypeNotString,
    #[error("EventBridge {detail_type:?} event has no object detail")]
    NoDetail { detail_type: String },
    #[error("EventBridge S3 Object Created event has no string {0}")]
    S3EventMissing(&'static str),
    #[error("message's Records member is not an array")]
    RecordsNotArray,
    #[error("record #{index} is not a JSON object")]
    RecordNotObject { index: usize },
    #[error("message mixes S3 notification records with CloudTrail records")]
    MixedRecords,
    #[error("S3 notification record #{index} has no string {field}")]
    S3RecordMissing { index: usize, field: &'static str },
    #[error("object key {key:?} is not UTF-8 once URL-decoded")]
    KeyNotUtf8 { key: String },
    #[error(
        "message is neither an SNS envelope, an EventBridge event, an S3 notification nor a \
         CloudTrail log (members: {members})"
    )]
    Unrecognized { members: String },
    #[error("log file is not valid gzip: {source}")]
    Gzip { source: std::io::Error },
    #[error("log file is over {max_bytes} bytes uncompressed")]
    LogTooLarge { max_bytes: u64 },
    #[error("log file is not JSON: {source}")]
    LogNotJson { source: serde_json::Error },
    #[error("log file is not a CloudTrail log ({{\"Records\":[…]}}): {source}")]
    LogShape { source: serde_json::Error },
    #[error("log file has no Records array")]
    LogWithoutRecords,
}

/// Reads one queue message body.
pub fn parse(body: &str) -> Result<Body, MessageError> {
    let value = serde_json::from_str(body).map_err(|source| MessageError::NotJson { source })?;
    classify(value, false)
}

/// The records of a CloudTrail log file: gzip-compressed (detected by the gzip magic bytes) or
/// plain JSON `{"Records":[…]}`. The uncompressed size is capped at `max_bytes`: decompression
/// reads at most one byte past the cap, so a gzip bomb fails instead of exhausting memory.
pub fn parse_log(bytes: &[u8], max_bytes: u64) -> Result<Vec<Value>, MessageError> {
    let json: Cow<'_, [u8]> = if bytes.starts_with(&GZIP_MAGIC) {
        let mut out = Vec::new();
        MultiGzDecoder::new(bytes)
            .take(max_bytes.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|source| MessageError::Gzip { source })?;
        Cow::Owned(out)
    } else {
        Cow::Borrowed(bytes)
    };
    if json.len() as u64 > max_bytes {
        return Err(MessageError::LogTooLarge { max_bytes });
    }

    /// Only `Records` is read; other members are skipped without being built.
    #[derive(Deserialize)]
    struct LogFile {
        #[serde(rename = "Records")]
        records: Option<Vec<Value>>,
    }
    let file: LogFile = serde_json::from_slice(&json).map_err(|source| {
        if source.is_data() {
            MessageError::LogShape { source }
        } else {
            MessageError::LogNotJson { source }
        }
    })?;
    let records = file.records.ok_or(MessageError::LogWithoutRecords)?;
    if let Some(index) = records.iter().position(|r| !r.is_object()) {
        return Err(MessageError::RecordNotObject { index });
    }
    Ok(records)
}

/// Sorts a decoded message (or an SNS notification's inner message) into its form.
fn classify(value: Value, inside_sns: bool) -> Result<Body, MessageError> {
    let Value::Object(mut message) = value else {
        let what = if inside_sns {
            "SNS notification's Message"
        } else {
            "message"
        };
        return Err(MessageError::NotObject { what });
    };
    if is_sns_envelope(&message) {
        if inside_sns {
            return Err(MessageError::NestedSns);
        }
        return sns(message);
    }
    if message.contains_key("detail-type") {
        return eventbridge(message);
    }
    if let Some(records) = message.remove("Records") {
        return records_body(records);
    }
    if message.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Body::Nothing("S3 test event"));
    }
    Err(MessageError::Unrecognized {
        members: member_list(&message),
    })
}

/// SNS envelopes carry a string `Type` and a `TopicArn` (and a `MessageId`); nothing else this
/// module reads has a `Type` member.
fn is_sns_envelope(message: &Map<String, Value>) -> bool {
    message.get("Type").is_some_and(Value::is_string)
        && (message.contains_key("TopicArn") || message.contains_key("MessageId"))
}

fn sns(mut envelope: Map<String, Value>) -> Result<Body, MessageError> {
    match envelope.get("Type").and_then(Value::as_str).unwrap_or("") {
        "Notification" => {
            let Some(Value::String(inner)) = envelope.remove("Message") else {
                return Err(MessageError::SnsWithoutMessage);
            };
            let inner = serde_json::from_str(&inner)
                .map_err(|source| MessageError::SnsMessageNotJson { source })?;
            classify(inner, true)
        }
        "SubscriptionConfirmation" => {
            let mut text = |field: &'static str| match envelope.remove(field) {
                Some(Value::String(value)) if !value.is_empty() => Ok(value),
                _ => Err(MessageError::SubscriptionMissing(field)),
            };
            Ok(Body::Subscription {
                topic_arn: text("TopicArn")?,
                token: text("Token")?,
            })
        }
        "UnsubscribeConfirmation" => Ok(Body::Nothing("SNS unsubscribe confirmation")),
        other => Err(MessageError::UnknownSnsType(other.to_owned())),
    }
}

fn eventbridge(mut event: Map<String, Value>) -> Result<Body, MessageError> {
    let Some(Value::String(detail_type)) = event.get("detail-type") else {
        return Err(MessageError::DetailTypeNotString);
    };
    let detail_type = detail_type.clone();

    if CLOUDTRAIL_DETAIL_TYPES.contains(&detail_type.as_str()) {
        let Some(Value::Object(mut record)) = event.remove("detail") else {
            return Err(MessageError::NoDetail { detail_type });
        };
        // The record names its account and region itself; the envelope's copies only fill in
        // for a record that lacks them.
        for (field, envelope_field) in [("recipientAccountId", "account"), ("awsRegion", "region")]
        {
            if !record.contains_key(field)
                && let Some(value @ Value::String(_)) = event.get(envelope_field)
            {
                record.insert(field.to_owned(), value.clone());
            }
        }
        return Ok(Body::Records(vec![Value::Object(record)]));
    }

    let from_s3 = event.get("source").and_then(Value::as_str) == Some("aws.s3");
    if detail_type == "Object Created" && from_s3 {
        let detail = match event.remove("detail") {
            Some(detail @ Value::Object(_)) => detail,
            _ => return Err(MessageError::NoDetail { detail_type }),
        };
        let text = |pointer, what| {
            detail
                .pointer(pointer)
                .and_then(Value::as_str)
                .ok_or(MessageError::S3EventMissing(what))
        };
        // EventBridge's S3 events carry the key as stored, not URL-encoded like notifications.
        let object = LogObject {
            bucket: text("/bucket/name", "detail.bucket.name")?.to_owned(),
            key: text("/object/key", "detail.object.key")?.to_owned(),
            region: event
                .get("region")
                .and_then(Value::as_str)
                .map(str::to_owned),
            size: detail.pointer("/object/size").and_then(Value::as_u64),
        };
        return Ok(if is_log_key(&object.key) {
            Body::LogObjects(vec![object])
        } else {
            Body::Nothing("CloudTrail digest or Insight file")
        });
    }

    Ok(Body::Nothing(
        "EventBridge event of a kind Palisade does not use",
    ))
}

/// A `Records` array: S3 notification records (which carry an `s3` member and `eventSource`
/// `aws:s3`) or CloudTrail records (whose `eventSource` is a service endpoint).
fn records_body(records: Value) -> Result<Body, MessageError> {
    let Value::Array(records) = records else {
        return Err(MessageError::RecordsNotArray);
    };
    if let Some(index) = records.iter().position(|r| !r.is_object()) {
        return Err(MessageError::RecordNotObject { index });
    }
    let s3_records = records.iter().filter(|r| is_s3_record(r)).count();
    match s3_records {
        _ if records.is_empty() => Ok(Body::Nothing("empty Records array")),
        0 => Ok(Body::Records(records)),
        n if n == records.len() => s3_notification(&records),
        _ => Err(MessageError::MixedRecords),
    }
}

fn is_s3_record(record: &Value) -> bool {
    record.get("s3").is_some()
        || record.get("eventSource").and_then(Value::as_str) == Some("aws:s3")
}

fn s3_notification(records: &[Value]) -> Result<Body, MessageError> {
    let mut objects = Vec::new();
    let mut created = false;
    for (index, record) in records.iter().enumerate() {
        let event_name = record.get("eventName").and_then(Value::as_str);
        if !event_name.is_some_and(|name| name.starts_with("ObjectCreated:")) {
            continue;
        }
        created = true;
        let text = |pointer, field| {
            record
                .pointer(pointer)
                .and_then(Value::as_str)
                .ok_or(MessageError::S3RecordMissing { index, field })
        };
        let bucket = text("/s3/bucket/name", "s3.bucket.name")?.to_owned();
        let key = decode_key(text("/s3/object/key", "s3.object.key")?)?;
        if is_log_key(&key) {
            objects.push(LogObject {
                bucket,
                key,
                region: record
                    .get("awsRegion")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                size: record.pointer("/s3/object/size").and_then(Value::as_u64),
            });
        }
    }
    Ok(match (objects.is_empty(), created) {
        (false, _) => Body::LogObjects(objects),
        (true, true) => Body::Nothing("CloudTrail digest or Insight files only"),
        (true, false) => Body::Nothing("S3 notification of no object creation"),
    })
}

/// Notifications URL-encode keys in form style: `+` is a space, `%xx` an escaped byte (so a
/// literal `+` arrives as `%2B`, which is why `+` is replaced before percent-decoding).
fn decode_key(raw: &str) -> Result<String, MessageError> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| MessageError::KeyNotUtf8 {
            key: raw.to_owned(),
        })
}

fn is_log_key(key: &str) -> bool {
    !NOT_LOG_FOLDERS.iter().any(|folder| key.contains(folder))
}

/// The first few member names of an unrecognised message, for its error.
fn member_list(message: &Map<String, Value>) -> String {
    const SHOWN: usize = 8;
    if message.is_empty() {
        return "none".to_owned();
    }
    let mut names: Vec<&str> = message.keys().take(SHOWN).map(String::as_str).collect();
    if message.len() > SHOWN {
        names.push("…");
    }
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;
    use serde_json::json;

    use super::*;

    const TRAIL_KEY: &str = "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/27/\
                             123456789012_CloudTrail_us-east-1_20261127T1200Z_abc.json.gz";

    fn cloudtrail_record(event_name: &str) -> Value {
        json!({
            "eventVersion": "1.09",
            "eventSource": "ec2.amazonaws.com",
            "eventName": event_name,
            "awsRegion": "us-east-1",
            "recipientAccountId": "123456789012",
            "requestParameters": {"groupId": "sg-0123456789abcdef0"},
        })
    }

    fn eventbridge_event(detail_type: &str, source: &str, detail: Value) -> Value {
        json!({
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": detail_type,
            "source": source,
            "account": "123456789012",
            "time": "2026-11-27T12:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": detail,
        })
    }

    fn s3_notification_body(event_name: &str, key: &str) -> Value {
        json!({"Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": "2026-11-27T12:05:00.000Z",
            "eventName": event_name,
            "s3": {
                "s3SchemaVersion": "1.0",
                "bucket": {"name": "trail-bucket", "arn": "arn:aws:s3:::trail-bucket"},
                "object": {"key": key, "size": 1234},
            },
        }]})
    }

    fn sns_wrapped(inner: &Value) -> Value {
        json!({
            "Type": "Notification",
            "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:palisade-events",
            "Message": inner.to_string(),
            "Timestamp": "2026-11-27T12:00:01.000Z",
            "SignatureVersion": "1",
        })
    }

    /// Parses `inner` as sent directly and inside an SNS envelope; both must agree.
    fn parse_both_ways(inner: &Value) -> Body {
        let direct = parse(&inner.to_string()).unwrap();
        let wrapped = parse(&sns_wrapped(inner).to_string()).unwrap();
        assert_eq!(direct, wrapped, "SNS wrapping changed the result");
        direct
    }

    fn trail_object(key: &str) -> LogObject {
        LogObject {
            bucket: "trail-bucket".into(),
            key: key.into(),
            region: Some("us-east-1".into()),
            size: Some(1234),
        }
    }

    fn error_text(body: &str) -> String {
        parse(body).unwrap_err().to_string()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn cloudtrail_events_from_eventbridge_become_their_records() {
        for detail_type in CLOUDTRAIL_DETAIL_TYPES {
            let record = cloudtrail_record("AuthorizeSecurityGroupIngress");
            let event = eventbridge_event(detail_type, "aws.ec2", record.clone());
            assert_eq!(
                parse_both_ways(&event),
                Body::Records(vec![record]),
                "{detail_type}"
            );
        }
    }

    #[test]
    fn the_envelope_fills_in_a_record_without_account_or_region() {
        let mut record = cloudtrail_record("CreateKey");
        let fields = record.as_object_mut().unwrap();
        fields.remove("recipientAccountId");
        fields.remove("awsRegion");
        let event = eventbridge_event("AWS API Call via CloudTrail", "aws.kms", record);
        let Body::Records(records) = parse_both_ways(&event) else {
            panic!("expected records");
        };
        assert_eq!(records[0]["recipientAccountId"], "123456789012");
        assert_eq!(records[0]["awsRegion"], "us-east-1");
    }

    #[test]
    fn other_eventbridge_events_ask_for_nothing() {
        let event = eventbridge_event(
            "EC2 Instance State-change Notification",
            "aws.ec2",
            json!({"instance-id": "i-0123456789abcdef0", "state": "running"}),
        );
        assert!(matches!(parse_both_ways(&event), Body::Nothing(_)));
        // An "Object Created" event from elsewhere than S3 is not a log file either.
        let event = eventbridge_event("Object Created", "custom.app", json!({}));
        assert!(matches!(parse_both_ways(&event), Body::Nothing(_)));
    }

    #[test]
    fn eventbridge_s3_object_created_announces_a_log_file() {
        let event = eventbridge_event(
            "Object Created",
            "aws.s3",
            json!({
                "version": "0",
                "bucket": {"name": "trail-bucket"},
                "object": {"key": TRAIL_KEY, "size": 1234, "etag": "b1946ac9"},
                "reason": "PutObject",
            }),
        );
        assert_eq!(
            parse_both_ways(&event),
            Body::LogObjects(vec![trail_object(TRAIL_KEY)])
        );
    }

    #[test]
    fn eventbridge_s3_digest_files_are_skipped() {
        let key = "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/11/27/digest.json.gz";
        let event = eventbridge_event(
            "Object Created",
            "aws.s3",
            json!({"bucket": {"name": "trail-bucket"}, "object": {"key": key}}),
        );
        assert_eq!(
            parse_both_ways(&event),
            Body::Nothing("CloudTrail digest or Insight file")
        );
    }

    #[test]
    fn s3_notifications_announce_log_files() {
        let body = s3_notification_body("ObjectCreated:Put", TRAIL_KEY);
        assert_eq!(
            parse_both_ways(&body),
            Body::LogObjects(vec![trail_object(TRAIL_KEY)])
        );
    }

    #[test]
    fn s3_notification_keys_are_url_decoded() {
        let body = s3_notification_body(
            "ObjectCreated:CompleteMultipartUpload",
            "my+logs/AWSLogs/o-abc%3A1/x%2By.json.gz",
        );
        assert_eq!(
            parse_both_ways(&body),
            Body::LogObjects(vec![trail_object("my logs/AWSLogs/o-abc:1/x+y.json.gz")])
        );
    }

    #[test]
    fn s3_notifications_of_digests_insights_and_removals_ask_for_nothing() {
        for key in [
            "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/11/27/digest.json.gz",
            "AWSLogs/123456789012/CloudTrail-Insight/us-east-1/2026/11/27/insight.json.gz",
        ] {
            let body = s3_notification_body("ObjectCreated:Put", key);
            assert_eq!(
                parse_both_ways(&body),
                Body::Nothing("CloudTrail digest or Insight files only"),
                "{key}"
            );
        }
        let body = s3_notification_body("ObjectRemoved:Delete", TRAIL_KEY);
        assert_eq!(
            parse_both_ways(&body),
            Body::Nothing("S3 notification of no object creation")
        );
    }

    #[test]
    fn a_notification_keeps_its_logs_and_drops_its_digests() {
        let mut body = s3_notification_body("ObjectCreated:Put", TRAIL_KEY);
        let mut digest = body["Records"][0].clone();
        digest["s3"]["object"]["key"] = "AWSLogs/1/CloudTrail-Digest/d.json.gz".into();
        body["Records"].as_array_mut().unwrap().insert(0, digest);
        assert_eq!(
            parse_both_ways(&body),
            Body::LogObjects(vec![trail_object(TRAIL_KEY)])
        );
    }

    #[test]
    fn the_s3_test_event_asks_for_nothing() {
        let body = json!({
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": "2026-11-27T12:00:00.000Z",
            "Bucket": "trail-bucket",
            "RequestId": "5582815E1AEA5ADF",
            "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
        });
        assert_eq!(parse_both_ways(&body), Body::Nothing("S3 test event"));
    }

    #[test]
    fn a_subscription_confirmation_carries_its_topic_and_token() {
        let mut body = json!({
            "Type": "SubscriptionConfirmation",
            "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
            "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:palisade-events",
            "Message": "You have chosen to subscribe to the topic ...",
            "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
        });
        assert_eq!(
            parse(&body.to_string()).unwrap(),
            Body::Subscription {
                topic_arn: "arn:aws:sns:us-east-1:123456789012:palisade-events".into(),
                token: "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92".into(),
            }
        );
        body["Token"] = json!("");
        let err = parse(&body.to_string()).unwrap_err().to_string();
        assert!(err.contains("no string Token"), "{err}");
    }

    #[test]
    fn an_unsubscribe_confirmation_asks_for_nothing() {
        let body = json!({
            "Type": "UnsubscribeConfirmation",
            "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
            "Token": "2336412f",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:palisade-events",
        });
        let Body::Nothing(reason) = parse(&body.to_string()).unwrap() else {
            panic!("expected nothing to do");
        };
        assert!(reason.contains("unsubscribe confirmation"), "{reason}");
    }

    #[test]
    fn a_bare_cloudtrail_log_body_is_records() {
        let records = vec![
            cloudtrail_record("RunInstances"),
            json!({"eventVersion": "1.09", "eventSource": "iam.amazonaws.com", "eventName": "CreateRole"}),
        ];
        let body = json!({"Records": records.clone()});
        assert_eq!(parse_both_ways(&body), Body::Records(records));
        // An S3 API call is a CloudTrail record too, not an S3 notification.
        let s3_call = json!({"eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy"});
        let body = json!({"Records": [s3_call.clone()]});
        assert_eq!(parse_both_ways(&body), Body::Records(vec![s3_call]));
        assert_eq!(
            parse_both_ways(&json!({"Records": []})),
            Body::Nothing("empty Records array")
        );
    }

    #[test]
    fn malformed_messages_say_what_is_wrong() {
        let ct = || eventbridge_event("AWS API Call via CloudTrail", "aws.ec2", Value::Null);
        let mut s3_without_key = s3_notification_body("ObjectCreated:Put", "k");
        s3_without_key["Records"][0]["s3"]["object"]
            .as_object_mut()
            .unwrap()
            .remove("key");
        let mut s3_without_bucket = s3_notification_body("ObjectCreated:Put", "k");
        s3_without_bucket["Records"][0]["s3"]
            .as_object_mut()
            .unwrap()
            .remove("bucket");
        let mut mixed = s3_notification_body("ObjectCreated:Put", TRAIL_KEY);
        mixed["Records"]
            .as_array_mut()
            .unwrap()
            .push(cloudtrail_record("RunInstances"));
        let mut no_message = sns_wrapped(&json!({}));
        no_message["Message"] = json!({"Records": []});
        let mut not_json = sns_wrapped(&json!({}));
        not_json["Message"] = "<oops/>".into();
        let mut bad_type = sns_wrapped(&json!({}));
        bad_type["Type"] = "Gossip".into();
        let s3_created_without_bucket = eventbridge_event(
            "Object Created",
            "aws.s3",
            json!({"object": {"key": TRAIL_KEY}}),
        );

        let cases: Vec<(String, &str)> = vec![
            ("".into(), "message is not JSON: EOF while parsing"),
            (
                "<xml/>".into(),
                "message is not JSON: expected value at line 1 column 1",
            ),
            ("[1, 2]".into(), "message is not a JSON object"),
            (
                no_message.to_string(),
                "SNS notification has no string Message",
            ),
            (
                not_json.to_string(),
                "SNS notification's Message is not JSON: expected value at line 1 column 1",
            ),
            (
                sns_wrapped(&json!([1])).to_string(),
                "SNS notification's Message is not a JSON object",
            ),
            (
                sns_wrapped(&sns_wrapped(&ct())).to_string(),
                "SNS envelope inside an SNS notification",
            ),
            (
                bad_type.to_string(),
                "SNS message of unknown Type \"Gossip\"",
            ),
            (
                ct().to_string(),
                "EventBridge \"AWS API Call via CloudTrail\" event has no object detail",
            ),
            (
                json!({"detail-type": 7}).to_string(),
                "detail-type is not a string",
            ),
            (
                s3_created_without_bucket.to_string(),
                "S3 Object Created event has no string detail.bucket.name",
            ),
            (
                s3_without_key.to_string(),
                "S3 notification record #0 has no string s3.object.key",
            ),
            (
                s3_without_bucket.to_string(),
                "S3 notification record #0 has no string s3.bucket.name",
            ),
            (
                s3_notification_body("ObjectCreated:Put", "bad%FF").to_string(),
                "object key \"bad%FF\" is not UTF-8 once URL-decoded",
            ),
            (mixed.to_string(), "mixes S3 notification records"),
            (
                json!({"Records": {"a": 1}}).to_string(),
                "Records member is not an array",
            ),
            (
                json!({"Records": [{}, 3]}).to_string(),
                "record #1 is not a JSON object",
            ),
            (json!({"hello": "world"}).to_string(), "(members: hello)"),
        ];
        for (body, expected) in cases {
            let text = error_text(&body);
            assert!(
                text.contains(expected),
                "{body}\n  gave {text:?}\n  wanted {expected:?}"
            );
        }
    }

    #[test]
    fn gzip_logs_round_trip() {
        let records = vec![
            cloudtrail_record("CreateSecurityGroup"),
            cloudtrail_record("DeleteVpc"),
        ];
        let log = json!({"Records": records.clone()}).to_string();
        assert_eq!(
            parse_log(&gzip(log.as_bytes()), MAX_LOG_BYTES).unwrap(),
            records
        );
    }

    #[test]
    fn plain_json_logs_are_read_too() {
        let records = vec![cloudtrail_record("ModifyInstanceAttribute")];
        let log = json!({"Records": records.clone(), "extra": {"ignored": true}}).to_string();
        assert_eq!(parse_log(log.as_bytes(), MAX_LOG_BYTES).unwrap(), records);
    }

    #[test]
    fn log_size_is_capped_before_and_after_decompression() {
        let log = json!({"Records": [cloudtrail_record("RunInstances")]}).to_string();
        let cap = log.len() as u64 - 1;
        for bytes in [log.as_bytes().to_vec(), gzip(log.as_bytes())] {
            let err = parse_log(&bytes, cap).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("log file is over {cap} bytes uncompressed")
            );
        }
        // Exactly at the cap is fine.
        assert!(parse_log(&gzip(log.as_bytes()), log.len() as u64).is_ok());
    }

    #[test]
    fn a_gzip_bomb_fails_without_inflating() {
        // 300 MB of zeros: one member of 4 MB, repeated (gzip members concatenate).
        let member = gzip(&vec![0; 4 << 20]);
        let bomb: Vec<u8> = member
            .iter()
            .copied()
            .cycle()
            .take(member.len() * 75)
            .collect();
        let started = std::time::Instant::now();
        let err = parse_log(&bomb, 1 << 20).unwrap_err();
        assert!(matches!(err, MessageError::LogTooLarge { max_bytes } if max_bytes == 1 << 20));
        assert!(
            started.elapsed().as_secs() < 10,
            "took {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_truncated_gzip_fails() {
        let log = json!({"Records": [cloudtrail_record("RunInstances")]}).to_string();
        let compressed = gzip(log.as_bytes());
        let err = parse_log(&compressed[..compressed.len() / 2], MAX_LOG_BYTES).unwrap_err();
        assert!(
            err.to_string().starts_with("log file is not valid gzip:"),
            "{err}"
        );
    }

    #[test]
    fn malformed_logs_say_what_is_wrong() {
        let cases: [(&[u8], &str); 5] = [
            (
                b"{\"Records\": [",
                "log file is not JSON: EOF while parsing",
            ),
            (b"[1]", "log file is not a CloudTrail log"),
            (b"{\"Records\": 5}", "log file is not a CloudTrail log"),
            (b"{\"other\": []}", "log file has no Records array"),
            (
                b"{\"Records\": [{}, \"x\"]}",
                "record #1 is not a JSON object",
            ),
        ];
        for (bytes, expected) in cases {
            let text = parse_log(bytes, MAX_LOG_BYTES).unwrap_err().to_string();
            assert!(text.contains(expected), "{text:?} lacks {expected:?}");
        }
    }
}
