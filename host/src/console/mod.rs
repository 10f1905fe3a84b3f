//! The web console: server-rendered pages at `/` over the same store, registry and scheduler
//! the API uses — findings, resources, rules and accounts — for people signed in with a token.
//! Handlers only parse, authorize and delegate; every page is an askama template under
//! `host/templates/console/`, escaped by default (resource documents are attacker-controlled
//! text). Sessions and CSRF tokens are `session.rs`'s. No scripts, no external assets: the
//! stylesheet is embedded in the binary.

mod accounts;
mod modules;
mod rules;
pub mod session;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;

use self::session::Viewer;
use crate::server::AppState;
use crate::server::api::{self, FindingParams};
use crate::server::error::ApiError;
use crate::store::{FindingRecord, FindingSummary, ResourceQuery};

/// Rows a list page shows at once.
const PAGE: usize = 50;

/// The console's routes; they authenticate with the session cookie, not a bearer token.
pub fn router(max_upload_bytes: usize) -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/findings") }))
        .route("/console.css", get(stylesheet))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/findings", get(findings))
        .route("/finding", get(finding))
        .route("/resources", get(resources))
        .route("/resources/{account}/{*id}", get(resource))
        .route("/rules", get(rules))
        .route("/rules/{id}", get(rules::rule).post(switch_rule))
        .route("/rules/{id}/settings", post(rules::save_settings))
        .route(
            "/modules",
            get(modules::modules)
                .post(modules::upload)
                .layer(DefaultBodyLimit::max(max_upload_bytes)),
        )
        .route("/modules/{name}/rollback", post(modules::rollback))
        .route("/modules/{name}/delete", post(modules::remove))
        .route("/suppressions", post(suppress))
        .route("/accounts", get(accounts::accounts))
        .route(
            "/accounts/new",
            get(accounts::connect).post(accounts::connect_step),
        )
        .route("/accounts/new/template", get(accounts::role_template))
        .route("/accounts/events-template", get(accounts::events_template))
        .route("/accounts/{name}", get(accounts::account))
        .route("/accounts/{name}/scan", post(accounts::scan_now))
        .layer(middleware::from_fn(hardening))
}

/// Headers every console answer carries: nothing but this origin's stylesheet and forms, no
/// framing, no caching of pages that show findings.
async fn hardening(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("console.css"),
    )
}

// ---------------------------------------------------------------------------------------------
// Signing in

/// What the page chrome needs of the viewer.
struct Nav {
    role: &'static str,
    csrf: String,
}

impl From<&Viewer> for Nav {
    fn from(viewer: &Viewer) -> Self {
        Nav {
            role: if viewer.is_admin() { "admin" } else { "reader" },
            csrf: viewer.csrf.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    nav: Option<Nav>,
    error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage {
    nav: Option<Nav>,
    title: String,
    message: String,
}

/// A template as an HTML answer.
fn page(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a console page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page failed to render",
            )
                .into_response()
        }
    }
}

fn error_page(viewer: Option<&Viewer>, status: StatusCode, message: impl Into<String>) -> Response {
    let title = status.canonical_reason().unwrap_or("Error").to_owned();
    page(
        status,
        &ErrorPage {
            nav: viewer.map(Nav::from),
            title,
            message: message.into(),
        },
    )
}

fn api_failure(viewer: &Viewer, e: ApiError) -> Response {
    error_page(Some(viewer), e.status, e.message)
}

/// Runs store or registry work off the async workers; a task that failed to run is an
/// `ApiError` like any other (`From<JoinError>`).
async fn off_workers<R: Send + 'static>(
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<R, ApiError> {
    Ok(tokio::task::spawn_blocking(work).await?)
}

/// Like [`off_workers`], for work whose own errors are answered as error pages too.
async fn blocking<T: Send + 'static, E: Into<ApiError> + Send + 'static>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError> {
    off_workers(work).await?.map_err(Into::into)
}

/// The signed-in viewer of a request, if any.
fn viewer(state: &AppState, headers: &HeaderMap) -> Option<Viewer> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(session::from_cookie_header)
        .and_then(|id| state.console.viewer(id))
}

/// Why a console request is not served.
enum Refusal {
    /// No session: sign in first.
    SignIn,
    /// A change without a session.
    Unauthorized,
    /// A change a session may not make.
    Forbidden(Box<Viewer>, &'static str),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::SignIn => Redirect::to("/login").into_response(),
            Refusal::Unauthorized => error_page(None, StatusCode::UNAUTHORIZED, "sign in first"),
            Refusal::Forbidden(viewer, why) => {
                error_page(Some(&viewer), StatusCode::FORBIDDEN, why)
            }
        }
    }
}

