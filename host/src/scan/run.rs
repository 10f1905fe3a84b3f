//! A whole scan of one account: assume its role, check the identity, list regions, run every
//! (service, region) collector concurrently, write changed resources to the store, mark the
//! ones a complete listing no longer shows as deleted (closing their findings), and evaluate
//! the rules into findings. Collectors know nothing of this; this knows nothing of shapes.
//! The steps a targeted refresh (`refresh.rs`) shares with a scan live here too.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use time::OffsetDateTime;

use super::collect::{Collect, Collected, ScanIssue, Unsupported};
use super::meta;
use super::refresh::Sessions;
use super::{Doc, Scope, Service};
use crate::account::Account;
use crate::alerts::Alerter;
use crate::aws::{AwsError, Session};
use crate::findings::{self, Evaluator, Outcome};
use crate::store::{ResourceFilter, ResourceRecord, ScanRecord, Store, StoreError};

/// Why a scan could not be done at all (per-service failures are issues, not errors).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot assume role {role} for account {account}: {source}")]
    Identity {
        account: String,
        role: String,
        source: AwsError,
    },
    #[error(
        "account {account}: the assumed role belongs to account {found}, not {expected}; check the role ARN"
    )]
    WrongAccount {
        account: String,
        expected: String,
        found: String,
    },
    #[error("account {account}: cannot list regions: {source}")]
    Regions { account: String, source: AwsError },
    #[error("account {account}: store failed: {source}")]
    Store { account: String, source: StoreError },
    #[error("account {account}: evaluation task failed: {message}")]
    Evaluation { account: String, message: String },
}

/// Scan settings.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Collector runs in flight at once.
    pub concurrency: usize,
    /// Scan only these regions (still minus the account's exclusions); all enabled ones when empty.
    pub regions: Vec<String>,
    /// Stored verdicts older than this are re-evaluated even if their resource is unchanged,
    /// so time-based rules (key age, ...) keep up.
    pub reevaluate_after: Duration,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            // Enough to hide call latency; low enough to stay under API rate limits.
            concurrency: 8,
            regions: Vec::new(),
            // The daily scan re-checks everything once a day.
            reevaluate_after: Duration::from_secs(24 * 3600),
        }
    }
}

/// One collector run, as progress reports name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub service: Service,
    pub region: String,
}

/// Receives progress while a scan runs (a progress bar, log lines, nothing).
pub trait Progress: Send + Sync {
    /// The scan will run `tasks` collector runs.
    fn planned(&self, _account: &Account, _tasks: usize) {}
    /// One run starts.
    fn started(&self, _task: &Task) {}
    /// One run finished.
    fn finished(&self, _task: &Task, _resources: usize, _issues: usize, _took: Duration) {}
    /// Collection is over; evaluation starts.
    fn evaluating(&self, _resources: usize) {}
}

/// A [`Progress`] that reports nothing.
pub struct Quiet;
impl Progress for Quiet {}

/// Where a scan gets its rules: asked when evaluation starts, so a scan that runs while the
/// rules are swapped evaluates with the new ones.
pub trait RuleSource: Send + Sync {
    fn evaluator(&self) -> Arc<Evaluator>;
}

/// A fixed rule set.
impl RuleSource for Arc<Evaluator> {
    fn evaluator(&self) -> Arc<Evaluator> {
        self.clone()
    }
}

/// Scans accounts into a store and evaluates them.
pub struct Scanner {
    pub(super) host: Session,
    pub(super) store: Arc<dyn Store>,
    pub(super) rules: Arc<dyn RuleSource>,
    pub(super) options: ScanOptions,
    /// Sessions kept for refreshes, which come too often to assume the role each time.
    pub(super) sessions: Sessions,
    /// Told of findings that start or stop failing, except in an account's baseline scan.
    pub(super) alerter: Option<Arc<Alerter>>,
}

impl Scanner {
    pub fn new(
        host: Session,
        store: Arc<dyn Store>,
        rules: Arc<dyn RuleSource>,
        options: ScanOptions,
    ) -> Scanner {
        Scanner {
            host,
            store,
            rules,
            options,
            sessions: Sessions::default(),
            alerter: None,
        }
    }

    /// Raises alerts through `alerter` for the findings scans and refreshes flip.
    pub fn with_alerts(mut self, alerter: Arc<Alerter>) -> Scanner {
        self.alerter = Some(alerter);
        self
    }

    /// Raises the alerts an evaluation's transitions call for; a failure to record them is
    /// logged, never a reason to fail the scan that found them.
    pub(super) fn alert(&self, account: &Account, outcome: &Outcome) {
        if let Some(alerter) = &self.alerter
            && let Err(e) = alerter.raise(&outcome.transitions)
        {
            tracing::error!(account = %account.name, error = %e, "cannot record alerts");
        }
    }

