//! The store state of a pack instance: its WASI context with nothing granted, its captured
//! output, and the `palisade:policy/host` imports. What a pack may see is decided here and only
//! here; evaluation logic lives in `pack.rs`.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView};

use super::bindings::palisade::policy::{host, types};
use super::limits::{Limiter, Limits};

/// Where a pack's `lookup` calls go: other resources of one account, read-only.
pub trait Lookup: Send + Sync {
    /// The document of `resource_id` in `account_id`, as JSON text.
    fn lookup(&self, account_id: &str, resource_id: &str) -> Option<String>;
}

/// A [`Lookup`] that finds nothing, for evaluations without context.
pub struct NoLookup;

impl Lookup for NoLookup {
    fn lookup(&self, _account_id: &str, _resource_id: &str) -> Option<String> {
        None
    }
}

/// One log line a pack wrote through the `log` import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestLog {
    pub level: host::LogLevel,
    pub message: String,
}

/// Store data of one guest call.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    now: types::Instant,
    account_id: String,
    lookup: Arc<dyn Lookup>,
    pub(crate) output: GuestOutput,
    pub(crate) logs: Vec<GuestLog>,
    pub(crate) dropped_logs: usize,
    max_log_lines: usize,
    max_log_line_bytes: usize,
}

impl HostState {
    pub(crate) fn new(
        limits: &Limits,
        now: types::Instant,
        account_id: &str,
        lookup: Arc<dyn Lookup>,
    ) -> Self {
        let output = GuestOutput::new(limits.max_guest_output);
        // Nothing is inherited: no preopened directories, no environment, no arguments, no
        // stdin. Sockets are off and every address is refused. Clocks are frozen at the
        // evaluation time so even a pack that reads the wall clock is reproducible.
        let wasi = WasiCtxBuilder::new()
            .stdout(output.clone())
            .stderr(output.clone())
            .wall_clock(FrozenWallClock(now))
            .monotonic_clock(FrozenMonotonicClock)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter::new(limits),
            now,
            account_id: account_id.to_owned(),
            lookup,
            output,
            logs: Vec::new(),
            dropped_logs: 0,
            max_log_lines: limits.max_log_lines,
            max_log_line_bytes: limits.max_log_line_bytes,
        }
    }
}

impl wasmtime_wasi::WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for HostState {}

impl host::Host for HostState {
    fn log(&mut self, level: host::LogLevel, mut message: String) {
        if self.logs.len() >= self.max_log_lines {
            self.dropped_logs += 1;
            return;
        }
        truncate_utf8(&mut message, self.max_log_line_bytes);
        self.logs.push(GuestLog { level, message });
    }

    fn now(&mut self) -> types::Instant {
        self.now
    }

    fn lookup(&mut self, resource_id: String) -> Option<String> {
        self.lookup.lookup(&self.account_id, &resource_id)
    }
}

impl HostState {
    /// Take what the guest logged and printed since the last call, leaving both empty.
    pub(crate) fn take_output(&mut self) -> (Vec<GuestLog>, usize, String) {
        let logs = std::mem::take(&mut self.logs);
        let dropped = std::mem::take(&mut self.dropped_logs);
        (logs, dropped, self.output.take_text())
    }
}

/// Cut `s` to at most `max` bytes on a character boundary.
pub(crate) fn truncate_utf8(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

struct FrozenWallClock(types::Instant);

impl HostWallClock for FrozenWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::new(self.0.seconds.max(0) as u64, self.0.nanoseconds)
    }
}

struct FrozenMonotonicClock;

impl HostMonotonicClock for FrozenMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }

    fn now(&self) -> u64 {
        0
    }
}

/// A pack's stdout and stderr: the first `capacity` bytes are kept, the rest are accepted and
/// dropped. Writes never fail, because a failed write to stdout makes Rust's `println!` panic.
#[derive(Clone)]
pub(crate) struct GuestOutput {
    capacity: usize,
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl GuestOutput {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            buffer: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn append(&self, bytes: &[u8]) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let room = self.capacity.saturating_sub(buffer.len());
        buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// Everything kept so far, lossily decoded.
    pub(crate) fn text(&self) -> String {
        let buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&buffer).into_owned()
    }

    /// Everything kept so far, emptying the buffer.
    fn take_text(&self) -> String {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let text = String::from_utf8_lossy(&buffer).into_owned();
        buffer.clear();
        text
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 << 10)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
