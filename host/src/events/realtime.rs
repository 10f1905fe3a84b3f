//! [`RealTime`]: the service that reads the event queue and keeps findings current between
//! scans. A consumer long-polls SQS, reads each message ([`super::message`]), fetches the
//! CloudTrail log files S3 notifications announce, maps records to targets
//! ([`super::mapping`]), drops what no onboarded account covers, and adds the rest to the
//! durable [`Pending`] set before deleting the message. A worker takes due targets and rescans
//! them ([`Scanner::refresh`], which also raises the alerts for findings that flipped).
//! Collection, evaluation and delivery are other modules' work.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::{Semaphore, watch};

use super::Target;
use super::mapping::{self, Ignored, Mapped};
use super::message::{self, Body, LogObject};
use super::pending::{Debounce, Due, Pending};
use crate::account::Account;
use crate::aws::{AwsError, Session};
use crate::scan::Scanner;
use crate::store::{Queue, Store, StoreError, queue_list_json, queue_put_json};

/// How the real-time path runs.
#[derive(Debug, Clone)]
pub struct RealTimeOptions {
    /// The SQS queue's URL.
    pub queue_url: String,
    /// The queue's region; taken from an AWS queue URL when not given, else the home region.
    pub queue_region: Option<String>,
    pub debounce: Debounce,
    /// Refreshes running at once.
    pub concurrency: usize,
    /// Long-poll wait of one receive, in seconds (SQS allows 0 to 20).
    pub wait_seconds: i32,
    /// Largest CloudTrail log file read, compressed or not.
    pub max_log_bytes: u64,
}

impl RealTimeOptions {
    pub fn new(queue_url: impl Into<String>) -> RealTimeOptions {
        RealTimeOptions {
            queue_url: queue_url.into(),
            queue_region: None,
            debounce: Debounce::default(),
            // Refreshes are a few calls each; four keep a burst moving without crowding scans.
            concurrency: 4,
            // The longest SQS allows: fewest empty receives, and a message is seen at once.
            wait_seconds: 20,
            max_log_bytes: message::MAX_LOG_BYTES,
        }
    }
}

/// A queue message that could not be read, kept for inspection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RejectedMessage {
    pub message_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    /// Why it was set aside.
    pub reason: String,
    /// The body as received, cut at 256 KiB.
    pub body: String,
}

/// Counters of the real-time path since start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventStats {
    /// Queue messages received.
    pub messages: u64,
    /// Messages set aside because they could not be read.
    pub rejected: u64,
    /// CloudTrail log files read.
    pub log_files: u64,
    /// CloudTrail records read (from events and log files).
    pub records: u64,
    /// Records seen before (same `eventID`), skipped.
    pub duplicates: u64,
    /// Records ignored, by reason (`read_only`, `failed`, `unmapped`, `incomplete`,
    /// `not_onboarded`, `excluded`).
    pub ignored: BTreeMap<String, u64>,
    /// SNS topic subscriptions to the queue confirmed.
    pub subscriptions_confirmed: u64,
    /// Targets added to the pending set (a resource already waiting counts once).
    pub targets: u64,
    /// Refreshes finished, and failed.
    pub refreshes: u64,
    pub refresh_failures: u64,
    /// Targets waiting now.
    pub pending: u64,
    /// The last error receiving from the queue, if the last receive failed.
    pub receive_error: Option<String>,
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Its work is stored (or there was none): delete it.
    Done,
    /// Set aside as unreadable: delete it.
    Rejected(String),
    /// A passing failure (a log file that could not be fetched, the store): keep it, the
    /// queue delivers it again after its visibility timeout.
    Retry(String),
}

/// What [`RealTime::ingest`] did with a batch of records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ingested {
    pub records: u64,
    pub duplicates: u64,
    /// Targets for onboarded, in-scope resources.
    pub targets: u64,
    /// Of those, not waiting already.
    pub fresh: u64,
}

/// The real-time path of one Palisade process.
pub struct RealTime {
    store: Arc<dyn Store>,
    scanner: Arc<Scanner>,
    host: Session,
    pending: Pending,
    options: RealTimeOptions,
    stats: Mutex<EventStats>,
    recent: Mutex<RecentIds>,
    accounts: Mutex<Option<(tokio::time::Instant, Accounts)>>,
}

