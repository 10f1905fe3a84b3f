//! The rule registry: which policy modules serve and at which revision, which rules are
//! switched on, and which failures are suppressed.
//!
//! Every change is checked first (the module compiles, implements the WIT world, its rule
//! metadata is valid and its rule ids are its own), then persisted, then published as one
//! immutable [`Ruleset`] swapped in atomically. An evaluation holds the snapshot it started
//! with, so none ever sees half a change, and a rejected change leaves the last good one
//! serving. After a swap the stored resources the change touches are re-evaluated by a
//! background worker. HTTP lives in `server`; compiling and running packs in `engine`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::engine::{
    BUILTIN_PACKS, Engine, EngineError, Pack, PackSet, RuleMeta, RuleSettings, builtin_packs,
};
use crate::findings::{self, EvalConfig, EvalObserver, Evaluator};
use crate::policy_tests;
use crate::scan::RuleSource;
use crate::store::{
    ModuleEntry, ModuleRecord, ModuleRevision, ResourceFilter, RuleSettingsRecord, RuleToggle,
    Store, StoreError, Suppression,
};

/// Why a change to the registry was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "module name {0:?} is invalid: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    )]
    Name(String),
    /// The module itself is unacceptable (not a component, wrong world, bad metadata, a rule
    /// id another module owns, too large, ...).
    #[error("module rejected: {0}")]
    Rejected(#[from] EngineError),
    #[error("module {0} is built in: it cannot be replaced, rolled back or removed")]
    Builtin(String),
    #[error("no module named {0:?}")]
    UnknownModule(String),
    #[error("no rule {0:?}")]
    UnknownRule(String),
    #[error("no suppression {0:?}")]
    UnknownSuppression(String),
    /// Settings a rule does not declare, or values of the wrong kind.
    #[error("settings of rule {rule}: {message}")]
    Settings { rule: String, message: String },
    #[error("module {name} has no revision before {revision} to roll back to")]
    NoEarlierRevision { name: String, revision: u32 },
    #[error("suppression pattern is invalid: {0}")]
    Pattern(String),
    /// The module's embedded test cases are unreadable or some fail.
    #[error("module rejected: {0}")]
    Tests(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a module comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModuleSource {
    /// Compiled into the binary.
    Builtin,
    /// Uploaded by an operator.
    Uploaded,
}

/// Whether a module's rules are serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModuleStatus {
    Active,
    /// Its stored active revision could not be loaded at start (see `error`).
    Failed,
}

/// A module as listings show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ModuleInfo {
    pub name: String,
    pub source: ModuleSource,
    pub status: ModuleStatus,
    /// The serving revision (uploaded modules).
    pub revision: Option<u32>,
    /// SHA-256 of the serving module, lowercase hex.
    pub sha256: String,
    pub size: u64,
    /// Rule ids the module provides.
    pub rules: Vec<String>,
    /// When this process loaded it.
    #[serde(with = "time::serde::rfc3339")]
    pub loaded_at: OffsetDateTime,
    /// Hex public key of the trusted signer of the serving revision.
    pub signed_by: Option<String>,
    pub error: Option<String>,
    /// Every revision kept, oldest first (uploaded modules).
    pub revisions: Vec<ModuleRevision>,
}

/// A rule as listings show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RuleInfo {
    pub id: String,
    pub title: String,
    pub severity: String,
    pub resource_types: Vec<String>,
    pub description: String,
    pub remediation: String,
    pub references: Vec<String>,
    pub compliance: Vec<String>,
    /// The module that provides it.
    pub module: String,
    pub enabled: bool,
    pub default_enabled: bool,
    /// The values the rule runs with: the operator's where set, else the declared defaults.
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    /// The settings the rule accepts, as a JSON Schema object.
    #[schema(value_type = Object)]
    pub settings_schema: Value,
    /// Suppressions of this rule.
    pub suppressions: usize,
}

/// One module in a [`Ruleset`].
#[derive(Clone)]
struct Loaded {
    name: String,
    source: ModuleSource,
    revision: Option<ModuleRevision>,
    loaded_at: OffsetDateTime,
    /// `Err` when the stored revision failed to load at start.
    pack: Result<Arc<Pack>, String>,
}

