//! The embedded store: the backend-neutral `Store` trait, its record types, `StoreError` and
//! the key encoding shared by backends. Backend code (sled or any later one) lives in its own
//! submodule; nothing here may depend on a particular backend's types beyond `StoreError`.

mod sled;

pub use self::sled::SledStore;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::account::Account;
use std::path::PathBuf;
use time::OffsetDateTime;

/// A cloud resource as last seen by a collector, keyed by account, type and id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResourceRecord {
    /// Cloud account the resource belongs to (key component).
    pub account_id: String,
    /// Resource type, e.g. `aws::s3::bucket` (key component).
    pub resource_type: String,
    /// Resource id, unique within its account and type (key component).
    pub resource_id: String,
    /// Region the resource lives in (empty or `global` for global resources).
    pub region: String,
    /// The whole resource document as collected.
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
    /// When the record was last written by a collector.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When the resource was seen to be gone, if it was.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
}

/// A policy module: compiled WebAssembly bytes addressed by their content digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleRecord {
    /// Lowercase hex SHA-256 of `wasm` (64 characters).
    pub digest: String,
    /// Human-readable module name.
    pub name: String,
    /// The module's raw bytes.
    pub wasm: Vec<u8>,
    /// When the module was added to the store.
    pub added_at: OffsetDateTime,
}

/// A module's metadata without its bytes, as returned by `Store::list_modules`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModuleMeta {
    /// Lowercase hex SHA-256 of the module bytes.
    pub digest: String,
    /// Human-readable module name.
    pub name: String,
    /// Length of the module bytes.
    pub size: u64,
    /// When the module was added to the store.
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
}

impl ModuleRecord {
    /// The metadata of this module, without its bytes.
    pub fn meta(&self) -> ModuleMeta {
        ModuleMeta {
            digest: self.digest.clone(),
            name: self.name.clone(),
            size: self.wasm.len() as u64,
            added_at: self.added_at,
        }
    }
}

/// Outcome of evaluating one rule against one resource.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum FindingStatus {
    /// The resource complies with the rule.
    Pass,
    /// The resource violates the rule.
    Fail,
    /// The rule could not be evaluated against the resource.
    Error,
    /// The resource violates the rule, but an operator's suppression covers it.
    Suppressed,
}

impl FindingStatus {
    /// The status as stored and printed: `pass`, `fail`, `error` or `suppressed`.
    pub fn as_str(self) -> &'static str {
        FindingState::from(self).as_str()
    }
}

/// The latest result of one rule against one resource, keyed by (rule id, resource id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FindingRecord {
    /// Rule that produced the finding (key component).
    pub rule_id: String,
    /// Resource the rule was evaluated against (key component; must be unique across accounts).
    pub resource_id: String,
    /// Account of the resource.
    pub account_id: String,
    /// Type of the resource.
    pub resource_type: String,
    /// Region of the resource.
    pub region: String,
    /// Latest evaluation outcome.
    pub status: FindingStatus,
    /// Optional explanation from the rule.
    #[serde(default)]
    pub message: Option<String>,
    /// Severity of the rule, e.g. `high`.
    pub severity: String,
    /// When this rule/resource pair was first evaluated.
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    /// When this rule/resource pair was last evaluated.
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
    /// When `status` last took its current value.
    #[serde(with = "time::serde::rfc3339")]
    pub status_changed_at: OffsetDateTime,
    /// When the finding was closed because its resource went away; `None` while open.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
}

/// A finding's state in its history: a verdict, or closed because the resource is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FindingState {
    Pass,
    Fail,
    Error,
    Suppressed,
    /// The resource was deleted (or left the account's scope); the finding no longer applies.
    Closed,
}

impl FindingState {
    /// The state as stored and printed: `pass`, `fail`, `error` or `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingState::Pass => "pass",
            FindingState::Fail => "fail",
            FindingState::Error => "error",
            FindingState::Suppressed => "suppressed",
            FindingState::Closed => "closed",
        }
    }
}

