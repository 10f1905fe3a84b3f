//! `palisade serve`: the long-running service. This file wires the parts together — the
//! router with its authorization and metrics layers, `/healthz`, `/metrics`, the OpenAPI
//! document — and owns start-up and graceful shutdown. Handlers are in `api.rs`, scan jobs
//! in `scheduler.rs`, tokens and signatures in `auth.rs`, metrics in `metrics.rs`.

pub mod api;
pub mod auth;
pub mod error;
pub mod metrics;
pub mod scheduler;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use utoipa::OpenApi;

use self::auth::{Role, Tokens, TrustedKeys};
use self::error::ApiError;
use self::metrics::Metrics;
use self::scheduler::{ScheduleOptions, Scheduler, SchedulerError};
use crate::alerts::{AlertOptions, Alerter};
use crate::aws::{AwsOptions, Session};
use crate::events::realtime::{RealTime, RealTimeOptions};
use crate::findings::{EvalObserver, Outcome};
use crate::registry::{Registry, RegistryError};
use crate::scan::Scanner;
use crate::store::Store;

/// What the handlers share.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub registry: Arc<Registry>,
    pub scheduler: Scheduler,
    pub metrics: Arc<Metrics>,
    pub tokens: Tokens,
    pub trusted: TrustedKeys,
    /// Largest module accepted.
    pub max_module_bytes: usize,
    /// Serialises account creation and updates (check-then-write).
    pub account_changes: tokio::sync::Mutex<()>,
    /// The real-time path with its queue URL, when a queue is configured.
    pub events: Option<(String, Arc<RealTime>)>,
    pub alerter: Arc<Alerter>,
    /// Console sign-in sessions.
    pub console: crate::console::session::Sessions,
}

impl AppState {
    /// Module and rule gauges after a change.
    pub fn refresh_gauges(&self) {
        let current = self.registry.current();
        let evaluator = current.evaluator();
        self.metrics
            .set_modules_loaded(evaluator.packs().packs().len() as i64);
        self.metrics
            .set_rules_enabled(evaluator.enabled().len() as i64);
    }
}

/// Feeds evaluation outcomes into the metrics.
pub struct MetricsObserver(pub Arc<Metrics>);

impl EvalObserver for MetricsObserver {
    fn evaluated(&self, outcome: &Outcome, took: Duration) {
        self.0.observe_evaluation(took.as_secs_f64());
        self.0.record_evaluations(
            outcome
                .by_rule
                .iter()
                .map(|((rule, status), n)| (rule.as_str(), status.as_str(), *n)),
        );
    }
}

