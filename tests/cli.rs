//! The command-line contract, tested by running the real binary: JSON output shapes, exit
//! codes, and error messages that name the problem.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use palisade_test_fixtures as fixtures;

#[path = "common/builtin.rs"]
mod builtin;
use serde_json::{Value, json};

const NOW: &str = "2026-11-27T00:00:00Z";

fn palisade(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade-cli"))
        .args(args)
        .env_remove("PALISADE_DATA_DIR")
        .env("PALISADE_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run palisade");
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn jsonl(out: &Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A bucket that every S3 rule on by default passes, but for default encryption when
/// `encrypted` is false.
fn bucket(name: &str, encrypted: bool) -> Value {
    let rules = encrypted.then(|| json!([{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": false}]));
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{name}"), format!("arn:aws:s3:::{name}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }]});
    json!({
        "ResourceId": format!("arn:aws:s3:::{name}"), "ResourceType": "AWS.S3.Bucket",
        "AccountId": "123456789012", "Region": "us-east-1", "Name": name,
        "EncryptionRules": rules,
        "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}, "Permission": "FULL_CONTROL"}],
        "Policy": policy.to_string(),
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true},
        "Versioning": "Enabled", "MFADelete": "Enabled",
        "LoggingPolicy": {"TargetBucket": "access-logs", "TargetPrefix": format!("{name}/")},
        "LifecycleRules": [{"ID": "expire-noncurrent", "Status": "Enabled", "Filter": {}, "NoncurrentVersionExpiration": {"NoncurrentDays": 90}}],
        "ObjectLockConfiguration": null,
    })
}

/// The ids of the built-in rules on by default for `resource_type`, in listing order.
fn default_rules(resource_type: &str) -> Vec<String> {
    let out = palisade(&["rules"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let rules: Vec<Value> = serde_json::from_str(&stdout(&out)).unwrap();
    rules
        .iter()
        .filter(|r| r["default_enabled"] == true)
        .filter(|r| {
            r["resource_types"]
                .as_array()
                .unwrap()
                .contains(&json!(resource_type))
        })
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn open_ssh_group() -> Value {
    json!({
        "ResourceId": "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0a1b", "ResourceType": "AWS.EC2.SecurityGroup",
        "AccountId": "123456789012", "Region": "us-east-1", "Name": "bastion",
        "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": []}],
    })
}

#[test]
fn rules_lists_the_builtin_packs_with_full_metadata() {
    let out = palisade(&["rules"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let rules: Vec<Value> = serde_json::from_str(&stdout(&out)).unwrap();
    // What the WebAssembly packs describe is what their crates declare natively.
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, builtin::rule_ids());
    for (rule, native) in rules.iter().zip(builtin::rules()) {
        for field in [
            "id",
            "title",
            "severity",
            "resource_types",
            "description",
            "remediation",
            "compliance",
            "settings",
            "default_enabled",
            "module",
        ] {
            assert!(rule.get(field).is_some(), "{field} missing from {rule}");
        }
        assert_eq!(rule["module"], builtin::module_of(native.id), "{rule}");
        assert_eq!(rule["default_enabled"], native.default_enabled, "{rule}");
        assert_eq!(rule["title"], native.title, "{rule}");
        assert_eq!(
            rule["resource_types"],
            json!(native.resource_types),
            "{rule}"
        );
        assert_eq!(rule["compliance"], json!(native.compliance), "{rule}");
        assert!(!rule["description"].as_str().unwrap().is_empty());
    }
    // The library is the catalog's ~80 rules plus the CIS checks it adds, and the rule list in
    // the docs is current (`palisade rules | scripts/rules-doc.py > docs/rules.md`).
    assert!(rules.len() >= 80, "{} rules", rules.len());
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/rules.md"))
        .expect("docs/rules.md");
    for id in &ids {
        assert!(
            doc.contains(&format!("| `{id}` |")),
            "docs/rules.md lacks {id}: regenerate it"
        );
    }
    assert!(
        doc.contains(&format!("({} rules)", builtin::rules_of("aws-iam").len())),
        "docs/rules.md is stale: regenerate it"
    );
    let rotation = rules
        .iter()
        .find(|r| r["id"] == "AWS.AccessKey.Rotation")
        .unwrap();
    assert_eq!(rotation["severity"], "medium");
    assert_eq!(rotation["module"], "aws-iam");
    assert_eq!(rotation["compliance"], json!(["CIS-AWS-7.0:2.12"]));
    assert_eq!(
        rotation["settings"]["properties"]["max-age-days"]["default"],
        90
    );
    assert_eq!(
        rotation["resource_types"],
        json!(["AWS.IAM.User", "AWS.IAM.RootUser"])
    );
}

#[test]
fn rules_describes_a_module_given_on_the_command_line() {
    let out = palisade(&["rules", "--module", fixtures::SANDBOX], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let rules: Vec<Value> = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        rules
            .iter()
            .any(|r| r["id"] == "Test.Good" && r["module"] == "fixture_sandbox")
    );
}

#[test]
fn eval_prints_one_line_per_applicable_rule_in_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let other = json!({"ResourceId": "arn:aws:sqs:us-east-1:123456789012:q", "ResourceType": "AWS.SQS.Queue", "AccountId": "123456789012", "Region": "us-east-1"});
    let docs = [
        bucket("plain", false),
        other,
        open_ssh_group(),
        bucket("locked", true),
    ];
    let text: String = docs.iter().map(|d| format!("{d}\n")).collect();
    let file = write(dir.path(), "docs.jsonl", &text);
    let out = palisade(&["eval", "--resource", &file, "--now", NOW], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = jsonl(&out);
    // Each bucket gets every S3 rule on by default, the group the group rules, the queue none.
    let s3_rules = default_rules("AWS.S3.Bucket");
    assert!(s3_rules.len() > 10, "{s3_rules:?}");
    let group_rules = default_rules("AWS.EC2.SecurityGroup");
    assert!(
        group_rules.contains(&"AWS.SecurityGroup.AdministrativeIngress".to_owned()),
        "{group_rules:?}"
    );
    let mut expected: Vec<(&str, &str)> = Vec::new();
    expected.extend(s3_rules.iter().map(|r| ("arn:aws:s3:::plain", r.as_str())));
    expected.extend(group_rules.iter().map(|r| {
        (
            "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0a1b",
            r.as_str(),
        )
    }));
    expected.extend(s3_rules.iter().map(|r| ("arn:aws:s3:::locked", r.as_str())));
    let got: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["resource_id"].as_str().unwrap(),
                l["rule_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected, "the queue has no applicable rule: {lines:?}");
    for (raw, line) in stdout(&out).lines().zip(&lines) {
        let mut keys: Vec<&String> = line.as_object().unwrap().keys().collect();
        keys.sort_by_key(|k| raw.find(&format!("\"{k}\":")).unwrap());
        assert_eq!(
            keys,
            [
                "rule_id",
                "resource_id",
                "resource_type",
                "status",
                "message"
            ],
            "{raw}"
        );
    }
    // The unencrypted bucket fails that rule only; the encrypted one passes every rule.
    for line in &lines[..s3_rules.len()] {
        if line["rule_id"] == "AWS.S3.Bucket.Encryption" {
            assert_eq!(line["status"], "fail");
            assert_eq!(
                line["message"],
                "bucket plain has no default encryption configured"
            );
        } else {
            assert_eq!(line["status"], "pass", "{line}");
        }
    }
    let groups = &lines[s3_rules.len()..s3_rules.len() + group_rules.len()];
    let ssh = groups
        .iter()
        .find(|l| l["rule_id"] == "AWS.SecurityGroup.AdministrativeIngress")
        .unwrap();
    assert_eq!(ssh["status"], "fail");
    assert!(
        ssh["message"]
            .as_str()
            .unwrap()
            .contains("SSH (port 22) from 0.0.0.0/0")
    );
    for line in &lines[s3_rules.len() + group_rules.len()..] {
        assert_eq!(line["status"], "pass", "{line}");
        assert_eq!(line["message"], Value::Null);
    }
}

#[test]
fn eval_reads_stdin_and_a_single_pretty_document() {
    let doc = serde_json::to_string_pretty(&bucket("plain", false)).unwrap();
    let out = palisade(&["eval", "--resource", "-", "--now", NOW], Some(&doc));
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = jsonl(&out);
    assert_eq!(lines.len(), default_rules("AWS.S3.Bucket").len());
    assert!(
        lines
            .iter()
            .all(|l| l["resource_id"] == "arn:aws:s3:::plain")
    );
}

#[test]
fn rule_filter_and_settings_change_what_runs() {
    let dir = tempfile::tempdir().unwrap();
    let user = json!({
        "ResourceId": "arn:aws:iam::123456789012:user/ci", "ResourceType": "AWS.IAM.User",
        "AccountId": "123456789012", "Region": "global",
        "CredentialReport": {"UserName": "ci", "AccessKey1Active": true, "AccessKey1LastRotated": "2026-10-01T00:00:00Z",
                             "AccessKey2Active": false, "AccessKey2LastRotated": "0001-01-01T00:00:00Z"},
    });
    let docs = format!("{user}\n{}\n", bucket("plain", false));
    let file = write(dir.path(), "docs.jsonl", &docs);
    let rotation_only = [
        "eval",
        "--resource",
        &file,
        "--now",
        NOW,
        "--rule",
        "AWS.AccessKey.Rotation",
    ];
    let lines = jsonl(&palisade(&rotation_only, None));
    assert_eq!(lines.len(), 1);
    assert_eq!(
        lines[0]["status"], "pass",
        "57 days is within the default 90"
    );
    let settings = write(
        dir.path(),
        "settings.json",
        r#"{"AWS.AccessKey.Rotation": {"max-age-days": 30}}"#,
    );
    let strict = palisade(
        &[&rotation_only[..], &["--settings", &settings]].concat(),
        None,
    );
    let lines = jsonl(&strict);
    assert_eq!(lines[0]["status"], "fail");
    assert!(
        lines[0]["message"]
            .as_str()
            .unwrap()
            .contains("57 days ago"),
        "{}",
        lines[0]
    );
}

#[test]
fn table_format_and_status_filter_are_for_people() {
    let docs = format!("{}\n{}\n", bucket("plain", false), bucket("locked", true));
    let out = palisade(
        &[
            "eval",
            "--resource",
            "-",
            "--now",
            NOW,
            "--format",
            "table",
            "--status",
            "fail",
        ],
        Some(&docs),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("STATUS  SEVERITY  RULE"), "{text}");
    assert!(
        lines[1].starts_with("FAIL    high      AWS.S3.Bucket.Encryption"),
        "{text}"
    );
    assert!(lines[1].ends_with("bucket plain has no default encryption configured"));
    let json = palisade(
        &[
            "eval",
            "--resource",
            "-",
            "--now",
            NOW,
            "--status",
            "pass",
            "--rule",
            "AWS.S3.Bucket.Encryption",
        ],
        Some(&docs),
    );
    let lines = jsonl(&json);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["resource_id"], "arn:aws:s3:::locked");
    let rules = palisade(&["rules", "--format", "table"], None);
    assert!(stdout(&rules).contains("AWS.AccessKey.Rotation"));
}

#[test]
fn a_closed_output_pipe_is_not_an_error() {
    let docs: String = (0..2000)
        .map(|i| format!("{}\n", bucket(&format!("b{i}"), false)))
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade-cli"))
        .args(["eval", "--resource", "-", "--now", NOW])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(docs.as_bytes()).unwrap();
    drop(input);
    // Read one line, then hang up, as `| head -1` does.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn exit_code_flag_reports_failures() {
    let doc = bucket("plain", false).to_string();
    let plain = palisade(&["eval", "--resource", "-", "--now", NOW], Some(&doc));
    assert_eq!(plain.status.code(), Some(0));
    let strict = palisade(
        &["eval", "--resource", "-", "--now", NOW, "--exit-code"],
        Some(&doc),
    );
    assert_eq!(strict.status.code(), Some(3));
    let clean = bucket("locked", true).to_string();
    let ok = palisade(
        &["eval", "--resource", "-", "--now", NOW, "--exit-code"],
        Some(&clean),
    );
    assert_eq!(ok.status.code(), Some(0));
}

#[test]
fn malformed_input_is_exit_code_2_naming_the_line() {
    let input = format!(
        "{}\n{}\n{{\"ResourceId\": \"x\",, }}\n",
        bucket("a", true),
        bucket("b", true)
    );
    let out = palisade(&["eval", "--resource", "-", "--now", NOW], Some(&input));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).is_empty(),
        "nothing is evaluated from a bad input"
    );
    let err = stderr(&out);
    assert!(err.contains("stdin: line 3, column"), "{err}");

    let missing = palisade(
        &["eval", "--resource", "-"],
        Some(r#"{"ResourceType": "AWS.S3.Bucket"}"#),
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("line 1: the document has no ResourceId"));

    let nofile = palisade(&["eval", "--resource", "/nonexistent/docs.jsonl"], None);
    assert_eq!(nofile.status.code(), Some(2));
    assert!(stderr(&nofile).contains("cannot read /nonexistent/docs.jsonl"));

    let bad_now = palisade(
        &["eval", "--resource", "-", "--now", "yesterday"],
        Some("{}"),
    );
    assert_eq!(
        bad_now.status.code(),
        Some(2),
        "clap usage errors are 2 as well"
    );
}

#[test]
fn unknown_rules_and_bad_modules_are_exit_code_2() {
    let doc = bucket("a", true).to_string();
    let out = palisade(
        &["eval", "--resource", "-", "--rule", "AWS.No.Such.Rule"],
        Some(&doc),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown rule AWS.No.Such.Rule"));

    let out = palisade(
        &["eval", "--resource", "-", "--module", fixtures::WRONG_WORLD],
        Some(&doc),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("does not implement the palisade:policy/pack@0.1.0 world"),
        "{}",
        stderr(&out)
    );

    let dir = tempfile::tempdir().unwrap();
    let junk = write(dir.path(), "junk.wasm", "not wasm at all");
    let out = palisade(&["rules", "--module", &junk], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a WebAssembly binary"));
}

#[test]
fn context_documents_are_visible_to_lookups() {
    let dir = tempfile::tempdir().unwrap();
    let thing = json!({"ResourceId": "t1", "ResourceType": "Test.Thing", "AccountId": "123456789012", "Region": "us-east-1", "Peer": "p1"});
    let peer = json!({"ResourceId": "p1", "ResourceType": "Test.Peer", "AccountId": "123456789012", "Region": "us-east-1"});
    let resource = write(dir.path(), "r.json", &thing.to_string());
    let context = write(dir.path(), "c.jsonl", &format!("{peer}\n"));
    let args = [
        "eval",
        "--module",
        fixtures::SANDBOX,
        "--rule",
        "Test.Lookup",
        "--resource",
        &resource,
    ];
    let without = jsonl(&palisade(&args, None));
    assert_eq!(without[0]["status"], "pass");
    let mut with_context = args.to_vec();
    with_context.extend(["--context", &context]);
    let with = jsonl(&palisade(&with_context, None));
    assert_eq!(with[0]["message"], "found p1");
}

#[test]
fn a_misbehaving_module_yields_error_lines_not_a_crash() {
    let docs = "{\"ResourceId\": \"t1\", \"ResourceType\": \"Test.Thing\", \"Ok\": true}\n";
    let out = palisade(
        &[
            "eval",
            "--module",
            fixtures::SANDBOX,
            "--rule",
            "Test.Panic",
            "--rule",
            "Test.Good",
            "--resource",
            "-",
            "--deadline-ms",
            "200",
        ],
        Some(docs),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = jsonl(&out);
    assert_eq!(lines.len(), 2);
    let by_rule = |id: &str| lines.iter().find(|l| l["rule_id"] == id).unwrap().clone();
    assert_eq!(by_rule("Test.Good")["status"], "pass");
    assert_eq!(by_rule("Test.Panic")["status"], "error");
    assert!(
        by_rule("Test.Panic")["message"]
            .as_str()
            .unwrap()
            .contains("rule exploded on t1")
    );
}

#[test]
fn data_dir_caches_compiled_packs_between_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let doc = bucket("plain", false).to_string();
    for _ in 0..2 {
        let out = palisade(
            &["eval", "--resource", "-", "--data-dir", data, "--now", NOW],
            Some(&doc),
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let lines = jsonl(&out);
        let encryption = lines
            .iter()
            .find(|l| l["rule_id"] == "AWS.S3.Bucket.Encryption")
            .unwrap();
        assert_eq!(encryption["status"], "fail");
    }
    assert!(dir.path().join("data/artifact.key").exists());
    assert!(dir.path().join("data/store").is_dir());
}
