//! Who may call what: every route of the API in one table with the role it needs, checked
//! without a token, with bad tokens, as a reader and as an admin; the table checked against
//! the OpenAPI document so that it cannot fall behind the router; and no token in the logs.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::service::{ADMIN, Config, READER, Service};

/// A well-formed token that the service does not know.
const WRONG: &str = "wrong-token-for-tests-0001";

/// The role a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// No token at all.
    Open,
    Reader,
    Admin,
}

/// One route of the API, called with a concrete path.
struct Route {
    method: Method,
    /// The path called, with ids filled in (and a query where the route needs one).
    path: &'static str,
    /// The path as the OpenAPI document names it.
    template: &'static str,
    need: Need,
    /// Content type and body sent, if any.
    body: Option<(&'static str, &'static str)>,
    /// What a caller allowed on the route gets. Changing routes are called so that they change
    /// nothing: unknown ids (404) or bodies that are refused (400, 422).
    allowed: u16,
}

const JSON: &str = "application/json";

fn route(
    method: Method,
    path: &'static str,
    template: &'static str,
    need: Need,
    allowed: u16,
) -> Route {
    Route {
        method,
        path,
        template,
        need,
        body: None,
        allowed,
    }
}

fn with_body(
    method: Method,
    path: &'static str,
    template: &'static str,
    need: Need,
    body: (&'static str, &'static str),
    allowed: u16,
) -> Route {
    Route {
        method,
        path,
        template,
        need,
        body: Some(body),
        allowed,
    }
}

