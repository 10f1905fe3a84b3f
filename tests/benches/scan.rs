//! Scan benchmark: a whole scan (collect + store + evaluate) of one region of an account of N
//! units on the moto emulator, against the time moto itself needs to answer the same calls.
//!
//! A unit is one S3 bucket, one security group, one IAM user with an access key and one EC2
//! instance. For each N the bench seeds a fresh account (its own 12-digit id, which moto keeps
//! apart), then scans it in a child process (this same executable, `--scan-child`), so the
//! child's peak RSS is the scanner's alone, not the seeding's or the proxy's.
//!
//! The scanner talks to moto through a loopback HTTP/1.1 proxy in this process that reads each
//! request whole, forwards it and reads the response whole: the interval from the first byte
//! forwarded to the last byte of the answer is moto's service time for that call. moto serves
//! one request at a time in effect (Python's GIL), so concurrent requests queue inside it and the
//! sum of service times counts that queueing many times over; the union of the intervals, the
//! wall time during which the emulator had at least one call, is what the scan's wall time is
//! compared with. Scan wall time minus that union is time with nothing in flight at the
//! emulator, split into waits the proxy can attribute (backoff before retrying a 5xx answer, the
//! pause between two `GenerateCredentialReport` calls) and the rest: the scanner's own work
//! (SDK, shaping, store, rules) not hidden behind an outstanding call. After each proxied scan
//! the recorded requests are also replayed straight to moto one at a time: the emulator alone
//! answering the same calls, without the scan's concurrency.
//!
//! Each N is scanned three times, each time with a fresh store: cold through the proxy (the
//! headline: the account's first scan, IAM credential report not yet generated), then warm
//! directly against moto and warm through the proxy again, which shows what the proxy itself adds.
//!
//! Run: `cargo bench -p palisade-tests --bench scan` (release; the figures in BENCHMARKS.md).
//! Quick check: `cargo test -p palisade-tests --bench scan --profile dev -- --quick` (N = 10 only).
//! `--sizes 10,100` picks the sizes. Needs `python3` with `moto[server]`; only 127.0.0.1 is used.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{Filter, IpPermission, IpRange};
use futures::StreamExt;
use futures::future::BoxFuture;
use palisade::account::Account;
use palisade::aws::{AwsError, AwsOptions, Session};
use palisade::engine::{Engine, Limits, RuleSettings, builtin_packs};
use palisade::findings::Evaluator;
use palisade::scan::{Progress, ScanOptions, Scanner, Task, issue_counts};
use palisade::store::{SledStore, Store};
use serde_json::{Value, json};

/// The emulator harness the tests use: moto_server.py on a free loopback port, stopped when dropped.
#[path = "../aws/support/mod.rs"]
#[allow(dead_code)]
mod support;

const REGION: &str = "us-east-1";
const DEFAULT_SIZES: [usize; 3] = [10, 100, 500];
/// Seeding calls in flight at once.
const SEED_CONCURRENCY: usize = 16;
/// Instances per `RunInstances` call while seeding.
const INSTANCE_BATCH: usize = 25;
/// Environment of the scan child: no profile files, no instance metadata (off-host). The parent
/// passes explicit credentials and region, so its own clients never consult the chain either.
const SDK_ENV: [(&str, &str); 4] = [
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_CONFIG_FILE", "/dev/null"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
    ("AWS_REGION", REGION),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--scan-child") {
        scan_child(&args[i + 1], &args[i + 2]);
        return;
    }
    let sizes: Vec<usize> = if args.iter().any(|a| a == "--quick") {
        vec![10]
    } else if let Some(i) = args.iter().position(|a| a == "--sizes") {
        args[i + 1]
            .split(',')
            .map(|s| s.parse().expect("--sizes takes numbers, e.g. 10,100"))
            .collect()
    } else {
        DEFAULT_SIZES.to_vec()
    };
    parent(&sizes);
}

// ---------------------------------------------------------------------------------------------
// The parent: emulator, proxy, seeding, report

/// What one scan measured, from the child and the proxy.
struct Run {
    child: Value,
    calls: Calls,
    /// moto's CPU seconds (all its threads) during the scan.
    emulator_cpu: f64,
    /// CPU seconds of this process (the proxy) during the scan.
    proxy_cpu: f64,
    /// Seconds moto took to answer the scan's requests replayed one at a time (proxied runs),
    /// and the CPU seconds it used for that.
    replay: Option<f64>,
    replay_cpu: Option<f64>,
}

