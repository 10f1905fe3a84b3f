//! Engine benchmark: four rules, one per resource type (administrative ingress from `aws-vpc`,
//! access key rotation and admin policies from `aws-iam`, default encryption from `aws-s3`) over 100,000 synthetic resources (~2 KB each, the shapes AWS returns), through
//! the WebAssembly engine and, in the same process, through the same rule code compiled
//! natively (the SDK's runtime, minus the component boundary).
//!
//! Run: `cargo bench -p palisade --bench engine` (add `-- --quick` for a smaller corpus).
//! Prints a Markdown table for BENCHMARKS.md. Timings are medians of several rounds; ratios are
//! what matter, since absolute numbers move with the machine.

use std::hint::black_box;
use std::time::{Duration, Instant};

use palisade::engine::{
    ArtifactCache, BUILTIN_PACKS, BuiltinPack, Engine, EvalContext, Limits, Pack, Plan, RuleMeta,
    RuleSettings, Subject,
};
use palisade::store::SledStore;
use palisade_sdk::runtime::{StaticHost, evaluate_batch};
use palisade_sdk::wit::RuleRequest;
use serde_json::{Value, json};
use time::macros::datetime;

const ACCOUNT: &str = "123456789012";

/// The rules benchmarked: exactly one per resource type of the corpus. (The whole library
/// over a realistic account is the `library` benchmark.)
const BENCHMARKED: [&str; 4] = [
    "AWS.SecurityGroup.AdministrativeIngress",
    "AWS.AccessKey.Rotation",
    "AWS.IAM.Policy.DoesNotGrantAdminAccess",
    "AWS.S3.Bucket.Encryption",
];

/// The packs holding [`BENCHMARKED`].
const PACKS: [&str; 3] = ["aws-iam", "aws-s3", "aws-vpc"];

fn benchmarked(rule: &RuleMeta) -> bool {
    BENCHMARKED.contains(&rule.id.as_str())
}

/// The embedded pack named `name`.
fn builtin(name: &str) -> &'static BuiltinPack {
    BUILTIN_PACKS
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("{name} is built in"))
}

/// [`PACKS`] loaded by `engine`, each with its plan of the benchmarked rules.
fn load_packs(engine: &Engine) -> Vec<(Pack, Plan)> {
    PACKS
        .into_iter()
        .map(|name| {
            let pack = engine.load(name, builtin(name).wasm).unwrap();
            let plan = pack.plan(benchmarked, &RuleSettings::new()).unwrap();
            (pack, plan)
        })
        .collect()
}

/// The WASM side: each pack's planned rules over `subjects`; the number of evaluations.
fn wasm_evaluate(packs: &[(Pack, Plan)], ctx: &EvalContext, subjects: &[Subject<'_>]) -> usize {
    packs
        .iter()
        .map(|(pack, plan)| pack.evaluate(plan, ctx, subjects).len())
        .sum()
}

/// Deterministic xorshift, so every run evaluates the same corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn tags(rng: &mut Rng, i: usize) -> Value {
    let environment = ["prod", "staging", "dev"][rng.below(3) as usize];
    json!({"Environment": environment, "Team": format!("team-{}", i % 37),
           "CostCenter": format!("cc-{:05}", rng.below(99999)), "ManagedBy": "terraform",
           "Owner": format!("owner-{}@corp.example.com", i % 211), "DataClassification": "internal",
           "Repository": format!("github.com/corp/infra-{}", i % 53), "Compliance": "soc2"})
}

