//! Server benchmark: how fast an uploaded module is serving, and how fast findings queries
//! answer with 100,000 findings stored while a scan runs. Everything goes over real HTTP to a
//! `palisade serve` started in this process on 127.0.0.1.
//!
//! Upload-to-active is the time from sending `POST /api/v1/modules` to the response, which
//! comes after the new rule set is swapped in. Each upload carries a fresh custom section so
//! its digest is new and it is compiled from scratch (no cache hit). The baseline, in the same
//! process, is `Engine::load` of the same bytes on an engine without a cache: compilation
//! alone. Packs: `aws-s3` (a built-in Rust pack, uploaded into a server started without
//! built-ins) and a Python pack built with componentize-py (~18 MB, the interpreter included),
//! when componentize-py is installed.
//!
//! Query latency: a store seeded with 100,000 findings (10 accounts, 40 rules, every status and
//! severity), then a mix of filtered and paged `GET /api/v1/findings` and `/findings/summary`
//! requests, once with the service idle and once while it scans an emulator account of 300
//! buckets over and over. The baseline is `GET /healthz` in the same phases: the HTTP floor.
//!
//! Run: `cargo bench -p palisade-tests --bench server` (release; the figures in BENCHMARKS.md).
//! Quick check: `cargo test -p palisade-tests --bench server -- --quick`. Needs `python3` with
//! `moto[server]`; only 127.0.0.1 is used.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use palisade::engine::{ArtifactCache, BUILTIN_PACKS, Engine, Limits};
use palisade::registry::{Registry, RegistryOptions};
use palisade::server::auth::{Tokens, TrustedKeys};
use palisade::server::metrics::Metrics;
use palisade::server::scheduler::ScheduleOptions;
use palisade::server::{MetricsObserver, ServeOptions, Server};
use palisade::store::{FindingRecord, FindingStatus, SledStore, Store};
use serde_json::{Value, json};

#[path = "../aws/support/mod.rs"]
#[allow(dead_code)]
mod support;

const TOKEN: &str = "bench-admin-token-000001";

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    runtime.block_on(async {
        upload_to_active(quick).await;
        query_latency(quick).await;
    });
}

async fn start(store: Arc<SledStore>, builtin: bool, dir: &Path) -> Server {
    // As `palisade serve` runs: compiled packs are cached in the store, so an upload also
    // pays for writing its artefact.
    let cache = ArtifactCache::open(store.clone(), &dir.join("artifact.key")).expect("cache");
    let engine = Engine::with_cache(Limits::default(), cache).expect("engine");
    let metrics = Arc::new(Metrics::new());
    let registry = Registry::open(
        engine,
        store.clone(),
        RegistryOptions {
            builtin,
            observer: Some(Arc::new(MetricsObserver(metrics.clone()))),
            settings: Default::default(),
        },
    )
    .expect("registry");
    let aws = support::emulator().options();
    let options = ServeOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        tokens: Tokens::new(&[TOKEN.to_owned()], &[]).expect("tokens"),
        trusted: TrustedKeys::default(),
        aws,
        schedule: ScheduleOptions {
            scan: palisade::scan::ScanOptions {
                regions: vec!["us-east-1".into()],
                ..Default::default()
            },
            ..ScheduleOptions::default()
        },
        max_module_bytes: 50 << 20,
        shutdown_grace: Duration::from_secs(60),
        alerts: Default::default(),
        events: None,
    };
    Server::start(options, store, Arc::new(registry), metrics)
        .await
        .expect("server")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(600))
        .build()
        .expect("client")
}