impl From<FindingStatus> for FindingState {
    fn from(s: FindingStatus) -> Self {
        match s {
            FindingStatus::Pass => FindingState::Pass,
            FindingStatus::Fail => FindingState::Fail,
            FindingStatus::Error => FindingState::Error,
            FindingStatus::Suppressed => FindingState::Suppressed,
        }
    }
}

/// One change of a finding's state, kept in the finding's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FindingChange {
    pub rule_id: String,
    pub resource_id: String,
    /// When the change was observed.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The state before, `None` for a new finding.
    pub from: Option<FindingState>,
    pub to: FindingState,
    /// The rule's message with the new state, if any.
    #[serde(default)]
    pub message: Option<String>,
}

/// What one scan of one account did, kept for reporting and to decide the next evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScanRecord {
    pub account_name: String,
    pub account_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    /// Regions scanned.
    pub regions: Vec<String>,
    /// Live resources by type after the scan.
    pub resources: std::collections::BTreeMap<String, u64>,
    /// Resources new or changed in this scan.
    pub changed: u64,
    /// Resources found gone in this scan.
    pub deleted: u64,
    /// Resources evaluated, and whether that was every live resource of the account.
    pub evaluated: u64,
    pub evaluated_all: bool,
    /// Open failing findings of the account by severity after the scan.
    pub failing: std::collections::BTreeMap<String, u64>,
    /// Open findings in error after the scan.
    pub errors: u64,
    /// AWS API calls made, retries included.
    pub api_calls: u64,
    /// Identifies the rules and settings evaluated; a change re-evaluates every resource.
    pub ruleset: String,
    /// What went wrong in collection.
    pub issues: Vec<crate::scan::ScanIssue>,
    /// Operations the endpoint does not implement, with when that was first seen; the next
    /// scans skip them for a while instead of paying retries on every call.
    #[serde(default)]
    pub unsupported: std::collections::BTreeMap<String, OffsetDateTime>,
}

impl FindingRecord {
    /// The finding's state: its status while open, `Closed` once its resource went away.
    pub fn state(&self) -> FindingState {
        match self.closed_at {
            Some(_) => FindingState::Closed,
            None => self.status.into(),
        }
    }
}

/// Which resources `Store::list_resources` returns; the default selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceFilter {
    /// Only resources of this account.
    pub account_id: Option<String>,
    /// Only resources of this type.
    pub resource_type: Option<String>,
}

/// Which findings `Store::list_findings` returns; the default selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingFilter {
    /// Only findings of this rule.
    pub rule_id: Option<String>,
    /// Only findings with this status.
    pub status: Option<FindingStatus>,
    /// Only findings on resources of this account.
    pub account_id: Option<String>,
}

/// A page of findings: which ones `Store::query_findings` returns. Empty lists and `None`
/// select everything; closed findings are left out unless `include_closed`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingQuery {
    /// Any of these statuses.
    pub statuses: Vec<FindingStatus>,
    /// Any of these severities (`critical`, `high`, ...).
    pub severities: Vec<String>,
    pub rule_id: Option<String>,
    pub account_id: Option<String>,
    pub resource_type: Option<String>,
    /// Only findings of resources in this region (`global` for account-wide types).
    pub region: Option<String>,
    pub include_closed: bool,
    /// Start after this (rule id, resource id): the `next` of the previous page.
    pub after: Option<(String, String)>,
    /// At most this many findings (0 means none, only the total).
    pub limit: usize,
}

/// One page of findings, ordered by (rule id, resource id).
#[derive(Debug, Clone, PartialEq)]
pub struct FindingPage {
    pub findings: Vec<FindingRecord>,
    /// How many findings match the query across all pages.
    pub total: u64,
    /// Where the next page starts, when there is one.
    pub next: Option<(String, String)>,
}

