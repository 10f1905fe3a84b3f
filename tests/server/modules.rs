//! Hot-loading over HTTP: uploads that activate at once and re-evaluate stored resources,
//! rejected uploads that leave the last good revision serving, swaps under continuous
//! evaluation load, rollback, signatures, and modules and findings surviving a restart.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use palisade::policy_tests::{Expect, TestCase, embed};
use palisade::server::auth::sign_digest;
use palisade_test_fixtures::{
    BAD_METADATA, HOTLOAD_CONFLICT, HOTLOAD_V1, HOTLOAD_V2, UNKNOWN_IMPORT, WRONG_WORLD, read,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest;

use crate::service::{ADMIN, Config, READER, Service, send};
use crate::support::{Env, emulator};

const V1_RULES: &[&str] = &["Hot.Bucket.Named"];
const V2_RULES: &[&str] = &["Hot.Bucket.Named", "Hot.Bucket.Second"];

/// An emulator account with two buckets, onboarded over the API; returns once its baseline
/// scan succeeded.
async fn scanned_account(service: &Service) -> Env {
    let env = Env::new().await;
    for name in [bucket(&env, "bad"), bucket(&env, "fine")] {
        env.session
            .s3("us-east-1")
            .create_bucket()
            .bucket(name)
            .send()
            .await
            .expect("create bucket");
    }
    let created = service.add_account(&env.account, true).await;
    let job = service
        .wait_for_scan(created["scan"]["id"].as_str().expect("baseline scan"))
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    env
}

/// Bucket names are global in the emulator: make them unique per account.
fn bucket(env: &Env, what: &str) -> String {
    format!("{what}-{}", env.account.account_id)
}

fn arn(name: &str) -> String {
    format!("arn:aws:s3:::{name}")
}

/// Open findings of `rule` in the account, as (resource id, status, message).
async fn findings(service: &Service, env: &Env, rule: &str) -> Vec<(String, String, String)> {
    let (status, page) = service
        .get(&format!(
            "/api/v1/findings?rule={rule}&account={}&limit=1000",
            env.account.account_id
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let mut out: Vec<_> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|f| {
            (
                f["resource_id"].as_str().unwrap_or_default().to_owned(),
                f["status"].as_str().unwrap_or_default().to_owned(),
                f["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

async fn module_rules(service: &Service, name: &str) -> Vec<String> {
    let (status, rules) = service.get("/api/v1/rules").await;
    assert_eq!(status, StatusCode::OK);
    rules
        .as_array()
        .expect("rules")
        .iter()
        .filter(|r| r["module"] == name)
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_activates_reevaluates_and_rolls_back() {
    let data = tempfile::tempdir().expect("tempdir");
    let config = Config {
        endpoint: emulator().endpoint.clone(),
        ..Config::default()
    };
    let service = Service::start(data.path(), &config);
    let env = scanned_account(&service).await;
    let (bad, fine) = (arn(&bucket(&env, "bad")), arn(&bucket(&env, "fine")));

    // Revision 1: its rule is listed and its findings appear for the stored buckets.
    let (status, v1) = service.upload("hot", read(HOTLOAD_V1)).await;
    assert_eq!(status, StatusCode::CREATED, "{v1}");
    assert_eq!(v1["module"]["revision"], 1);
    assert_eq!(v1["changed"], true);
    assert_eq!(module_rules(&service, "hot").await, V1_RULES);
    service.wait_settled().await;
    let named = findings(&service, &env, "Hot.Bucket.Named").await;
    assert_eq!(named.len(), 2, "{named:?}");
    assert_eq!(
        (named[0].0.as_str(), named[0].1.as_str()),
        (bad.as_str(), "fail")
    );
    assert!(named[0].2.starts_with("v1:"), "{named:?}");
    assert_eq!(
        (named[1].0.as_str(), named[1].1.as_str()),
        (fine.as_str(), "pass")
    );

    // The same bytes again change nothing.
    let (status, same) = service.upload("hot", read(HOTLOAD_V1)).await;
    assert_eq!(status, StatusCode::OK, "{same}");
    assert_eq!(same["changed"], false);
    assert_eq!(same["module"]["revision"], 1);

    // Revision 2 replaces the rule's logic and adds a rule; both are evaluated.
    let (status, v2) = service.upload("hot", read(HOTLOAD_V2)).await;
    assert_eq!(status, StatusCode::CREATED, "{v2}");
    assert_eq!(v2["module"]["revision"], 2);
    assert_eq!(module_rules(&service, "hot").await, V2_RULES);
    service.wait_settled().await;
    let named = findings(&service, &env, "Hot.Bucket.Named").await;
    assert!(named[0].2.starts_with("v2:"), "{named:?}");
    let second = findings(&service, &env, "Hot.Bucket.Second").await;
    assert_eq!(
        second
            .iter()
            .map(|f| (f.0.as_str(), f.1.as_str()))
            .collect::<Vec<_>>(),
        [(bad.as_str(), "fail"), (fine.as_str(), "fail")]
    );

    // Rollback: revision 1 serves again, the added rule and its findings are gone.
    let (status, back) = service
        .admin(Method::POST, "/api/v1/modules/hot/rollback", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back["module"]["revision"], 1);
    assert_eq!(
        back["module"]["revisions"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(module_rules(&service, "hot").await, V1_RULES);
    service.wait_settled().await;
    assert!(
        findings(&service, &env, "Hot.Bucket.Second")
            .await
            .is_empty()
    );
    let named = findings(&service, &env, "Hot.Bucket.Named").await;
    assert!(named[0].2.starts_with("v1:"), "{named:?}");
    // Nothing before revision 1.
    let (status, body) = service
        .admin(Method::POST, "/api/v1/modules/hot/rollback", None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Deleting the module removes its rules and their findings.
    let (status, body) = service
        .admin(Method::DELETE, "/api/v1/modules/hot", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(module_rules(&service, "hot").await.is_empty());
    assert!(
        findings(&service, &env, "Hot.Bucket.Named")
            .await
            .is_empty()
    );
    let (status, _) = service.get("/api/v1/modules/hot").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    service.stop();
}

/// The verdict rule ids of one evaluation of a bucket document, with its HTTP status. The
/// document says it has no grants and no policy, so no built-in rule has cause for an error.
async fn evaluate(service: &Service) -> (StatusCode, Value) {
    let document = json!({"Name": "worse-bucket", "Grants": [], "Policy": null});
    send(
        service
            .request(Method::POST, "/api/v1/evaluate", READER)
            .json(&json!({"resource_type": "AWS.S3.Bucket", "document": document})),
    )
    .await
}

fn hot_rules(answer: &Value) -> BTreeSet<String> {
    answer["verdicts"]
        .as_array()
        .expect("verdicts")
        .iter()
        .filter_map(|v| v["rule_id"].as_str())
        .filter(|id| id.starts_with("Hot."))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_uploads_leave_the_last_good_revision_serving() {
    let data = tempfile::tempdir().expect("tempdir");
    let config = Config {
        extra_args: vec!["--max-module-mib".into(), "1".into()],
        ..Config::default()
    };
    let service = Service::start(data.path(), &config);
    let (status, v1) = service.upload("hot", read(HOTLOAD_V1)).await;
    assert_eq!(status, StatusCode::CREATED, "{v1}");

    let v2 = read(HOTLOAD_V2);
    let truncated = v2[..v2.len() / 2].to_vec();
    let core_module = b"\0asm\x01\0\0\0".to_vec();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage",
            b"not wasm at all".to_vec(),
            "not a WebAssembly binary",
        ),
        ("a core module", core_module, "core WebAssembly module"),
        ("a truncated component", truncated, "invalid"),
        (
            "a component of another world",
            read(WRONG_WORLD),
            "palisade:policy/pack",
        ),
        (
            "a component importing the network",
            read(UNKNOWN_IMPORT),
            "imports something",
        ),
        (
            "a pack with invalid rule metadata",
            read(BAD_METADATA),
            "declared twice",
        ),
        (
            "a pack claiming a built-in rule id",
            read(HOTLOAD_CONFLICT),
            "AWS.S3.Bucket.Encryption",
        ),
    ];
    for (what, wasm, reason) in cases {
        // Under the same name (a new revision) and under a new name: neither may serve.
        for name in ["hot", "newcomer"] {
            let (status, body) = service.upload(name, wasm.clone()).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{what} as {name}: {body}"
            );
            assert_eq!(body["error"], "invalid_module", "{what}: {body}");
            let message = body["message"].as_str().unwrap_or_default();
            assert!(message.contains(reason), "{what}: {message}");
        }
        let (status, module) = service.get("/api/v1/modules/hot").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(module["revision"], 1, "after {what}: {module}");
        assert_eq!(
            module["revisions"].as_array().map(Vec::len),
            Some(1),
            "{module}"
        );
        let (status, answer) = evaluate(&service).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(hot_rules(&answer), ["Hot.Bucket.Named".to_owned()].into());
    }
    let (_, modules) = service.get("/api/v1/modules").await;
    let names: Vec<&str> = modules
        .as_array()
        .expect("modules")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    let mut expected = crate::builtin::names();
    expected.push("hot");
    assert_eq!(names, expected, "{modules}");

    // Over the size cap: refused before it is compiled, with 413.
    let (status, body) = service.upload("big", vec![0u8; 2 << 20]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"], "too_large");
    // A bad name is the caller's mistake, not the module's.
    let (status, body) = service.upload("no%20spaces", read(HOTLOAD_V1)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // A built-in pack cannot be replaced.
    let (status, body) = service.upload("aws-iam", read(HOTLOAD_V1)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let (_, metrics) = send(service.request(Method::GET, "/metrics", READER)).await;
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    assert!(
        metrics.contains("palisade_module_uploads_total{result=\"rejected\"} 17"),
        "{metrics}"
    );
    assert!(
        metrics.contains("palisade_module_uploads_total{result=\"accepted\"} 1"),
        "{metrics}"
    );
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaps_under_continuous_evaluation_load_lose_nothing() {
    let data = tempfile::tempdir().expect("tempdir");
    let service = Arc::new(Service::start(data.path(), &Config::default()));
    let (status, body) = service.upload("hot", read(HOTLOAD_V1)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let v1: BTreeSet<String> = V1_RULES.iter().map(|s| (*s).to_owned()).collect();
    let v2: BTreeSet<String> = V2_RULES.iter().map(|s| (*s).to_owned()).collect();

    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..3 {
        let (service, stop, v1, v2) = (service.clone(), stop.clone(), v1.clone(), v2.clone());
        workers.push(tokio::spawn(async move {
            let (mut answers, mut seen) = (0u32, BTreeSet::new());
            while !stop.load(Ordering::Relaxed) {
                let (status, answer) = evaluate(&service).await;
                assert_eq!(status, StatusCode::OK, "{answer}");
                let rules = hot_rules(&answer);
                assert!(
                    rules == v1 || rules == v2,
                    "half a rule set answered: {answer}"
                );
                for v in answer["verdicts"].as_array().expect("verdicts") {
                    assert_ne!(
                        v["status"], "error",
                        "an evaluation failed during a swap: {answer}"
                    );
                }
                // v2's rules come with v2's logic: never the old message with the new rule set.
                let named = answer["verdicts"]
                    .as_array()
                    .and_then(|vs| vs.iter().find(|v| v["rule_id"] == "Hot.Bucket.Named"))
                    .cloned()
                    .expect("the named rule answers");
                if rules == v2 {
                    assert!(
                        named["message"]
                            .as_str()
                            .is_some_and(|m| m.starts_with("v2:")),
                        "{answer}"
                    );
                } else {
                    assert_eq!(named["status"], "pass", "v1 passes worse-bucket: {answer}");
                }
                seen.insert(answer["generation"].as_u64().expect("generation"));
                answers += 1;
            }
            (answers, seen)
        }));
    }
    // Swap back and forth while they run: upload v2, roll back to v1, and again.
    for round in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let (status, body) = service.upload("hot", read(HOTLOAD_V2)).await;
        assert!(status.is_success(), "round {round}: {body}");
        tokio::time::sleep(Duration::from_millis(150)).await;
        let (status, body) = service
            .admin(Method::POST, "/api/v1/modules/hot/rollback", None)
            .await;
        assert_eq!(status, StatusCode::OK, "round {round}: {body}");
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    let mut generations = BTreeSet::new();
    for w in workers {
        let (answers, seen) = w.await.expect("worker");
        total += answers;
        generations.extend(seen);
    }
    assert!(total > 20, "only {total} evaluations ran");
    // Evaluations saw several snapshots: the swaps really happened under load.
    assert!(generations.len() >= 3, "generations seen: {generations:?}");
    let service = Arc::into_inner(service).expect("workers are done");
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_modules_rules_and_findings() {
    let data = tempfile::tempdir().expect("tempdir");
    let config = Config {
        endpoint: emulator().endpoint.clone(),
        ..Config::default()
    };
    let service = Service::start(data.path(), &config);
    let env = scanned_account(&service).await;
    let (status, body) = service.upload("hot", read(HOTLOAD_V1)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = service.upload("hot", read(HOTLOAD_V2)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = service
        .admin(
            Method::PATCH,
            "/api/v1/rules/Hot.Bucket.Second",
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    service.wait_settled().await;
    let before_findings = findings(&service, &env, "Hot.Bucket.Named").await;
    assert_eq!(before_findings.len(), 2);
    let (_, before_modules) = service.get("/api/v1/modules/hot").await;
    let (_, before_rules) = service.get("/api/v1/rules").await;
    let (_, before_accounts) = service.get("/api/v1/accounts").await;
    service.stop();

    let service = Service::start(data.path(), &config);
    let (_, after_modules) = service.get("/api/v1/modules/hot").await;
    assert_eq!(after_modules["revision"], 2, "{after_modules}");
    assert_eq!(after_modules["status"], "active");
    assert_eq!(after_modules["sha256"], before_modules["sha256"]);
    assert_eq!(after_modules["revisions"], before_modules["revisions"]);
    let (_, after_rules) = service.get("/api/v1/rules").await;
    assert_eq!(
        after_rules, before_rules,
        "rules and their switches survive"
    );
    let (_, after_accounts) = service.get("/api/v1/accounts").await;
    assert_eq!(after_accounts[0]["name"], before_accounts[0]["name"]);
    assert_eq!(
        findings(&service, &env, "Hot.Bucket.Named").await,
        before_findings
    );
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_uploads_only_when_keys_are_trusted() {
    let trusted = SigningKey::from_bytes(&[7u8; 32]);
    let stranger = SigningKey::from_bytes(&[9u8; 32]);
    let data = tempfile::tempdir().expect("tempdir");
    let config = Config {
        trusted_keys: vec![hex::encode(trusted.verifying_key().as_bytes())],
        ..Config::default()
    };
    let service = Service::start(data.path(), &config);
    let wasm = read(HOTLOAD_V1);
    let digest = hex::encode(sha2::Sha256::digest(&wasm));

    let (status, body) = service.upload("hot", wasm.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "unsigned_module");
    for (what, signature) in [
        ("a stranger's signature", sign_digest(&stranger, &digest)),
        (
            "a signature over other bytes",
            sign_digest(&trusted, &"0".repeat(64)),
        ),
        ("a malformed signature", "zz".into()),
    ] {
        let (status, body) = send(
            service
                .request(Method::POST, "/api/v1/modules?name=hot", ADMIN)
                .header("content-type", "application/wasm")
                .header("x-palisade-signature", signature)
                .body(wasm.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
        assert_eq!(body["error"], "bad_signature", "{what}: {body}");
    }
    let (status, _) = service.get("/api/v1/modules/hot").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was stored");

    // Signed in a header, then as multipart.
    let (status, body) = send(
        service
            .request(Method::POST, "/api/v1/modules?name=hot", ADMIN)
            .header("content-type", "application/wasm")
            .header("x-palisade-signature", sign_digest(&trusted, &digest))
            .body(wasm),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let key = hex::encode(trusted.verifying_key().as_bytes());
    assert_eq!(body["module"]["signed_by"], key.as_str());
    let v2 = read(HOTLOAD_V2);
    let form = reqwest::multipart::Form::new()
        .part("module", reqwest::multipart::Part::bytes(v2.clone()))
        .text(
            "signature",
            sign_digest(&trusted, &hex::encode(sha2::Sha256::digest(&v2))),
        );
    let (status, body) = send(
        service
            .request(Method::POST, "/api/v1/modules?name=hot", ADMIN)
            .multipart(form),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["module"]["revision"], 2);
    assert_eq!(body["module"]["signed_by"], key.as_str());
    service.stop();
}

/// A test case of the hot-load fixture's rule.
fn case(name: &str, bucket: &str, expect: Expect) -> TestCase {
    TestCase {
        name: name.into(),
        rule: "Hot.Bucket.Named".into(),
        resource_type: None,
        resource: json!({"ResourceId": arn(bucket), "ResourceType": "AWS.S3.Bucket", "Name": bucket}),
        expect,
        message: None,
        lookups: Default::default(),
        now: None,
        settings: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_test_cases_gate_an_upload() {
    let data = tempfile::tempdir().expect("tempdir");
    let service = Service::start(data.path(), &Config::default());
    let wasm = read(HOTLOAD_V1);

    let failing = embed(
        &wasm,
        &[
            case("a well named bucket passes", "fine", Expect::Pass),
            case("a bad bucket passes, wrongly", "bad-one", Expect::Pass),
        ],
    )
    .expect("embed");
    let (status, body) = service.upload("hot", failing).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "tests_failed", "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("1 of its 2 embedded test cases fail"),
        "{message}"
    );
    assert!(
        message.contains("a bad bucket passes, wrongly: expected pass, got fail"),
        "{message}"
    );
    assert!(!message.contains("a well named bucket passes"), "{message}");
    let (status, _) = service.get("/api/v1/modules/hot").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was stored");

    let passing = embed(
        &wasm,
        &[
            case("a well named bucket passes", "fine", Expect::Pass),
            case("a bad bucket fails", "bad-one", Expect::Fail),
        ],
    )
    .expect("embed");
    let (status, body) = service.upload("hot", passing).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    service.stop();
}