/// An immutable snapshot of what serves: modules, enabled rules, suppressions.
pub struct Ruleset {
    /// Grows by one with every published change.
    pub generation: u64,
    evaluator: Arc<Evaluator>,
    modules: Vec<Loaded>,
    choices: Choices,
    suppressions: Vec<Suppression>,
}

/// What operators chose about rules: switches, settings from the configuration
/// (`configured`) and settings set over the API (`stored`, which win setting by setting).
#[derive(Clone, Default)]
struct Choices {
    toggles: BTreeMap<String, bool>,
    configured: Arc<RuleSettings>,
    stored: BTreeMap<String, Map<String, Value>>,
}

impl Choices {
    /// The operator's values for `rule_id`, if any.
    fn settings_of(&self, rule_id: &str) -> Option<Map<String, Value>> {
        let configured = self.configured.get(rule_id);
        let stored = self.stored.get(rule_id);
        if configured.is_none() && stored.is_none() {
            return None;
        }
        let mut values = configured.cloned().unwrap_or_default();
        values.extend(
            stored
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        Some(values)
    }

    /// The operator settings of the rules `packs` has (a removed module's are kept, unused).
    fn for_packs(&self, packs: &PackSet) -> RuleSettings {
        packs
            .rules()
            .filter_map(|(_, r)| Some((r.id.clone(), self.settings_of(&r.id)?)))
            .collect()
    }
}

/// Checks `values` against the settings `rule` declares.
fn check_settings(rule: &RuleMeta, values: &Map<String, Value>) -> Result<(), RegistryError> {
    rule.settings_json(Some(values))
        .map(drop)
        .map_err(|message| RegistryError::Settings {
            rule: rule.id.clone(),
            message,
        })
}

impl Ruleset {
    /// The evaluator of this snapshot.
    pub fn evaluator(&self) -> &Arc<Evaluator> {
        &self.evaluator
    }

    /// Every rule of the serving modules, in pack order.
    pub fn rules(&self) -> Vec<RuleInfo> {
        let evaluator = &self.evaluator;
        evaluator
            .packs()
            .rules()
            .map(|(pack, rule)| self.rule_info(pack, rule))
            .collect()
    }

    fn rule_info(&self, pack: &Pack, rule: &RuleMeta) -> RuleInfo {
        RuleInfo {
            id: rule.id.clone(),
            title: rule.title.clone(),
            severity: rule.severity.as_str().to_owned(),
            resource_types: rule.resource_types.clone(),
            description: rule.description.clone(),
            remediation: rule.remediation.clone(),
            references: rule.references.clone(),
            compliance: rule.compliance.clone(),
            module: pack.name().to_owned(),
            enabled: self.evaluator.is_enabled(&rule.id),
            default_enabled: rule.default_enabled,
            settings: rule
                .settings_json(self.choices.settings_of(&rule.id).as_ref())
                .ok()
                .and_then(|text| serde_json::from_str(&text).ok())
                .unwrap_or_default(),
            settings_schema: rule.settings_schema(),
            suppressions: self
                .suppressions
                .iter()
                .filter(|s| s.rule_id == rule.id)
                .count(),
        }
    }

    /// One rule by id.
    pub fn rule(&self, id: &str) -> Option<RuleInfo> {
        let packs = self.evaluator.packs();
        let pack = packs.owner(id)?;
        let rule = pack.rules().iter().find(|r| r.id == id)?;
        Some(self.rule_info(pack, rule))
    }

    /// Every suppression, ordered by id.
    pub fn suppressions(&self) -> &[Suppression] {
        &self.suppressions
    }

    fn module(&self, name: &str) -> Option<&Loaded> {
        self.modules.iter().find(|m| m.name == name)
    }
}

/// What an upload or rollback did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Activation {
    pub module: ModuleInfo,
    /// False when the module was already serving these exact bytes.
    pub changed: bool,
    /// The ruleset generation now serving.
    pub generation: u64,
}

/// How the registry starts.
#[derive(Clone, Default)]
pub struct RegistryOptions {
    /// Serve the packs compiled into the binary too.
    pub builtin: bool,
    /// Told about every evaluation pass.
    pub observer: Option<Arc<dyn EvalObserver>>,
    /// Rule settings from the configuration: rule id → setting → value. Values set over the
    /// API win over these, setting by setting.
    pub settings: RuleSettings,
}

