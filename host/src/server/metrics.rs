//! The Prometheus metrics Palisade exports, all named `palisade_*`, and their text rendering
//! for `GET /metrics`.
//!
//! Only the metric definitions and the methods that record them live here; callers decide when
//! to record. Labels must stay low-cardinality: rule ids, outcomes, account ids, AWS services,
//! resource types and route *templates* (`/v1/findings/{id}`, never the request path). No
//! resource ids, finding messages or tokens go into a label.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::alerts::Alerter;
use crate::events::realtime::RealTime;

/// The `Content-Type` to serve [`Metrics::render`] with: the Prometheus text format 0.0.4,
/// which every Prometheus-compatible scraper reads.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EvaluationLabels {
    rule: String,
    /// pass | fail | error | suppressed
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScanLabels {
    account: String,
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiErrorLabels {
    service: String,
    kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabels {
    r#type: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UploadLabels {
    /// accepted | rejected
    result: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// One evaluation pass over a batch: 1 ms doubling to about 65 s (17 buckets).
fn evaluation_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// One account scan: 1 s doubling to about 68 min (13 buckets).
fn scan_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 13))
}

/// One HTTP request: 1 ms doubling to about 16 s (15 buckets).
fn request_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// Palisade's metrics. Create one per process, share it behind an `Arc`; every method takes
/// `&self`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    evaluations: Family<EvaluationLabels, Counter>,
    evaluation_duration: Histogram,
    scan_duration: HistogramFamily<ScanLabels>,
    scan_api_errors: Family<ApiErrorLabels, Counter>,
    modules_loaded: Gauge,
    rules_enabled: Gauge,
    resources: Family<ResourceLabels, Gauge>,
    /// Resource types ever set, so a type missing from the next count is zeroed.
    resource_types: Mutex<BTreeSet<String>>,
    http_requests: Family<RequestLabels, Counter>,
    http_request_duration: HistogramFamily<RouteLabels>,
    module_uploads: Family<UploadLabels, Counter>,
    /// Parts that keep their own counters, read at each scrape.
    sources: Arc<Sources>,
}

/// Counters kept by the real-time path and the alerter, attached once they exist.
#[derive(Default)]
struct Sources {
    events: OnceLock<Arc<RealTime>>,
    alerts: OnceLock<Arc<Alerter>>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("events", &self.events.get().is_some())
            .field("alerts", &self.alerts.get().is_some())
            .finish()
    }
}

/// Encodes [`Sources`]' counters as they are at the scrape.
#[derive(Debug)]
struct SourcesCollector(Arc<Sources>);