impl Run {
    fn get(&self, key: &str) -> f64 {
        self.child[key].as_f64().unwrap_or(f64::NAN)
    }

    fn wall(&self) -> f64 {
        self.get("wall_s")
    }

    /// Seconds the collector run `name` (e.g. `s3/us-east-1`) took.
    fn task(&self, name: &str) -> f64 {
        self.child["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t[0] == name)
            .and_then(|t| t[2].as_f64())
            .unwrap_or(f64::NAN)
    }
}

struct Size {
    n: usize,
    seed: Duration,
    seed_calls: u64,
    cold: Run,
    warm_direct: Run,
    warm_proxied: Run,
}

fn parent(sizes: &[usize]) {
    let emulator = support::Emulator::start(&[]);
    let proxy = Proxy::start(emulator.addr());
    println!(
        "moto on {}, proxy on {}; sizes {sizes:?}; {} core(s)\n",
        emulator.addr(),
        proxy.endpoint,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let bench_started = Instant::now();
    let mut results = Vec::new();
    for (k, &n) in sizes.iter().enumerate() {
        let account_id = format!(
            "{:012}",
            310_000_000_000u64 + 1000 * u64::from(std::process::id() % 1000) + k as u64
        );
        let t0 = Instant::now();
        let seed_calls = runtime.block_on(seed(&emulator.endpoint, &account_id, n));
        let seed = t0.elapsed();
        println!(
            "N={n}: seeded account {account_id} in {:.1} s ({seed_calls} calls)",
            seed.as_secs_f64()
        );

        let run = |label: &str, endpoint: &str| {
            proxy.take();
            let me = std::process::id();
            let (cpu0, own0) = (process_cpu_seconds(emulator.pid()), process_cpu_seconds(me));
            let child = run_child(endpoint, &account_id);
            let emulator_cpu = process_cpu_seconds(emulator.pid()) - cpu0;
            let proxy_cpu = process_cpu_seconds(me) - own0;
            let window = (
                child["started_unix"].as_f64().unwrap_or(0.0),
                child["ended_unix"].as_f64().unwrap_or(0.0),
            );
            let mut exchanges = proxy.take();
            exchanges.sort_by(|a, b| a.start.total_cmp(&b.start));
            // The same requests again, one at a time, straight to moto: the emulator alone.
            let replay = (!exchanges.is_empty()).then(|| {
                let cpu0 = process_cpu_seconds(emulator.pid());
                let wall = replay(emulator.addr(), &exchanges).expect("replay the scan's requests");
                (wall, process_cpu_seconds(emulator.pid()) - cpu0)
            });
            let calls = Calls::new(exchanges, window);
            let run = Run {
                child,
                calls,
                emulator_cpu,
                proxy_cpu,
                replay: replay.map(|r| r.0),
                replay_cpu: replay.map(|r| r.1),
            };
            let proxied = match run.replay {
                None => String::new(),
                Some(replay) => format!(
                    ", {} requests at the proxy, emulator busy {:.2} s, retry backoff {:.2} s; serial replay {:.2} s",
                    run.calls.count, run.calls.busy, run.calls.retry_wait, replay
                ),
            };
            println!(
                "N={n}: {label:<11} scan {:.2} s, {} API calls{proxied}",
                run.wall(),
                run.child["api_calls"],
            );
            run
        };
        let cold = run("cold/proxy", &proxy.endpoint);
        let warm_direct = run("warm/direct", &emulator.endpoint);
        let warm_proxied = run("warm/proxy", &proxy.endpoint);
        results.push(Size {
            n,
            seed,
            seed_calls,
            cold,
            warm_direct,
            warm_proxied,
        });
    }
    println!(
        "\nwhole bench: {:.0} s\n",
        bench_started.elapsed().as_secs_f64()
    );
    report(&results);
}

fn report(results: &[Size]) {
    let mb = |kb: f64| kb / 1024.0;

    println!("### Cold scan (the account's first), one region, through the timing proxy\n");
    println!(
        "| N | resources | API calls | calls / resource | calls / unit | scan + evaluate | emulator busy during the scan | scan / emulator busy | same, without retry backoff | emulator alone (serial replay) | scan / replay | same, without retry backoff | ms / unit | peak RSS | RSS before scan |"
    );
    println!(
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for s in results {
        let r = &s.cold;
        let (wall, busy) = (r.wall(), r.calls.busy);
        let (resources, calls) = (r.get("resources_total"), r.get("api_calls"));
        println!(
            "| {} | {} | {} | {:.2} | {:.2} | {:.2} s | {:.2} s | {:.2}× | {:.2}× | {:.2} s | {:.2}× | {:.2}× | {:.2} | {:.0} MB | {:.0} MB |",
            s.n,
            resources,
            calls,
            calls / resources,
            calls / (4 * s.n) as f64,
            wall,
            busy,
            wall / busy,
            (wall - r.calls.retry_wait) / busy,
            r.replay.unwrap_or(f64::NAN),
            wall / r.replay.unwrap_or(f64::NAN),
            (wall - r.calls.retry_wait) / r.replay.unwrap_or(f64::NAN),
            wall * 1000.0 / (4 * s.n) as f64,
            mb(r.get("hwm_process_kb")),
            mb(r.get("rss_before_kb")),
        );
    }

    println!("\n### Where the cold scan's wall time goes\n");
    println!(
        "| N | scan wall | emulator busy | retry backoff after 5xx | credential-report wait | scanner alone (rest) | of which before 1st call / after last | collect / store / evaluate | scanner CPU | proxy CPU | emulator CPU (scan / serial replay) | emulator service time (sum) | requests (5xx) | seeding |"
    );
    println!(
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for s in results {
        let r = &s.cold;
        let c = &r.calls;
        let rest = r.wall() - c.busy - c.retry_wait - c.report_wait;
        println!(
            "| {} | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {:.2} s / {:.2} s | {:.2} / {:.2} / {:.2} s | {:.2} s | {:.2} s | {:.2} s / {:.2} s | {:.2} s | {} ({}) | {:.1} s, {} calls |",
            s.n,
            r.wall(),
            c.busy,
            c.retry_wait,
            c.report_wait,
            rest,
            c.before_first,
            c.after_last,
            r.get("collect_s"),
            r.get("write_s"),
            r.get("evaluate_s"),
            r.get("cpu_s"),
            r.proxy_cpu,
            r.emulator_cpu,
            r.replay_cpu.unwrap_or(f64::NAN),
            c.sum,
            c.count,
            c.errors_5xx,
            s.seed.as_secs_f64(),
            s.seed_calls,
        );
    }

    println!("\n### Scanner memory in the cold scan (child process, MB)\n");
    println!(
        "| N | peak before the scan (engine, packs) | RSS at scan start | collectors done: RSS / peak so far | evaluation starts: RSS / peak so far | peak during the scan | RSS at the end |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for s in results {
        let r = &s.cold;
        let pair = |key: &str| {
            let v = &r.child[key];
            let kb = |i: usize| v[i].as_f64().unwrap_or(f64::NAN);
            format!("{:.0} / {:.0}", mb(kb(0)), mb(kb(1)))
        };
        println!(
            "| {} | {:.0} | {:.0} | {} | {} | {:.0} | {:.0} |",
            s.n,
            mb(r.get("hwm_setup_kb")),
            mb(r.get("rss_before_kb")),
            pair("memory_collected_kb"),
            pair("memory_evaluating_kb"),
            mb(r.get("hwm_scan_kb")),
            mb(r.get("rss_end_kb")),
        );
    }

    println!("\n### Warm scans (credential report exists): what the proxy adds\n");
    println!(
        "| N | S3 collector, direct | S3 collector, proxied | whole scan, direct | whole scan, proxied | proxied: emulator busy | proxied: retry backoff | proxied: scan / emulator busy, without retry backoff | serial replay | proxied scan / replay |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for s in results {
        let (d, p) = (&s.warm_direct, &s.warm_proxied);
        println!(
            "| {} | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {:.2}× | {:.2} s | {:.2}× |",
            s.n,
            d.task("s3/us-east-1"),
            p.task("s3/us-east-1"),
            d.wall(),
            p.wall(),
            p.calls.busy,
            p.calls.retry_wait,
            (p.wall() - p.calls.retry_wait) / p.calls.busy,
            p.replay.unwrap_or(f64::NAN),
            p.wall() / p.replay.unwrap_or(f64::NAN),
        );
    }

    if let Some(last) = results.last() {
        let r = &last.cold;
        println!(
            "\n### Emulator service time by call, cold scan at N = {}\n",
            last.n
        );
        println!("| call | count | sum (queueing in moto included) | mean |");
        println!("| --- | --- | --- | --- |");
        let mut ops: Vec<_> = r.calls.by_op.iter().collect();
        ops.sort_by(|a, b| b.1.1.total_cmp(&a.1.1));
        for (op, (count, total)) in ops {
            println!(
                "| {op} | {count} | {total:.2} s | {:.1} ms |",
                total * 1000.0 / *count as f64
            );
        }
        println!("\nAt N = {}:", last.n);
        for key in [
            "resources",
            "issues",
            "failing",
            "tasks",
            "setup_s",
            "hwm_setup_kb",
            "hwm_scan_kb",
        ] {
            println!("- {key}: {}", r.child[key]);
        }
    }

    if results.len() >= 2 {
        println!("\n### Growth (cold scans)\n");
        for pair in results.windows(2) {
            let (a, b) = (&pair[0].cold, &pair[1].cold);
            let units = (4 * (pair[1].n - pair[0].n)) as f64;
            let net = |r: &Run| r.wall() - r.calls.retry_wait;
            println!(
                "- N {} → {}: N ×{:.1}; scan wall ×{:.2} (without retry backoff ×{:.2}), marginal {:.2} ms per unit; emulator busy ×{:.2}, marginal {:.2} ms per unit; API calls ×{:.2}",
                pair[0].n,
                pair[1].n,
                pair[1].n as f64 / pair[0].n as f64,
                b.wall() / a.wall(),
                net(b) / net(a),
                (net(b) - net(a)) * 1000.0 / units,
                b.calls.busy / a.calls.busy,
                (b.calls.busy - a.calls.busy) * 1000.0 / units,
                b.get("api_calls") / a.get("api_calls"),
            );
        }
    }
}

/// Runs one scan in a child process and returns what it reported.
fn run_child(endpoint: &str, account_id: &str) -> Value {
    let exe = std::env::current_exe().expect("own executable");
    let out = Command::new(exe)
        .args(["--scan-child", endpoint, account_id])
        .envs(SDK_ENV)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run the scan child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "scan child failed: {}\n{stdout}",
        out.status
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("scan child printed no result:\n{stdout}"));
    serde_json::from_str(line).expect("the child's result is JSON")
}

/// CPU seconds (user + system, all threads) a process has used so far.
fn process_cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Linux reports these in USER_HZ, which is 100 on every supported architecture.
    (ticks(11) + ticks(12)) / 100.0
}

// ---------------------------------------------------------------------------------------------
// Seeding

fn options(endpoint: &str) -> AwsOptions {
    AwsOptions {
        endpoint_url: Some(endpoint.to_owned()),
        credentials: Some(aws_credential_types::Credentials::new(
            "testing", "testing", None, None, "bench",
        )),
        ..AwsOptions::default()
    }
}

fn account(account_id: &str) -> Account {
    Account {
        name: format!("bench-{account_id}"),
        account_id: account_id.to_owned(),
        role_arn: format!("arn:aws:iam::{account_id}:role/PalisadeAudit"),
        external_id: Some("palisade-bench".into()),
        excluded_regions: vec![],
        excluded_resource_types: vec![],
        excluded_resources: vec![],
        scan_interval_hours: None,
        added_at: time::OffsetDateTime::now_utc(),
    }
}

type Seeding = BoxFuture<'static, Result<(), AwsError>>;

/// Seeds `n` units into the account, concurrently; returns the calls made.
async fn seed(endpoint: &str, account_id: &str, n: usize) -> u64 {
    let host = Session::host(options(endpoint)).await;
    let a = account(account_id);
    let session = host
        .assume(&a.role_arn, a.external_id.as_deref(), "palisade-bench-seed")
        .await;
    let (s3, ec2, iam) = (session.s3(REGION), session.ec2(REGION), session.iam());

    let subnets = ec2
        .describe_subnets()
        .filters(
            Filter::builder()
                .name("default-for-az")
                .values("true")
                .build(),
        )
        .send()
        .await
        .expect("default subnets");
    let subnet = subnets.subnets()[0]
        .subnet_id()
        .expect("subnet id")
        .to_owned();

    let mut work: Vec<Seeding> = Vec::new();
    for i in 0..n {
        let (s3, ec2, iam) = (s3.clone(), ec2.clone(), iam.clone());
        let bucket = format!("bench-{account_id}-{i:04}");
        work.push(Box::pin(async move {
            s3.create_bucket()
                .bucket(bucket)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateBucket", e))?;
            Ok(())
        }));
        work.push(Box::pin(async move {
            let group = ec2
                .create_security_group()
                .group_name(format!("svc-{i:04}"))
                .description("bench service group")
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateSecurityGroup", e))?;
            // One group in ten has SSH open to the world; the rest HTTPS from the network.
            let (port, cidr) = if i % 10 == 0 {
                (22, "0.0.0.0/0")
            } else {
                (443, "10.0.0.0/8")
            };
            ec2.authorize_security_group_ingress()
                .group_id(group.group_id().unwrap_or_default())
                .ip_permissions(
                    IpPermission::builder()
                        .ip_protocol("tcp")
                        .from_port(port)
                        .to_port(port)
                        .ip_ranges(IpRange::builder().cidr_ip(cidr).build())
                        .build(),
                )
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("AuthorizeSecurityGroupIngress", e))?;
            Ok(())
        }));
        work.push(Box::pin(async move {
            let user = format!("svc-user-{i:04}");
            iam.create_user()
                .user_name(&user)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateUser", e))?;
            iam.create_access_key()
                .user_name(&user)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateAccessKey", e))?;
            Ok(())
        }));
    }
    for start in (0..n).step_by(INSTANCE_BATCH) {
        let count = INSTANCE_BATCH.min(n - start) as i32;
        let (ec2, subnet) = (ec2.clone(), subnet.clone());
        work.push(Box::pin(async move {
            ec2.run_instances()
                .image_id("ami-0bench000000000")
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                .min_count(count)
                .max_count(count)
                .subnet_id(subnet)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("RunInstances", e))?;
            Ok(())
        }));
    }
    let results: Vec<Result<(), AwsError>> = futures::stream::iter(work)
        .buffer_unordered(SEED_CONCURRENCY)
        .collect()
        .await;
    for r in results {
        if let Err(e) = r {
            panic!("seeding failed: {e}");
        }
    }
    host.api_calls()
}

