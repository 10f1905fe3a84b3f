//! Real-time benchmark, two parts.
//!
//! 1. Throughput: queue message bodies (EventBridge CloudTrail events, one record each) go
//!    through `RealTime::handle` — read, mapped, checked against the onboarded accounts,
//!    deduplicated and written to the durable pending set — in process, with no network. The
//!    mix is realistic: writes to a few thousand resources, read-only calls, failed calls,
//!    another account's events and redelivered duplicates. Baseline in the same run: parsing the
//!    same bodies with `serde_json` alone, the least any consumer does. Loss is checked: the
//!    pending set must hold exactly the distinct resources written to.
//! 2. Latency on the emulator: the real path end to end (SQS long polling, mapping, debounce,
//!    targeted rescan through the real SDK, evaluation, finding written). A security group is
//!    opened and closed to 0.0.0.0/0:22 repeatedly; each time the matching event is posted and
//!    the time until the SSH finding flips is taken. Baseline in the same run: a full scan of
//!    the same account, which is what a change would wait for without events.
//!
//! Run: `cargo bench -p palisade-tests --bench events` (release; figures in BENCHMARKS.md).
//! Quick check: `cargo run -p palisade-tests --bench events -- --quick`.
//! Needs `python3` with `moto[server]`; only 127.0.0.1 is used.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{IpPermission, IpRange};
use palisade::account::Account;
use palisade::aws::{AwsOptions, Session};
use palisade::engine::{Engine, Limits, RuleSettings, builtin_packs};
use palisade::events::pending::Debounce;
use palisade::events::realtime::{Handled, RealTime, RealTimeOptions};
use palisade::findings::Evaluator;
use palisade::scan::{Quiet, ScanOptions, Scanner};
use palisade::store::{FindingStatus, SledStore, Store};
use serde_json::{Value, json};

#[path = "../aws/support/mod.rs"]
#[allow(dead_code)]
mod support;

const REGION: &str = "us-east-1";
const SSH_RULE: &str = "AWS.SecurityGroup.AdministrativeIngress";
/// The debounce the latency part runs with: short, as a deployment that wants speed would set.
const DEBOUNCE: Duration = Duration::from_millis(250);

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let records = if quick { 5_000 } else { 100_000 };
        throughput(records).await;
        let emulator = support::Emulator::start(&[]);
        let (files, per_file) = if quick { (4, 250) } else { (20, 1_000) };
        through_queue(&emulator, files, per_file).await;
        let flips = if quick { 4 } else { 40 };
        latency(&emulator, flips, if quick { 10 } else { 100 }).await;
    });
}

/// One onboarded account in a fresh store, and a real-time path that nothing reaches over the
/// network (the throughput part never refreshes).
async fn offline_path(account: &Account) -> (Arc<RealTime>, Arc<dyn Store>) {
    let store: Arc<dyn Store> = Arc::new(SledStore::temporary().expect("store"));
    store.put_account(account).expect("account");
    let host = Session::host(AwsOptions {
        endpoint_url: Some("http://127.0.0.1:1".into()),
        credentials: Some(aws_credential_types::Credentials::new(
            "bench", "bench", None, None, "bench",
        )),
        ..AwsOptions::default()
    })
    .await;
    let scanner = scanner(host.clone(), store.clone());
    let realtime = RealTime::new(
        store.clone(),
        Arc::new(scanner),
        host,
        RealTimeOptions::new("http://127.0.0.1:1/000000000000/unused"),
    )
    .expect("real-time path");
    (realtime, store)
}

fn scanner(host: Session, store: Arc<dyn Store>) -> Scanner {
    let engine = Engine::new(Limits::default()).expect("engine");
    let packs = Arc::new(builtin_packs(&engine).expect("built-in packs"));
    let evaluator =
        Arc::new(Evaluator::new(packs, &RuleSettings::new(), store.clone()).expect("evaluator"));
    Scanner::new(
        host,
        store,
        Arc::new(evaluator),
        ScanOptions {
            regions: vec![REGION.into()],
            ..ScanOptions::default()
        },
    )
}