    /// Scans `account` completely and records the scan.
    pub async fn scan(
        &self,
        account: &Account,
        progress: &dyn Progress,
    ) -> Result<ScanRecord, ScanError> {
        let started = Instant::now();
        let started_at = OffsetDateTime::now_utc();
        let store_err = |source| ScanError::Store {
            account: account.name.clone(),
            source,
        };

        let session = self.open_session(account, "palisade-scan").await?;
        let regions = self.regions(&session, account).await?;
        let tasks = plan(account, session.home_region(), &regions);
        tracing::info!(
            account = %account.name,
            account_id = %account.account_id,
            regions = regions.len(),
            runs = tasks.len(),
            "scan started"
        );
        progress.planned(account, tasks.len());

        let last = self.store.last_scan(&account.name).map_err(store_err)?;
        let unsupported = unsupported_memo(last.as_ref(), started_at);
        let planned = tasks.into_iter().map(|task| (task, None)).collect();
        let mut runs = self.run_collectors(&session, account, planned, &unsupported, progress);
        // Each run's documents go to the store as soon as it ends: memory holds one run's
        // documents at a time, not the whole account's.
        let (mut seen, mut covered, mut issues) = (Seen::default(), Covered::default(), Vec::new());
        while let Some((task, _, out)) = runs.next().await {
            issues.extend(
                self.write(account, &task, out, &mut seen, &mut covered)
                    .map_err(store_err)?,
            );
        }
        drop(runs);

        let now = OffsetDateTime::now_utc();
        let (deleted, mut live) = self
            .mark_deleted(account, &seen.ids, &covered, now)
            .map_err(store_err)?;
        // Account summaries are built from what the regions' runs stored.
        let unlisted = meta::trail_listing_failure(&issues);
        if let Some((summary, changed)) = self
            .summarize_trails(account, unlisted.as_ref(), now)
            .map_err(store_err)?
        {
            seen.changed += u64::from(changed);
            live.retain(|r| r.resource_id != summary.resource_id);
            live.push(summary);
        }

        // Evaluate what changed, or everything when the rules changed or verdicts are old.
        let evaluator = self.rules.evaluator();
        let evaluate_all = last.as_ref().is_none_or(|s| {
            s.ruleset != evaluator.ruleset()
                || (now - s.finished_at).unsigned_abs() > self.options.reevaluate_after
        });
        let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
        for r in &live {
            *by_type.entry(r.resource_type.clone()).or_default() += 1;
        }
        // Changed since the last recorded scan began, not only in this one: a scan that died
        // after writing resources but before evaluating them leaves no record behind.
        let since = last.as_ref().map(|s| s.started_at);
        let to_evaluate: Vec<ResourceRecord> = if evaluate_all {
            live
        } else {
            live.into_iter()
                .filter(|r| {
                    since.is_none_or(|t| r.updated_at >= t)
                        || meta::SUMMARY_TYPES.contains(&r.resource_type.as_str())
                })
                .collect()
        };
        progress.evaluating(to_evaluate.len());
        let evaluated = to_evaluate.len() as u64;
        let ruleset = evaluator.ruleset().to_owned();
        let outcome = self.evaluate(account, evaluator, to_evaluate, now).await?;
        // The baseline is where the account starts, not a change in it: no alerts for it.
        if last.is_some() {
            self.alert(account, &outcome);
        }
        let (failing, errors) =
            findings::open_summary(self.store.as_ref(), &account.account_id).map_err(store_err)?;

        let record = ScanRecord {
            account_name: account.name.clone(),
            account_id: account.account_id.clone(),
            started_at,
            finished_at: started_at + started.elapsed(),
            regions,
            resources: by_type,
            changed: seen.changed,
            deleted,
            evaluated,
            evaluated_all: evaluate_all,
            failing,
            errors,
            api_calls: session.api_calls(),
            ruleset,
            issues,
            unsupported: unsupported.known(),
        };
        // Info, not warn: the scan record carries them and `palisade scan` prints them.
        for issue in &record.issues {
            tracing::info!(
                account = %account.name,
                service = %issue.service,
                region = %issue.region,
                resource = issue.resource_id.as_deref().unwrap_or(""),
                field = issue.field.as_deref().unwrap_or(""),
                kind = issue.kind.as_str(),
                "{}",
                issue.message
            );
        }
        tracing::info!(
            account = %account.name,
            account_id = %account.account_id,
            changed = record.changed,
            deleted = record.deleted,
            evaluated = record.evaluated,
            api_calls = record.api_calls,
            "scan finished"
        );
        self.store.put_scan(&record).map_err(store_err)?;
        self.store.flush().map_err(store_err)?;
        Ok(record)
    }

