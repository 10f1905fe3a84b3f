//! `SledStore`: the sled 0.34 implementation of `Store`, one sled tree per record kind.
//! Only sled-specific code lives here; record types, errors and key encoding belong in `mod.rs`.

use super::{
    Account, FindingChange, FindingFilter, FindingRecord, KEY_SEPARATOR, ModuleMeta, ModuleRecord,
    ResourceFilter, ResourceRecord, ScanRecord, Store, StoreError, check_component, check_digest,
    encode_key, encode_prefix, escape_key, key_component,
};
use ::sled::transaction::{ConflictableTransactionError, TransactionError};
use ::sled::{Config, Db, IVec, Transactional, Tree};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::convert::Infallible;
use std::path::Path;
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

/// A `Store` backed by an embedded sled database; cheap to clone (clones share the database).
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
            db,
        })
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

/// Builds the finding key, validating every component.
fn finding_key(rule_id: &str, resource_id: &str) -> Result<Vec<u8>, StoreError> {
    encode_key(&[("rule_id", rule_id), ("resource_id", resource_id)])
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
        let mut out = Vec::new();
        for entry in &self.modules {
            let (key, value) = entry.map_err(backend("list_modules"))?;
            out.push(decode(MODULES, &key, &value)?);
        }
        Ok(out)
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
        self.findings
            .insert(key, value)
            .map_err(backend("put_finding"))?;
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
        let old = self
            .findings
            .remove(key)
            .map_err(backend("delete_finding"))?;
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
        self.finding_history
            .scan_prefix(&prefix)
            .map(|entry| {
                let (key, value) = entry.map_err(backend("finding_history"))?;
                decode(FINDING_HISTORY, &key, &value)
            })
            .collect()
    }

    fn put_account(&self, a: &Account) -> Result<(), StoreError> {
        let key = encode_key(&[("name", &a.name)])?;
        let value = encode("account", a)?;
        self.accounts
            .insert(key, value)
            .map_err(backend("put_account"))?;
        Ok(())
    }

    fn get_account(&self, name: &str) -> Result<Option<Account>, StoreError> {
        let key = encode_key(&[("name", name)])?;
        match self.accounts.get(&key).map_err(backend("get_account"))? {
            Some(value) => decode(ACCOUNTS, &key, &value).map(Some),
            None => Ok(None),
        }
    }

    fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.accounts
            .iter()
            .map(|entry| {
                let (key, value) = entry.map_err(backend("list_accounts"))?;
                decode(ACCOUNTS, &key, &value)
            })
            .collect()
    }

    fn delete_account(&self, name: &str) -> Result<bool, StoreError> {
        let key = encode_key(&[("name", name)])?;
        let old = self
            .accounts
            .remove(key)
            .map_err(backend("delete_account"))?;
        Ok(old.is_some())
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

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(backend("flush"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{FindingState, FindingStatus};
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
}