/// An EventBridge message carrying one CloudTrail record.
fn message(account_id: &str, event_id: &str, source: &str, name: &str, params: Value) -> String {
    json!({
        "version": "0",
        "id": event_id,
        "detail-type": "AWS API Call via CloudTrail",
        "source": format!("aws.{}", source.split('.').next().unwrap_or("")),
        "account": account_id,
        "time": "2026-11-27T12:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": {
            "eventVersion": "1.10",
            "userIdentity": {"type": "IAMUser", "accountId": account_id, "userName": "ops",
                "arn": format!("arn:aws:iam::{account_id}:user/ops")},
            "eventTime": "2026-11-27T12:00:00Z",
            "eventSource": source,
            "eventName": name,
            "awsRegion": REGION,
            "sourceIPAddress": "198.51.100.7",
            "requestParameters": params,
            "responseElements": null,
            "eventID": event_id,
            "readOnly": name.starts_with("Describe") || name.starts_with("Get"),
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": account_id
        }
    })
    .to_string()
}

/// The benchmark's event mix over `resources` distinct resources; also returns the distinct
/// resources written to (what must end up pending).
fn mix(account_id: &str, n: usize) -> (Vec<String>, HashSet<String>) {
    let resources = (n / 20).max(10);
    let mut bodies = Vec::with_capacity(n);
    let mut written = HashSet::new();
    let mut i = 0usize;
    while bodies.len() < n {
        let r = i % resources;
        let id = format!("ev-{i}");
        let body = match i % 20 {
            // 2 in 20: read-only calls, mapped to nothing.
            0 => message(
                account_id,
                &id,
                "ec2.amazonaws.com",
                "DescribeInstances",
                json!({}),
            ),
            1 => message(
                account_id,
                &id,
                "s3.amazonaws.com",
                "GetBucketPolicy",
                json!({"bucketName": format!("b{r}")}),
            ),
            // 1 in 20: a failed call.
            2 => {
                let mut m: Value = serde_json::from_str(&message(
                    account_id,
                    &id,
                    "ec2.amazonaws.com",
                    "AuthorizeSecurityGroupIngress",
                    json!({"groupId": format!("sg-{r:017x}")}),
                ))
                .unwrap();
                m["detail"]["errorCode"] = json!("Client.UnauthorizedOperation");
                m.to_string()
            }
            // 1 in 20: an account not onboarded.
            3 => message(
                "999999999999",
                &id,
                "s3.amazonaws.com",
                "PutBucketPolicy",
                json!({"bucketName": format!("x{r}")}),
            ),
            // 2 in 20: a delivery repeated (the previous event id again).
            4 | 5 => {
                let previous = bodies.last().cloned().unwrap_or_default();
                bodies.push(previous);
                i += 1;
                continue;
            }
            k => {
                let (source, name, params, key) = match k % 5 {
                    0 => (
                        "ec2.amazonaws.com",
                        "AuthorizeSecurityGroupIngress",
                        json!({"groupId": format!("sg-{r:017x}")}),
                        format!("sg{r}"),
                    ),
                    1 => (
                        "s3.amazonaws.com",
                        "PutBucketPolicy",
                        json!({"bucketName": format!("b{r}")}),
                        format!("b{r}"),
                    ),
                    2 => (
                        "iam.amazonaws.com",
                        "CreateAccessKey",
                        json!({"userName": format!("u{r}")}),
                        format!("u{r}"),
                    ),
                    3 => (
                        "ec2.amazonaws.com",
                        "ModifyInstanceAttribute",
                        json!({"instanceId": format!("i-{r:017x}")}),
                        format!("i{r}"),
                    ),
                    _ => (
                        "kms.amazonaws.com",
                        "DisableKeyRotation",
                        json!({"keyId": format!("{r:08x}-1111-2222-3333-444455556666")}),
                        format!("k{r}"),
                    ),
                };
                written.insert(key);
                message(account_id, &id, source, name, params)
            }
        };
        bodies.push(body);
        i += 1;
    }
    (bodies, written)
}

