//! A loaded pack and its evaluation: grouping and batching, the instance each evaluation
//! reuses, validation of what the guest returns, and containment (a failing call is split until
//! the failure is pinned on a rule and resource, so every other verdict survives).

use std::sync::Arc;

use time::OffsetDateTime;
use wasmtime::Store;

use super::bindings::PackPre;
use super::bindings::palisade::policy::host::LogLevel;
use super::bindings::palisade::policy::types as wit;
use super::limits::{MemoryLimitExceeded, TableLimitExceeded};
use super::log_rate::LogRate;
use super::rules::{self, RuleMeta};
use super::sandbox::{HostState, Lookup, NoLookup, truncate_utf8};
use super::{Engine, EngineError, error_chain};

/// The result of one rule on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, clap::ValueEnum)]
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
    /// `ResourceId`, for logs.
    pub id: &'a str,
    /// `ResourceType`: decides which rules apply.
    pub resource_type: &'a str,
    /// `AccountId`: a call carries one account, and lookups stay inside it.
    pub account_id: &'a str,
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
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The planned rules, as indices into [`Pack::rules`].
    pub fn rule_indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.rules.iter().map(|(i, _)| *i)
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
    /// Budget of guest log lines forwarded to the host log, shared by all calls.
    log_rate: LogRate,
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
struct Failure {
    reason: String,
    /// The call ran out of its CPU deadline: retrying costs a whole deadline again.
    timed_out: bool,
}