/// `wasm` with a custom section appended: same component, new digest.
fn variant(wasm: &[u8], n: u32) -> Vec<u8> {
    let name = b"palisade-bench";
    let payload = n.to_le_bytes();
    let size = 1 + name.len() + payload.len();
    let mut out = wasm.to_vec();
    out.push(0); // custom section id
    out.push(size as u8); // LEB128, < 128
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(&payload);
    out
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

async fn upload_to_active(quick: bool) {
    let aws_s3 = BUILTIN_PACKS
        .iter()
        .find(|p| p.name == "aws-s3")
        .expect("aws-s3 is built in")
        .wasm;
    let mut packs: Vec<(&str, Vec<u8>, usize)> =
        vec![("aws-s3 (Rust)", aws_s3.to_vec(), if quick { 2 } else { 7 })];
    match build_python_pack() {
        Some(wasm) => packs.push(("Python (componentize-py)", wasm, if quick { 1 } else { 3 })),
        None => println!("componentize-py not found: the Python pack is skipped"),
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SledStore::open(&dir.path().join("store")).expect("store"));
    let server = start(store, false, dir.path()).await;
    let base = format!("http://{}", server.addr);
    let http = client();
    println!("## Upload to active\n");
    println!("| pack | size | upload → active (median) | compile alone (median) | ratio | runs |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let mut n = 0;
    for (label, wasm, runs) in packs {
        let (mut active, mut compile) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            n += 1;
            let bytes = variant(&wasm, n);
            // Baseline: the same bytes compiled by a fresh engine, no cache.
            let engine = Engine::new(Limits::default()).expect("engine");
            let t = Instant::now();
            let pack = engine.load("baseline", &bytes).expect("compiles");
            compile.push(t.elapsed().as_secs_f64());
            drop(pack);

            n += 1;
            let bytes = variant(&wasm, n);
            let t = Instant::now();
            let response = http
                .post(format!("{base}/api/v1/modules?name=bench"))
                .bearer_auth(TOKEN)
                .header("content-type", "application/wasm")
                .body(bytes)
                .send()
                .await
                .expect("upload");
            let status = response.status();
            let body: Value = response.json().await.expect("json");
            active.push(t.elapsed().as_secs_f64());
            assert_eq!(status, 201, "{body}");
            // It serves: an evaluation answers with its rules.
            let answer: Value = http
                .post(format!("{base}/api/v1/evaluate"))
                .bearer_auth(TOKEN)
                .json(&json!({"resource_type": "AWS.S3.Bucket", "document": {"Name": "Bench"}}))
                .send()
                .await
                .expect("evaluate")
                .json()
                .await
                .expect("json");
            assert!(
                answer["verdicts"].as_array().is_some_and(|v| !v.is_empty()),
                "{answer}"
            );
        }
        let (a, c) = (median(active), median(compile));
        println!(
            "| {label} | {:.1} MB | {:.3} s | {:.3} s | {:.2}× | {runs} |",
            wasm.len() as f64 / 1e6,
            a,
            c,
            a / c
        );
    }
    println!();
    server.stop().await.expect("stop");
}

/// Time to a whole page of each console view (request to last byte), signed in as a browser
/// is: `rounds` requests per page.
async fn console_latency(base: &str, rounds: usize) -> Vec<(&'static str, Vec<f64>)> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let login = http
        .post(format!("{base}/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .expect("sign in");
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("cookie")
        .to_owned();
    let pages: Vec<&'static str> = vec![
        "/findings",
        "/findings?status=fail&severity=high",
        "/findings?account=300000000003&status=error",
        "/findings?rule=Bench.Rule.07",
        "/finding?rule=Bench.Rule.07&resource=arn%3Aaws%3As3%3A%3A%3Abench-300000000007-1",
        "/resources",
        "/rules",
        "/accounts",
        "/modules",
    ];
    let mut out = Vec::new();
    for page in pages {
        let mut times = Vec::new();
        for _ in 0..rounds {
            let t = Instant::now();
            let response = http
                .get(format!("{base}{page}"))
                .header("cookie", &cookie)
                .send()
                .await
                .expect("page");
            assert_eq!(response.status(), 200, "{page}");
            let body = response.text().await.expect("body");
            times.push(t.elapsed().as_secs_f64());
            assert!(body.contains("</html>"), "{page}");
        }
        out.push((page, times));
    }
    out
}

fn build_python_pack() -> Option<Vec<u8>> {
    let app = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python-pack");
    let wit = concat!(env!("CARGO_MANIFEST_DIR"), "/../wit");
    let out = std::env::temp_dir().join(format!("palisade-bench-py-{}.wasm", std::process::id()));
    let status = std::process::Command::new("componentize-py")
        .args(["-d", wit, "-w", "pack", "componentize", "app", "-o"])
        .arg(&out)
        .current_dir(app)
        .stdout(std::process::Stdio::null())
        .status()
        .ok()?;
    if !status.success() {
        println!("componentize-py failed ({status}): the Python pack is skipped");
        return None;
    }
    let wasm = std::fs::read(&out).ok();
    let _ = std::fs::remove_file(&out);
    wasm
}

const FINDINGS: usize = 100_000;
const ACCOUNTS: usize = 10;
const RULES: usize = 40;

fn seed_findings(store: &dyn Store) {
    let now = time::OffsetDateTime::now_utc();
    let severities = ["critical", "high", "medium", "low", "info"];
    let statuses = [
        FindingStatus::Pass,
        FindingStatus::Pass,
        FindingStatus::Fail,
        FindingStatus::Error,
        FindingStatus::Suppressed,
    ];
    let types = [
        "AWS.S3.Bucket",
        "AWS.EC2.SecurityGroup",
        "AWS.IAM.User",
        "AWS.IAM.Policy",
    ];
    for i in 0..FINDINGS {
        let rule = i % RULES;
        let account = format!("{:012}", 300_000_000_000u64 + (i % ACCOUNTS) as u64);
        let resource = format!("arn:aws:s3:::bench-{account}-{}", i / RULES);
        store
            .put_finding(&FindingRecord {
                rule_id: format!("Bench.Rule.{rule:02}"),
                resource_id: resource,
                account_id: account,
                resource_type: types[rule % types.len()].to_owned(),
                region: "us-east-1".into(),
                status: statuses[(i / RULES) % statuses.len()],
                message: Some(format!(
                    "finding {i}: a message of ordinary length explaining the verdict"
                )),
                severity: severities[rule % severities.len()].to_owned(),
                first_seen: now,
                last_seen: now,
                status_changed_at: now,
                closed_at: None,
            })
            .expect("seed finding");
    }
}

/// The query mix: filters alone and combined, a later page, and the summary.
fn queries() -> Vec<&'static str> {
    vec![
        "/api/v1/findings",
        "/api/v1/findings?status=fail",
        "/api/v1/findings?severity=critical,high&status=fail",
        "/api/v1/findings?rule=Bench.Rule.07",
        "/api/v1/findings?account=300000000003&status=error",
        "/api/v1/findings?resource_type=AWS.IAM.Policy&severity=low",
        "/api/v1/findings?rule=Bench.Rule.39&account=300000000009&status=suppressed",
        "/api/v1/findings?severity=info&limit=1000",
        "/api/v1/findings/summary",
        "/api/v1/findings/summary?account=300000000005",
    ]
}

/// Latencies in seconds of `rounds` passes over the query mix (with a second page for the
/// listings), and of as many `/healthz` requests.
async fn measure(base: &str, rounds: usize) -> (Vec<f64>, Vec<f64>) {
    let http = client();
    let (mut queries_s, mut health_s) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        for q in queries() {
            let t = Instant::now();
            let response = http
                .get(format!("{base}{q}"))
                .bearer_auth(TOKEN)
                .send()
                .await
                .expect("query");
            assert_eq!(response.status(), 200, "{q}");
            let page: Value = response.json().await.expect("json");
            queries_s.push(t.elapsed().as_secs_f64());
            if let Some(cursor) = page["next_cursor"].as_str() {
                let sep = if q.contains('?') { '&' } else { '?' };
                let t = Instant::now();
                let response = http
                    .get(format!("{base}{q}{sep}cursor={cursor}"))
                    .bearer_auth(TOKEN)
                    .send()
                    .await
                    .expect("page 2");
                assert_eq!(response.status(), 200);
                let _: Value = response.json().await.expect("json");
                queries_s.push(t.elapsed().as_secs_f64());
            }
            let t = Instant::now();
            let response = http
                .get(format!("{base}/healthz"))
                .send()
                .await
                .expect("healthz");
            let _ = response.bytes().await;
            health_s.push(t.elapsed().as_secs_f64());
        }
    }
    (queries_s, health_s)
}