/// Everything the service needs to start.
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub tokens: Tokens,
    pub trusted: TrustedKeys,
    pub aws: AwsOptions,
    pub schedule: ScheduleOptions,
    pub max_module_bytes: usize,
    /// How long shutdown waits for running scans.
    pub shutdown_grace: Duration,
    /// Where alerts go (the log and the store always; webhooks when given).
    pub alerts: AlertOptions,
    /// The event queue to consume; no real-time path without one.
    pub events: Option<RealTimeOptions>,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("no API tokens are configured: give at least one admin or reader token")]
    NoTokens,
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Scheduler(#[from] SchedulerError),
    #[error(transparent)]
    Alerts(#[from] crate::alerts::AlertError),
    #[error("cannot start the real-time path: {0}")]
    Events(crate::store::StoreError),
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// A running service.
pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The alert delivery worker and the real-time path, which stop with the server.
    background: Vec<tokio::task::JoinHandle<()>>,
    grace: Duration,
}

impl Server {
    /// Binds the listener, starts the scheduler and serves. `metrics` must be the one the
    /// registry's evaluator reports to.
    pub async fn start(
        options: ServeOptions,
        store: Arc<dyn Store>,
        registry: Arc<Registry>,
        metrics: Arc<Metrics>,
    ) -> Result<Server, ServeError> {
        if options.tokens.is_empty() {
            return Err(ServeError::NoTokens);
        }
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(|source| ServeError::Listen {
                addr: options.listen,
                source,
            })?;
        let addr = listener.local_addr()?;
        let host = Session::host(options.aws).await;
        let (shutdown, stop) = tokio::sync::watch::channel(false);
        let mut alerts = options.alerts;
        if alerts.public_url.is_empty() {
            alerts.public_url = format!("http://{addr}");
        }
        let alerter = Arc::new(Alerter::new(store.clone(), alerts)?);
        metrics.attach_alerts(alerter.clone());
        let mut background = vec![tokio::spawn(alerter.clone().deliver(stop.clone()))];
        // One scanner for scheduled scans and event refreshes: refreshes keep account sessions
        // between events, and both raise alerts through it.
        let scanner = Arc::new(
            Scanner::new(
                host.clone(),
                store.clone(),
                registry.clone(),
                options.schedule.scan.clone(),
            )
            .with_alerts(alerter.clone()),
        );
        let events = match options.events {
            Some(events) => {
                let queue_url = events.queue_url.clone();
                let realtime = RealTime::new(store.clone(), scanner.clone(), host, events)
                    .map_err(ServeError::Events)?;
                metrics.attach_events(realtime.clone());
                background.push(tokio::spawn(realtime.clone().run(stop.clone())));
                Some((queue_url, realtime))
            }
            None => None,
        };
        let scheduler =
            Scheduler::start(store.clone(), scanner, options.schedule, metrics.clone())?;
        let state = Arc::new(AppState {
            store,
            registry,
            scheduler,
            metrics,
            tokens: options.tokens,
            trusted: options.trusted,
            max_module_bytes: options.max_module_bytes,
            account_changes: tokio::sync::Mutex::new(()),
            events,
            alerter,
            console: Default::default(),
        });
        state.refresh_gauges();
        let mut stop = stop;
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
        });
        tracing::info!(%addr, "serving");
        Ok(Server {
            addr,
            state,
            shutdown,
            task,
            background,
            grace: options.shutdown_grace,
        })
    }

    /// Stops taking requests and finishes those in flight, lets running scans and
    /// re-evaluations finish (up to the grace period), then flushes the store.
    pub async fn stop(self) -> Result<(), ServeError> {
        self.shutdown.send_replace(true);
        let served = self.task.await.map_err(std::io::Error::other)?;
        let still_running = self.state.scheduler.shutdown(self.grace).await;
        if still_running > 0 {
            tracing::warn!(
                scans = still_running,
                "scans still running at shutdown are redone on the next start"
            );
        }
        let registry = self.state.registry.clone();
        let waited = tokio::time::timeout(
            self.grace,
            tokio::task::spawn_blocking(move || registry.wait_idle()),
        )
        .await;
        if waited.is_err() {
            tracing::warn!("re-evaluation still running at shutdown; the next scan completes it");
        }
        // The event consumer, its refreshes and alert delivery; what they leave is in the store.
        let background = futures::future::join_all(self.background);
        if tokio::time::timeout(self.grace, background).await.is_err() {
            tracing::warn!(
                "real-time work still running at shutdown; it resumes on the next start"
            );
        }
        self.state
            .store
            .flush()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        tracing::info!("stopped");
        served.map_err(ServeError::from)
    }

    /// Serves until `signal` resolves, then stops gracefully.
    pub async fn run_until(
        self,
        signal: impl std::future::Future<Output = ()>,
    ) -> Result<(), ServeError> {
        signal.await;
        tracing::info!("shutting down");
        self.stop().await
    }
}

/// The whole HTTP surface.
pub fn router(state: Arc<AppState>) -> Router {
    use api::*;
    let modules_body_limit = state.max_module_bytes + (1 << 20);
    let v1 = Router::new()
        .route("/accounts", get(list_accounts).post(create_account))
        .route(
            "/accounts/{name}",
            get(get_account_route)
                .patch(update_account)
                .delete(delete_account),
        )
        .route("/scans", get(list_scans).post(trigger_scan))
        .route("/scans/{id}", get(get_scan))
        .route("/resources", get(list_resources))
        .route("/resources/{account}/{*id}", get(get_resource))
        .route("/findings", get(list_findings))
        .route("/findings/summary", get(findings_summary))
        .route("/findings/history", get(finding_history))
        .route("/findings/export", get(export_findings))
        .route("/reports/{framework}", get(compliance_report))
        .route("/rules", get(list_rules))
        .route("/rules/{id}", get(get_rule).patch(update_rule))
        .route(
            "/modules",
            get(list_modules)
                .post(upload_module)
                .layer(DefaultBodyLimit::max(modules_body_limit)),
        )
        .route("/modules/{name}", get(get_module).delete(delete_module))
        .route("/modules/{name}/rollback", post(rollback_module))
        .route(
            "/suppressions",
            get(list_suppressions).post(create_suppression),
        )
        .route(
            "/suppressions/{id}",
            axum::routing::delete(delete_suppression),
        )
        .route("/evaluate", post(evaluate))
        .route("/events", get(events_status))
        .route("/events/rejected", get(rejected_events))
        .route("/alerts", get(list_alerts))
        .route("/openapi.json", get(openapi_json))
        // JSON bodies are small: a megabyte bounds what one request can make us parse.
        .layer(DefaultBodyLimit::max(1 << 20));
    Router::new()
        .nest("/api/v1", v1)
        .route("/metrics", get(metrics_text))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize))
        // The console signs in with a session cookie of its own, not a bearer token.
        .merge(crate::console::router(modules_body_limit))
        .route("/healthz", get(healthz))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// The role a request needs: reading needs a reader, changing needs an admin. `evaluate` is