impl RealTime {
    /// The path, with the targets a previous run left pending.
    pub fn new(
        store: Arc<dyn Store>,
        scanner: Arc<Scanner>,
        host: Session,
        options: RealTimeOptions,
    ) -> Result<Arc<RealTime>, StoreError> {
        let pending = Pending::load(store.clone(), options.debounce)?;
        Ok(Arc::new(RealTime {
            store,
            scanner,
            host,
            pending,
            options,
            stats: Mutex::new(EventStats::default()),
            recent: Mutex::new(RecentIds::new(RECENT_EVENT_IDS)),
            accounts: Mutex::new(None),
        }))
    }

    /// Runs the consumer and the worker until `shutdown` turns true, then lets running
    /// refreshes finish.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        tracing::info!(queue = %self.options.queue_url, "real-time events: consuming");
        let consumer = tokio::spawn(self.clone().consume(shutdown.clone()));
        self.work(shutdown).await;
        let _ = consumer.await;
    }

    /// Counters since start.
    pub fn stats(&self) -> EventStats {
        let mut stats = self.lock_stats().clone();
        stats.pending = self.pending.len() as u64;
        stats
    }

    /// Messages set aside, oldest first, at most `limit`.
    pub fn rejected(&self, limit: usize) -> Result<Vec<RejectedMessage>, StoreError> {
        rejected_messages(self.store.as_ref(), limit)
    }

    /// Receives, handles and acknowledges messages until shutdown.
    async fn consume(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let region = self
            .options
            .queue_region
            .clone()
            .or_else(|| region_of_queue_url(&self.options.queue_url))
            .unwrap_or_else(|| self.host.home_region().to_owned());
        let sqs = self.host.sqs(&region);
        let mut failures = 0u32;
        loop {
            let receive = sqs
                .receive_message()
                .queue_url(&self.options.queue_url)
                .max_number_of_messages(MAX_MESSAGES)
                .wait_time_seconds(self.options.wait_seconds)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .send();
            let received = tokio::select! {
                r = receive => r,
                _ = shutdown.wait_for(|stop| *stop) => return,
            };
            let messages = match received {
                Ok(out) => {
                    failures = 0;
                    self.lock_stats().receive_error = None;
                    out.messages.unwrap_or_default()
                }
                Err(e) => {
                    let e = AwsError::from_sdk("ReceiveMessage", e);
                    failures += 1;
                    let wait = RECEIVE_BACKOFF
                        .saturating_mul(2u32.saturating_pow(failures.min(5)))
                        .min(MAX_RECEIVE_BACKOFF);
                    tracing::warn!(queue = %self.options.queue_url, error = %e, retry_in = ?wait, "cannot receive events");
                    self.lock_stats().receive_error = Some(e.to_string());
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => continue,
                        _ = shutdown.wait_for(|stop| *stop) => return,
                    }
                }
            };
            let mut acknowledged = Vec::new();
            for m in &messages {
                let id = m.message_id().unwrap_or("(no id)");
                let receives = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                match self.handle(id, m.body().unwrap_or(""), receives).await {
                    Handled::Done | Handled::Rejected(_) => {
                        if let Some(receipt) = m.receipt_handle() {
                            acknowledged.push(
                                DeleteMessageBatchRequestEntry::builder()
                                    .id(format!("m{}", acknowledged.len()))
                                    .receipt_handle(receipt)
                                    .build()
                                    .expect("id and receipt handle are set"),
                            );
                        }
                    }
                    Handled::Retry(reason) => {
                        tracing::warn!(message = %id, receives, "event message kept for another try: {reason}");
                    }
                }
            }
            if acknowledged.is_empty() {
                continue;
            }
            // The work is durable before the messages go.
            if let Err(e) = self.store.flush() {
                tracing::error!(error = %e, "cannot flush the pending targets; messages kept");
                continue;
            }
            if let Err(e) = sqs
                .delete_message_batch()
                .queue_url(&self.options.queue_url)
                .set_entries(Some(acknowledged))
                .send()
                .await
            {
                // Redelivered later; their targets are already pending, so that is harmless.
                let e = AwsError::from_sdk("DeleteMessageBatch", e);
                tracing::warn!(error = %e, "cannot delete handled event messages");
            }
        }
    }

    /// Reads one message and stores its work. `receives` is how often the queue delivered it.
    pub async fn handle(&self, message_id: &str, body: &str, receives: u32) -> Handled {
        self.lock_stats().messages += 1;
        let outcome = match message::parse(body) {
            Err(e) => return self.reject(message_id, body, e.to_string()),
            Ok(Body::Subscription { topic_arn, token }) => {
                return self
                    .confirm(message_id, body, &topic_arn, &token, receives)
                    .await;
            }
            Ok(Body::Nothing(why)) => {
                tracing::debug!(message = %message_id, "event message with nothing to do: {why}");
                return Handled::Done;
            }
            Ok(Body::Records(records)) => self.ingest(&records).map(|_| ()),
            Ok(Body::LogObjects(objects)) => {
                for object in &objects {
                    match self.read_log(object).await {
                        Ok(Some(records)) => {
                            self.lock_stats().log_files += 1;
                            if let Err(e) = self.ingest(&records) {
                                return Handled::Retry(e.to_string());
                            }
                        }
                        Ok(None) => {}
                        Err(LogError::Unreadable(reason)) => {
                            return self.reject(message_id, body, reason);
                        }
                        Err(LogError::Fetch(reason)) if receives >= MAX_RECEIVES => {
                            return self.reject(
                                message_id,
                                body,
                                format!("{reason} (after {receives} deliveries)"),
                            );
                        }
                        Err(LogError::Fetch(reason)) => return Handled::Retry(reason),
                    }
                }
                Ok(())
            }
        };
        match outcome {
            Ok(()) => Handled::Done,
            Err(e) => Handled::Retry(e.to_string()),
        }
    }

    /// Confirms an SNS topic's subscription to the queue, with Palisade's own identity (the
    /// queue's owner), when the topic belongs to an onboarded account: the events template's
    /// topics deliver nothing until then. Other topics are left pending and logged.
    async fn confirm(
        &self,
        message_id: &str,
        body: &str,
        topic_arn: &str,
        token: &str,
        receives: u32,
    ) -> Handled {
        let parts: Vec<&str> = topic_arn.splitn(6, ':').collect();
        let [_, _, "sns", region, account_id, _] = parts[..] else {
            return self.reject(
                message_id,
                body,
                format!("{topic_arn:?} is not an SNS topic ARN"),
            );
        };
        match self.accounts() {
            Ok(accounts) if accounts.contains_key(account_id) => {}
            Ok(_) => {
                tracing::warn!(topic = %topic_arn, "not confirming the subscription of a topic whose account is not onboarded");
                self.count_ignored("not_onboarded");
                return Handled::Done;
            }
            Err(e) => return Handled::Retry(e.to_string()),
        }
        let confirmed = self
            .host
            .sns(region)
            .confirm_subscription()
            .topic_arn(topic_arn)
            .token(token)
            .send()
            .await;
        match confirmed {
            Ok(_) => {
                tracing::info!(topic = %topic_arn, "confirmed the topic's subscription to the event queue");
                self.lock_stats().subscriptions_confirmed += 1;
                Handled::Done
            }
            Err(e) => {
                let reason = format!(
                    "cannot confirm the subscription of {topic_arn}: {}",
                    AwsError::from_sdk("ConfirmSubscription", e)
                );
                if receives >= MAX_RECEIVES {
                    self.reject(message_id, body, reason)
                } else {
                    Handled::Retry(reason)
                }
            }
        }
    }

    fn count_ignored(&self, why: &str) {
        *self.lock_stats().ignored.entry(why.to_owned()).or_default() += 1;
    }

    /// Maps records to targets and adds those of onboarded, in-scope resources to the pending
    /// set (written, not flushed).
    pub fn ingest(&self, records: &[Value]) -> Result<Ingested, StoreError> {
        let accounts = self.accounts()?;
        let mut ingested = Ingested::default();
        let mut ignored: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut targets: Vec<Target> = Vec::new();
        // Ids are remembered only once the targets are stored: a batch that fails to store
        // comes back with the message, and must not then be skipped as already seen.
        let mut ids: HashSet<&str> = HashSet::new();
        {
            let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            for record in records {
                ingested.records += 1;
                if let Some(id) = record.get("eventID").and_then(Value::as_str)
                    && (recent.contains(id) || !ids.insert(id))
                {
                    ingested.duplicates += 1;
                    continue;
                }
                match mapping::map(record) {
                    Mapped::Ignored(why) => *ignored.entry(ignored_label(&why)).or_default() += 1,
                    Mapped::Targets(found) => {
                        for t in found {
                            match accounts.get(&t.account_id) {
                                None => *ignored.entry("not_onboarded").or_default() += 1,
                                Some(a) if out_of_scope(a, &t) => {
                                    *ignored.entry("excluded").or_default() += 1
                                }
                                Some(_) => targets.push(t),
                            }
                        }
                    }
                }
            }
        }
        ingested.targets = targets.len() as u64;
        ingested.fresh = self.pending.add(targets)? as u64;
        {
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            for id in ids {
                recent.insert(id);
            }
        }
        let mut stats = self.lock_stats();
        stats.records += ingested.records;
        stats.duplicates += ingested.duplicates;
        stats.targets += ingested.fresh;
        for (why, n) in ignored {
            *stats.ignored.entry(why.to_owned()).or_default() += n;
        }
        Ok(ingested)
    }

    /// The records of a CloudTrail log file, fetched with the credentials of the account the
    /// file is for; `None` when that account is not onboarded.
    async fn read_log(&self, object: &LogObject) -> Result<Option<Vec<Value>>, LogError> {
        let Some(account_id) = log_account(&object.key) else {
            return Err(LogError::Unreadable(format!(
                "s3://{}/{} is not a CloudTrail log file key (no AWSLogs/<account id>/CloudTrail/ in it)",
                object.bucket, object.key
            )));
        };
        let accounts = self
            .accounts()
            .map_err(|e| LogError::Fetch(e.to_string()))?;
        let Some(account) = accounts.get(account_id) else {
            self.count_ignored("not_onboarded");
            return Ok(None);
        };
        if object.size.is_some_and(|s| s > self.options.max_log_bytes) {
            return Err(LogError::Unreadable(format!(
                "s3://{}/{} is {} bytes, more than the {} a log file may have",
                object.bucket,
                object.key,
                object.size.unwrap_or_default(),
                self.options.max_log_bytes
            )));
        }
        let session = self
            .scanner
            .account_session(account)
            .await
            .map_err(|e| LogError::Fetch(e.to_string()))?;
        let region = object
            .region
            .clone()
            .unwrap_or_else(|| session.home_region().to_owned());
        let out = session
            .s3(&region)
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .send()
            .await
            .map_err(|e| {
                let e = AwsError::from_sdk("GetObject", e);
                LogError::Fetch(format!(
                    "cannot fetch s3://{}/{}: {e}",
                    object.bucket, object.key
                ))
            })?;
        let bytes = read_limited(out.body.into_async_read(), self.options.max_log_bytes)
            .await
            .map_err(|e| {
                LogError::Fetch(format!(
                    "cannot read s3://{}/{}: {e}",
                    object.bucket, object.key
                ))
            })?;
        message::parse_log(&bytes, self.options.max_log_bytes)
            .map(Some)
            .map_err(|e| {
                LogError::Unreadable(format!("s3://{}/{}: {e}", object.bucket, object.key))
            })
    }

    /// Takes due targets and refreshes them, a few accounts at a time, until shutdown.
    async fn work(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(self.options.concurrency.max(1)));
        loop {
            let due = tokio::select! {
                due = self.pending.take_due() => due,
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            let mut by_account: BTreeMap<String, Vec<Due>> = BTreeMap::new();
            for d in due {
                by_account
                    .entry(d.target.account_id.clone())
                    .or_default()
                    .push(d);
            }
            for (account_id, due) in by_account {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                let this = self.clone();
                tokio::spawn(async move {
                    this.refresh(&account_id, due).await;
                    drop(slot);
                });
            }
        }
        // Let running refreshes finish: their targets are otherwise rescanned on the next start.
        let all = self.options.concurrency.max(1) as u32;
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all)).await;
    }

    /// Refreshes one account's due targets.
    async fn refresh(&self, account_id: &str, due: Vec<Due>) {
        let account = match self.accounts() {
            Ok(accounts) => accounts.get(account_id).cloned(),
            Err(e) => {
                tracing::error!(account_id, error = %e, "cannot read accounts; retrying targets");
                self.retry_all(due);
                return;
            }
        };
        let Some(account) = account else {
            // Removed since the event came: nothing to keep current.
            self.finish_all(&due);
            return;
        };
        let targets: Vec<Target> = due.iter().map(|d| d.target.clone()).collect();
        match self.scanner.refresh(&account, &targets).await {
            Ok(_) => {
                self.finish_all(&due);
                self.lock_stats().refreshes += 1;
            }
            Err(e) => {
                self.lock_stats().refresh_failures += 1;
                tracing::warn!(account = %account.name, account_id, targets = due.len(), error = %e, "refresh failed");
                self.retry_all(due);
            }
        }
    }

    fn finish_all(&self, due: &[Due]) {
        for d in due {
            if let Err(e) = self.pending.done(d) {
                tracing::error!(error = %e, target = ?d.target, "cannot clear a done target");
            }
        }
    }

    /// Tries failed targets again later; after `MAX_REFRESH_ATTEMPTS` they are left to the
    /// next scheduled scan.
    fn retry_all(&self, due: Vec<Due>) {
        for d in due {
            let result = if d.attempts + 1 >= MAX_REFRESH_ATTEMPTS {
                tracing::warn!(target = ?d.target, attempts = d.attempts + 1, "giving up on a target; the next scan covers it");
                self.pending.done(&d)
            } else {
                let wait = REFRESH_BACKOFF.saturating_mul(2u32.saturating_pow(d.attempts));
                self.pending.retry(d, wait)
            };
            if let Err(e) = result {
                tracing::error!(error = %e, "cannot record a target's retry");
            }
        }
    }

    fn reject(&self, message_id: &str, body: &str, reason: String) -> Handled {
        tracing::warn!(message = %message_id, "event message set aside: {reason}");
        // The count of messages so far tells apart two rejections in the same nanosecond.
        let received = {
            let mut stats = self.lock_stats();
            stats.rejected += 1;
            stats.messages
        };
        let received_at = OffsetDateTime::now_utc();
        let rejected = RejectedMessage {
            message_id: message_id.to_owned(),
            received_at,
            reason: reason.clone(),
            body: cut(body, MAX_KEPT_BODY).to_owned(),
        };
        // Keyed by time first so listing shows them in arrival order.
        let key = format!("{:020}-{}", received_at.unix_timestamp_nanos(), received);
        match queue_put_json(
            self.store.as_ref(),
            Queue::RejectedMessages,
            &key,
            &rejected,
        ) {
            Ok(()) => Handled::Rejected(reason),
            // Not kept: better delivered again than dropped unseen.
            Err(e) => Handled::Retry(format!("cannot keep the rejected message: {e}")),
        }
    }

    /// Onboarded accounts by id, re-read at most every few seconds.
    fn accounts(&self) -> Result<Accounts, StoreError> {
        let mut cached = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, accounts)) = cached.as_ref()
            && at.elapsed() < ACCOUNTS_FRESH_FOR
        {
            return Ok(accounts.clone());
        }
        let accounts: Accounts = Arc::new(
            self.store
                .list_accounts()?
                .into_iter()
                .map(|a| (a.account_id.clone(), a))
                .collect(),
        );
        *cached = Some((tokio::time::Instant::now(), accounts.clone()));
        Ok(accounts)
    }

    fn lock_stats(&self) -> std::sync::MutexGuard<'_, EventStats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Onboarded accounts by account id.