async fn throughput(n: usize) {
    let account = support::account("111111111111");
    let (path, _store) = offline_path(&account).await;
    let (bodies, written) = mix(&account.account_id, n);

    // Baseline: parsing alone.
    let t = Instant::now();
    let mut parsed = 0usize;
    for b in &bodies {
        let v: Value = serde_json::from_str(b).expect("json");
        parsed += usize::from(v.is_object());
    }
    let parse_alone = t.elapsed();
    assert_eq!(parsed, bodies.len());

    let t = Instant::now();
    for (i, b) in bodies.iter().enumerate() {
        let handled = path.handle(&format!("m{i}"), b, 1).await;
        assert_eq!(handled, Handled::Done, "{b}");
    }
    let took = t.elapsed();
    let stats = path.stats();
    assert_eq!(
        stats.pending as usize,
        written.len(),
        "every resource written to is pending exactly once: {stats:?}"
    );
    let rate = n as f64 / took.as_secs_f64();
    println!("## Throughput: {n} events in process");
    println!();
    println!(
        "| events | distinct resources pending | duplicates skipped | ignored | took | events/s | vs parsing alone |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| {n} | {} | {} | {} | {:.2} s | {:.0} | {:.1}× |",
        stats.pending,
        stats.duplicates,
        stats.ignored.values().sum::<u64>(),
        took.as_secs_f64(),
        rate,
        took.as_secs_f64() / parse_alone.as_secs_f64()
    );
    println!("ignored by reason: {:?}", stats.ignored);
    println!();
}

async fn latency(emulator: &support::Emulator, flips: usize, buckets: usize) {
    let host = Session::host(emulator.options()).await;
    let account = support::account(&support::fresh_account_id());
    let session = host
        .assume(&account.role_arn, account.external_id.as_deref(), "bench")
        .await;
    // An account with some weight, so the full scan baseline is not trivial.
    let s3 = session.s3(REGION);
    for i in 0..buckets {
        s3.create_bucket()
            .bucket(format!("bench-{i}-{}", account.account_id))
            .send()
            .await
            .expect("bucket");
    }
    let ec2 = session.ec2(REGION);
    let group = ec2
        .create_security_group()
        .group_name("bench-web")
        .description("bench")
        .send()
        .await
        .expect("security group")
        .group_id
        .expect("group id");
    let arn = format!(
        "arn:aws:ec2:{REGION}:{}:security-group/{group}",
        account.account_id
    );

    let store: Arc<dyn Store> = Arc::new(SledStore::temporary().expect("store"));
    store.put_account(&account).expect("account");
    let scanner = Arc::new(scanner(host.clone(), store.clone()));
    let t = Instant::now();
    scanner.scan(&account, &Quiet).await.expect("baseline scan");
    let full_scan = t.elapsed();

    let sqs = host.sqs(REGION);
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("bench-{}", account.account_id))
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("queue url");
    let mut options = RealTimeOptions::new(queue_url.clone());
    options.debounce = Debounce {
        delay: DEBOUNCE,
        max_delay: DEBOUNCE * 10,
    };
    let path = RealTime::new(store.clone(), scanner, host.clone(), options).expect("path");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(path.clone().run(stopped));

    let ssh = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build();
    let mut latencies = Vec::with_capacity(flips);
    for i in 0..flips {
        let open = i % 2 == 0;
        let name = if open {
            ec2.authorize_security_group_ingress()
                .group_id(&group)
                .ip_permissions(ssh.clone())
                .send()
                .await
                .expect("authorize");
            "AuthorizeSecurityGroupIngress"
        } else {
            ec2.revoke_security_group_ingress()
                .group_id(&group)
                .ip_permissions(ssh.clone())
                .send()
                .await
                .expect("revoke");
            "RevokeSecurityGroupIngress"
        };
        let want = if open {
            FindingStatus::Fail
        } else {
            FindingStatus::Pass
        };
        let body = message(
            &account.account_id,
            &format!("flip-{i}"),
            "ec2.amazonaws.com",
            name,
            json!({"groupId": group}),
        );
        let t = Instant::now();
        sqs.send_message()
            .queue_url(&queue_url)
            .message_body(body)
            .send()
            .await
            .expect("send");
        loop {
            let f = store.get_finding(SSH_RULE, &arn).expect("finding");
            if f.is_some_and(|f| f.status == want) {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "the finding never flipped"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        latencies.push(t.elapsed());
    }
    stop.send_replace(true);
    running.await.expect("path stopped");

    latencies.sort();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1]
    };
    let (p50, p95, max) = (pct(0.50), pct(0.95), *latencies.last().unwrap());
    println!(
        "## Latency: event to finding on the emulator ({flips} flips, debounce {} ms)",
        DEBOUNCE.as_millis()
    );
    println!();
    println!(
        "| p50 | p95 | max | p95 minus debounce | full scan of the account ({buckets} buckets + 1 group) | p95 vs full scan |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    println!(
        "| {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {:.2} s | {:.2}× |",
        ms(p50),
        ms(p95),
        ms(max),
        ms(p95) - ms(DEBOUNCE),
        full_scan.as_secs_f64(),
        p95.as_secs_f64() / full_scan.as_secs_f64()
    );
    println!("refresh stats: {:?}", path.stats());
}

