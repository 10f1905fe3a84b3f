//! A loaded pack and its evaluation: batching, the fresh store per call, validation of what
//! the guest returns, and containment (a failing call is split until the failure is pinned on a
//! rule and resource, so every other verdict survives).

use std::collections::HashMap;
use std::sync::Arc;

use time::OffsetDateTime;
use wasmtime::Store;

use super::bindings::PackPre;
use super::bindings::palisade::policy::host::LogLevel;
use super::bindings::palisade::policy::types as wit;
use super::limits::{MemoryLimitExceeded, TableLimitExceeded};
use super::rules::{self, RuleMeta};
use super::sandbox::{HostState, Lookup, NoLookup, truncate_utf8};
use super::{Engine, EngineError, error_chain};

/// The result of one rule on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }
}

/// A resource document to evaluate, borrowed from the caller.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub id: &'a str,
    pub resource_type: &'a str,
    pub account_id: &'a str,
    pub region: &'a str,
    /// The whole document as JSON text.
    pub document: &'a str,
}

/// What every call of one evaluation shares.
#[derive(Clone)]
pub struct EvalContext {
    /// The evaluation time packs see through `now`.
    pub now: OffsetDateTime,
    /// Where `lookup` calls go.
    pub lookup: Arc<dyn Lookup>,
}

impl EvalContext {
    /// Evaluate as of `now`, with no other resources visible.
    pub fn at(now: OffsetDateTime) -> Self {
        Self {
            now,
            lookup: Arc::new(NoLookup),
        }
    }

    fn instant(&self) -> wit::Instant {
        wit::Instant {
            seconds: self.now.unix_timestamp(),
            nanoseconds: self.now.nanosecond(),
        }
    }
}

/// Which rules of a pack to run, each with its settings JSON. Made by [`Pack::plan`].
#[derive(Debug, Clone)]
pub struct Plan {
    rules: Vec<(usize, String)>,
}

impl Plan {
    /// Indices (into [`Pack::rules`]) of the planned rules.
    pub fn rule_indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.rules.iter().map(|(i, _)| *i)
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// One verdict: rule `rule` (an index into [`Pack::rules`]) on `subject` (an index into the
/// evaluated slice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub rule: usize,
    pub subject: usize,
    pub status: Status,
    pub message: Option<String>,
}

/// A compiled, validated pack, ready to evaluate. Cheap to share behind an `Arc`.
pub struct Pack {
    engine: Engine,
    name: String,
    digest: String,
    rules: Vec<RuleMeta>,
    pre: PackPre<HostState>,
    from_cache: bool,
}

impl std::fmt::Debug for Pack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pack")
            .field("name", &self.name)
            .field("digest", &self.digest)
            .field("rules", &self.rules.len())
            .finish_non_exhaustive()
    }
}

/// Why one guest call produced no usable result.
struct Failure(String);

/// (plan position, subject index) -> verdict.
type Verdicts = Vec<(usize, usize, Status, Option<String>)>;

impl Pack {
    pub(super) fn describe(
        engine: Engine,
        name: &str,
        digest: String,
        pre: PackPre<HostState>,
        from_cache: bool,
    ) -> Result<Self, EngineError> {
        let mut pack = Self {
            engine,
            name: name.to_owned(),
            digest,
            rules: Vec::new(),
            pre,
            from_cache,
        };
        let ctx = EvalContext::at(OffsetDateTime::UNIX_EPOCH);
        let infos = pack
            .call(&ctx, "", |bindings, store| {
                bindings.palisade_policy_rules().call_describe(store)
            })
            .map_err(|Failure(why)| EngineError::Describe(why))?;
        pack.rules = rules::from_describe(infos, pack.engine.limits().max_rules)
            .map_err(EngineError::Metadata)?;
        tracing::info!(module = name, module_digest = %pack.short_digest(), rules = pack.rules.len(), "pack loaded");
        Ok(pack)
    }

    /// The name the pack was loaded under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Lowercase hex SHA-256 of the component bytes.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Whether the compiled code came from the [`ArtifactCache`](super::ArtifactCache) rather
    /// than a fresh compilation.
    pub fn compiled_from_cache(&self) -> bool {
        self.from_cache
    }