type Accounts = Arc<HashMap<String, Account>>;

/// Messages set aside, oldest first, at most `limit`.
pub fn rejected_messages(
    store: &dyn Store,
    limit: usize,
) -> Result<Vec<RejectedMessage>, StoreError> {
    Ok(queue_list_json(store, Queue::RejectedMessages, limit)?
        .into_iter()
        .map(|(_, m)| m)
        .collect())
}

enum LogError {
    /// The file or its key is not a CloudTrail log: it will never be readable.
    Unreadable(String),
    /// Fetching failed; it may work next time.
    Fetch(String),
}

/// Whether the account leaves the target out: an excluded region (IAM's `global` is never
/// excluded by region) or type.
fn out_of_scope(account: &Account, t: &Target) -> bool {
    (t.region != "global" && account.region_excluded(&t.region))
        || account.type_excluded(&t.resource_type)
}

fn ignored_label(why: &Ignored) -> &'static str {
    match why {
        Ignored::ReadOnly => "read_only",
        Ignored::Failed(_) => "failed",
        Ignored::Unmapped => "unmapped",
        Ignored::Incomplete(_) => "incomplete",
    }
}

/// The account a CloudTrail log file key is for:
/// `[prefix/]AWSLogs/[o-organization/]<account id>/CloudTrail/<region>/…`.
fn log_account(key: &str) -> Option<&str> {
    let mut parts = key.split('/').skip_while(|p| *p != "AWSLogs").skip(1);
    let mut account = parts.next()?;
    if account.starts_with("o-") {
        account = parts.next()?;
    }
    let is_id = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    (is_id && parts.next() == Some("CloudTrail")).then_some(account)
}

