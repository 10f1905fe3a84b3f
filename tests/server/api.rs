//! The REST API's behaviour without scanning: accounts, rules, evaluation, suppressions,
//! empty listings, metrics and modules; and bad input of every kind answered with the right
//! status and a JSON error, leaving nothing changed.

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::builtin;
use crate::service::{ADMIN, Config, READER, Service, ids, send};

const RULE: &str = "AWS.S3.Bucket.Encryption";
/// Every built-in rule, sorted.
fn builtin_rules() -> Vec<&'static str> {
    let mut all = builtin::rule_ids();
    all.sort_unstable();
    all
}

/// The built-in rules off by default.
fn off_by_default() -> Vec<&'static str> {
    builtin::rules()
        .filter(|r| !r.default_enabled)
        .map(|r| r.id)
        .collect()
}

fn prod_account() -> Value {
    json!({
        "name": "prod",
        "account_id": "123456789012",
        "role_arn": "arn:aws:iam::123456789012:role/PalisadeAudit",
        "scan": false,
        "excluded_resources": ["us-east-1=arn:aws:s3:::scratch-*"],
    })
}

/// `body` is an error answer with `code` (and a message).
#[track_caller]
fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str, what: &str) {
    assert_eq!(status, expected, "{what}: {body}");
    assert_eq!(body["error"], code, "{what}: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: an error needs a message: {body}"
    );
}

/// Sends `body` as-is with `content_type` (none when empty), as an admin.
async fn raw(
    service: &Service,
    method: Method,
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let mut request = service.request(method, path, ADMIN).body(body);
    if !content_type.is_empty() {
        request = request.header(CONTENT_TYPE, content_type);
    }
    send(request).await
}

async fn health(service: &Service) -> Value {
    let (status, health) = send(service.request(Method::GET, "/healthz", "")).await;
    assert_eq!(status, StatusCode::OK, "{health}");
    health
}

/// The verdicts of the serving rules on an S3 bucket document.
async fn evaluate_bucket(service: &Service, resource_id: Option<&str>) -> Value {
    let mut request = json!({"resource_type": "AWS.S3.Bucket", "document": {"Name": "b"}});
    if let Some(id) = resource_id {
        request["resource_id"] = json!(id);
    }
    // Evaluating changes nothing: a reader may.
    let (status, answer) = send(
        service
            .request(Method::POST, "/api/v1/evaluate", READER)
            .json(&request),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "evaluate {request}: {answer}");
    answer
}