impl Failure {
    fn new(reason: String) -> Self {
        Self {
            reason,
            timed_out: false,
        }
    }
}

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
            log_rate: LogRate::new(std::time::Instant::now()),
        };
        let ctx = EvalContext::at(OffsetDateTime::UNIX_EPOCH);
        let infos = pack
            .call_once(&ctx, "", |bindings, store| {
                bindings.palisade_policy_rules().call_describe(store)
            })
            .map_err(|failure| EngineError::Describe(failure.reason))?;
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

    /// Whether the compiled code was reused (from this engine's memory or the
    /// [`ArtifactCache`](super::ArtifactCache)) rather than compiled for this load.
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
        // A call carries one account (lookups are scoped to it) and one resource type (the
        // rules of a call all apply to every document in it).
        let mut groups: Vec<((&str, &str), Vec<usize>)> = Vec::new();
        for (i, subject) in subjects.iter().enumerate() {
            let key = (subject.account_id, subject.resource_type);
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, members)) => members.push(i),
                None => groups.push((key, vec![i])),
            }
        }
        groups.sort_by_key(|((account, _), _)| *account);
        let batch_size = self.engine.limits().batch_size.max(1);
        let batch_bytes = self.engine.limits().batch_bytes;
        let mut verdicts = Verdicts::new();
        let mut session: Option<Session<'_>> = None;
        for ((account, resource_type), members) in &groups {
            let rules: Vec<usize> = (0..plan.rules.len())
                .filter(|p| self.applies(plan, *p, resource_type))
                .collect();
            if rules.is_empty() {
                continue;
            }
            // One instance per account, reused across its resource types.
            if session.as_ref().is_none_or(|s| s.account != *account) {
                session = Some(Session::new(self, ctx, account));
            }
            let session = session.as_mut().expect("just ensured");
            for chunk in batches(members, subjects, batch_size, batch_bytes) {
                session.run(plan, subjects, resource_type, &rules, chunk, &mut verdicts);
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

    /// Run one planned rule (an index into [`Pack::rules`]) on one resource through the pack's
    /// single-evaluation export. `None` when the rule is not in `plan` or does not apply to the
    /// subject's type. Same containment as [`Pack::evaluate`], without batching.
    pub fn evaluate_one(
        &self,
        plan: &Plan,
        rule: usize,
        ctx: &EvalContext,
        subject: &Subject<'_>,
    ) -> Option<Evaluation> {
        let (_, settings) = plan.rules.iter().find(|(r, _)| *r == rule)?;
        let meta = &self.rules[rule];
        if !meta.applies_to(subject.resource_type) {
            return None;
        }
        let request = wit::RuleRequest {
            rule_id: &meta.id,
            settings_json: settings,
        };
        let result = Session::new(self, ctx, subject.account_id).call(|bindings, store| {
            bindings.palisade_policy_rules().call_evaluate(
                &mut *store,
                request.clone(),
                subject.resource_type,
                subject.document,
            )
        });
        let max_message = self.engine.limits().max_message_bytes;
        let (status, message) = match result {
            Ok(verdict) => checked(verdict, max_message),
            Err(failure) => (Status::Error, Some(failure.reason)),
        };
        Some(Evaluation {
            rule,
            subject: 0,
            status,
            message,
        })
    }

    fn applies(&self, plan: &Plan, plan_pos: usize, resource_type: &str) -> bool {
        self.rules[plan.rules[plan_pos].0].applies_to(resource_type)
    }

    /// A new store and instance under the engine's limits.
    fn instantiate(&self, ctx: &EvalContext, account: &str) -> Result<Live, Failure> {
        let state = HostState::new(
            self.engine.limits(),
            ctx.instant(),
            account,
            ctx.lookup.clone(),
        );
        let mut store = Store::new(&self.engine.inner.wasmtime, state);
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_trap();
        self.arm_deadline(&mut store);
        match self.pre.instantiate(&mut store) {
            Ok(bindings) => Ok(Live {
                store,
                bindings,
                calls: 0,
            }),
            Err(err) => {
                let failure = self.explain(&err, store.data());
                self.forward_logs(&mut store, account);
                Err(failure)
            }
        }
    }

    fn arm_deadline(&self, store: &mut Store<HostState>) {
        let ticks = self
            .engine
            .limits()
            .deadline
            .as_millis()
            .div_ceil(super::EPOCH_TICK.as_millis())
            .max(1);
        // +1: the current tick may be about to end.
        store.set_epoch_deadline(ticks as u64 + 1);
    }

    /// One call on a fresh instance, for `describe`.
    fn call_once<R>(
        &self,
        ctx: &EvalContext,
        account: &str,
        f: impl Fn(&super::bindings::Pack, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, Failure> {
        Session::new(self, ctx, account).call(f)
    }

    /// Turn a failed call into a sentence an operator can act on.
    fn explain(&self, err: &wasmtime::Error, state: &HostState) -> Failure {
        let limits = self.engine.limits();
        let reason = if let Some(trap) = err.downcast_ref::<wasmtime::Trap>() {
            match trap {
                wasmtime::Trap::Interrupt => {
                    return Failure {
                        reason: format!(
                            "the rule exceeded its CPU deadline of {} ms and was stopped",
                            limits.deadline.as_millis()
                        ),
                        timed_out: true,
                    };
                }
                wasmtime::Trap::StackOverflow => {
                    "the rule overflowed its stack (unbounded recursion?)".to_owned()
                }
                wasmtime::Trap::UnreachableCodeReached => match panic_message(&state.output.text())
                {
                    Some(message) => format!("the rule panicked: {message}"),
                    None => "the rule aborted (unreachable code reached)".to_owned(),
                },
                other => format!("the rule trapped: {other}"),
            }
        } else if let Some(e) = err.downcast_ref::<MemoryLimitExceeded>() {
            format!("the rule {e}")
        } else if let Some(e) = err.downcast_ref::<TableLimitExceeded>() {
            format!("the rule {e}")
        } else if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
            format!("the pack called exit({})", exit.0)
        } else {
            format!("the call failed: {}", error_chain(err))
        };
        Failure::new(reason)
    }

    /// Send what the last call logged or printed to the host log, and clear it.
    fn forward_logs(&self, store: &mut Store<HostState>, account: &str) {
        let state = store.data_mut();
        let (logs, dropped, output) = state.take_output();
        let digest = self.short_digest();
        // Lines the subscriber would discard cost no budget.
        let shown: Vec<_> = logs
            .iter()
            .filter(|line| level_enabled(line.level))
            .collect();
        let budget = self
            .log_rate
            .admit(shown.len(), dropped, std::time::Instant::now());
        for line in &shown[..budget.forward] {
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
        if budget.warn_dropped {
            tracing::warn!(module = %self.name, module_digest = digest, account, dropped, "pack log lines over the per-call limit were dropped");
        }
        if let Some(suppressed) = budget.report_suppressed {
            tracing::warn!(module = %self.name, module_digest = digest, suppressed, "pack log lines over the rate limit were suppressed");
        }
        if !output.is_empty() {
            tracing::debug!(module = %self.name, module_digest = digest, account, output = %output.trim_end(), "pack wrote to stdout/stderr");
        }
    }
}

/// Whether the host log shows guest lines of `level` (from this module).
fn level_enabled(level: LogLevel) -> bool {
    match level {
        LogLevel::Trace => tracing::enabled!(tracing::Level::TRACE),
        LogLevel::Debug => tracing::enabled!(tracing::Level::DEBUG),
        LogLevel::Info => tracing::enabled!(tracing::Level::INFO),
        LogLevel::Warn => tracing::enabled!(tracing::Level::WARN),
        LogLevel::Error => tracing::enabled!(tracing::Level::ERROR),
    }
}

/// A live store and instance.
struct Live {
    store: Store<HostState>,
    bindings: super::bindings::Pack,
    calls: usize,
}

/// The calls of one [`Pack::evaluate`] for one account. The instance is reused from call to
/// call (a fresh one costs tens of microseconds and faults in new memory pages), replaced after
/// any failure and every [`RECYCLE_AFTER_CALLS`] calls so leaks in a pack stay bounded.
struct Session<'p> {
    pack: &'p Pack,
    ctx: &'p EvalContext,
    account: &'p str,
    live: Option<Live>,
}

/// Calls one instance serves before it is replaced. 64 batches of 256 resources: leaks get a
/// bounded lifetime, and the replacement cost stays far below a microsecond per evaluation.
const RECYCLE_AFTER_CALLS: usize = 64;

impl<'p> Session<'p> {
    fn new(pack: &'p Pack, ctx: &'p EvalContext, account: &'p str) -> Self {
        Self {
            pack,
            ctx,
            account,
            live: None,
        }
    }

    /// Run `f` under the limits, on the live instance or a fresh one. A failure on a reused
    /// instance (other than a timeout) is retried once on a fresh instance, so state left by
    /// earlier calls cannot turn into an error for this one.
    fn call<R>(
        &mut self,
        f: impl Fn(&super::bindings::Pack, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, Failure> {
        loop {
            let reused = self
                .live
                .as_ref()
                .is_some_and(|live| live.calls < RECYCLE_AFTER_CALLS);
            if !reused {
                self.live = Some(self.pack.instantiate(self.ctx, self.account)?);
            }
            let live = self.live.as_mut().expect("just ensured");
            self.pack.arm_deadline(&mut live.store);
            // Explain a failure before the guest's output is forwarded: a panic message is in it.
            let result = f(&live.bindings, &mut live.store)
                .map_err(|err| self.pack.explain(&err, live.store.data()));
            self.pack.forward_logs(&mut live.store, self.account);
            match result {
                Ok(value) => {
                    live.calls += 1;
                    return Ok(value);
                }
                Err(failure) => {
                    // A trapped instance cannot be re-entered.
                    self.live = None;
                    // A timeout is not retried: it would cost a whole deadline again.
                    if !reused || failure.timed_out {
                        return Err(failure);
                    }
                }
            }
        }
    }

    /// Evaluate `rules` (plan positions, all applying to `resource_type`) over `members`
    /// (subject indices of that type), splitting on failure.
    fn run(
        &mut self,
        plan: &Plan,
        subjects: &[Subject<'_>],
        resource_type: &str,
        rules: &[usize],
        members: &[usize],
        out: &mut Verdicts,
    ) {
        match self.attempt(plan, subjects, resource_type, rules, members) {
            Ok(verdicts) => out.extend(verdicts),
            // Several rules: find which one fails by running each on its own.
            Err(_) if rules.len() > 1 => {
                for rule in rules {
                    self.run(plan, subjects, resource_type, &[*rule], members, out);
                }
            }
            // One rule: run it per resource, up to a budget of failures, so a resource that
            // makes it trap costs only its own verdict.
            Err(failure) => {
                let rule = rules[0];
                tracing::warn!(
                    rule = %self.pack.rules[plan.rules[rule].0].id,
                    module = %self.pack.name,
                    module_digest = self.pack.short_digest(),
                    account = self.account,
                    reason = %failure.reason,
                    "rule failed; isolating the resources that cause it"
                );
                if members.len() == 1 {
                    out.push((rule, members[0], Status::Error, Some(failure.reason)));
                    return;
                }
                // Isolation is paid for in failed calls; once they have cost the budget (or a
                // call hit the CPU deadline, which would cost a whole deadline again), the rest
                // of the batch is reported without running.
                let budget = self.pack.engine.limits().isolation_budget;
                let mut spent = std::time::Duration::ZERO;
                let mut exhausted = failure.timed_out;
                let mut last = failure.reason;
                for &subject in members {
                    if exhausted {
                        let why = format!(
                            "not evaluated: the rule kept failing in this batch (last: {last})"
                        );
                        out.push((rule, subject, Status::Error, Some(why)));
                        continue;
                    }
                    let started = std::time::Instant::now();
                    match self.attempt(plan, subjects, resource_type, &[rule], &[subject]) {
                        Ok(verdicts) => out.extend(verdicts),
                        Err(failure) => {
                            spent += started.elapsed();
                            exhausted = failure.timed_out || spent >= budget;
                            tracing::debug!(
                                rule = %self.pack.rules[plan.rules[rule].0].id,
                                resource = subjects[subject].id,
                                account = self.account,
                                reason = %failure.reason,
                                "rule failed on this resource"
                            );
                            out.push((rule, subject, Status::Error, Some(failure.reason.clone())));
                            last = failure.reason;
                        }
                    }
                }
            }
        }
    }

    /// One guest call of `evaluate-batch`, with its result checked against what was asked.
    fn attempt(
        &mut self,
        plan: &Plan,
        subjects: &[Subject<'_>],
        resource_type: &str,
        rules: &[usize],
        members: &[usize],
    ) -> Result<Verdicts, Failure> {
        let pack = self.pack;
        let requests: Vec<wit::RuleRequest<'_>> = rules
            .iter()
            .map(|p| {
                let (index, settings) = &plan.rules[*p];
                wit::RuleRequest {
                    rule_id: &pack.rules[*index].id,
                    settings_json: settings,
                }
            })
            .collect();
        let documents: Vec<&str> = members.iter().map(|s| subjects[*s].document).collect();
        let outcomes = self.call(|bindings, store| {
            bindings.palisade_policy_rules().call_evaluate_batch(
                &mut *store,
                &requests,
                resource_type,
                &documents,
            )
        })?;

        // Exactly one verdict per (rule, document) pair, and nothing else.
        let width = members.len();
        let expected = rules.len() * width;
        if outcomes.len() > expected {
            return Err(Failure::new(format!(
                "the pack returned {} verdicts for {expected} rule/resource pairs",
                outcomes.len()
            )));
        }
        let mut slots: Vec<Option<(Status, Option<String>)>> = vec![None; expected];
        let max_message = pack.engine.limits().max_message_bytes;
        for outcome in outcomes {
            let (ri, di) = (outcome.rule as usize, outcome.document as usize);
            if ri >= rules.len() || di >= width {
                return Err(Failure::new(format!(
                    "the pack returned a verdict for rule #{ri} on document #{di}, which it was not asked for"
                )));
            }
            let slot = &mut slots[ri * width + di];
            if slot.is_some() {
                return Err(Failure::new(format!(
                    "the pack returned two verdicts for rule #{ri} on document #{di}"
                )));
            }
            *slot = Some(checked(outcome.verdict, max_message));
        }
        Ok(slots
            .into_iter()
            .enumerate()
            .map(|(i, slot)| {
                let (status, message) = slot.unwrap_or_else(|| {
                    (
                        Status::Error,
                        Some("the pack returned no verdict for this resource".to_owned()),
                    )
                });
                (rules[i / width], members[i % width], status, message)
            })
            .collect())
    }
}

/// Split `members` into runs of at most `max_count` subjects whose documents total at most
/// `max_bytes` (a single larger document travels alone).
fn batches<'m>(
    members: &'m [usize],
    subjects: &[Subject<'_>],
    max_count: usize,
    max_bytes: usize,
) -> impl Iterator<Item = &'m [usize]> {
    let mut rest = members;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 0;
        let mut len = 0;
        while len < rest.len() && len < max_count {
            bytes += subjects[rest[len]].document.len();
            if len > 0 && bytes > max_bytes {
                break;
            }
            len += 1;
        }
        let (batch, tail) = rest.split_at(len);
        rest = tail;
        Some(batch)
    })
}

/// A guest's verdict as the host reports it: an oversized message turns it into an error.
fn checked(verdict: wit::Verdict, max_message: usize) -> (Status, Option<String>) {
    match verdict.message {
        Some(message) if message.len() > max_message => (
            Status::Error,
            Some(format!(
                "the rule returned a {}-byte message, over the limit of {max_message} bytes",
                message.len()
            )),
        ),
        message => (convert_status(verdict.status), message),
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
    use super::{Subject, panic_message};

    #[test]
    fn batches_respect_count_and_bytes() {
        let docs: Vec<String> = [10, 10, 10, 100, 10, 10]
            .iter()
            .map(|n| "x".repeat(*n))
            .collect();
        let subjects: Vec<Subject<'_>> = docs
            .iter()
            .map(|d| Subject {
                id: "",
                resource_type: "T",
                account_id: "",
                document: d,
            })
            .collect();
        let members: Vec<usize> = (0..docs.len()).collect();
        let sizes = |count, bytes| -> Vec<Vec<usize>> {
            super::batches(&members, &subjects, count, bytes)
                .map(<[usize]>::to_vec)
                .collect()
        };
        assert_eq!(sizes(2, 1000), vec![vec![0, 1], vec![2, 3], vec![4, 5]]);
        assert_eq!(sizes(10, 30), vec![vec![0, 1, 2], vec![3], vec![4, 5]]);
        assert_eq!(
            sizes(10, 5),
            vec![vec![0], vec![1], vec![2], vec![3], vec![4], vec![5]]
        );
        assert!(super::batches(&[], &subjects, 10, 10).next().is_none());
    }

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