/// The viewer, or the answer that sends the browser to sign in.
fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Viewer, Refusal> {
    viewer(state, headers).ok_or(Refusal::SignIn)
}

/// The viewer of a form that changes something: an admin whose form carries the session's CSRF
/// token. Anything else is refused before the change is looked at.
fn admin_form(state: &AppState, headers: &HeaderMap, csrf: &str) -> Result<Viewer, Refusal> {
    let viewer = viewer(state, headers).ok_or(Refusal::Unauthorized)?;
    if !viewer.csrf_matches(csrf) {
        return Err(Refusal::Forbidden(
            Box::new(viewer),
            "the form is stale or came from another site: reload the page and try again",
        ));
    }
    if !viewer.is_admin() {
        return Err(Refusal::Forbidden(
            Box::new(viewer),
            "this change needs an admin token",
        ));
    }
    Ok(viewer)
}

async fn login_page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if viewer(&state, &headers).is_some() {
        return Redirect::to("/findings").into_response();
    }
    page(
        StatusCode::OK,
        &LoginPage {
            nav: None,
            error: None,
        },
    )
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(state): State<Arc<AppState>>, Form(form): Form<LoginForm>) -> Response {
    let Some(role) = state.tokens.role(form.token.trim()) else {
        tracing::info!("console sign-in refused");
        return page(
            StatusCode::UNAUTHORIZED,
            &LoginPage {
                nav: None,
                error: Some("That token is not valid here."),
            },
        );
    };
    let id = state.console.open(role);
    tracing::info!(role = ?role, "console sign-in");
    let mut response = Redirect::to("/findings").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&session::set_cookie(&id)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(viewer) = viewer(&state, &headers)
        && viewer.csrf_matches(&form.csrf)
        && let Some(id) = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(session::from_cookie_header)
    {
        state.console.close(id);
    }
    let mut response = Redirect::to("/login").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&session::clear_cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

// ---------------------------------------------------------------------------------------------
// Findings

/// The findings page's filters, echoed into its form. Empty fields mean "any".
#[derive(Debug, Default, Deserialize)]
struct FindingFilters {
    #[serde(default)]
    account: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    rule: String,
    #[serde(default)]
    resource_type: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    cursor: String,
}

fn non_empty(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

struct RuleRow {
    id: String,
    title: String,
    severity: String,
    count: u64,
}

#[derive(Template)]
#[template(path = "console/findings.html")]
struct FindingsPage {
    nav: Option<Nav>,
    chart: Vec<Bar>,
    chart_width: usize,
    chart_first: String,
    chart_last: String,
    chart_max: u64,
    summary: FindingSummary,
    by_rule: Vec<RuleRow>,
    filters: FindingFilters,
    total: u64,
    findings: Vec<FindingRecord>,
    next: Option<String>,
}

/// A query string of `pairs`, empty values left out.
fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        out.append_pair(k, v);
    }
    out.finish()
}

