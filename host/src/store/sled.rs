//! `SledStore`: the sled 0.34 implementation of `Store`, one sled tree per record kind.
//! Only sled-specific code lives here; record types, errors and key encoding belong in `mod.rs`.
//! The in-memory findings index behind `query_findings` lives in the `index` submodule.

mod index;

use self::index::{FindingIndex, IndexedFields, SharedIndex};
use super::{
    Account, FindingChange, FindingFilter, FindingPage, FindingQuery, FindingRecord,
    FindingSummary, KEY_SEPARATOR, ModuleEntry, ModuleMeta, ModuleRecord, Queue, ResourceFilter,
    ResourcePage, ResourceQuery, ResourceRecord, RuleSettingsRecord, RuleToggle, ScanJob,
    ScanRecord, Store, StoreError, Suppression, check_component, check_digest, encode_key,
    encode_prefix, escape_key, key_component,
};
use crate::account::glob_match;
use ::sled::transaction::{ConflictableTransactionError, TransactionError};
use ::sled::{Batch, Config, Db, IVec, Transactional, Tree};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeSet, HashSet};
use std::convert::Infallible;
use std::ops::Bound;
use std::path::Path;
use std::sync::RwLockWriteGuard;
use std::time::{Duration, Instant};

/// Resource JSON by `account \0 type \0 id`.
const RESOURCES: &str = "resources";
/// Secondary index `account \0 id \0 type` → type, kept in step with `resources`.
const RESOURCE_IDS: &str = "resource_ids";
/// `ModuleMeta` JSON by digest.
const MODULES: &str = "modules";
/// Raw module bytes by digest.
const MODULE_BYTES: &str = "module_bytes";
/// Opaque artefact bytes by opaque key.
const ARTIFACTS: &str = "artifacts";
/// Finding JSON by `rule \0 resource`.
const FINDINGS: &str = "findings";
/// `FindingChange` JSON by `rule \0 resource \0 time`, time as 20-digit nanoseconds since 1970.
const FINDING_HISTORY: &str = "finding_history";
/// `Account` JSON by name.
const ACCOUNTS: &str = "accounts";
/// `ScanRecord` JSON by `account name \0 start time` (20-digit nanoseconds since 1970).
const SCANS: &str = "scans";
/// `ModuleEntry` JSON by module name; revision bytes live in `modules` and `module_bytes`.
const MODULE_ENTRIES: &str = "module_entries";
/// `RuleToggle` JSON by rule id.
const RULE_TOGGLES: &str = "rule_toggles";
/// `RuleSettingsRecord` JSON by rule id.
const RULE_SETTINGS: &str = "rule_settings";
/// `Suppression` JSON by suppression id.
const SUPPRESSIONS: &str = "suppressions";
/// `ScanJob` JSON by job id; ids sort by time, so the newest job is the last key.
const SCAN_JOBS: &str = "scan_jobs";

// The durable queues (`Queue`) are one tree each, named by `Queue::name`.

/// A `Store` backed by an embedded sled database; cheap to clone (clones share the database
/// and the findings index).
#[derive(Clone, Debug)]
pub struct SledStore {
    db: Db,
    resources: Tree,
    resource_ids: Tree,
    modules: Tree,
    module_bytes: Tree,
    artifacts: Tree,
    findings: Tree,
    finding_history: Tree,
    accounts: Tree,
    scans: Tree,
    module_entries: Tree,
    rule_toggles: Tree,
    rule_settings: Tree,
    suppressions: Tree,
    scan_jobs: Tree,
    /// One tree per `Queue`, in `Queue::ALL` order.
    queues: [Tree; 3],
    /// Every finding in `findings`, built by the first query. Writers of `findings` hold its
    /// write lock across the sled write and the index update, so the index never misses one.
    finding_index: SharedIndex,
}

impl SledStore {
    /// Opens (creating if needed) the database in directory `path`.
    pub fn open(path: &Path) -> Result<SledStore, StoreError> {
        let open_error = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(path).map_err(|e| open_error(::sled::Error::Io(e)))?;
        // sled releases its file lock only once deferred cleanup of a dropped handle has run,
        // so a close-then-reopen in one process can briefly see its own lock: retry for a while.
        let deadline = Instant::now() + LOCK_RETRY_FOR;
        let db = loop {
            match Config::new().path(path).open() {
                Ok(db) => break db,
                Err(e) if is_lock_contention(&e) && Instant::now() < deadline => {
                    std::thread::sleep(LOCK_RETRY_STEP);
                }
                Err(e) => return Err(open_error(e)),
            }
        };
        Self::from_db(db).map_err(open_error)
    }

    /// Opens a fresh database that is deleted when the last handle is dropped (for tests).
    pub fn temporary() -> Result<SledStore, StoreError> {
        let db = Config::new()
            .temporary(true)
            .open()
            .map_err(backend("open temporary database"))?;
        Self::from_db(db).map_err(backend("open temporary database"))
    }

    /// Opens every tree of the store in `db`.
    fn from_db(db: Db) -> Result<SledStore, ::sled::Error> {
        Ok(SledStore {
            resources: db.open_tree(RESOURCES)?,
            resource_ids: db.open_tree(RESOURCE_IDS)?,
            modules: db.open_tree(MODULES)?,
            module_bytes: db.open_tree(MODULE_BYTES)?,
            artifacts: db.open_tree(ARTIFACTS)?,
            findings: db.open_tree(FINDINGS)?,
            finding_history: db.open_tree(FINDING_HISTORY)?,
            accounts: db.open_tree(ACCOUNTS)?,
            scans: db.open_tree(SCANS)?,
            module_entries: db.open_tree(MODULE_ENTRIES)?,
            rule_toggles: db.open_tree(RULE_TOGGLES)?,
            rule_settings: db.open_tree(RULE_SETTINGS)?,
            suppressions: db.open_tree(SUPPRESSIONS)?,
            scan_jobs: db.open_tree(SCAN_JOBS)?,
            queues: [
                db.open_tree(Queue::ALL[0].name())?,
                db.open_tree(Queue::ALL[1].name())?,
                db.open_tree(Queue::ALL[2].name())?,
            ],
            finding_index: SharedIndex::default(),
            db,
        })
    }

    fn queue(&self, queue: Queue) -> &Tree {
        let index = Queue::ALL.iter().position(|q| *q == queue);
        &self.queues[index.expect("Queue::ALL lists every queue")]
    }

    /// Runs `f` on the findings index, building it first if no query did yet. The index's lock
    /// is held while `f` runs, so the records `f` reads from sled agree with the index.
    fn with_finding_index<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&FindingIndex) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // A poisoned lock falls through to `write_finding_index`, which drops the index.
        if let Ok(guard) = self.finding_index.read()
            && let Some(index) = guard.as_ref()
        {
            return f(index);
        }
        let mut guard = self.write_finding_index();
        // Another query may have built it while this one waited for the lock.
        let index = match &mut *guard {
            Some(index) => index,
            slot @ None => slot.insert(self.build_finding_index(op)?),
        };
        f(index)
    }

    /// Takes the findings index's write lock: every write to `findings` holds it across the
    /// sled write and the index update.
    fn write_finding_index(&self) -> RwLockWriteGuard<'_, Option<FindingIndex>> {
        self.finding_index.write().unwrap_or_else(|poisoned| {
            // A writer panicked between the sled write and the index update: the index may
            // disagree with sled, so drop it and let the next query rebuild it.
            let mut guard = poisoned.into_inner();
            *guard = None;
            self.finding_index.clear_poison();
            guard
        })
    }

    /// Reads every stored finding into a new index (the caller holds the write lock).
    fn build_finding_index(&self, op: &'static str) -> Result<FindingIndex, StoreError> {
        let mut index = FindingIndex::new();
        for entry in &self.findings {
            let (key, value) = entry.map_err(backend(op))?;
            let (rule, resource) = split_finding_key(&key)?;
            let fields: IndexedFields<'_> =
                serde_json::from_slice(&value).map_err(|source| StoreError::Corrupt {
                    tree: FINDINGS,
                    key: escape_key(&key),
                    source,
                })?;
            index.insert_fields(rule, resource, fields);
        }
        Ok(index)
    }
}

/// How long `SledStore::open` retries a database whose lock is held.
const LOCK_RETRY_FOR: Duration = Duration::from_secs(2);
/// Pause between two attempts to take the database lock.
const LOCK_RETRY_STEP: Duration = Duration::from_millis(20);

/// Whether `e` is sled 0.34's report that another handle holds the database lock.
fn is_lock_contention(e: &::sled::Error) -> bool {
    matches!(e, ::sled::Error::Io(io) if io.to_string().starts_with("could not acquire lock"))
}

/// Maps a sled error to `StoreError::Backend` for operation `op`.
fn backend(op: &'static str) -> impl Fn(::sled::Error) -> StoreError {
    move |source| StoreError::Backend { op, source }
}

/// Maps the result of a transaction that never aborts to `StoreError::Backend`.
fn tx_error(op: &'static str) -> impl Fn(TransactionError<Infallible>) -> StoreError {
    move |e| match e {
        TransactionError::Storage(source) => StoreError::Backend { op, source },
        TransactionError::Abort(never) => match never {},
    }
}

/// Result type of a transaction closure that never aborts.
type TxResult<T> = Result<T, ConflictableTransactionError<Infallible>>;

/// Serialises a record as JSON.
fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|source| StoreError::Encode { what, source })
}

/// Deserialises a JSON record read from `tree` at `key`.
fn decode<T: DeserializeOwned>(
    tree: &'static str,
    key: &[u8],
    value: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(value).map_err(|source| StoreError::Corrupt {
        tree,
        key: escape_key(key),
        source,
    })
}

/// Builds the key of the resource index entry for (account, id, type).
fn resource_index_key(account_id: &str, resource_type: &str, resource_id: &str) -> Vec<u8> {
    [
        account_id.as_bytes(),
        resource_id.as_bytes(),
        resource_type.as_bytes(),
    ]
    .join(&KEY_SEPARATOR)
}

/// Builds the main resource key, validating every component.
fn resource_key(
    account_id: &str,
    resource_type: &str,
    resource_id: &str,
) -> Result<Vec<u8>, StoreError> {
    encode_key(&[
        ("account_id", account_id),
        ("resource_type", resource_type),
        ("resource_id", resource_id),
    ])
}

/// Writes `value` as JSON in `tree` under the one-component key `(field, id)`.
fn put_json<T: Serialize>(
    tree: &Tree,
    what: &'static str,
    op: &'static str,
    key: (&str, &str),
    value: &T,
) -> Result<(), StoreError> {
    let key = encode_key(&[key])?;
    tree.insert(key, encode(what, value)?)
        .map_err(backend(op))?;
    Ok(())
}

/// The JSON record of `tree` (named `name` in errors) under the key `(field, id)`.
fn get_json<T: DeserializeOwned>(
    tree: &Tree,
    name: &'static str,
    op: &'static str,
    key: (&str, &str),
) -> Result<Option<T>, StoreError> {
    let key = encode_key(&[key])?;
    match tree.get(&key).map_err(backend(op))? {
        Some(value) => decode(name, &key, &value).map(Some),
        None => Ok(None),
    }
}

/// Every JSON record of `tree`, in key order.
fn list_json<T: DeserializeOwned>(
    tree: &Tree,
    name: &'static str,
    op: &'static str,
) -> Result<Vec<T>, StoreError> {
    decode_all(tree.iter(), name, op)
}

/// The JSON records of a scan of tree `name` (a whole tree, a prefix, a range), decoded.
fn decode_all<T: DeserializeOwned>(
    entries: impl Iterator<Item = Result<(IVec, IVec), ::sled::Error>>,
    name: &'static str,
    op: &'static str,
) -> Result<Vec<T>, StoreError> {
    entries
        .map(|entry| {
            let (key, value) = entry.map_err(backend(op))?;
            decode(name, &key, &value)
        })
        .collect()
}

/// Removes the record under `(field, id)`; whether there was one.
fn remove_key(tree: &Tree, op: &'static str, key: (&str, &str)) -> Result<bool, StoreError> {
    let key = encode_key(&[key])?;
    Ok(tree.remove(key).map_err(backend(op))?.is_some())
}