/// `https://sqs.<region>.amazonaws.com/<account>/<name>` → the region.
fn region_of_queue_url(url: &str) -> Option<String> {
    let host = url.split("://").nth(1)?.split('/').next()?;
    let mut labels = host.split('.');
    (labels.next()? == "sqs").then(|| labels.next().map(str::to_owned))?
}

/// `text` cut at a char boundary at or before `max` bytes.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The last `capacity` event ids seen, for skipping duplicate deliveries.
struct RecentIds {
    set: HashSet<String>,
    order: VecDeque<String>,
    capacity: usize,
}

impl RecentIds {
    fn new(capacity: usize) -> RecentIds {
        RecentIds {
            set: HashSet::with_capacity(capacity),
            order: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }

    /// Whether `id` is new (and remembers it).
    fn insert(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() == self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.set.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        true
    }
}

/// Reads a body whole, refusing one larger than `max` bytes.
async fn read_limited(
    body: impl tokio::io::AsyncRead + Unpin,
    max: u64,
) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut bytes = Vec::new();
    // One byte more than allowed tells a file at the limit from a larger one.
    let read = body.take(max + 1).read_to_end(&mut bytes).await?;
    if read as u64 > max {
        return Err(std::io::Error::other(format!(
            "larger than the {max} bytes a log file may have"
        )));
    }
    Ok(bytes)
}

