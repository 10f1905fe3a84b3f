//! Scans through the service against the AWS emulator: triggered over the API, one at a time
//! per account, with progress; their resources and findings read back with filters and
//! paging; a failing account; and a scan cut off by a crash run again on restart.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::service::{Config, READER, Service, send};
use crate::support::{DEAD_ENDPOINT, Env, emulator};

fn config() -> Config {
    Config {
        endpoint: emulator().endpoint.clone(),
        ..Config::default()
    }
}

async fn create_buckets(env: &Env, names: &[String]) {
    let s3 = env.session.s3("us-east-1");
    for name in names {
        s3.create_bucket()
            .bucket(name)
            .send()
            .await
            .expect("create bucket");
    }
}

/// Every page of a listing, following cursors.
async fn all_pages(service: &Service, path: &str) -> (Vec<Value>, usize) {
    let (mut items, mut pages) = (Vec::new(), 0);
    let mut cursor: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(c) => format!("{path}{sep}cursor={c}"),
            None => path.to_owned(),
        };
        let (status, page) = service.get(&url).await;
        assert_eq!(status, StatusCode::OK, "{url}: {page}");
        items.extend(page["items"].as_array().expect("items").iter().cloned());
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return (items, pages),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_over_the_api_fills_resources_and_findings() {
    let data = tempfile::tempdir().expect("tempdir");
    let service = Service::start(data.path(), &config());
    let env = Env::new().await;
    let id = &env.account.account_id;
    let buckets: Vec<String> = (0..5).map(|i| format!("api-{i}-{id}")).collect();
    create_buckets(&env, &buckets).await;
    service.add_account(&env.account, false).await;

    let path = "/api/v1/scans";
    let body = json!({"account": env.account.name});
    let (status, first) = service.admin(Method::POST, path, Some(body.clone())).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let job_id = first[0]["id"].as_str().expect("job id").to_owned();
    // A second request while it is queued or running gets the same job: never two at once.
    let (status, second) = service.admin(Method::POST, path, Some(body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{second}");
    if second[0]["state"] != "succeeded" {
        assert_eq!(second[0]["id"], job_id.as_str(), "{second}");
    }
    let job = service.wait_for_scan(&job_id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["trigger"], "manual");
    let progress = &job["progress"];
    assert!(progress["tasks_planned"].as_u64().unwrap_or(0) > 0, "{job}");
    assert_eq!(progress["tasks_done"], progress["tasks_planned"], "{job}");
    assert_eq!(job["record"]["resources"]["AWS.S3.Bucket"], 5, "{job}");
    let (_, listed) = service
        .get(&format!("/api/v1/scans?account={}", env.account.name))
        .await;
    assert_eq!(listed[0]["id"], job_id.as_str(), "newest first: {listed}");
    let (_, account) = service
        .get(&format!("/api/v1/accounts/{}", env.account.name))
        .await;
    assert_eq!(account["last_scan"]["id"], job_id.as_str(), "{account}");

    // Resources: filtered by type, paged two at a time, every bucket exactly once.
    let (items, pages) = all_pages(
        &service,
        &format!("/api/v1/resources?account={id}&type=AWS.S3.Bucket&limit=2"),
    )
    .await;
    let mut ids: Vec<&str> = items
        .iter()
        .filter_map(|r| r["resource_id"].as_str())
        .collect();
    ids.sort();
    let mut want: Vec<String> = buckets
        .iter()
        .map(|b| format!("arn:aws:s3:::{b}"))
        .collect();
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(pages, 3);
    // By id glob.
    let (_, page) = service
        .get(&format!(
            "/api/v1/resources?account={}&id=arn:aws:s3:::api-3-*",
            env.account.name
        ))
        .await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
    // One resource with its findings (an ARN id in the path).
    let (status, one) = service
        .get(&format!("/api/v1/resources/{id}/{}", want[0]))
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["resource"]["resource_id"], want[0].as_str());
    let rules: Vec<&str> = one["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["rule_id"].as_str())
        .collect();
    assert!(rules.contains(&"AWS.S3.Bucket.Encryption"), "{one}");

    // Findings: the buckets have no default encryption in the emulator; filter and page.
    let query = format!("/api/v1/findings?account={id}&rule=AWS.S3.Bucket.Encryption&limit=2");
    let (items, pages) = all_pages(&service, &query).await;
    assert_eq!(items.len(), 5);
    assert_eq!(pages, 3);
    let (_, first_page) = service.get(&query).await;
    assert_eq!(first_page["total"], 5, "{first_page}");
    let (_, high) = service
        .get(&format!(
            "/api/v1/findings?account={id}&severity=high&status=fail"
        ))
        .await;
    assert!(
        high["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|f| f["severity"] == "high" && f["status"] == "fail"),
        "{high}"
    );
    let (_, summary) = service
        .get(&format!("/api/v1/findings/summary?account={id}"))
        .await;
    assert_eq!(
        summary["failing_by_rule"]["AWS.S3.Bucket.Encryption"], 5,
        "{summary}"
    );
    assert!(summary["total"].as_u64().unwrap_or(0) >= 5, "{summary}");

    // The scan shows in the metrics.
    let (_, metrics) = send(service.request(Method::GET, "/metrics", READER)).await;
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    assert!(
        metrics.contains("palisade_scan_duration_seconds_count{account="),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "palisade_evaluations_total{rule=\"AWS.S3.Bucket.Encryption\",outcome=\"fail\"}"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("palisade_resources{type=\"AWS.S3.Bucket\"} 5"),
        "{metrics}"
    );
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_that_cannot_reach_aws_fails_with_its_reason() {
    let data = tempfile::tempdir().expect("tempdir");
    let config = Config {
        endpoint: DEAD_ENDPOINT.into(),
        ..Config::default()
    };
    let service = Service::start(data.path(), &config);
    let env = Env::new().await;
    service.add_account(&env.account, false).await;
    let (status, jobs) = service.admin(Method::POST, "/api/v1/scans", None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{jobs}");
    let job = service
        .wait_for_scan(jobs[0]["id"].as_str().expect("id"))
        .await;
    assert_eq!(job["state"], "failed", "{job}");
    assert!(
        job["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{job}"
    );
    // The service carries on.
    let (status, _) = service.get("/api/v1/accounts").await;
    assert_eq!(status, StatusCode::OK);
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_cut_off_by_a_crash_runs_again_on_restart() {
    let data = tempfile::tempdir().expect("tempdir");
    let service = Service::start(data.path(), &config());
    let env = Env::new().await;
    create_buckets(&env, &[format!("crash-{}", env.account.account_id)]).await;
    service.add_account(&env.account, false).await;
    let (status, jobs) = service.admin(Method::POST, "/api/v1/scans", None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{jobs}");
    let first = jobs[0]["id"].as_str().expect("id").to_owned();
    service.kill();

    let service = Service::start(data.path(), &config());
    let (_, listed) = service
        .get(&format!("/api/v1/scans?account={}", env.account.name))
        .await;
    let interrupted = listed
        .as_array()
        .expect("jobs")
        .iter()
        .find(|j| j["id"] == first.as_str())
        .cloned()
        .expect("the first job is still listed");
    assert_eq!(interrupted["state"], "interrupted", "{listed}");
    let rerun = listed[0]["id"].as_str().expect("the rerun").to_owned();
    assert_ne!(rerun, first, "{listed}");
    let job = service.wait_for_scan(&rerun).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    service.stop();
}
