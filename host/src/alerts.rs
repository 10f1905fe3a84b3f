//! Alerts: a finding that starts failing (a new failing resource, pass → fail) or stops failing
//! (fail → pass) because something changed in an account raises one alert. The alert is written
//! to the log at once and kept in the store's `Alerts` queue until every webhook has it; a
//! delivery worker posts it with retries, so a restart or a dead receiver loses nothing.
//! Which evaluations alert is the caller's choice; nothing here evaluates or scans.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};

use crate::findings::Transition;
use crate::store::{
    FindingState, Queue, Store, StoreError, queue_insert_new_json, queue_list_json, queue_put_json,
};

/// Why an alert destination was refused.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("webhook URL {0:?} is invalid: expected http:// or https:// followed by a host")]
    WebhookUrl(String),
    #[error("cannot load the system's root certificates for https webhooks: {0}")]
    Roots(std::io::Error),
}

/// Where and how alerts go.
#[derive(Clone)]
pub struct AlertOptions {
    pub webhooks: Vec<Webhook>,
    /// Base URL of Palisade's API as receivers reach it, for the link in each alert; empty
    /// means the address the server listens on.
    pub public_url: String,
    /// Signs each webhook body (`X-Palisade-Signature: sha256=<hex HMAC>`) when set.
    pub signing_secret: Option<String>,
    /// Posts per alert and webhook before it is given up as `failed`.
    pub max_attempts: u32,
    /// Wait before the first retry; doubled after each failure up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// Longest wait for one post.
    pub timeout: Duration,
    /// How long delivered and failed alerts stay listed before they are pruned.
    pub retain: Duration,
}

impl Default for AlertOptions {
    fn default() -> Self {
        AlertOptions {
            webhooks: Vec::new(),
            public_url: String::new(),
            signing_secret: None,
            // With the backoff below, about an hour of retries: a receiver restarted or
            // redeployed in that time still gets everything.
            max_attempts: 12,
            // Quick enough that a blip costs seconds, not minutes.
            first_backoff: Duration::from_secs(1),
            // A receiver down for long is polled every ten minutes, not hammered.
            max_backoff: Duration::from_secs(600),
            // Webhook receivers answer in milliseconds; ten seconds means it is stuck.
            timeout: Duration::from_secs(10),
            // A week of alerts is enough to answer "what did we send"; the findings keep the rest.
            retain: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// An HTTP(S) endpoint that receives alerts as JSON posts.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    url: String,
}

impl Webhook {
    pub fn parse(url: &str) -> Result<Webhook, AlertError> {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        match rest.and_then(|r| r.split(['/', '?', '#']).next()) {
            Some(host) if !host.is_empty() && url.parse::<hyper::Uri>().is_ok() => Ok(Webhook {
                url: url.to_owned(),
            }),
            _ => Err(AlertError::WebhookUrl(redact(url))),
        }
    }

    /// The URL without path or query, which may carry a token: what logs and records show.
    pub fn display(&self) -> String {
        redact(&self.url)
    }
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Webhook({})", self.display())
    }
}

/// `scheme://host[:port]/…` without credentials, path or query.
fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    format!("{scheme}://{host}/…")
}

/// Whether a finding started or stopped failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    Failing,
    Resolved,
}

/// What an alert says; the webhook body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Alert {
    /// Identifies the transition; a receiver can deduplicate on it.
    pub id: String,
    pub kind: AlertKind,
    pub rule_id: String,
    pub severity: String,
    pub resource_id: String,
    pub resource_type: String,
    pub account_id: String,
    pub region: String,
    pub message: Option<String>,
    /// The finding's state before, `null` for a resource seen failing for the first time.
    pub previous: Option<FindingState>,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    /// When the finding took its new state.
    #[serde(with = "time::serde::rfc3339")]
    pub changed_at: OffsetDateTime,
    /// The resource with its findings in Palisade's API.
    pub link: String,
}

