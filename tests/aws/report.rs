//! The CIS AWS v7.0 report and the finding exports of an account scanned in the emulator: the
//! controls a seeded change breaks fail with that resource named, the ones it satisfies pass,
//! and the figures agree across JSON, CSV and HTML.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::support::{Env, emulator};

/// `palisade args` on the data directory `data`, against the emulator; it must succeed.
fn palisade(data: &Path, args: &[&str]) -> Output {
    let out = crate::cli::palisade(data, &emulator().endpoint, args);
    assert!(
        out.status.success(),
        "palisade {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn control<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["controls"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no control {id}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cis_report_and_exports_reflect_a_scanned_account() {
    let env = Env::new().await;
    let id = env.account_id().to_owned();
    let region = "us-east-1";

    // SSH open to the world: CIS 6.3 fails on this group.
    let ec2 = env.session.ec2(region);
    let group = ec2
        .create_security_group()
        .group_name("bastion")
        .description("ssh from anywhere")
        .send()
        .await
        .unwrap();
    let group_id = group.group_id().unwrap().to_owned();
    ec2.authorize_security_group_ingress()
        .group_id(&group_id)
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .cidr_ip("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    // EBS encryption by default: CIS 6.1.1 passes in the one region scanned.
    ec2.enable_ebs_encryption_by_default().send().await.unwrap();
    // A logging multi-region trail: CIS 4.1 passes; its bucket keeps no access logs, so 4.4
    // fails on the trail.
    let bucket = format!("trail-logs-{id}");
    env.session
        .s3(region)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let trails = env.session.cloudtrail(region);
    let trail = trails
        .create_trail()
        .name("org-trail")
        .s3_bucket_name(&bucket)
        .is_multi_region_trail(true)
        .enable_log_file_validation(true)
        .send()
        .await
        .unwrap();
    let trail_arn = trail.trail_arn().unwrap().to_owned();
    trails
        .start_logging()
        .name("org-trail")
        .send()
        .await
        .unwrap();

    // The account-level public access block (S3 Control) is on; the buckets' own are not.
    env.session
        .s3control(region)
        .put_public_access_block()
        .account_id(&id)
        .public_access_block_configuration(
            aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .unwrap();

    let data = tempfile::tempdir().unwrap();
    palisade(
        data.path(),
        &[
            "account",
            "add",
            "acme",
            "--account-id",
            &id,
            "--external-id",
            "palisade-test",
            "--region",
            region,
        ],
    );

    let out = palisade(
        data.path(),
        &["report", "--framework", "cis-aws-7.0", "--format", "json"],
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["framework"], "cis-aws-7.0");
    assert_eq!(report["accounts"], serde_json::json!([id]));
    let controls = report["controls"].as_array().unwrap();
    assert_eq!(controls.len(), 70);
    let summary: u64 = report["summary"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(summary, 70);
    let counted = |status: &str| controls.iter().filter(|c| c["status"] == status).count();
    assert_eq!(report["summary"]["fail"], counted("fail"));
    assert!(counted("pass") >= 5, "{}", report["summary"]);

    let group_arn = format!("arn:aws:ec2:{region}:{id}:security-group/{group_id}");
    let ssh = control(&report, "6.3");
    assert_eq!(ssh["status"], "fail", "{ssh}");
    assert!(
        ssh["offenders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["resource_id"] == group_arn.as_str()
                && o["message"].as_str().unwrap().contains("port 22")),
        "{ssh}"
    );
    assert!(ssh["resources"]["fail"].as_u64().unwrap() >= 1, "{ssh}");
    for (id, status) in [
        ("6.1.1", "pass"),
        // The emulator has no AWSSupportAccess policy to attach, so no support role.
        ("2.15", "fail"),
        ("4.1", "pass"),
        ("4.2", "pass"),
        ("4.4", "fail"),
        // No password policy at all.
        ("2.8", "fail"),
        ("2.9", "fail"),
        // Manual in the benchmark and no rule: left to a person.
        ("2.2", "manual"),
        // RDS is not collected.
        ("3.2.1", "not_covered"),
    ] {
        assert_eq!(
            control(&report, id)["status"],
            status,
            "{}",
            control(&report, id)
        );
    }
    // 3.1.4: the account's block passes, the trail bucket's missing one fails.
    let blocks = control(&report, "3.1.4");
    assert_eq!(blocks["status"], "fail", "{blocks}");
    let offenders = blocks["offenders"].as_array().unwrap();
    assert!(
        offenders
            .iter()
            .all(|o| o["rule_id"] == "AWS.S3.Bucket.PublicAccessBlock"),
        "{blocks}"
    );
    assert!(
        blocks["rules"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("AWS.S3.AccountPublicAccessBlock")),
        "{blocks}"
    );
    assert!(
        control(&report, "4.4")["offenders"][0]["resource_id"] == trail_arn.as_str(),
        "{}",
        control(&report, "4.4")
    );

    // CSV: a row per control, with the same figures.
    let out = palisade(data.path(), &["report", "--format", "csv"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let mut rows = csv_rows(&text);
    let header = rows.remove(0);
    assert_eq!(header[0], "control");
    assert_eq!(rows.len(), 70);
    let row = rows.iter().find(|r| r[0] == "6.3").unwrap();
    assert_eq!(row[5], "fail");
    assert_eq!(row[8], ssh["resources"]["fail"].to_string());

    // HTML: one file, with the chart and the offending group.
    let page = data.path().join("cis.html");
    palisade(
        data.path(),
        &[
            "report",
            "--format",
            "html",
            "--output",
            page.to_str().unwrap(),
        ],
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg"));
    assert!(html.contains(&group_arn));

    // OCSF and SARIF carry the same failure.
    let out = palisade(data.path(), &["findings", "export", "--format", "ocsf"]);
    let events: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let event = events
        .iter()
        .find(|e| {
            e["resources"][0]["uid"] == group_arn.as_str()
                && e["metadata"]["event_code"] == "AWS.SecurityGroup.AdministrativeIngress"
        })
        .expect("the group's finding in OCSF");
    assert_eq!(event["class_uid"], 2003);
    assert_eq!(event["compliance"]["status"], "Fail");
    assert_eq!(event["cloud"]["account"]["uid"], id.as_str());
    let out = palisade(
        data.path(),
        &[
            "findings", "export", "--format", "sarif", "--status", "fail",
        ],
    );
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().all(|r| r["kind"] == "fail"));
    assert!(results.iter().any(|r| {
        r["ruleId"] == "AWS.SecurityGroup.AdministrativeIngress"
            && r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == group_arn.as_str()
    }));
}

/// Rows of a CSV text, quotes honoured.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut cell, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut cell)),
            ('\n', false) => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => cell.push(c),
        }
    }
    rows
}