    /// Assumes the account's role (as `session_name`, which the account's CloudTrail shows)
    /// and checks that it answers as the account.
    pub(super) async fn open_session(
        &self,
        account: &Account,
        session_name: &str,
    ) -> Result<Session, ScanError> {
        let session = self
            .host
            .assume(
                &account.role_arn,
                account.external_id.as_deref(),
                session_name,
            )
            .await;
        let found = session
            .caller_account()
            .await
            .map_err(|source| ScanError::Identity {
                account: account.name.clone(),
                role: account.role_arn.clone(),
                source,
            })?;
        if found != account.account_id {
            return Err(ScanError::WrongAccount {
                account: account.name.clone(),
                expected: account.account_id.clone(),
                found,
            });
        }
        Ok(session)
    }

    /// Runs collector runs (each with its scope, `None` for everything) a few at a time and
    /// yields each one's output as it ends.
    pub(super) fn run_collectors<'a>(
        &self,
        session: &'a Session,
        account: &'a Account,
        runs: Vec<(Task, Option<Arc<Scope>>)>,
        unsupported: &'a Unsupported,
        progress: &'a dyn Progress,
    ) -> impl Stream<Item = (Task, Option<Arc<Scope>>, Collected)> + 'a {
        futures::stream::iter(runs)
            .map(move |(task, scope)| async move {
                progress.started(&task);
                let t0 = Instant::now();
                let mut cx = Collect::new(
                    session,
                    account,
                    task.service.name(),
                    &task.region,
                    unsupported.clone(),
                );
                if let Some(scope) = &scope {
                    cx = cx.with_scope(scope.clone());
                }
                task.service.collect(&mut cx).await;
                let out = cx.finish();
                progress.finished(&task, out.docs.len(), out.issues.len(), t0.elapsed());
                (task, scope, out)
            })
            .buffer_unordered(self.options.concurrency.max(1))
    }

    /// Evaluates `resources` into findings. Packs run on CPU for a while: off the async workers.
    pub(super) async fn evaluate(
        &self,
        account: &Account,
        evaluator: Arc<Evaluator>,
        resources: Vec<ResourceRecord>,
        now: OffsetDateTime,
    ) -> Result<Outcome, ScanError> {
        tokio::task::spawn_blocking(move || evaluator.evaluate(&resources, now))
            .await
            .map_err(|e| ScanError::Evaluation {
                account: account.name.clone(),
                message: e.to_string(),
            })?
            .map_err(|source| ScanError::Store {
                account: account.name.clone(),
                source,
            })
    }

    /// Enabled regions of the account's partition, restricted by the options, minus exclusions.
    async fn regions(
        &self,
        session: &Session,
        account: &Account,
    ) -> Result<Vec<String>, ScanError> {
        let out = session
            .ec2(session.home_region())
            .describe_regions()
            .send()
            .await
            .map_err(|e| ScanError::Regions {
                account: account.name.clone(),
                source: AwsError::from_sdk("DescribeRegions", e),
            })?;
        let partition = partition_of(session.home_region());
        let mut regions: Vec<String> = out
            .regions()
            .iter()
            .filter(|r| r.opt_in_status() != Some("not-opted-in"))
            .filter_map(|r| r.region_name().map(str::to_owned))
            .filter(|r| partition_of(r) == partition)
            .filter(|r| self.options.regions.is_empty() || self.options.regions.contains(r))
            .filter(|r| !account.region_excluded(r))
            .collect();
        regions.sort();
        Ok(regions)
    }

    /// Writes one run's documents whose content changed, notes what it saw and which
    /// (type, region) listings it completed; returns its issues.
    fn write(
        &self,
        account: &Account,
        task: &Task,
        out: Collected,
        seen: &mut Seen,
        covered: &mut Covered,
    ) -> Result<Vec<ScanIssue>, StoreError> {
        for ty in task.service.resource_types() {
            if !out.incomplete.contains(ty) {
                // S3 lists every region's buckets at once: its listing covers them all.
                let region = match task.service {
                    Service::S3 => ANY_REGION.to_owned(),
                    _ if task.service.is_global() => "global".to_owned(),
                    _ => task.region.clone(),
                };
                covered.0.insert(((*ty).to_owned(), region));
            }
        }
        for written in self.write_docs(account, out.docs, OffsetDateTime::now_utc())? {
            seen.changed += u64::from(written.changed);
            seen.ids.insert(written.record.resource_id);
        }
        Ok(out.issues)
    }

    /// Stores the documents that are new or differ from the stored ones (stamped `now`), and
    /// returns every document as the store now holds it.
    pub(super) fn write_docs(
        &self,
        account: &Account,
        docs: Vec<Doc>,
        now: OffsetDateTime,
    ) -> Result<Vec<Written>, StoreError> {
        let mut written = Vec::with_capacity(docs.len());
        for doc in docs {
            let id = doc.resource_id().to_owned();
            let (ty, region) = (doc.resource_type().to_owned(), doc.region().to_owned());
            let document = doc.into_value();
            let old = self.store.get_resource(&account.account_id, &ty, &id)?;
            let (record, changed) = match old {
                Some(old) if old.deleted_at.is_none() && old.document == document => (old, false),
                _ => {
                    let record = ResourceRecord {
                        account_id: account.account_id.clone(),
                        resource_type: ty,
                        resource_id: id,
                        region,
                        document,
                        updated_at: now,
                        deleted_at: None,
                    };
                    self.store.put_resource(&record)?;
                    (record, true)
                }
            };
            written.push(Written { record, changed });
        }
        Ok(written)
    }

    /// Marks resources deleted as of `now` and closes their findings; returns their ids.
    pub(super) fn retire(
        &self,
        account: &Account,
        gone: Vec<ResourceRecord>,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::with_capacity(gone.len());
        for mut r in gone {
            r.deleted_at = Some(now);
            self.store.put_resource(&r)?;
            ids.push(r.resource_id);
        }
        let gone: HashSet<&str> = ids.iter().map(String::as_str).collect();
        findings::close_findings(self.store.as_ref(), &account.account_id, &gone, now)?;
        Ok(ids)
    }

    /// Marks live resources the scan did not see as deleted where their listing was complete
    /// (or where the account now excludes them), and closes their findings. Returns how many
    /// went, and the account's resources still live.
    fn mark_deleted(
        &self,
        account: &Account,
        seen: &HashSet<String>,
        covered: &Covered,
        now: OffsetDateTime,
    ) -> Result<(u64, Vec<ResourceRecord>), StoreError> {
        let stored = self.store.list_resources(&ResourceFilter {
            account_id: Some(account.account_id.clone()),
            ..ResourceFilter::default()
        })?;
        let (gone, live): (Vec<_>, Vec<_>) = stored
            .into_iter()
            .filter(|r| r.deleted_at.is_none())
            .partition(|r| {
                let unseen = !seen.contains(&r.resource_id);
                let excluded = account.excludes(&r.region, &r.resource_type, &r.resource_id);
                unseen && (excluded || covered.covers(&r.resource_type, &r.region))
            });
        let gone = self.retire(account, gone, now)?;
        Ok((gone.len() as u64, live))
    }
}