/// a POST that changes nothing.
fn required_role(method: &Method, path: &str) -> Role {
    if matches!(*method, Method::GET | Method::HEAD) || path == "/api/v1/evaluate" {
        Role::Reader
    } else {
        Role::Admin
    }
}

async fn authorize(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let needed = required_role(request.method(), request.uri().path());
    let role = auth::bearer(request.headers()).and_then(|t| state.tokens.role(t));
    match role {
        None => ApiError::unauthorized().into_response(),
        Some(role) if role < needed => ApiError::forbidden().into_response(),
        Some(_) => next.run(request).await,
    }
}

/// Request metrics by route pattern (never by raw path, which would carry ids).
async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    state.metrics.observe_request(
        &route,
        method.as_str(),
        status,
        started.elapsed().as_secs_f64(),
    );
    tracing::debug!(%method, route, status, "request");
    response
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// Liveness and what is serving.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
    /// The ruleset generation serving.
    pub generation: u64,
    pub modules: usize,
    pub rules_enabled: usize,
    /// Re-evaluations after rule changes still queued or running.
    pub pending_reevaluations: u64,
}

#[utoipa::path(get, path = "/healthz", tag = "service",
    responses((status = 200, body = Health)))]
async fn healthz(State(state): State<Arc<AppState>>) -> axum::Json<Health> {
    let current = state.registry.current();
    axum::Json(Health {
        status: "ok",
        generation: current.generation,
        modules: current.evaluator().packs().packs().len(),
        rules_enabled: current.evaluator().enabled().len(),
        pending_reevaluations: state.registry.pending_reevaluations(),
    })
}

#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")),
    security(("bearer" = [])))]
async fn metrics_text(State(state): State<Arc<AppState>>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        state.metrics.render(),
    )
        .into_response()
}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "service",
    responses((status = 200, description = "This document")), security(("bearer" = [])))]
async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "Palisade API", description = "Cloud security posture: accounts, scans, resources, findings, rules and policy modules. Every route but /healthz needs a bearer token; changes need an admin token."),
    paths(
        api::list_accounts, api::get_account_route, api::create_account, api::update_account,
        api::delete_account, api::trigger_scan, api::list_scans, api::get_scan,
        api::list_resources, api::get_resource, api::list_findings, api::findings_summary,
        api::finding_history, api::list_rules, api::get_rule, api::update_rule,
        api::upload_module, api::list_modules, api::get_module, api::delete_module,
        api::rollback_module, api::list_suppressions, api::create_suppression,
        api::delete_suppression, api::evaluate, api::events_status, api::rejected_events,
        api::list_alerts, api::compliance_report, api::export_findings, healthz, metrics_text,
        openapi_json,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "accounts"), (name = "scans"), (name = "resources"), (name = "findings"),
        (name = "rules"), (name = "modules"), (name = "suppressions"), (name = "events"),
        (name = "alerts"), (name = "service"),
    )
)]
pub struct ApiDoc;

