//! The per-pack budget for forwarding guest log lines to the host log: a token bucket shared by
//! every call of one [`Pack`](super::Pack). Only the accounting lives here (no tracing, no
//! wasmtime); `pack.rs` decides what to emit with the answer. Time is always passed in, so the
//! tests never sleep.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sustained guest log lines per second, per pack. 50: enough for a pack to explain itself
/// while it evaluates, while a pack that logs on every resource of a large scan (tens of
/// thousands of documents per second) cannot flood the host log or its shipping costs.
pub(super) const LINES_PER_SECOND: f64 = 50.0;

/// Lines a pack may log at once after being quiet. 200: about three calls at the per-call cap
/// (`Limits::max_log_lines`, 64), so a pack's first diagnostics (a setting it rejects, a
/// document shape it did not expect) come through whole before the sustained rate applies.
pub(super) const BURST: f64 = 200.0;

/// The least time between two "lines were suppressed" summaries of one pack. One second: the
/// summary must not become the flood it reports.
pub(super) const REPORT_EVERY: Duration = Duration::from_secs(1);

/// What one call may forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Admission {
    /// How many of the call's log lines to forward, in order; the rest are suppressed.
    pub forward: usize,
    /// Whether the warning about lines over the per-call cap may be emitted (it costs one line
    /// of budget; when there is none, the dropped lines join the suppressed count instead).
    pub warn_dropped: bool,
    /// `Some(n)`: emit one warning now that `n` lines were suppressed since the last summary.
    pub report_suppressed: Option<u64>,
}

/// A token bucket of log lines, safe to share between threads evaluating the same pack.
#[derive(Debug)]
pub(super) struct LogRate {
    bucket: Mutex<Bucket>,
}

impl LogRate {
    /// A bucket with the default rate and burst, full at `now`.
    pub(super) fn new(now: Instant) -> Self {
        Self::with_rate(LINES_PER_SECOND, BURST, now)
    }

    pub(super) fn with_rate(lines_per_second: f64, burst: f64, now: Instant) -> Self {
        Self {
            bucket: Mutex::new(Bucket {
                rate: lines_per_second,
                burst,
                tokens: burst,
                refilled_at: now,
                suppressed: 0,
                reported_at: None,
            }),
        }
    }