/// Counts of the findings a query selects (its `after` and `limit` are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FindingSummary {
    pub total: u64,
    /// By state: `pass`, `fail`, `error`, `suppressed`, `closed`.
    pub by_state: std::collections::BTreeMap<String, u64>,
    /// Open failing findings by severity.
    pub failing_by_severity: std::collections::BTreeMap<String, u64>,
    /// Open failing findings by rule id.
    pub failing_by_rule: std::collections::BTreeMap<String, u64>,
    /// Open failing findings by resource type.
    pub failing_by_resource_type: std::collections::BTreeMap<String, u64>,
}

/// A page of resources: which ones `Store::query_resources` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceQuery {
    pub account_id: Option<String>,
    pub resource_type: Option<String>,
    pub region: Option<String>,
    /// Resource ids matching this glob (`*` any run of characters, `?` one); a plain prefix
    /// is written `prefix*`.
    pub id_glob: Option<String>,
    pub include_deleted: bool,
    /// Start after this (account id, resource type, resource id).
    pub after: Option<(String, String, String)>,
    pub limit: usize,
}

/// One page of resources, ordered by (account, type, id).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourcePage {
    pub resources: Vec<ResourceRecord>,
    pub next: Option<(String, String, String)>,
}

/// A named policy module and its revisions. Revision bytes are `ModuleRecord`s by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModuleEntry {
    pub name: String,
    /// Oldest first; numbers start at 1 and only grow.
    pub revisions: Vec<ModuleRevision>,
    /// The revision serving now; `None` while none does.
    pub active: Option<u32>,
}

/// One uploaded revision of a module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModuleRevision {
    pub number: u32,
    pub digest: String,
    pub size: u64,
    /// Rule ids the revision provides.
    pub rules: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub uploaded_at: OffsetDateTime,
    /// Hex public key of the trusted signer that signed it, when signed.
    #[serde(default)]
    pub signed_by: Option<String>,
}

/// An operator's switch for one rule, overriding the rule's default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleToggle {
    pub rule_id: String,
    pub enabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub changed_at: OffsetDateTime,
}

/// An operator's values for some of a rule's settings; the rule's declared defaults fill in
/// the rest. Checked against the rule's schema before it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSettingsRecord {
    pub rule_id: String,
    pub settings: serde_json::Map<String, serde_json::Value>,
    #[serde(with = "time::serde::rfc3339")]
    pub changed_at: OffsetDateTime,
}

/// Failures of `rule_id` on resources whose id matches `pattern` become `suppressed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Suppression {
    pub id: String,
    pub rule_id: String,
    /// Resource-id glob: `*` any run of characters, `?` one.
    pub pattern: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A scan as the service runs it: queued, running with progress, then finished with its record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScanJob {
    /// Sortable by time: `YYYYMMDDTHHMMSS.ffffffZ-xxxxxxxx`.
    pub id: String,
    pub account_name: String,
    pub trigger: ScanTrigger,
    pub state: ScanState,
    #[serde(with = "time::serde::rfc3339")]
    pub queued_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub progress: ScanProgress,
    /// Why the scan failed or stopped.
    #[serde(default)]
    pub error: Option<String>,
    /// The scan's record once it finished.
    #[serde(default)]
    pub record: Option<ScanRecord>,
}

/// Why a scan ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScanTrigger {
    /// The first scan of a newly added account.
    Baseline,
    /// The account's interval came round.
    Scheduled,
    /// An operator asked for it.
    Manual,
}

/// Where a scan job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScanState {
    Queued,
    Running,
    Succeeded,
    Failed,
    /// The service stopped while the scan ran; it is run again on restart.
    Interrupted,
}

/// How far a running scan got.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScanProgress {
    pub tasks_planned: u64,
    pub tasks_done: u64,
    pub resources: u64,
}