fn percentile(xs: &[f64], p: f64) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

async fn query_latency(quick: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SledStore::open(&dir.path().join("store")).expect("store"));
    let t = Instant::now();
    seed_findings(store.as_ref());
    println!("## Findings queries with {FINDINGS} findings stored\n");
    println!("seeded in {:.1} s", t.elapsed().as_secs_f64());

    // An account to scan meanwhile: 300 buckets on the emulator.
    let env = support::Env::new().await;
    let buckets = if quick { 20 } else { 300 };
    let s3 = env.session.s3("us-east-1");
    for i in 0..buckets {
        s3.create_bucket()
            .bucket(format!("bench-{i}-{}", env.account.account_id))
            .send()
            .await
            .expect("bucket");
    }
    store.put_account(&env.account).expect("account");

    let server = start(store.clone(), true, dir.path()).await;
    let base = format!("http://{}", server.addr);
    // The first query builds the index: timed on its own, not in the percentiles.
    let t = Instant::now();
    let _ = client()
        .get(format!("{base}/api/v1/findings?status=fail"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("first query");
    println!(
        "first query (builds the in-memory index): {:.3} s\n",
        t.elapsed().as_secs_f64()
    );

    let rounds = if quick { 3 } else { 50 };
    let (idle_q, idle_h) = measure(&base, rounds).await;

    // Scan over and over while measuring again.
    let scanning = Arc::new(AtomicBool::new(true));
    let scans = {
        let (base, scanning, name) = (base.clone(), scanning.clone(), env.account.name.clone());
        tokio::spawn(async move {
            let http = client();
            let mut done = 0u32;
            while scanning.load(Ordering::Relaxed) {
                let jobs: Value = http
                    .post(format!("{base}/api/v1/scans"))
                    .bearer_auth(TOKEN)
                    .json(&json!({"account": name}))
                    .send()
                    .await
                    .expect("trigger")
                    .json()
                    .await
                    .expect("json");
                let id = jobs[0]["id"].as_str().expect("id").to_owned();
                loop {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let job: Value = http
                        .get(format!("{base}/api/v1/scans/{id}"))
                        .bearer_auth(TOKEN)
                        .send()
                        .await
                        .expect("job")
                        .json()
                        .await
                        .expect("json");
                    if matches!(job["state"].as_str(), Some("succeeded" | "failed")) {
                        assert_eq!(job["state"], "succeeded", "{job}");
                        break;
                    }
                }
                done += 1;
            }
            done
        })
    };
    // Let the first scan get going.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (busy_q, busy_h) = measure(&base, rounds).await;
    scanning.store(false, Ordering::Relaxed);
    let scans_done = scans.await.expect("scans");
    // The console, once the scans have stored the account's resources.
    let console = console_latency(&base, if quick { 3 } else { 30 }).await;

    println!(
        "| phase | requests | findings p50 | findings p99 | /healthz p99 | p99 ratio to /healthz |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for (phase, q, h) in [
        ("idle", &idle_q, &idle_h),
        ("during scans", &busy_q, &busy_h),
    ] {
        println!(
            "| {phase} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1}× |",
            q.len(),
            percentile(q, 0.5) * 1e3,
            percentile(q, 0.99) * 1e3,
            percentile(h, 0.99) * 1e3,
            percentile(q, 0.99) / percentile(h, 0.99),
        );
    }
    println!(
        "\nduring-scan p99 / idle p99: {:.2}× ({scans_done} scans of {buckets} buckets ran meanwhile)",
        percentile(&busy_q, 0.99) / percentile(&idle_q, 0.99)
    );
    println!(
        "\n## Console pages with {FINDINGS} findings and {buckets} buckets stored (server-side, idle)\n"
    );
    println!("| page | requests | p50 | p99 | p99 ratio to /healthz |");
    println!("| --- | --- | --- | --- | --- |");
    let health_p99 = percentile(&idle_h, 0.99);
    for (page, times) in &console {
        println!(
            "| `{page}` | {} | {:.1} ms | {:.1} ms | {:.1}× |",
            times.len(),
            percentile(times, 0.5) * 1e3,
            percentile(times, 0.99) * 1e3,
            percentile(times, 0.99) / health_p99,
        );
    }
    server.stop().await.expect("stop");
}
