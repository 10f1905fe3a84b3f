//! The emulator harness: one moto server per test binary (tests/emulator/moto_server.py on a
//! free 127.0.0.1 port, gone when the binary exits), and [`Env`], a fresh AWS account on it
//! for each test so tests run in parallel without seeing each other's resources.

pub mod proxy;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use palisade::account::Account;
use palisade::aws::{AwsOptions, Session};
use palisade::scan::{Collect, Collected, Doc, Service, Unsupported};

/// An endpoint where nothing listens: port 1 on loopback is never handed out as an ephemeral
/// port (a port bound and released could be reused by a concurrent test's proxy) and needs root
/// to listen on.
pub const DEAD_ENDPOINT: &str = "http://127.0.0.1:1";

/// A running emulator and the pipe that controls it.
pub struct Emulator {
    pub endpoint: String,
    control: Mutex<(ChildStdin, BufReader<ChildStdout>)>,
    child: Child,
}

/// The emulator of this test binary, started on first use.
pub fn emulator() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(|| Emulator::start(&[]))
}

impl Emulator {
    /// Starts an emulator of its own (`args` go to moto_server.py, e.g. `--stock`); it stops
    /// when this is dropped, since the script exits when its stdin closes.
    pub fn start(args: &[&str]) -> Emulator {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/emulator/moto_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 tests/emulator/moto_server.py (is moto[server] installed?)");
        let stdin = child.stdin.take().expect("emulator stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("emulator stdout"));
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("read the emulator's READY line");
        let port: u16 = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("the emulator did not start: {line:?}"));
        Emulator {
            endpoint: format!("http://127.0.0.1:{port}"),
            control: Mutex::new((stdin, stdout)),
            child,
        }
    }

    /// The emulator's socket address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.endpoint
            .trim_start_matches("http://")
            .parse()
            .expect("the endpoint is http://IP:PORT")
    }

    /// The emulator's process id (to measure its CPU time).
    #[allow(dead_code)] // for benches/scan.rs, which shares this harness
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends one control command and returns its answer (`ok` or `error ...`).
    pub fn command(&self, line: &str) -> String {
        let mut guard = self.control.lock().unwrap_or_else(|e| e.into_inner());
        let (stdin, stdout) = &mut *guard;
        writeln!(stdin, "{line}").expect("write to the emulator");
        stdin.flush().expect("flush to the emulator");
        let mut answer = String::new();
        stdout
            .read_line(&mut answer)
            .expect("read the emulator's answer");
        answer.trim().to_owned()
    }

    /// Makes an access key `days` older, as if it had been created that long ago.
    pub fn backdate_access_key(&self, account_id: &str, user: &str, key_id: &str, days: u32) {
        let answer = self.command(&format!("backdate-key {account_id} {user} {key_id} {days}"));
        assert_eq!(answer, "ok", "backdate {user}'s key {key_id}");
    }

    /// Turns on moto's authentication: from now on only keys it issued are accepted, so the
    /// fixed test keys are refused as invalid. For an emulator of one test's own.
    pub fn require_auth(&self) {
        use std::io::Read;
        let mut conn = std::net::TcpStream::connect(self.addr()).expect("connect to the emulator");
        write!(
            conn,
            "POST /moto-api/reset-auth HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain\r\n\
             Content-Length: 1\r\nConnection: close\r\n\r\n0",
            self.addr()
        )
        .expect("ask for authentication");
        let mut answer = String::new();
        conn.read_to_string(&mut answer).expect("read the answer");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    /// Options that point the SDK at this emulator with fixed test credentials, never the
    /// credential chain (which may look for instance metadata off this machine).
    pub fn options(&self) -> AwsOptions {
        AwsOptions {
            endpoint_url: Some(self.endpoint.clone()),
            credentials: Some(aws_credential_types::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "palisade-tests",
            )),
            ..AwsOptions::default()
        }
    }
}

