//! Several packs evaluated as one rule set: rule ids unique across packs, operator settings
//! and rule selection by id. The single place that maps a rule id to the pack that owns it.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::EngineError;
use super::pack::{EvalContext, Pack, Plan, Status, Subject};
use super::rules::RuleMeta;

/// Operator settings: rule id -> setting name -> value.
pub type RuleSettings = HashMap<String, Map<String, Value>>;

/// A verdict of a [`PackSet`] evaluation.
#[derive(Debug, Clone)]
pub struct SetEvaluation<'p> {
    pub rule: &'p RuleMeta,
    /// Index into the evaluated subjects.
    pub subject: usize,
    pub status: Status,
    pub message: Option<String>,
}

/// Packs whose rule ids do not collide.
pub struct PackSet {
    packs: Vec<Arc<Pack>>,
    owners: HashMap<String, usize>,
}

impl PackSet {
    /// Fails when two packs declare the same rule id.
    pub fn new(packs: Vec<Arc<Pack>>) -> Result<Self, EngineError> {
        let mut owners = HashMap::new();
        for (i, pack) in packs.iter().enumerate() {
            for rule in pack.rules() {
                if let Some(first) = owners.insert(rule.id.clone(), i) {
                    return Err(EngineError::DuplicateRule {
                        rule: rule.id.clone(),
                        first: packs[first].name().to_owned(),
                        second: pack.name().to_owned(),
                    });
                }
            }
        }
        Ok(Self { packs, owners })
    }

    /// The packs, in evaluation order.
    pub fn packs(&self) -> &[Arc<Pack>] {
        &self.packs
    }

    /// The pack that provides a rule.
    pub fn owner(&self, rule_id: &str) -> Option<&Pack> {
        self.owners.get(rule_id).map(|&i| self.packs[i].as_ref())
    }

    /// Every rule with the pack that provides it.
    pub fn rules(&self) -> impl Iterator<Item = (&Pack, &RuleMeta)> {
        self.packs
            .iter()
            .flat_map(|p| p.rules().iter().map(move |r| (p.as_ref(), r)))
    }

    /// Plans for every pack: the rules `selected` (by id; all default-enabled rules when
    /// `None`), with `settings`. Unknown ids in either are errors.
    pub fn plan(
        &self,
        selected: Option<&[String]>,
        include_disabled: bool,
        settings: &RuleSettings,
    ) -> Result<Vec<Plan>, EngineError> {
        for id in selected.into_iter().flatten().chain(settings.keys()) {
            if !self.owners.contains_key(id) {
                return Err(EngineError::UnknownRule(id.clone()));
            }
        }
        self.packs
            .iter()
            .map(|pack| {
                pack.plan(
                    |rule| match selected {
                        Some(ids) => ids.contains(&rule.id),
                        None => include_disabled || rule.default_enabled,
                    },
                    settings,
                )
            })
            .collect()
    }

    /// Run `plans` (from [`PackSet::plan`]) over `subjects`; sorted by subject, then pack
    /// order, then rule order.
    pub fn evaluate<'p>(
        &'p self,
        plans: &[Plan],
        ctx: &EvalContext,
        subjects: &[Subject<'_>],
    ) -> Vec<SetEvaluation<'p>> {
        let mut out: Vec<(usize, SetEvaluation<'p>)> = Vec::new();
        for (pi, (pack, plan)) in self.packs.iter().zip(plans).enumerate() {
            if plan.is_empty() {
                continue;
            }
            for e in pack.evaluate(plan, ctx, subjects) {
                out.push((
                    pi,
                    SetEvaluation {
                        rule: &pack.rules()[e.rule],
                        subject: e.subject,
                        status: e.status,
                        message: e.message,
                    },
                ));
            }
        }
        out.sort_by_key(|(pi, e)| (e.subject, *pi));
        out.into_iter().map(|(_, e)| e).collect()
    }
}