// ---------------------------------------------------------------------------------------------
// The child: one scan, measured from inside

/// Records when the collectors finished and when evaluation started.
#[derive(Default)]
struct Phases {
    last_collector: Mutex<Option<Instant>>,
    evaluating: Mutex<Option<Instant>>,
    tasks: Mutex<Vec<(String, usize, f64)>>,
    /// RSS and its high-water mark (kB) when the last collector finished (all documents in
    /// memory, nothing written yet) and when evaluation started (documents written and read back).
    memory_collected: Mutex<(f64, f64)>,
    memory_evaluating: Mutex<(f64, f64)>,
}

impl Progress for Phases {
    fn finished(&self, task: &Task, resources: usize, _issues: usize, took: Duration) {
        *self.last_collector.lock().unwrap() = Some(Instant::now());
        *self.memory_collected.lock().unwrap() = (proc_status_kb("VmRSS"), proc_status_kb("VmHWM"));
        self.tasks.lock().unwrap().push((
            format!("{}/{}", task.service.name(), task.region),
            resources,
            took.as_secs_f64(),
        ));
    }
    fn evaluating(&self, _resources: usize) {
        *self.evaluating.lock().unwrap() = Some(Instant::now());
        *self.memory_evaluating.lock().unwrap() =
            (proc_status_kb("VmRSS"), proc_status_kb("VmHWM"));
    }
}

