//! The `palisade` binary against the emulator: onboarding, scanning, and reading resources and
//! findings back in every output format; bad input and a dead endpoint.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{Env, aws_test_env, emulator};

/// `palisade` with a private data directory, pointed at `endpoint` with test credentials and
/// no way to reach for profiles or instance metadata.
pub(crate) fn palisade(data: &Path, endpoint: &str, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_palisade-cli"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PALISADE_DATA_DIR", data);
    aws_test_env(&mut command, endpoint);
    command.output().expect("run palisade")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_lines(out: &Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_scan_and_read_back_resources_and_findings() {
    let env = Env::new().await;
    let id = env.account_id().to_owned();
    let ec2 = env.session.ec2("us-east-1");
    let group = ec2
        .create_security_group()
        .group_name("rdp")
        .description("rdp from anywhere")
        .send()
        .await
        .unwrap();
    let group_id = group.group_id().unwrap();
    ec2.authorize_security_group_ingress()
        .group_id(group_id)
        .ip_protocol("tcp")
        .from_port(3389)
        .to_port(3389)
        .cidr_ip("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let endpoint = &emulator().endpoint;

    let add = palisade(
        data.path(),
        endpoint,
        &[
            "account",
            "add",
            "acme",
            "--account-id",
            &id,
            "--external-id",
            "palisade-test",
        ],
    );
    assert!(add.status.success(), "{}{}", stdout(&add), stderr(&add));
    let summary = stdout(&add);
    assert!(
        summary.contains(&format!("account acme ({id})")),
        "{summary}"
    );
    assert!(summary.contains("AWS.EC2.SecurityGroup"), "{summary}");
    assert!(summary.contains("API calls"), "{summary}");

    // Findings as JSON: eval's fields plus the finding's own.
    let out = palisade(
        data.path(),
        endpoint,
        &["findings", "list", "--status", "fail", "--format", "json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let findings = json_lines(&out);
    let arn = format!("arn:aws:ec2:us-east-1:{id}:security-group/{group_id}");
    let rdp = findings
        .iter()
        .find(|f| f["resource_id"] == arn.as_str())
        .unwrap_or_else(|| panic!("no finding on {arn}: {findings:?}"));
    assert_eq!(rdp["rule_id"], "AWS.SecurityGroup.AdministrativeIngress");
    assert_eq!(rdp["resource_type"], "AWS.EC2.SecurityGroup");
    assert_eq!(rdp["status"], "fail");
    assert_eq!(rdp["severity"], "high");
    assert_eq!(rdp["account_id"], id.as_str());
    assert_eq!(rdp["region"], "us-east-1");
    assert!(rdp["message"].as_str().unwrap().contains("3389"), "{rdp}");
    for field in ["first_seen", "last_seen"] {
        assert!(
            rdp[field].as_str().is_some_and(|t| t.ends_with('Z')),
            "{rdp}"
        );
    }
    assert!(findings.iter().all(|f| f["status"] == "fail"));

    // Severity filter is a floor: nothing below high.
    let high = json_lines(&palisade(
        data.path(),
        endpoint,
        &["findings", "list", "--severity", "high", "--format", "json"],
    ));
    assert!(!high.is_empty());
    assert!(
        high.iter()
            .all(|f| ["high", "critical"].contains(&f["severity"].as_str().unwrap()))
    );

    // Resources: CSV with a header, filters, and one document by id.
    let csv = palisade(
        data.path(),
        endpoint,
        &[
            "resources",
            "list",
            "--account",
            "acme",
            "--type",
            "AWS.EC2.SecurityGroup",
            "--format",
            "csv",
        ],
    );
    let text = stdout(&csv);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("type,region,account,resource,deleted"));
    assert!(text.contains(&arn), "{text}");
    assert!(
        lines.all(|l| l.starts_with("AWS.EC2.SecurityGroup,us-east-1,")),
        "{text}"
    );
    let get = palisade(data.path(), endpoint, &["resources", "get", &arn]);
    assert!(get.status.success(), "{}", stderr(&get));
    let doc: Value = serde_json::from_str(&stdout(&get)).unwrap();
    assert_eq!(doc["Id"], group_id);
    assert_eq!(doc["IpPermissions"][0]["FromPort"], 3389);

    // The account and its last scan.
    let show: Value = serde_json::from_str(&stdout(&palisade(
        data.path(),
        endpoint,
        &["account", "show", "acme"],
    )))
    .unwrap();
    assert_eq!(show["account_id"], id.as_str());
    assert_eq!(
        show["last_scan"]["regions"],
        serde_json::json!(["us-east-1"])
    );
    assert!(show["last_scan"]["api_calls"].as_u64().unwrap() > 0);

    // A second scan by name works from the stored account; removal takes everything.
    let rescan = palisade(data.path(), endpoint, &["scan", "--account", "acme"]);
    assert!(rescan.status.success(), "{}", stderr(&rescan));
    assert!(
        stdout(&rescan).contains("0 new or changed"),
        "{}",
        stdout(&rescan)
    );

    // Close RDP: the next scan turns the finding to pass, and its history shows both states.
    ec2.revoke_security_group_ingress()
        .group_id(group_id)
        .ip_protocol("tcp")
        .from_port(3389)
        .to_port(3389)
        .cidr_ip("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    let fixed = palisade(data.path(), endpoint, &["scan"]);
    assert!(fixed.status.success(), "{}", stderr(&fixed));
    let passing = json_lines(&palisade(
        data.path(),
        endpoint,
        &[
            "findings",
            "list",
            "--status",
            "pass",
            "--rule",
            "AWS.SecurityGroup.AdministrativeIngress",
            "--format",
            "json",
        ],
    ));
    assert!(
        passing.iter().any(|f| f["resource_id"] == arn.as_str()),
        "{passing:?}"
    );
    let history = json_lines(&palisade(
        data.path(),
        endpoint,
        &[
            "findings",
            "history",
            "--rule",
            "AWS.SecurityGroup.AdministrativeIngress",
            "--resource",
            &arn,
            "--format",
            "json",
        ],
    ));
    let states: Vec<(&Value, &Value)> = history.iter().map(|c| (&c["from"], &c["to"])).collect();
    assert_eq!(
        states,
        [
            (&Value::Null, &Value::from("fail")),
            (&Value::from("fail"), &Value::from("pass"))
        ]
    );

    let remove = palisade(data.path(), endpoint, &["account", "remove", "acme"]);
    assert!(remove.status.success(), "{}", stderr(&remove));
    let after = palisade(
        data.path(),
        endpoint,
        &["resources", "list", "--format", "json"],
    );
    assert_eq!(stdout(&after), "");
}

#[test]
fn bad_account_definitions_are_refused_with_exit_code_2() {
    let data = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["account", "add", "x", "--account-id", "12345"],
            "exactly 12 digits",
        ),
        (
            &[
                "account",
                "add",
                "x",
                "--account-id",
                "123456789012",
                "--role-arn",
                "arn:aws:iam::999999999999:role/r",
            ],
            "belongs to account 999999999999",
        ),
        (
            &[
                "account",
                "add",
                "x",
                "--account-id",
                "123456789012",
                "--exclude-resource",
                "nope",
            ],
            "REGION=GLOB",
        ),
        (&["scan", "--account", "missing"], "no account named"),
    ];
    for (args, want) in cases {
        let out = palisade(data.path(), crate::support::DEAD_ENDPOINT, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn a_dead_endpoint_is_a_clear_error_and_a_failing_exit() {
    let data = tempfile::tempdir().unwrap();
    let endpoint = crate::support::DEAD_ENDPOINT;
    let out = palisade(
        data.path(),
        endpoint,
        &["account", "add", "down", "--account-id", "123456789012"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("scan of account down failed"), "{err}");
    assert!(err.contains("GetCallerIdentity"), "{err}");
    assert!(err.contains("onnect"), "{err}");
    // The account itself was added; a later scan can succeed.
    let list = palisade(
        data.path(),
        endpoint,
        &["account", "list", "--format", "json"],
    );
    assert_eq!(json_lines(&list)[0]["name"], "down");
}

#[test]
fn role_template_is_a_cloudformation_template_for_a_read_only_role() {
    let data = tempfile::tempdir().unwrap();
    let out = palisade(
        data.path(),
        crate::support::DEAD_ENDPOINT,
        &[
            "account",
            "role-template",
            "--external-id",
            "ext-42",
            "--trusted-principal",
            "arn:aws:iam::111122223333:role/palisade",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let t: Value = serde_json::from_str(&stdout(&out)).expect("the template is JSON");
    assert_eq!(t["AWSTemplateFormatVersion"], "2010-09-09");
    let role = &t["Resources"]["PalisadeAuditRole"];
    assert_eq!(role["Type"], "AWS::IAM::Role");
    let policies = role["Properties"]["ManagedPolicyArns"].to_string();
    assert!(policies.contains("SecurityAudit") && policies.contains("ViewOnlyAccess"));
    assert_eq!(t["Parameters"]["ExternalId"]["Default"], "ext-42");
    assert_eq!(
        t["Parameters"]["TrustedPrincipalArn"]["Default"],
        "arn:aws:iam::111122223333:role/palisade"
    );
    assert!(t["Outputs"]["RoleArn"].is_object());
}
