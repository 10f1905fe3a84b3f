//! Findings: evaluating stored resources with the rule set and keeping, per (rule, resource),
//! the latest verdict with its first/last seen times and a history of every status change.
//! Evaluation itself is the engine's; collection is `scan`'s. This is the one place that
//! writes findings.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::account::glob_match;
use crate::engine::{
    EngineError, EvalContext, Lookup, PackSet, Plan, RuleMeta, RuleSettings, Status, Subject,
};
use crate::store::{
    FindingChange, FindingFilter, FindingQuery, FindingRecord, FindingState, FindingStatus,
    ResourceRecord, Store, StoreError, Suppression,
};

/// What one evaluation pass changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// (rule, resource) pairs evaluated.
    pub verdicts: u64,
    /// Findings seen for the first time.
    pub new: u64,
    /// Findings whose status changed (reopened ones included).
    pub changed: u64,
    /// Verdicts by (rule id, status).
    pub by_rule: BTreeMap<(String, FindingStatus), u64>,
    /// The changes an alert reports: into `fail` (from nothing, `pass`, `error` or closed) and
    /// from `fail` to `pass`. Whether to alert on them is the caller's choice.
    pub transitions: Vec<Transition>,
}

/// A finding that started or stopped failing.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The state before; `None` for a finding seen for the first time.
    pub from: Option<FindingState>,
    /// The finding as now stored.
    pub finding: FindingRecord,
}

impl Transition {
    /// The transitions worth an alert among the change `from` → `finding.state()`.
    fn of(from: Option<FindingState>, finding: &FindingRecord) -> Option<Transition> {
        let to = finding.state();
        let failing = to == FindingState::Fail && from != Some(FindingState::Fail);
        let resolved = from == Some(FindingState::Fail) && to == FindingState::Pass;
        (failing || resolved).then(|| Transition {
            from,
            finding: finding.clone(),
        })
    }

    /// Whether the finding started failing (rather than stopped).
    pub fn is_failing(&self) -> bool {
        self.finding.state() == FindingState::Fail
    }
}

/// Told about every evaluation pass (metrics).
pub trait EvalObserver: Send + Sync {
    fn evaluated(&self, outcome: &Outcome, took: Duration);
}

/// Which rules an [`Evaluator`] runs and how; the default runs every default-enabled rule
/// with its default settings and suppresses nothing.
#[derive(Clone, Default)]
pub struct EvalConfig {
    /// The rules to run, by id; `None` runs the default-enabled ones.
    pub enabled: Option<Vec<String>>,
    pub settings: RuleSettings,
    /// Failures these cover are recorded as `suppressed`.
    pub suppressions: Vec<Suppression>,
    pub observer: Option<Arc<dyn EvalObserver>>,
}

/// One verdict of [`Evaluator::verdicts`], suppressions applied.
#[derive(Debug, Clone)]
pub struct Verdict<'p> {
    pub rule: &'p RuleMeta,
    /// Index into the evaluated resources.
    pub subject: usize,
    pub status: FindingStatus,
    pub message: Option<String>,
}

/// The enabled rules with their settings, ready to evaluate resources into findings.
pub struct Evaluator {
    packs: Arc<PackSet>,
    plans: Vec<Plan>,
    enabled: HashSet<String>,
    ruleset: String,
    suppressions: Vec<Suppression>,
    observer: Option<Arc<dyn EvalObserver>>,
    store: Arc<dyn Store>,
}

impl Evaluator {
    /// Every default-enabled rule of `packs`, with operator `settings`.
    pub fn new(
        packs: Arc<PackSet>,
        settings: &RuleSettings,
        store: Arc<dyn Store>,
    ) -> Result<Evaluator, EngineError> {
        let config = EvalConfig {
            settings: settings.clone(),
            ..EvalConfig::default()
        };
        Self::with_config(packs, config, store)
    }

    /// The rules and settings `config` selects.
    pub fn with_config(
        packs: Arc<PackSet>,
        config: EvalConfig,
        store: Arc<dyn Store>,
    ) -> Result<Evaluator, EngineError> {
        let plans = packs.plan(config.enabled.as_deref(), false, &config.settings)?;
        let ruleset = fingerprint(&packs, &plans, &config.settings);
        let enabled = packs
            .packs()
            .iter()
            .zip(&plans)
            .flat_map(|(pack, plan)| plan.rule_indices().map(|i| pack.rules()[i].id.clone()))
            .collect();
        Ok(Evaluator {
            packs,
            plans,
            enabled,
            ruleset,
            suppressions: config.suppressions,
            observer: config.observer,
            store,
        })
    }

    /// Identifies the packs, the enabled rules and their settings: when it changes, stored
    /// verdicts may be stale for every resource.
    pub fn ruleset(&self) -> &str {
        &self.ruleset
    }