/// Everything that can go wrong in a store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database at `path` could not be created or opened.
    #[error("cannot open store at {}: {source}", path.display())]
    Open {
        /// Directory of the database.
        path: PathBuf,
        /// Underlying backend error.
        source: ::sled::Error,
    },
    /// The backend failed during an operation (I/O error, full disk, ...).
    #[error("store {op} failed: {source}")]
    Backend {
        /// The operation that failed, e.g. `put_resource`.
        op: &'static str,
        /// Underlying backend error.
        source: ::sled::Error,
    },
    /// A stored value could not be decoded.
    #[error("corrupt record in tree {tree} at key {key}: {source}")]
    Corrupt {
        /// Tree holding the value.
        tree: &'static str,
        /// The key, with non-printable bytes escaped.
        key: String,
        /// Decoding error.
        source: serde_json::Error,
    },
    /// Related entries disagree with each other (e.g. module metadata without bytes).
    #[error("inconsistent store: tree {tree} at key {key}: {detail}")]
    Inconsistent {
        /// Tree holding the offending entry.
        tree: &'static str,
        /// The key, with non-printable bytes escaped.
        key: String,
        /// What disagrees.
        detail: String,
    },
    /// A record could not be encoded (e.g. a timestamp RFC 3339 cannot express).
    #[error("cannot encode {what} record: {source}")]
    Encode {
        /// Kind of record, e.g. `resource`.
        what: &'static str,
        /// Encoding error.
        source: serde_json::Error,
    },
    /// A key component is empty, contains a NUL byte or is otherwise malformed.
    #[error("invalid key: {0}")]
    InvalidKey(String),
}

/// A persistent, thread-safe store of resources, policy modules, compiled artefacts and findings.
///
/// Object-safe so the engine can hold an `Arc<dyn Store>` whichever backend sits behind it.
pub trait Store: Send + Sync {
    /// Inserts or replaces the resource at (account, type, id).
    fn put_resource(&self, r: &ResourceRecord) -> Result<(), StoreError>;
    /// Returns the resource at (account, type, id), if any.
    fn get_resource(
        &self,
        account_id: &str,
        resource_type: &str,
        resource_id: &str,
    ) -> Result<Option<ResourceRecord>, StoreError>;
    /// Returns the resource with this id in this account, whatever its type (lowest type first if several).
    fn find_resource(
        &self,
        account_id: &str,
        resource_id: &str,
    ) -> Result<Option<ResourceRecord>, StoreError>;
    /// Removes the resource and its id index entry; returns whether it existed.
    fn delete_resource(
        &self,
        account_id: &str,
        resource_type: &str,
        resource_id: &str,
    ) -> Result<bool, StoreError>;
    /// Returns the resources the filter selects, ordered by (account, type, id).
    fn list_resources(&self, filter: &ResourceFilter) -> Result<Vec<ResourceRecord>, StoreError>;

    /// Inserts or replaces a policy module under its digest.
    fn put_module(&self, m: &ModuleRecord) -> Result<(), StoreError>;
    /// Returns the module with this digest, bytes included.
    fn get_module(&self, digest: &str) -> Result<Option<ModuleRecord>, StoreError>;
    /// Returns the metadata of every module, ordered by digest, without bytes.
    fn list_modules(&self) -> Result<Vec<ModuleMeta>, StoreError>;
    /// Removes a module and its bytes; returns whether it existed.
    fn delete_module(&self, digest: &str) -> Result<bool, StoreError>;

