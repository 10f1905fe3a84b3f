//! The real-time path end to end: the service consumes an SQS queue in the emulator; a change
//! made through the AWS API plus the matching event (EventBridge form, and a CloudTrail log file
//! in S3 announced by an SNS-wrapped S3 notification) flips the finding, and the alert reaches a
//! webhook receiver run by the test. Malformed, duplicate and foreign-account messages are
//! handled without loss or crash.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::service::{Config, Service};
use crate::support::{Env, emulator};

const SSH_RULE: &str = "AWS.SecurityGroup.AdministrativeIngress";
const ENCRYPTION_RULE: &str = "AWS.S3.Bucket.Encryption";

/// A loopback HTTP receiver that answers 204 and keeps every JSON body posted to it.
struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/alerts", listener.local_addr().expect("addr"));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = bodies.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    if let Some(body) = read_request(&mut socket).await {
                        kept.lock().unwrap().push(body);
                    }
                    let reply =
                        "HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                    let _ = socket.write_all(reply.as_bytes()).await;
                });
            }
        });
        Receiver { url, bodies }
    }

    fn alerts(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}

/// The JSON body of one HTTP/1.1 request with a content length.
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Value> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        let Some(end) = text.find("\r\n\r\n") else {
            continue;
        };
        let length: usize = text[..end]
            .lines()
            .find_map(|l| {
                let l = l.to_ascii_lowercase();
                l.strip_prefix("content-length:")
                    .map(|v| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        if buf.len() >= end + 4 + length {
            return serde_json::from_slice(&buf[end + 4..end + 4 + length]).ok();
        }
    }
}

/// The emulator's SQS queue the service consumes, created by the host identity.
async fn create_queue(env: &Env, name: &str) -> String {
    let out = env
        .host
        .sqs("us-east-1")
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create queue");
    out.queue_url.expect("queue url")
}

async fn post(env: &Env, queue_url: &str, body: &Value) {
    post_text(env, queue_url, &body.to_string()).await;
}

async fn post_text(env: &Env, queue_url: &str, body: &str) {
    env.host
        .sqs("us-east-1")
        .send_message()
        .queue_url(queue_url)
        .message_body(body)
        .send()
        .await
        .expect("send message");
}

/// A CloudTrail record as AWS writes it, for a call made by an IAM user of `account_id`.
fn record(account_id: &str, source: &str, name: &str, params: Value, response: Value) -> Value {
    json!({
        "eventVersion": "1.10",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": format!("arn:aws:iam::{account_id}:user/ops"),
            "accountId": account_id,
            "userName": "ops"
        },
        "eventTime": "2026-11-27T12:00:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.17",
        "requestParameters": params,
        "responseElements": response,
        "requestID": format!("req-{name}"),
        "eventID": format!("{name}-{}", params),
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": account_id,
        "eventCategory": "Management"
    })
}

/// The EventBridge form: the record under `detail`.
fn eventbridge(record: &Value) -> Value {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "AWS API Call via CloudTrail",
        "source": format!("aws.{}", record["eventSource"].as_str().unwrap().split('.').next().unwrap()),
        "account": record["recipientAccountId"],
        "time": "2026-11-27T12:00:01Z",
        "region": "us-east-1",
        "resources": [],
        "detail": record
    })
}

