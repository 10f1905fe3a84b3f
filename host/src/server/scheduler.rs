//! Scan jobs: queued by an operator, by an account's baseline, or by its interval coming
//! round; at most one per account at a time; persisted at every step so a restart finds
//! what was running and runs it again. Scanning itself is `scan`'s; HTTP is the routes'.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::{Semaphore, watch};

use super::metrics::Metrics;
use crate::account::Account;
use crate::registry::new_id;
use crate::scan::{Progress, ScanOptions, Scanner, Task};
use crate::store::{ScanJob, ScanProgress, ScanState, ScanTrigger, Store, StoreError};

/// Why a scan could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("no account named {0:?}")]
    UnknownAccount(String),
    #[error("the service is shutting down")]
    Stopping,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct ScheduleOptions {
    /// Interval of accounts that set none.
    pub default_interval: Duration,
    /// How often due accounts are looked for.
    pub tick: Duration,
    /// Accounts scanned at once.
    pub concurrent_scans: usize,
    /// A failed scan is tried again after this, or after the account's interval if shorter.
    pub retry_after: Duration,
    /// How scans run; the server builds the one scanner its scans and refreshes share from it.
    pub scan: ScanOptions,
}

impl Default for ScheduleOptions {
    fn default() -> Self {
        ScheduleOptions {
            // Daily, as the product promises: a baseline on add, then once a day.
            default_interval: Duration::from_secs(24 * 3600),
            // A minute: schedules are hours apart, so finer only costs wake-ups.
            tick: Duration::from_secs(60),
            // Two: each scan already runs eight collectors at once.
            concurrent_scans: 2,
            // An hour: long enough not to hammer a broken account, short enough to recover the day.
            retry_after: Duration::from_secs(3600),
            scan: ScanOptions::default(),
        }
    }
}

/// Runs scan jobs. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    /// Shared with the real-time path; raises alerts when the server gave it an alerter.
    scanner: Arc<Scanner>,
    options: ScheduleOptions,
    metrics: Arc<Metrics>,
    /// Jobs queued or running, by account name: at most one per account.
    active: Mutex<HashMap<String, Arc<Mutex<ScanJob>>>>,
    slots: Semaphore,
    stopping: watch::Sender<bool>,
}

impl Scheduler {
    /// A scheduler over `store`, evaluating with `rules`; jobs a previous run left queued or
    /// running are marked interrupted and queued again.
    pub fn start(
        store: Arc<dyn Store>,
        scanner: Arc<Scanner>,
        options: ScheduleOptions,
        metrics: Arc<Metrics>,
    ) -> Result<Scheduler, SchedulerError> {
        let scheduler = Scheduler {
            inner: Arc::new(Inner {
                store,
                scanner,
                slots: Semaphore::new(options.concurrent_scans.max(1)),
                options,
                metrics,
                active: Mutex::new(HashMap::new()),
                stopping: watch::channel(false).0,
            }),
        };
        scheduler.recover()?;
        scheduler.update_resource_gauge();
        let ticker = scheduler.clone();
        tokio::spawn(async move { ticker.tick_loop().await });
        Ok(scheduler)
    }

    /// Queues a scan of the named account, or returns the one already queued or running.
    /// The flag says whether a new job was queued.
    pub fn enqueue(
        &self,
        account_name: &str,
        trigger: ScanTrigger,
    ) -> Result<(ScanJob, bool), SchedulerError> {
        if *self.inner.stopping.borrow() {
            return Err(SchedulerError::Stopping);
        }
        let account = self
            .inner
            .store
            .get_account(account_name)?
            .ok_or_else(|| SchedulerError::UnknownAccount(account_name.to_owned()))?;
        let mut active = self.inner.active.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(job) = active.get(account_name) {
            return Ok((lock(job).clone(), false));
        }
        let now = OffsetDateTime::now_utc();
        let job = ScanJob {
            id: new_id(now),
            account_name: account.name.clone(),
            trigger,
            state: ScanState::Queued,
            queued_at: now,
            started_at: None,
            finished_at: None,
            progress: ScanProgress::default(),
            error: None,
            record: None,
        };
        self.inner.store.put_scan_job(&job)?;
        // Durable before anyone is told: a crash now still finds the job on restart.
        self.inner.store.flush()?;
        let shared = Arc::new(Mutex::new(job.clone()));
        active.insert(account.name.clone(), shared.clone());
        drop(active);
        tracing::info!(account = %account.name, job = %job.id, trigger = ?trigger, "scan queued");
        let this = self.clone();
        tokio::spawn(async move { this.run(shared, account.name).await });
        Ok((job, true))
    }

