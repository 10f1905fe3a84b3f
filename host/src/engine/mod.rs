//! The policy engine: the only part of Palisade that touches wasmtime.
//!
//! It offers a few operations: [`Engine::load`] compiles a pack component (or takes it from the
//! [`ArtifactCache`]), checks it implements `palisade:policy/pack` and reads its rules;
//! [`Pack::evaluate`] runs rules over resource documents under the sandbox [`Limits`]. What a
//! pack may reach is decided in `sandbox.rs`; limits and their reasons are in `limits.rs`.

mod bindings;
mod builtin;
mod cache;
mod limits;
mod log_rate;
mod pack;
mod rules;
mod sandbox;
mod set;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};

pub use builtin::{BUILTIN_PACKS, BuiltinPack, builtin_packs};
pub use cache::{ArtifactCache, CacheError};
pub use limits::Limits;
pub use pack::{EvalContext, Evaluation, Pack, Plan, Status, Subject};
pub use rules::{RuleMeta, SettingKind, SettingSpec, Severity};
pub use sandbox::{Lookup, NoLookup};
pub use set::{PackSet, RuleSettings, SetEvaluation};

use bindings::PackPre;
use sandbox::HostState;

/// How often the epoch advances. 10 ms: the CPU deadline is precise to about this, and the
/// ticker thread costs nothing measurable.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Why a pack could not be loaded, or a rule set not planned. Load errors describe the
/// module and go back to whoever supplied it; none of them leaves anything half-loaded.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot set up the WebAssembly engine: {0}")]
    Setup(String),
    #[error("the module is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("not a WebAssembly binary (it does not start with `\\0asm`)")]
    NotWasm,
    #[error(
        "this is a core WebAssembly module, not a component: build the pack for wasm32-wasip2 \
         (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule,
    #[error("the component is invalid: {0}")]
    Invalid(String),
    #[error(
        "the pack imports something Palisade does not provide (packs get no network, filesystem \
         or environment): {0}"
    )]
    Imports(String),
    #[error("the pack does not implement the palisade:policy/pack@0.1.0 world: {0}")]
    Exports(String),
    #[error("the pack failed while describing its rules: {0}")]
    Describe(String),
    #[error("the pack's rule metadata is invalid: {0}")]
    Metadata(String),
    #[error("rule {rule} is provided by both {first} and {second}")]
    DuplicateRule {
        rule: String,
        first: String,
        second: String,
    },
    #[error("unknown rule {0}")]
    UnknownRule(String),
    #[error("settings of rule {rule}: {message}")]
    Settings { rule: String, message: String },
}

/// A configured wasmtime engine with the host's imports linked. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    wasmtime: wasmtime::Engine,
    linker: Linker<HostState>,
    limits: Limits,
    cache: Option<ArtifactCache>,
    /// Components compiled by this process, by digest: loading the same module again (a
    /// reload, a rollback) costs nothing.
    compiled: Mutex<HashMap<String, Component>>,
}

/// Compiled components kept in memory. 64: far more packs than a deployment runs; past it the
/// map is cleared rather than tracked, since a miss only costs one compilation or cache load.
const MAX_COMPILED_IN_MEMORY: usize = 64;

impl Engine {
    /// An engine enforcing `limits`, compiling every pack it loads.
    pub fn new(limits: Limits) -> Result<Self, EngineError> {
        Self::build(limits, None)
    }

    /// An engine that keeps compiled packs in `cache`.
    pub fn with_cache(limits: Limits, cache: ArtifactCache) -> Result<Self, EngineError> {
        Self::build(limits, Some(cache))
    }