/// The serving rules and every change to them. Cheap to share behind an `Arc`.
pub struct Registry {
    engine: Engine,
    store: Arc<dyn Store>,
    current: Arc<ArcSwap<Ruleset>>,
    observer: Option<Arc<dyn EvalObserver>>,
    /// Serialises changes: each reads the snapshot, checks, persists and swaps under it.
    changes: Mutex<()>,
    reevaluate: Mutex<mpsc::Sender<Reevaluation>>,
    idle: Arc<(Mutex<u64>, std::sync::Condvar)>,
}

/// Resource types whose stored resources need evaluating again.
struct Reevaluation(BTreeSet<String>);

impl RuleSource for Registry {
    fn evaluator(&self) -> Arc<Evaluator> {
        self.current.load().evaluator.clone()
    }
}

impl Registry {
    /// Loads the built-in packs (when asked) and the active revision of every stored module.
    /// A stored module that no longer loads is listed as failed rather than stopping the start.
    pub fn open(
        engine: Engine,
        store: Arc<dyn Store>,
        options: RegistryOptions,
    ) -> Result<Registry, RegistryError> {
        let now = OffsetDateTime::now_utc();
        let mut modules = Vec::new();
        if options.builtin {
            let set = builtin_packs(&engine)?;
            for pack in set.packs() {
                modules.push(Loaded {
                    name: pack.name().to_owned(),
                    source: ModuleSource::Builtin,
                    revision: None,
                    loaded_at: now,
                    pack: Ok(pack.clone()),
                });
            }
        }
        for entry in store.list_module_entries()? {
            let Some(revision) = active_revision(&entry).cloned() else {
                continue;
            };
            let pack = load_stored(&engine, store.as_ref(), &entry.name, &revision);
            let mut candidate = modules.clone();
            candidate.push(Loaded {
                name: entry.name.clone(),
                source: ModuleSource::Uploaded,
                revision: Some(revision),
                loaded_at: now,
                pack,
            });
            // A module whose rule ids clash with one loaded before it is failed, not fatal.
            if let Err(e) = pack_set(&candidate)
                && let Some(last) = candidate.last_mut()
            {
                last.pack = Err(e.to_string());
            }
            if let Some(Loaded { pack: Err(e), .. }) = candidate.last() {
                tracing::error!(module = %entry.name, error = %e, "stored module failed to load; it is not serving");
            }
            modules = candidate;
        }
        let choices = Choices {
            toggles: store
                .list_rule_toggles()?
                .into_iter()
                .map(|t| (t.rule_id, t.enabled))
                .collect(),
            configured: Arc::new(options.settings),
            stored: store
                .list_rule_settings()?
                .into_iter()
                .map(|r| (r.rule_id, r.settings))
                .collect(),
        };
        // A configured setting must name a rule that serves, with values it accepts: a typo
        // in the configuration stops the start rather than silently running the default.
        let packs = pack_set(&modules)?;
        for (rule_id, values) in choices.configured.iter() {
            let (_, rule) = packs
                .rules()
                .find(|(_, r)| &r.id == rule_id)
                .ok_or_else(|| RegistryError::Settings {
                    rule: rule_id.clone(),
                    message: "no such rule is loaded".into(),
                })?;
            check_settings(rule, values)?;
        }
        let suppressions = store.list_suppressions()?;
        let first = build(&store, &options.observer, 0, modules, choices, suppressions)?;
        let current = Arc::new(ArcSwap::from_pointee(first));
        let idle = Arc::new((Mutex::new(0u64), std::sync::Condvar::new()));
        let (tx, rx) = mpsc::channel();
        {
            let (current, store, idle) = (current.clone(), store.clone(), idle.clone());
            std::thread::Builder::new()
                .name("palisade-reevaluate".into())
                .spawn(move || reevaluate_worker(rx, current, store, idle))
                .map_err(|e| EngineError::Setup(format!("cannot start a thread: {e}")))?;
        }
        Ok(Registry {
            engine,
            store,
            current,
            observer: options.observer,
            changes: Mutex::new(()),
            reevaluate: Mutex::new(tx),
            idle,
        })
    }

    /// The serving snapshot.
    pub fn current(&self) -> Arc<Ruleset> {
        self.current.load_full()
    }

