//! The web console on a real socket: signing in with a token (an HttpOnly, SameSite=Strict
//! session cookie), pages for findings, resources, rules and accounts, admin controls only for
//! admins, CSRF-checked changes, and attacker-controlled text escaped.

use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::json;
use time::OffsetDateTime;

use palisade::store::{FindingRecord, FindingStatus, ResourceRecord, SledStore, Store};

use crate::service::{ADMIN, Config, READER, Service, send};

const ACCOUNT: &str = "123456789012";
const HOSTILE: &str = "<script>alert('pwned')</script>";
const BUCKET: &str = "arn:aws:s3:::evil-<b>bucket</b>";
const RULE: &str = "AWS.S3.Bucket.Encryption";

/// A browser without a cookie jar or redirects: each step is visible.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in with `token`; the session cookie (`name=value`).
async fn sign_in(service: &Service, token: &str) -> String {
    let response = browser()
        .post(service.url("/login"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/findings");
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains(token),
        "the token itself is not the cookie"
    );
    cookie.split(';').next().unwrap().to_owned()
}

/// GET `path` with `cookie`: status and body.
async fn get(service: &Service, cookie: &str, path: &str) -> (StatusCode, String) {
    let response = browser()
        .get(service.url(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

/// POST a form with `cookie`: the whole answer.
async fn submit(
    service: &Service,
    cookie: &str,
    path: &str,
    form: &impl serde::Serialize,
) -> reqwest::Response {
    browser()
        .post(service.url(path))
        .header(COOKIE, cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

/// POST a form with `cookie`: status and `Location`.
async fn post(
    service: &Service,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let response = submit(service, cookie, path, &form).await;
    let location = response
        .headers()
        .get(LOCATION)
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status(), location)
}

/// The session's CSRF token, from the sign-out form every page carries.
fn csrf(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    page[at..at + 64].to_owned()
}

/// A bucket whose name, tags and finding message are attacker-controlled markup.
fn seed(data: &std::path::Path) {
    let store = SledStore::open(&data.join("store")).unwrap();
    let now = OffsetDateTime::now_utc();
    store
        .put_resource(&ResourceRecord {
            account_id: ACCOUNT.into(),
            resource_type: "AWS.S3.Bucket".into(),
            resource_id: BUCKET.into(),
            region: "us-east-1".into(),
            document: json!({"ResourceId": BUCKET, "ResourceType": "AWS.S3.Bucket",
                             "AccountId": ACCOUNT, "Region": "us-east-1", "Name": "evil",
                             "Tags": {"owner": HOSTILE}}),
            updated_at: now,
            deleted_at: None,
        })
        .unwrap();
    store
        .put_finding(&FindingRecord {
            rule_id: RULE.into(),
            resource_id: BUCKET.into(),
            account_id: ACCOUNT.into(),
            resource_type: "AWS.S3.Bucket".into(),
            region: "us-east-1".into(),
            status: FindingStatus::Fail,
            message: Some(format!("bucket {HOSTILE} has no default encryption")),
            severity: "high".into(),
            first_seen: now,
            last_seen: now,
            status_changed_at: now,
            closed_at: None,
        })
        .unwrap();
    store.flush().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_signs_in_shows_pages_escapes_and_guards_changes() {
    let data = tempfile::tempdir().unwrap();
    seed(data.path());
    let service = Service::start(data.path(), &Config::default());

    // Signed out: every page sends the browser to sign in; the sign-in page is hardened.
    for path in ["/", "/findings", "/resources", "/rules", "/accounts"] {
        let response = browser().get(service.url(path)).send().await.unwrap();
        assert!(response.status().is_redirection(), "{path}");
        let target = response.headers()[LOCATION].to_str().unwrap();
        assert!(
            ["/login", "/findings"].contains(&target),
            "{path} -> {target}"
        );
    }
    let response = browser().get(service.url("/login")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    // A wrong token is refused, and no session starts.
    let response = browser()
        .post(service.url("/login"))
        .form(&[("token", "not-a-token-of-this-service")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get(SET_COOKIE).is_none());
    // A forged cookie is no session.
    let (status, _) = get(&service, "palisade_session=forged", "/findings").await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // A reader sees every page and no admin control.
    let reader = sign_in(&service, READER).await;
    let (status, findings) = get(&service, &reader, "/findings").await;
    assert_eq!(status, StatusCode::OK);
    assert!(findings.contains(RULE), "{findings}");
    let (status, resource) = get(
        &service,
        &reader,
        &format!("/resources/{ACCOUNT}/{}", urlencode(BUCKET)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{resource}");
    // Attacker-controlled text is shown, escaped, never as markup.
    for page in [&findings, &resource] {
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(!page.contains("<b>bucket</b>"), "{page}");
    }
    assert!(
        resource.contains("&#60;script&#62;alert(&#39;pwned&#39;)"),
        "{resource}"
    );
    assert!(!resource.contains("Suppress for this resource"));
    let (_, rules) = get(&service, &reader, "/rules").await;
    assert!(
        rules.contains(RULE) && !rules.contains("Switch off"),
        "{rules}"
    );
    let (_, accounts) = get(&service, &reader, "/accounts").await;
    assert!(!accounts.contains("Scan now"));
    // Even with its own CSRF token, a reader cannot change a rule.
    let token = csrf(&rules);
    let (status, _) = post(
        &service,
        &reader,
        &format!("/rules/{RULE}"),
        &[("csrf", &token), ("enabled", "false")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // An admin changes a rule only with the session's CSRF token.
    let admin = sign_in(&service, ADMIN).await;
    let (_, rules) = get(&service, &admin, "/rules").await;
    assert!(rules.contains("Switch off"));
    let token = csrf(&rules);
    assert_ne!(token, csrf(&findings), "each session has its own token");
    for forged in ["", "0".repeat(64).as_str(), csrf(&findings).as_str()] {
        let (status, _) = post(
            &service,
            &admin,
            &format!("/rules/{RULE}"),
            &[("csrf", forged), ("enabled", "false")],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "csrf {forged:?}");
    }
    let (status, rule) = service.get(&format!("/api/v1/rules/{RULE}")).await;
    assert_eq!((status, &rule["enabled"]), (StatusCode::OK, &json!(true)));
    let (status, location) = post(
        &service,
        &admin,
        &format!("/rules/{RULE}"),
        &[("csrf", &token), ("enabled", "false")],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/rules")
    );
    let (_, rule) = service.get(&format!("/api/v1/rules/{RULE}")).await;
    assert_eq!(rule["enabled"], false, "{rule}");

    // "Suppress for this resource" turns that one failure into `suppressed`.
    let (status, _) = post(
        &service,
        &admin,
        &format!("/rules/{RULE}"),
        &[("csrf", &token), ("enabled", "true")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, location) = post(
        &service,
        &admin,
        "/suppressions",
        &[
            ("csrf", &token),
            ("rule_id", RULE),
            ("resource_id", BUCKET),
            ("account", ACCOUNT),
            ("reason", "test bucket"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let (status, suppressions) = service.get("/api/v1/suppressions").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(suppressions[0]["rule_id"], RULE, "{suppressions}");
    assert_eq!(suppressions[0]["reason"], "test bucket", "{suppressions}");

    // Signing out ends the session on the server, not only in the browser.
    let (status, _) = post(&service, &admin, "/logout", &[("csrf", &token)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = get(&service, &admin, "/rules").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // The API still wants its bearer token: a console cookie is not one.
    let (status, _) = send(
        browser()
            .request(Method::GET, service.url("/api/v1/rules"))
            .header(COOKIE, &reader),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    service.stop();
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_an_account_runs_its_baseline_scan_and_shows_its_findings() {
    let data = tempfile::tempdir().unwrap();
    let config = Config {
        endpoint: crate::support::emulator().endpoint.clone(),
        ..Config::default()
    };
    let service = Service::start(data.path(), &config);
    let env = crate::support::Env::new().await;
    let id = env.account.account_id.clone();
    // A world-open SSH group for the baseline scan to find.
    let group_id = open_ssh_group(&env, "wizard-ssh").await;

    // Readers cannot connect accounts.
    let reader = sign_in(&service, READER).await;
    let (status, _) = get(&service, &reader, "/accounts/new").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let admin = sign_in(&service, ADMIN).await;
    let (status, form) = get(&service, &admin, "/accounts/new").await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("Continue setup"), "{form}");
    let token = csrf(&form);
    let details = |account_id: &str| {
        vec![
            ("csrf", token.clone()),
            ("name", "wizard".to_owned()),
            ("account_id", account_id.to_owned()),
            ("excluded_regions", "ap-south-2, me-central-1".to_owned()),
            ("excluded_resource_types", "AWS.EC2.AMI".to_owned()),
            (
                "excluded_resources",
                "us-east-1=arn:aws:s3:::scratch-*".to_owned(),
            ),
        ]
    };
    // A bad account id is refused in place, keeping what was typed.
    let mut bad = details("12345");
    bad.push(("step", "continue".to_owned()));
    let response = submit(&service, &admin, "/accounts/new", &bad).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("12345") && page.contains("role=\"alert\""),
        "{page}"
    );

    // Continue: the role step, with a fresh external id, the template and the console link.
    let mut good = details(&id);
    good.push(("step", "continue".to_owned()));
    let response = submit(&service, &admin, "/accounts/new", &good).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(page.contains("Save source"), "{page}");
    assert!(page.contains("https://console.aws.amazon.com/cloudformation/home"));
    let at = page.find("name=\"external_id\" value=\"").unwrap() + 26;
    let external_id = page[at..at + 32].to_owned();
    let (status, template) = get(
        &service,
        &admin,
        &format!("/accounts/new/template?account_id={id}&external_id={external_id}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let template: serde_json::Value = serde_json::from_str(&template).unwrap();
    assert_eq!(
        template["Parameters"]["ExternalId"]["Default"],
        external_id.as_str()
    );

    // Save source: the account is stored and its baseline scan runs.
    let mut save = details(&id);
    save.extend([
        ("external_id", external_id.clone()),
        ("role_arn", env.account.role_arn.clone()),
        ("step", "save".to_owned()),
    ]);
    let response = submit(&service, &admin, "/accounts/new", &save).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/accounts/wizard");
    let (status, account) = service.get("/api/v1/accounts/wizard").await;
    assert_eq!(status, StatusCode::OK, "{account}");
    assert_eq!(account["account_id"], id.as_str());
    assert_eq!(account["external_id"], external_id.as_str());
    assert_eq!(account["excluded_resource_types"], json!(["AWS.EC2.AMI"]));

    // The account page follows the scan, then offers the real-time set-up.
    let mut page = String::new();
    for _ in 0..240 {
        let (status, body) = get(&service, &admin, "/accounts/wizard").await;
        assert_eq!(status, StatusCode::OK);
        page = body;
        if page.contains("scan: finished") || page.contains("scan: failed") {
            break;
        }
        assert!(
            page.contains("http-equiv=\"refresh\""),
            "a running scan refreshes: {page}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(page.contains("Baseline scan: finished"), "{page}");
    assert!(page.contains("Finish setup"), "{page}");
    let (status, findings) = get(
        &service,
        &admin,
        &format!("/findings?account={id}&status=fail&rule=AWS.SecurityGroup.AdministrativeIngress"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(findings.contains(group_id.as_str()), "{findings}");
    // The region filter narrows the list: nothing of this account fails in eu-west-1.
    let (_, elsewhere) = get(
        &service,
        &admin,
        &format!("/findings?account={id}&status=fail&region=eu-west-1"),
    )
    .await;
    assert!(elsewhere.contains("No findings match"), "{elsewhere}");
    let (_, here) = get(
        &service,
        &admin,
        &format!("/findings?account={id}&status=fail&region=us-east-1"),
    )
    .await;
    assert!(here.contains(group_id.as_str()), "{here}");
    // The chart of failures per day comes from the scan just made.
    assert!(findings.contains("<svg class=\"chart\""), "{findings}");
    // The finding's own page: the rule's advice, the message, and its history from `new`.
    let arn = format!(
        "arn:aws:ec2:us-east-1:{id}:security-group/{}",
        group_id.as_str()
    );
    let (status, finding) = get(
        &service,
        &admin,
        &format!(
            "/finding?rule=AWS.SecurityGroup.AdministrativeIngress&resource={}",
            urlencode(&arn)
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{finding}");
    assert!(
        finding.contains("Remediation.") && finding.contains("port 22"),
        "{finding}"
    );
    assert!(finding.contains("<td>new</td>"), "{finding}");
    assert!(finding.contains("Resource document") && finding.contains("IpPermissions"));
    assert!(finding.contains("Suppress for this resource"), "{finding}");
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_upload_from_the_page_and_rule_settings_are_edited_in_place() {
    let data = tempfile::tempdir().unwrap();
    let service = Service::start(data.path(), &Config::default());
    let admin = sign_in(&service, ADMIN).await;
    let (status, page) = get(&service, &admin, "/modules").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("aws-iam") && page.contains("built in"),
        "{page}"
    );
    let token = csrf(&page);
    let upload = |name: &str, bytes: Vec<u8>, csrf: &str| {
        let form = reqwest::multipart::Form::new()
            .text("csrf", csrf.to_owned())
            .text("name", name.to_owned())
            .part(
                "module",
                reqwest::multipart::Part::bytes(bytes).file_name("pack.wasm"),
            );
        browser()
            .post(service.url("/modules"))
            .header(COOKIE, &admin)
            .multipart(form)
            .send()
    };

    // A file that is no component is refused in place, and nothing changes.
    let response = upload("hot", b"\0asm not really".to_vec(), &token)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("role=\"alert\"") && page.contains("module rejected"),
        "{page}"
    );
    // Without the session's CSRF token the upload is refused before it is looked at.
    let hot = palisade_test_fixtures::read(palisade_test_fixtures::HOTLOAD_V1);
    let response = upload("hot", hot.clone(), "forged").await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // A real module serves, with its rules listed.
    let response = upload("hot", hot, &token).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, page) = get(&service, &admin, "/modules").await;
    assert!(
        page.contains("Hot.Bucket.Named") && page.contains("#1"),
        "{page}"
    );
    let (status, rule) = service.get("/api/v1/rules/Hot.Bucket.Named").await;
    assert_eq!(status, StatusCode::OK, "{rule}");
    // Removed from the page, it serves no more.
    let (status, _) = post(&service, &admin, "/modules/hot/delete", &[("csrf", &token)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = service.get("/api/v1/rules/Hot.Bucket.Named").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A rule's page shows its settings; bad values are refused in place with the reason.
    let path = "/rules/AWS.AccessKey.Rotation";
    let (status, page) = get(&service, &admin, path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("max-age-days") && page.contains("CIS-AWS-7.0:2.12"),
        "{page}"
    );
    for (values, why) in [
        ("{\"max-age-days\": \"ninety\"}", "must be"),
        ("{\"max-age-dayz\": 30}", "unknown setting"),
        ("[1, 2]", "not a JSON object"),
    ] {
        let response = submit(
            &service,
            &admin,
            &format!("{path}/settings"),
            &[("csrf", token.as_str()), ("settings", values)],
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{values}"
        );
        let page = response.text().await.unwrap();
        assert!(page.contains(why), "{values}: {page}");
    }
    let (status, _) = post(
        &service,
        &admin,
        &format!("{path}/settings"),
        &[("csrf", &token), ("settings", "{\"max-age-days\": 45}")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, rule) = service.get("/api/v1/rules/AWS.AccessKey.Rotation").await;
    assert_eq!(rule["settings"]["max-age-days"], 45, "{rule}");
    // A reader sees the settings but no editor.
    let reader = sign_in(&service, READER).await;
    let (_, page) = get(&service, &reader, path).await;
    assert!(page.contains("max-age-days") && !page.contains("Save settings"));
    service.stop();
}

/// The walk-through of the issue in a real browser: headless Chromium (`/usr/bin/chromium`,
/// installed by scripts/setup.sh) driven by playwright-core from `tests/browser/console.mjs`,
/// against this service and a seeded emulator account. Screenshots of the main pages land in
/// `$CARGO_TARGET_TMPDIR/console-screenshots`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_walk_through_passes_in_chromium() {
    let data = tempfile::tempdir().unwrap();
    let config = Config {
        endpoint: crate::support::emulator().endpoint.clone(),
        ..Config::default()
    };
    let service = Service::start(data.path(), &config);
    let env = crate::support::Env::new().await;
    open_ssh_group(&env, "browser-ssh").await;
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    let out = std::process::Command::new("node")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/browser/console.mjs"))
        .args([
            service.url(""),
            ADMIN.to_owned(),
            READER.to_owned(),
            env.account.account_id.clone(),
            env.account.role_arn.clone(),
            palisade_test_fixtures::HOTLOAD_V1.to_owned(),
            shots.display().to_string(),
        ])
        .output()
        .expect("run node (installed by scripts/setup.sh)");
    assert!(
        out.status.success(),
        "the browser walk-through failed:\n{}\n{}\nservice log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        service.log()
    );
    for page in [
        "01-findings-empty",
        "03-account-scanned",
        "04-findings-failing",
        "07-modules",
    ] {
        let file = shots.join(format!("{page}.png"));
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1000, "no screenshot {}", file.display());
    }
    service.stop();
}

/// A security group of `env`'s account in us-east-1 open to SSH from anywhere; its id.
async fn open_ssh_group(env: &crate::support::Env, name: &str) -> String {
    let ec2 = env.session.ec2("us-east-1");
    let group = ec2
        .create_security_group()
        .group_name(name)
        .description("ssh from anywhere")
        .send()
        .await
        .unwrap();
    let id = group.group_id().unwrap().to_owned();
    ec2.authorize_security_group_ingress()
        .group_id(&id)
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .cidr_ip("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    id
}