/// Builds the finding key, validating every component.
fn finding_key(rule_id: &str, resource_id: &str) -> Result<Vec<u8>, StoreError> {
    encode_key(&[("rule_id", rule_id), ("resource_id", resource_id)])
}

/// Splits a stored finding key into (rule id, resource id).
fn split_finding_key(key: &[u8]) -> Result<(&str, &str), StoreError> {
    let mut parts = key.split(|b| *b == KEY_SEPARATOR).map(std::str::from_utf8);
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Ok(rule)), Some(Ok(resource)), None) if !rule.is_empty() && !resource.is_empty() => {
            Ok((rule, resource))
        }
        _ => Err(StoreError::Inconsistent {
            tree: FINDINGS,
            key: escape_key(key),
            detail: "key is not two UTF-8 components".into(),
        }),
    }
}

/// Checks the key components a finding query names (other filters are free-form).
fn check_finding_query(q: &FindingQuery) -> Result<(), StoreError> {
    for (field, value) in [
        ("rule_id", &q.rule_id),
        ("account_id", &q.account_id),
        ("resource_type", &q.resource_type),
    ] {
        if let Some(value) = value {
            check_component(field, value)?;
        }
    }
    if let Some((rule, resource)) = &q.after {
        finding_key(rule, resource)?;
    }
    Ok(())
}

/// A timestamp as a key component that sorts in time order: nanoseconds since 1970, 20 digits
/// (times before 1970 clamp to zero; nothing we store predates it).
fn time_component(t: time::OffsetDateTime) -> String {
    format!("{:020}", t.unix_timestamp_nanos().max(0))
}

/// Rejects the empty artefact key (any other byte string is a valid opaque key).
fn check_artifact_key(key: &[u8]) -> Result<(), StoreError> {
    if key.is_empty() {
        Err(StoreError::InvalidKey(
            "artifact key must not be empty".into(),
        ))
    } else {
        Ok(())
    }
}

impl Store for SledStore {
    fn put_resource(&self, r: &ResourceRecord) -> Result<(), StoreError> {
        let key = resource_key(&r.account_id, &r.resource_type, &r.resource_id)?;
        let index_key = resource_index_key(&r.account_id, &r.resource_type, &r.resource_id);
        let value = encode("resource", r)?;
        (&self.resources, &self.resource_ids)
            .transaction(|(resources, ids)| -> TxResult<()> {
                resources.insert(key.as_slice(), value.as_slice())?;
                ids.insert(index_key.as_slice(), r.resource_type.as_bytes())?;
                Ok(())
            })
            .map_err(tx_error("put_resource"))
    }

    fn get_resource(
        &self,
        account_id: &str,
        resource_type: &str,
        resource_id: &str,
    ) -> Result<Option<ResourceRecord>, StoreError> {
        let key = resource_key(account_id, resource_type, resource_id)?;
        match self.resources.get(&key).map_err(backend("get_resource"))? {
            Some(value) => decode(RESOURCES, &key, &value).map(Some),
            None => Ok(None),
        }
    }

    fn find_resource(
        &self,
        account_id: &str,
        resource_id: &str,
    ) -> Result<Option<ResourceRecord>, StoreError> {
        let prefix = encode_prefix(&[("account_id", account_id), ("resource_id", resource_id)])?;
        for entry in self.resource_ids.scan_prefix(&prefix) {
            let (_, resource_type) = entry.map_err(backend("find_resource"))?;
            let key = [
                account_id.as_bytes(),
                &resource_type,
                resource_id.as_bytes(),
            ]
            .join(&KEY_SEPARATOR);
            // A miss means a concurrent delete won the race: try the next type, if any.
            if let Some(value) = self.resources.get(&key).map_err(backend("find_resource"))? {
                return decode(RESOURCES, &key, &value).map(Some);
            }
        }
        Ok(None)
    }

    fn delete_resource(
        &self,
        account_id: &str,
        resource_type: &str,
        resource_id: &str,
    ) -> Result<bool, StoreError> {
        let key = resource_key(account_id, resource_type, resource_id)?;
        let index_key = resource_index_key(account_id, resource_type, resource_id);
        (&self.resources, &self.resource_ids)
            .transaction(|(resources, ids)| -> TxResult<bool> {
                let existed = resources.remove(key.as_slice())?.is_some();
                ids.remove(index_key.as_slice())?;
                Ok(existed)
            })
            .map_err(tx_error("delete_resource"))
    }

    fn list_resources(&self, filter: &ResourceFilter) -> Result<Vec<ResourceRecord>, StoreError> {
        let (prefix, type_only) = match (&filter.account_id, &filter.resource_type) {
            (Some(account), Some(rtype)) => (
                encode_prefix(&[("account_id", account), ("resource_type", rtype)])?,
                None,
            ),
            (Some(account), None) => (encode_prefix(&[("account_id", account)])?, None),
            (None, Some(rtype)) => {
                check_component("resource_type", rtype)?;
                (Vec::new(), Some(rtype.as_bytes()))
            }
            (None, None) => (Vec::new(), None),
        };
        let mut out = Vec::new();
        for entry in self.resources.scan_prefix(&prefix) {
            let (key, value) = entry.map_err(backend("list_resources"))?;
            // Without an account the type sits in the middle of the key: filter on the key
            // so records of other types are never decoded.
            if let Some(rtype) = type_only
                && key_component(&key, 1) != Some(rtype)
            {
                continue;
            }
            out.push(decode(RESOURCES, &key, &value)?);
        }
        Ok(out)
    }

    fn put_module(&self, m: &ModuleRecord) -> Result<(), StoreError> {
        check_digest(&m.digest)?;
        let meta = encode("module", &m.meta())?;
        let key = m.digest.as_bytes();
        (&self.modules, &self.module_bytes)
            .transaction(|(modules, bytes)| -> TxResult<()> {
                modules.insert(key, meta.as_slice())?;
                bytes.insert(key, m.wasm.as_slice())?;
                Ok(())
            })
            .map_err(tx_error("put_module"))
    }