/// A collected document as the store now holds it.
pub(super) struct Written {
    pub record: ResourceRecord,
    /// Whether it was stored now: new, or different from the stored one.
    pub changed: bool,
}

/// The operations earlier scans found unimplemented, skipped for a week and then tried again.
pub(super) fn unsupported_memo(last: Option<&ScanRecord>, now: OffsetDateTime) -> Unsupported {
    Unsupported::from_known(
        last.iter()
            .flat_map(|s| s.unsupported.clone())
            .filter(|(_, since)| (now - *since).unsigned_abs() < UNSUPPORTED_FOR)
            .collect(),
    )
}

/// How long an operation found unimplemented is skipped before it is tried again.
const UNSUPPORTED_FOR: Duration = Duration::from_secs(7 * 24 * 3600);

/// Region placeholder for listings that cover every region.
const ANY_REGION: &str = "*";

#[derive(Default)]
struct Seen {
    ids: HashSet<String>,
    /// Documents written because they were new or differed from the stored one.
    changed: u64,
}

/// (resource type, region) pairs whose listing completed in this scan.
#[derive(Default)]
struct Covered(HashSet<(String, String)>);

impl Covered {
    fn covers(&self, resource_type: &str, region: &str) -> bool {
        [region, ANY_REGION].iter().any(|r| {
            self.0
                .contains(&(resource_type.to_owned(), (*r).to_owned()))
        })
    }
}

/// Global services once from the home region, regional ones in every region; services whose
/// every resource type is excluded are skipped.
fn plan(account: &Account, home_region: &str, regions: &[String]) -> Vec<Task> {
    let mut tasks = Vec::new();
    for service in Service::ALL {
        if service
            .resource_types()
            .iter()
            .all(|t| account.type_excluded(t))
        {
            continue;
        }
        if service.is_global() {
            tasks.push(Task {
                service,
                region: home_region.to_owned(),
            });
        } else {
            tasks.extend(regions.iter().map(|r| Task {
                service,
                region: r.clone(),
            }));
        }
    }
    tasks
}

/// The AWS partition a region belongs to.
fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-iso") {
        "aws-iso"
    } else {
        "aws"
    }
}

/// Counts of a scan's issues by kind, for summaries.
pub fn issue_counts(issues: &[ScanIssue]) -> HashMap<&'static str, usize> {
    let mut out = HashMap::new();
    for i in issues {
        *out.entry(i.kind.as_str()).or_default() += 1;
    }
    out
}