fn scan_child(endpoint: &str, account_id: &str) {
    let setup = Instant::now();
    let store = Arc::new(SledStore::temporary().expect("store"));
    let engine = Engine::new(Limits::default()).expect("engine");
    let packs = Arc::new(builtin_packs(&engine).expect("built-in packs"));
    let evaluator = Arc::new(
        Evaluator::new(packs, &RuleSettings::new(), store.clone() as Arc<dyn Store>)
            .expect("rules"),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let host = runtime.block_on(Session::host(options(endpoint)));
    let scanner = Scanner::new(
        host,
        store.clone() as Arc<dyn Store>,
        Arc::new(evaluator),
        ScanOptions {
            regions: vec![REGION.into()],
            ..ScanOptions::default()
        },
    );
    let account = account(account_id);
    let setup_s = setup.elapsed().as_secs_f64();

    // Peak RSS of the setup (engine, pack compilation), then reset the high-water mark so the
    // scan's own peak shows (Linux: writing 5 to clear_refs resets VmHWM to the current RSS).
    let hwm_setup_kb = proc_status_kb("VmHWM");
    let rss_before_kb = proc_status_kb("VmRSS");
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let cpu0 = process_cpu_seconds(std::process::id());

    let phases = Phases::default();
    let started_unix = unix_now();
    let started = Instant::now();
    let record = runtime
        .block_on(scanner.scan(&account, &phases))
        .expect("scan");
    let wall = started.elapsed();
    let ended_unix = unix_now();
    let cpu_s = process_cpu_seconds(std::process::id()) - cpu0;
    let hwm_scan_kb = proc_status_kb("VmHWM");

    let collected = phases.last_collector.lock().unwrap().unwrap_or(started);
    let evaluating = phases.evaluating.lock().unwrap().unwrap_or(collected);
    let resources_total: u64 = record.resources.values().sum();
    let issues: BTreeMap<String, usize> = issue_counts(&record.issues)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let mut issue_ops: BTreeMap<String, usize> = BTreeMap::new();
    let mut messages: BTreeMap<String, String> = BTreeMap::new();
    for i in &record.issues {
        let what = i
            .field
            .clone()
            .or(i.resource_type.clone())
            .unwrap_or_default();
        let key = format!("{}:{what}", i.service);
        *issue_ops.entry(key.clone()).or_default() += 1;
        messages
            .entry(key)
            .or_insert_with(|| i.message.chars().take(200).collect());
    }
    let result = json!({
        "setup_s": setup_s,
        "wall_s": wall.as_secs_f64(),
        "started_unix": started_unix,
        "ended_unix": ended_unix,
        "collect_s": (collected - started).as_secs_f64(),
        "write_s": (evaluating - collected).as_secs_f64(),
        "evaluate_s": (started + wall - evaluating).as_secs_f64(),
        "cpu_s": cpu_s,
        "api_calls": record.api_calls,
        "resources": record.resources,
        "resources_total": resources_total,
        "evaluated": record.evaluated,
        "failing": record.failing,
        "errors": record.errors,
        "issues": {"by_kind": issues, "by_field": issue_ops, "first_message": messages},
        "tasks": *phases.tasks.lock().unwrap(),
        "hwm_setup_kb": hwm_setup_kb,
        "rss_before_kb": rss_before_kb,
        "hwm_scan_kb": if reset { hwm_scan_kb } else { f64::NAN },
        "hwm_process_kb": hwm_setup_kb.max(hwm_scan_kb),
        "memory_collected_kb": *phases.memory_collected.lock().unwrap(),
        "memory_evaluating_kb": *phases.memory_evaluating.lock().unwrap(),
        "rss_end_kb": proc_status_kb("VmRSS"),
    });
    println!("RESULT {result}");
}

/// A `kB` line of /proc/self/status.
fn proc_status_kb(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(f64::NAN)
}

// ---------------------------------------------------------------------------------------------
// The timing proxy

/// One request as the emulator served it.
struct Exchange {
    /// Seconds since the Unix epoch (so the child's scan window, taken in another process,
    /// lines up): first byte forwarded, last byte of the answer read.
    start: f64,
    end: f64,
    op: String,
    status: u16,
    /// The request as sent, and its method, for replaying it.
    request: Vec<u8>,
    method: String,
}

/// Seconds since the Unix epoch, now.
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A loopback HTTP/1.1 proxy that forwards whole requests to the emulator and logs how long
/// each took there.
struct Proxy {
    endpoint: String,
    log: Arc<Mutex<Vec<Exchange>>>,
}

impl Proxy {
    fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy on 127.0.0.1");
        let endpoint = format!("http://{}", listener.local_addr().expect("proxy address"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = log.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let log = shared.clone();
                std::thread::spawn(move || {
                    // A broken connection ends that connection only; the client sees the error.
                    let _ = relay(client, upstream, &log);
                });
            }
        });
        Proxy { endpoint, log }
    }

    /// The exchanges logged since the last call.
    fn take(&self) -> Vec<Exchange> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