    /// Returns the compiled artefact stored under an opaque key.
    fn get_artifact(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Inserts or replaces the compiled artefact under an opaque key.
    fn put_artifact(&self, key: &[u8], bytes: &[u8]) -> Result<(), StoreError>;
    /// Removes the artefact under an opaque key, if present.
    fn delete_artifact(&self, key: &[u8]) -> Result<(), StoreError>;
    /// Every artefact key, sorted (for pruning and inspection).
    fn artifact_keys(&self) -> Result<Vec<Vec<u8>>, StoreError>;

    /// Inserts or replaces the finding at (rule id, resource id).
    fn put_finding(&self, f: &FindingRecord) -> Result<(), StoreError>;
    /// Returns the finding at (rule id, resource id), if any.
    fn get_finding(
        &self,
        rule_id: &str,
        resource_id: &str,
    ) -> Result<Option<FindingRecord>, StoreError>;
    /// Returns the findings the filter selects, ordered by (rule id, resource id).
    fn list_findings(&self, filter: &FindingFilter) -> Result<Vec<FindingRecord>, StoreError>;
    /// Removes the finding at (rule id, resource id); returns whether it existed.
    fn delete_finding(&self, rule_id: &str, resource_id: &str) -> Result<bool, StoreError>;

    /// Appends a change to a finding's history.
    fn append_finding_change(&self, c: &FindingChange) -> Result<(), StoreError>;
    /// The history of the finding at (rule id, resource id), oldest first.
    fn finding_history(
        &self,
        rule_id: &str,
        resource_id: &str,
    ) -> Result<Vec<FindingChange>, StoreError>;

    /// Inserts or replaces an account under its name.
    fn put_account(&self, a: &Account) -> Result<(), StoreError>;
    /// Returns the account with this name.
    fn get_account(&self, name: &str) -> Result<Option<Account>, StoreError>;
    /// Every account, ordered by name.
    fn list_accounts(&self) -> Result<Vec<Account>, StoreError>;
    /// Removes an account record (not its resources or findings); returns whether it existed.
    fn delete_account(&self, name: &str) -> Result<bool, StoreError>;

    /// Records a finished scan.
    fn put_scan(&self, s: &ScanRecord) -> Result<(), StoreError>;
    /// The latest scan of the named account.
    fn last_scan(&self, account_name: &str) -> Result<Option<ScanRecord>, StoreError>;

    /// A page of findings; fast on large stores (an in-memory index answers the filters, so
    /// only the returned page is decoded).
    fn query_findings(&self, q: &FindingQuery) -> Result<FindingPage, StoreError>;
    /// Counts of the findings `q` selects, from the same index.
    fn summarize_findings(&self, q: &FindingQuery) -> Result<FindingSummary, StoreError>;
    /// Removes every finding of a rule (not its history); returns how many.
    fn delete_findings_of_rule(&self, rule_id: &str) -> Result<u64, StoreError>;
    /// A page of resources.
    fn query_resources(&self, q: &ResourceQuery) -> Result<ResourcePage, StoreError>;

    /// Writes a module entry, with the bytes of a new revision when given, atomically.
    fn put_module_entry(
        &self,
        entry: &ModuleEntry,
        new_revision: Option<&ModuleRecord>,
    ) -> Result<(), StoreError>;
    fn get_module_entry(&self, name: &str) -> Result<Option<ModuleEntry>, StoreError>;
    /// Every module entry, ordered by name.
    fn list_module_entries(&self) -> Result<Vec<ModuleEntry>, StoreError>;
    /// Removes an entry and, atomically, the bytes of its revisions that no other entry
    /// uses; returns whether it existed.
    fn delete_module_entry(&self, name: &str) -> Result<bool, StoreError>;

    fn put_rule_toggle(&self, t: &RuleToggle) -> Result<(), StoreError>;
    /// Every rule toggle, ordered by rule id.
    fn list_rule_toggles(&self) -> Result<Vec<RuleToggle>, StoreError>;

    /// Replaces the operator's settings of one rule.
    fn put_rule_settings(&self, r: &RuleSettingsRecord) -> Result<(), StoreError>;
    /// Every rule's operator settings, ordered by rule id.
    fn list_rule_settings(&self) -> Result<Vec<RuleSettingsRecord>, StoreError>;

    fn put_suppression(&self, s: &Suppression) -> Result<(), StoreError>;
    fn get_suppression(&self, id: &str) -> Result<Option<Suppression>, StoreError>;
    /// Every suppression, ordered by id.
    fn list_suppressions(&self) -> Result<Vec<Suppression>, StoreError>;
    fn delete_suppression(&self, id: &str) -> Result<bool, StoreError>;

    fn put_scan_job(&self, j: &ScanJob) -> Result<(), StoreError>;
    fn get_scan_job(&self, id: &str) -> Result<Option<ScanJob>, StoreError>;
    /// Scan jobs, newest first, of one account or all, at most `limit`.
    fn list_scan_jobs(
        &self,
        account_name: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ScanJob>, StoreError>;

    /// Puts (replacing) `value` under `key` in `queue`.
    fn queue_put(&self, queue: Queue, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Puts `value` under `key` unless the key is taken; whether it was put. Atomic, so two
    /// writers of one key cannot both win.
    fn queue_insert_new(&self, queue: Queue, key: &str, value: &[u8]) -> Result<bool, StoreError>;
    fn queue_get(&self, queue: Queue, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Every entry of `queue`, in key order, at most `limit`.
    fn queue_list(&self, queue: Queue, limit: usize) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    fn queue_remove(&self, queue: Queue, key: &str) -> Result<bool, StoreError>;

    /// Makes every write so far durable on disk.
    fn flush(&self) -> Result<(), StoreError>;
}

/// The durable queues of the real-time path. Entries are JSON records whose layout belongs to
/// their owner (`events`, `alerts`); the store only keeps them in key order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Queue {
    /// Targets taken from the event queue whose rescan has not finished.
    EventTargets,
    /// Queue messages that could not be read, kept for inspection.
    RejectedMessages,
    /// Alerts raised, with the state of their delivery.
    Alerts,
}

impl Queue {
    pub const ALL: [Queue; 3] = [Queue::EventTargets, Queue::RejectedMessages, Queue::Alerts];

    /// The name of the queue's tree in the store.
    pub fn name(self) -> &'static str {
        match self {
            Queue::EventTargets => "event_targets",
            Queue::RejectedMessages => "rejected_messages",
            Queue::Alerts => "alerts",
        }
    }
}

/// Puts a record as JSON under `key` in `queue`.
pub fn queue_put_json<T: Serialize>(
    store: &dyn Store,
    queue: Queue,
    key: &str,
    value: &T,
) -> Result<(), StoreError> {
    store.queue_put(queue, key, &encode_record(queue, value)?)
}

/// Puts a record as JSON unless `key` is taken; whether it was put.
pub fn queue_insert_new_json<T: Serialize>(
    store: &dyn Store,
    queue: Queue,
    key: &str,
    value: &T,
) -> Result<bool, StoreError> {
    store.queue_insert_new(queue, key, &encode_record(queue, value)?)
}

/// Up to `limit` records of `queue` with their keys, decoded, in key order.
pub fn queue_list_json<T: DeserializeOwned>(
    store: &dyn Store,
    queue: Queue,
    limit: usize,
) -> Result<Vec<(String, T)>, StoreError> {
    store
        .queue_list(queue, limit)?
        .into_iter()
        .map(|(key, bytes)| {
            let value = decode_record(queue, &key, &bytes)?;
            Ok((key, value))
        })
        .collect()
}

fn encode_record<T: Serialize>(queue: Queue, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|source| StoreError::Encode {
        what: queue.name(),
        source,
    })
}

fn decode_record<T: DeserializeOwned>(
    queue: Queue,
    key: &str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt {
        tree: queue.name(),
        key: key.to_owned(),
        source,
    })
}