/// Messages asked for per receive (the most SQS gives).
const MAX_MESSAGES: i32 = 10;
/// Deliveries of a message whose log file cannot be fetched before it is set aside.
const MAX_RECEIVES: u32 = 5;
/// Refresh attempts per target before the next scan is left to cover it.
const MAX_REFRESH_ATTEMPTS: u32 = 5;
/// Wait after a failed refresh, doubled per attempt (2 s, 4 s, … 16 s).
const REFRESH_BACKOFF: Duration = Duration::from_secs(2);
/// Wait after a failed receive, doubled per failure up to the cap.
const RECEIVE_BACKOFF: Duration = Duration::from_millis(500);
const MAX_RECEIVE_BACKOFF: Duration = Duration::from_secs(30);
/// Event ids remembered for duplicate detection: minutes of a busy account's events.
const RECENT_EVENT_IDS: usize = 100_000;
/// Longest body of a rejected message kept (SQS bodies are at most 256 KiB anyway).
const MAX_KEPT_BODY: usize = 256 * 1024;
/// How long the onboarded accounts are taken as known: read once a second at most under a
/// stream of events, and an account added a second ago already gets its events.
const ACCOUNTS_FRESH_FOR: Duration = Duration::from_secs(1);
/// Longest wait at shutdown for running refreshes.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    use crate::aws::AwsOptions;
    use crate::store::SledStore;
    use serde_json::json;

    /// A path over a fresh store with one onboarded account that excludes eu-west-1, whose
    /// AWS endpoint answers nothing (ingesting never calls AWS).
    async fn path() -> (Arc<RealTime>, Arc<dyn Store>) {
        let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
        let account = Account {
            name: "prod".into(),
            account_id: "111111111111".into(),
            role_arn: "arn:aws:iam::111111111111:role/PalisadeAudit".into(),
            external_id: None,
            excluded_regions: vec!["eu-west-1".into()],
            excluded_resource_types: vec![],
            excluded_resources: vec![],
            scan_interval_hours: None,
            added_at: OffsetDateTime::now_utc(),
        };
        store.put_account(&account).unwrap();
        let host = Session::host(AwsOptions {
            endpoint_url: Some("http://127.0.0.1:1".into()),
            credentials: Some(aws_credential_types::Credentials::new(
                "t", "t", None, None, "t",
            )),
            ..AwsOptions::default()
        })
        .await;
        let rules = crate::server::testing::empty_registry(store.clone());
        let scanner = Scanner::new(host.clone(), store.clone(), rules, Default::default());
        let options = RealTimeOptions::new("http://127.0.0.1:1/111111111111/q");
        let path = RealTime::new(store.clone(), Arc::new(scanner), host, options).unwrap();
        (path, store)
    }

    fn put_policy(account: &str, region: &str, bucket: &str, event_id: &str) -> Value {
        json!({
            "eventVersion": "1.10", "eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy",
            "awsRegion": region, "recipientAccountId": account, "eventID": event_id,
            "userIdentity": {"type": "IAMUser", "accountId": account, "userName": "ops"},
            "requestParameters": {"bucketName": bucket, "policy": "{}"}
        })
    }

    #[tokio::test]
    async fn ingest_keeps_each_onboarded_in_scope_resource_once() {
        let (path, store) = path().await;
        let records = [
            put_policy("111111111111", "us-east-1", "a", "e1"),
            put_policy("111111111111", "us-east-1", "a", "e1"), // redelivered
            put_policy("111111111111", "us-east-1", "a", "e2"), // another change, same bucket
            put_policy("111111111111", "us-east-1", "b", "e3"),
            put_policy("222222222222", "us-east-1", "c", "e4"), // not onboarded
            put_policy("111111111111", "eu-west-1", "d", "e5"), // excluded region
        ];
        let ingested = path.ingest(&records).unwrap();
        assert_eq!(
            ingested,
            Ingested {
                records: 6,
                duplicates: 1,
                targets: 3,
                fresh: 2
            }
        );
        // The same records again: every one is a duplicate now.
        assert_eq!(path.ingest(&records).unwrap().duplicates, 6);
        let stats = path.stats();
        assert_eq!(stats.pending, 2);
        assert_eq!(stats.ignored.get("not_onboarded"), Some(&1));
        assert_eq!(stats.ignored.get("excluded"), Some(&1));
        assert_eq!(store.queue_list(Queue::EventTargets, 10).unwrap().len(), 2);
    }

    #[tokio::test]
    async fn unreadable_messages_are_kept_aside_and_empty_ones_done() {
        let (path, store) = path().await;
        assert!(
            matches!(path.handle("m1", "{oops", 1).await, Handled::Rejected(r) if r.contains("JSON"))
        );
        let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent"}).to_string();
        assert_eq!(path.handle("m2", &test_event, 1).await, Handled::Done);
        // A log file whose key names an account not onboarded is not fetched at all.
        let foreign = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "awsRegion": "us-east-1", "s3": {"bucket": {"name": "logs"},
            "object": {"key": "AWSLogs/222222222222/CloudTrail/us-east-1/2026/11/27/f.json.gz", "size": 10}}}]})
        .to_string();
        assert_eq!(path.handle("m3", &foreign, 1).await, Handled::Done);
        let rejected = rejected_messages(store.as_ref(), 10).unwrap();
        assert_eq!(rejected.len(), 1);
        assert_eq!(
            (rejected[0].message_id.as_str(), rejected[0].body.as_str()),
            ("m1", "{oops")
        );
        let stats = path.stats();
        assert_eq!((stats.messages, stats.rejected), (3, 1));
        assert_eq!(stats.ignored.get("not_onboarded"), Some(&1));
    }

    #[test]
    fn log_keys_name_their_account_with_or_without_prefix_and_organization() {
        for (key, account) in [
            (
                "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/27/f.json.gz",
                Some("123456789012"),
            ),
            (
                "trails/AWSLogs/123456789012/CloudTrail/eu-west-1/2026/11/27/f.json.gz",
                Some("123456789012"),
            ),
            (
                "AWSLogs/o-abc123/210987654321/CloudTrail/us-east-1/2026/f.json.gz",
                Some("210987654321"),
            ),
            ("AWSLogs/123456789012/Config/us-east-1/f.json.gz", None),
            ("AWSLogs/12345/CloudTrail/us-east-1/f.json.gz", None),
            ("somewhere/else.json", None),
        ] {
            assert_eq!(log_account(key), account, "{key}");
        }
    }

    #[test]
    fn queue_urls_give_their_region() {
        assert_eq!(
            region_of_queue_url("https://sqs.eu-west-2.amazonaws.com/123456789012/events"),
            Some("eu-west-2".into())
        );
        assert_eq!(
            region_of_queue_url("http://127.0.0.1:5000/123456789012/events"),
            None
        );
    }

    #[test]
    fn recent_ids_forget_the_oldest_beyond_capacity() {
        let mut r = RecentIds::new(2);
        assert!(r.insert("a") && r.insert("b"));
        assert!(!r.insert("a"));
        assert!(r.insert("c"));
        assert!(r.insert("a"), "a was forgotten when c came");
    }

    #[test]
    fn cut_keeps_whole_characters() {
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("héllo", 3), "hé");
        assert_eq!(cut("abc", 10), "abc");
    }
}