    /// The engine packs are loaded with.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Blocks until every queued re-evaluation has finished.
    pub fn wait_idle(&self) {
        let (pending, cond) = &*self.idle;
        let mut n = pending.lock().unwrap_or_else(|e| e.into_inner());
        while *n > 0 {
            n = cond.wait(n).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Re-evaluations queued or running.
    pub fn pending_reevaluations(&self) -> u64 {
        *self.idle.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every module, built-in ones first, then uploaded ones by name.
    pub fn modules(&self) -> Result<Vec<ModuleInfo>, RegistryError> {
        let current = self.current();
        let entries: HashMap<String, ModuleEntry> = self
            .store
            .list_module_entries()?
            .into_iter()
            .map(|e| (e.name.clone(), e))
            .collect();
        Ok(current
            .modules
            .iter()
            .map(|m| module_info(m, entries.get(&m.name)))
            .collect())
    }

    /// One module by name.
    pub fn module(&self, name: &str) -> Result<ModuleInfo, RegistryError> {
        let current = self.current();
        let loaded = current
            .module(name)
            .ok_or_else(|| RegistryError::UnknownModule(name.to_owned()))?;
        let entry = self.store.get_module_entry(name)?;
        Ok(module_info(loaded, entry.as_ref()))
    }

    /// Checks `wasm` and makes it the serving revision of module `name` (a new module when
    /// there is none). `signed_by` is the trusted key that signed it, already verified.
    /// Blocking: compiling takes a while, so call it off async workers.
    pub fn upload(
        &self,
        name: &str,
        wasm: Vec<u8>,
        signed_by: Option<String>,
    ) -> Result<Activation, RegistryError> {
        check_name(name)?;
        if self.is_builtin(name) {
            return Err(RegistryError::Builtin(name.to_owned()));
        }
        // Compile before taking the lock: it is the slow part and changes nothing.
        let pack = Arc::new(self.engine.load(name, &wasm)?);
        // Test cases that travel with the pack must pass before it may serve.
        let cases =
            policy_tests::embedded(&wasm).map_err(|e| RegistryError::Tests(e.to_string()))?;
        if let Some(cases) = &cases {
            let failed: Vec<String> = policy_tests::run(&pack, cases)
                .into_iter()
                .filter_map(|r| r.failure.map(|why| format!("{}: {why}", r.name)))
                .collect();
            if !failed.is_empty() {
                return Err(RegistryError::Tests(format!(
                    "{} of its {} embedded test cases fail: {}",
                    failed.len(),
                    cases.len(),
                    failed.join("; ")
                )));
            }
            tracing::info!(
                module = name,
                cases = cases.len(),
                "embedded test cases pass"
            );
        }
        let _change = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.current();
        let mut entry = self
            .store
            .get_module_entry(name)?
            .unwrap_or_else(|| ModuleEntry {
                name: name.to_owned(),
                revisions: Vec::new(),
                active: None,
            });
        if let Some(active) = current.module(name)
            && let (Ok(serving), Some(rev)) = (&active.pack, &active.revision)
            && serving.digest() == pack.digest()
            && rev.signed_by == signed_by
        {
            return Ok(Activation {
                module: module_info(active, Some(&entry)),
                changed: false,
                generation: current.generation,
            });
        }
        let now = OffsetDateTime::now_utc();
        let revision = ModuleRevision {
            number: entry.revisions.last().map_or(1, |r| r.number + 1),
            digest: pack.digest().to_owned(),
            size: wasm.len() as u64,
            rules: pack.rules().iter().map(|r| r.id.clone()).collect(),
            uploaded_at: now,
            signed_by,
        };
        let modules = replace(&current, name, Some((revision.clone(), Ok(pack.clone()))));
        let next = self.build_next(&current, modules)?;
        entry.active = Some(revision.number);
        entry.revisions.push(revision);
        let record = ModuleRecord {
            digest: pack.digest().to_owned(),
            name: name.to_owned(),
            wasm,
            added_at: now,
        };
        self.store.put_module_entry(&entry, Some(&record))?;
        self.store.flush()?;
        let activation = self.publish(&current, next, name, &entry)?;
        tracing::info!(module = name, module_digest = %&pack.digest()[..12], revision = entry.active, "module activated");
        Ok(activation)
    }

    /// Makes the revision before the serving one serve again.
    pub fn rollback(&self, name: &str) -> Result<Activation, RegistryError> {
        if self.is_builtin(name) {
            return Err(RegistryError::Builtin(name.to_owned()));
        }
        let _change = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.current();
        let mut entry = self
            .store
            .get_module_entry(name)?
            .ok_or_else(|| RegistryError::UnknownModule(name.to_owned()))?;
        let active = entry.active.unwrap_or(0);
        let previous = entry
            .revisions
            .iter()
            .rev()
            .find(|r| r.number < active)
            .cloned()
            .ok_or_else(|| RegistryError::NoEarlierRevision {
                name: name.to_owned(),
                revision: active,
            })?;
        let pack = load_stored(&self.engine, self.store.as_ref(), name, &previous)
            .map_err(|e| EngineError::Invalid(format!("revision {}: {e}", previous.number)))?;
        let modules = replace(&current, name, Some((previous.clone(), Ok(pack))));
        let next = self.build_next(&current, modules)?;
        entry.active = Some(previous.number);
        self.store.put_module_entry(&entry, None)?;
        self.store.flush()?;
        tracing::info!(
            module = name,
            revision = previous.number,
            "module rolled back"
        );
        self.publish(&current, next, name, &entry)
    }

    /// Stops serving a module and forgets it, with its revisions and its rules' findings.
    pub fn delete(&self, name: &str) -> Result<(), RegistryError> {
        if self.is_builtin(name) {
            return Err(RegistryError::Builtin(name.to_owned()));
        }
        let _change = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.current();
        if current.module(name).is_none() && self.store.get_module_entry(name)?.is_none() {
            return Err(RegistryError::UnknownModule(name.to_owned()));
        }
        let modules = replace(&current, name, None);
        let next = self.build_next(&current, modules)?;
        self.store.delete_module_entry(name)?;
        self.store.flush()?;
        self.swap(&current, next)?;
        tracing::info!(module = name, "module removed");
        Ok(())
    }

    /// Switches a rule on or off; its findings go when it is off and come back (by
    /// re-evaluation) when it is on again.
    pub fn set_rule_enabled(
        &self,
        rule_id: &str,
        enabled: bool,
    ) -> Result<RuleInfo, RegistryError> {
        self.change_rule(
            rule_id,
            |_, choices| {
                choices.toggles.insert(rule_id.to_owned(), enabled);
                Ok(())
            },
            |store| {
                store.put_rule_toggle(&RuleToggle {
                    rule_id: rule_id.to_owned(),
                    enabled,
                    changed_at: OffsetDateTime::now_utc(),
                })
            },
        )
    }

    /// Replaces the operator's settings of a rule with `values` (settings left out go back to
    /// the configured value or the rule's default). Values are checked against the settings
    /// the rule declares; the rule's resources are then evaluated again with them.
    pub fn set_rule_settings(
        &self,
        rule_id: &str,
        values: Map<String, Value>,
    ) -> Result<RuleInfo, RegistryError> {
        let record = RuleSettingsRecord {
            rule_id: rule_id.to_owned(),
            settings: values.clone(),
            changed_at: OffsetDateTime::now_utc(),
        };
        self.change_rule(
            rule_id,
            |rule, choices| {
                choices.stored.insert(rule_id.to_owned(), values);
                check_settings(rule, &choices.settings_of(rule_id).unwrap_or_default())
            },
            |store| store.put_rule_settings(&record),
        )
    }

    /// One change to what operators chose about `rule_id`: applied to a copy of the choices,
    /// checked by building the next rule set, persisted, then swapped in.
    fn change_rule(
        &self,
        rule_id: &str,
        change: impl FnOnce(&RuleMeta, &mut Choices) -> Result<(), RegistryError>,
        persist: impl FnOnce(&dyn Store) -> Result<(), StoreError>,
    ) -> Result<RuleInfo, RegistryError> {
        let _change = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.current();
        let packs = current.evaluator.packs();
        let rule = packs
            .owner(rule_id)
            .and_then(|p| p.rules().iter().find(|r| r.id == rule_id))
            .ok_or_else(|| RegistryError::UnknownRule(rule_id.to_owned()))?;
        let mut choices = current.choices.clone();
        change(rule, &mut choices)?;
        let next = build(
            &self.store,
            &self.observer,
            current.generation + 1,
            current.modules.clone(),
            choices,
            current.suppressions.clone(),
        )?;
        persist(self.store.as_ref())?;
        self.store.flush()?;
        self.swap(&current, next)?;
        let now = self.current();
        Ok(now.rule(rule_id).expect("the rule was checked above"))
    }

    /// Adds a suppression of `rule_id` failures on resources matching `pattern`, and applies it
    /// to the stored findings.
    pub fn add_suppression(
        &self,
        rule_id: &str,
        pattern: &str,
        reason: Option<String>,
    ) -> Result<Suppression, RegistryError> {
        check_pattern(pattern)?;
        let _change = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.current();
        if current.rule(rule_id).is_none() {
            return Err(RegistryError::UnknownRule(rule_id.to_owned()));
        }
        let now = OffsetDateTime::now_utc();
        let suppression = Suppression {
            id: new_id(now),
            rule_id: rule_id.to_owned(),
            pattern: pattern.to_owned(),
            reason,
            created_at: now,
        };
        let mut suppressions = current.suppressions.clone();
        suppressions.push(suppression.clone());
        self.change_suppressions(&current, suppressions, rule_id, || {
            self.store.put_suppression(&suppression)
        })?;
        Ok(suppression)
    }

    /// Removes a suppression; the failures it covered fail again.
    pub fn delete_suppression(&self, id: &str) -> Result<(), RegistryError> {
        let _change = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.current();
        let Some(gone) = current.suppressions.iter().find(|s| s.id == id).cloned() else {
            return Err(RegistryError::UnknownSuppression(id.to_owned()));
        };
        let suppressions = current
            .suppressions
            .iter()
            .filter(|s| s.id != id)
            .cloned()
            .collect();
        self.change_suppressions(&current, suppressions, &gone.rule_id, || {
            self.store.delete_suppression(id).map(|_| ())
        })
    }

    fn change_suppressions(
        &self,
        current: &Ruleset,
        suppressions: Vec<Suppression>,
        rule_id: &str,
        persist: impl FnOnce() -> Result<(), StoreError>,
    ) -> Result<(), RegistryError> {
        let next = build(
            &self.store,
            &self.observer,
            current.generation + 1,
            current.modules.clone(),
            current.choices.clone(),
            suppressions,
        )?;
        persist()?;
        self.store.flush()?;
        let applied = next.suppressions.clone();
        self.current.store(Arc::new(next));
        findings::resuppress(
            self.store.as_ref(),
            rule_id,
            &applied,
            OffsetDateTime::now_utc(),
        )?;
        Ok(())
    }

    fn is_builtin(&self, name: &str) -> bool {
        self.current()
            .module(name)
            .is_some_and(|m| m.source == ModuleSource::Builtin)
    }

    /// The snapshot after replacing the modules, checked but not yet published.
    fn build_next(
        &self,
        current: &Ruleset,
        modules: Vec<Loaded>,
    ) -> Result<Ruleset, RegistryError> {
        build(
            &self.store,
            &self.observer,
            current.generation + 1,
            modules,
            current.choices.clone(),
            current.suppressions.clone(),
        )
    }

    /// Publishes `next` after an upload or rollback of `name` and reports the activation.
    fn publish(
        &self,
        current: &Ruleset,
        next: Ruleset,
        name: &str,
        entry: &ModuleEntry,
    ) -> Result<Activation, RegistryError> {
        let generation = next.generation;
        self.swap(current, next)?;
        let now = self.current();
        let loaded = now.module(name).expect("the module was just published");
        Ok(Activation {
            module: module_info(loaded, Some(entry)),
            changed: true,
            generation,
        })
    }

    /// Swaps `next` in, drops the findings of rules no longer running, and queues the
    /// resources of every type whose rules changed for re-evaluation.
    fn swap(&self, current: &Ruleset, next: Ruleset) -> Result<(), RegistryError> {
        let before = running_rules(current);
        let after = running_rules(&next);
        self.current.store(Arc::new(next));
        let mut types = BTreeSet::new();
        for (id, (digest, rule_types)) in &before {
            if !after.contains_key(id) {
                let n = self.store.delete_findings_of_rule(id)?;
                tracing::info!(rule = %id, findings = n, "rule no longer runs; its findings were removed");
            }
            if after.get(id).is_none_or(|(d, _)| d != digest) {
                types.extend(rule_types.iter().cloned());
            }
        }
        for (id, (_, rule_types)) in &after {
            if !before.contains_key(id) {
                types.extend(rule_types.iter().cloned());
            }
        }
        // Rules that went away leave nothing to evaluate; types only of those are skipped.
        types.retain(|t| after.values().any(|(_, ts)| ts.contains(t)));
        if !types.is_empty() {
            let (pending, _) = &*self.idle;
            *pending.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            let sent = self
                .reevaluate
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .send(Reevaluation(types));
            if sent.is_err() {
                tracing::error!(
                    "the re-evaluation worker is gone; stored findings may be stale until the next scan"
                );
            }
        }
        Ok(())
    }
}

/// Running rules by id, with the digest of their module and their resource types.
fn running_rules(set: &Ruleset) -> HashMap<String, (String, Vec<String>)> {
    set.evaluator
        .packs()
        .rules()
        .filter(|(_, r)| set.evaluator.is_enabled(&r.id))
        .map(|(p, r)| {
            // The module's bytes and the rule's settings: a change of either re-evaluates.
            let settings = Value::from(set.choices.settings_of(&r.id).unwrap_or_default());
            (
                r.id.clone(),
                (
                    format!("{}:{settings}", p.digest()),
                    r.resource_types.clone(),
                ),
            )
        })
        .collect()
}

/// The modules of `current` with `name` replaced (or added, or removed when `None`).
fn replace(
    current: &Ruleset,
    name: &str,
    with: Option<(ModuleRevision, Result<Arc<Pack>, String>)>,
) -> Vec<Loaded> {
    let mut modules: Vec<Loaded> = current
        .modules
        .iter()
        .filter(|m| m.name != name)
        .cloned()
        .collect();
    if let Some((revision, pack)) = with {
        modules.push(Loaded {
            name: name.to_owned(),
            source: ModuleSource::Uploaded,
            revision: Some(revision),
            loaded_at: OffsetDateTime::now_utc(),
            pack,
        });
        // Built-in packs first, then uploaded ones by name: a stable evaluation order.
        modules.sort_by(|a, b| {
            (a.source == ModuleSource::Uploaded, &a.name)
                .cmp(&(b.source == ModuleSource::Uploaded, &b.name))
        });
    }
    modules
}

fn pack_set(modules: &[Loaded]) -> Result<PackSet, EngineError> {
    PackSet::new(
        modules
            .iter()
            .filter_map(|m| m.pack.as_ref().ok().cloned())
            .collect(),
    )
}

fn build(
    store: &Arc<dyn Store>,
    observer: &Option<Arc<dyn EvalObserver>>,
    generation: u64,
    modules: Vec<Loaded>,
    choices: Choices,
    mut suppressions: Vec<Suppression>,
) -> Result<Ruleset, RegistryError> {
    let packs = Arc::new(pack_set(&modules)?);
    let enabled = packs
        .rules()
        .filter(|(_, r)| {
            choices
                .toggles
                .get(&r.id)
                .copied()
                .unwrap_or(r.default_enabled)
        })
        .map(|(_, r)| r.id.clone())
        .collect();
    // A new revision of a module may drop a setting an operator set: that refuses the change.
    let settings = choices.for_packs(&packs);
    for (_, rule) in packs.rules() {
        if let Some(values) = settings.get(&rule.id) {
            check_settings(rule, values)?;
        }
    }
    suppressions.sort_by(|a, b| a.id.cmp(&b.id));
    let evaluator = Evaluator::with_config(
        packs,
        EvalConfig {
            enabled: Some(enabled),
            settings,
            suppressions: suppressions.clone(),
            observer: observer.clone(),
        },
        store.clone(),
    )?;
    Ok(Ruleset {
        generation,
        evaluator: Arc::new(evaluator),
        modules,
        choices,
        suppressions,
    })
}

fn active_revision(entry: &ModuleEntry) -> Option<&ModuleRevision> {
    let active = entry.active?;
    entry.revisions.iter().find(|r| r.number == active)
}

fn load_stored(
    engine: &Engine,
    store: &dyn Store,
    name: &str,
    revision: &ModuleRevision,
) -> Result<Arc<Pack>, String> {
    let record = store
        .get_module(&revision.digest)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("the bytes of revision {} are missing", revision.number))?;
    engine
        .load(name, &record.wasm)
        .map(Arc::new)
        .map_err(|e| e.to_string())
}

fn module_info(m: &Loaded, entry: Option<&ModuleEntry>) -> ModuleInfo {
    let (status, sha256, rules, error) = match &m.pack {
        Ok(pack) => (
            ModuleStatus::Active,
            pack.digest().to_owned(),
            pack.rules().iter().map(|r| r.id.clone()).collect(),
            None,
        ),
        Err(e) => (
            ModuleStatus::Failed,
            m.revision
                .as_ref()
                .map(|r| r.digest.clone())
                .unwrap_or_default(),
            m.revision
                .as_ref()
                .map(|r| r.rules.clone())
                .unwrap_or_default(),
            Some(e.clone()),
        ),
    };
    ModuleInfo {
        name: m.name.clone(),
        source: m.source,
        status,
        revision: m.revision.as_ref().map(|r| r.number),
        sha256,
        size: match &m.revision {
            Some(r) => r.size,
            None => BUILTIN_PACKS
                .iter()
                .find(|b| b.name == m.name)
                .map_or(0, |b| b.wasm.len() as u64),
        },
        rules,
        loaded_at: m.loaded_at,
        signed_by: m.revision.as_ref().and_then(|r| r.signed_by.clone()),
        error,
        revisions: entry.map(|e| e.revisions.clone()).unwrap_or_default(),
    }
}

/// Module names: what account names allow, since both end up in URLs and logs.
fn check_name(name: &str) -> Result<(), RegistryError> {
    let ok = name.len() <= 64
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(RegistryError::Name(name.to_owned()))
    }
}

fn check_pattern(pattern: &str) -> Result<(), RegistryError> {
    if pattern.is_empty() {
        return Err(RegistryError::Pattern("it is empty".into()));
    }
    if pattern.len() > 2048 {
        return Err(RegistryError::Pattern("it is over 2048 bytes".into()));
    }
    if pattern.chars().any(char::is_control) {
        return Err(RegistryError::Pattern(
            "it contains control characters".into(),
        ));
    }
    Ok(())
}

/// A time-sortable unique id: `YYYYMMDDTHHMMSS.ffffffZ-` and 8 random hex digits.
pub fn new_id(now: OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year][month][day]T[hour][minute][second].[subsecond digits:6]Z"
    );
    let stamp = now
        .to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default();
    let mut random = [0u8; 4];
    // Without randomness the id is still unique enough within one process: keep going.
    let _ = getrandom::fill(&mut random);
    format!("{stamp}-{}", hex::encode(random))
}