/// Why an account could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddAccountError {
    #[error("an account named {0:?} exists")]
    NameTaken(String),
    /// Resources and findings are kept by account id: two names for one id would share (and,
    /// on removal, delete) each other's data.
    #[error("account {account_id} is already added as {name:?}")]
    IdTaken { account_id: String, name: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores a new account, durably, unless its name or its account id is taken. Callers that
/// add accounts concurrently must serialise calls (the check and the write are two steps).
pub fn add_account(store: &dyn Store, account: &Account) -> Result<(), AddAccountError> {
    if store.get_account(&account.name)?.is_some() {
        return Err(AddAccountError::NameTaken(account.name.clone()));
    }
    if let Some(other) = store
        .list_accounts()?
        .into_iter()
        .find(|a| a.account_id == account.account_id)
    {
        return Err(AddAccountError::IdTaken {
            account_id: account.account_id.clone(),
            name: other.name,
        });
    }
    store.put_account(account)?;
    store.flush()?;
    Ok(())
}

/// The account id of an account given by name or as a 12-digit id; `None` when it is neither
/// an account's name nor an account id.
pub fn resolve_account_id(store: &dyn Store, account: &str) -> Result<Option<String>, StoreError> {
    if let Some(a) = store.get_account(account)? {
        return Ok(Some(a.account_id));
    }
    Ok(crate::account::is_account_id(account).then(|| account.to_owned()))
}

/// Forgets an account: its resources, its findings and its record (scan history stays).
/// Returns how many resources and findings went.
pub fn remove_account(store: &dyn Store, account: &Account) -> Result<(u64, u64), StoreError> {
    let resources = store.list_resources(&ResourceFilter {
        account_id: Some(account.account_id.clone()),
        ..ResourceFilter::default()
    })?;
    for r in &resources {
        store.delete_resource(&r.account_id, &r.resource_type, &r.resource_id)?;
    }
    // The findings index picks the account's findings; other accounts' are never read.
    let findings = store
        .query_findings(&FindingQuery {
            account_id: Some(account.account_id.clone()),
            include_closed: true,
            limit: usize::MAX,
            ..FindingQuery::default()
        })?
        .findings;
    for f in &findings {
        store.delete_finding(&f.rule_id, &f.resource_id)?;
    }
    store.delete_account(&account.name)?;
    store.flush()?;
    Ok((resources.len() as u64, findings.len() as u64))
}

/// Byte that separates key components; components may never contain it.
pub(crate) const KEY_SEPARATOR: u8 = 0x00;

/// Checks that a key component is non-empty and free of the separator byte.
pub(crate) fn check_component(field: &str, value: &str) -> Result<(), StoreError> {
    if value.is_empty() {
        return Err(StoreError::InvalidKey(format!("{field} must not be empty")));
    }
    if value.as_bytes().contains(&KEY_SEPARATOR) {
        return Err(StoreError::InvalidKey(format!(
            "{field} {} contains a NUL byte",
            escape_key(value.as_bytes())
        )));
    }
    Ok(())
}

/// Joins named components (`(field, value)`) into a key, rejecting invalid components.
pub(crate) fn encode_key(parts: &[(&str, &str)]) -> Result<Vec<u8>, StoreError> {
    let len = parts.iter().map(|(_, v)| v.len() + 1).sum();
    let mut key = Vec::with_capacity(len);
    for (i, (field, value)) in parts.iter().enumerate() {
        check_component(field, value)?;
        if i > 0 {
            key.push(KEY_SEPARATOR);
        }
        key.extend_from_slice(value.as_bytes());
    }
    Ok(key)
}

/// Encodes components as a scan prefix: the key followed by a separator, so `"1234"` never matches `"12345"`.
pub(crate) fn encode_prefix(parts: &[(&str, &str)]) -> Result<Vec<u8>, StoreError> {
    let mut prefix = encode_key(parts)?;
    prefix.push(KEY_SEPARATOR);
    Ok(prefix)
}

/// Returns the `index`-th separator-delimited component of an encoded key.
pub(crate) fn key_component(key: &[u8], index: usize) -> Option<&[u8]> {
    key.split(|b| *b == KEY_SEPARATOR).nth(index)
}

/// Renders a raw key for error messages, escaping separators and non-ASCII bytes.
pub(crate) fn escape_key(key: &[u8]) -> String {
    key.escape_ascii().to_string()
}

/// Checks that a module digest is 64 lowercase hex characters (a SHA-256).
pub(crate) fn check_digest(digest: &str) -> Result<(), StoreError> {
    let ok = digest.len() == 64
        && digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidKey(format!(
            "module digest {} is not 64 lowercase hex characters",
            escape_key(digest.as_bytes())
        )))
    }
}
