//! Configuration: a TOML file for what flags and the environment leave unset, flags and the
//! environment over it, and a clear refusal of a bad file or a service without tokens.

use std::process::Stdio;

use reqwest::{Method, StatusCode};

use crate::service::{Config, READER, Service, command, send};

const FILE_ADMIN: &str = "file-admin-token-000000001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_configures_and_the_environment_overrides() {
    let data = tempfile::tempdir().expect("tempdir");
    let config = Config {
        config_file: Some(format!(
            "admin_tokens = [\"{FILE_ADMIN}\"]\nscan_interval_hours = 6\nno_builtin_packs = true\n"
        )),
        // The environment wins over the file.
        extra_env: vec![("PALISADE_SCAN_INTERVAL_HOURS".into(), "12".into())],
        ..Config::default()
    };
    let service = Service::start(data.path(), &config);
    // The file's admin token works; the harness's reader token was never configured.
    let (status, rules) = send(service.request(Method::GET, "/api/v1/rules", FILE_ADMIN)).await;
    assert_eq!(status, StatusCode::OK, "{rules}");
    assert_eq!(
        rules,
        serde_json::json!([]),
        "no_builtin_packs from the file"
    );
    let (status, _) = send(service.request(Method::GET, "/api/v1/rules", READER)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, created) = send(
        service
            .request(Method::POST, "/api/v1/accounts", FILE_ADMIN)
            .json(&serde_json::json!({
                "name": "prod",
                "account_id": "123456789012",
                "role_arn": "arn:aws:iam::123456789012:role/PalisadeAudit",
                "scan": false,
            })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, account) =
        send(service.request(Method::GET, "/api/v1/accounts/prod", FILE_ADMIN)).await;
    let parse = |field: &str| {
        time::OffsetDateTime::parse(
            account[field].as_str().expect("timestamp"),
            &time::format_description::well_known::Rfc3339,
        )
        .expect("RFC 3339")
    };
    assert_eq!(
        parse("next_scan_at") - parse("added_at"),
        time::Duration::hours(12),
        "the environment's interval: {account}"
    );
    service.stop();
}

#[test]
fn a_bad_configuration_is_refused_with_the_reason() {
    let cases = [
        ("admin_tokens = [\"x\"]\n", "token"),
        (
            "admin_tokenz = [\"file-admin-token-000000001\"]\n",
            "admin_tokenz",
        ),
        ("listen = 8080\n", "listen"),
        (
            "admin_tokens = [\"file-admin-token-000000001\"]\n[rule_settings.\"AWS.AccessKey.Rotation\"]\nmax-age-days = \"ninety\"\n",
            "setting `max-age-days` must be",
        ),
        (
            "admin_tokens = [\"file-admin-token-000000001\"]\n[rule_settings.\"AWS.No.Such.Rule\"]\nx = 1\n",
            "no such rule",
        ),
        ("", "no API tokens"),
    ];
    for (text, reason) in cases {
        let data = tempfile::tempdir().expect("tempdir");
        let config = Config {
            config_file: Some(text.to_owned()),
            ..Config::default()
        };
        let out = command(data.path(), &config)
            .stdin(Stdio::null())
            .output()
            .expect("run palisade serve");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {stderr}");
        assert!(stderr.contains(reason), "{text:?}: {stderr}");
        assert!(!stderr.contains("listening"), "{stderr}");
    }
}

/// A user whose only active access key was rotated `days` ago.
fn user_with_key_rotated(days: i64) -> serde_json::Value {
    let rotated = time::OffsetDateTime::now_utc() - time::Duration::days(days);
    let rotated = rotated
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    serde_json::json!({
        "resource_type": "AWS.IAM.User",
        "document": {
            "ResourceId": "arn:aws:iam::123456789012:user/alice",
            "ResourceType": "AWS.IAM.User",
            "AccountId": "123456789012",
            "CredentialReport": {
                "UserName": "alice",
                "AccessKey1Active": true,
                "AccessKey1LastRotated": rotated,
                "AccessKey2Active": false,
                "AccessKey2LastRotated": "0001-01-01T00:00:00Z",
            },
        },
    })
}

/// The rotation rule's verdict on a user whose key is 40 days old.
async fn rotation_verdict(service: &Service) -> String {
    let (status, answer) = send(
        service
            .request(Method::POST, "/api/v1/evaluate", FILE_ADMIN)
            .json(&user_with_key_rotated(40)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["verdicts"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["rule_id"] == ROTATION))
        .and_then(|v| v["status"].as_str())
        .unwrap_or_else(|| panic!("no rotation verdict: {answer}"))
        .to_owned()
}

const ROTATION: &str = "AWS.AccessKey.Rotation";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_settings_come_from_the_file_and_the_api_and_decide_verdicts() {
    let data = tempfile::tempdir().expect("tempdir");
    let config = Config {
        config_file: Some(format!(
            "admin_tokens = [\"{FILE_ADMIN}\"]\n[rule_settings.\"{ROTATION}\"]\nmax-age-days = 30\n"
        )),
        ..Config::default()
    };
    let rule_path = format!("/api/v1/rules/{ROTATION}");
    let get_rule = async |service: &Service| {
        let (status, rule) = send(service.request(Method::GET, &rule_path, FILE_ADMIN)).await;
        assert_eq!(status, StatusCode::OK, "{rule}");
        rule
    };
    let service = Service::start(data.path(), &config);
    // The file's value serves; the schema keeps the declared default.
    let rule = get_rule(&service).await;
    assert_eq!(
        rule["settings"],
        serde_json::json!({"max-age-days": 30}),
        "{rule}"
    );
    let schema = &rule["settings_schema"]["properties"]["max-age-days"];
    assert_eq!(schema["type"], "integer", "{rule}");
    assert_eq!(schema["default"], 90, "{rule}");
    assert_eq!(rotation_verdict(&service).await, "fail");

    // Values the rule does not accept are refused and change nothing.
    for (settings, needle) in [
        (serde_json::json!({"max-age-days": "ninety"}), "must be"),
        (
            serde_json::json!({"max-age-dayz": 60}),
            "unknown setting `max-age-dayz`",
        ),
    ] {
        let (status, body) = send(
            service
                .request(Method::PATCH, &rule_path, FILE_ADMIN)
                .json(&serde_json::json!({ "settings": settings })),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"], "invalid_settings", "{body}");
        assert!(body["message"].as_str().unwrap().contains(needle), "{body}");
    }
    assert_eq!(get_rule(&service).await["settings"]["max-age-days"], 30);
    // A reader may not change settings.
    let (status, _) = send(
        service
            .request(Method::PATCH, &rule_path, READER)
            .json(&serde_json::json!({"settings": {"max-age-days": 60}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The API's value wins over the file's, and the verdict follows it.
    let (status, rule) = send(
        service
            .request(Method::PATCH, &rule_path, FILE_ADMIN)
            .json(&serde_json::json!({"settings": {"max-age-days": 60}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rule}");
    assert_eq!(
        rule["settings"],
        serde_json::json!({"max-age-days": 60}),
        "{rule}"
    );
    assert_eq!(rotation_verdict(&service).await, "pass");
    service.stop();

    // It survives a restart.
    let service = Service::start(data.path(), &config);
    assert_eq!(get_rule(&service).await["settings"]["max-age-days"], 60);
    assert_eq!(rotation_verdict(&service).await, "pass");
    service.stop();
}