    fn get_module(&self, digest: &str) -> Result<Option<ModuleRecord>, StoreError> {
        check_digest(digest)?;
        let key = digest.as_bytes();
        let (meta, wasm): (Option<IVec>, Option<IVec>) = (&self.modules, &self.module_bytes)
            .transaction(|(modules, bytes)| -> TxResult<_> {
                Ok((modules.get(key)?, bytes.get(key)?))
            })
            .map_err(tx_error("get_module"))?;
        let inconsistent = |tree, detail: String| StoreError::Inconsistent {
            tree,
            key: escape_key(key),
            detail,
        };
        match (meta, wasm) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(inconsistent(
                MODULE_BYTES,
                "module metadata present but bytes missing".into(),
            )),
            (None, Some(_)) => Err(inconsistent(
                MODULES,
                "module bytes present but metadata missing".into(),
            )),
            (Some(meta), Some(wasm)) => {
                let meta: ModuleMeta = decode(MODULES, key, &meta)?;
                if meta.digest != digest {
                    return Err(inconsistent(
                        MODULES,
                        format!(
                            "metadata names digest {}",
                            escape_key(meta.digest.as_bytes())
                        ),
                    ));
                }
                if meta.size != wasm.len() as u64 {
                    return Err(inconsistent(
                        MODULE_BYTES,
                        format!(
                            "metadata size {} but {} bytes stored",
                            meta.size,
                            wasm.len()
                        ),
                    ));
                }
                Ok(Some(ModuleRecord {
                    digest: meta.digest,
                    name: meta.name,
                    wasm: wasm.to_vec(),
                    added_at: meta.added_at,
                }))
            }
        }
    }

    fn list_modules(&self) -> Result<Vec<ModuleMeta>, StoreError> {
        list_json(&self.modules, MODULES, "list_modules")
    }

    fn delete_module(&self, digest: &str) -> Result<bool, StoreError> {
        check_digest(digest)?;
        let key = digest.as_bytes();
        (&self.modules, &self.module_bytes)
            .transaction(|(modules, bytes)| -> TxResult<bool> {
                let had_meta = modules.remove(key)?.is_some();
                let had_bytes = bytes.remove(key)?.is_some();
                Ok(had_meta || had_bytes)
            })
            .map_err(tx_error("delete_module"))
    }

    fn get_artifact(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        check_artifact_key(key)?;
        let value = self.artifacts.get(key).map_err(backend("get_artifact"))?;
        Ok(value.map(|v| v.to_vec()))
    }

    fn put_artifact(&self, key: &[u8], bytes: &[u8]) -> Result<(), StoreError> {
        check_artifact_key(key)?;
        self.artifacts
            .insert(key, bytes)
            .map_err(backend("put_artifact"))?;
        Ok(())
    }

    fn delete_artifact(&self, key: &[u8]) -> Result<(), StoreError> {
        check_artifact_key(key)?;
        self.artifacts
            .remove(key)
            .map_err(backend("delete_artifact"))?;
        Ok(())
    }

    fn artifact_keys(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        self.artifacts
            .iter()
            .keys()
            .map(|key| key.map(|k| k.to_vec()).map_err(backend("artifact_keys")))
            .collect()
    }

    fn put_finding(&self, f: &FindingRecord) -> Result<(), StoreError> {
        let key = finding_key(&f.rule_id, &f.resource_id)?;
        let value = encode("finding", f)?;
        let mut index = self.write_finding_index();
        if let Err(e) = self.findings.insert(key, value) {
            // Whether the write happened is unknown: rebuild the index from sled.
            *index = None;
            return Err(backend("put_finding")(e));
        }
        if let Some(index) = index.as_mut() {
            index.insert(f);
        }
        Ok(())
    }

    fn get_finding(
        &self,
        rule_id: &str,
        resource_id: &str,
    ) -> Result<Option<FindingRecord>, StoreError> {
        let key = finding_key(rule_id, resource_id)?;
        match self.findings.get(&key).map_err(backend("get_finding"))? {
            Some(value) => decode(FINDINGS, &key, &value).map(Some),
            None => Ok(None),
        }
    }

    fn list_findings(&self, filter: &FindingFilter) -> Result<Vec<FindingRecord>, StoreError> {
        let prefix = match &filter.rule_id {
            Some(rule) => encode_prefix(&[("rule_id", rule)])?,
            None => Vec::new(),
        };
        if let Some(account) = &filter.account_id {
            check_component("account_id", account)?;
        }
        let mut out = Vec::new();
        for entry in self.findings.scan_prefix(&prefix) {
            let (key, value) = entry.map_err(backend("list_findings"))?;
            let finding: FindingRecord = decode(FINDINGS, &key, &value)?;
            let status_ok = filter.status.is_none_or(|s| s == finding.status);
            let account_ok = filter
                .account_id
                .as_ref()
                .is_none_or(|a| *a == finding.account_id);
            if status_ok && account_ok {
                out.push(finding);
            }
        }
        Ok(out)
    }

    fn delete_finding(&self, rule_id: &str, resource_id: &str) -> Result<bool, StoreError> {
        let key = finding_key(rule_id, resource_id)?;
        let mut index = self.write_finding_index();
        let old = match self.findings.remove(key) {
            Ok(old) => old,
            Err(e) => {
                *index = None;
                return Err(backend("delete_finding")(e));
            }
        };
        if let Some(index) = index.as_mut() {
            index.remove(rule_id, resource_id);
        }
        Ok(old.is_some())
    }

    fn append_finding_change(&self, c: &FindingChange) -> Result<(), StoreError> {
        let mut key = finding_key(&c.rule_id, &c.resource_id)?;
        key.push(KEY_SEPARATOR);
        key.extend_from_slice(time_component(c.at).as_bytes());
        let value = encode("finding change", c)?;
        self.finding_history
            .insert(key, value)
            .map_err(backend("append_finding_change"))?;
        Ok(())
    }

    fn finding_history(
        &self,
        rule_id: &str,
        resource_id: &str,
    ) -> Result<Vec<FindingChange>, StoreError> {
        let prefix = encode_prefix(&[("rule_id", rule_id), ("resource_id", resource_id)])?;
        decode_all(
            self.finding_history.scan_prefix(&prefix),
            FINDING_HISTORY,
            "finding_history",
        )
    }

    fn put_account(&self, a: &Account) -> Result<(), StoreError> {
        put_json(
            &self.accounts,
            "account",
            "put_account",
            ("name", &a.name),
            a,
        )
    }

    fn get_account(&self, name: &str) -> Result<Option<Account>, StoreError> {
        get_json(&self.accounts, ACCOUNTS, "get_account", ("name", name))
    }

    fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        list_json(&self.accounts, ACCOUNTS, "list_accounts")
    }

    fn delete_account(&self, name: &str) -> Result<bool, StoreError> {
        remove_key(&self.accounts, "delete_account", ("name", name))
    }

    fn put_scan(&self, s: &ScanRecord) -> Result<(), StoreError> {
        let key = encode_key(&[
            ("account_name", &s.account_name),
            ("started_at", &time_component(s.started_at)),
        ])?;
        let value = encode("scan", s)?;
        self.scans.insert(key, value).map_err(backend("put_scan"))?;
        Ok(())
    }

    fn last_scan(&self, account_name: &str) -> Result<Option<ScanRecord>, StoreError> {
        let prefix = encode_prefix(&[("account_name", account_name)])?;
        match self.scans.scan_prefix(&prefix).next_back() {
            Some(entry) => {
                let (key, value) = entry.map_err(backend("last_scan"))?;
                decode(SCANS, &key, &value).map(Some)
            }
            None => Ok(None),
        }
    }

    fn query_findings(&self, q: &FindingQuery) -> Result<FindingPage, StoreError> {
        check_finding_query(q)?;
        self.with_finding_index("query_findings", |index| {
            let selection = index.select(q);
            let mut findings = Vec::with_capacity(selection.keys.len());
            for k in &selection.keys {
                let key = finding_key(k.rule(), k.resource())?;
                match self.findings.get(&key).map_err(backend("query_findings"))? {
                    Some(value) => findings.push(decode(FINDINGS, &key, &value)?),
                    None => {
                        return Err(StoreError::Inconsistent {
                            tree: FINDINGS,
                            key: escape_key(&key),
                            detail: "finding in the index but not in the tree".into(),
                        });
                    }
                }
            }
            let next = match selection.keys.last() {
                Some(last) if selection.more => {
                    Some((last.rule().to_string(), last.resource().to_string()))
                }
                _ => None,
            };
            Ok(FindingPage {
                findings,
                total: selection.total,
                next,
            })
        })
    }

    fn summarize_findings(&self, q: &FindingQuery) -> Result<FindingSummary, StoreError> {
        check_finding_query(q)?;
        self.with_finding_index("summarize_findings", |index| Ok(index.summarize(q)))
    }

    fn delete_findings_of_rule(&self, rule_id: &str) -> Result<u64, StoreError> {
        let prefix = encode_prefix(&[("rule_id", rule_id)])?;
        let mut index = self.write_finding_index();
        let mut batch = Batch::default();
        let mut count = 0;
        for key in self.findings.scan_prefix(&prefix).keys() {
            batch.remove(key.map_err(backend("delete_findings_of_rule"))?);
            count += 1;
        }
        if let Err(e) = self.findings.apply_batch(batch) {
            *index = None;
            return Err(backend("delete_findings_of_rule")(e));
        }
        if let Some(index) = index.as_mut() {
            index.remove_rule(rule_id);
        }
        Ok(count)
    }

    fn query_resources(&self, q: &ResourceQuery) -> Result<ResourcePage, StoreError> {
        let (prefix, type_only) = match (&q.account_id, &q.resource_type) {
            (Some(account), Some(rtype)) => (
                encode_prefix(&[("account_id", account), ("resource_type", rtype)])?,
                None,
            ),
            (Some(account), None) => (encode_prefix(&[("account_id", account)])?, None),
            (None, Some(rtype)) => {
                check_component("resource_type", rtype)?;
                (Vec::new(), Some(rtype.as_bytes()))
            }
            (None, None) => (Vec::new(), None),
        };
        let start = match &q.after {
            Some((account, rtype, id)) => {
                let after = resource_key(account, rtype, id)?;
                // A cursor before the prefix starts at the prefix; one past it ends the scan.
                if after >= prefix {
                    Bound::Excluded(after)
                } else {
                    Bound::Included(prefix.clone())
                }
            }
            None => Bound::Included(prefix.clone()),
        };
        let mut resources: Vec<ResourceRecord> = Vec::new();
        let mut next = None;
        for entry in self.resources.range((start, Bound::Unbounded)) {
            let (key, value) = entry.map_err(backend("query_resources"))?;
            if !key.starts_with(&prefix) {
                break;
            }
            // Type and id sit in the key: filter there so other records are never decoded.
            if let Some(rtype) = type_only
                && key_component(&key, 1) != Some(rtype)
            {
                continue;
            }
            if let Some(glob) = &q.id_glob {
                let id = String::from_utf8_lossy(key_component(&key, 2).unwrap_or_default());
                if !glob_match(glob, &id) {
                    continue;
                }
            }
            let r: ResourceRecord = decode(RESOURCES, &key, &value)?;
            if (r.deleted_at.is_some() && !q.include_deleted)
                || q.region.as_ref().is_some_and(|region| *region != r.region)
            {
                continue;
            }
            if resources.len() == q.limit {
                // One match past the page: there is a next page, starting after its last record.
                next = resources.last().map(|last| {
                    (
                        last.account_id.clone(),
                        last.resource_type.clone(),
                        last.resource_id.clone(),
                    )
                });
                break;
            }
            resources.push(r);
        }
        Ok(ResourcePage { resources, next })
    }

    fn put_module_entry(
        &self,
        entry: &ModuleEntry,
        new_revision: Option<&ModuleRecord>,
    ) -> Result<(), StoreError> {
        let key = encode_key(&[("name", &entry.name)])?;
        let value = encode("module entry", entry)?;
        let module = match new_revision {
            Some(m) => {
                check_digest(&m.digest)?;
                Some((m.digest.as_bytes(), encode("module", &m.meta())?, &m.wasm))
            }
            None => None,
        };
        (&self.module_entries, &self.modules, &self.module_bytes)
            .transaction(|(entries, modules, bytes)| -> TxResult<()> {
                entries.insert(key.as_slice(), value.as_slice())?;
                // The same two writes as `put_module`.
                if let Some((digest, meta, wasm)) = &module {
                    modules.insert(*digest, meta.as_slice())?;
                    bytes.insert(*digest, wasm.as_slice())?;
                }
                Ok(())
            })
            .map_err(tx_error("put_module_entry"))
    }

    fn get_module_entry(&self, name: &str) -> Result<Option<ModuleEntry>, StoreError> {
        get_json(
            &self.module_entries,
            MODULE_ENTRIES,
            "get_module_entry",
            ("name", name),
        )
    }

    fn list_module_entries(&self) -> Result<Vec<ModuleEntry>, StoreError> {
        list_json(&self.module_entries, MODULE_ENTRIES, "list_module_entries")
    }

    fn delete_module_entry(&self, name: &str) -> Result<bool, StoreError> {
        let key = encode_key(&[("name", name)])?;
        let Some(entry) = self.get_module_entry(name)? else {
            return Ok(false);
        };
        // Read before the transaction (sled transactions cannot scan): module administration is
        // serialised by the caller, so no other entry starts using these digests meanwhile.
        let mut shared = HashSet::new();
        for other in self.list_module_entries()? {
            if other.name != name {
                shared.extend(other.revisions.into_iter().map(|r| r.digest));
            }
        }
        let orphans: BTreeSet<&str> = entry
            .revisions
            .iter()
            .map(|r| r.digest.as_str())
            .filter(|digest| !shared.contains(*digest))
            .collect();
        (&self.module_entries, &self.modules, &self.module_bytes)
            .transaction(|(entries, modules, bytes)| -> TxResult<bool> {
                let existed = entries.remove(key.as_slice())?.is_some();
                if existed {
                    for digest in &orphans {
                        modules.remove(digest.as_bytes())?;
                        bytes.remove(digest.as_bytes())?;
                    }
                }
                Ok(existed)
            })
            .map_err(tx_error("delete_module_entry"))
    }

    fn put_rule_toggle(&self, t: &RuleToggle) -> Result<(), StoreError> {
        put_json(
            &self.rule_toggles,
            "rule toggle",
            "put_rule_toggle",
            ("rule_id", &t.rule_id),
            t,
        )
    }

    fn list_rule_toggles(&self) -> Result<Vec<RuleToggle>, StoreError> {
        list_json(&self.rule_toggles, RULE_TOGGLES, "list_rule_toggles")
    }

    fn put_rule_settings(&self, r: &RuleSettingsRecord) -> Result<(), StoreError> {
        put_json(
            &self.rule_settings,
            "rule settings",
            "put_rule_settings",
            ("rule_id", &r.rule_id),
            r,
        )
    }

    fn list_rule_settings(&self) -> Result<Vec<RuleSettingsRecord>, StoreError> {
        list_json(&self.rule_settings, RULE_SETTINGS, "list_rule_settings")
    }

    fn put_suppression(&self, s: &Suppression) -> Result<(), StoreError> {
        put_json(
            &self.suppressions,
            "suppression",
            "put_suppression",
            ("id", &s.id),
            s,
        )
    }

    fn get_suppression(&self, id: &str) -> Result<Option<Suppression>, StoreError> {
        get_json(
            &self.suppressions,
            SUPPRESSIONS,
            "get_suppression",
            ("id", id),
        )
    }

    fn list_suppressions(&self) -> Result<Vec<Suppression>, StoreError> {
        list_json(&self.suppressions, SUPPRESSIONS, "list_suppressions")
    }

    fn delete_suppression(&self, id: &str) -> Result<bool, StoreError> {
        remove_key(&self.suppressions, "delete_suppression", ("id", id))
    }

    fn put_scan_job(&self, j: &ScanJob) -> Result<(), StoreError> {
        put_json(
            &self.scan_jobs,
            "scan job",
            "put_scan_job",
            ("id", &j.id),
            j,
        )
    }

    fn get_scan_job(&self, id: &str) -> Result<Option<ScanJob>, StoreError> {
        get_json(&self.scan_jobs, SCAN_JOBS, "get_scan_job", ("id", id))
    }

    fn list_scan_jobs(
        &self,
        account_name: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ScanJob>, StoreError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        for entry in self.scan_jobs.iter().rev() {
            let (key, value) = entry.map_err(backend("list_scan_jobs"))?;
            let job: ScanJob = decode(SCAN_JOBS, &key, &value)?;
            if account_name.is_none_or(|name| name == job.account_name) {
                out.push(job);
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn queue_put(&self, queue: Queue, key: &str, value: &[u8]) -> Result<(), StoreError> {
        check_component("queue key", key)?;
        self.queue(queue)
            .insert(key.as_bytes(), value)
            .map_err(backend("queue_put"))?;
        Ok(())
    }

    fn queue_insert_new(&self, queue: Queue, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        check_component("queue key", key)?;
        let swapped = self
            .queue(queue)
            .compare_and_swap(key.as_bytes(), None::<&[u8]>, Some(value))
            .map_err(backend("queue_insert_new"))?;
        Ok(swapped.is_ok())
    }

    fn queue_get(&self, queue: Queue, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_component("queue key", key)?;
        Ok(self
            .queue(queue)
            .get(key.as_bytes())
            .map_err(backend("queue_get"))?
            .map(|v| v.to_vec()))
    }

    fn queue_list(&self, queue: Queue, limit: usize) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.queue(queue)
            .iter()
            .take(limit)
            .map(|entry| {
                let (key, value) = entry.map_err(backend("queue_list"))?;
                let key = String::from_utf8(key.to_vec())
                    .map_err(|_| StoreError::InvalidKey(escape_key(&key)))?;
                Ok((key, value.to_vec()))
            })
            .collect()
    }

    fn queue_remove(&self, queue: Queue, key: &str) -> Result<bool, StoreError> {
        check_component("queue key", key)?;
        Ok(self
            .queue(queue)
            .remove(key.as_bytes())
            .map_err(backend("queue_remove"))?
            .is_some())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(backend("flush"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{
        FindingState, FindingStatus, ModuleRevision, ScanProgress, ScanState, ScanTrigger,
    };
    use super::*;
    use serde_json::json;
    use std::sync::Arc;
    use time::macros::datetime;
    use time::{OffsetDateTime, UtcOffset};

    const T0: OffsetDateTime = datetime!(2025-03-01 12:00:00 UTC);
    const T1: OffsetDateTime = datetime!(2025-03-02 08:30:15.123456789 UTC);

    fn store() -> SledStore {
        SledStore::temporary().expect("temporary store")
    }

    #[test]
    fn queues_keep_entries_apart_in_key_order_and_insert_new_is_exclusive() {
        let s = store();
        let q = Queue::EventTargets;
        assert!(s.queue_insert_new(q, "b", b"1").unwrap());
        assert!(
            !s.queue_insert_new(q, "b", b"2").unwrap(),
            "the key is taken"
        );
        s.queue_put(q, "a", b"0").unwrap();
        s.queue_put(Queue::Alerts, "a", b"other").unwrap();
        let listed = s.queue_list(q, usize::MAX).unwrap();
        assert_eq!(
            listed,
            vec![
                ("a".to_owned(), b"0".to_vec()),
                ("b".to_owned(), b"1".to_vec())
            ]
        );
        assert_eq!(s.queue_list(q, 1).unwrap().len(), 1);
        assert_eq!(
            s.queue_get(Queue::Alerts, "a").unwrap().as_deref(),
            Some(&b"other"[..])
        );
        assert!(s.queue_remove(q, "a").unwrap());
        assert!(!s.queue_remove(q, "a").unwrap());
        assert_eq!(s.queue_get(q, "a").unwrap(), None);
        assert!(matches!(
            s.queue_put(q, "", b"x"),
            Err(StoreError::InvalidKey(_))
        ));
    }

    #[test]
    fn queue_json_records_round_trip_and_report_corruption() {
        let s = store();
        let q = Queue::RejectedMessages;
        super::super::queue_put_json(&s, q, "m1", &json!({"id": "m1"})).unwrap();
        let listed = super::super::queue_list_json::<serde_json::Value>(&s, q, 10).unwrap();
        assert_eq!(listed, vec![("m1".to_owned(), json!({"id": "m1"}))]);
        s.queue_put(q, "m2", b"not json").unwrap();
        let err = super::super::queue_list_json::<serde_json::Value>(&s, q, 10).unwrap_err();
        assert!(err.to_string().contains("rejected_messages"), "{err}");
    }

    fn resource(account: &str, rtype: &str, id: &str) -> ResourceRecord {
        ResourceRecord {
            account_id: account.into(),
            resource_type: rtype.into(),
            resource_id: id.into(),
            region: "eu-west-1".into(),
            document: json!({ "id": id, "tags": { "env": "prod" }, "size": 3 }),
            updated_at: T0,
            deleted_at: None,
        }
    }

    fn finding(
        rule: &str,
        resource_id: &str,
        account: &str,
        status: FindingStatus,
    ) -> FindingRecord {
        FindingRecord {
            rule_id: rule.into(),
            resource_id: resource_id.into(),
            account_id: account.into(),
            resource_type: "aws::s3::bucket".into(),
            region: "us-east-1".into(),
            status,
            message: Some(format!("{rule} on {resource_id}")),
            severity: "high".into(),
            first_seen: T0,
            last_seen: T1,
            status_changed_at: T1,
            closed_at: None,
        }
    }

    /// A syntactically valid digest made from one repeated hex digit.
    fn digest(c: char) -> String {
        std::iter::repeat_n(c, 64).collect()
    }

    fn module(c: char, len: usize) -> ModuleRecord {
        ModuleRecord {
            digest: digest(c),
            name: format!("pack-{c}"),
            wasm: (0..len).map(|i| (i * 31 % 251) as u8).collect(),
            added_at: T1,
        }
    }

    fn ids(records: &[ResourceRecord]) -> Vec<(&str, &str, &str)> {
        records
            .iter()
            .map(|r| {
                (
                    r.account_id.as_str(),
                    r.resource_type.as_str(),
                    r.resource_id.as_str(),
                )
            })
            .collect()
    }

    fn finding_ids(records: &[FindingRecord]) -> Vec<(&str, &str)> {
        records
            .iter()
            .map(|f| (f.rule_id.as_str(), f.resource_id.as_str()))
            .collect()
    }

    fn invalid<T>(r: Result<T, StoreError>) -> bool {
        matches!(r, Err(StoreError::InvalidKey(_)))
    }

    /// Asserts `r` is a `Corrupt` error in tree `want` and returns its escaped key.
    fn corrupt<T>(r: Result<T, StoreError>, want: &str) -> String {
        match r {
            Err(StoreError::Corrupt { tree, key, .. }) => {
                assert_eq!(tree, want);
                key
            }
            Err(other) => panic!("expected Corrupt, got {other}"),
            Ok(_) => panic!("expected Corrupt, got Ok"),
        }
    }

    #[test]
    fn resource_round_trip() {
        let s = store();
        let mut r = resource("1234", "aws::s3::bucket", "logs");
        r.updated_at = T1;
        r.deleted_at = Some(T1.to_offset(UtcOffset::from_hms(2, 0, 0).expect("offset")));
        s.put_resource(&r).expect("put");
        let got = s
            .get_resource("1234", "aws::s3::bucket", "logs")
            .expect("get")
            .expect("present");
        assert_eq!(got, r);
        assert_eq!(got.updated_at.nanosecond(), 123_456_789);
        assert!(
            s.get_resource("1234", "aws::s3::bucket", "other")
                .expect("get")
                .is_none()
        );
    }

    #[test]
    fn records_are_json_with_rfc3339_timestamps() {
        let s = store();
        s.put_resource(&resource("1234", "t", "r")).expect("put");
        s.put_finding(&finding("rule", "r", "1234", FindingStatus::Fail))
            .expect("put");
        let raw = s
            .resources
            .get(b"1234\0t\0r")
            .expect("raw get")
            .expect("present");
        let v: serde_json::Value = serde_json::from_slice(&raw).expect("json");
        assert_eq!(v["updated_at"], "2025-03-01T12:00:00Z");
        assert_eq!(v["deleted_at"], serde_json::Value::Null);
        assert_eq!(v["document"]["tags"]["env"], "prod");
        let raw = s
            .findings
            .get(b"rule\0r")
            .expect("raw get")
            .expect("present");
        let v: serde_json::Value = serde_json::from_slice(&raw).expect("json");
        assert_eq!(v["status"], "fail");
        assert_eq!(v["last_seen"], "2025-03-02T08:30:15.123456789Z");
    }

    #[test]
    fn resource_upsert_replaces() {
        let s = store();
        s.put_resource(&resource("1234", "t", "r")).expect("put");
        let mut updated = resource("1234", "t", "r");
        updated.document = json!({ "replaced": true });
        updated.updated_at = T1;
        s.put_resource(&updated).expect("put again");
        assert_eq!(
            s.get_resource("1234", "t", "r").expect("get"),
            Some(updated)
        );
        assert_eq!(
            s.list_resources(&ResourceFilter::default())
                .expect("list")
                .len(),
            1
        );
        assert_eq!(s.resource_ids.len(), 1);
    }

    #[test]
    fn find_resource_by_id() {
        let s = store();
        let r = resource("1234", "aws::ec2::instance", "i-0abc");
        s.put_resource(&r).expect("put");
        s.put_resource(&resource("1234", "aws::ec2::instance", "i-0abcd"))
            .expect("put");
        s.put_resource(&resource("12345", "aws::ec2::volume", "i-0abc"))
            .expect("put");
        assert_eq!(s.find_resource("1234", "i-0abc").expect("find"), Some(r));
        assert_eq!(
            s.find_resource("12345", "i-0abc")
                .expect("find")
                .map(|r| r.resource_type),
            Some("aws::ec2::volume".to_string())
        );
        assert!(s.find_resource("1234", "i-0ab").expect("find").is_none());
        assert!(s.find_resource("123", "i-0abc").expect("find").is_none());
    }

    #[test]
    fn find_resource_with_id_shared_by_two_types() {
        let s = store();
        s.put_resource(&resource("1", "b-type", "shared"))
            .expect("put");
        s.put_resource(&resource("1", "a-type", "shared"))
            .expect("put");
        let found = s.find_resource("1", "shared").expect("find").expect("some");
        assert_eq!(found.resource_type, "a-type");
        assert!(s.delete_resource("1", "a-type", "shared").expect("delete"));
        let found = s.find_resource("1", "shared").expect("find").expect("some");
        assert_eq!(found.resource_type, "b-type");
    }

    #[test]
    fn delete_resource_removes_index_too() {
        let s = store();
        s.put_resource(&resource("1234", "t", "r")).expect("put");
        s.put_resource(&resource("1234", "t", "keep")).expect("put");
        assert_eq!(s.resource_ids.len(), 2);
        assert!(s.delete_resource("1234", "t", "r").expect("delete"));
        assert!(s.get_resource("1234", "t", "r").expect("get").is_none());
        assert!(s.find_resource("1234", "r").expect("find").is_none());
        assert_eq!(s.resource_ids.len(), 1);
        assert!(
            s.resource_ids
                .get(b"1234\0r\0t")
                .expect("raw get")
                .is_none()
        );
        assert!(!s.delete_resource("1234", "t", "r").expect("delete again"));
        assert!(s.find_resource("1234", "keep").expect("find").is_some());
    }

    #[test]
    fn list_resources_filters_by_account_and_type() {
        let s = store();
        for (account, rtype, id) in [
            ("1234", "aws::s3::bucket", "a"),
            ("1234", "aws::s3::bucket", "b"),
            ("1234", "aws::s3::bucketpolicy", "c"),
            ("1234", "aws::iam::role", "d"),
            ("12345", "aws::s3::bucket", "e"),
            ("123", "aws::s3::bucket", "f"),
        ] {
            s.put_resource(&resource(account, rtype, id)).expect("put");
        }
        let all = s.list_resources(&ResourceFilter::default()).expect("list");
        assert_eq!(all.len(), 6);

        let by_account = s
            .list_resources(&ResourceFilter {
                account_id: Some("1234".into()),
                resource_type: None,
            })
            .expect("list");
        assert_eq!(
            ids(&by_account),
            [
                ("1234", "aws::iam::role", "d"),
                ("1234", "aws::s3::bucket", "a"),
                ("1234", "aws::s3::bucket", "b"),
                ("1234", "aws::s3::bucketpolicy", "c"),
            ]
        );

        let by_type = s
            .list_resources(&ResourceFilter {
                account_id: Some("1234".into()),
                resource_type: Some("aws::s3::bucket".into()),
            })
            .expect("list");
        assert_eq!(
            ids(&by_type),
            [
                ("1234", "aws::s3::bucket", "a"),
                ("1234", "aws::s3::bucket", "b")
            ]
        );

        let longer = s
            .list_resources(&ResourceFilter {
                account_id: Some("12345".into()),
                resource_type: None,
            })
            .expect("list");
        assert_eq!(ids(&longer), [("12345", "aws::s3::bucket", "e")]);

        let type_everywhere = s
            .list_resources(&ResourceFilter {
                account_id: None,
                resource_type: Some("aws::s3::bucket".into()),
            })
            .expect("list");
        assert_eq!(
            ids(&type_everywhere),
            [
                ("123", "aws::s3::bucket", "f"),
                ("1234", "aws::s3::bucket", "a"),
                ("1234", "aws::s3::bucket", "b"),
                ("12345", "aws::s3::bucket", "e"),
            ]
        );

        let none = s
            .list_resources(&ResourceFilter {
                account_id: Some("999".into()),
                resource_type: None,
            })
            .expect("list");
        assert!(none.is_empty());
    }

    #[test]
    fn key_components_with_nul_or_empty_are_rejected() {
        let s = store();

        // ("a\0b", "c") and ("a", "b\0c") would both encode to a\0b\0c: neither is accepted.
        assert!(invalid(encode_key(&[("x", "a\0b"), ("y", "c")])));
        assert!(invalid(encode_key(&[("x", "a"), ("y", "b\0c")])));
        assert_eq!(
            encode_key(&[("x", "a"), ("y", "b")]).expect("valid"),
            b"a\0b"
        );

        assert!(invalid(s.put_resource(&resource("a\0b", "c", "d"))));
        assert!(invalid(s.put_resource(&resource("a", "b\0c", "d"))));
        assert!(invalid(s.put_resource(&resource("a", "b", "c\0d"))));
        assert!(invalid(s.put_resource(&resource("", "b", "c"))));
        assert!(invalid(s.put_resource(&resource("a", "", "c"))));
        assert!(invalid(s.put_resource(&resource("a", "b", ""))));
        assert!(invalid(s.get_resource("a\0b", "c", "d")));
        assert!(invalid(s.find_resource("a", "b\0c")));
        assert!(invalid(s.delete_resource("a", "b", "")));
        assert!(invalid(s.list_resources(&ResourceFilter {
            account_id: Some("a\0".into()),
            resource_type: None,
        })));
        assert!(invalid(s.list_resources(&ResourceFilter {
            account_id: None,
            resource_type: Some(String::new()),
        })));
        assert!(invalid(s.put_finding(&finding(
            "r\0x",
            "y",
            "1",
            FindingStatus::Pass
        ))));
        assert!(invalid(s.get_finding("r", "x\0y")));
        assert!(invalid(s.delete_finding("", "y")));
        assert!(invalid(s.list_findings(&FindingFilter {
            rule_id: Some("\0".into()),
            ..FindingFilter::default()
        })));
        assert!(invalid(s.put_artifact(b"", b"x")));
        assert!(invalid(s.get_module("ABC")));
        assert!(invalid(s.put_module(&ModuleRecord {
            digest: digest('A'),
            ..module('a', 4)
        })));
        assert!(invalid(s.delete_module(&digest('0')[1..])));

        assert!(s.resources.is_empty());
        assert!(s.resource_ids.is_empty());
        assert!(s.findings.is_empty());
        assert!(s.modules.is_empty());
    }

    #[test]
    fn finding_round_trip_upsert_and_delete() {
        let s = store();
        let mut f = finding(
            "s3-public",
            "arn:aws:s3:::logs",
            "1234",
            FindingStatus::Fail,
        );
        f.message = None;
        s.put_finding(&f).expect("put");
        assert_eq!(
            s.get_finding("s3-public", "arn:aws:s3:::logs")
                .expect("get"),
            Some(f.clone())
        );
        f.status = FindingStatus::Pass;
        f.message = Some("fixed".into());
        s.put_finding(&f).expect("put again");
        assert_eq!(
            s.get_finding("s3-public", "arn:aws:s3:::logs")
                .expect("get"),
            Some(f)
        );
        assert_eq!(s.findings.len(), 1);
        assert!(
            s.delete_finding("s3-public", "arn:aws:s3:::logs")
                .expect("delete")
        );
        assert!(
            !s.delete_finding("s3-public", "arn:aws:s3:::logs")
                .expect("delete")
        );
        assert!(
            s.get_finding("s3-public", "arn:aws:s3:::logs")
                .expect("get")
                .is_none()
        );
    }

    #[test]
    fn list_findings_by_rule_status_and_account() {
        let s = store();
        for f in [
            finding("r1", "x", "1234", FindingStatus::Fail),
            finding("r1", "y", "12345", FindingStatus::Pass),
            finding("r1", "z", "1234", FindingStatus::Error),
            finding("r10", "x", "1234", FindingStatus::Fail),
            finding("r2", "x", "1234", FindingStatus::Fail),
        ] {
            s.put_finding(&f).expect("put");
        }
        let list = |filter: FindingFilter| s.list_findings(&filter).expect("list");

        assert_eq!(list(FindingFilter::default()).len(), 5);
        assert_eq!(
            finding_ids(&list(FindingFilter {
                rule_id: Some("r1".into()),
                ..FindingFilter::default()
            })),
            [("r1", "x"), ("r1", "y"), ("r1", "z")]
        );
        assert_eq!(
            finding_ids(&list(FindingFilter {
                status: Some(FindingStatus::Fail),
                ..FindingFilter::default()
            })),
            [("r1", "x"), ("r10", "x"), ("r2", "x")]
        );
        assert_eq!(
            finding_ids(&list(FindingFilter {
                rule_id: Some("r1".into()),
                status: Some(FindingStatus::Error),
                account_id: None,
            })),
            [("r1", "z")]
        );
        assert_eq!(
            finding_ids(&list(FindingFilter {
                rule_id: Some("r1".into()),
                status: None,
                account_id: Some("1234".into()),
            })),
            [("r1", "x"), ("r1", "z")]
        );
        assert!(
            list(FindingFilter {
                rule_id: Some("r3".into()),
                ..FindingFilter::default()
            })
            .is_empty()
        );
    }

    #[test]
    fn finding_history_is_kept_in_time_order_per_finding() {
        let store = store();
        let change = |rule: &str, at, to| FindingChange {
            rule_id: rule.into(),
            resource_id: "r1".into(),
            at,
            from: None,
            to,
            message: None,
        };
        // Written out of order, and with a second finding interleaved.
        store
            .append_finding_change(&change("R", T1, FindingState::Pass))
            .unwrap();
        store
            .append_finding_change(&change("R", T0, FindingState::Fail))
            .unwrap();
        store
            .append_finding_change(&change("R2", T0, FindingState::Error))
            .unwrap();
        let history = store.finding_history("R", "r1").unwrap();
        let states: Vec<_> = history.iter().map(|c| (c.at, c.to)).collect();
        assert_eq!(states, [(T0, FindingState::Fail), (T1, FindingState::Pass)]);
        assert!(store.finding_history("R", "r2").unwrap().is_empty());
    }

    #[test]
    fn accounts_and_last_scan() {
        let store = store();
        let account = |name: &str| crate::account::Account {
            name: name.into(),
            account_id: "123456789012".into(),
            role_arn: "arn:aws:iam::123456789012:role/PalisadeAudit".into(),
            external_id: None,
            excluded_regions: vec![],
            excluded_resource_types: vec![],
            excluded_resources: vec![],
            scan_interval_hours: None,
            added_at: T0,
        };
        store.put_account(&account("prod")).unwrap();
        store.put_account(&account("dev")).unwrap();
        let names: Vec<_> = store
            .list_accounts()
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(names, ["dev", "prod"]);
        assert_eq!(store.get_account("prod").unwrap(), Some(account("prod")));
        let scan = |at, calls| ScanRecord {
            account_name: "prod".into(),
            account_id: "123456789012".into(),
            started_at: at,
            finished_at: at,
            regions: vec!["us-east-1".into()],
            resources: Default::default(),
            changed: 0,
            deleted: 0,
            evaluated: 0,
            evaluated_all: true,
            failing: Default::default(),
            errors: 0,
            api_calls: calls,
            ruleset: "x".into(),
            issues: vec![],
            unsupported: Default::default(),
        };
        assert_eq!(store.last_scan("prod").unwrap(), None);
        store.put_scan(&scan(T1, 2)).unwrap();
        store.put_scan(&scan(T0, 1)).unwrap();
        assert_eq!(
            store.last_scan("prod").unwrap().map(|s| s.api_calls),
            Some(2)
        );
        assert_eq!(store.last_scan("dev").unwrap(), None);
        assert!(store.delete_account("prod").unwrap());
        assert!(!store.delete_account("prod").unwrap());
        assert_eq!(store.get_account("prod").unwrap(), None);
    }

    #[test]
    fn module_bytes_live_outside_the_json() {
        let s = store();
        let big = module('a', 1 << 20);
        let small = module('b', 17);
        s.put_module(&big).expect("put big");
        s.put_module(&small).expect("put small");

        let metas = s.list_modules().expect("list");
        assert_eq!(metas, [big.meta(), small.meta()]);
        assert_eq!(metas[0].size, 1 << 20);

        let raw_meta = s
            .modules
            .get(big.digest.as_bytes())
            .expect("raw get")
            .expect("present");
        assert!(raw_meta.len() < 512, "metadata is {} bytes", raw_meta.len());
        let raw_bytes = s
            .module_bytes
            .get(big.digest.as_bytes())
            .expect("raw get")
            .expect("present");
        assert_eq!(raw_bytes.len(), 1 << 20);
        assert!(raw_bytes == big.wasm.as_slice());

        let got = s.get_module(&big.digest).expect("get").expect("present");
        assert!(got.wasm == big.wasm, "bytes differ");
        assert_eq!(got, big);
        assert_eq!(s.get_module(&digest('c')).expect("get"), None);
    }

    #[test]
    fn module_upsert_and_delete() {
        let s = store();
        let m = module('d', 64);
        s.put_module(&m).expect("put");
        let renamed = ModuleRecord {
            name: "renamed".into(),
            wasm: vec![1, 2, 3],
            ..m.clone()
        };
        s.put_module(&renamed).expect("put again");
        assert_eq!(s.get_module(&m.digest).expect("get"), Some(renamed));
        assert_eq!(s.list_modules().expect("list").len(), 1);
        assert!(s.delete_module(&m.digest).expect("delete"));
        assert!(!s.delete_module(&m.digest).expect("delete again"));
        assert!(s.get_module(&m.digest).expect("get").is_none());
        assert!(s.module_bytes.is_empty());
        assert!(s.list_modules().expect("list").is_empty());
    }

    #[test]
    fn module_without_bytes_is_inconsistent() {
        let s = store();
        let m = module('e', 8);
        s.put_module(&m).expect("put");
        s.module_bytes
            .remove(m.digest.as_bytes())
            .expect("raw remove");
        let err = s.get_module(&m.digest).expect_err("must fail");
        assert!(
            matches!(
                err,
                StoreError::Inconsistent {
                    tree: MODULE_BYTES,
                    ..
                }
            ),
            "{err}"
        );
        s.module_bytes
            .insert(m.digest.as_bytes(), &[1u8, 2][..])
            .expect("raw insert");
        let err = s.get_module(&m.digest).expect_err("must fail");
        assert!(err.to_string().contains("size 8"), "{err}");
    }

    #[test]
    fn artifacts_round_trip() {
        let s = store();
        let key = b"cwasm\0aarch64\xff";
        assert_eq!(s.get_artifact(key).expect("get"), None);
        s.put_artifact(key, b"compiled").expect("put");
        s.put_artifact(b"cwasm", b"other").expect("put");
        assert_eq!(
            s.artifact_keys().expect("keys"),
            vec![b"cwasm".to_vec(), key.to_vec()]
        );
        assert_eq!(
            s.get_artifact(key).expect("get").as_deref(),
            Some(&b"compiled"[..])
        );
        s.put_artifact(key, b"recompiled").expect("put again");
        assert_eq!(
            s.get_artifact(key).expect("get").as_deref(),
            Some(&b"recompiled"[..])
        );
        s.delete_artifact(key).expect("delete");
        s.delete_artifact(key).expect("delete is idempotent");
        assert_eq!(s.get_artifact(key).expect("get"), None);
        assert_eq!(
            s.get_artifact(b"cwasm").expect("get").as_deref(),
            Some(&b"other"[..])
        );
    }

    #[test]
    fn data_survives_close_and_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested").join("db");
        let r = resource("1234", "t", "r");
        let m = module('f', 4096);
        let f = finding("rule", "r", "1234", FindingStatus::Error);
        {
            let s = SledStore::open(&path).expect("open");
            s.put_resource(&r).expect("put");
            s.put_module(&m).expect("put");
            s.put_artifact(b"k", b"v").expect("put");
            s.put_finding(&f).expect("put");
            s.flush().expect("flush");
        }
        let s = SledStore::open(&path).expect("reopen");
        assert_eq!(
            s.get_resource("1234", "t", "r").expect("get"),
            Some(r.clone())
        );
        assert_eq!(s.find_resource("1234", "r").expect("find"), Some(r));
        assert_eq!(s.get_module(&m.digest).expect("get"), Some(m));
        assert_eq!(s.get_artifact(b"k").expect("get"), Some(b"v".to_vec()));
        assert_eq!(s.get_finding("rule", "r").expect("get"), Some(f));
    }

    #[test]
    fn open_reports_the_path_on_failure() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"x").expect("write");
        let err = SledStore::open(&file.join("db")).expect_err("must fail");
        assert!(matches!(err, StoreError::Open { .. }), "{err}");
        assert!(err.to_string().contains("not-a-dir"), "{err}");
    }

    #[test]
    fn open_fails_while_another_handle_holds_the_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _held = SledStore::open(dir.path()).expect("open");
        let started = Instant::now();
        let err = SledStore::open(dir.path()).expect_err("locked");
        assert!(matches!(err, StoreError::Open { .. }), "{err}");
        assert!(err.to_string().contains("lock"), "{err}");
        assert!(started.elapsed() >= LOCK_RETRY_FOR);
    }

    #[test]
    fn corrupt_json_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let s = SledStore::open(dir.path()).expect("open");
            s.put_resource(&resource("1234", "t", "good")).expect("put");
            s.flush().expect("flush");
        }
        {
            // Write garbage straight into the database's trees, past the store's encoding. (Through
            // the store's own handle: a second raw `sled::open` right after a close can still see
            // the closed handle's lock and fail, which made this test flaky.)
            let store = SledStore::open(dir.path()).expect("open");
            let db = &store.db;
            let tree = db.open_tree(RESOURCES).expect("tree");
            tree.insert(b"1234\0t\0bad", &b"{not json"[..])
                .expect("raw insert");
            db.open_tree(RESOURCE_IDS)
                .expect("tree")
                .insert(b"1234\0bad\0t", &b"t"[..])
                .expect("raw insert");
            db.open_tree(FINDINGS)
                .expect("tree")
                .insert(b"rule\0bad", &br#"{"rule_id":"rule"}"#[..])
                .expect("raw insert");
            db.open_tree(MODULES)
                .expect("tree")
                .insert(digest('9').as_bytes(), &b"\xff\xfe"[..])
                .expect("raw insert");
            db.open_tree(MODULE_BYTES)
                .expect("tree")
                .insert(digest('9').as_bytes(), &b"wasm"[..])
                .expect("raw insert");
            db.flush().expect("flush");
        }
        let s = SledStore::open(dir.path()).expect("reopen");
        assert_eq!(
            corrupt(s.get_resource("1234", "t", "bad"), RESOURCES),
            "1234\\x00t\\x00bad"
        );
        corrupt(s.find_resource("1234", "bad"), RESOURCES);
        corrupt(s.list_resources(&ResourceFilter::default()), RESOURCES);
        corrupt(s.get_finding("rule", "bad"), FINDINGS);
        corrupt(s.list_findings(&FindingFilter::default()), FINDINGS);
        corrupt(s.query_findings(&FindingQuery::default()), FINDINGS);
        corrupt(s.summarize_findings(&FindingQuery::default()), FINDINGS);
        corrupt(s.get_module(&digest('9')), MODULES);
        corrupt(s.list_modules(), MODULES);
        // The good record next to the garbage is still readable.
        assert!(s.get_resource("1234", "t", "good").expect("get").is_some());
        let err = s.get_resource("1234", "t", "bad").expect_err("corrupt");
        assert!(err.to_string().contains("resources"), "{err}");
    }

    #[test]
    fn unencodable_timestamp_is_an_error_not_a_panic() {
        let s = store();
        let mut r = resource("1", "t", "r");
        // RFC 3339 offsets have no seconds field.
        r.updated_at = T0.to_offset(UtcOffset::from_hms(1, 0, 30).expect("offset"));
        let err = s.put_resource(&r).expect_err("must fail");
        assert!(
            matches!(
                err,
                StoreError::Encode {
                    what: "resource",
                    ..
                }
            ),
            "{err}"
        );
        assert!(s.resources.is_empty());
    }

    #[test]
    fn usable_as_shared_trait_object_across_threads() {
        let s: Arc<dyn Store> = Arc::new(store());
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let s = Arc::clone(&s);
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let r = resource(&format!("acct{t}"), "t", &format!("r{i}"));
                        s.put_resource(&r).expect("put");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }
        assert_eq!(
            s.list_resources(&ResourceFilter::default())
                .expect("list")
                .len(),
            200
        );
        assert_eq!(
            s.list_resources(&ResourceFilter {
                account_id: Some("acct2".into()),
                resource_type: Some("t".into()),
            })
            .expect("list")
            .len(),
            50
        );
        assert!(s.find_resource("acct3", "r49").expect("find").is_some());
        s.flush().expect("flush");
    }

    // ---- findings index: query_findings, summarize_findings, delete_findings_of_rule ----

    const RULES: [&str; 4] = ["r1", "r10", "r2", "s"];
    const ACCOUNTS: [&str; 3] = ["1234", "12345", "9"];
    const TYPES: [&str; 2] = ["aws::s3::bucket", "aws::iam::role"];
    const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "global"];
    const SEVERITIES: [&str; 3] = ["high", "low", "critical"];
    const STATUSES: [FindingStatus; 4] = [
        FindingStatus::Pass,
        FindingStatus::Fail,
        FindingStatus::Error,
        FindingStatus::Suppressed,
    ];

    /// The `i`-th finding of a deterministic, varied set (every filter value occurs, with
    /// overlaps); every seventh one is closed.
    fn varied(i: usize) -> FindingRecord {
        let mut f = finding(
            RULES[i % RULES.len()],
            &format!("res-{:05}", i * 7919 % 100_003),
            ACCOUNTS[i / 3 % ACCOUNTS.len()],
            STATUSES[i / 2 % STATUSES.len()],
        );
        f.resource_type = TYPES[i / 5 % TYPES.len()].into();
        f.region = REGIONS[i / 11 % REGIONS.len()].into();
        f.severity = SEVERITIES[i / 7 % SEVERITIES.len()].into();
        if i % 7 == 3 {
            f.closed_at = Some(T1);
        }
        f
    }

    fn query() -> FindingQuery {
        FindingQuery {
            limit: 100,
            ..FindingQuery::default()
        }
    }

    /// The keys `q` selects (ignoring `after` and `limit`), by brute force over every finding.
    fn expected(s: &SledStore, q: &FindingQuery) -> Vec<(String, String)> {
        s.list_findings(&FindingFilter::default())
            .expect("list")
            .into_iter()
            .filter(|f| {
                (q.include_closed || f.closed_at.is_none())
                    && (q.statuses.is_empty() || q.statuses.contains(&f.status))
                    && (q.severities.is_empty() || q.severities.contains(&f.severity))
                    && q.rule_id.as_ref().is_none_or(|r| *r == f.rule_id)
                    && q.account_id.as_ref().is_none_or(|a| *a == f.account_id)
                    && q.resource_type
                        .as_ref()
                        .is_none_or(|t| *t == f.resource_type)
                    && q.region.as_ref().is_none_or(|r| *r == f.region)
            })
            .map(|f| (f.rule_id, f.resource_id))
            .collect()
    }

    /// Walks every page of `q` (from its `after`), checking `total` and `next` on each page;
    /// returns the keys of every finding returned, in order.
    fn walk_pages(s: &SledStore, q: &FindingQuery) -> Vec<(String, String)> {
        let total = expected(s, q).len() as u64;
        let mut q = q.clone();
        let mut keys = Vec::new();
        loop {
            let page = s.query_findings(&q).expect("query");
            assert_eq!(page.total, total, "{q:?}");
            assert!(page.findings.len() <= q.limit);
            keys.extend(
                page.findings
                    .iter()
                    .map(|f| (f.rule_id.clone(), f.resource_id.clone())),
            );
            match page.next {
                Some(next) => {
                    assert_eq!(page.findings.len(), q.limit);
                    assert_eq!(Some(&next), keys.last());
                    q.after = Some(next);
                }
                None => return keys,
            }
        }
    }

    /// Asserts that every page of `q` together returns exactly what a full scan selects.
    fn assert_query_agrees(s: &SledStore, q: &FindingQuery) {
        assert_eq!(walk_pages(s, q), expected(s, q), "{q:?}");
    }

    /// Every filter, alone and combined, on a few page sizes.
    fn assert_index_agrees(s: &SledStore) {
        let mut queries = vec![query()];
        for include_closed in [false, true] {
            for rule in [None, Some("r1"), Some("r10"), Some("s"), Some("r3")] {
                for account in [None, Some("1234"), Some("999")] {
                    queries.push(FindingQuery {
                        rule_id: rule.map(Into::into),
                        account_id: account.map(Into::into),
                        include_closed,
                        limit: 7,
                        ..query()
                    });
                }
            }
            queries.push(FindingQuery {
                statuses: vec![FindingStatus::Fail, FindingStatus::Suppressed],
                severities: vec!["high".into(), "unheard-of".into()],
                resource_type: Some("aws::iam::role".into()),
                include_closed,
                limit: 5,
                ..query()
            });
            queries.push(FindingQuery {
                statuses: vec![FindingStatus::Error],
                rule_id: Some("r2".into()),
                account_id: Some("12345".into()),
                include_closed,
                limit: 1,
                ..query()
            });
            for region in ["us-east-1", "global", "ap-south-2"] {
                queries.push(FindingQuery {
                    region: Some(region.into()),
                    statuses: vec![FindingStatus::Fail],
                    include_closed,
                    limit: 9,
                    ..query()
                });
            }
        }
        for q in &queries {
            assert_query_agrees(s, q);
        }
        let index_len = s
            .finding_index
            .read()
            .expect("lock")
            .as_ref()
            .map(FindingIndex::len);
        assert_eq!(index_len, Some(s.findings.len()));
    }

    #[test]
    fn query_findings_pages_walk_every_match_once() {
        let s = store();
        for i in 0..200 {
            s.put_finding(&varied(i)).expect("put");
        }
        let all = expected(&s, &query());
        assert!(all.len() > 150, "{}", all.len());
        for limit in [1, 2, 7, 100, 1000] {
            let q = FindingQuery { limit, ..query() };
            let keys = walk_pages(&s, &q);
            assert_eq!(keys, all, "limit {limit}");
        }
        // A limit of 0 counts only.
        let page = s
            .query_findings(&FindingQuery {
                limit: 0,
                ..query()
            })
            .expect("query");
        assert_eq!(
            (page.findings.len(), page.total, page.next),
            (0, all.len() as u64, None)
        );
        // A cursor that names no finding (deleted since) still resumes in order.
        let (rule, resource) = all[10].clone();
        s.delete_finding(&rule, &resource).expect("delete");
        let page = s
            .query_findings(&FindingQuery {
                after: Some((rule, resource)),
                limit: 3,
                ..query()
            })
            .expect("query");
        assert_eq!(finding_ids(&page.findings), {
            let want: Vec<_> = all[11..14]
                .iter()
                .map(|(r, x)| (r.as_str(), x.as_str()))
                .collect();
            want
        });
        assert_eq!(page.total, all.len() as u64 - 1);
        // A cursor inside a rule's range, with a rule filter: pages stay within the rule.
        let q = FindingQuery {
            rule_id: Some("r1".into()),
            after: Some(("r".into(), "zzz".into())),
            limit: 4,
            ..query()
        };
        assert_eq!(
            walk_pages(&s, &q),
            expected(&s, &FindingQuery { after: None, ..q })
        );
        let past = FindingQuery {
            rule_id: Some("r1".into()),
            after: Some(("r10".into(), "a".into())),
            ..query()
        };
        let page = s.query_findings(&past).expect("query");
        assert!(page.findings.is_empty() && page.next.is_none());
        assert_eq!(page.total, expected(&s, &past).len() as u64);
    }

    #[test]
    fn query_findings_filters_agree_with_a_full_scan() {
        let s = store();
        for i in 0..300 {
            s.put_finding(&varied(i)).expect("put");
        }
        assert_index_agrees(&s);
        let ids = |q: FindingQuery| {
            let page = s.query_findings(&q).expect("query");
            assert_eq!(page.total, page.findings.len() as u64);
            page.findings
        };
        for f in ids(FindingQuery {
            statuses: vec![FindingStatus::Suppressed],
            severities: vec!["critical".into()],
            account_id: Some("9".into()),
            resource_type: Some("aws::s3::bucket".into()),
            limit: 1000,
            ..query()
        }) {
            assert_eq!(f.status, FindingStatus::Suppressed);
            assert_eq!(f.severity, "critical");
            assert_eq!(f.account_id, "9");
            assert_eq!(f.resource_type, "aws::s3::bucket");
            assert_eq!(f.closed_at, None);
        }
        // Values no finding has select nothing.
        for q in [
            FindingQuery {
                severities: vec!["nope".into()],
                ..query()
            },
            FindingQuery {
                account_id: Some("0".into()),
                ..query()
            },
            FindingQuery {
                resource_type: Some("aws::ec2::instance".into()),
                ..query()
            },
            FindingQuery {
                rule_id: Some("r".into()),
                ..query()
            },
        ] {
            assert!(ids(q).is_empty());
        }
    }

    #[test]
    fn query_findings_leaves_closed_out_unless_asked() {
        let s = store();
        let open = finding("r", "open", "1", FindingStatus::Fail);
        let mut closed = finding("r", "closed", "1", FindingStatus::Fail);
        closed.closed_at = Some(T1);
        s.put_finding(&open).expect("put");
        s.put_finding(&closed).expect("put");
        let fail = FindingQuery {
            statuses: vec![FindingStatus::Fail],
            ..query()
        };
        let page = s.query_findings(&fail).expect("query");
        assert_eq!(finding_ids(&page.findings), [("r", "open")]);
        assert_eq!(page.total, 1);
        let page = s
            .query_findings(&FindingQuery {
                include_closed: true,
                ..fail
            })
            .expect("query");
        // The status filter applies to the stored status, closed or not.
        assert_eq!(page.findings, [closed.clone(), open.clone()]);
        assert_eq!(page.total, 2);
        // Reopening (closed_at back to None) brings it back.
        s.put_finding(&finding("r", "closed", "1", FindingStatus::Fail))
            .expect("put");
        assert_eq!(s.query_findings(&query()).expect("query").total, 2);
    }

    #[test]
    fn finding_index_follows_every_write() {
        let s = store();
        // Written before the index exists.
        for i in 0..60 {
            s.put_finding(&varied(i)).expect("put");
        }
        assert!(s.finding_index.read().expect("lock").is_none());
        assert_index_agrees(&s);
        assert!(s.finding_index.read().expect("lock").is_some());

        // Written after, through a clone: the clone shares the index.
        let clone = s.clone();
        for i in 60..120 {
            clone.put_finding(&varied(i)).expect("put");
        }
        assert_index_agrees(&s);

        // Updates move findings between filters.
        let mut f = varied(5);
        f.status = FindingStatus::Suppressed;
        f.severity = "brand-new".into();
        f.account_id = "777".into();
        f.resource_type = "aws::kms::key".into();
        clone.put_finding(&f).expect("update");
        let mut g = varied(6);
        g.closed_at = Some(T1);
        s.put_finding(&g).expect("close");
        let mut h = varied(3);
        h.closed_at = None;
        s.put_finding(&h).expect("reopen");
        assert_index_agrees(&s);
        let page = s
            .query_findings(&FindingQuery {
                severities: vec!["brand-new".into()],
                account_id: Some("777".into()),
                resource_type: Some("aws::kms::key".into()),
                statuses: vec![FindingStatus::Suppressed],
                ..query()
            })
            .expect("query");
        assert_eq!(page.findings, [f.clone()]);

        // Deletes, of one finding and of a whole rule.
        assert!(
            clone
                .delete_finding(&f.rule_id, &f.resource_id)
                .expect("delete")
        );
        assert!(
            !s.delete_finding(&f.rule_id, &f.resource_id)
                .expect("delete")
        );
        assert!(
            s.query_findings(&FindingQuery {
                account_id: Some("777".into()),
                ..query()
            })
            .expect("query")
            .findings
            .is_empty()
        );
        let r1 = expected(
            &s,
            &FindingQuery {
                rule_id: Some("r1".into()),
                include_closed: true,
                ..query()
            },
        )
        .len() as u64;
        assert_eq!(clone.delete_findings_of_rule("r1").expect("delete"), r1);
        assert_index_agrees(&s);
        assert_eq!(
            s.summarize_findings(&FindingQuery {
                rule_id: Some("r1".into()),
                include_closed: true,
                ..query()
            })
            .expect("summary"),
            FindingSummary::default()
        );

        // Putting into a deleted rule again works.
        s.put_finding(&varied(0)).expect("put");
        assert_index_agrees(&s);
    }

    #[test]
    fn delete_findings_of_rule_keeps_other_rules_and_history() {
        let s = store();
        for (rule, id) in [
            ("r1", "a"),
            ("r1", "b"),
            ("r10", "a"),
            ("r", "a"),
            ("r2", "a"),
        ] {
            s.put_finding(&finding(rule, id, "1", FindingStatus::Fail))
                .expect("put");
        }
        s.append_finding_change(&FindingChange {
            rule_id: "r1".into(),
            resource_id: "a".into(),
            at: T0,
            from: None,
            to: FindingState::Fail,
            message: None,
        })
        .expect("history");
        // Before the index exists.
        assert_eq!(s.delete_findings_of_rule("r1").expect("delete"), 2);
        assert_eq!(s.delete_findings_of_rule("r1").expect("delete"), 0);
        assert_eq!(s.finding_history("r1", "a").expect("history").len(), 1);
        let left = s.query_findings(&query()).expect("query");
        assert_eq!(
            finding_ids(&left.findings),
            [("r", "a"), ("r10", "a"), ("r2", "a")]
        );
        // After it exists.
        assert_eq!(s.delete_findings_of_rule("r10").expect("delete"), 1);
        assert_eq!(s.delete_findings_of_rule("unknown").expect("delete"), 0);
        let left = s.query_findings(&query()).expect("query");
        assert_eq!(finding_ids(&left.findings), [("r", "a"), ("r2", "a")]);
        assert_eq!(left.total, 2);
        assert!(invalid(s.delete_findings_of_rule("")));
        assert!(invalid(s.delete_findings_of_rule("r\0")));
    }

    #[test]
    fn summarize_findings_counts_states_and_open_failures() {
        let s = store();
        let put = |rule: &str, id: &str, status, severity: &str, rtype: &str, closed: bool| {
            let mut f = finding(rule, id, "1", status);
            f.severity = severity.into();
            f.resource_type = rtype.into();
            f.closed_at = closed.then_some(T1);
            s.put_finding(&f).expect("put");
        };
        put("a", "1", FindingStatus::Fail, "high", "t1", false);
        put("a", "2", FindingStatus::Fail, "high", "t2", false);
        put("a", "3", FindingStatus::Fail, "low", "t1", true);
        put("b", "1", FindingStatus::Fail, "low", "t1", false);
        put("b", "2", FindingStatus::Pass, "low", "t1", false);
        put("b", "3", FindingStatus::Error, "high", "t1", false);
        put("b", "4", FindingStatus::Suppressed, "high", "t1", false);
        // A rule named like a severity is counted apart from it.
        put("high", "1", FindingStatus::Fail, "critical", "t1", false);

        let map = |pairs: &[(&str, u64)]| -> std::collections::BTreeMap<String, u64> {
            pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        let summary = s.summarize_findings(&query()).expect("summary");
        assert_eq!(
            summary,
            FindingSummary {
                total: 7,
                by_state: map(&[("fail", 4), ("pass", 1), ("error", 1), ("suppressed", 1)]),
                failing_by_severity: map(&[("high", 2), ("low", 1), ("critical", 1)]),
                failing_by_rule: map(&[("a", 2), ("b", 1), ("high", 1)]),
                failing_by_resource_type: map(&[("t1", 3), ("t2", 1)]),
            }
        );
        let with_closed = s
            .summarize_findings(&FindingQuery {
                include_closed: true,
                after: Some(("z".into(), "z".into())),
                limit: 0,
                ..query()
            })
            .expect("summary");
        assert_eq!(with_closed.total, 8);
        assert_eq!(with_closed.by_state.get("closed"), Some(&1));
        assert_eq!(with_closed.by_state.get("fail"), Some(&4));
        // Closed failures are not open failures.
        assert_eq!(with_closed.failing_by_severity, summary.failing_by_severity);
        let of_b = s
            .summarize_findings(&FindingQuery {
                rule_id: Some("b".into()),
                severities: vec!["high".into()],
                ..query()
            })
            .expect("summary");
        assert_eq!(of_b.total, 2);
        assert_eq!(of_b.by_state, map(&[("error", 1), ("suppressed", 1)]));
        assert!(of_b.failing_by_rule.is_empty());
    }

    #[test]
    fn query_findings_rejects_invalid_keys() {
        let s = store();
        for q in [
            FindingQuery {
                rule_id: Some("a\0b".into()),
                ..query()
            },
            FindingQuery {
                account_id: Some(String::new()),
                ..query()
            },
            FindingQuery {
                after: Some(("r".into(), String::new())),
                ..query()
            },
        ] {
            assert!(invalid(s.query_findings(&q)));
            assert!(invalid(s.summarize_findings(&q)));
        }
    }

    #[test]
    fn query_findings_on_twenty_thousand_findings() {
        let s = store();
        for i in 0..20_000 {
            s.put_finding(&varied(i)).expect("put");
        }
        let all = s
            .query_findings(&FindingQuery {
                include_closed: true,
                limit: 100,
                ..query()
            })
            .expect("query");
        assert_eq!(all.total, 20_000);
        assert_eq!(all.findings.len(), 100);
        let q = FindingQuery {
            statuses: vec![FindingStatus::Fail],
            severities: vec!["critical".into()],
            account_id: Some("12345".into()),
            limit: 100,
            ..query()
        };
        let page = s.query_findings(&q).expect("query");
        assert_eq!(page.total, expected(&s, &q).len() as u64);
        assert!(page.total > 100, "{}", page.total);
        assert_eq!(page.findings.len(), 100);
        let second = s
            .query_findings(&FindingQuery {
                after: page.next.clone(),
                ..q.clone()
            })
            .expect("query");
        assert_eq!(second.total, page.total);
        assert!(second.findings[0].rule_id >= page.findings[99].rule_id);
        let summary = s
            .summarize_findings(&FindingQuery {
                include_closed: true,
                ..query()
            })
            .expect("summary");
        assert_eq!(summary.total, 20_000);
        assert_eq!(summary.by_state.values().sum::<u64>(), 20_000);
    }

    #[test]
    fn finding_index_misses_no_concurrent_write() {
        let s = store();
        for i in 0..500 {
            s.put_finding(&varied(i)).expect("put");
        }
        let writers: Vec<_> = (0..3)
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for i in 0..300 {
                        let n = 500 + t * 300 + i;
                        s.put_finding(&varied(n)).expect("put");
                        if i % 10 == 0 {
                            s.delete_finding(&varied(n - 5).rule_id, &varied(n - 5).resource_id)
                                .expect("delete");
                        }
                    }
                })
            })
            .collect();
        // Queries race the writers, the first of them building the index.
        let reader = {
            let s = s.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let page = s.query_findings(&query()).expect("query");
                    assert!(page.findings.len() <= 100);
                }
            })
        };
        for w in writers {
            w.join().expect("writer");
        }
        reader.join().expect("reader");
        assert_index_agrees(&s);
    }

    #[test]
    fn debug_of_a_store_does_not_dump_the_index() {
        let s = store();
        for i in 0..50 {
            s.put_finding(&varied(i)).expect("put");
        }
        s.query_findings(&query()).expect("query");
        let debug = format!("{s:?}");
        assert!(debug.contains("FindingIndex { findings: 50"), "{debug}");
        assert!(!debug.contains("res-"), "{debug}");
    }

    // ---- resources ----

    #[test]
    fn query_resources_pages_and_filters() {
        let s = store();
        let mut all = Vec::new();
        for account in ["1", "12", "2"] {
            for rtype in ["a::b", "a::c"] {
                for i in 0..5 {
                    let mut r = resource(account, rtype, &format!("id-{i}"));
                    if i == 3 {
                        r.region = "us-east-1".into();
                    }
                    if i == 4 {
                        r.deleted_at = Some(T1);
                    }
                    s.put_resource(&r).expect("put");
                    all.push(r);
                }
            }
        }
        s.put_resource(&resource("1", "a::b", "other"))
            .expect("put");
        let query = |q: &ResourceQuery| {
            let mut q = q.clone();
            let mut out = Vec::new();
            loop {
                let page = s.query_resources(&q).expect("query");
                assert!(page.resources.len() <= q.limit);
                out.extend(page.resources.iter().map(|r| {
                    (
                        r.account_id.clone(),
                        r.resource_type.clone(),
                        r.resource_id.clone(),
                    )
                }));
                match page.next {
                    Some(next) => {
                        assert_eq!(page.resources.len(), q.limit);
                        assert_eq!(Some(&next), out.last());
                        q.after = Some(next);
                    }
                    None => return out,
                }
            }
        };
        let keys = |pred: &dyn Fn(&ResourceRecord) -> bool| {
            let mut v: Vec<_> = s
                .list_resources(&ResourceFilter::default())
                .expect("list")
                .into_iter()
                .filter(|r| pred(r))
                .map(|r| (r.account_id, r.resource_type, r.resource_id))
                .collect();
            v.sort();
            v
        };
        let base = ResourceQuery {
            limit: 2,
            ..ResourceQuery::default()
        };
        for limit in [1, 2, 3, 100] {
            assert_eq!(
                query(&ResourceQuery {
                    limit,
                    ..base.clone()
                }),
                keys(&|r| r.deleted_at.is_none())
            );
        }
        assert_eq!(
            query(&ResourceQuery {
                include_deleted: true,
                ..base.clone()
            }),
            keys(&|_| true)
        );
        // "1" is a prefix of "12": the account prefix keeps them apart.
        assert_eq!(
            query(&ResourceQuery {
                account_id: Some("1".into()),
                ..base.clone()
            }),
            keys(&|r| r.account_id == "1" && r.deleted_at.is_none())
        );
        assert_eq!(
            query(&ResourceQuery {
                account_id: Some("12".into()),
                resource_type: Some("a::c".into()),
                include_deleted: true,
                ..base.clone()
            }),
            keys(&|r| r.account_id == "12" && r.resource_type == "a::c")
        );
        assert_eq!(
            query(&ResourceQuery {
                resource_type: Some("a::c".into()),
                region: Some("us-east-1".into()),
                ..base.clone()
            }),
            keys(&|r| r.resource_type == "a::c" && r.region == "us-east-1")
        );
        assert_eq!(
            query(&ResourceQuery {
                id_glob: Some("id-?".into()),
                region: Some("eu-west-1".into()),
                ..base.clone()
            }),
            keys(&|r| r.resource_id.starts_with("id-")
                && r.region == "eu-west-1"
                && r.deleted_at.is_none())
        );
        assert_eq!(
            query(&ResourceQuery {
                account_id: Some("1".into()),
                id_glob: Some("*th*".into()),
                ..base.clone()
            }),
            [("1".to_string(), "a::b".to_string(), "other".to_string())]
        );
        // A cursor before the account's range starts at it; one past it ends the scan.
        assert_eq!(
            query(&ResourceQuery {
                account_id: Some("12".into()),
                after: Some(("1".into(), "z".into(), "z".into())),
                ..base.clone()
            }),
            keys(&|r| r.account_id == "12" && r.deleted_at.is_none())
        );
        assert!(
            query(&ResourceQuery {
                account_id: Some("12".into()),
                after: Some(("2".into(), "a".into(), "a".into())),
                ..base.clone()
            })
            .is_empty()
        );
        let page = s
            .query_resources(&ResourceQuery {
                limit: 0,
                ..base.clone()
            })
            .expect("query");
        assert!(page.resources.is_empty() && page.next.is_none());
        assert!(invalid(s.query_resources(&ResourceQuery {
            resource_type: Some(String::new()),
            ..base.clone()
        })));
        assert!(invalid(s.query_resources(&ResourceQuery {
            after: Some(("1".into(), "a\0".into(), "x".into())),
            ..base
        })));
    }

    // ---- module entries, rule toggles, suppressions, scan jobs ----

    fn revision(number: u32, m: &ModuleRecord) -> ModuleRevision {
        ModuleRevision {
            number,
            digest: m.digest.clone(),
            size: m.wasm.len() as u64,
            rules: vec![format!("rule-{number}")],
            uploaded_at: T1,
            signed_by: None,
        }
    }

    #[test]
    fn module_entries_are_written_and_deleted_with_their_bytes() {
        let s = store();
        let (shared, own_a, own_b) = (module('1', 32), module('2', 48), module('3', 16));
        let mut a = ModuleEntry {
            name: "a".into(),
            revisions: vec![revision(1, &shared)],
            active: Some(1),
        };
        s.put_module_entry(&a, Some(&shared)).expect("put");
        a.revisions.push(revision(2, &own_a));
        a.active = Some(2);
        s.put_module_entry(&a, Some(&own_a)).expect("put");
        let b = ModuleEntry {
            name: "b".into(),
            revisions: vec![revision(1, &shared), revision(2, &own_b)],
            active: None,
        };
        s.put_module_entry(&b, Some(&own_b)).expect("put");
        // An entry-only update (activation) writes no bytes.
        let mut b2 = b.clone();
        b2.active = Some(2);
        s.put_module_entry(&b2, None).expect("put");

        assert_eq!(s.get_module_entry("a").expect("get"), Some(a.clone()));
        assert_eq!(s.list_module_entries().expect("list"), [a, b2]);
        assert_eq!(
            s.get_module(&own_a.digest).expect("get"),
            Some(own_a.clone())
        );
        assert_eq!(s.list_modules().expect("list").len(), 3);

        // Deleting `a` drops its own bytes but keeps those `b` shares.
        assert!(s.delete_module_entry("a").expect("delete"));
        assert!(!s.delete_module_entry("a").expect("delete"));
        assert_eq!(s.get_module_entry("a").expect("get"), None);
        assert_eq!(s.get_module(&own_a.digest).expect("get"), None);
        assert_eq!(
            s.get_module(&shared.digest).expect("get"),
            Some(shared.clone())
        );
        assert_eq!(s.get_module(&own_b.digest).expect("get"), Some(own_b));
        assert!(
            s.module_bytes
                .get(own_a.digest.as_bytes())
                .expect("raw")
                .is_none()
        );

        assert!(s.delete_module_entry("b").expect("delete"));
        assert!(s.list_module_entries().expect("list").is_empty());
        assert!(s.modules.is_empty());
        assert!(s.module_bytes.is_empty());

        // Invalid names or digests write nothing.
        let bad = ModuleEntry {
            name: "x\0y".into(),
            revisions: vec![],
            active: None,
        };
        assert!(invalid(s.put_module_entry(&bad, None)));
        let bad_digest = ModuleRecord {
            digest: "abc".into(),
            ..module('4', 4)
        };
        let c = ModuleEntry {
            name: "c".into(),
            ..bad
        };
        assert!(invalid(s.put_module_entry(&c, Some(&bad_digest))));
        assert!(s.module_entries.is_empty() && s.modules.is_empty());
        assert!(invalid(s.get_module_entry("")));
        assert!(invalid(s.delete_module_entry("")));
    }

    #[test]
    fn rule_toggles_round_trip() {
        let s = store();
        let toggle = |rule: &str, enabled| RuleToggle {
            rule_id: rule.into(),
            enabled,
            changed_at: T1,
        };
        s.put_rule_toggle(&toggle("s3-public", false)).expect("put");
        s.put_rule_toggle(&toggle("iam-root", true)).expect("put");
        s.put_rule_toggle(&toggle("s3-public", true)).expect("put");
        assert_eq!(
            s.list_rule_toggles().expect("list"),
            [toggle("iam-root", true), toggle("s3-public", true)]
        );
        assert!(invalid(s.put_rule_toggle(&toggle("", true))));
    }

    #[test]
    fn rule_settings_round_trip() {
        let s = store();
        let record = |rule: &str, days: u64| RuleSettingsRecord {
            rule_id: rule.into(),
            settings: serde_json::json!({"max-age-days": days})
                .as_object()
                .cloned()
                .unwrap(),
            changed_at: T1,
        };
        s.put_rule_settings(&record("b.rule", 30)).expect("put");
        s.put_rule_settings(&record("a.rule", 45)).expect("put");
        s.put_rule_settings(&record("b.rule", 60)).expect("put");
        assert_eq!(
            s.list_rule_settings().expect("list"),
            [record("a.rule", 45), record("b.rule", 60)]
        );
        assert!(invalid(s.put_rule_settings(&record("", 1))));
    }

    #[test]
    fn suppressions_round_trip() {
        let s = store();
        let suppression = |id: &str, pattern: &str| Suppression {
            id: id.into(),
            rule_id: "s3-public".into(),
            pattern: pattern.into(),
            reason: Some("accepted risk".into()),
            created_at: T0,
        };
        s.put_suppression(&suppression("sup-2", "arn:aws:s3:::public-*"))
            .expect("put");
        s.put_suppression(&suppression("sup-1", "*")).expect("put");
        assert_eq!(
            s.get_suppression("sup-2").expect("get"),
            Some(suppression("sup-2", "arn:aws:s3:::public-*"))
        );
        assert_eq!(s.get_suppression("sup-3").expect("get"), None);
        let ids: Vec<_> = s
            .list_suppressions()
            .expect("list")
            .into_iter()
            .map(|x| x.id)
            .collect();
        assert_eq!(ids, ["sup-1", "sup-2"]);
        assert!(s.delete_suppression("sup-1").expect("delete"));
        assert!(!s.delete_suppression("sup-1").expect("delete"));
        assert_eq!(s.list_suppressions().expect("list").len(), 1);
        assert!(invalid(s.get_suppression("a\0")));
    }

    #[test]
    fn scan_jobs_list_newest_first() {
        let s = store();
        let job = |id: &str, account: &str| ScanJob {
            id: id.into(),
            account_name: account.into(),
            trigger: ScanTrigger::Scheduled,
            state: ScanState::Queued,
            queued_at: T0,
            started_at: None,
            finished_at: None,
            progress: ScanProgress::default(),
            error: None,
            record: None,
        };
        let ids = |jobs: Vec<ScanJob>| -> Vec<String> { jobs.into_iter().map(|j| j.id).collect() };
        for (id, account) in [
            ("20250301T120000.000001Z-aaaaaaaa", "prod"),
            ("20250301T120000.000002Z-bbbbbbbb", "dev"),
            ("20250302T083015.000000Z-cccccccc", "prod"),
            ("20250303T000000.000000Z-dddddddd", "dev"),
            ("20250304T000000.000000Z-eeeeeeee", "prod"),
        ] {
            s.put_scan_job(&job(id, account)).expect("put");
        }
        // Updating a job keeps its place.
        let mut running = job("20250302T083015.000000Z-cccccccc", "prod");
        running.state = ScanState::Running;
        running.started_at = Some(T1);
        running.progress = ScanProgress {
            tasks_planned: 10,
            tasks_done: 4,
            resources: 120,
        };
        s.put_scan_job(&running).expect("update");
        assert_eq!(
            s.get_scan_job("20250302T083015.000000Z-cccccccc")
                .expect("get"),
            Some(running)
        );
        assert_eq!(s.get_scan_job("nope").expect("get"), None);

        assert_eq!(
            ids(s.list_scan_jobs(None, 10).expect("list")),
            [
                "20250304T000000.000000Z-eeeeeeee",
                "20250303T000000.000000Z-dddddddd",
                "20250302T083015.000000Z-cccccccc",
                "20250301T120000.000002Z-bbbbbbbb",
                "20250301T120000.000001Z-aaaaaaaa",
            ]
        );
        assert_eq!(
            ids(s.list_scan_jobs(None, 2).expect("list")),
            [
                "20250304T000000.000000Z-eeeeeeee",
                "20250303T000000.000000Z-dddddddd",
            ]
        );
        assert_eq!(
            ids(s.list_scan_jobs(Some("prod"), 2).expect("list")),
            [
                "20250304T000000.000000Z-eeeeeeee",
                "20250302T083015.000000Z-cccccccc",
            ]
        );
        assert_eq!(
            ids(s.list_scan_jobs(Some("dev"), 10).expect("list")),
            [
                "20250303T000000.000000Z-dddddddd",
                "20250301T120000.000002Z-bbbbbbbb",
            ]
        );
        assert!(
            s.list_scan_jobs(Some("staging"), 10)
                .expect("list")
                .is_empty()
        );
        assert!(s.list_scan_jobs(None, 0).expect("list").is_empty());
        assert!(invalid(s.put_scan_job(&job("", "prod"))));
    }
}