impl Collector for SourcesCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut counter = |name: &str, help: &str, value: u64| {
            let metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            ConstCounter::new(value).encode(metric)
        };
        if let Some(alerter) = self.0.alerts.get() {
            let c = alerter.counts();
            counter(
                "alerts_failing",
                "Alerts raised for findings that started failing",
                c.failing.load(Ordering::Relaxed),
            )?;
            counter(
                "alerts_resolved",
                "Alerts raised for findings that stopped failing",
                c.resolved.load(Ordering::Relaxed),
            )?;
            counter(
                "alert_deliveries",
                "Alert posts a webhook accepted",
                c.delivered.load(Ordering::Relaxed),
            )?;
            counter(
                "alert_deliveries_failed",
                "Alert deliveries given up after every attempt failed",
                c.failed.load(Ordering::Relaxed),
            )?;
        }
        let Some(events) = self.0.events.get() else {
            return Ok(());
        };
        let s = events.stats();
        counter(
            "event_messages",
            "Event queue messages received",
            s.messages,
        )?;
        counter(
            "event_messages_rejected",
            "Event queue messages set aside as unreadable",
            s.rejected,
        )?;
        counter("event_log_files", "CloudTrail log files read", s.log_files)?;
        counter("event_records", "CloudTrail records read", s.records)?;
        counter(
            "event_records_duplicate",
            "CloudTrail records skipped as seen before",
            s.duplicates,
        )?;
        counter(
            "event_targets",
            "Resources queued for a rescan by events",
            s.targets,
        )?;
        counter("event_refreshes", "Targeted rescans finished", s.refreshes)?;
        counter(
            "event_refreshes_failed",
            "Targeted rescans that failed",
            s.refresh_failures,
        )?;
        let family = encoder.encode_descriptor(
            "event_records_ignored",
            "CloudTrail records that asked for no rescan, by reason",
            None,
            MetricType::Counter,
        )?;
        let mut family = family;
        for (reason, n) in &s.ignored {
            let labels = [("reason", reason.as_str())];
            ConstCounter::new(*n).encode(family.encode_family(&labels)?)?;
        }
        let pending = encoder.encode_descriptor(
            "event_targets_pending",
            "Resources waiting for their rescan",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(i64::try_from(s.pending).unwrap_or(i64::MAX)).encode(pending)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("palisade");

        let evaluations = Family::<EvaluationLabels, Counter>::default();
        registry.register(
            "evaluations",
            "Rule evaluations by rule and outcome (pass, fail, error, suppressed)",
            evaluations.clone(),
        );
        let evaluation_duration = evaluation_histogram();
        registry.register_with_unit(
            "evaluation_duration",
            "Duration of one evaluation pass over a batch of resources",
            Unit::Seconds,
            evaluation_duration.clone(),
        );
        let scan_duration: HistogramFamily<ScanLabels> =
            Family::new_with_constructor(scan_histogram);
        registry.register_with_unit(
            "scan_duration",
            "Duration of one account scan, by account and outcome",
            Unit::Seconds,
            scan_duration.clone(),
        );
        let scan_api_errors = Family::<ApiErrorLabels, Counter>::default();
        registry.register(
            "scan_api_errors",
            "Cloud API errors during scans, by service and kind",
            scan_api_errors.clone(),
        );
        let modules_loaded = Gauge::default();
        registry.register(
            "modules_loaded",
            "Policy modules currently loaded",
            modules_loaded.clone(),
        );
        let rules_enabled = Gauge::default();
        registry.register(
            "rules_enabled",
            "Rules currently enabled",
            rules_enabled.clone(),
        );
        let resources = Family::<ResourceLabels, Gauge>::default();
        registry.register(
            "resources",
            "Resources in the inventory, by type",
            resources.clone(),
        );
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route template, method and status",
            http_requests.clone(),
        );
        let http_request_duration: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(request_histogram);
        registry.register_with_unit(
            "http_request_duration",
            "HTTP request duration by route template",
            Unit::Seconds,
            http_request_duration.clone(),
        );
        let module_uploads = Family::<UploadLabels, Counter>::default();
        registry.register(
            "module_uploads",
            "Policy module uploads by result (accepted, rejected)",
            module_uploads.clone(),
        );

        // Both upload series exist from the start, so `rate()` and alerts see a 0 → 1 change.
        for result in ["accepted", "rejected"] {
            let _ = module_uploads.get_or_create(&UploadLabels {
                result: result.to_owned(),
            });
        }

        let sources = Arc::new(Sources::default());
        registry.register_collector(Box::new(SourcesCollector(sources.clone())));

        Metrics {
            sources,
            registry,
            evaluations,
            evaluation_duration,
            scan_duration,
            scan_api_errors,
            modules_loaded,
            rules_enabled,
            resources,
            resource_types: Mutex::new(BTreeSet::new()),
            http_requests,
            http_request_duration,
            module_uploads,
        }
    }

    /// Add evaluation counts: `(rule id, outcome, count)` with outcome one of `pass`, `fail`,
    /// `error`, `suppressed`. Zero counts are skipped (they would only create empty series).
    pub fn record_evaluations<'a>(
        &self,
        counts: impl IntoIterator<Item = (&'a str, &'a str, u64)>,
    ) {
        for (rule, outcome, n) in counts {
            if n == 0 {
                continue;
            }
            self.evaluations
                .get_or_create(&EvaluationLabels {
                    rule: rule.to_owned(),
                    outcome: outcome.to_owned(),
                })
                .inc_by(n);
        }
    }

    /// One evaluation pass over a batch of resources took `seconds`.
    pub fn observe_evaluation(&self, seconds: f64) {
        self.evaluation_duration.observe(seconds);
    }

    /// One scan of `account` ended with `outcome` (e.g. `ok`, `partial`, `failed`) after
    /// `seconds`.
    pub fn observe_scan(&self, account: &str, outcome: &str, seconds: f64) {
        self.scan_duration
            .get_or_create(&ScanLabels {
                account: account.to_owned(),
                outcome: outcome.to_owned(),
            })
            .observe(seconds);
    }

    /// `n` cloud API errors of `kind` (e.g. `access_denied`, `throttled`) from `service`.
    pub fn record_api_errors(&self, service: &str, kind: &str, n: u64) {
        if n == 0 {
            return;
        }
        self.scan_api_errors
            .get_or_create(&ApiErrorLabels {
                service: service.to_owned(),
                kind: kind.to_owned(),
            })
            .inc_by(n);
    }

    pub fn set_modules_loaded(&self, n: i64) {
        self.modules_loaded.set(n);
    }

    pub fn set_rules_enabled(&self, n: i64) {
        self.rules_enabled.set(n);
    }

    /// Set the inventory counts by resource type. Types set before but missing from `counts`
    /// are set to 0 (not removed, so a type that disappears shows as a drop to zero).
    pub fn set_resources(&self, counts: &BTreeMap<String, u64>) {
        let mut known = self
            .resource_types
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for stale in known.iter().filter(|t| !counts.contains_key(*t)) {
            self.resources
                .get_or_create(&ResourceLabels {
                    r#type: stale.clone(),
                })
                .set(0);
        }
        for (resource_type, &n) in counts {
            self.resources
                .get_or_create(&ResourceLabels {
                    r#type: resource_type.clone(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
            known.insert(resource_type.clone());
        }
    }

    /// One HTTP request. `route` must be the matched route template (axum's `MatchedPath`),
    /// or a fixed placeholder such as `unmatched`, never the raw path.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.http_requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .inc();
        self.http_request_duration
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    /// One module upload, accepted or rejected (bad module, bad or missing signature).
    pub fn record_upload(&self, accepted: bool) {
        let result = if accepted { "accepted" } else { "rejected" };
        self.module_uploads
            .get_or_create(&UploadLabels {
                result: result.to_owned(),
            })
            .inc();
    }

    /// Exports the real-time path's counters from now on (once; later calls are ignored).
    pub fn attach_events(&self, events: Arc<RealTime>) {
        let _ = self.sources.events.set(events);
    }

    /// Exports the alerter's counters from now on (once; later calls are ignored).
    pub fn attach_alerts(&self, alerts: Arc<Alerter>) {
        let _ = self.sources.alerts.set(alerts);
    }

    /// Everything in the Prometheus text format; serve it with [`CONTENT_TYPE`].
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; an encoding error would be a bug in a label value
        // type, and the partial text is still the best answer.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn metrics_are_send_and_sync() {
        assert_send_sync::<Metrics>();
        assert_send_sync::<std::sync::Arc<Metrics>>();
    }

    #[test]
    fn render_lists_every_metric_with_its_help_and_type() {
        let m = Metrics::new();
        // A labelled family is only rendered once it has a series.
        m.record_evaluations([("r", "pass", 1)]);
        m.observe_scan("123456789012", "ok", 1.0);
        m.record_api_errors("s3", "access_denied", 1);
        m.set_resources(&BTreeMap::from([("AWS::S3::Bucket".to_owned(), 1)]));
        m.observe_request("/healthz", "GET", 200, 0.001);
        let text = m.render();
        for (name, kind) in [
            ("palisade_evaluations_total", "counter"),
            ("palisade_evaluation_duration_seconds", "histogram"),
            ("palisade_scan_duration_seconds", "histogram"),
            ("palisade_scan_api_errors_total", "counter"),
            ("palisade_modules_loaded", "gauge"),
            ("palisade_rules_enabled", "gauge"),
            ("palisade_resources", "gauge"),
            ("palisade_http_requests_total", "counter"),
            ("palisade_http_request_duration_seconds", "histogram"),
            ("palisade_module_uploads_total", "counter"),
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} {kind}\n")),
                "{name} missing:\n{text}"
            );
        }
        assert!(CONTENT_TYPE.starts_with("text/plain; version=0.0.4"));
    }

    #[test]
    fn fresh_metrics_render_unlabelled_values_and_zero_upload_counts() {
        let text = Metrics::new().render();
        for line in [
            "palisade_modules_loaded 0",
            "palisade_rules_enabled 0",
            "palisade_evaluation_duration_seconds_count 0",
            r#"palisade_module_uploads_total{result="accepted"} 0"#,
            r#"palisade_module_uploads_total{result="rejected"} 0"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in:\n{text}"
            );
        }
    }

    #[test]
    fn recorded_values_render_with_their_labels() {
        let m = Metrics::new();
        m.record_evaluations([
            ("aws-s3-public", "fail", 3),
            ("aws-s3-public", "pass", 7),
            ("aws-iam-root-mfa", "error", 0),
        ]);
        m.record_evaluations([("aws-s3-public", "fail", 2)]);
        m.record_api_errors("ec2", "throttled", 4);
        m.set_modules_loaded(3);
        m.set_rules_enabled(42);
        m.observe_request("/v1/findings/{id}", "GET", 200, 0.004);
        m.observe_request("/v1/findings/{id}", "GET", 200, 0.002);
        m.observe_request("/v1/modules", "POST", 403, 0.001);
        m.record_upload(true);
        m.record_upload(false);
        m.record_upload(false);
        let text = m.render();
        for line in [
            r#"palisade_evaluations_total{rule="aws-s3-public",outcome="fail"} 5"#,
            r#"palisade_evaluations_total{rule="aws-s3-public",outcome="pass"} 7"#,
            r#"palisade_scan_api_errors_total{service="ec2",kind="throttled"} 4"#,
            "palisade_modules_loaded 3",
            "palisade_rules_enabled 42",
            r#"palisade_http_requests_total{route="/v1/findings/{id}",method="GET",status="200"} 2"#,
            r#"palisade_http_requests_total{route="/v1/modules",method="POST",status="403"} 1"#,
            r#"palisade_http_request_duration_seconds_count{route="/v1/findings/{id}"} 2"#,
            r#"palisade_module_uploads_total{result="accepted"} 1"#,
            r#"palisade_module_uploads_total{result="rejected"} 2"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in:\n{text}"
            );
        }
        // Zero counts create no series.
        assert!(!text.contains("aws-iam-root-mfa"), "{text}");
    }

    #[test]
    fn resources_missing_from_a_new_count_are_zeroed() {
        let m = Metrics::new();
        m.set_resources(&BTreeMap::from([
            ("AWS::S3::Bucket".to_owned(), 12),
            ("AWS::IAM::User".to_owned(), 4),
        ]));
        let text = m.render();
        assert!(
            text.contains(r#"palisade_resources{type="AWS::S3::Bucket"} 12"#),
            "{text}"
        );
        assert!(
            text.contains(r#"palisade_resources{type="AWS::IAM::User"} 4"#),
            "{text}"
        );

        m.set_resources(&BTreeMap::from([("AWS::S3::Bucket".to_owned(), 13)]));
        let text = m.render();
        assert!(
            text.contains(r#"palisade_resources{type="AWS::S3::Bucket"} 13"#),
            "{text}"
        );
        assert!(
            text.contains(r#"palisade_resources{type="AWS::IAM::User"} 0"#),
            "{text}"
        );

        // And back again.
        m.set_resources(&BTreeMap::from([("AWS::IAM::User".to_owned(), 1)]));
        let text = m.render();
        assert!(
            text.contains(r#"palisade_resources{type="AWS::S3::Bucket"} 0"#),
            "{text}"
        );
        assert!(
            text.contains(r#"palisade_resources{type="AWS::IAM::User"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn histograms_count_observations_into_buckets() {
        let m = Metrics::new();
        m.observe_evaluation(0.0005);
        m.observe_evaluation(0.003);
        m.observe_evaluation(120.0);
        m.observe_scan("123456789012", "ok", 30.0);
        m.observe_scan("123456789012", "ok", 90.0);
        m.observe_scan("210987654321", "failed", 2.0);
        let text = m.render();
        for line in [
            "palisade_evaluation_duration_seconds_count 3",
            r#"palisade_evaluation_duration_seconds_bucket{le="0.001"} 1"#,
            r#"palisade_evaluation_duration_seconds_bucket{le="0.004"} 2"#,
            r#"palisade_evaluation_duration_seconds_bucket{le="+Inf"} 3"#,
            r#"palisade_scan_duration_seconds_count{account="123456789012",outcome="ok"} 2"#,
            r#"palisade_scan_duration_seconds_sum{account="123456789012",outcome="ok"} 120.0"#,
            r#"palisade_scan_duration_seconds_bucket{account="123456789012",outcome="ok",le="32"} 1"#,
            r#"palisade_scan_duration_seconds_count{account="210987654321",outcome="failed"} 1"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in:\n{text}"
            );
        }
    }
}