fn bucket(rng: &mut Rng, i: usize) -> Value {
    let name = format!("corp-data-{i:06}-{}", rng.below(1 << 20));
    let encryption = if rng.chance(80) {
        json!([{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": if rng.chance(50) {"aws:kms"} else {"AES256"},
                 "KMSMasterKeyID": format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{:032x}", rng.next() as u128 * 7919)},
                "BucketKeyEnabled": true}])
    } else {
        Value::Null
    };
    json!({
        "ResourceId": format!("arn:aws:s3:::{name}"), "ResourceType": "AWS.S3.Bucket", "AccountId": ACCOUNT,
        "Region": "us-east-1", "Arn": format!("arn:aws:s3:::{name}"), "Name": name, "Tags": tags(rng, i),
        "TimeCreated": "2023-04-11T09:12:44Z", "EncryptionRules": encryption,
        "Grants": [{"Grantee": {"DisplayName": "owner", "ID": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be", "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"},
                   {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/s3/LogDelivery"}, "Permission": "WRITE"},
                   {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/s3/LogDelivery"}, "Permission": "READ_ACP"}],
        "LifecycleRules": [{"ID": "expire-tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 30}},
                           {"ID": "archive", "Status": "Enabled", "Filter": {"Prefix": "archive/"}, "Transitions": [{"Days": 90, "StorageClass": "GLACIER_IR"}, {"Days": 365, "StorageClass": "DEEP_ARCHIVE"}]},
                           {"ID": "abort-multipart", "Status": "Enabled", "Filter": {}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}],
        "LoggingPolicy": {"TargetBucket": "corp-access-logs", "TargetPrefix": format!("{name}/")},
        "MFADelete": null, "ObjectLockConfiguration": null,
        "Owner": {"DisplayName": "owner", "ID": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
        "Policy": format!("{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Sid\":\"DenyInsecure\",\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":[\"arn:aws:s3:::{name}\",\"arn:aws:s3:::{name}/*\"],\"Condition\":{{\"Bool\":{{\"aws:SecureTransport\":\"false\"}}}}}}]}}"),
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true},
        "Versioning": "Enabled",
    })
}

fn permission(rng: &mut Rng) -> Value {
    let (from, to) = [
        (443, 443),
        (80, 80),
        (22, 22),
        (3389, 3389),
        (0, 65535),
        (8000, 8100),
    ][rng.below(6) as usize];
    let cidr = if rng.chance(20) {
        "0.0.0.0/0".to_owned()
    } else {
        format!("10.{}.0.0/16", rng.below(255))
    };
    json!({"IpProtocol": if rng.chance(10) {"-1"} else {"tcp"}, "FromPort": from, "ToPort": to,
           "IpRanges": [{"CidrIp": cidr, "Description": "service traffic"}, {"CidrIp": format!("172.16.{}.0/24", rng.below(255)), "Description": "office VPN"}],
           "Ipv6Ranges": if rng.chance(10) { json!([{"CidrIpv6": "::/0"}]) } else { json!([]) },
           "PrefixListIds": [], "UserIdGroupPairs": []})
}

fn security_group(rng: &mut Rng, i: usize) -> Value {
    let id = format!("sg-{:017x}", rng.next() >> 4);
    let ingress: Vec<Value> = (0..1 + rng.below(4)).map(|_| permission(rng)).collect();
    json!({
        "ResourceId": format!("arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{id}"), "ResourceType": "AWS.EC2.SecurityGroup",
        "AccountId": ACCOUNT, "Region": "us-east-1", "Arn": format!("arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{id}"),
        "Id": id, "Name": format!("svc-{i}"), "Tags": tags(rng, i), "TimeCreated": null,
        "Description": "Managed by Terraform for the service mesh ingress tier (see runbook RB-2231 before changing)", "OwnerId": ACCOUNT,
        "VpcId": format!("vpc-{:017x}", rng.next() >> 4), "IpPermissions": ingress,
        "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}], "PrefixListIds": [], "UserIdGroupPairs": []},
                                {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
                                 "UserIdGroupPairs": [{"GroupId": format!("sg-{:017x}", rng.next() >> 4), "UserId": ACCOUNT, "Description": "database tier"}]}],
    })
}

fn user(rng: &mut Rng, i: usize) -> Value {
    let name = format!("svc-user-{i}");
    let rotated = format!(
        "2026-{:02}-{:02}T08:00:00Z",
        1 + rng.below(11),
        1 + rng.below(28)
    );
    json!({
        "ResourceId": format!("arn:aws:iam::{ACCOUNT}:user/{name}"), "ResourceType": "AWS.IAM.User", "AccountId": ACCOUNT,
        "Region": "global", "Arn": format!("arn:aws:iam::{ACCOUNT}:user/{name}"), "Id": format!("AIDA{:016X}", rng.next()),
        "Name": name, "Tags": tags(rng, i), "TimeCreated": "2022-02-02T10:00:00Z", "Path": "/service/",
        "CredentialReport": {"UserName": name, "ARN": format!("arn:aws:iam::{ACCOUNT}:user/{name}"), "UserCreationTime": "2022-02-02T10:00:00Z",
            "PasswordEnabled": false, "PasswordLastUsed": "0001-01-01T00:00:00Z", "PasswordLastChanged": "0001-01-01T00:00:00Z",
            "PasswordNextRotation": "0001-01-01T00:00:00Z", "MfaActive": false, "AccessKey1Active": true, "AccessKey1LastRotated": rotated,
            "AccessKey1LastUsedDate": "2026-11-20T11:00:00Z", "AccessKey1LastUsedRegion": "us-east-1", "AccessKey1LastUsedService": "s3",
            "AccessKey2Active": false, "AccessKey2LastRotated": "0001-01-01T00:00:00Z", "AccessKey2LastUsedDate": "0001-01-01T00:00:00Z",
            "AccessKey2LastUsedRegion": "N/A", "AccessKey2LastUsedService": "N/A", "Cert1Active": false, "Cert1LastRotated": "0001-01-01T00:00:00Z",
            "Cert2Active": false, "Cert2LastRotated": "0001-01-01T00:00:00Z"},
        "Groups": [{"GroupName": "deployers", "GroupId": "AGPA0000000000000001", "Arn": format!("arn:aws:iam::{ACCOUNT}:group/deployers"), "Path": "/", "CreateDate": "2021-01-01T00:00:00Z"},
                   {"GroupName": "readers", "GroupId": "AGPA0000000000000002", "Arn": format!("arn:aws:iam::{ACCOUNT}:group/readers"), "Path": "/", "CreateDate": "2021-01-01T00:00:00Z"}],
        "InlinePolicies": {"ci-artifacts": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"s3:PutObject\",\"s3:GetObject\"],\"Resource\":\"arn:aws:s3:::corp-ci-artifacts/*\"}]}"},
        "ManagedPolicyNames": ["ReadOnlyAccess", "AmazonEC2ContainerRegistryPowerUser"], "PasswordLastUsed": null,
        "PermissionsBoundary": null, "VirtualMFA": null,
    })
}

fn policy(rng: &mut Rng, i: usize) -> Value {
    let name = format!("app-policy-{i}");
    let admin = rng.chance(5);
    let statements = if admin {
        json!([{"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}])
    } else {
        json!([{"Sid": "ReadData", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket", "dynamodb:GetItem", "dynamodb:Query", "kms:Decrypt"],
                "Resource": [format!("arn:aws:s3:::corp-data-{i:06}"), format!("arn:aws:s3:::corp-data-{i:06}/*"), format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/app-{i}")]},
               {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/app/{i}:*")}])
    };
    json!({
        "ResourceId": format!("arn:aws:iam::{ACCOUNT}:policy/{name}"), "ResourceType": "AWS.IAM.Policy", "AccountId": ACCOUNT,
        "Region": "global", "Arn": format!("arn:aws:iam::{ACCOUNT}:policy/{name}"), "Id": format!("ANPA{:016X}", rng.next()),
        "Name": name, "Tags": tags(rng, i), "TimeCreated": "2024-06-01T12:00:00Z", "AttachmentCount": 1, "DefaultVersionId": "v3",
        "Description": "Application access for the data pipeline", "IsAttachable": true, "Path": "/app/", "PermissionsBoundaryUsageCount": 0,
        "Entities": {"PolicyGroups": [{"GroupName": "data-engineers", "GroupId": "AGPA0000000000000009"}],
                     "PolicyRoles": [{"RoleName": format!("app-{i}"), "RoleId": format!("AROA{:016X}", rng.next())}, {"RoleName": format!("app-{i}-batch"), "RoleId": format!("AROA{:016X}", rng.next())}],
                     "PolicyUsers": []},
        "PolicyDocument": json!({"Version": "2012-10-17", "Statement": statements}).to_string(), "UpdateDate": "2025-03-03T03:03:03Z",
    })
}

struct Doc {
    id: String,
    resource_type: String,
    text: String,
}

fn corpus(n: usize) -> Vec<Doc> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..n)
        .map(|i| {
            let doc = match i % 4 {
                0 => bucket(&mut rng, i),
                1 => security_group(&mut rng, i),
                2 => user(&mut rng, i),
                _ => policy(&mut rng, i),
            };
            Doc {
                id: doc["ResourceId"].as_str().unwrap().to_owned(),
                resource_type: doc["ResourceType"].as_str().unwrap().to_owned(),
                text: doc.to_string(),
            }
        })
        .collect()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// CPU time this thread has run, from the scheduler (Linux): unlike wall time it excludes time
/// the virtual machine was descheduled, which on shared machines swings wall-clock figures.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

fn time_rounds(rounds: usize, mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut count = 0;
    let samples = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            count = black_box(f());
            start.elapsed()
        })
        .collect();
    (median(samples), count)
}

/// The native side: the same rules through the SDK runtime, grouped and batched as the engine
/// batches them (per resource type, `batch` documents per call), with no component boundary.
fn native_evaluate(
    docs: &[&Doc],
    requests_for: &dyn Fn(&str) -> Vec<RuleRequest>,
    host: &StaticHost,
    batch: usize,
) -> usize {
    let mut by_type: Vec<(&str, Vec<&str>)> = Vec::new();
    for d in docs {
        match by_type.iter_mut().find(|(t, _)| *t == d.resource_type) {
            Some((_, texts)) => texts.push(&d.text),
            None => by_type.push((&d.resource_type, vec![&d.text])),
        }
    }
    by_type
        .iter()
        .map(|(ty, texts)| {
            let requests = requests_for(ty);
            let rules = match *ty {
                "AWS.S3.Bucket" => palisade_aws_s3::RULES,
                "AWS.EC2.SecurityGroup" => palisade_aws_vpc::RULES,
                _ => palisade_aws_iam::RULES,
            };
            texts
                .chunks(batch)
                .map(|chunk| evaluate_batch(rules, &requests, ty, chunk, host).len())
                .sum::<usize>()
        })
        .sum()
}

fn subject(d: &Doc) -> Subject<'_> {
    Subject {
        id: &d.id,
        resource_type: &d.resource_type,
        account_id: ACCOUNT,
        document: &d.text,
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (n, rounds) = if quick { (10_000, 3) } else { (100_000, 9) };
    let docs = corpus(n);
    let bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    println!(
        "corpus: {n} resources, mean {} bytes, {rounds} rounds each (median)\n",
        bytes / n
    );

    let now = datetime!(2026-11-27 00:00 UTC);
    let aws_iam = builtin("aws-iam");

    // Compile cost, fresh and from the authenticated cache.
    let compile_start = Instant::now();
    let engine = Engine::new(Limits::default()).unwrap();
    engine.load("aws-iam", aws_iam.wasm).unwrap();
    let compile = compile_start.elapsed();
    let dir = std::env::temp_dir().join(format!("palisade-bench-{}", std::process::id()));
    let store = std::sync::Arc::new(SledStore::open(&dir.join("store")).unwrap());
    let cached = || {
        Engine::with_cache(
            Limits::default(),
            ArtifactCache::open(store.clone(), &dir.join("key")).unwrap(),
        )
        .unwrap()
    };
    cached().load("aws-iam", aws_iam.wasm).unwrap();
    let cache_start = Instant::now();
    let from_cache = cached().load("aws-iam", aws_iam.wasm).unwrap();
    let cache_load = cache_start.elapsed();
    assert!(from_cache.compiled_from_cache());
    let _ = std::fs::remove_dir_all(&dir);

    let host = StaticHost::at(palisade_sdk::time::Timestamp::from_unix(
        now.unix_timestamp(),
    ));
    let packs = load_packs(&engine);
    let requests_for = |ty: &str| -> Vec<RuleRequest> {
        packs
            .iter()
            .flat_map(|(pack, _)| {
                pack.rules()
                    .iter()
                    .filter(|r| benchmarked(r) && r.applies_to(ty))
            })
            .map(|r| RuleRequest {
                rule_id: r.id.clone(),
                settings_json: r.settings_json(None).unwrap(),
            })
            .collect()
    };
    let batch = Limits::default().batch_size;
    let ctx = EvalContext::at(now);

    let per = |d: Duration, count: usize| d.as_nanos() as f64 / count as f64 / 1000.0;

    // Rounds alternate native and WASM so that machine noise hits both alike; the ratio is the
    // median of the per-round ratios.
    let all: Vec<&Doc> = docs.iter().collect();
    let subjects: Vec<Subject<'_>> = docs.iter().map(subject).collect();
    let (mut native_samples, mut wasm_samples, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut native_cpu, mut wasm_cpu) = (Vec::new(), Vec::new());
    let (mut native_count, mut wasm_count) = (0, 0);
    for _ in 0..rounds {
        let cpu0 = thread_cpu();
        let (t_native, count) =
            time_rounds(1, || native_evaluate(&all, &requests_for, &host, batch));
        let cpu1 = thread_cpu();
        native_count = count;
        let (t_wasm, count) = time_rounds(1, || wasm_evaluate(&packs, &ctx, &subjects));
        let cpu2 = thread_cpu();
        wasm_count = count;
        ratios.push(t_wasm.as_secs_f64() / t_native.as_secs_f64());
        native_samples.push(t_native);
        wasm_samples.push(t_wasm);
        if let (Some(a), Some(b), Some(c)) = (cpu0, cpu1, cpu2) {
            native_cpu.push(b - a);
            wasm_cpu.push(c - b);
        }
    }
    assert_eq!(
        native_count, wasm_count,
        "both paths evaluate the same pairs"
    );
    let (native, wasm) = (median(native_samples), median(wasm_samples));
    ratios.sort_by(f64::total_cmp);
    let ratio = ratios[ratios.len() / 2];

    let rate = |d: Duration, count: usize| count as f64 / d.as_secs_f64();
    // Per CPU-second of the evaluating thread: the throughput of one core, whatever else the
    // host machine was doing.
    let cpu_rate = |samples: Vec<Duration>, count: usize| {
        if samples.is_empty() {
            "n/a".to_owned()
        } else {
            format!("{:.0}", rate(median(samples), count))
        }
    };
    println!(
        "| path | evaluations | total (wall) | µs / evaluation | evaluations / s (wall) | evaluations / CPU-second | vs native |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| native (same rule code, SDK runtime) | {native_count} | {:.0} ms | {:.2} | {:.0} | {} | 1.00× |",
        native.as_secs_f64() * 1e3,
        per(native, native_count),
        rate(native, native_count),
        cpu_rate(native_cpu, native_count)
    );
    println!(
        "| WASM (engine, batch {batch}) | {wasm_count} | {:.0} ms | {:.2} | {:.0} | {} | {:.2}× |",
        wasm.as_secs_f64() * 1e3,
        per(wasm, wasm_count),
        rate(wasm, wasm_count),
        cpu_rate(wasm_cpu, wasm_count),
        ratio
    );

    // Per resource type, and the boundary alone: a guest that answers `pass` without reading
    // the document measures what crossing into the sandbox costs per resource.
    println!("\n| resource type | native µs / evaluation | WASM µs / evaluation | vs native |");
    println!("| --- | --- | --- | --- |");
    for ty in [
        "AWS.S3.Bucket",
        "AWS.EC2.SecurityGroup",
        "AWS.IAM.User",
        "AWS.IAM.Policy",
    ] {
        let of_type: Vec<&Doc> = docs.iter().filter(|d| d.resource_type == ty).collect();
        let (tn, cn) = time_rounds(rounds, || {
            native_evaluate(&of_type, &requests_for, &host, batch)
        });
        let subs: Vec<Subject<'_>> = of_type.iter().map(|d| subject(d)).collect();
        let (tw, cw) = time_rounds(rounds, || wasm_evaluate(&packs, &ctx, &subs));
        println!(
            "| {ty} | {:.2} | {:.2} | {:.2}× |",
            per(tn, cn),
            per(tw, cw),
            per(tw, cw) / per(tn, cn)
        );
    }
    let bogus = engine
        .load(
            "bogus",
            &palisade_test_fixtures::read(palisade_test_fixtures::BOGUS),
        )
        .unwrap();
    let bogus_plan = bogus
        .plan(|r| r.id == "Bogus.Good", &RuleSettings::new())
        .unwrap();
    let things: Vec<Subject<'_>> = subjects
        .iter()
        .map(|s| Subject {
            resource_type: "Test.Thing",
            ..*s
        })
        .collect();
    let (tb, cb) = time_rounds(rounds, || bogus.evaluate(&bogus_plan, &ctx, &things).len());
    println!(
        "| boundary only (a pack that answers without reading) | – | {:.2} | – |",
        per(tb, cb)
    );

    // Batch size: how much one call amortises the boundary.
    println!("\n| batch size | µs / evaluation | vs native |");
    println!("| --- | --- | --- |");
    let sample = &subjects[..subjects.len().min(20_000)];
    for size in [1, 16, 64, 256, 1024] {
        let engine = Engine::new(Limits {
            batch_size: size,
            ..Limits::default()
        })
        .unwrap();
        let packs = load_packs(&engine);
        let (t, count) = time_rounds(rounds.min(3), || wasm_evaluate(&packs, &ctx, sample));
        println!(
            "| {size} | {:.2} | {:.2}× |",
            per(t, count),
            per(t, count) / per(native, native_count)
        );
    }

    println!("\n| load | time |\n| --- | --- |");
    println!(
        "| compile aws-iam ({} KB) with cranelift | {:.0} ms |",
        aws_iam.wasm.len() / 1024,
        compile.as_secs_f64() * 1e3
    );
    println!(
        "| load aws-iam from the artefact cache | {:.1} ms |",
        cache_load.as_secs_f64() * 1e3
    );
}