    fn short_digest(&self) -> &str {
        &self.digest[..12]
    }

    /// The pack's rules, in the order it described them.
    pub fn rules(&self) -> &[RuleMeta] {
        &self.rules
    }

    /// Plan a run of the rules `select` picks, with the operator `settings` for each (by rule
    /// id; defaults fill the rest). Fails on a setting the rule does not declare or of the
    /// wrong kind.
    pub fn plan(
        &self,
        mut select: impl FnMut(&RuleMeta) -> bool,
        settings: &super::RuleSettings,
    ) -> Result<Plan, EngineError> {
        let rules = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, rule)| select(rule))
            .map(|(i, rule)| {
                rule.settings_json(settings.get(&rule.id))
                    .map(|json| (i, json))
                    .map_err(|message| EngineError::Settings {
                        rule: rule.id.clone(),
                        message,
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Plan { rules })
    }

    /// Run the planned rules over `subjects`: one [`Evaluation`] per (rule, subject) where the
    /// rule applies to the subject's resource type, sorted by subject then rule. Never fails:
    /// whatever goes wrong in the pack becomes an `error` verdict for the pairs it affects.
    pub fn evaluate(
        &self,
        plan: &Plan,
        ctx: &EvalContext,
        subjects: &[Subject<'_>],
    ) -> Vec<Evaluation> {
        // Lookups are scoped to one account, so a call only ever carries one account.
        let mut accounts: Vec<(&str, Vec<usize>)> = Vec::new();
        for (i, subject) in subjects.iter().enumerate() {
            let applies = plan
                .rules
                .iter()
                .any(|(r, _)| self.rules[*r].applies_to(subject.resource_type));
            if !applies {
                continue;
            }
            match accounts.iter_mut().find(|(a, _)| *a == subject.account_id) {
                Some((_, members)) => members.push(i),
                None => accounts.push((subject.account_id, vec![i])),
            }
        }
        let all_rules: Vec<usize> = (0..plan.rules.len()).collect();
        let mut verdicts = Verdicts::new();
        for (account, members) in &accounts {
            for chunk in members.chunks(self.engine.limits().batch_size.max(1)) {
                self.run(
                    plan,
                    ctx,
                    account,
                    subjects,
                    &all_rules,
                    chunk,
                    &mut verdicts,
                );
            }
        }
        let mut out: Vec<Evaluation> = verdicts
            .into_iter()
            .map(|(p, s, status, message)| Evaluation {
                rule: plan.rules[p].0,
                subject: s,
                status,
                message,
            })
            .collect();
        out.sort_unstable_by_key(|e| (e.subject, e.rule));
        out
    }

    /// Evaluate `rules` (plan positions) over `members` (subject indices), splitting on failure.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        plan: &Plan,
        ctx: &EvalContext,
        account: &str,
        subjects: &[Subject<'_>],
        rules: &[usize],
        members: &[usize],
        out: &mut Verdicts,
    ) {
        match self.attempt(plan, ctx, account, subjects, rules, members) {
            Ok(verdicts) => out.extend(verdicts),
            // Several rules: find which one fails by running each on its own.
            Err(_) if rules.len() > 1 => {
                for rule in rules {
                    self.run(plan, ctx, account, subjects, &[*rule], members, out);
                }
            }
            // One rule: run it per resource, up to a budget of failures, so a resource that
            // makes it trap costs only its own verdict.
            Err(failure) => {
                let rule = rules[0];
                let applicable: Vec<usize> = members
                    .iter()
                    .copied()
                    .filter(|s| self.applies(plan, rule, subjects[*s].resource_type))
                    .collect();
                if applicable.len() == 1 {
                    out.push((rule, applicable[0], Status::Error, Some(failure.0)));
                    return;
                }
                let mut failures = 0;
                let mut last = failure.0;
                for subject in applicable {
                    if failures >= self.engine.limits().max_failures_per_rule {
                        let why = format!(
                            "not evaluated: the rule failed {failures} times in this batch (last: {last})"
                        );
                        out.push((rule, subject, Status::Error, Some(why)));
                        continue;
                    }
                    match self.attempt(plan, ctx, account, subjects, &[rule], &[subject]) {
                        Ok(verdicts) => out.extend(verdicts),
                        Err(Failure(why)) => {
                            failures += 1;
                            // A timeout costs a whole deadline: never pay it twice per batch.
                            if why.contains("deadline") {
                                failures = failures.max(self.engine.limits().max_failures_per_rule);
                            }
                            out.push((rule, subject, Status::Error, Some(why.clone())));
                            last = why;
                        }
                    }
                }
            }
        }
    }

    fn applies(&self, plan: &Plan, plan_pos: usize, resource_type: &str) -> bool {
        self.rules[plan.rules[plan_pos].0].applies_to(resource_type)
    }

    /// One guest call of `evaluate-batch`, with its result checked against what was asked.
    fn attempt(
        &self,
        plan: &Plan,
        ctx: &EvalContext,
        account: &str,
        subjects: &[Subject<'_>],
        rules: &[usize],
        members: &[usize],
    ) -> Result<Verdicts, Failure> {
        let requests: Vec<wit::RuleRequest<'_>> = rules
            .iter()
            .map(|p| {
                let (index, settings) = &plan.rules[*p];
                wit::RuleRequest {
                    rule_id: &self.rules[*index].id,
                    settings_json: settings,
                }
            })
            .collect();
        let resources: Vec<wit::CloudResource<'_>> = members
            .iter()
            .map(|s| {
                let s = &subjects[*s];
                wit::CloudResource {
                    id: s.id,
                    resource_type: s.resource_type,
                    account_id: s.account_id,
                    region: s.region,
                    document: s.document,
                }
            })
            .collect();
        let outcomes = self.call(ctx, account, |bindings, store| {
            bindings
                .palisade_policy_rules()
                .call_evaluate_batch(store, &requests, &resources)
        })?;

        // Every applicable pair must get exactly one verdict, and nothing else may come back.
        let mut expected: HashMap<(u32, u32), Option<(Status, Option<String>)>> = HashMap::new();
        for (ri, p) in rules.iter().enumerate() {
            for (si, s) in members.iter().enumerate() {
                if self.applies(plan, *p, subjects[*s].resource_type) {
                    expected.insert((ri as u32, si as u32), None);
                }
            }
        }
        if outcomes.len() > expected.len() {
            return Err(Failure(format!(
                "the pack returned {} verdicts for {} rule/resource pairs",
                outcomes.len(),
                expected.len()
            )));
        }
        let max_message = self.engine.limits().max_message_bytes;
        for outcome in outcomes {
            let slot = expected.get_mut(&(outcome.rule, outcome.resource)).ok_or_else(|| {
                Failure(format!(
                    "the pack returned a verdict for rule #{} on resource #{}, which it was not asked for",
                    outcome.rule, outcome.resource
                ))
            })?;
            if slot.is_some() {
                return Err(Failure(format!(
                    "the pack returned two verdicts for rule #{} on resource #{}",
                    outcome.rule, outcome.resource
                )));
            }
            let verdict = outcome.verdict;
            *slot = Some(match verdict.message {
                Some(message) if message.len() > max_message => (
                    Status::Error,
                    Some(format!(
                        "the rule returned a {}-byte message, over the limit of {max_message} bytes",
                        message.len()
                    )),
                ),
                message => (convert_status(verdict.status), message),
            });
        }
        Ok(expected
            .into_iter()
            .map(|((ri, si), verdict)| {
                let (status, message) = verdict.unwrap_or_else(|| {
                    (
                        Status::Error,
                        Some("the pack returned no verdict for this resource".to_owned()),
                    )
                });
                (rules[ri as usize], members[si as usize], status, message)
            })
            .collect())
    }

    /// Run `f` against a fresh instance in a fresh store under the engine's limits. Traps,
    /// deadline and limit breaches come back as a [`Failure`] naming the cause.
    fn call<R>(
        &self,
        ctx: &EvalContext,
        account: &str,
        f: impl FnOnce(&super::bindings::Pack, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, Failure> {
        let limits = self.engine.limits();
        let state = HostState::new(limits, ctx.instant(), account, ctx.lookup.clone());
        let mut store = Store::new(&self.engine.inner.wasmtime, state);
        store.limiter(|state| &mut state.limiter);
        let ticks = limits
            .deadline
            .as_millis()
            .div_ceil(super::EPOCH_TICK.as_millis())
            .max(1);
        store.set_epoch_deadline(ticks as u64 + 1);
        store.epoch_deadline_trap();
        let result = self
            .pre
            .instantiate(&mut store)
            .and_then(|bindings| f(&bindings, &mut store));
        self.forward_logs(&store, account);
        result.map_err(|err| Failure(self.explain(&err, store.data())))
    }

    /// Turn a failed call into a sentence an operator can act on.
    fn explain(&self, err: &wasmtime::Error, state: &HostState) -> String {
        let limits = self.engine.limits();
        if let Some(trap) = err.downcast_ref::<wasmtime::Trap>() {
            return match trap {
                wasmtime::Trap::Interrupt => format!(
                    "the rule exceeded its CPU deadline of {} ms and was stopped",
                    limits.deadline.as_millis()
                ),
                wasmtime::Trap::StackOverflow => {
                    "the rule overflowed its stack (unbounded recursion?)".to_owned()
                }
                wasmtime::Trap::UnreachableCodeReached => match panic_message(&state.output.text())
                {
                    Some(message) => format!("the rule panicked: {message}"),
                    None => "the rule aborted (unreachable code reached)".to_owned(),
                },
                other => format!("the rule trapped: {other}"),
            };
        }
        if let Some(e) = err.downcast_ref::<MemoryLimitExceeded>() {
            return format!("the rule {e}");
        }
        if let Some(e) = err.downcast_ref::<TableLimitExceeded>() {
            return format!("the rule {e}");
        }
        if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
            return format!("the pack called exit({})", exit.0);
        }
        format!("the call failed: {}", error_chain(err))
    }

    fn forward_logs(&self, store: &Store<HostState>, account: &str) {
        let state = store.data();
        let digest = self.short_digest();
        for line in &state.logs {
            let message = line.message.as_str();
            match line.level {
                LogLevel::Trace => {
                    tracing::trace!(module = %self.name, module_digest = digest, account, "{message}")
                }
                LogLevel::Debug => {
                    tracing::debug!(module = %self.name, module_digest = digest, account, "{message}")
                }
                LogLevel::Info => {
                    tracing::info!(module = %self.name, module_digest = digest, account, "{message}")
                }
                LogLevel::Warn => {
                    tracing::warn!(module = %self.name, module_digest = digest, account, "{message}")
                }
                LogLevel::Error => {
                    tracing::error!(module = %self.name, module_digest = digest, account, "{message}")
                }
            }
        }
        if state.dropped_logs > 0 {
            tracing::warn!(module = %self.name, module_digest = digest, account, dropped = state.dropped_logs, "pack log lines over the per-call limit were dropped");
        }
        let output = state.output.text();
        if !output.is_empty() {
            tracing::debug!(module = %self.name, module_digest = digest, account, output = %output.trim_end(), "pack wrote to stdout/stderr");
        }
    }
}

fn convert_status(status: wit::Status) -> Status {
    match status {
        wit::Status::Pass => Status::Pass,
        wit::Status::Fail => Status::Fail,
        wit::Status::Error => Status::Error,
    }
}

/// The message of a Rust panic (`thread '…' panicked at file:line:col:\nmessage`), or the tail
/// of whatever else the guest printed before aborting.
fn panic_message(output: &str) -> Option<String> {
    let output = output.trim();
    if output.is_empty() {
        return None;
    }
    let mut message = match output.find("panicked at ") {
        Some(at) => {
            let rest = &output[at + "panicked at ".len()..];
            match rest.split_once('\n') {
                Some((location, text)) => {
                    let text = text.lines().next().unwrap_or_default();
                    format!("{text} (at {})", location.trim_end_matches(':'))
                }
                None => rest.to_owned(),
            }
        }
        None => output.to_owned(),
    };
    truncate_utf8(&mut message, 512);
    Some(message)
}

#[cfg(test)]
mod tests {
    use super::panic_message;

    #[test]
    fn panic_messages_are_extracted_from_guest_stderr() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:12:5:\nboom: bad input\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            panic_message(stderr).unwrap(),
            "boom: bad input (at src/lib.rs:12:5)"
        );
        assert_eq!(panic_message("Error: abort\n").unwrap(), "Error: abort");
        assert_eq!(panic_message("  \n"), None);
    }
}