/// Resources evaluated per re-evaluation batch: big enough to amortise the pack calls,
/// small enough that a newer snapshot is picked up quickly.
const REEVALUATE_BATCH: usize = 1024;

fn reevaluate_worker(
    rx: mpsc::Receiver<Reevaluation>,
    current: Arc<ArcSwap<Ruleset>>,
    store: Arc<dyn Store>,
    idle: Arc<(Mutex<u64>, std::sync::Condvar)>,
) {
    while let Ok(Reevaluation(mut types)) = rx.recv() {
        let mut jobs = 1;
        // Coalesce what queued up meanwhile: one pass over the union of types.
        while let Ok(Reevaluation(more)) = rx.try_recv() {
            types.extend(more);
            jobs += 1;
        }
        let started = std::time::Instant::now();
        let mut evaluated = 0usize;
        for ty in &types {
            let filter = ResourceFilter {
                resource_type: Some(ty.clone()),
                ..ResourceFilter::default()
            };
            let live: Vec<_> = match store.list_resources(&filter) {
                Ok(all) => all.into_iter().filter(|r| r.deleted_at.is_none()).collect(),
                Err(e) => {
                    tracing::error!(resource_type = %ty, error = %e, "re-evaluation could not read resources");
                    continue;
                }
            };
            for chunk in live.chunks(REEVALUATE_BATCH) {
                // The newest snapshot for every batch: a later change is never undone.
                let evaluator = current.load().evaluator.clone();
                if let Err(e) = evaluator.evaluate(chunk, OffsetDateTime::now_utc()) {
                    tracing::error!(resource_type = %ty, error = %e, "re-evaluation could not record findings");
                }
                evaluated += chunk.len();
            }
        }
        tracing::info!(
            types = types.len(),
            resources = evaluated,
            took_ms = started.elapsed().as_millis() as u64,
            "re-evaluated after a rule change"
        );
        let (pending, cond) = &*idle;
        let mut n = pending.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(jobs);
        cond.notify_all();
    }
}