    /// The packs evaluated (enabled and disabled rules alike).
    pub fn packs(&self) -> &Arc<PackSet> {
        &self.packs
    }

    /// Whether the rule runs.
    pub fn is_enabled(&self, rule_id: &str) -> bool {
        self.enabled.contains(rule_id)
    }

    /// Every rule that runs.
    pub fn enabled(&self) -> &HashSet<String> {
        &self.enabled
    }

    /// The verdicts of every enabled rule on `resources`, without recording them.
    pub fn verdicts(&self, resources: &[ResourceRecord], now: OffsetDateTime) -> Vec<Verdict<'_>> {
        let texts: Vec<String> = resources.iter().map(|r| r.document.to_string()).collect();
        let subjects: Vec<Subject<'_>> = resources
            .iter()
            .zip(&texts)
            .map(|(r, text)| Subject {
                id: &r.resource_id,
                resource_type: &r.resource_type,
                account_id: &r.account_id,
                document: text,
            })
            .collect();
        let ctx = EvalContext {
            now,
            lookup: Arc::new(StoreLookup(self.store.clone())),
        };
        self.packs
            .evaluate(&self.plans, &ctx, &subjects)
            .into_iter()
            .map(|e| {
                let resource_id = &resources[e.subject].resource_id;
                let status = match e.status {
                    Status::Pass => FindingStatus::Pass,
                    Status::Fail if suppressed(&self.suppressions, &e.rule.id, resource_id) => {
                        FindingStatus::Suppressed
                    }
                    Status::Fail => FindingStatus::Fail,
                    Status::Error => FindingStatus::Error,
                };
                Verdict {
                    rule: e.rule,
                    subject: e.subject,
                    status,
                    message: e.message,
                }
            })
            .collect()
    }

    /// Evaluates `resources` (live ones) as of `now` and records the verdicts as findings.
    /// A resource with a closed finding that is seen again reopens it.
    pub fn evaluate(
        &self,
        resources: &[ResourceRecord],
        now: OffsetDateTime,
    ) -> Result<Outcome, StoreError> {
        let started = Instant::now();
        let mut outcome = Outcome::default();
        for v in self.verdicts(resources, now) {
            let resource = &resources[v.subject];
            outcome.verdicts += 1;
            *outcome
                .by_rule
                .entry((v.rule.id.clone(), v.status))
                .or_default() += 1;
            let previous = self.store.get_finding(&v.rule.id, &resource.resource_id)?;
            let record = FindingRecord {
                rule_id: v.rule.id.clone(),
                resource_id: resource.resource_id.clone(),
                account_id: resource.account_id.clone(),
                resource_type: resource.resource_type.clone(),
                region: resource.region.clone(),
                status: v.status,
                message: v.message,
                severity: v.rule.severity.as_str().to_owned(),
                first_seen: now,
                last_seen: now,
                status_changed_at: now,
                closed_at: None,
            };
            let from = previous.as_ref().map(FindingRecord::state);
            let (change, stored) = record_verdict(self.store.as_ref(), previous, record, now)?;
            match change {
                Change::New => outcome.new += 1,
                Change::Changed => outcome.changed += 1,
                Change::Same => continue,
            }
            outcome.transitions.extend(Transition::of(from, &stored));
        }
        if let Some(observer) = &self.observer {
            observer.evaluated(&outcome, started.elapsed());
        }
        Ok(outcome)
    }
}

/// Whether a suppression of `rule_id` covers `resource_id`.
pub fn suppressed(suppressions: &[Suppression], rule_id: &str, resource_id: &str) -> bool {
    suppressions
        .iter()
        .any(|s| s.rule_id == rule_id && glob_match(&s.pattern, resource_id))
}

enum Change {
    New,
    Changed,
    Same,
}

/// Writes `record` (whose times are all `now`) over `previous`, keeping first-seen and
/// status-changed times where they still hold, and appends a history entry when the state
/// changed.
fn record_verdict(
    store: &dyn Store,
    previous: Option<FindingRecord>,
    mut record: FindingRecord,
    now: OffsetDateTime,
) -> Result<(Change, FindingRecord), StoreError> {
    let from = previous.as_ref().map(FindingRecord::state);
    let to = record.state();
    if let Some(p) = &previous {
        record.first_seen = p.first_seen;
        if from == Some(to) {
            record.status_changed_at = p.status_changed_at;
        }
    }
    store.put_finding(&record)?;
    if from == Some(to) {
        return Ok((Change::Same, record));
    }
    store.append_finding_change(&FindingChange {
        rule_id: record.rule_id.clone(),
        resource_id: record.resource_id.clone(),
        at: now,
        from,
        to,
        message: record.message.clone(),
    })?;
    let change = if from.is_none() {
        Change::New
    } else {
        Change::Changed
    };
    Ok((change, record))
}

