//! Findings: evaluating stored resources with the rule set and keeping, per (rule, resource),
//! the latest verdict with its first/last seen times and a history of every status change.
//! Evaluation itself is the engine's; collection is `scan`'s. This is the one place that
//! writes findings.

use std::collections::BTreeMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::engine::{
    EngineError, EvalContext, Lookup, PackSet, Plan, RuleSettings, Status, Subject,
};
use crate::store::{
    FindingChange, FindingFilter, FindingRecord, FindingState, FindingStatus, ResourceRecord,
    Store, StoreError,
};

/// What one evaluation pass changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// (rule, resource) pairs evaluated.
    pub verdicts: u64,
    /// Findings seen for the first time.
    pub new: u64,
    /// Findings whose status changed (reopened ones included).
    pub changed: u64,
}

/// The enabled rules with their settings, ready to evaluate resources into findings.
pub struct Evaluator {
    packs: Arc<PackSet>,
    plans: Vec<Plan>,
    ruleset: String,
    store: Arc<dyn Store>,
}

impl Evaluator {
    /// Every default-enabled rule of `packs`, with operator `settings`.
    pub fn new(
        packs: Arc<PackSet>,
        settings: &RuleSettings,
        store: Arc<dyn Store>,
    ) -> Result<Evaluator, EngineError> {
        let plans = packs.plan(None, false, settings)?;
        let ruleset = fingerprint(&packs, settings);
        Ok(Evaluator {
            packs,
            plans,
            ruleset,
            store,
        })
    }

    /// Identifies the packs, the enabled rules and their settings: when it changes, stored
    /// verdicts may be stale for every resource.
    pub fn ruleset(&self) -> &str {
        &self.ruleset
    }

    /// Evaluates `resources` (live ones; all of one account) as of `now` and records the
    /// verdicts as findings. A resource with a closed finding that is seen again reopens it.
    pub fn evaluate(
        &self,
        resources: &[ResourceRecord],
        now: OffsetDateTime,
    ) -> Result<Outcome, StoreError> {
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
        let mut outcome = Outcome::default();
        for e in self.packs.evaluate(&self.plans, &ctx, &subjects) {
            let resource = &resources[e.subject];
            let status = match e.status {
                Status::Pass => FindingStatus::Pass,
                Status::Fail => FindingStatus::Fail,
                Status::Error => FindingStatus::Error,
            };
            outcome.verdicts += 1;
            let previous = self.store.get_finding(&e.rule.id, &resource.resource_id)?;
            let from = previous.as_ref().map(FindingRecord::state);
            let to = FindingState::from(status);
            let record = FindingRecord {
                rule_id: e.rule.id.clone(),
                resource_id: resource.resource_id.clone(),
                account_id: resource.account_id.clone(),
                resource_type: resource.resource_type.clone(),
                region: resource.region.clone(),
                status,
                message: e.message.clone(),
                severity: e.rule.severity.as_str().to_owned(),
                first_seen: previous.as_ref().map_or(now, |f| f.first_seen),
                last_seen: now,
                status_changed_at: match (&previous, from == Some(to)) {
                    (Some(f), true) => f.status_changed_at,
                    _ => now,
                },
                closed_at: None,
            };
            self.store.put_finding(&record)?;
            if from != Some(to) {
                if from.is_none() {
                    outcome.new += 1;
                } else {
                    outcome.changed += 1;
                }
                self.store.append_finding_change(&FindingChange {
                    rule_id: record.rule_id,
                    resource_id: record.resource_id,
                    at: now,
                    from,
                    to,
                    message: e.message,
                })?;
            }
        }
        Ok(outcome)
    }
}

/// Closes the open findings of resources that are gone; returns how many were closed.
pub fn close_findings(
    store: &dyn Store,
    account_id: &str,
    gone: &std::collections::HashSet<&str>,
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    if gone.is_empty() {
        return Ok(0);
    }
    let filter = FindingFilter {
        account_id: Some(account_id.to_owned()),
        ..FindingFilter::default()
    };
    let mut closed = 0;
    for mut finding in store.list_findings(&filter)? {
        if finding.closed_at.is_some() || !gone.contains(finding.resource_id.as_str()) {
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

/// Open failing findings by severity and open findings in error, for one account.
pub fn open_summary(
    store: &dyn Store,
    account_id: &str,
) -> Result<(BTreeMap<String, u64>, u64), StoreError> {
    let filter = FindingFilter {
        account_id: Some(account_id.to_owned()),
        ..FindingFilter::default()
    };
    let mut failing = BTreeMap::new();
    let mut errors = 0;
    for f in store.list_findings(&filter)? {
        match (f.closed_at, f.status) {
            (None, FindingStatus::Fail) => *failing.entry(f.severity).or_default() += 1,
            (None, FindingStatus::Error) => errors += 1,
            _ => {}
        }
    }
    Ok((failing, errors))
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

fn fingerprint(packs: &PackSet, settings: &RuleSettings) -> String {
    let mut hash = Sha256::new();
    for (pack, rule) in packs.rules() {
        hash.update(pack.digest().as_bytes());
        hash.update([0]);
        hash.update(rule.id.as_bytes());
        hash.update([0]);
    }
    // Sorted so the fingerprint does not depend on hash-map order.
    let sorted: BTreeMap<&String, BTreeMap<&String, &serde_json::Value>> = settings
        .iter()
        .map(|(rule, values)| (rule, values.iter().collect()))
        .collect();
    hash.update(serde_json::to_vec(&sorted).unwrap_or_default());
    hex::encode(hash.finalize())
}