    fn build(limits: Limits, cache: Option<ArtifactCache>) -> Result<Self, EngineError> {
        let mut config = wasmtime::Config::new();
        config
            .wasm_component_model(true)
            // The CPU deadline: cheap checks at loop heads and function entries, driven by the
            // ticker thread below.
            .epoch_interruption(true)
            .max_wasm_stack(limits.max_wasm_stack)
            .cranelift_opt_level(wasmtime::OptLevel::Speed)
            // Compile a pack's functions on every core: loading is on the operator's clock.
            .parallel_compilation(true);
        let wasmtime =
            wasmtime::Engine::new(&config).map_err(|e| EngineError::Setup(error_chain(&e)))?;
        let mut linker = Linker::new(&wasmtime);
        // WASI is linked so that packs built by ordinary toolchains (whose standard libraries
        // import it) instantiate; `sandbox.rs` grants it nothing.
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .and_then(|()| bindings::Pack::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s))
            .map_err(|e| EngineError::Setup(error_chain(&e)))?;
        spawn_epoch_ticker(&wasmtime);
        Ok(Self {
            inner: Arc::new(Inner {
                wasmtime,
                linker,
                limits,
                cache,
                compiled: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The limits every call runs under.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Check, compile and describe a pack. `name` is how logs and listings refer to it.
    pub fn load(&self, name: &str, wasm: &[u8]) -> Result<Pack, EngineError> {
        let limits = &self.inner.limits;
        if wasm.len() > limits.max_module_bytes {
            return Err(EngineError::TooLarge {
                size: wasm.len(),
                limit: limits.max_module_bytes,
            });
        }
        match wasm.get(..8) {
            Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => return Err(EngineError::CoreModule),
            Some([0, b'a', b's', b'm', ..]) => {}
            _ => return Err(EngineError::NotWasm),
        }
        let digest = hex::encode(Sha256::digest(wasm));
        let (component, from_cache) = self.compile(&digest, wasm)?;
        let instance_pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| EngineError::Imports(error_chain(&e)))?;
        let pre = PackPre::new(instance_pre).map_err(|e| EngineError::Exports(error_chain(&e)))?;
        Pack::describe(self.clone(), name, digest, pre, from_cache)
    }

    /// The compiled component, and whether it came from the cache.
    fn compile(&self, digest: &str, wasm: &[u8]) -> Result<(Component, bool), EngineError> {
        let engine = &self.inner.wasmtime;
        let compiled = |component: &Component| {
            let mut map = self
                .inner
                .compiled
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if map.len() >= MAX_COMPILED_IN_MEMORY {
                map.clear();
            }
            map.insert(digest.to_owned(), component.clone());
        };
        let known = self
            .inner
            .compiled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(digest)
            .cloned();
        if let Some(component) = known {
            return Ok((component, true));
        }
        if let Some(component) = self
            .inner
            .cache
            .as_ref()
            .and_then(|c| c.load(engine, digest))
        {
            tracing::debug!(module_digest = digest, "compiled pack taken from the cache");
            compiled(&component);
            return Ok((component, true));
        }
        let started = std::time::Instant::now();
        let component =
            Component::new(engine, wasm).map_err(|e| EngineError::Invalid(error_chain(&e)))?;
        tracing::debug!(
            module_digest = digest,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "compiled pack"
        );
        if let Some(cache) = &self.inner.cache {
            cache.save(engine, digest, &component);
        }
        compiled(&component);
        Ok((component, false))
    }
}

/// Advance the engine's epoch every [`EPOCH_TICK`] for as long as the engine lives.
fn spawn_epoch_ticker(engine: &wasmtime::Engine) {
    let weak = engine.weak();
    let spawned = thread::Builder::new()
        .name("palisade-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                thread::sleep(EPOCH_TICK);
            }
        });
    if let Err(e) = spawned {
        // Without a ticker no deadline can fire; refusing to run would be safer than running
        // unbounded, but thread creation failing means the process is already out of resources.
        tracing::error!(error = %e, "cannot start the epoch ticker; CPU deadlines are not enforced");
    }
}

/// A wasmtime error with its causes, on one line.
fn error_chain(err: &wasmtime::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let cause = cause.to_string();
        if !text.is_empty() {
            if text.contains(&cause) {
                continue;
            }
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}