/// The status of `rule`'s verdict in an evaluation, if it gave one.
fn verdict<'a>(answer: &'a Value, rule: &str) -> Option<&'a str> {
    answer["verdicts"]
        .as_array()
        .unwrap_or_else(|| panic!("no verdicts: {answer}"))
        .iter()
        .find(|v| v["rule_id"] == rule)
        .map(|v| {
            v["status"]
                .as_str()
                .unwrap_or_else(|| panic!("no status: {answer}"))
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_added_checked_changed_and_removed() {
    let data = tempfile::tempdir().unwrap();
    let service = Service::start(data.path(), &Config::default());

    let (status, created) = service
        .admin(Method::POST, "/api/v1/accounts", Some(prod_account()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["account"]["name"], "prod", "{created}");
    assert_eq!(
        created["account"]["account_id"], "123456789012",
        "{created}"
    );
    assert_eq!(
        created["account"]["role_arn"], "arn:aws:iam::123456789012:role/PalisadeAudit",
        "{created}"
    );
    assert_eq!(
        created["account"]["excluded_resources"],
        json!([{"region": "us-east-1", "pattern": "arn:aws:s3:::scratch-*"}]),
        "{created}"
    );
    assert_eq!(
        created["scan"],
        Value::Null,
        "no baseline scan was asked for: {created}"
    );

    let (status, list) = service.get("/api/v1/accounts").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(ids(&list, "name"), ["prod"], "{list}");
    let (status, one) = service.get("/api/v1/accounts/prod").await;
    assert_eq!(status, StatusCode::OK, "{one}");
    for view in [&list[0], &one] {
        assert_eq!(view["account_id"], "123456789012", "{view}");
        assert_eq!(
            view["excluded_resources"], created["account"]["excluded_resources"],
            "{view}"
        );
        let next = view["next_scan_at"]
            .as_str()
            .unwrap_or_else(|| panic!("no next_scan_at: {view}"));
        let next =
            time::OffsetDateTime::parse(next, &time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|e| panic!("next_scan_at {next:?} is not RFC 3339 ({e}): {view}"));
        // Added without a baseline: the first scheduled scan is a day away, not due at once.
        let added = time::OffsetDateTime::parse(
            view["added_at"].as_str().expect("added_at"),
            &time::format_description::well_known::Rfc3339,
        )
        .expect("added_at");
        assert_eq!(next - added, time::Duration::hours(24), "{view}");
    }

    // The same name again.
    let (status, body) = service
        .admin(Method::POST, "/api/v1/accounts", Some(prod_account()))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "conflict",
        "a second account named prod",
    );
    // The same AWS account under another name: its data would be shared, then deleted with either.
    let mut alias = prod_account();
    alias["name"] = json!("prod-alias");
    let (status, body) = service
        .admin(Method::POST, "/api/v1/accounts", Some(alias))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "conflict",
        "a second name for 123456789012",
    );

    // Invalid accounts are refused whole.
    let invalid = [
        (
            "a name of dots, which URLs cannot carry",
            json!({"name": ".."}),
        ),
        (
            "an account id of 11 digits",
            json!({"account_id": "12345678901", "role_arn": "arn:aws:iam::12345678901:role/R"}),
        ),
        (
            "a non-numeric account id",
            json!({"account_id": "12345678901x"}),
        ),
        (
            "the role of another account",
            json!({"account_id": "210987654321"}),
        ),
        (
            "a role ARN that is not one",
            json!({"role_arn": "not-an-arn"}),
        ),
        (
            "an exclusion without a region",
            json!({"excluded_resources": ["arn:aws:s3:::scratch-*"]}),
        ),
        (
            "an exclusion in no region",
            json!({"excluded_resources": ["mars=arn:aws:s3:::x"]}),
        ),
        (
            "an exclusion with an empty pattern",
            json!({"excluded_resources": ["us-east-1="]}),
        ),
        (
            "an invalid excluded region",
            json!({"excluded_regions": ["Not A Region"]}),
        ),
        (
            "a scan interval of 0 hours",
            json!({"scan_interval_hours": 0}),
        ),
        ("a name with a space", json!({"name": "bad name"})),
    ];
    for (what, change) in invalid {
        let mut account = prod_account();
        account["name"] = json!("other");
        for (k, v) in change.as_object().unwrap() {
            account[k] = v.clone();
        }
        let (status, body) = service
            .admin(Method::POST, "/api/v1/accounts", Some(account.clone()))
            .await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_account",
            &format!("{what}: {account}"),
        );
    }
    let (status, list) = service.get("/api/v1/accounts").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        ids(&list, "name"),
        ["prod"],
        "a refused account was stored: {list}"
    );
    let (status, body) = service.get("/api/v1/accounts/other").await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "not_found",
        "GET a refused account",
    );

    // Unknown fields are mistakes, not ignored.
    let mut account = prod_account();
    account["name"] = json!("other");
    account["regions"] = json!(["us-east-1"]);
    let (status, body) = service
        .admin(Method::POST, "/api/v1/accounts", Some(account))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "malformed_json",
        "an account with an unknown field",
    );

    // Changes.
    let update = json!({
        "excluded_resources": ["*=arn:aws:s3:::tmp-*", "global=arn:aws:iam::123456789012:role/x"],
        "scan_interval_hours": 6,
    });
    let (status, updated) = service
        .admin(Method::PATCH, "/api/v1/accounts/prod", Some(update))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let expected_exclusions = json!([
        {"region": "*", "pattern": "arn:aws:s3:::tmp-*"},
        {"region": "global", "pattern": "arn:aws:iam::123456789012:role/x"},
    ]);
    assert_eq!(
        updated["excluded_resources"], expected_exclusions,
        "{updated}"
    );
    assert_eq!(updated["scan_interval_hours"], 6, "{updated}");
    assert!(updated["next_scan_at"].is_string(), "{updated}");
    let (status, one) = service.get("/api/v1/accounts/prod").await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(
        one["excluded_resources"], expected_exclusions,
        "the change was not kept: {one}"
    );
    assert_eq!(
        one["scan_interval_hours"], 6,
        "the change was not kept: {one}"
    );
    assert_eq!(
        one["account_id"], "123456789012",
        "a PATCH changed what it did not name: {one}"
    );

    // Bad changes change nothing.
    let bad_updates = [
        (
            json!({"scan_interval": 12}),
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "an unknown field",
        ),
        (
            json!({"account_id": "210987654321"}),
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "a field that cannot change",
        ),
        (
            json!({"scan_interval_hours": "six"}),
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "a string interval",
        ),
        (
            json!({"scan_interval_hours": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_account",
            "an interval of 0",
        ),
        (
            json!({"excluded_resources": ["nowhere"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_account",
            "a bad exclusion",
        ),
        (
            json!({"excluded_regions": ["Mars"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_account",
            "a bad region",
        ),
    ];
    for (update, expected, code, what) in bad_updates {
        let (status, body) = service
            .admin(Method::PATCH, "/api/v1/accounts/prod", Some(update.clone()))
            .await;
        assert_error(
            status,
            &body,
            expected,
            code,
            &format!("PATCH with {what}: {update}"),
        );
    }
    let (status, after) = service.get("/api/v1/accounts/prod").await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(
        after["excluded_resources"], expected_exclusions,
        "a refused PATCH changed the account: {after}"
    );
    assert_eq!(
        after["scan_interval_hours"], 6,
        "a refused PATCH changed the account: {after}"
    );
    assert_eq!(
        after["excluded_regions"],
        json!([]),
        "a refused PATCH changed the account: {after}"
    );
    let (status, body) = service
        .admin(
            Method::PATCH,
            "/api/v1/accounts/nope",
            Some(json!({"scan_interval_hours": 6})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "not_found",
        "PATCH an unknown account",
    );

    // Changes survive a restart; the service stops cleanly on SIGTERM.
    let exit = service.stop();
    assert!(exit.success(), "palisade serve exited with {exit}");
    let service = Service::start(data.path(), &Config::default());
    let (status, one) = service.get("/api/v1/accounts/prod").await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(
        one["excluded_resources"], expected_exclusions,
        "lost on restart: {one}"
    );
    assert_eq!(one["scan_interval_hours"], 6, "lost on restart: {one}");

    // Removal.
    let (status, body) = service
        .admin(Method::DELETE, "/api/v1/accounts/prod", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(body, Value::Null, "a 204 has no body");
    let (status, body) = service.get("/api/v1/accounts/prod").await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "not_found",
        "GET a removed account",
    );
    let (status, list) = service.get("/api/v1/accounts").await;
    assert_eq!((status, &list), (StatusCode::OK, &json!([])), "{list}");
    let (status, body) = service
        .admin(Method::DELETE, "/api/v1/accounts/prod", None)
        .await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "not_found",
        "DELETE a removed account",
    );
    // The name is free again.
    let (status, created) = service
        .admin(Method::POST, "/api/v1/accounts", Some(prod_account()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");

    let exit = service.stop();
    assert!(exit.success(), "palisade serve exited with {exit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_the_right_status_and_a_json_error() {
    let data = tempfile::tempdir().unwrap();
    let service = Service::start(data.path(), &Config::default());
    let json_type = "application/json";

    // Malformed JSON.
    for (path, body) in [
        ("/api/v1/accounts", r#"{"name": "prod","#),
        ("/api/v1/accounts", "not json"),
        ("/api/v1/accounts", "[]"),
        ("/api/v1/suppressions", r#"{"rule_id": }"#),
        ("/api/v1/evaluate", "{"),
        ("/api/v1/scans", "{]"),
    ] {
        let (status, answer) = raw(&service, Method::POST, path, json_type, body).await;
        assert_error(
            status,
            &answer,
            StatusCode::BAD_REQUEST,
            "malformed_json",
            &format!("POST {path} {body:?}"),
        );
    }
    let (status, answer) = raw(
        &service,
        Method::PATCH,
        "/api/v1/rules/AWS.S3.Bucket.Encryption",
        json_type,
        "{enabled: false}",
    )
    .await;
    assert_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "malformed_json",
        "PATCH a rule with bad JSON",
    );
    let (status, answer) = service
        .admin(
            Method::PATCH,
            &format!("/api/v1/rules/{RULE}"),
            Some(json!({"enabled": "no"})),
        )
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "malformed_json",
        "PATCH a rule with a string",
    );

    // Not JSON at all.
    let account = prod_account().to_string();
    for content_type in ["text/plain", "application/x-www-form-urlencoded", ""] {
        for path in [
            "/api/v1/accounts",
            "/api/v1/suppressions",
            "/api/v1/evaluate",
        ] {
            let (status, answer) =
                raw(&service, Method::POST, path, content_type, account.clone()).await;
            assert_error(
                status,
                &answer,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                &format!("POST {path} as {content_type:?}"),
            );
        }
    }
    let (status, list) = service.get("/api/v1/accounts").await;
    assert_eq!(
        (status, &list),
        (StatusCode::OK, &json!([])),
        "an account came in as text: {list}"
    );

    // Over a megabyte of JSON.
    let big = json!({
        "resource_type": "AWS.S3.Bucket",
        "document": {"Name": "b", "Padding": "x".repeat((1 << 20) + 1024)},
    })
    .to_string();
    for path in ["/api/v1/evaluate", "/api/v1/accounts"] {
        let (status, answer) = raw(&service, Method::POST, path, json_type, big.clone()).await;
        assert_error(
            status,
            &answer,
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!("POST {path} of {} bytes", big.len()),
        );
    }
    // Just under the limit is fine.
    let fits = json!({
        "resource_type": "AWS.S3.Bucket",
        "document": {"Name": "b", "Padding": "x".repeat((1 << 20) - 1024)},
    });
    let (status, answer) = service
        .admin(Method::POST, "/api/v1/evaluate", Some(fits))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    // Query parameters.
    let bad_queries = [
        ("/api/v1/findings?bogus=1", "bad_query"),
        ("/api/v1/findings?limit=0", "bad_request"),
        ("/api/v1/findings?limit=1001", "bad_request"),
        ("/api/v1/findings?limit=5000", "bad_request"),
        ("/api/v1/findings?limit=x", "bad_query"),
        ("/api/v1/findings?limit=-1", "bad_query"),
        ("/api/v1/findings?status=broken", "bad_request"),
        ("/api/v1/findings?status=fail,broken", "bad_request"),
        ("/api/v1/findings?severity=urgent", "bad_request"),
        ("/api/v1/findings?include_closed=maybe", "bad_query"),
        ("/api/v1/findings?cursor=garbage!", "bad_request"),
        ("/api/v1/findings?cursor=bm90LWpzb24", "bad_request"), // "not-json"
        ("/api/v1/findings?cursor=WyJhIl0", "bad_request"),     // ["a"]: one part, not two
        ("/api/v1/findings/summary?status=broken", "bad_request"),
        ("/api/v1/findings/summary?bogus=1", "bad_query"),
        ("/api/v1/findings/history", "bad_query"),
        (
            "/api/v1/findings/history?rule=AWS.S3.Bucket.Encryption",
            "bad_query",
        ),
        ("/api/v1/resources?bogus=1", "bad_query"),
        ("/api/v1/resources?limit=0", "bad_request"),
        ("/api/v1/resources?limit=5000", "bad_request"),
        ("/api/v1/resources?cursor=garbage!", "bad_request"),
        ("/api/v1/resources?cursor=WyJhIiwiYiJd", "bad_request"), // ["a","b"]: two parts, not three
        ("/api/v1/scans?bogus=1", "bad_query"),
        ("/api/v1/scans?limit=x", "bad_query"),
    ];
    for (path, code) in bad_queries {
        let (status, answer) = service.get(path).await;
        assert_error(
            status,
            &answer,
            StatusCode::BAD_REQUEST,
            code,
            &format!("GET {path}"),
        );
    }
    for path in [
        "/api/v1/findings?limit=1",
        "/api/v1/findings?limit=1000",
        "/api/v1/findings?status=fail,suppressed&severity=high,critical&include_closed=true",
        "/api/v1/findings?account=123456789012",
        "/api/v1/resources?limit=1000&type=AWS.S3.Bucket&include_deleted=true",
    ] {
        let (status, answer) = service.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {answer}");
    }
    let (status, answer) = service.get("/api/v1/findings?account=nope").await;
    assert_error(
        status,
        &answer,
        StatusCode::NOT_FOUND,
        "not_found",
        "findings of an unknown account",
    );
    let (status, answer) = service.get("/api/v1/resources?account=nope").await;
    assert_error(
        status,
        &answer,
        StatusCode::NOT_FOUND,
        "not_found",
        "resources of an unknown account",
    );

    // Unknown ids.
    for path in [
        "/api/v1/scans/nope",
        "/api/v1/rules/nope",
        "/api/v1/modules/nope",
        "/api/v1/accounts/nope",
        "/api/v1/resources/123456789012/arn:aws:s3:::nope",
        "/api/v1/resources/nope/arn:aws:s3:::nope",
    ] {
        let (status, answer) = service.get(path).await;
        assert_error(
            status,
            &answer,
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("GET {path}"),
        );
    }
    for (method, path, body) in [
        (Method::DELETE, "/api/v1/modules/nope", None),
        (Method::DELETE, "/api/v1/accounts/nope", None),
        (Method::DELETE, "/api/v1/suppressions/nope", None),
        (Method::POST, "/api/v1/modules/nope/rollback", None),
        (
            Method::PATCH,
            "/api/v1/rules/nope",
            Some(json!({"enabled": false})),
        ),
        (
            Method::POST,
            "/api/v1/scans",
            Some(json!({"account": "nope"})),
        ),
        (
            Method::POST,
            "/api/v1/suppressions",
            Some(json!({"rule_id": "nope", "pattern": "*"})),
        ),
    ] {
        let (status, answer) = service.admin(method.clone(), path, body).await;
        assert_error(
            status,
            &answer,
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("{method} {path}"),
        );
    }

    // Unknown routes.
    for path in [
        "/api/v1/nope",
        "/api/v2/accounts",
        "/nope",
        "/api/v1/accounts/prod/extra",
    ] {
        let (status, answer) = service.get(path).await;
        assert_error(
            status,
            &answer,
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("GET {path}"),
        );
    }
    let (status, body) = service
        .admin(Method::PUT, "/api/v1/accounts", Some(prod_account()))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "PUT /api/v1/accounts",
    );

    // The built-in module stays.
    let (status, answer) = service
        .admin(Method::DELETE, "/api/v1/modules/aws-iam", None)
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::CONFLICT,
        "conflict",
        "DELETE the built-in module",
    );
    let (status, answer) = service
        .admin(Method::POST, "/api/v1/modules/aws-iam/rollback", None)
        .await;
    assert_error(
        status,
        &answer,
        StatusCode::CONFLICT,
        "conflict",
        "roll back the built-in module",
    );
    let wasm = palisade_test_fixtures::read(palisade_test_fixtures::HOTLOAD_V1);
    let (status, answer) = service.upload("aws-iam", wasm).await;
    assert_error(
        status,
        &answer,
        StatusCode::CONFLICT,
        "conflict",
        "replace the built-in module",
    );
    let (status, modules) = service.get("/api/v1/modules").await;
    assert_eq!(status, StatusCode::OK, "{modules}");
    assert_eq!(ids(&modules, "name"), builtin::names(), "{modules}");
    let (status, rules) = service.get("/api/v1/rules").await;
    assert_eq!(status, StatusCode::OK, "{rules}");
    assert_eq!(ids(&rules, "id").len(), builtin_rules().len(), "{rules}");

    // Evaluate refuses what is not a document.
    for (what, request) in [
        (
            "an array document",
            json!({"resource_type": "AWS.S3.Bucket", "document": [1]}),
        ),
        (
            "a string document",
            json!({"resource_type": "AWS.S3.Bucket", "document": "b"}),
        ),
        (
            "a null document",
            json!({"resource_type": "AWS.S3.Bucket", "document": null}),
        ),
    ] {
        let (status, answer) = service
            .admin(Method::POST, "/api/v1/evaluate", Some(request))
            .await;
        assert_error(
            status,
            &answer,
            StatusCode::BAD_REQUEST,
            "bad_request",
            &format!("evaluate {what}"),
        );
    }
    for (what, request) in [
        ("no resource type", json!({"document": {"Name": "b"}})),
        ("no document", json!({"resource_type": "AWS.S3.Bucket"})),
        (
            "an unknown field",
            json!({"resource_type": "AWS.S3.Bucket", "document": {}, "rules": []}),
        ),
    ] {
        let (status, answer) = service
            .admin(Method::POST, "/api/v1/evaluate", Some(request))
            .await;
        assert_error(
            status,
            &answer,
            StatusCode::BAD_REQUEST,
            "malformed_json",
            &format!("evaluate {what}"),
        );
    }

    // After all that, the service is still serving and nothing changed.
    let health = health(&service).await;
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["modules"], builtin::PACKS.len(), "{health}");
    assert_eq!(
        health["rules_enabled"],
        builtin::enabled_by_default(),
        "{health}"
    );
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_switch_off_and_on_and_suppressions_apply_to_evaluation() {
    let data = tempfile::tempdir().unwrap();
    let service = Service::start(data.path(), &Config::default());

    // The built-in rules, all on but the one off by default.
    let (status, rules) = service.get("/api/v1/rules").await;
    assert_eq!(status, StatusCode::OK, "{rules}");
    let mut listed = ids(&rules, "id");
    listed.sort();
    assert_eq!(listed, builtin_rules(), "{rules}");
    for rule in rules.as_array().unwrap() {
        let id = rule["id"].as_str().unwrap();
        assert_eq!(rule["enabled"], !off_by_default().contains(&id), "{rule}");
        assert_eq!(rule["default_enabled"], rule["enabled"], "{rule}");
        assert_eq!(rule["module"], builtin::module_of(id), "{rule}");
        assert_eq!(rule["suppressions"], 0, "{rule}");
    }
    let (status, rule) = service.get(&format!("/api/v1/rules/{RULE}")).await;
    assert_eq!(status, StatusCode::OK, "{rule}");
    assert_eq!(rule["id"], RULE, "{rule}");
    assert_eq!(rule["severity"], "high", "{rule}");
    assert_eq!(rule["resource_types"], json!(["AWS.S3.Bucket"]), "{rule}");
    let before = health(&service).await;
    assert_eq!(
        before["rules_enabled"],
        builtin::enabled_by_default(),
        "{before}"
    );

    // Evaluate: a bucket without default encryption fails, one with it passes.
    let answer = evaluate_bucket(&service, None).await;
    assert_eq!(verdict(&answer, RULE), Some("fail"), "{answer}");
    let verdicts = answer["verdicts"].as_array().unwrap();
    assert_eq!(
        verdicts.len(),
        builtin::default_rules_for("AWS.S3.Bucket").len(),
        "every bucket rule on by default: {answer}"
    );
    let encryption = verdicts.iter().find(|v| v["rule_id"] == RULE).unwrap();
    assert_eq!(encryption["module"], "aws-s3", "{answer}");
    assert_eq!(encryption["severity"], "high", "{answer}");
    assert!(
        encryption["message"]
            .as_str()
            .is_some_and(|m| m.contains('b')),
        "{answer}"
    );
    let generation = answer["generation"]
        .as_u64()
        .unwrap_or_else(|| panic!("{answer}"));
    let encrypted = json!({
        "resource_type": "AWS.S3.Bucket",
        "document": {"Name": "b", "EncryptionRules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
    });
    let (status, answer) = service
        .admin(Method::POST, "/api/v1/evaluate", Some(encrypted))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(verdict(&answer, RULE), Some("pass"), "{answer}");
    let other_type = json!({"resource_type": "AWS.Nothing.Here", "document": {"Name": "b"}});
    let (status, answer) = service
        .admin(Method::POST, "/api/v1/evaluate", Some(other_type))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["verdicts"],
        json!([]),
        "no rule covers this type: {answer}"
    );

    // Off.
    let (status, rule) = service
        .admin(
            Method::PATCH,
            &format!("/api/v1/rules/{RULE}"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rule}");
    assert_eq!(rule["id"], RULE, "{rule}");
    assert_eq!(rule["enabled"], false, "{rule}");
    assert_eq!(rule["default_enabled"], true, "{rule}");
    let (status, rule) = service.get(&format!("/api/v1/rules/{RULE}")).await;
    assert_eq!(status, StatusCode::OK, "{rule}");
    assert_eq!(rule["enabled"], false, "{rule}");
    let (_, rules) = service.get("/api/v1/rules").await;
    for rule in rules.as_array().unwrap() {
        assert_eq!(
            rule["enabled"],
            rule["id"] != RULE && !off_by_default().contains(&rule["id"].as_str().unwrap()),
            "{rule}"
        );
    }
    let after = health(&service).await;
    assert_eq!(
        after["rules_enabled"],
        builtin::enabled_by_default() - 1,
        "{after}"
    );
    let answer = evaluate_bucket(&service, None).await;
    assert_eq!(
        verdict(&answer, RULE),
        None,
        "a disabled rule still gives verdicts: {answer}"
    );
    assert!(
        answer["generation"].as_u64().unwrap() > generation,
        "{answer}"
    );
    // Switching off again changes nothing more.
    let (status, rule) = service
        .admin(
            Method::PATCH,
            &format!("/api/v1/rules/{RULE}"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(
        (status, &rule["enabled"]),
        (StatusCode::OK, &json!(false)),
        "{rule}"
    );
    assert_eq!(
        health(&service).await["rules_enabled"],
        builtin::enabled_by_default() - 1
    );

    // On again.
    let (status, rule) = service
        .admin(
            Method::PATCH,
            &format!("/api/v1/rules/{RULE}"),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rule}");
    assert_eq!(rule["enabled"], true, "{rule}");
    assert_eq!(
        health(&service).await["rules_enabled"],
        builtin::enabled_by_default()
    );
    let answer = evaluate_bucket(&service, None).await;
    assert_eq!(verdict(&answer, RULE), Some("fail"), "{answer}");

    // Suppressions.
    let (status, suppression) = service
        .admin(
            Method::POST,
            "/api/v1/suppressions",
            Some(json!({"rule_id": RULE, "pattern": "arn:aws:s3:::scratch-*", "reason": "test"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{suppression}");
    let id = suppression["id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| panic!("no id: {suppression}"))
        .to_owned();
    assert_eq!(suppression["rule_id"], RULE, "{suppression}");
    assert_eq!(
        suppression["pattern"], "arn:aws:s3:::scratch-*",
        "{suppression}"
    );
    assert_eq!(suppression["reason"], "test", "{suppression}");
    let (status, list) = service.get("/api/v1/suppressions").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(ids(&list, "id"), [id.as_str()], "{list}");
    assert_eq!(list[0], suppression, "{list}");
    let (_, rule) = service.get(&format!("/api/v1/rules/{RULE}")).await;
    assert_eq!(rule["suppressions"], 1, "{rule}");
    let (_, rule) = service
        .get("/api/v1/rules/AWS.IAM.Policy.DoesNotGrantAdminAccess")
        .await;
    assert_eq!(rule["suppressions"], 0, "{rule}");

    let answer = evaluate_bucket(&service, Some("arn:aws:s3:::scratch-1")).await;
    assert_eq!(verdict(&answer, RULE), Some("suppressed"), "{answer}");
    let answer = evaluate_bucket(&service, Some("arn:aws:s3:::prod-1")).await;
    assert_eq!(verdict(&answer, RULE), Some("fail"), "{answer}");
    // The id may also come from the document.
    let (status, answer) = service
        .admin(
            Method::POST,
            "/api/v1/evaluate",
            Some(json!({"resource_type": "AWS.S3.Bucket", "document": {"Name": "scratch-2", "ResourceId": "arn:aws:s3:::scratch-2"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(verdict(&answer, RULE), Some("suppressed"), "{answer}");

    // Refused suppressions.
    let (status, body) = service
        .admin(
            Method::POST,
            "/api/v1/suppressions",
            Some(json!({"rule_id": "No.Such.Rule", "pattern": "*"})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "not_found",
        "a suppression of an unknown rule",
    );
    let (status, body) = service
        .admin(
            Method::POST,
            "/api/v1/suppressions",
            Some(json!({"rule_id": RULE, "pattern": ""})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "bad_request",
        "a suppression with an empty pattern",
    );
    let (status, body) = service
        .admin(
            Method::POST,
            "/api/v1/suppressions",
            Some(json!({"rule_id": RULE, "pattern": "a\u{7}b"})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "bad_request",
        "a suppression with a control character",
    );
    let (status, body) = service
        .admin(
            Method::POST,
            "/api/v1/suppressions",
            Some(json!({"rule_id": RULE})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "malformed_json",
        "a suppression without a pattern",
    );
    let (_, list) = service.get("/api/v1/suppressions").await;
    assert_eq!(
        ids(&list, "id"),
        [id.as_str()],
        "a refused suppression was stored: {list}"
    );

    // Removal: the failures it covered fail again.
    let (status, body) = service
        .admin(Method::DELETE, &format!("/api/v1/suppressions/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, list) = service.get("/api/v1/suppressions").await;
    assert_eq!((status, &list), (StatusCode::OK, &json!([])), "{list}");
    let (_, rule) = service.get(&format!("/api/v1/rules/{RULE}")).await;
    assert_eq!(rule["suppressions"], 0, "{rule}");
    let answer = evaluate_bucket(&service, Some("arn:aws:s3:::scratch-1")).await;
    assert_eq!(verdict(&answer, RULE), Some("fail"), "{answer}");
    let (status, body) = service
        .admin(Method::DELETE, &format!("/api/v1/suppressions/{id}"), None)
        .await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "not_found",
        "DELETE a removed suppression",
    );

    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_listings_metrics_and_modules() {
    let data = tempfile::tempdir().unwrap();
    let service = Service::start(data.path(), &Config::default());

    let (status, findings) = service.get("/api/v1/findings").await;
    assert_eq!(status, StatusCode::OK, "{findings}");
    assert_eq!(
        findings,
        json!({"items": [], "total": 0, "next_cursor": null})
    );
    let (status, summary) = service.get("/api/v1/findings/summary").await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary["total"], 0, "{summary}");
    let (status, resources) = service.get("/api/v1/resources").await;
    assert_eq!(status, StatusCode::OK, "{resources}");
    assert_eq!(resources, json!({"items": [], "next_cursor": null}));
    let (status, history) = service
        .get(&format!(
            "/api/v1/findings/history?rule={RULE}&resource=arn:aws:s3:::x"
        ))
        .await;
    assert_eq!(
        (status, &history),
        (StatusCode::OK, &json!([])),
        "{history}"
    );
    let (status, scans) = service.get("/api/v1/scans").await;
    assert_eq!((status, &scans), (StatusCode::OK, &json!([])), "{scans}");
    let (status, accounts) = service.get("/api/v1/accounts").await;
    assert_eq!(
        (status, &accounts),
        (StatusCode::OK, &json!([])),
        "{accounts}"
    );
    let (status, suppressions) = service.get("/api/v1/suppressions").await;
    assert_eq!(
        (status, &suppressions),
        (StatusCode::OK, &json!([])),
        "{suppressions}"
    );

    // Modules: the built-in packs.
    let (status, modules) = service.get("/api/v1/modules").await;
    assert_eq!(status, StatusCode::OK, "{modules}");
    assert_eq!(ids(&modules, "name"), builtin::names(), "{modules}");
    let (status, one) = service.get("/api/v1/modules/aws-iam").await;
    assert_eq!(status, StatusCode::OK, "{one}");
    let (status, s3) = service.get("/api/v1/modules/aws-s3").await;
    assert_eq!(status, StatusCode::OK, "{s3}");
    let mut listed: Vec<(&Value, &str)> = modules
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m, m["name"].as_str().unwrap()))
        .collect();
    listed.push((&one, "aws-iam"));
    listed.push((&s3, "aws-s3"));
    for (module, name) in listed {
        let mut expected: Vec<&str> = builtin::rules_of(name).iter().map(|r| r.id).collect();
        expected.sort_unstable();
        assert_eq!(module["source"], "builtin", "{module}");
        assert_eq!(module["status"], "active", "{module}");
        assert!(module["size"].as_u64().unwrap_or(0) > 1000, "{module}");
        let sha = module["sha256"].as_str().unwrap_or_default();
        assert!(
            sha.len() == 64
                && sha
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "sha256 is not 64 lowercase hex digits: {module}"
        );
        let mut rules: Vec<&str> = module["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        rules.sort();
        assert_eq!(rules, expected, "{module}");
        assert_eq!(module["error"], Value::Null, "{module}");
    }
    let by_name = |name: &str| {
        modules
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap()
    };
    assert_eq!(
        by_name("aws-iam")["sha256"],
        one["sha256"],
        "{modules} {one}"
    );
    assert_eq!(by_name("aws-s3")["sha256"], s3["sha256"], "{modules} {s3}");
    let health = health(&service).await;
    assert_eq!(health["modules"], builtin::PACKS.len(), "{health}");

    // Metrics: request counts by route pattern, and the gauges.
    for _ in 0..2 {
        let (status, _) = service.get("/api/v1/accounts").await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, _) = service.get("/api/v1/accounts/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = service
        .request(Method::GET, "/metrics", READER)
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain"),
        "content type {content_type:?}"
    );
    let text = response.text().await.expect("read /metrics");
    let requests: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("palisade_http_requests_total{"))
        .collect();
    assert!(
        requests
            .iter()
            .any(|l| l.contains(r#"route="/api/v1/accounts""#) && l.contains(r#"method="GET""#)),
        "no request count for /api/v1/accounts:\n{text}"
    );
    assert!(
        requests
            .iter()
            .any(|l| l.contains(r#"route="/api/v1/accounts/{name}""#)),
        "requests are counted by route pattern:\n{text}"
    );
    assert!(
        !text.contains("/api/v1/accounts/nope"),
        "a raw path (with its id) is a metric label:\n{text}"
    );
    assert!(
        text.lines()
            .any(|l| l == format!("palisade_modules_loaded {}", builtin::PACKS.len())),
        "{text}"
    );
    let rules_gauge = format!("palisade_rules_enabled {}", builtin::enabled_by_default());
    assert!(text.lines().any(|l| l == rules_gauge), "{text}");

    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliance_reports_and_exports_answer_in_each_format() {
    let data = tempfile::tempdir().unwrap();
    let service = Service::start(data.path(), &Config::default());

    // Nothing scanned: every control is manual, not covered or without data.
    let (status, report) = service.get("/api/v1/reports/cis-aws-7.0").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let controls = report["controls"].as_array().unwrap();
    assert_eq!(controls.len(), 70, "{report}");
    for c in controls {
        let expected = if c["rules"].as_array().unwrap().is_empty() {
            if c["automated"] == true {
                "not_covered"
            } else {
                "manual"
            }
        } else {
            "no_data"
        };
        assert_eq!(c["status"], expected, "{c}");
    }
    // The serving rules' CIS tags decide which controls are covered: those of the rules on by
    // default.
    let covered: std::collections::BTreeSet<&str> = controls
        .iter()
        .filter(|c| !c["rules"].as_array().unwrap().is_empty())
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let tagged: std::collections::BTreeSet<&str> = builtin::rules()
        .filter(|r| r.default_enabled)
        .flat_map(|r| r.compliance)
        .filter_map(|c| c.strip_prefix("CIS-AWS-7.0:"))
        .collect();
    assert_eq!(covered, tagged);
    assert!(covered.len() >= 25, "{covered:?}");

    for (format, content_type) in [("csv", "text/csv"), ("html", "text/html")] {
        let response = service
            .request(
                Method::GET,
                &format!("/api/v1/reports/cis-aws-7.0?format={format}"),
                READER,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let header = response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(header.starts_with(content_type), "{header}");
        let body = response.text().await.unwrap();
        assert!(body.contains("2.12"), "{format}: {body}");
    }
    let (status, body) = service.get("/api/v1/reports/nist-800-53").await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "not_found",
        "unknown framework",
    );
    let (status, body) = service.get("/api/v1/reports/cis-aws-7.0?format=pdf").await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "bad_request",
        "unknown format",
    );
    let (status, body) = service
        .get("/api/v1/reports/cis-aws-7.0?account=nobody")
        .await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "not_found",
        "unknown account",
    );

    let (status, ocsf) = service.get("/api/v1/findings/export").await;
    assert_eq!((status, ocsf), (StatusCode::OK, json!([])));
    let (status, sarif) = service.get("/api/v1/findings/export?format=sarif").await;
    assert_eq!(status, StatusCode::OK, "{sarif}");
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(
        sarif["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .len(),
        builtin::rule_ids().len()
    );
    let (status, body) = service.get("/api/v1/findings/export?format=xml").await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "bad_request",
        "unknown export",
    );
    service.stop();
}