impl Drop for Emulator {
    /// An emulator started for one test (not the shared one, which lives as long as the
    /// binary) goes with it, and is reaped.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Points a `palisade` process at `endpoint` with the fixed test credentials, one region, and
/// nothing else to find: no profile files, no instance metadata (which lives off this host).
pub fn aws_test_env(command: &mut Command, endpoint: &str) {
    command
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("PALISADE_REGIONS", "us-east-1");
}

/// An account id no other test of this binary uses.
pub fn fresh_account_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // Distinct per process too, so two test binaries sharing an emulator would not collide.
    let n = NEXT.fetch_add(1, Ordering::Relaxed) + u64::from(std::process::id() % 10_000) * 10_000;
    format!("{:012}", 200_000_000_000 + n)
}

/// A fresh account on the shared emulator, reached the way a scan reaches it: through the
/// host's identity assuming the account's audit role.
pub struct Env {
    pub host: Session,
    pub session: Session,
    pub account: Account,
}

impl Env {
    pub async fn new() -> Env {
        Env::at(emulator().options()).await
    }

    /// A fresh account reached with `options` (another emulator, a proxy in front of one).
    pub async fn at(options: AwsOptions) -> Env {
        let host = Session::host(options).await;
        let account = account(&fresh_account_id());
        let session = host
            .assume(
                &account.role_arn,
                account.external_id.as_deref(),
                "palisade-test",
            )
            .await;
        Env {
            host,
            session,
            account,
        }
    }

    pub fn emulator(&self) -> &'static Emulator {
        emulator()
    }

    pub fn account_id(&self) -> &str {
        &self.account.account_id
    }

    /// Runs one collector as a scan would, for `self.account`.
    pub async fn collect(&self, service: Service, region: &str) -> Collected {
        collect_as(&self.session, &self.account, service, region).await
    }
}

/// Runs one collector for `account` (e.g. a copy of an `Env`'s account with exclusions).
pub async fn collect_as(
    session: &Session,
    account: &Account,
    service: Service,
    region: &str,
) -> Collected {
    let mut cx = Collect::new(
        session,
        account,
        service.name(),
        region,
        Unsupported::default(),
    );
    service.collect(&mut cx).await;
    cx.finish()
}

/// An account definition for `account_id` with the conventional audit role and no exclusions.
pub fn account(account_id: &str) -> Account {
    Account {
        name: format!("test-{account_id}"),
        account_id: account_id.to_owned(),
        role_arn: format!("arn:aws:iam::{account_id}:role/PalisadeAudit"),
        external_id: Some("palisade-test".into()),
        excluded_regions: vec![],
        excluded_resource_types: vec![],
        excluded_resources: vec![],
        scan_interval_hours: None,
        added_at: time::OffsetDateTime::now_utc(),
    }
}

/// The finished JSON documents.
pub fn values(docs: Vec<Doc>) -> Vec<serde_json::Value> {
    docs.into_iter().map(Doc::into_value).collect()
}

/// The documents of one type, sorted by resource id.
pub fn of_type<'a>(
    docs: &'a [serde_json::Value],
    resource_type: &str,
) -> Vec<&'a serde_json::Value> {
    let mut out: Vec<_> = docs
        .iter()
        .filter(|d| d["ResourceType"] == resource_type)
        .collect();
    out.sort_by(|a, b| a["ResourceId"].as_str().cmp(&b["ResourceId"].as_str()));
    out
}

/// Turns on default encryption (SSE-S3) for a bucket in us-east-1.
pub async fn encrypt(env: &Env, name: &str) {
    let sse = aws_sdk_s3::types::ServerSideEncryptionConfiguration::builder()
        .rules(
            aws_sdk_s3::types::ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    aws_sdk_s3::types::ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(aws_sdk_s3::types::ServerSideEncryption::Aes256)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .build()
        .unwrap();
    env.session
        .s3("us-east-1")
        .put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(sse)
        .send()
        .await
        .unwrap();
}