/// Every route the service serves.
fn routes() -> Vec<Route> {
    use Need::*;
    vec![
        route(Method::GET, "/healthz", "/healthz", Open, 200),
        route(Method::GET, "/metrics", "/metrics", Reader, 200),
        route(
            Method::GET,
            "/api/v1/openapi.json",
            "/api/v1/openapi.json",
            Reader,
            200,
        ),
        // Accounts
        route(
            Method::GET,
            "/api/v1/accounts",
            "/api/v1/accounts",
            Reader,
            200,
        ),
        // Missing fields: refused before anything is stored.
        with_body(
            Method::POST,
            "/api/v1/accounts",
            "/api/v1/accounts",
            Admin,
            (JSON, "{}"),
            400,
        ),
        route(
            Method::GET,
            "/api/v1/accounts/nope",
            "/api/v1/accounts/{name}",
            Reader,
            404,
        ),
        with_body(
            Method::PATCH,
            "/api/v1/accounts/nope",
            "/api/v1/accounts/{name}",
            Admin,
            (JSON, r#"{"scan_interval_hours": 6}"#),
            404,
        ),
        route(
            Method::DELETE,
            "/api/v1/accounts/nope",
            "/api/v1/accounts/{name}",
            Admin,
            404,
        ),
        // Scans
        route(Method::GET, "/api/v1/scans", "/api/v1/scans", Reader, 200),
        with_body(
            Method::POST,
            "/api/v1/scans",
            "/api/v1/scans",
            Admin,
            (JSON, r#"{"account": "nope"}"#),
            404,
        ),
        route(
            Method::GET,
            "/api/v1/scans/nope",
            "/api/v1/scans/{id}",
            Reader,
            404,
        ),
        // Resources
        route(
            Method::GET,
            "/api/v1/resources",
            "/api/v1/resources",
            Reader,
            200,
        ),
        route(
            Method::GET,
            "/api/v1/resources/123456789012/arn:aws:s3:::x",
            "/api/v1/resources/{account}/{id}",
            Reader,
            404,
        ),
        // Findings
        route(
            Method::GET,
            "/api/v1/findings",
            "/api/v1/findings",
            Reader,
            200,
        ),
        route(
            Method::GET,
            "/api/v1/findings/summary",
            "/api/v1/findings/summary",
            Reader,
            200,
        ),
        route(
            Method::GET,
            "/api/v1/findings/history?rule=AWS.S3.Bucket.Encryption&resource=arn:aws:s3:::x",
            "/api/v1/findings/history",
            Reader,
            200,
        ),
        // Rules
        route(Method::GET, "/api/v1/rules", "/api/v1/rules", Reader, 200),
        route(
            Method::GET,
            "/api/v1/rules/AWS.S3.Bucket.Encryption",
            "/api/v1/rules/{id}",
            Reader,
            200,
        ),
        // Switching on a rule that is on already changes nothing.
        with_body(
            Method::PATCH,
            "/api/v1/rules/AWS.S3.Bucket.Encryption",
            "/api/v1/rules/{id}",
            Admin,
            (JSON, r#"{"enabled": true}"#),
            200,
        ),
        with_body(
            Method::POST,
            "/api/v1/evaluate",
            "/api/v1/evaluate",
            Reader,
            (
                JSON,
                r#"{"resource_type": "AWS.S3.Bucket", "document": {"Name": "b"}}"#,
            ),
            200,
        ),
        // Real-time events and alerts
        route(Method::GET, "/api/v1/events", "/api/v1/events", Reader, 200),
        route(
            Method::GET,
            "/api/v1/events/rejected",
            "/api/v1/events/rejected",
            Reader,
            200,
        ),
        route(Method::GET, "/api/v1/alerts", "/api/v1/alerts", Reader, 200),
        // Compliance
        route(
            Method::GET,
            "/api/v1/reports/cis-aws-7.0?format=csv",
            "/api/v1/reports/{framework}",
            Reader,
            200,
        ),
        route(
            Method::GET,
            "/api/v1/findings/export?format=sarif",
            "/api/v1/findings/export",
            Reader,
            200,
        ),
        // Modules
        route(
            Method::GET,
            "/api/v1/modules",
            "/api/v1/modules",
            Reader,
            200,
        ),
        // An empty body is not a module: refused (422 invalid_module).
        with_body(
            Method::POST,
            "/api/v1/modules?name=x",
            "/api/v1/modules",
            Admin,
            ("application/wasm", ""),
            422,
        ),
        route(
            Method::GET,
            "/api/v1/modules/aws-iam",
            "/api/v1/modules/{name}",
            Reader,
            200,
        ),
        route(
            Method::DELETE,
            "/api/v1/modules/nope",
            "/api/v1/modules/{name}",
            Admin,
            404,
        ),
        route(
            Method::POST,
            "/api/v1/modules/nope/rollback",
            "/api/v1/modules/{name}/rollback",
            Admin,
            404,
        ),
        // Suppressions
        route(
            Method::GET,
            "/api/v1/suppressions",
            "/api/v1/suppressions",
            Reader,
            200,
        ),
        with_body(
            Method::POST,
            "/api/v1/suppressions",
            "/api/v1/suppressions",
            Admin,
            (JSON, "{}"),
            400,
        ),
        route(
            Method::DELETE,
            "/api/v1/suppressions/nope",
            "/api/v1/suppressions/{id}",
            Admin,
            404,
        ),
    ]
}

/// A call's status, headers and body (JSON, or a string when not JSON).
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

/// Calls `route` with `authorization` as the whole `Authorization` header (none when `None`).
async fn call(service: &Service, route: &Route, authorization: Option<&str>) -> Answer {
    let mut request = service.request(route.method.clone(), route.path, "");
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value);
    }
    if let Some((content_type, body)) = route.body {
        request = request.header(CONTENT_TYPE, content_type).body(body);
    }
    let response = request.send().await.expect("send the request");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("read the body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

/// `answer` is the 401 of a missing or unknown credential.
fn assert_unauthorized(answer: &Answer, what: &str) {
    assert_eq!(
        answer.status,
        StatusCode::UNAUTHORIZED,
        "{what}: {}",
        answer.body
    );
    assert_eq!(
        answer.body["error"], "unauthorized",
        "{what}: {}",
        answer.body
    );
    assert_eq!(
        answer
            .headers
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok()),
        Some("Bearer"),
        "{what}: the 401 must name the scheme; headers {:?}",
        answer.headers
    );
    let body = answer.body.to_string();
    for token in [ADMIN, READER, WRONG] {
        assert!(
            !body.contains(token),
            "{what}: the answer repeats a token: {body}"
        );
    }
}

/// Everything but the credential is wrong for these: they must be refused as unknown.
fn bad_credentials() -> Vec<(&'static str, String)> {
    vec![
        ("no token", String::new()),
        ("an unknown token", format!("Bearer {WRONG}")),
        (
            "the admin token in upper case",
            format!("Bearer {}", ADMIN.to_uppercase()),
        ),
        (
            "the reader token in upper case",
            format!("Bearer {}", READER.to_uppercase()),
        ),
        (
            "the admin token with the Basic scheme",
            format!("Basic {ADMIN}"),
        ),
        ("the admin token without a scheme", ADMIN.to_owned()),
        ("the scheme without a token", "Bearer ".to_owned()),
        ("the admin token with a suffix", format!("Bearer {ADMIN}x")),
        (
            "the admin token truncated",
            format!("Bearer {}", &ADMIN[..ADMIN.len() - 1]),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_needs_its_role_and_no_token_is_logged() {
    let data = tempfile::tempdir().unwrap();
    // Debug logs too: request logging is where a token would most likely leak.
    let config = Config {
        extra_env: vec![(
            "PALISADE_LOG".into(),
            "info,palisade=debug,axum=debug,hyper=debug".into(),
        )],
        ..Config::default()
    };
    let service = Service::start(data.path(), &config);
    let reader = format!("Bearer {READER}");
    let admin = format!("Bearer {ADMIN}");

    for route in routes() {
        let name = format!("{} {}", route.method, route.path);
        let allowed = StatusCode::from_u16(route.allowed).unwrap();

        // Without a usable credential.
        for (what, credential) in bad_credentials() {
            let header = (!credential.is_empty()).then_some(credential.as_str());
            let answer = call(&service, &route, header).await;
            let what = format!("{name} with {what}");
            match route.need {
                Need::Open => assert_eq!(answer.status, allowed, "{what}: {}", answer.body),
                Need::Reader | Need::Admin => assert_unauthorized(&answer, &what),
            }
        }

        // As a reader.
        let answer = call(&service, &route, Some(&reader)).await;
        match route.need {
            Need::Admin => {
                assert_eq!(
                    answer.status,
                    StatusCode::FORBIDDEN,
                    "{name} as a reader: {}",
                    answer.body
                );
                assert_eq!(
                    answer.body["error"], "forbidden",
                    "{name} as a reader: {}",
                    answer.body
                );
            }
            Need::Open | Need::Reader => {
                assert_ne!(
                    answer.status,
                    StatusCode::UNAUTHORIZED,
                    "{name} as a reader: {}",
                    answer.body
                );
                assert_ne!(
                    answer.status,
                    StatusCode::FORBIDDEN,
                    "{name} as a reader: {}",
                    answer.body
                );
                assert_eq!(
                    answer.status, allowed,
                    "{name} as a reader: {}",
                    answer.body
                );
            }
        }

        // As an admin: everything is allowed.
        let answer = call(&service, &route, Some(&admin)).await;
        assert_ne!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{name} as an admin: {}",
            answer.body
        );
        assert_ne!(
            answer.status,
            StatusCode::FORBIDDEN,
            "{name} as an admin: {}",
            answer.body
        );
        assert_eq!(
            answer.status, allowed,
            "{name} as an admin: {}",
            answer.body
        );
    }

    // The scheme is case-insensitive (RFC 9110); the token is not.
    let rules = route(
        Method::GET,
        "/api/v1/rules",
        "/api/v1/rules",
        Need::Reader,
        200,
    );
    for header in [format!("bearer {READER}"), format!("BEARER {ADMIN}")] {
        let answer = call(&service, &rules, Some(&header)).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "GET /api/v1/rules with {header:?}: {}",
            answer.body
        );
    }

    // Two credentials: refused rather than guessed at, even when both are good.
    let answer = service
        .request(Method::GET, "/api/v1/rules", "")
        .header(AUTHORIZATION, format!("Bearer {WRONG}"))
        .header(AUTHORIZATION, admin.as_str())
        .send()
        .await
        .expect("send");
    assert_eq!(
        answer.status(),
        StatusCode::UNAUTHORIZED,
        "two Authorization headers"
    );

    // HEAD is a read, like GET.
    let head = |token: &'static str| {
        let service = &service;
        async move {
            service
                .request(Method::HEAD, "/api/v1/rules", token)
                .send()
                .await
                .expect("send")
                .status()
        }
    };
    assert_eq!(
        head("").await,
        StatusCode::UNAUTHORIZED,
        "HEAD without a token"
    );
    assert_eq!(
        head(WRONG).await,
        StatusCode::UNAUTHORIZED,
        "HEAD with an unknown token"
    );
    assert_eq!(head(READER).await, StatusCode::OK, "HEAD as a reader");

    // Refused callers change nothing, even with requests that would succeed.
    let account = serde_json::json!({
        "name": "prod", "account_id": "123456789012",
        "role_arn": "arn:aws:iam::123456789012:role/PalisadeAudit", "scan": false,
    });
    let suppression = serde_json::json!({
        "rule_id": "AWS.S3.Bucket.Encryption", "pattern": "*", "reason": "no",
    });
    let disable = serde_json::json!({"enabled": false});
    for token in ["", WRONG, READER] {
        let attempts = [
            (Method::POST, "/api/v1/accounts", &account),
            (Method::POST, "/api/v1/suppressions", &suppression),
            (
                Method::PATCH,
                "/api/v1/rules/AWS.S3.Bucket.Encryption",
                &disable,
            ),
        ];
        for (method, path, body) in attempts {
            let status = service
                .request(method.clone(), path, token)
                .json(body)
                .send()
                .await
                .expect("send")
                .status();
            let expected = if token == READER {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::UNAUTHORIZED
            };
            assert_eq!(status, expected, "{method} {path} with token {token:?}");
        }
    }
    let (status, accounts) = service.get("/api/v1/accounts").await;
    assert_eq!(
        (status, accounts.clone()),
        (StatusCode::OK, serde_json::json!([])),
        "{accounts}"
    );
    let (status, suppressions) = service.get("/api/v1/suppressions").await;
    assert_eq!(
        (status, suppressions.clone()),
        (StatusCode::OK, serde_json::json!([])),
        "{suppressions}"
    );
    let (status, rule) = service.get("/api/v1/rules/AWS.S3.Bucket.Encryption").await;
    assert_eq!(status, StatusCode::OK, "{rule}");
    assert_eq!(
        rule["enabled"], true,
        "a refused PATCH switched the rule off: {rule}"
    );

    // No token reaches the log, in any case, however it was sent.
    let log = service.log.clone();
    let exit = service.stop();
    assert!(exit.success(), "palisade serve exited with {exit}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let text = log.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if text.contains("stopped") || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        log.contains("request"),
        "the debug request log is missing:\n{log}"
    );
    let lower = log.to_lowercase();
    for (name, token) in [("admin", ADMIN), ("reader", READER), ("unknown", WRONG)] {
        assert!(
            !lower.contains(token),
            "the {name} token is in the service log:\n{log}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_covers_every_route_of_the_openapi_document() {
    let data = tempfile::tempdir().unwrap();
    let service = Service::start(data.path(), &Config::default());
    let (status, doc) = service.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let paths = doc["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("no paths: {doc}"));
    let methods = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let documented: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().unwrap_or_else(|| panic!("{path}: {item}"));
            item.keys()
                .filter(|k| methods.contains(&k.as_str()))
                .map(|method| (method.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let table: BTreeSet<(String, String)> = routes()
        .iter()
        .map(|r| (r.method.as_str().to_owned(), r.template.to_owned()))
        .collect();
    assert_eq!(table.len(), routes().len(), "the table lists a route twice");
    let undocumented: Vec<_> = table.difference(&documented).collect();
    let untested: Vec<_> = documented.difference(&table).collect();
    assert!(
        undocumented.is_empty() && untested.is_empty(),
        "the auth table and the OpenAPI document disagree:\n  in the table only: {undocumented:?}\n  in the document only: {untested:?}"
    );

    // The document declares the bearer scheme that every route but /healthz uses.
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"]
            .as_str()
            .map(str::to_lowercase),
        Some("bearer".to_owned()),
        "{}",
        doc["components"]
    );
    for route in routes() {
        let operation = &doc["paths"][route.template][route.method.as_str().to_lowercase()];
        let secured = operation["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
        assert_eq!(
            secured,
            route.need != Need::Open,
            "{} {}: the document's security does not match the role it needs: {operation}",
            route.method,
            route.template
        );
    }
    service.stop();
}