/// Re-applies `suppressions` to the open findings of `rule_id`: failures they now cover become
/// `suppressed` and suppressed ones they no longer cover fail again, each with a history
/// entry. Returns how many changed.
pub fn resuppress(
    store: &dyn Store,
    rule_id: &str,
    suppressions: &[Suppression],
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    let query = FindingQuery {
        statuses: vec![FindingStatus::Fail, FindingStatus::Suppressed],
        rule_id: Some(rule_id.to_owned()),
        limit: usize::MAX,
        ..FindingQuery::default()
    };
    let mut changed = 0;
    for finding in store.query_findings(&query)?.findings {
        let status = if suppressed(suppressions, rule_id, &finding.resource_id) {
            FindingStatus::Suppressed
        } else {
            FindingStatus::Fail
        };
        if status == finding.status {
            continue;
        }
        let record = FindingRecord {
            status,
            status_changed_at: now,
            ..finding.clone()
        };
        record_verdict(store, Some(finding), record, now)?;
        changed += 1;
    }
    Ok(changed)
}

/// Closes the open findings of resources that are gone; returns how many were closed.
pub fn close_findings(
    store: &dyn Store,
    account_id: &str,
    gone: &HashSet<&str>,
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    if gone.is_empty() {
        return Ok(0);
    }
    // The index picks the account's open findings; only those are read and decoded.
    let open = FindingQuery {
        account_id: Some(account_id.to_owned()),
        limit: usize::MAX,
        ..FindingQuery::default()
    };
    let mut closed = 0;
    for mut finding in store.query_findings(&open)?.findings {
        if !gone.contains(finding.resource_id.as_str()) {
            continue;
        }
        finding.closed_at = Some(now);
        finding.status_changed_at = now;
        store.put_finding(&finding)?;
        store.append_finding_change(&FindingChange {
            rule_id: finding.rule_id,
            resource_id: finding.resource_id,
            at: now,
            from: Some(finding.status.into()),
            to: FindingState::Closed,
            message: Some("the resource no longer exists".into()),
        })?;
        closed += 1;
    }
    Ok(closed)
}

/// The open findings of `accounts` (12-digit ids), for reports and exports.
pub fn open_findings(
    store: &dyn Store,
    accounts: &[String],
) -> Result<Vec<FindingRecord>, StoreError> {
    let mut findings = Vec::new();
    for account in accounts {
        findings.extend(
            store
                .list_findings(&FindingFilter {
                    account_id: Some(account.clone()),
                    ..FindingFilter::default()
                })?
                .into_iter()
                .filter(|f| f.closed_at.is_none()),
        );
    }
    Ok(findings)
}

/// Open failing findings by severity and open findings in error, for one account.
pub fn open_summary(
    store: &dyn Store,
    account_id: &str,
) -> Result<(BTreeMap<String, u64>, u64), StoreError> {
    // Counted by the findings index: no record is decoded.
    let summary = store.summarize_findings(&FindingQuery {
        account_id: Some(account_id.to_owned()),
        ..FindingQuery::default()
    })?;
    let errors = summary
        .by_state
        .get(FindingState::Error.as_str())
        .copied()
        .unwrap_or(0);
    Ok((summary.failing_by_severity, errors))
}

/// Lookups read live resources of the evaluated account from the store.
struct StoreLookup(Arc<dyn Store>);

impl Lookup for StoreLookup {
    fn lookup(&self, account_id: &str, resource_id: &str) -> Option<String> {
        match self.0.find_resource(account_id, resource_id) {
            Ok(Some(r)) if r.deleted_at.is_none() => Some(r.document.to_string()),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(account = account_id, resource = resource_id, error = %e, "lookup failed");
                None
            }
        }
    }
}

fn fingerprint(packs: &PackSet, plans: &[Plan], settings: &RuleSettings) -> String {
    let mut hash = Sha256::new();
    for (pack, plan) in packs.packs().iter().zip(plans) {
        hash.update(pack.digest().as_bytes());
        hash.update([0]);
        for i in plan.rule_indices() {
            hash.update(pack.rules()[i].id.as_bytes());
            hash.update([0]);
        }
    }
    // Sorted so the fingerprint does not depend on hash-map order.
    let sorted: BTreeMap<&String, BTreeMap<&String, &serde_json::Value>> = settings
        .iter()
        .map(|(rule, values)| (rule, values.iter().collect()))
        .collect();
    hash.update(serde_json::to_vec(&sorted).unwrap_or_default());
    hex::encode(hash.finalize())
}