    /// Spend budget on one call's output: `lines` log lines the call produced, and `dropped`
    /// lines the per-call cap already discarded (reported with one warning line when budget is
    /// left). Call it after every call, even one that logged nothing, so a pending summary of
    /// suppressed lines goes out.
    pub(super) fn admit(&self, lines: usize, dropped: usize, now: Instant) -> Admission {
        // A poisoned lock only means another thread panicked mid-update of plain numbers.
        let mut bucket = self
            .bucket
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        bucket.refill(now);
        let forward = bucket.take(lines);
        bucket.suppressed += (lines - forward) as u64;
        let warn_dropped = dropped > 0 && bucket.take(1) == 1;
        if dropped > 0 && !warn_dropped {
            bucket.suppressed += dropped as u64;
        }
        let report_suppressed = bucket.report(now);
        Admission {
            forward,
            warn_dropped,
            report_suppressed,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    refilled_at: Instant,
    /// Lines suppressed since the last summary.
    suppressed: u64,
    reported_at: Option<Instant>,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        // Threads may take the lock in another order than they read the clock: never go back.
        if now > self.refilled_at {
            let elapsed = now.duration_since(self.refilled_at).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
            self.refilled_at = now;
        }
    }

    /// Take up to `wanted` whole tokens; returns how many were taken.
    fn take(&mut self, wanted: usize) -> usize {
        let available = self.tokens.floor().max(0.0) as usize;
        let taken = wanted.min(available);
        self.tokens -= taken as f64;
        taken
    }

    fn report(&mut self, now: Instant) -> Option<u64> {
        if self.suppressed == 0 {
            return None;
        }
        let due = self
            .reported_at
            .is_none_or(|at| now.saturating_duration_since(at) >= REPORT_EVERY);
        if !due {
            return None;
        }
        self.reported_at = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn burst_is_available_at_once_then_the_rest_is_suppressed() {
        let t0 = Instant::now();
        let rate = LogRate::new(t0);
        let first = rate.admit(150, 0, t0);
        assert_eq!(first.forward, 150);
        assert_eq!(first.report_suppressed, None);
        let second = rate.admit(64, 0, t0);
        assert_eq!(second.forward, 50);
        assert_eq!(second.report_suppressed, Some(14));
    }

    #[test]
    fn refills_at_the_sustained_rate_up_to_the_burst() {
        let t0 = Instant::now();
        let rate = LogRate::with_rate(50.0, 200.0, t0);
        assert_eq!(rate.admit(200, 0, t0).forward, 200);
        assert_eq!(rate.admit(1, 0, t0).forward, 0);
        // 100 ms at 50/s: five lines.
        assert_eq!(rate.admit(10, 0, t0 + ms(100)).forward, 5);
        // A long quiet spell refills only up to the burst.
        assert_eq!(
            rate.admit(1000, 0, t0 + Duration::from_secs(3600)).forward,
            200
        );
    }

    #[test]
    fn fractional_tokens_accumulate() {
        let t0 = Instant::now();
        let rate = LogRate::with_rate(50.0, 200.0, t0);
        assert_eq!(rate.admit(200, 0, t0).forward, 200);
        // 10 ms is half a line: nothing yet, but the half is kept.
        assert_eq!(rate.admit(1, 0, t0 + ms(10)).forward, 0);
        assert_eq!(rate.admit(1, 0, t0 + ms(20)).forward, 1);
    }

    #[test]
    fn a_clock_reading_from_the_past_does_not_refill_or_panic() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(10);
        let rate = LogRate::with_rate(50.0, 200.0, later);
        assert_eq!(rate.admit(200, 0, later).forward, 200);
        assert_eq!(rate.admit(5, 0, t0).forward, 0);
    }

    #[test]
    fn summaries_go_out_at_most_once_per_second_and_carry_the_count() {
        let t0 = Instant::now();
        let rate = LogRate::with_rate(50.0, 10.0, t0);
        let a = rate.admit(15, 0, t0);
        assert_eq!((a.forward, a.report_suppressed), (10, Some(5)));
        // Within the second: counted, not reported.
        let b = rate.admit(7, 0, t0 + ms(10));
        assert_eq!(b.report_suppressed, None);
        let c = rate.admit(3, 0, t0 + ms(500));
        assert_eq!(c.report_suppressed, None);
        // A call that logged nothing still flushes the pending count once the second is up.
        let d = rate.admit(0, 0, t0 + ms(1000));
        assert_eq!(d.forward, 0);
        let pending = 7 + 3 - b.forward as u64 - c.forward as u64;
        assert_eq!(d.report_suppressed, Some(pending));
        // Nothing suppressed since: no summary.
        assert_eq!(rate.admit(0, 0, t0 + ms(5000)).report_suppressed, None);
    }

    #[test]
    fn the_dropped_warning_costs_one_line_or_joins_the_suppressed_count() {
        let t0 = Instant::now();
        let rate = LogRate::with_rate(50.0, 65.0, t0);
        let a = rate.admit(64, 3, t0);
        assert_eq!(
            (a.forward, a.warn_dropped, a.report_suppressed),
            (64, true, None)
        );
        let b = rate.admit(64, 3, t0);
        assert_eq!(b.forward, 0);
        assert!(!b.warn_dropped);
        assert_eq!(b.report_suppressed, Some(64 + 3));
    }

    #[test]
    fn shared_between_threads() {
        let t0 = Instant::now();
        let rate = std::sync::Arc::new(LogRate::with_rate(50.0, 200.0, t0));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let rate = rate.clone();
                std::thread::spawn(move || rate.admit(100, 0, t0).forward)
            })
            .collect();
        let forwarded: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(forwarded, 200);
    }
}
