//! Targeted rescans: [`Scanner::refresh`] collects again only the resources events name,
//! stores what changed, marks what a complete listing no longer shows as deleted, and
//! re-evaluates those resources, in a few calls instead of a whole-account scan. Sessions are
//! kept between refreshes ([`Sessions`]); the steps shared with a scan are `run.rs`'s.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use time::OffsetDateTime;

use super::cloudtrail::TRAIL;
use super::run::unsupported_memo;
use super::{Quiet, ScanError, ScanIssue, Scanner, Scope, Service, Task};
use crate::account::Account;
use crate::aws::Session;
use crate::events::Target;
use crate::findings::Outcome;
use crate::store::{ResourceFilter, ResourceRecord, StoreError};

/// How long an assumed-role session serves refreshes. Events come in bursts: one STS round
/// trip (AssumeRole and the identity check) per burst rather than per event, while a role
/// whose trust policy changed, or an account re-pointed at another role, is noticed within
/// minutes. The SDK renews the credentials themselves before they expire.
const SESSION_REUSE: Duration = Duration::from_secs(10 * 60);

/// What one refresh did.
#[derive(Debug, Clone, Default)]
pub struct Refresh {
    /// Documents collected for the targets.
    pub collected: u64,
    /// Of those, written because they were new or differed from the stored one.
    pub changed: u64,
    /// Resources marked deleted.
    pub deleted: u64,
    /// The resource ids collected or deleted (for logs and alerts).
    pub resources: Vec<String>,
    pub issues: Vec<ScanIssue>,
    /// The evaluation's outcome (findings new/changed).
    pub outcome: Outcome,
    pub api_calls: u64,
}

/// Verified account sessions by role ARN and external id.
#[derive(Default)]
pub(crate) struct Sessions(Mutex<HashMap<(String, Option<String>), Kept>>);

struct Kept {
    session: Session,
    /// The account the session was verified to answer as.
    account_id: String,
    opened: Instant,
}

impl Sessions {
    /// A kept session for `account`, counting its calls afresh.
    fn get(&self, account: &Account) -> Option<Session> {
        let sessions = self.0.lock().unwrap_or_else(|e| e.into_inner());
        sessions
            .get(&key(account))
            .filter(|k| k.account_id == account.account_id && k.opened.elapsed() < SESSION_REUSE)
            .map(|k| k.session.recounted())
    }

    /// Keeps a verified session, dropping the ones too old to serve.
    fn keep(&self, account: &Account, session: &Session) {
        let mut sessions = self.0.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, k| k.opened.elapsed() < SESSION_REUSE);
        sessions.insert(
            key(account),
            Kept {
                session: session.clone(),
                account_id: account.account_id.clone(),
                opened: Instant::now(),
            },
        );
    }
}

fn key(account: &Account) -> (String, Option<String>) {
    (account.role_arn.clone(), account.external_id.clone())
}

/// One collector run of a refresh and the targets it serves.
struct Run {
    task: Task,
    scope: Arc<Scope>,
}

impl Scanner {
    /// Collects `targets` of `account` again: stores what changed, marks what is gone as
    /// deleted (closing its findings) and evaluates the targeted resources. Targets of other
    /// accounts, and regions and types the account or the scan options leave out, are skipped.
    pub async fn refresh(
        &self,
        account: &Account,
        targets: &[Target],
    ) -> Result<Refresh, ScanError> {
        let started = Instant::now();
        let store_err = |source| ScanError::Store {
            account: account.name.clone(),
            source,
        };
        let runs = self.plan_refresh(account, targets);
        let mut refresh = Refresh::default();
        if runs.is_empty() {
            log_refresh(account, targets.len(), &refresh, started);
            return Ok(refresh);
        }
        let session = self.account_session(account).await?;

        let now = OffsetDateTime::now_utc();
        let last = self.store.last_scan(&account.name).map_err(store_err)?;
        let unsupported = unsupported_memo(last.as_ref(), now);
        let planned = runs
            .into_iter()
            .map(|run| (run.task, Some(run.scope)))
            .collect();
        let mut outputs = self.run_collectors(&session, account, planned, &unsupported, &Quiet);
        let (mut live, mut seen, mut completed) = (Vec::new(), HashSet::new(), Vec::new());
        while let Some((task, scope, out)) = outputs.next().await {
            for written in self.write_docs(account, out.docs, now).map_err(store_err)? {
                refresh.changed += u64::from(written.changed);
                seen.insert(written.record.resource_id.clone());
                live.push(written.record);
            }
            // A resource whose details failed was found: it is not gone.
            seen.extend(out.issues.iter().filter_map(|i| i.resource_id.clone()));
            refresh.issues.extend(out.issues);
            // Only a listing that completed proves absence.
            completed.extend(
                scope
                    .iter()
                    .flat_map(|s| s.targets())
                    .filter(|t| !out.incomplete.contains(&t.resource_type.as_str()))
                    .map(|t| (task.service, t.clone())),
            );
        }
        drop(outputs);

        let gone = self
            .vanished(account, &completed, &seen)
            .map_err(store_err)?;
        let gone = self.retire(account, gone, now).map_err(store_err)?;
        // A trail that changed, appeared or went changes the account's trail summary.
        if targets.iter().any(|t| t.resource_type == TRAIL)
            && let Some((summary, changed)) = self
                .summarize_trails(account, None, now)
                .map_err(store_err)?
        {
            refresh.changed += u64::from(changed);
            live.push(summary);
        }
        refresh.collected = live.len() as u64;
        refresh.deleted = gone.len() as u64;
        refresh.resources = live
            .iter()
            .map(|r| r.resource_id.clone())
            .chain(gone)
            .collect();
        // Every targeted resource is evaluated, changed or not: it is cheap, and catches a
        // change an earlier, eventually consistent read missed.
        refresh.outcome = self
            .evaluate(account, self.rules.evaluator(), live, now)
            .await?;
        refresh.api_calls = session.api_calls();
        self.store.flush().map_err(store_err)?;
        self.alert(account, &refresh.outcome);
        log_refresh(account, targets.len(), &refresh, started);
        Ok(refresh)
    }