/// An alert with the state of its delivery, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertRecord {
    pub alert: Alert,
    #[serde(with = "time::serde::rfc3339")]
    pub raised_at: OffsetDateTime,
    pub deliveries: Vec<Delivery>,
}

/// One webhook's copy of an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    /// The webhook, redacted to scheme and host.
    pub destination: String,
    pub state: DeliveryState,
    pub attempts: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
    #[serde(default)]
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Pending,
    Delivered,
    /// Every attempt failed; kept for inspection.
    Failed,
}

impl AlertRecord {
    fn settled(&self) -> bool {
        self.deliveries
            .iter()
            .all(|d| d.state != DeliveryState::Pending)
    }
}

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Raises alerts and delivers them. One per process; cheap to share behind an `Arc`.
pub struct Alerter {
    store: Arc<dyn Store>,
    options: AlertOptions,
    client: HttpClient,
    /// The last kind alerted per (rule, resource): two evaluations racing over one change
    /// (a scan and an event) would otherwise both report it.
    last: Mutex<HashMap<(String, String), AlertKind>>,
    wake: Notify,
    counts: Counts,
}

/// What an [`Alerter`] did since start, for metrics.
#[derive(Debug, Default)]
pub struct Counts {
    pub failing: AtomicU64,
    pub resolved: AtomicU64,
    /// Posts a webhook accepted.
    pub delivered: AtomicU64,
    /// Deliveries given up after every attempt failed.
    pub failed: AtomicU64,
}

/// Counts of one `raise`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    pub failing: usize,
    pub resolved: usize,
    /// Transitions already alerted.
    pub duplicates: usize,
}