/// The finding of `rule` on the resource whose id contains `resource`, if any.
async fn finding(service: &Service, account_id: &str, rule: &str, resource: &str) -> Option<Value> {
    let (status, page) = service
        .get(&format!(
            "/api/v1/findings?account={account_id}&rule={rule}&limit=500"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"]
        .as_array()?
        .iter()
        .find(|f| {
            f["resource_id"]
                .as_str()
                .is_some_and(|id| id.contains(resource))
        })
        .cloned()
}

async fn wait_status(
    service: &Service,
    account_id: &str,
    rule: &str,
    resource: &str,
    status: &str,
) {
    service
        .wait_for(
            &format!("{rule} on {resource} to be {status}"),
            Duration::from_secs(30),
            || async {
                let f = finding(service, account_id, rule, resource).await?;
                (f["status"] == status).then_some(())
            },
        )
        .await;
}

async fn wait_alert(
    service: &Service,
    receiver: &Receiver,
    kind: &str,
    rule: &str,
    resource: &str,
) -> Value {
    service
        .wait_for(
            &format!("a {kind} alert of {rule} on {resource}"),
            Duration::from_secs(30),
            || async {
                receiver.alerts().into_iter().find(|a| {
                    a["kind"] == kind
                        && a["rule_id"] == rule
                        && a["resource_id"]
                            .as_str()
                            .is_some_and(|id| id.contains(resource))
                })
            },
        )
        .await
}

fn gzip(text: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).expect("gzip");
    gz.finish().expect("gzip")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_flip_findings_and_alert_a_webhook() {
    let env = Env::new().await;
    let id = env.account.account_id.clone();
    let queue_url = create_queue(&env, &format!("events-{id}")).await;
    let receiver = Receiver::start().await;

    // A bucket with default encryption (passes) and a security group with no ingress (passes).
    let s3 = env.session.s3("us-east-1");
    let bucket = format!("data-{id}");
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("bucket");
    crate::support::encrypt(&env, &bucket).await;
    let ec2 = env.session.ec2("us-east-1");
    let group = ec2
        .create_security_group()
        .group_name(format!("web-{id}"))
        .description("web")
        .send()
        .await
        .expect("security group")
        .group_id
        .expect("group id");

    let data = tempfile::tempdir().expect("tempdir");
    let config = Config {
        endpoint: emulator().endpoint.clone(),
        extra_args: vec![
            "--region".into(),
            "us-east-1".into(),
            "--events-queue-url".into(),
            queue_url.clone(),
            "--events-debounce-ms".into(),
            "300".into(),
            "--events-wait-secs".into(),
            "1".into(),
            "--alert-webhook".into(),
            receiver.url.clone(),
            "--public-url".into(),
            "https://palisade.test".into(),
        ],
        ..Config::default()
    };
    let service = Service::start(data.path(), &config);
    let created = service.add_account(&env.account, true).await;
    let job = service
        .wait_for_scan(created["scan"]["id"].as_str().expect("job id"))
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    wait_status(&service, &id, SSH_RULE, &group, "pass").await;
    wait_status(&service, &id, ENCRYPTION_RULE, &bucket, "pass").await;
    assert!(
        receiver.alerts().is_empty(),
        "the baseline scan raises no alerts"
    );

    // 1. SSH opened to the world, then the EventBridge event for it.
    ec2.authorize_security_group_ingress()
        .group_id(&group)
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .cidr_ip("0.0.0.0/0")
        .send()
        .await
        .expect("authorize");
    let opened = record(
        &id,
        "ec2.amazonaws.com",
        "AuthorizeSecurityGroupIngress",
        json!({"groupId": group, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}),
        json!({"_return": true}),
    );
    post(&env, &queue_url, &eventbridge(&opened)).await;
    wait_status(&service, &id, SSH_RULE, &group, "fail").await;
    let alert = wait_alert(&service, &receiver, "failing", SSH_RULE, &group).await;
    assert_eq!(alert["account_id"], id.as_str(), "{alert}");
    assert_eq!(alert["region"], "us-east-1", "{alert}");
    assert_eq!(alert["previous"], "pass", "{alert}");
    assert!(
        alert["severity"].is_string() && alert["message"].is_string(),
        "{alert}"
    );
    assert!(
        alert["link"]
            .as_str()
            .unwrap()
            .starts_with(&format!("https://palisade.test/api/v1/resources/{id}/")),
        "{alert}"
    );

    // The same event delivered again, and an event of an account not onboarded: no new alert.
    post(&env, &queue_url, &eventbridge(&opened)).await;
    let mut foreign = opened.clone();
    foreign["recipientAccountId"] = json!("000000000000");
    foreign["eventID"] = json!("foreign-1");
    post(&env, &queue_url, &eventbridge(&foreign)).await;
    // A message that is not JSON is set aside, not lost and not fatal.
    post_text(&env, &queue_url, "{not json").await;

    // 2. Encryption removed; the record arrives in a CloudTrail log file in S3, announced by an
    //    S3 notification inside an SNS envelope.
    s3.delete_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .expect("remove encryption");
    let trail_bucket = format!("trail-{id}");
    s3.create_bucket()
        .bucket(&trail_bucket)
        .send()
        .await
        .expect("trail bucket");
    let removed = record(
        &id,
        "s3.amazonaws.com",
        "DeleteBucketEncryption",
        json!({"bucketName": bucket, "Host": format!("{bucket}.s3.amazonaws.com"), "encryption": ""}),
        Value::Null,
    );
    let key = format!(
        "AWSLogs/{id}/CloudTrail/us-east-1/2026/11/27/{id}_CloudTrail_us-east-1_20261127T1205Z_x1.json.gz"
    );
    s3.put_object()
        .bucket(&trail_bucket)
        .key(&key)
        .body(gzip(&json!({"Records": [removed]}).to_string()).into())
        .send()
        .await
        .expect("put log");
    let notification = json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-27T12:05:30.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": trail_bucket, "arn": format!("arn:aws:s3:::{trail_bucket}")},
            "object": {"key": key, "size": 512}
        }
    }]});
    let sns = json!({
        "Type": "Notification",
        "MessageId": "5b6a0b0c-52a7-4a1e-9b44-0a1d5d0f3e21",
        "TopicArn": format!("arn:aws:sns:us-east-1:{id}:palisade-events"),
        "Message": notification.to_string(),
        "Timestamp": "2026-11-27T12:05:31.000Z",
        "SignatureVersion": "1"
    });
    post(&env, &queue_url, &sns).await;
    wait_status(&service, &id, ENCRYPTION_RULE, &bucket, "fail").await;
    wait_alert(&service, &receiver, "failing", ENCRYPTION_RULE, &bucket).await;

    // 3. SSH closed again: the finding passes and a resolved alert follows.
    ec2.revoke_security_group_ingress()
        .group_id(&group)
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .cidr_ip("0.0.0.0/0")
        .send()
        .await
        .expect("revoke");
    let closed = record(
        &id,
        "ec2.amazonaws.com",
        "RevokeSecurityGroupIngress",
        json!({"groupId": group}),
        json!({"_return": true}),
    );
    post(&env, &queue_url, &eventbridge(&closed)).await;
    wait_status(&service, &id, SSH_RULE, &group, "pass").await;
    wait_alert(&service, &receiver, "resolved", SSH_RULE, &group).await;

    // One alert per transition, whatever was delivered twice.
    let ssh_failing = receiver
        .alerts()
        .iter()
        .filter(|a| a["kind"] == "failing" && a["rule_id"] == SSH_RULE)
        .count();
    assert_eq!(ssh_failing, 1, "{:?}", receiver.alerts());

    let (_, events) = service.get("/api/v1/events").await;
    let stats = &events["stats"];
    assert_eq!(events["enabled"], true, "{events}");
    assert!(stats["duplicates"].as_u64().unwrap() >= 1, "{events}");
    assert!(
        stats["ignored"]["not_onboarded"].as_u64().unwrap() >= 1,
        "{events}"
    );
    assert_eq!(stats["rejected"], 1, "{events}");
    assert_eq!(stats["log_files"], 1, "{events}");
    let (_, rejected) = service.get("/api/v1/events/rejected").await;
    assert_eq!(rejected.as_array().unwrap().len(), 1, "{rejected}");
    assert_eq!(rejected[0]["body"], "{not json", "{rejected}");
    assert!(
        rejected[0]["reason"].as_str().unwrap().contains("JSON"),
        "{rejected}"
    );

    // Alerts are listed with their delivery.
    let (_, alerts) = service.get("/api/v1/alerts").await;
    let alerts = alerts.as_array().unwrap();
    assert_eq!(alerts.len(), 3, "{alerts:?}");
    assert!(
        alerts
            .iter()
            .all(|a| a["deliveries"][0]["state"] == "delivered"),
        "{alerts:?}"
    );

    // The same counters, for Prometheus.
    let (status, metrics) = service.get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let metrics = metrics.as_str().expect("text");
    for line in [
        "palisade_alerts_failing_total 2",
        "palisade_alerts_resolved_total 1",
        "palisade_alert_deliveries_total 3",
        "palisade_event_messages_rejected_total 1",
        "palisade_event_log_files_total 1",
        "palisade_event_records_ignored_total{reason=\"not_onboarded\"} 1",
        "palisade_event_targets_pending 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no {line:?} in:\n{metrics}"
        );
    }

    // The queue is drained: every message was deleted once its work was stored.
    let left = env
        .host
        .sqs("us-east-1")
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .expect("attributes");
    let attrs = left.attributes.unwrap_or_default();
    for name in [
        aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
        aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ] {
        assert_eq!(attrs.get(&name).map(String::as_str), Some("0"), "{attrs:?}");
    }
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_queue_is_reported_and_the_service_carries_on() {
    let data = tempfile::tempdir().expect("tempdir");
    let config = Config {
        extra_args: vec![
            "--events-queue-url".into(),
            "http://127.0.0.1:1/123456789012/gone".into(),
            "--events-wait-secs".into(),
            "1".into(),
        ],
        ..Config::default()
    };
    let service = Service::start(data.path(), &config);
    let events = service
        .wait_for(
            "the receive error to show",
            Duration::from_secs(60),
            || async {
                let (status, events) = service.get("/api/v1/events").await;
                assert_eq!(status, StatusCode::OK, "{events}");
                events["stats"]["receive_error"]
                    .is_string()
                    .then_some(events)
            },
        )
        .await;
    assert_eq!(events["enabled"], true, "{events}");
    assert_eq!(
        events["queue_url"], "http://127.0.0.1:1/123456789012/gone",
        "{events}"
    );
    let (status, _) = service.get("/api/v1/rules").await;
    assert_eq!(status, StatusCode::OK);
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_of_onboarded_accounts_topics_are_confirmed() {
    let env = Env::new().await;
    let suffix = env.account.account_id.clone();
    let queue_url = create_queue(&env, &format!("subs-{suffix}")).await;
    // The host identity's own account (the emulator's default) owns this topic.
    let topic_arn = env
        .host
        .sns("us-east-1")
        .create_topic()
        .name(format!("palisade-events-{suffix}"))
        .send()
        .await
        .expect("topic")
        .topic_arn
        .expect("topic arn");
    let owner = topic_arn.split(':').nth(4).expect("account").to_owned();
    let data = tempfile::tempdir().expect("tempdir");
    let config = Config {
        endpoint: emulator().endpoint.clone(),
        extra_args: vec![
            "--events-queue-url".into(),
            queue_url.clone(),
            "--events-wait-secs".into(),
            "1".into(),
        ],
        ..Config::default()
    };
    let service = Service::start(data.path(), &config);
    service
        .add_account(&crate::support::account(&owner), false)
        .await;
    let confirmation = |topic: &str| {
        json!({
            "Type": "SubscriptionConfirmation",
            "MessageId": format!("confirm-{topic}"),
            "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92",
            "TopicArn": topic,
            "Message": "You have chosen to subscribe to the topic.",
            "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
            "Timestamp": "2026-11-27T12:00:00.000Z",
            "SignatureVersion": "1"
        })
    };
    post(&env, &queue_url, &confirmation(&topic_arn)).await;
    post(
        &env,
        &queue_url,
        &confirmation("arn:aws:sns:us-east-1:999999999999:palisade-events"),
    )
    .await;
    let stats = service
        .wait_for(
            "both confirmations handled",
            Duration::from_secs(30),
            || async {
                let (_, events) = service.get("/api/v1/events").await;
                let stats = events["stats"].clone();
                (stats["messages"] == 2).then_some(stats)
            },
        )
        .await;
    assert_eq!(stats["subscriptions_confirmed"], 1, "{stats}");
    assert_eq!(stats["ignored"]["not_onboarded"], 1, "{stats}");
    assert_eq!(stats["rejected"], 0, "{stats}");
    service.stop();
}