    /// A session in `account`, for refreshes and other event work (reading its CloudTrail log
    /// files): assumed and checked on first use, then kept for a few minutes. Its call count
    /// is its own.
    pub async fn account_session(&self, account: &Account) -> Result<Session, ScanError> {
        if let Some(session) = self.sessions.get(account) {
            return Ok(session);
        }
        let session = self.open_session(account, "palisade-refresh").await?;
        self.sessions.keep(account, &session);
        Ok(session)
    }

    /// Groups the targets to collect into collector runs: a service's targets in one region
    /// share a run, global services run once from the home region.
    fn plan_refresh(&self, account: &Account, targets: &[Target]) -> Vec<Run> {
        let home = self.host.home_region();
        let mut runs: BTreeMap<(Service, String), Vec<Target>> = BTreeMap::new();
        for target in targets {
            let ty = target.resource_type.as_str();
            if target.account_id != account.account_id {
                tracing::debug!(account = %account.name, target = ?target, "target of another account skipped");
                continue;
            }
            let Some(service) = Service::of_type(ty) else {
                tracing::warn!(account = %account.name, resource_type = ty, "target of an unknown resource type skipped");
                continue;
            };
            let region = target.region.as_str();
            let outside = !service.is_global()
                && !self.options.regions.is_empty()
                && !self.options.regions.iter().any(|r| r == region);
            if account.region_excluded(region) || account.type_excluded(ty) || outside {
                tracing::debug!(account = %account.name, target = ?target, "excluded target skipped");
                continue;
            }
            let run_region = if service.is_global() { home } else { region };
            runs.entry((service, run_region.to_owned()))
                .or_default()
                .push(target.clone());
        }
        runs.into_iter()
            .map(|((service, region), targets)| Run {
                task: Task { service, region },
                scope: Arc::new(Scope::new(targets)),
            })
            .collect()
    }

    /// The stored live resources that `completed` targets name but their runs did not find
    /// (`seen` holds what they found). Resources the account excludes are left to the next
    /// scan, which takes them out with their findings.
    fn vanished(
        &self,
        account: &Account,
        completed: &[(Service, Target)],
        seen: &HashSet<String>,
    ) -> Result<Vec<ResourceRecord>, StoreError> {
        let mut stored: HashMap<&str, Vec<ResourceRecord>> = HashMap::new();
        let mut gone: BTreeMap<String, ResourceRecord> = BTreeMap::new();
        for (service, target) in completed {
            let ty = target.resource_type.as_str();
            if !stored.contains_key(ty) {
                let live = self
                    .store
                    .list_resources(&ResourceFilter {
                        account_id: Some(account.account_id.clone()),
                        resource_type: Some(ty.to_owned()),
                    })?
                    .into_iter()
                    .filter(|r| r.deleted_at.is_none())
                    .collect();
                stored.insert(ty, live);
            }
            for r in &stored[ty] {
                let vanished = stored_where(*service, &target.region, &r.region)
                    && target.matches(&r.resource_id, &r.document)
                    && !seen.contains(&r.resource_id)
                    && !account.excludes(&r.region, &r.resource_type, &r.resource_id);
                if vanished {
                    gone.entry(r.resource_id.clone())
                        .or_insert_with(|| r.clone());
                }
            }
        }
        Ok(gone.into_values().collect())
    }
}

/// Whether a resource stored in `stored_region` lies where a target in `target_region` points:
/// a bucket may live in any region (S3's listing covers them all), IAM documents are `global`,
/// and regional resources are in the target's region.
fn stored_where(service: Service, target_region: &str, stored_region: &str) -> bool {
    match service {
        Service::S3 => true,
        _ if service.is_global() => stored_region == "global",
        _ => stored_region == target_region,
    }
}

fn log_refresh(account: &Account, targets: usize, refresh: &Refresh, started: Instant) {
    tracing::info!(
        account = %account.name,
        targets,
        collected = refresh.collected,
        changed = refresh.changed,
        deleted = refresh.deleted,
        api_calls = refresh.api_calls,
        took_ms = started.elapsed().as_millis() as u64,
        "refresh finished"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_resources_lie_where_their_service_puts_them() {
        assert!(stored_where(Service::S3, "us-east-1", "eu-west-1"));
        assert!(stored_where(Service::Iam, "global", "global"));
        assert!(!stored_where(Service::Iam, "global", "us-east-1"));
        assert!(stored_where(Service::Ec2, "eu-west-1", "eu-west-1"));
        assert!(!stored_where(Service::Ec2, "eu-west-1", "us-east-1"));
    }
}
