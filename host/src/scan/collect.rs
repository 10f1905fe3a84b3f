//! What a collector works with: [`Collect`] gives it the account's session, its region,
//! exclusions and, for a targeted run, its [`Scope`], and takes back documents, listing failures
//! and call errors. Collectors (`scan/s3.rs`, `scan/ec2.rs`, ...) fetch and shape; they never
//! touch the store.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;
use time::OffsetDateTime;

use super::Scope;
use super::doc::Doc;
use crate::account::Account;
use crate::aws::{AwsError, ErrorKind, Session};

/// Something that went wrong during a scan, kept on the scan's record and reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ScanIssue {
    /// Service, e.g. `s3`.
    pub service: String,
    /// Region of the call (`global` for global services).
    pub region: String,
    /// Resource type whose listing failed, when a whole listing failed.
    #[serde(default)]
    pub resource_type: Option<String>,
    /// Resource whose field could not be read, when the failure was on one resource.
    #[serde(default)]
    pub resource_id: Option<String>,
    /// The field left uncollected.
    #[serde(default)]
    pub field: Option<String>,
    pub kind: ErrorKind,
    pub message: String,
}

/// Operations the endpoint answered with "not implemented", with when that was first seen:
/// later calls skip them instead of paying the retries again. Carried from scan to scan.
#[derive(Debug, Clone, Default)]
pub struct Unsupported(Arc<Mutex<BTreeMap<String, OffsetDateTime>>>);

impl Unsupported {
    /// A memo seeded with what earlier scans found.
    pub fn from_known(known: BTreeMap<String, OffsetDateTime>) -> Self {
        Unsupported(Arc::new(Mutex::new(known)))
    }

    /// Every operation known to be unsupported, with when it was first seen.
    pub fn known(&self) -> BTreeMap<String, OffsetDateTime> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    fn contains(&self, op: &str) -> bool {
        self.0.lock().map(|m| m.contains_key(op)).unwrap_or(false)
    }

    fn insert(&self, op: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.entry(op.to_owned())
                .or_insert_with(OffsetDateTime::now_utc);
        }
    }
}

/// One collector run: one service in one region (or once, for global services).
pub struct Collect<'a> {
    pub session: &'a Session,
    pub account: &'a Account,
    /// Region of this run; the home region for global services.
    pub region: &'a str,
    service: &'static str,
    unsupported: Unsupported,
    /// The resources a targeted run is after; `None` for a full scan.
    scope: Option<Arc<Scope>>,
    docs: Vec<Doc>,
    issues: Vec<ScanIssue>,
    /// Resource types whose listing failed in this run: their absence proves nothing.
    incomplete: Vec<&'static str>,
}

/// What a collector run produced.
pub struct Collected {
    pub docs: Vec<Doc>,
    pub issues: Vec<ScanIssue>,
    pub incomplete: Vec<&'static str>,
}

impl<'a> Collect<'a> {
    pub fn new(
        session: &'a Session,
        account: &'a Account,
        service: &'static str,
        region: &'a str,
        unsupported: Unsupported,
    ) -> Self {
        Collect {
            session,
            account,
            region,
            service,
            unsupported,
            scope: None,
            docs: Vec::new(),
            issues: Vec::new(),
            incomplete: Vec::new(),
        }
    }

    /// Limits this run to the resources `scope` names.
    pub fn with_scope(mut self, scope: Arc<Scope>) -> Self {
        self.scope = Some(scope);
        self
    }

    /// The targets of a targeted run; `None` for a full scan.
    pub fn scope(&self) -> Option<&Scope> {
        self.scope.as_deref()
    }

    pub fn account_id(&self) -> &str {
        &self.account.account_id
    }

    /// Whether the run is after resources of `resource_type` at all (exclusions aside).
    pub fn wants_type(&self, resource_type: &str) -> bool {
        self.scope
            .as_ref()
            .is_none_or(|s| s.wants_type(resource_type))
    }

    /// The identifiers a targeted run names for `resource_type`, for narrowing calls; `None`
    /// when the run wants every resource of the type (a full scan, or a `Key::All` target).
    pub fn names(&self, resource_type: &str) -> Option<BTreeSet<&str>> {
        self.scope.as_ref().and_then(|s| s.names(resource_type))
    }

    /// Whether a document (its envelope is enough) is one the run is after; collectors check
    /// before fetching details. Exclusions are [`Collect::excluded`]'s.
    pub fn in_scope(&self, doc: &Doc) -> bool {
        self.scope
            .as_ref()
            .is_none_or(|s| s.wants(doc.resource_type(), doc.resource_id(), &doc.envelope()))
    }

    /// Whether a resource is out of scope; collectors check before fetching its details.
    pub fn excluded(&self, region: &str, resource_type: &str, resource_id: &str) -> bool {
        self.account.excludes(region, resource_type, resource_id)
    }

    /// Runs one SDK call, classifying its error. Operations the endpoint has already answered
    /// "not implemented" in this scan fail at once.
    pub async fn call<T, E, F>(
        &self,
        operation: &'static str,
        send: impl FnOnce() -> F,
    ) -> Result<T, AwsError>
    where
        F: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        // One wording whether the answer is fresh or remembered, so a re-scan does not see a
        // changed document where nothing changed.
        let not_implemented = || AwsError {
            operation,
            kind: ErrorKind::NotImplemented,
            code: None,
            message: "the endpoint does not implement this call".into(),
        };
        if self.unsupported.contains(operation) {
            return Err(not_implemented());
        }
        send().await.map_err(|e| {
            let e = AwsError::from_sdk(operation, e);
            tracing::debug!(service = self.service, region = self.region, error = %e, "call failed");
            if e.kind == ErrorKind::NotImplemented {
                self.unsupported.insert(operation);
                not_implemented()
            } else {
                e
            }
        })
    }

    /// Adds a finished document unless it is excluded or outside the run's scope; its
    /// collection errors become issues.
    pub fn push(&mut self, doc: Doc) {
        if self.excluded(doc.region(), doc.resource_type(), doc.resource_id())
            || !self.in_scope(&doc)
        {
            return;
        }
        for (field, err) in doc.collection_errors() {
            self.issues.push(ScanIssue {
                service: self.service.into(),
                region: doc.region().into(),
                resource_type: Some(doc.resource_type().into()),
                resource_id: Some(doc.resource_id().into()),
                field: Some(field.clone()),
                kind: err.kind,
                message: err.to_string(),
            });
        }
        self.docs.push(doc);
    }

    /// Records that listing `resource_type` failed here: nothing of that type is marked deleted.
    pub fn listing_failed(&mut self, resource_type: &'static str, err: &AwsError) {
        self.incomplete.push(resource_type);
        self.issues.push(ScanIssue {
            service: self.service.into(),
            region: self.region.into(),
            resource_type: Some(resource_type.into()),
            resource_id: None,
            field: None,
            kind: err.kind,
            message: err.to_string(),
        });
    }

    pub fn finish(self) -> Collected {
        Collected {
            docs: self.docs,
            issues: self.issues,
            incomplete: self.incomplete,
        }
    }
}