/// Relays one client connection over its own upstream connection, request by request.
fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    log: &Mutex<Vec<Exchange>>,
) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream)?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let mut from_client = BufReader::new(client.try_clone()?);
    let mut from_server = BufReader::new(server.try_clone()?);
    let (mut to_client, mut to_server) = (client, server);
    loop {
        let Some(request) = read_message(&mut from_client, None)? else {
            return Ok(());
        };
        let start = unix_now();
        to_server.write_all(&request.bytes)?;
        let response = read_message(&mut from_server, Some(&request.method))?
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        let end = unix_now();
        to_client.write_all(&response.bytes)?;
        log.lock().unwrap().push(Exchange {
            start,
            end,
            op: operation(&request),
            status: response.method.parse().unwrap_or(0),
            request: request.bytes,
            method: request.method,
        });
        if request.close || response.close {
            return Ok(());
        }
    }
}

/// Sends `exchanges`' requests to the emulator again, one at a time over one keep-alive
/// connection, reading each answer whole; returns the seconds that took. The scan's requests
/// are reads (plus `AssumeRole` and `GenerateCredentialReport`), so replaying them changes
/// nothing; moto does not check signatures or their timestamps.
fn replay(upstream: SocketAddr, exchanges: &[Exchange]) -> std::io::Result<f64> {
    let connect = || -> std::io::Result<(TcpStream, BufReader<TcpStream>)> {
        let stream = TcpStream::connect(upstream)?;
        stream.set_nodelay(true)?;
        let reader = BufReader::new(stream.try_clone()?);
        Ok((stream, reader))
    };
    let started = Instant::now();
    let mut conn = Some(connect()?);
    for e in exchanges {
        let (to_server, from_server) = match &mut conn {
            Some(c) => c,
            None => conn.insert(connect()?),
        };
        to_server.write_all(&e.request)?;
        let response = read_message(from_server, Some(&e.method))?
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        if response.close {
            conn = None;
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

/// One whole HTTP/1.1 message, as read off the wire.
struct Message {
    bytes: Vec<u8>,
    /// Request method, or the status code of a response.
    method: String,
    head: Vec<(String, String)>,
    start_line: String,
    body_at: usize,
    close: bool,
}

/// Reads a request (`request_method` None) or the response to one; None on a clean EOF.
/// Bodies are framed by Content-Length or chunking, or run to EOF on a response without either.
/// (No `Expect: 100-continue` handling: the scan's requests do not use it.)
fn read_message(
    r: &mut BufReader<TcpStream>,
    request_method: Option<&str>,
) -> std::io::Result<Option<Message>> {
    let eof = || std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
    let mut bytes = Vec::with_capacity(1024);
    loop {
        let at = bytes.len();
        if r.read_until(b'\n', &mut bytes)? == 0 {
            return if bytes.is_empty() {
                Ok(None)
            } else {
                Err(eof())
            };
        }
        let line = &bytes[at..];
        if line == b"\r\n" || line == b"\n" {
            if at == 0 {
                bytes.clear(); // stray blank line between messages
                continue;
            }
            break;
        }
    }
    let body_at = bytes.len();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let mut lines = text.lines();
    let start_line = lines.next().unwrap_or_default().to_owned();
    let head: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let header = |name: &str| {
        head.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let mut parts = start_line.split_whitespace();
    let (first, second) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (method, version) = match request_method {
        None => (
            first.to_owned(),
            start_line.rsplit(' ').next().unwrap_or(""),
        ),
        Some(_) => (second.to_owned(), first),
    };
    let connection = header("connection").unwrap_or("").to_ascii_lowercase();
    let mut close = connection.contains("close")
        || (version == "HTTP/1.0" && !connection.contains("keep-alive"));

    let chunked =
        header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length: Option<usize> = header("content-length").and_then(|v| v.parse().ok());
    let bodiless = match request_method {
        Some(m) => m == "HEAD" || method.starts_with('1') || method == "204" || method == "304",
        None => false,
    };
    if bodiless {
    } else if chunked {
        loop {
            let at = bytes.len();
            if r.read_until(b'\n', &mut bytes)? == 0 {
                return Err(eof());
            }
            let size_line = String::from_utf8_lossy(&bytes[at..]).into_owned();
            let size_hex = size_line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|_| std::io::Error::other(format!("bad chunk size {size_hex:?}")))?;
            if size == 0 {
                // Trailers, then the blank line.
                loop {
                    let at = bytes.len();
                    if r.read_until(b'\n', &mut bytes)? == 0 {
                        return Err(eof());
                    }
                    if matches!(&bytes[at..], b"\r\n" | b"\n") {
                        break;
                    }
                }
                break;
            }
            let at = bytes.len();
            bytes.resize(at + size + 2, 0);
            r.read_exact(&mut bytes[at..])?;
        }
    } else if let Some(length) = length {
        let at = bytes.len();
        bytes.resize(at + length, 0);
        r.read_exact(&mut bytes[at..])?;
    } else if request_method.is_some() {
        r.read_to_end(&mut bytes)?;
        close = true;
    }
    Ok(Some(Message {
        bytes,
        method,
        head,
        start_line,
        body_at,
        close,
    }))
}

/// The API operation a request is for: the JSON protocol's target, the query protocol's
/// `Action`, or for S3's REST protocol the method and sub-resource.
fn operation(request: &Message) -> String {
    let header = |name: &str| {
        request
            .head
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if let Some(target) = header("x-amz-target") {
        return target.rsplit('.').next().unwrap_or(target).to_owned();
    }
    let body = String::from_utf8_lossy(&request.bytes[request.body_at..]);
    if let Some(action) = body.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
        return action.to_owned();
    }
    let target = request.start_line.split_whitespace().nth(1).unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let keys: Vec<&str> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| kv.split_once('=').map_or(kv, |(k, _)| k))
        .collect();
    if let Some(id) = query.split('&').find_map(|kv| kv.strip_prefix("x-id=")) {
        return format!("S3 {id}");
    }
    if path == "/" {
        return format!("S3 {} / (ListBuckets)", request.method);
    }
    format!(
        "S3 {} ?{}",
        request.method,
        keys.first().copied().unwrap_or("")
    )
}

/// The exchanges of one scan, summarised. Times in seconds.
struct Calls {
    count: usize,
    /// Answers with a 5xx status (moto's "not implemented" is a 500).
    errors_5xx: usize,
    /// Sum of per-request service times (requests queued inside moto count while they wait).
    sum: f64,
    /// Wall time with at least one request in the emulator (union of the intervals).
    busy: f64,
    /// Time with nothing in the emulator while the client waited to retry a 5xx answer.
    retry_wait: f64,
    /// Time with nothing in the emulator while the client waited for the IAM credential
    /// report to be generated (between two `GenerateCredentialReport` calls).
    report_wait: f64,
    /// Time from the scan's start to its first request, and from its last answer to its end.
    before_first: f64,
    after_last: f64,
    by_op: BTreeMap<String, (usize, f64)>,
}

impl Calls {
    /// Summarises the exchanges of a scan that ran from `window.0` to `window.1`.
    fn new(mut exchanges: Vec<Exchange>, window: (f64, f64)) -> Calls {
        exchanges.sort_by(|a, b| a.start.total_cmp(&b.start));
        let mut by_op: BTreeMap<String, (usize, f64)> = BTreeMap::new();
        for e in &exchanges {
            let entry = by_op.entry(e.op.clone()).or_default();
            entry.0 += 1;
            entry.1 += e.end - e.start;
        }
        let busy: Vec<(f64, f64)> = merge(exchanges.iter().map(|e| (e.start, e.end)).collect());
        // A 5xx answer followed by the same operation again: the gap is the retry's backoff.
        let mut retries = Vec::new();
        let mut report = Vec::new();
        for (i, e) in exchanges.iter().enumerate() {
            let next = exchanges[i + 1..]
                .iter()
                .find(|n| n.op == e.op && n.start >= e.end);
            if let Some(n) = next {
                if e.status >= 500 {
                    retries.push((e.end, n.start));
                } else if e.op == "GenerateCredentialReport" {
                    report.push((e.end, n.start));
                }
            }
        }
        let busy_s = measure(&busy);
        // Waiting time not hidden behind other requests: |busy ∪ waits| − |busy|.
        let idle = |waits: Vec<(f64, f64)>| {
            let mut all = busy.clone();
            all.extend(waits);
            measure(&merge(all)) - busy_s
        };
        Calls {
            count: exchanges.len(),
            errors_5xx: exchanges.iter().filter(|e| e.status >= 500).count(),
            sum: exchanges.iter().map(|e| e.end - e.start).sum(),
            busy: busy_s,
            retry_wait: idle(retries),
            report_wait: idle(report),
            before_first: busy.first().map_or(0.0, |b| b.0 - window.0),
            after_last: busy.last().map_or(0.0, |b| window.1 - b.1),
            by_op,
        }
    }
}

/// Sorted, disjoint intervals covering the same time as `intervals`.
fn merge(mut intervals: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    intervals.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(intervals.len());
    for (start, end) in intervals {
        match out.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out
}

fn measure(intervals: &[(f64, f64)]) -> f64 {
    intervals.iter().map(|(s, e)| e - s).sum()
}
