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
