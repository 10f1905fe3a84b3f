//! Sandbox limits for every guest call, each default with its reason, and the store limiter that
//! enforces the memory ones. The CPU deadline is enforced by the epoch ticker in `mod.rs`; the
//! grants (no files, sockets, environment, real clock) are in `sandbox.rs`.

use std::time::Duration;

/// Bounds applied to every pack call.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall-clock budget of one guest call (`describe`, or one batch). 1 s: a rule takes
    /// microseconds and a batch milliseconds, so a loop is cut off long before anyone waits.
    pub deadline: Duration,
    /// Linear memory per memory. 64 MiB: an interpreter-based pack fits, a memory bomb does not.
    pub memory_bytes: usize,
    /// Memories per instance tree. 4: components link a few core modules that share one memory;
    /// without a count the per-memory cap could be multiplied away.
    pub max_memories: usize,
    /// Core instances per store. 64: a component is a handful of core instances (main module,
    /// adapters, shims); more means something is instantiating in a loop.
    pub max_instances: usize,
    /// Tables per store, for the same reason as instances.
    pub max_tables: usize,
    /// Elements per table. 1 Mi: far above any real function table, bounded host memory.
    pub max_table_elements: usize,
    /// WebAssembly stack. 512 KiB (wasmtime's default): deep recursion becomes a clean
    /// stack-overflow trap instead of touching the host's stack.
    pub max_wasm_stack: usize,
    /// Largest component accepted. 50 MiB: a Python pack is ~20 MB, a JS one ~12 MB.
    pub max_module_bytes: usize,
    /// Longest verdict message kept. 4 KiB: enough to name a statement; longer is an error.
    pub max_message_bytes: usize,
    /// Guest stdout+stderr kept per call. 16 KiB: room for a panic message and some prints.
    pub max_guest_output: usize,
    /// Log lines forwarded per call. 64: logging must not become a denial of service.
    pub max_log_lines: usize,
    /// Longest log line forwarded. 1 KiB.
    pub max_log_line_bytes: usize,
    /// Resources per guest call. 256: amortises the boundary crossing (see BENCHMARKS.md) while
    /// a batch stays far inside the deadline even for interpreted packs.
    pub batch_size: usize,
    /// Document bytes per guest call. 8 MiB: a batch is copied into the guest's memory and
    /// parsed there, so it must leave most of the memory cap for the pack itself.
    pub batch_bytes: usize,
    /// Time a batch may spend on failed calls while re-running a failing rule resource by
    /// resource, before its remaining resources are reported as errors without running. 1 s:
    /// a rule that panics on a few resources costs microseconds each and keeps every other
    /// verdict; one that times out or exhausts memory on every resource stops costing quickly.
    pub isolation_budget: Duration,
    /// Rules one pack may declare. 2,000: the full AWS library is ~100.
    pub max_rules: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(1),
            memory_bytes: 64 << 20,
            max_memories: 4,
            max_instances: 64,
            max_tables: 64,
            max_table_elements: 1 << 20,
            max_wasm_stack: 512 << 10,
            max_module_bytes: 50 << 20,
            max_message_bytes: 4096,
            max_guest_output: 16 << 10,
            max_log_lines: 64,
            max_log_line_bytes: 1024,
            batch_size: 256,
            batch_bytes: 8 << 20,
            isolation_budget: Duration::from_secs(1),
            max_rules: 2000,
        }
    }
}

/// A guest asked for more linear memory than [`Limits::memory_bytes`].
#[derive(Debug, thiserror::Error)]
#[error("asked for {requested} bytes of memory, over the limit of {limit}")]
pub struct MemoryLimitExceeded {
    pub requested: usize,
    pub limit: usize,
}

/// A guest asked for a table larger than [`Limits::max_table_elements`].
#[derive(Debug, thiserror::Error)]
#[error("asked for a table of {requested} elements, over the limit of {limit}")]
pub struct TableLimitExceeded {
    pub requested: usize,
    pub limit: usize,
}

/// The store's resource limiter. Growth past a limit traps (rather than failing the grow), so
/// every language fails the same way: some runtimes swallow a failed grow and carry on.
pub(crate) struct Limiter {
    memory_bytes: usize,
    max_memories: usize,
    max_instances: usize,
    max_tables: usize,
    max_table_elements: usize,
}

impl Limiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            memory_bytes: limits.memory_bytes,
            max_memories: limits.max_memories,
            max_instances: limits.max_instances,
            max_tables: limits.max_tables,
            max_table_elements: limits.max_table_elements,
        }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                requested: desired,
                limit: self.memory_bytes,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_table_elements {
            return Err(wasmtime::Error::new(TableLimitExceeded {
                requested: desired,
                limit: self.max_table_elements,
            }));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.max_instances
    }

    fn tables(&self) -> usize {
        self.max_tables
    }

    fn memories(&self) -> usize {
        self.max_memories
    }
}