async fn findings(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(filters): Query<FindingFilters>,
) -> Response {
    let viewer = match signed_in(&state, &headers) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let params = |cursor: Option<String>, limit: usize| FindingParams {
        status: non_empty(&filters.status),
        severity: non_empty(&filters.severity),
        rule: non_empty(&filters.rule),
        account: non_empty(&filters.account),
        resource_type: non_empty(&filters.resource_type),
        region: non_empty(&filters.region),
        include_closed: false,
        limit: Some(limit),
        cursor,
    };
    let store = state.store.clone();
    let list = api::finding_query(store.as_ref(), params(non_empty(&filters.cursor), PAGE));
    // The summary covers the account filter only: the whole picture the list narrows.
    let overall = api::finding_query(
        store.as_ref(),
        FindingParams {
            status: None,
            severity: None,
            rule: None,
            resource_type: None,
            region: None,
            ..params(None, 1)
        },
    );
    let (query, overall) = match (list, overall) {
        (Ok(q), Ok(o)) => (q, o),
        (Err(e), _) | (_, Err(e)) => return api_failure(&viewer, e),
    };
    let answer = blocking(move || {
        Ok::<_, crate::store::StoreError>((
            store.summarize_findings(&overall)?,
            store.query_findings(&query)?,
        ))
    })
    .await;
    let (summary, found) = match answer {
        Ok(answer) => answer,
        Err(e) => return api_failure(&viewer, e),
    };
    let current = state.registry.current();
    let mut by_rule: Vec<RuleRow> = summary
        .failing_by_rule
        .iter()
        .map(|(id, count)| {
            let rule = current.rule(id);
            RuleRow {
                id: id.clone(),
                title: rule.as_ref().map(|r| r.title.clone()).unwrap_or_default(),
                severity: rule.map(|r| r.severity).unwrap_or_default(),
                count: *count,
            }
        })
        .collect();
    by_rule.sort_by(|a, b| b.count.cmp(&a.count).then(a.id.cmp(&b.id)));
    let next = found.next.map(|(rule, resource)| {
        query_string(&[
            ("account", &filters.account),
            ("status", &filters.status),
            ("severity", &filters.severity),
            ("rule", &filters.rule),
            ("resource_type", &filters.resource_type),
            ("region", &filters.region),
            ("cursor", &api::encode_cursor(&[&rule, &resource])),
        ])
    });
    let account_id =
        non_empty(&filters.account).and_then(|a| api::account_id(state.store.as_ref(), &a).ok());
    let days = match failing_by_day(&state, account_id.as_deref()) {
        Ok(days) => days,
        Err(e) => return api_failure(&viewer, e),
    };
    let chart_max = days.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let chart: Vec<Bar> = days
        .iter()
        .enumerate()
        .map(|(i, (day, count))| {
            let height = (count * 100).checked_div(chart_max).unwrap_or(0);
            Bar {
                x: i * 18,
                y: 110 - height,
                height,
                day: day.clone(),
                count: *count,
            }
        })
        .collect();
    page(
        StatusCode::OK,
        &FindingsPage {
            nav: Some(Nav::from(&viewer)),
            chart_width: chart.len() * 18,
            chart_first: days.first().map(|d| d.0.clone()).unwrap_or_default(),
            chart_last: days.last().map(|d| d.0.clone()).unwrap_or_default(),
            chart_max,
            chart,
            summary,
            by_rule,
            total: found.total,
            findings: found.findings,
            filters,
            next,
        },
    )
}

/// One day of the failures chart.
struct Bar {
    x: usize,
    y: u64,
    height: u64,
    day: String,
    count: u64,
}

/// Days the chart covers at most.
const CHART_DAYS: usize = 30;
/// Scan jobs read for the chart: daily scans of many accounts over a month, bounded.
const CHART_JOBS: usize = 2_000;

/// Failing findings after each day's scans, oldest day first: per account the last finished
/// scan of the day (carried forward over days without one), summed over accounts. Read from
/// the scan records, so its cost is bounded by the jobs read, not by the findings stored.
fn failing_by_day(
    state: &AppState,
    account_id: Option<&str>,
) -> Result<Vec<(String, u64)>, ApiError> {
    use std::collections::BTreeMap;
    let jobs = state.store.list_scan_jobs(None, CHART_JOBS)?;
    // Day → account → failing, the newest job of the day winning (jobs come newest first).
    let mut by_day: BTreeMap<time::Date, BTreeMap<String, u64>> = BTreeMap::new();
    for job in &jobs {
        let Some(record) = &job.record else { continue };
        if account_id.is_some_and(|a| a != record.account_id) {
            continue;
        }
        by_day
            .entry(record.finished_at.date())
            .or_default()
            .entry(record.account_id.clone())
            .or_insert_with(|| record.failing.values().sum());
    }
    let mut carried: BTreeMap<String, u64> = BTreeMap::new();
    let mut days: Vec<(String, u64)> = by_day
        .into_iter()
        .map(|(day, accounts)| {
            carried.extend(accounts);
            (day.to_string(), carried.values().sum())
        })
        .collect();
    let skip = days.len().saturating_sub(CHART_DAYS);
    days.drain(..skip);
    Ok(days)
}

struct HistoryRow {
    at: String,
    from: &'static str,
    to: &'static str,
    message: String,
}

#[derive(Template)]
#[template(path = "console/finding.html")]
struct FindingPage {
    nav: Option<Nav>,
    nav_admin: bool,
    csrf: String,
    rule_id: String,
    title: String,
    description: String,
    remediation: String,
    severity: String,
    status: &'static str,
    message: String,
    account_id: String,
    resource_id: String,
    resource_type: String,
    region: String,
    history: Vec<HistoryRow>,
    /// The resource's document, pretty-printed; empty when it is no longer stored.
    document: String,
}