    /// Queues a scan of every account.
    pub fn enqueue_all(&self, trigger: ScanTrigger) -> Result<Vec<ScanJob>, SchedulerError> {
        let accounts = self.inner.store.list_accounts()?;
        let mut jobs = Vec::new();
        for account in accounts {
            match self.enqueue(&account.name, trigger) {
                Ok((job, _)) => jobs.push(job),
                // Removed between the listing and now: nothing to scan.
                Err(SchedulerError::UnknownAccount(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(jobs)
    }

    /// A job by id, with live progress while it runs.
    pub fn job(&self, id: &str) -> Result<Option<ScanJob>, SchedulerError> {
        let live = self
            .inner
            .active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|j| lock(j).clone())
            .find(|j| j.id == id);
        match live {
            Some(job) => Ok(Some(job)),
            None => Ok(self.inner.store.get_scan_job(id)?),
        }
    }

    /// Jobs newest first, of one account or all.
    pub fn jobs(
        &self,
        account: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ScanJob>, SchedulerError> {
        let mut jobs = self.inner.store.list_scan_jobs(account, limit)?;
        let active = self.inner.active.lock().unwrap_or_else(|e| e.into_inner());
        for job in &mut jobs {
            if let Some(live) = active.get(&job.account_name) {
                let live = lock(live);
                if live.id == job.id {
                    *job = live.clone();
                }
            }
        }
        Ok(jobs)
    }

    /// When the account's next scheduled scan is due.
    pub fn next_due(&self, account: &Account) -> Result<OffsetDateTime, SchedulerError> {
        let last = self.inner.store.list_scan_jobs(Some(&account.name), 1)?;
        let interval = self.interval(account);
        Ok(match last.first() {
            // Never scanned by the service: a day after the last scan the CLI ran, or after
            // the account was added without a baseline.
            None => match self.inner.store.last_scan(&account.name)? {
                Some(scan) => scan.finished_at + interval,
                None => account.added_at + interval,
            },
            Some(job) => {
                let since = job.finished_at.unwrap_or(job.queued_at);
                let wait = match job.state {
                    ScanState::Failed | ScanState::Interrupted => {
                        interval.min(self.inner.options.retry_after)
                    }
                    _ => interval,
                };
                since + wait
            }
        })
    }

    fn interval(&self, account: &Account) -> Duration {
        account
            .scan_interval_hours
            .map_or(self.inner.options.default_interval, |h| {
                Duration::from_secs(u64::from(h) * 3600)
            })
    }

    /// Stops queuing and starting scans, then waits up to `grace` for running ones; those
    /// still running after it stay recorded as running and are redone on the next start.
    /// Returns how many scans were still running.
    pub async fn shutdown(&self, grace: Duration) -> usize {
        self.inner.stopping.send_replace(true);
        let deadline = Instant::now() + grace;
        loop {
            let running = self
                .inner
                .active
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .values()
                .filter(|j| lock(j).state == ScanState::Running)
                .count();
            if running == 0 || Instant::now() >= deadline {
                return running;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Marks what a previous process left queued or running as interrupted and queues it again.
    fn recover(&self) -> Result<(), SchedulerError> {
        let now = OffsetDateTime::now_utc();
        for mut job in self.inner.store.list_scan_jobs(None, usize::MAX)? {
            if !matches!(job.state, ScanState::Queued | ScanState::Running) {
                continue;
            }
            job.state = ScanState::Interrupted;
            job.finished_at = Some(now);
            job.error = Some("the service stopped before the scan finished".into());
            self.inner.store.put_scan_job(&job)?;
            tracing::warn!(account = %job.account_name, job = %job.id, "scan interrupted by a restart; queuing it again");
            match self.enqueue(&job.account_name, job.trigger) {
                Ok(_) | Err(SchedulerError::UnknownAccount(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn tick_loop(self) {
        let mut stopping = self.inner.stopping.subscribe();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.inner.options.tick) => {}
                _ = stopping.changed() => return,
            }
            if let Err(e) = self.queue_due() {
                tracing::error!(error = %e, "cannot look for accounts due a scan");
            }
        }
    }

    fn queue_due(&self) -> Result<(), SchedulerError> {
        let now = OffsetDateTime::now_utc();
        for account in self.inner.store.list_accounts()? {
            if self.next_due(&account)? <= now {
                match self.enqueue(&account.name, ScanTrigger::Scheduled) {
                    Ok(_) | Err(SchedulerError::UnknownAccount(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    async fn run(&self, job: Arc<Mutex<ScanJob>>, account_name: String) {
        let inner = &self.inner;
        let permit = inner.slots.acquire().await;
        if permit.is_err() || *inner.stopping.borrow() {
            // Left queued in the store: the next start runs it.
            self.forget(&account_name);
            return;
        }
        let account = match inner.store.get_account(&account_name) {
            Ok(Some(account)) => account,
            Ok(None) => {
                self.finish(
                    &job,
                    &account_name,
                    Err("the account was removed".into()),
                    0.0,
                );
                return;
            }
            Err(e) => {
                self.finish(&job, &account_name, Err(e.to_string()), 0.0);
                return;
            }
        };
        {
            let mut j = lock(&job);
            j.state = ScanState::Running;
            j.started_at = Some(OffsetDateTime::now_utc());
            self.persist(&j);
        }
        tracing::info!(account = %account.name, "scan started");
        let progress = JobProgress {
            job: job.clone(),
            scheduler: self.clone(),
        };
        let started = Instant::now();
        let result = inner.scanner.scan(&account, &progress).await;
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(record) => {
                for issue in &record.issues {
                    inner
                        .metrics
                        .record_api_errors(&issue.service, issue.kind.as_str(), 1);
                }
                self.finish(&job, &account_name, Ok(record), seconds);
            }
            Err(e) => self.finish(&job, &account_name, Err(e.to_string()), seconds),
        }
        drop(permit);
    }

    fn finish(
        &self,
        job: &Arc<Mutex<ScanJob>>,
        account: &str,
        result: Result<crate::store::ScanRecord, String>,
        seconds: f64,
    ) {
        {
            let mut j = lock(job);
            j.finished_at = Some(OffsetDateTime::now_utc());
            match result {
                Ok(record) => {
                    j.state = ScanState::Succeeded;
                    j.record = Some(record);
                }
                Err(message) => {
                    tracing::warn!(account, error = %message, "scan failed");
                    j.state = ScanState::Failed;
                    j.error = Some(message);
                }
            }
            let outcome = if j.state == ScanState::Succeeded {
                "succeeded"
            } else {
                "failed"
            };
            self.inner.metrics.observe_scan(account, outcome, seconds);
            self.persist(&j);
            if let Err(e) = self.inner.store.flush() {
                tracing::error!(account, error = %e, "cannot flush the store");
            }
            tracing::info!(account, job = %j.id, outcome, seconds, "scan finished");
        }
        self.forget(account);
        self.update_resource_gauge();
    }

    fn forget(&self, account: &str) {
        self.inner
            .active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(account);
    }

    fn persist(&self, job: &ScanJob) {
        if let Err(e) = self.inner.store.put_scan_job(job) {
            tracing::error!(account = %job.account_name, job = %job.id, error = %e, "cannot record scan progress");
        }
    }

    /// Live resources by type, summed over every account's latest scan.
    fn update_resource_gauge(&self) {
        let mut counts = std::collections::BTreeMap::new();
        let accounts = self.inner.store.list_accounts().unwrap_or_default();
        for account in accounts {
            if let Ok(Some(scan)) = self.inner.store.last_scan(&account.name) {
                for (ty, n) in scan.resources {
                    *counts.entry(ty).or_insert(0) += n;
                }
            }
        }
        self.inner.metrics.set_resources(&counts);
    }
}

fn lock(job: &Mutex<ScanJob>) -> std::sync::MutexGuard<'_, ScanJob> {
    job.lock().unwrap_or_else(|e| e.into_inner())
}

/// Scan progress into the job record, persisted as it moves.
struct JobProgress {
    job: Arc<Mutex<ScanJob>>,
    scheduler: Scheduler,
}

impl Progress for JobProgress {
    fn planned(&self, _account: &Account, tasks: usize) {
        let mut j = lock(&self.job);
        j.progress.tasks_planned = tasks as u64;
        self.scheduler.persist(&j);
    }

    fn finished(&self, _task: &Task, resources: usize, _issues: usize, _took: Duration) {
        let mut j = lock(&self.job);
        j.progress.tasks_done += 1;
        j.progress.resources += resources as u64;
        self.scheduler.persist(&j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    async fn scheduler(store: Arc<dyn Store>) -> Scheduler {
        use crate::server::testing::{empty_registry, offline_host};
        let scanner = Scanner::new(
            offline_host().await,
            store.clone(),
            empty_registry(store.clone()),
            ScanOptions::default(),
        );
        let options = ScheduleOptions {
            default_interval: Duration::from_secs(24 * 3600),
            retry_after: Duration::from_secs(3600),
            ..ScheduleOptions::default()
        };
        Scheduler::start(store, Arc::new(scanner), options, Arc::new(Metrics::new()))
            .expect("start")
    }

    fn account(hours: Option<u32>) -> Account {
        Account {
            name: "prod".into(),
            account_id: "123456789012".into(),
            role_arn: "arn:aws:iam::123456789012:role/PalisadeAudit".into(),
            external_id: None,
            excluded_regions: vec![],
            excluded_resource_types: vec![],
            excluded_resources: vec![],
            scan_interval_hours: hours,
            added_at: time::macros::datetime!(2026-01-01 00:00 UTC),
        }
    }

    fn job(state: ScanState, finished: OffsetDateTime) -> ScanJob {
        ScanJob {
            id: new_id(finished),
            account_name: "prod".into(),
            trigger: ScanTrigger::Scheduled,
            state,
            queued_at: finished - time::Duration::minutes(5),
            started_at: Some(finished - time::Duration::minutes(4)),
            finished_at: Some(finished),
            progress: ScanProgress::default(),
            error: None,
            record: None,
        }
    }

    #[tokio::test]
    async fn the_next_scan_follows_the_interval_and_failures_retry_sooner() {
        let store: Arc<dyn Store> = Arc::new(SledStore::temporary().expect("store"));
        let s = scheduler(store.clone()).await;
        let t0 = time::macros::datetime!(2026-01-01 00:00 UTC);
        let hours = time::Duration::hours;

        // Never scanned: an interval after it was added.
        assert_eq!(s.next_due(&account(None)).unwrap(), t0 + hours(24));
        assert_eq!(s.next_due(&account(Some(6))).unwrap(), t0 + hours(6));

        // After a successful scan: the interval from when it finished.
        let done = t0 + hours(30);
        store
            .put_scan_job(&job(ScanState::Succeeded, done))
            .unwrap();
        assert_eq!(s.next_due(&account(None)).unwrap(), done + hours(24));
        assert_eq!(s.next_due(&account(Some(6))).unwrap(), done + hours(6));

        // After a failure or an interruption: sooner, unless the interval is shorter still.
        for state in [ScanState::Failed, ScanState::Interrupted] {
            let failed = done + hours(24);
            store.put_scan_job(&job(state, failed)).unwrap();
            assert_eq!(
                s.next_due(&account(None)).unwrap(),
                failed + hours(1),
                "{state:?}"
            );
            assert_eq!(s.next_due(&account(Some(1))).unwrap(), failed + hours(1));
        }
    }

    #[tokio::test]
    async fn one_job_per_account_and_none_for_strangers() {
        let store: Arc<dyn Store> = Arc::new(SledStore::temporary().expect("store"));
        store.put_account(&account(None)).unwrap();
        let s = scheduler(store.clone()).await;
        let (first, created) = s.enqueue("prod", ScanTrigger::Manual).unwrap();
        assert!(created);
        // Still queued or running (the endpoint is dead, so it ends soon, but not yet):
        // the same job comes back, or the first has already finished and a new one starts.
        let (second, created_again) = s.enqueue("prod", ScanTrigger::Manual).unwrap();
        assert!(created_again != (second.id == first.id));
        assert!(matches!(
            s.enqueue("nobody", ScanTrigger::Manual),
            Err(SchedulerError::UnknownAccount(_))
        ));
        // Stopping refuses new work.
        s.shutdown(Duration::from_secs(30)).await;
        assert!(matches!(
            s.enqueue("prod", ScanTrigger::Manual),
            Err(SchedulerError::Stopping)
        ));
        // Every job ended recorded, none left running.
        for job in store.list_scan_jobs(Some("prod"), 10).unwrap() {
            assert_ne!(job.state, ScanState::Running, "{job:?}");
        }
    }
}