impl Alerter {
    pub fn new(store: Arc<dyn Store>, options: AlertOptions) -> Result<Alerter, AlertError> {
        let provider = rustls::crypto::ring::default_provider();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(AlertError::Roots)?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new())
            // Idle connections to a receiver are kept briefly: alerts come in bursts.
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(Alerter {
            store,
            options,
            client,
            last: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            counts: Counts::default(),
        })
    }

    /// Records an alert for each transition not alerted yet, logs it, and wakes the delivery
    /// worker. The alerts are durable when this returns.
    pub fn raise(&self, transitions: &[Transition]) -> Result<Raised, StoreError> {
        let mut raised = Raised::default();
        let now = OffsetDateTime::now_utc();
        for t in transitions {
            let kind = if t.is_failing() {
                AlertKind::Failing
            } else {
                AlertKind::Resolved
            };
            let f = &t.finding;
            let pair = (f.rule_id.clone(), f.resource_id.clone());
            {
                let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
                if last.get(&pair) == Some(&kind) {
                    raised.duplicates += 1;
                    continue;
                }
                last.insert(pair, kind);
            }
            let alert = self.alert(t, kind);
            let record = AlertRecord {
                raised_at: now,
                deliveries: self
                    .options
                    .webhooks
                    .iter()
                    .map(|w| Delivery {
                        destination: w.display(),
                        state: DeliveryState::Pending,
                        attempts: 0,
                        next_attempt_at: now,
                        last_error: None,
                    })
                    .collect(),
                alert,
            };
            if !queue_insert_new_json(
                self.store.as_ref(),
                Queue::Alerts,
                &record.alert.id,
                &record,
            )? {
                raised.duplicates += 1;
                continue;
            }
            let a = &record.alert;
            match kind {
                AlertKind::Failing => {
                    raised.failing += 1;
                    tracing::warn!(
                        alert = %a.id, rule = %a.rule_id, severity = %a.severity,
                        resource = %a.resource_id, account = %a.account_id, region = %a.region,
                        "finding failing: {}", a.message.as_deref().unwrap_or("")
                    );
                }
                AlertKind::Resolved => {
                    raised.resolved += 1;
                    tracing::info!(
                        alert = %a.id, rule = %a.rule_id, severity = %a.severity,
                        resource = %a.resource_id, account = %a.account_id, region = %a.region,
                        "finding resolved"
                    );
                }
            }
        }
        let add = |counter: &AtomicU64, n: usize| counter.fetch_add(n as u64, Ordering::Relaxed);
        add(&self.counts.failing, raised.failing);
        add(&self.counts.resolved, raised.resolved);
        if raised.failing + raised.resolved > 0 {
            self.store.flush()?;
            self.wake.notify_one();
        }
        Ok(raised)
    }

    fn alert(&self, t: &Transition, kind: AlertKind) -> Alert {
        let f = &t.finding;
        let state = f.state();
        let mut id = Sha256::new();
        for part in [
            f.rule_id.as_str(),
            f.resource_id.as_str(),
            state.as_str(),
            &f.status_changed_at.unix_timestamp_nanos().to_string(),
        ] {
            id.update(part.as_bytes());
            id.update([0]);
        }
        let link = format!(
            "{}/api/v1/resources/{}/{}",
            self.options.public_url.trim_end_matches('/'),
            f.account_id,
            percent_encoding::utf8_percent_encode(&f.resource_id, PATH_SEGMENT)
        );
        Alert {
            id: hex::encode(&id.finalize()[..16]),
            kind,
            rule_id: f.rule_id.clone(),
            severity: f.severity.clone(),
            resource_id: f.resource_id.clone(),
            resource_type: f.resource_type.clone(),
            account_id: f.account_id.clone(),
            region: f.region.clone(),
            message: f.message.clone(),
            previous: t.from,
            first_seen: f.first_seen,
            changed_at: f.status_changed_at,
            link,
        }
    }

    /// What was raised and delivered since start.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// The newest alerts first, at most `limit`.
    pub fn list(&self, limit: usize) -> Result<Vec<AlertRecord>, StoreError> {
        let mut all: Vec<AlertRecord> =
            queue_list_json(self.store.as_ref(), Queue::Alerts, usize::MAX)?
                .into_iter()
                .map(|(_, r)| r)
                .collect();
        all.sort_by(|a, b| {
            b.raised_at
                .cmp(&a.raised_at)
                .then(a.alert.id.cmp(&b.alert.id))
        });
        all.truncate(limit);
        Ok(all)
    }

    /// Delivers pending alerts until `shutdown` turns true: at start (alerts a previous run
    /// left), when `raise` adds some, and when a retry falls due.
    pub async fn deliver(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        if self.options.webhooks.is_empty() {
            return;
        }
        loop {
            let next = match self.deliver_due().await {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(error = %e, "alert delivery cannot read the store");
                    Some(OffsetDateTime::now_utc() + self.options.first_backoff)
                }
            };
            // Nothing pending: sleep until woken. Capped so pruning still runs now and then.
            let wait = next
                .map(|at| (at - OffsetDateTime::now_utc()).max(time::Duration::ZERO))
                .and_then(|d| d.try_into().ok())
                .unwrap_or(PRUNE_EVERY)
                .min(PRUNE_EVERY);
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }

    /// Posts every delivery that is due, prunes old settled alerts; returns when the next
    /// pending delivery falls due. Reads the queue once: alerts raised meanwhile wake the
    /// worker again through `raise`.
    async fn deliver_due(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        let now = OffsetDateTime::now_utc();
        let records: Vec<(String, AlertRecord)> =
            queue_list_json(self.store.as_ref(), Queue::Alerts, usize::MAX)?;
        let (mut due, mut waiting) = (Vec::new(), Vec::new());
        for (key, record) in records {
            if record.settled() {
                if (now - record.raised_at).unsigned_abs() > self.options.retain {
                    self.store.queue_remove(Queue::Alerts, &key)?;
                }
            } else if record
                .deliveries
                .iter()
                .any(|d| d.state == DeliveryState::Pending && d.next_attempt_at <= now)
            {
                due.push((key, record));
            } else {
                waiting.push(record);
            }
        }
        // A few alerts in flight at once: a slow receiver does not hold up the others.
        let delivered: Vec<Result<AlertRecord, StoreError>> = futures::stream::iter(due)
            .map(|(key, record)| self.deliver_one(key, record))
            .buffer_unordered(CONCURRENT_POSTS)
            .collect()
            .await;
        for record in delivered {
            waiting.push(record?);
        }
        let next = waiting
            .iter()
            .flat_map(|r| &r.deliveries)
            .filter(|d| d.state == DeliveryState::Pending)
            .map(|d| d.next_attempt_at)
            .min();
        Ok(next)
    }

    /// Posts one alert to each webhook whose delivery is due, records what happened and
    /// returns the record as stored.
    async fn deliver_one(
        &self,
        key: String,
        mut record: AlertRecord,
    ) -> Result<AlertRecord, StoreError> {
        let body = Bytes::from(serde_json::to_vec(&record.alert).unwrap_or_default());
        let now = OffsetDateTime::now_utc();
        for (delivery, webhook) in record.deliveries.iter_mut().zip(&self.options.webhooks) {
            if delivery.state != DeliveryState::Pending || delivery.next_attempt_at > now {
                continue;
            }
            delivery.attempts += 1;
            match self.post(webhook, body.clone()).await {
                Ok(()) => {
                    self.counts.delivered.fetch_add(1, Ordering::Relaxed);
                    delivery.state = DeliveryState::Delivered;
                    delivery.last_error = None;
                    tracing::debug!(alert = %record.alert.id, webhook = %delivery.destination, "alert delivered");
                }
                Err(reason) => {
                    let exhausted = delivery.attempts >= self.options.max_attempts;
                    tracing::warn!(
                        alert = %record.alert.id, webhook = %delivery.destination,
                        attempts = delivery.attempts, gave_up = exhausted,
                        "alert not delivered: {reason}"
                    );
                    delivery.last_error = Some(reason);
                    if exhausted {
                        self.counts.failed.fetch_add(1, Ordering::Relaxed);
                        delivery.state = DeliveryState::Failed;
                    } else {
                        delivery.next_attempt_at =
                            OffsetDateTime::now_utc() + backoff(&self.options, delivery.attempts);
                    }
                }
            }
        }
        queue_put_json(self.store.as_ref(), Queue::Alerts, &key, &record)?;
        Ok(record)
    }

    /// One POST; `Err` with a reason unless the receiver answered 2xx in time.
    async fn post(&self, webhook: &Webhook, body: Bytes) -> Result<(), String> {
        let mut request = hyper::Request::post(&webhook.url)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("palisade/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(secret) = &self.options.signing_secret {
            request = request.header("x-palisade-signature", sign(secret, &body));
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| format!("cannot build the request: {e}"))?;
        let response = tokio::time::timeout(self.options.timeout, self.client.request(request))
            .await
            .map_err(|_| format!("no answer within {:?}", self.options.timeout))?
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        // Read the body so the connection can be reused; its content does not matter.
        let _ = tokio::time::timeout(self.options.timeout, response.into_body().collect()).await;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered HTTP {}", status.as_u16()))
        }
    }
}