#[derive(Deserialize)]
struct FindingKey {
    rule: String,
    resource: String,
}

/// One finding: the rule's description and remediation, the message, and its history.
async fn finding(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(key): Query<FindingKey>,
) -> Response {
    let viewer = match signed_in(&state, &headers) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let store = state.store.clone();
    let found = blocking(move || {
        let Some(finding) = store.get_finding(&key.rule, &key.resource)? else {
            return Ok(None);
        };
        let history = store.finding_history(&key.rule, &key.resource)?;
        let resource = store.find_resource(&finding.account_id, &finding.resource_id)?;
        Ok::<_, crate::store::StoreError>(Some((finding, history, resource)))
    })
    .await;
    let (finding, history, resource) = match found {
        Ok(Some(found)) => found,
        Ok(None) => {
            return error_page(Some(&viewer), StatusCode::NOT_FOUND, "no such finding");
        }
        Err(e) => return api_failure(&viewer, e),
    };
    let rule = state.registry.current().rule(&finding.rule_id);
    let history = history
        .iter()
        .rev()
        .map(|h| HistoryRow {
            at: h.at.format(&Rfc3339).unwrap_or_default(),
            from: h.from.map_or("new", |s| s.as_str()),
            to: h.to.as_str(),
            message: h.message.clone().unwrap_or_default(),
        })
        .collect();
    page(
        StatusCode::OK,
        &FindingPage {
            nav: Some(Nav::from(&viewer)),
            nav_admin: viewer.is_admin(),
            csrf: viewer.csrf.clone(),
            title: rule
                .as_ref()
                .map(|r| r.title.clone())
                .unwrap_or_else(|| finding.rule_id.clone()),
            description: rule
                .as_ref()
                .map(|r| r.description.clone())
                .unwrap_or_default(),
            remediation: rule.map(|r| r.remediation).unwrap_or_default(),
            status: finding.state().as_str(),
            message: finding.message.unwrap_or_default(),
            rule_id: finding.rule_id,
            severity: finding.severity,
            account_id: finding.account_id,
            resource_id: finding.resource_id,
            resource_type: finding.resource_type,
            region: finding.region,
            history,
            document: resource
                .map(|r| serde_json::to_string_pretty(&r.document).unwrap_or_default())
                .unwrap_or_default(),
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Resources

#[derive(Debug, Default, Deserialize)]
struct ResourceFilters {
    #[serde(default)]
    account: String,
    #[serde(default)]
    resource_type: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    cursor: String,
}

struct ResourceRow {
    account_id: String,
    resource_id: String,
    resource_type: String,
    region: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "console/resources.html")]
struct ResourcesPage {
    nav: Option<Nav>,
    filters: ResourceFilters,
    resources: Vec<ResourceRow>,
    next: Option<String>,
}

async fn resources(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(filters): Query<ResourceFilters>,
) -> Response {
    let viewer = match signed_in(&state, &headers) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let store = state.store.clone();
    let account_id = match non_empty(&filters.account)
        .map(|a| api::account_id(store.as_ref(), &a))
        .transpose()
    {
        Ok(a) => a,
        Err(e) => return api_failure(&viewer, e),
    };
    let after = match non_empty(&filters.cursor)
        .map(|c| api::decode_cursor::<3>(&c).map(|[a, b, c]| (a, b, c)))
        .transpose()
    {
        Ok(a) => a,
        Err(e) => return api_failure(&viewer, e),
    };
    let query = ResourceQuery {
        account_id,
        resource_type: non_empty(&filters.resource_type),
        region: non_empty(&filters.region),
        id_glob: non_empty(&filters.id),
        include_deleted: false,
        after,
        limit: PAGE,
    };
    let found = match blocking(move || store.query_resources(&query)).await {
        Ok(found) => found,
        Err(e) => return api_failure(&viewer, e),
    };
    let next = found.next.map(|(a, t, i)| {
        query_string(&[
            ("account", &filters.account),
            ("resource_type", &filters.resource_type),
            ("region", &filters.region),
            ("id", &filters.id),
            ("cursor", &api::encode_cursor(&[&a, &t, &i])),
        ])
    });
    let resources = found
        .resources
        .into_iter()
        .map(|r| ResourceRow {
            updated: r.updated_at.format(&Rfc3339).unwrap_or_default(),
            account_id: r.account_id,
            resource_id: r.resource_id,
            resource_type: r.resource_type,
            region: r.region,
        })
        .collect();
    page(
        StatusCode::OK,
        &ResourcesPage {
            nav: Some(Nav::from(&viewer)),
            filters,
            resources,
            next,
        },
    )
}

struct FindingRow {
    rule_id: String,
    title: String,
    severity: String,
    status: &'static str,
    message: String,
    remediation: String,
}

#[derive(Template)]
#[template(path = "console/resource.html")]
struct ResourcePage {
    nav: Option<Nav>,
    nav_admin: bool,
    csrf: String,
    account_id: String,
    resource_id: String,
    resource_type: String,
    region: String,
    deleted: bool,
    findings: Vec<FindingRow>,
    /// The document, pretty-printed; the template escapes it.
    document: String,
}

async fn resource(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((account, id)): Path<(String, String)>,
) -> Response {
    let viewer = match signed_in(&state, &headers) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let view = match api::resource_view(&state, &account, &id) {
        Ok(view) => view,
        Err(e) => return api_failure(&viewer, e),
    };
    let current = state.registry.current();
    let findings = view
        .findings
        .iter()
        .map(|f| {
            let rule = current.rule(&f.rule_id);
            FindingRow {
                rule_id: f.rule_id.clone(),
                title: rule.as_ref().map(|r| r.title.clone()).unwrap_or_default(),
                remediation: rule.map(|r| r.remediation).unwrap_or_default(),
                severity: f.severity.clone(),
                status: f.status.as_str(),
                message: f.message.clone().unwrap_or_default(),
            }
        })
        .collect();
    let r = view.resource;
    page(
        StatusCode::OK,
        &ResourcePage {
            nav: Some(Nav::from(&viewer)),
            nav_admin: viewer.is_admin(),
            csrf: viewer.csrf.clone(),
            document: serde_json::to_string_pretty(&r.document).unwrap_or_default(),
            deleted: r.deleted_at.is_some(),
            account_id: r.account_id,
            resource_id: r.resource_id,
            resource_type: r.resource_type,
            region: r.region,
            findings,
        },
    )
}

#[derive(Deserialize)]
struct SuppressForm {
    csrf: String,
    rule_id: String,
    resource_id: String,
    account: String,
    #[serde(default)]
    reason: String,
}

/// "Suppress for this resource": failures of the rule on exactly this resource id.
async fn suppress(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<SuppressForm>,
) -> Response {
    let viewer = match admin_form(&state, &headers, &form.csrf) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let registry = state.registry.clone();
    let pattern = glob_literal(&form.resource_id);
    let reason = non_empty(&form.reason);
    let rule_id = form.rule_id.clone();
    match blocking(move || registry.add_suppression(&rule_id, &pattern, reason)).await {
        Ok(s) => {
            tracing::info!(rule = %s.rule_id, suppression = %s.id, "suppression added from the console");
            Redirect::to(&format!(
                "/resources/{}/{}",
                urlencode(&form.account),
                urlencode(&form.resource_id)
            ))
            .into_response()
        }
        Err(e) => api_failure(&viewer, e),
    }
}

/// A suppression pattern matching exactly `id`: the glob's wildcards escaped.
fn glob_literal(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for c in id.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Percent-encodes a path segment's characters that are not unreserved (slashes kept).
fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace("%2F", "/")
        .replace('+', "%20")
}

// ---------------------------------------------------------------------------------------------
// Rules and accounts

#[derive(Template)]
#[template(path = "console/rules.html")]
struct RulesPage {
    nav: Option<Nav>,
    nav_admin: bool,
    csrf: String,
    rules: Vec<crate::registry::RuleInfo>,
}

async fn rules(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let viewer = match signed_in(&state, &headers) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    page(
        StatusCode::OK,
        &RulesPage {
            nav: Some(Nav::from(&viewer)),
            nav_admin: viewer.is_admin(),
            csrf: viewer.csrf.clone(),
            rules: state.registry.current().rules(),
        },
    )
}

#[derive(Deserialize)]
struct SwitchForm {
    csrf: String,
    enabled: bool,
}

async fn switch_rule(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<SwitchForm>,
) -> Response {
    let viewer = match admin_form(&state, &headers, &form.csrf) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let registry = state.registry.clone();
    match blocking(move || registry.set_rule_enabled(&id, form.enabled)).await {
        Ok(rule) => {
            state.refresh_gauges();
            tracing::info!(rule = %rule.id, enabled = rule.enabled, "rule switched from the console");
            Redirect::to("/rules").into_response()
        }
        Err(e) => api_failure(&viewer, e),
    }
}
