//! The service under test: the real `palisade serve` binary on a free loopback port with a
//! private data directory, driven over real HTTP; stopped with SIGTERM like an operator would.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

pub const ADMIN: &str = "admin-token-for-tests-0001";
pub const READER: &str = "reader-token-for-tests-0001";

/// How to start a service.
#[derive(Clone)]
pub struct Config {
    /// AWS endpoint (the emulator, or a dead one for tests that never scan).
    pub endpoint: String,
    pub trusted_keys: Vec<String>,
    pub extra_args: Vec<String>,
    pub extra_env: Vec<(String, String)>,
    /// When set: tokens come only from this TOML text, passed with `--config`.
    pub config_file: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            endpoint: "http://127.0.0.1:1".into(),
            trusted_keys: vec![],
            extra_args: vec![],
            extra_env: vec![],
            config_file: None,
        }
    }
}

/// A running `palisade serve`.
pub struct Service {
    pub base: String,
    child: Child,
    /// What the service wrote to stderr (logs), for failure messages and log assertions.
    pub log: Arc<Mutex<String>>,
    client: reqwest::Client,
}

impl Service {
    /// Starts the service on `data` (reused across restarts) and waits until it listens.
    pub fn start(data: &Path, config: &Config) -> Service {
        let mut command = command(data, config);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start palisade serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(addr) = line.strip_prefix("palisade: listening on ")
                        && let Some(tx) = tx.take()
                    {
                        let _ = tx.send(addr.to_owned());
                    }
                    let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        let base = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "palisade serve did not start:\n{}",
                    log.lock().unwrap_or_else(|e| e.into_inner())
                );
            }
        };
        Service {
            base,
            child,
            log,
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(120))
                .build()
                .expect("client"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with `token` (none when empty).
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        let builder = self.client.request(method, self.url(path));
        if token.is_empty() {
            builder
        } else {
            builder.bearer_auth(token)
        }
    }

    /// GET as a reader; the status and the JSON body.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        send(self.request(reqwest::Method::GET, path, READER)).await
    }

    /// A JSON request as an admin.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.request(method, path, ADMIN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        send(request).await
    }

    /// Onboards `account` as an admin, with or without its baseline scan; the created body.
    pub async fn add_account(&self, account: &palisade::account::Account, scan: bool) -> Value {
        let (status, created) = self
            .admin(
                reqwest::Method::POST,
                "/api/v1/accounts",
                Some(serde_json::json!({
                    "name": account.name,
                    "account_id": account.account_id,
                    "role_arn": account.role_arn,
                    "external_id": account.external_id,
                    "scan": scan,
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["scan"].is_object(), scan, "{created}");
        created
    }

    /// Uploads a module as an admin.
    pub async fn upload(&self, name: &str, wasm: Vec<u8>) -> (StatusCode, Value) {
        send(
            self.request(
                reqwest::Method::POST,
                &format!("/api/v1/modules?name={name}"),
                ADMIN,
            )
            .header("content-type", "application/wasm")
            .body(wasm),
        )
        .await
    }

    /// Polls `check` until it returns `Some`, for at most `timeout`.
    pub async fn wait_for<T, F, Fut>(&self, what: &str, timeout: Duration, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = check().await {
                return v;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; service log:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until a scan job of `account` has finished, and returns it.
    pub async fn wait_for_scan(&self, job_id: &str) -> Value {
        self.wait_for("the scan to finish", Duration::from_secs(180), || async {
            let (status, job) = self.get(&format!("/api/v1/scans/{job_id}")).await;
            assert_eq!(status, StatusCode::OK, "{job}");
            matches!(job["state"].as_str(), Some("succeeded" | "failed")).then_some(job)
        })
        .await
    }

    /// Waits until re-evaluations after rule changes have finished.
    pub async fn wait_settled(&self) {
        self.wait_for(
            "re-evaluation to settle",
            Duration::from_secs(60),
            || async {
                let (_, health) = send(self.request(reqwest::Method::GET, "/healthz", "")).await;
                (health["pending_reevaluations"] == 0).then_some(())
            },
        )
        .await
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// SIGKILL: the process dies mid-work, as in a crash or power loss.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit, which must be clean.
    pub fn stop(self) -> std::process::ExitStatus {
        let log = self.log.clone();
        let status = self.terminate();
        assert!(
            status.success(),
            "palisade serve exited with {status} on SIGTERM:\n{}",
            log.lock().unwrap_or_else(|e| e.into_inner())
        );
        status
    }

    /// SIGTERM, then waits for the exit.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                panic!("palisade serve did not stop on SIGTERM:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `palisade serve` on `data` with `config`, not yet started. With a `config_file`, it is
/// written into `data` and the tokens come only from it.
pub fn command(data: &Path, config: &Config) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_palisade-cli"));
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(&config.extra_args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PALISADE_DATA_DIR", data)
        .env("PALISADE_LOG", "info");
    crate::support::aws_test_env(&mut command, &config.endpoint);
    match &config.config_file {
        Some(text) => {
            std::fs::create_dir_all(data).expect("data dir");
            let path = data.join("palisade.toml");
            std::fs::write(&path, text).expect("write the configuration");
            command.arg("--config").arg(path);
        }
        None => {
            command
                .env("PALISADE_ADMIN_TOKENS", ADMIN)
                .env("PALISADE_READER_TOKENS", READER);
        }
    }
    if !config.trusted_keys.is_empty() {
        command.env("PALISADE_TRUSTED_KEYS", config.trusted_keys.join(","));
    }
    for (k, v) in &config.extra_env {
        command.env(k, v);
    }
    command
}

/// Sends a request; the status and the body as JSON (`Null` when empty, a string when not JSON).
pub async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("send the request");
    let status = response.status();
    let text = response.text().await.expect("read the body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// The ids of a listing's items (`id` or `name` fields).
pub fn ids(items: &Value, field: &str) -> Vec<String> {
    items
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i[field].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