/// `sha256=<hex HMAC-SHA256 of the body>`, for receivers to check the sender.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The wait after the `attempts`-th failure.
fn backoff(options: &AlertOptions, attempts: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
    options
        .first_backoff
        .saturating_mul(factor)
        .min(options.max_backoff)
}

/// Alerts posted at once.
const CONCURRENT_POSTS: usize = 4;

/// Longest sleep of the delivery worker, so settled alerts are pruned even when idle.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Characters escaped in a path segment of the link (an ARN's `/` and `:` stay readable
/// except `/`, which would split the segment).
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'?')
    .add(b'<')
    .add(b'>');

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{FindingRecord, FindingStatus, SledStore};
    use std::sync::atomic::AtomicUsize;
    use time::macros::datetime;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn transition(
        from: Option<FindingState>,
        status: FindingStatus,
        at: OffsetDateTime,
    ) -> Transition {
        Transition {
            from,
            finding: FindingRecord {
                rule_id: "AWS.S3.Bucket.Encryption".into(),
                resource_id: "arn:aws:s3:::logs".into(),
                account_id: "123456789012".into(),
                resource_type: "AWS.S3.Bucket".into(),
                region: "us-east-1".into(),
                status,
                message: Some("no default encryption".into()),
                severity: "high".into(),
                first_seen: datetime!(2026-11-01 00:00 UTC),
                last_seen: at,
                status_changed_at: at,
                closed_at: None,
            },
        }
    }

    fn alerter(webhooks: &[&str]) -> Arc<Alerter> {
        let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
        let options = AlertOptions {
            webhooks: webhooks
                .iter()
                .map(|u| Webhook::parse(u).unwrap())
                .collect(),
            public_url: "https://palisade.example".into(),
            signing_secret: Some("s3cret".into()),
            max_attempts: 3,
            first_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(50),
            timeout: Duration::from_secs(2),
            ..AlertOptions::default()
        };
        Arc::new(Alerter::new(store, options).unwrap())
    }

    #[test]
    fn webhook_urls_are_checked_and_shown_without_path_or_credentials() {
        let w =
            Webhook::parse("https://user:pw@hooks.example.com/services/T0/B0/secret?x=1").unwrap();
        assert_eq!(w.display(), "https://hooks.example.com/…");
        assert!(!format!("{w:?}").contains("secret"));
        for bad in ["ftp://x/y", "hooks.example.com", "https://", "http:///path"] {
            let err = Webhook::parse(bad).unwrap_err().to_string();
            assert!(err.contains("invalid"), "{bad}: {err}");
        }
    }

    #[test]
    fn one_alert_per_transition_with_a_link_and_both_kinds() {
        let a = alerter(&[]);
        let t1 = datetime!(2026-11-27 10:00 UTC);
        let failing = transition(Some(FindingState::Pass), FindingStatus::Fail, t1);
        let raised = a.raise(&[failing.clone(), failing.clone()]).unwrap();
        assert_eq!(
            raised,
            Raised {
                failing: 1,
                resolved: 0,
                duplicates: 1
            }
        );
        // The same change seen by a second evaluation (another time stamp) is not alerted again.
        let again = transition(
            Some(FindingState::Pass),
            FindingStatus::Fail,
            t1 + time::Duration::SECOND,
        );
        assert_eq!(a.raise(&[again]).unwrap().duplicates, 1);
        let resolved = transition(
            Some(FindingState::Fail),
            FindingStatus::Pass,
            t1 + time::Duration::MINUTE,
        );
        assert_eq!(a.raise(&[resolved]).unwrap().resolved, 1);
        let listed = a.list(10).unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].alert.kind, AlertKind::Resolved, "newest first");
        let f = &listed[1].alert;
        assert_eq!(f.kind, AlertKind::Failing);
        assert_eq!(f.previous, Some(FindingState::Pass));
        assert_eq!(
            f.link,
            "https://palisade.example/api/v1/resources/123456789012/arn:aws:s3:::logs"
        );
        assert!(
            listed
                .iter()
                .all(|r| r.deliveries.is_empty() && r.settled())
        );
    }

    /// A loopback receiver that fails the first `fail_first` posts with 503, then answers 204,
    /// and keeps the bodies and signatures it accepted.
    async fn receiver(
        fail_first: usize,
    ) -> (String, Arc<Mutex<Vec<(String, String)>>>, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook/token", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let calls = Arc::new(AtomicUsize::new(0));
        let (got2, calls2) = (got.clone(), calls.clone());
        tokio::spawn(async move {
            loop {
                let (mut sock, _) = listener.accept().await.unwrap();
                let (got, calls) = (got2.clone(), calls2.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    // Read headers and a body of the announced length.
                    loop {
                        let n = sock.read(&mut chunk).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        let text = String::from_utf8_lossy(&buf).to_string();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let len: usize = text
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().parse().unwrap())
                                })
                                .unwrap_or(0);
                            if buf.len() >= end + 4 + len {
                                let n = calls.fetch_add(1, Ordering::SeqCst);
                                let status = if n < fail_first {
                                    "503 Service Unavailable"
                                } else {
                                    "204 No Content"
                                };
                                if n >= fail_first {
                                    let sig = text
                                        .lines()
                                        .find_map(|l| {
                                            l.to_ascii_lowercase()
                                                .strip_prefix("x-palisade-signature:")
                                                .map(|v| v.trim().to_owned())
                                        })
                                        .unwrap_or_default();
                                    let body =
                                        String::from_utf8_lossy(&buf[end + 4..end + 4 + len])
                                            .to_string();
                                    got.lock().unwrap().push((body, sig));
                                }
                                let reply = format!(
                                    "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                                );
                                sock.write_all(reply.as_bytes()).await.unwrap();
                                return;
                            }
                        }
                    }
                });
            }
        });
        (url, got, calls)
    }

    /// Raises the alert of a resource seen failing for the first time.
    fn raise_new_failure(a: &Alerter) {
        let at = datetime!(2026-11-27 10:00 UTC);
        a.raise(&[transition(None, FindingStatus::Fail, at)])
            .unwrap();
    }

    /// Runs the delivery worker; send `true` to stop it.
    fn start_delivery(a: &Arc<Alerter>) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
        let (stop, stopped) = watch::channel(false);
        (stop, tokio::spawn(a.clone().deliver(stopped)))
    }

    async fn settle(a: &Alerter) -> Vec<AlertRecord> {
        for _ in 0..200 {
            let records = a.list(10).unwrap();
            if records.iter().all(AlertRecord::settled) {
                return records;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("alerts did not settle: {:?}", a.list(10).unwrap());
    }

    #[tokio::test]
    async fn webhooks_get_signed_alerts_after_retries() {
        let (url, got, calls) = receiver(2).await;
        let a = alerter(&[&url]);
        let (stop, worker) = start_delivery(&a);
        raise_new_failure(&a);
        let records = settle(&a).await;
        assert_eq!(records[0].deliveries[0].state, DeliveryState::Delivered);
        assert_eq!(records[0].deliveries[0].attempts, 3);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let (body, signature) = got.lock().unwrap()[0].clone();
        assert_eq!(signature, sign("s3cret", body.as_bytes()));
        let alert: Alert = serde_json::from_str(&body).unwrap();
        assert_eq!((alert.kind, alert.previous), (AlertKind::Failing, None));
        assert_eq!(alert.rule_id, "AWS.S3.Bucket.Encryption");
        stop.send(true).unwrap();
        worker.await.unwrap();
    }

    #[tokio::test]
    async fn a_dead_receiver_is_given_up_after_the_attempts_and_says_why() {
        // Bind and drop: nothing listens on the port.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let a = alerter(&[&format!("http://127.0.0.1:{port}/hook")]);
        let (stop, worker) = start_delivery(&a);
        raise_new_failure(&a);
        let records = settle(&a).await;
        let d = &records[0].deliveries[0];
        assert_eq!((d.state, d.attempts), (DeliveryState::Failed, 3));
        assert!(
            d.last_error.as_deref().unwrap().contains("request failed"),
            "{d:?}"
        );
        stop.send(true).unwrap();
        worker.await.unwrap();
    }

    #[tokio::test]
    async fn alerts_left_pending_by_a_previous_run_are_delivered_on_start() {
        let (url, got, _) = receiver(0).await;
        let a = alerter(&[&url]);
        // Raised with no worker running (the process stopped before delivering).
        raise_new_failure(&a);
        let (stop, worker) = start_delivery(&a);
        settle(&a).await;
        assert_eq!(got.lock().unwrap().len(), 1);
        stop.send(true).unwrap();
        worker.await.unwrap();
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let o = AlertOptions::default();
        assert_eq!(backoff(&o, 1), Duration::from_secs(1));
        assert_eq!(backoff(&o, 4), Duration::from_secs(8));
        assert_eq!(backoff(&o, 30), o.max_backoff);
    }
}