/// What the server's unit tests share: a registry with no packs and an AWS identity that
/// reaches nothing.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub fn empty_registry(store: Arc<dyn Store>) -> Arc<Registry> {
        let engine = crate::engine::Engine::new(crate::engine::Limits::default()).expect("engine");
        Arc::new(Registry::open(engine, store, Default::default()).expect("registry"))
    }

    pub async fn offline_host() -> Session {
        Session::host(AwsOptions {
            endpoint_url: Some("http://127.0.0.1:1".into()),
            credentials: Some(aws_credential_types::Credentials::new(
                "testing", "testing", None, None, "test",
            )),
            ..AwsOptions::default()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request as HttpRequest;
    use tower::ServiceExt as _;

    const ADMIN: &str = "admin-token-0123456789";
    const READER: &str = "reader-token-0123456789";

    /// The router over an empty store with no packs, scanning nowhere.
    async fn app() -> Router {
        let store: Arc<dyn Store> = Arc::new(crate::store::SledStore::temporary().expect("store"));
        let registry = testing::empty_registry(store.clone());
        let metrics = Arc::new(Metrics::new());
        let scanner = Scanner::new(
            testing::offline_host().await,
            store.clone(),
            registry.clone(),
            Default::default(),
        );
        let scheduler = Scheduler::start(
            store.clone(),
            Arc::new(scanner),
            ScheduleOptions::default(),
            metrics.clone(),
        )
        .expect("scheduler");
        let alerter =
            Arc::new(Alerter::new(store.clone(), AlertOptions::default()).expect("alerter"));
        router(Arc::new(AppState {
            store,
            registry,
            scheduler,
            metrics,
            tokens: Tokens::new(&[ADMIN.into()], &[READER.into()]).expect("tokens"),
            trusted: TrustedKeys::default(),
            max_module_bytes: 1 << 20,
            account_changes: tokio::sync::Mutex::new(()),
            events: None,
            alerter,
            console: Default::default(),
        }))
    }

    async fn call(
        app: &Router,
        method: &str,
        uri: &str,
        token: &str,
        body: &str,
    ) -> (StatusCode, serde_json::Value) {
        let mut request = HttpRequest::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json");
        if !token.is_empty() {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::from(body.to_owned())).expect("request"))
            .await
            .expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    #[test]
    fn reading_needs_a_reader_and_changing_an_admin() {
        assert_eq!(
            required_role(&Method::GET, "/api/v1/accounts"),
            Role::Reader
        );
        assert_eq!(required_role(&Method::HEAD, "/metrics"), Role::Reader);
        assert_eq!(
            required_role(&Method::POST, "/api/v1/evaluate"),
            Role::Reader
        );
        for method in [Method::POST, Method::PATCH, Method::DELETE, Method::PUT] {
            assert_eq!(required_role(&method, "/api/v1/accounts"), Role::Admin);
        }
        assert_eq!(
            required_role(&Method::POST, "/api/v1/evaluate/x"),
            Role::Admin
        );
    }

    #[tokio::test]
    async fn tokens_decide_and_errors_are_json() {
        let app = app().await;
        let (status, body) = call(&app, "GET", "/healthz", "", "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "ok");

        let (status, body) = call(&app, "GET", "/api/v1/rules", "", "").await;
        assert_eq!(
            (status, &body["error"]),
            (StatusCode::UNAUTHORIZED, &"unauthorized".into())
        );
        let (status, _) = call(&app, "GET", "/api/v1/rules", "not-a-token-at-all", "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, body) = call(&app, "GET", "/api/v1/rules", READER, "").await;
        assert_eq!((status, body), (StatusCode::OK, serde_json::json!([])));

        let (status, body) = call(&app, "POST", "/api/v1/accounts", READER, "{}").await;
        assert_eq!(
            (status, &body["error"]),
            (StatusCode::FORBIDDEN, &"forbidden".into())
        );
        let (status, body) = call(&app, "POST", "/api/v1/accounts", ADMIN, "{not json").await;
        assert_eq!(
            (status, &body["error"]),
            (StatusCode::BAD_REQUEST, &"malformed_json".into())
        );
        let (status, body) = call(&app, "GET", "/api/v1/findings?limit=0", READER, "").await;
        assert_eq!(
            (status, &body["error"]),
            (StatusCode::BAD_REQUEST, &"bad_request".into())
        );
        let (status, body) = call(&app, "GET", "/api/v1/findings?colour=red", READER, "").await;
        assert_eq!(
            (status, &body["error"]),
            (StatusCode::BAD_REQUEST, &"bad_query".into())
        );
        let (status, body) = call(&app, "GET", "/api/v1/scans/nope", READER, "").await;
        assert_eq!(
            (status, &body["error"]),
            (StatusCode::NOT_FOUND, &"not_found".into())
        );
        let (status, body) = call(&app, "GET", "/no/such/route", READER, "").await;
        assert_eq!(
            (status, &body["error"]),
            (StatusCode::NOT_FOUND, &"not_found".into())
        );
    }

    #[test]
    fn the_openapi_document_covers_every_route() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("json");
        let paths = doc["paths"].as_object().expect("paths");
        for path in [
            "/api/v1/accounts",
            "/api/v1/accounts/{name}",
            "/api/v1/modules",
            "/api/v1/modules/{name}/rollback",
            "/api/v1/findings/summary",
            "/healthz",
            "/metrics",
        ] {
            assert!(paths.contains_key(path), "{path} is missing");
        }
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
        assert!(doc["components"]["schemas"]["FindingRecord"].is_object());
    }
}