/// The consumer end to end on the emulator: `files` CloudTrail log files of `per_file` records
/// each are put in the account's trail bucket and announced by S3 notifications on the queue;
/// timed from the first notification until every record is read and its targets stored. The
/// refresh worker is not started (its speed is the latency part's), so this is the intake rate.
async fn through_queue(emulator: &support::Emulator, files: usize, per_file: usize) {
    let host = Session::host(emulator.options()).await;
    let account = support::account(&support::fresh_account_id());
    let session = host
        .assume(&account.role_arn, account.external_id.as_deref(), "bench")
        .await;
    let store: Arc<dyn Store> = Arc::new(SledStore::temporary().expect("store"));
    store.put_account(&account).expect("account");
    let s3 = session.s3(REGION);
    let trail_bucket = format!("trail-{}", account.account_id);
    s3.create_bucket()
        .bucket(&trail_bucket)
        .send()
        .await
        .expect("bucket");
    let (bodies, written) = mix(&account.account_id, files * per_file);
    let records: Vec<Value> = bodies
        .iter()
        .map(|b| serde_json::from_str::<Value>(b).expect("json")["detail"].clone())
        .collect();
    let mut keys = Vec::new();
    for (i, chunk) in records.chunks(per_file).enumerate() {
        let key = format!(
            "AWSLogs/{0}/CloudTrail/{REGION}/2026/11/27/{0}_CloudTrail_{REGION}_20261127T12{i:02}Z_b.json.gz",
            account.account_id
        );
        let body = json!({"Records": chunk}).to_string();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, body.as_bytes()).expect("gzip");
        s3.put_object()
            .bucket(&trail_bucket)
            .key(&key)
            .body(gz.finish().expect("gzip").into())
            .send()
            .await
            .expect("put log");
        keys.push(key);
    }
    let sqs = host.sqs(REGION);
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("intake-{}", account.account_id))
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("queue url");
    let scanner = Arc::new(scanner(host.clone(), store.clone()));
    let mut options = RealTimeOptions::new(queue_url.clone());
    // Nothing falls due during the measurement: only intake is timed.
    options.debounce = Debounce {
        delay: Duration::from_secs(3600),
        max_delay: Duration::from_secs(3600),
    };
    let path = RealTime::new(store.clone(), scanner, host.clone(), options).expect("path");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(path.clone().run(stopped));
    let t = Instant::now();
    for key in &keys {
        let notification = json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": trail_bucket}, "object": {"key": key}}
        }]});
        sqs.send_message()
            .queue_url(&queue_url)
            .message_body(notification.to_string())
            .send()
            .await
            .expect("send");
    }
    let total = (files * per_file) as u64;
    loop {
        let stats = path.stats();
        if stats.records >= total {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "intake stalled: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = t.elapsed();
    let stats = path.stats();
    stop.send_replace(true);
    running.await.expect("path stopped");
    assert_eq!(
        stats.pending as usize,
        written.len(),
        "no target lost: {stats:?}"
    );
    println!(
        "## Intake through the queue: {files} log files of {per_file} records on the emulator"
    );
    println!();
    println!(
        "| records | log files | distinct resources pending | duplicates skipped | took | records/s |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    println!(
        "| {total} | {} | {} | {} | {:.2} s | {:.0} |",
        stats.log_files,
        stats.pending,
        stats.duplicates,
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64()
    );
    println!();
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
