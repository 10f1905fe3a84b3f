//! The REST API under `/api/v1`: handlers that parse, check and delegate to the registry, the
//! scheduler and the store, each documented for the generated OpenAPI document. Who may call
//! what is decided once, in `authorize` (server/mod.rs), not here; no business logic here.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::AppState;
use super::error::{ApiError, ApiJson, ApiQuery, ApiResult, ErrorBody};
use super::scheduler::SchedulerError;
use crate::account::{Account, ResourceExclusion};
use crate::alerts::AlertRecord;
use crate::compliance::render::{ReportFormat, render};
use crate::compliance::{Framework, Report, export};
use crate::events::realtime::{EventStats, RejectedMessage, rejected_messages};
use crate::registry::{Activation, ModuleInfo, RegistryError, RuleInfo};
use crate::store::{
    FindingChange, FindingPage, FindingQuery, FindingRecord, FindingStatus, FindingSummary,
    ResourceQuery, ResourceRecord, ScanJob, ScanTrigger, Store, Suppression,
};

/// Items per page unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 100;
/// The most items one page returns: bounds the work of one request.
const MAX_LIMIT: usize = 1000;

/// One page of a listing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Matches across all pages, where known cheaply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl From<SchedulerError> for ApiError {
    fn from(e: SchedulerError) -> Self {
        match e {
            SchedulerError::UnknownAccount(_) => ApiError::not_found(e.to_string()),
            SchedulerError::Stopping => ApiError::unavailable(e.to_string()),
            SchedulerError::Store(e) => e.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Accounts

/// An account with its scan schedule.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    #[serde(flatten)]
    pub account: Account,
    /// The latest scan job, if any.
    pub last_scan: Option<ScanJob>,
    /// When the next scheduled scan is due.
    #[serde(with = "time::serde::rfc3339")]
    pub next_scan_at: OffsetDateTime,
}

/// An account to onboard.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    pub name: String,
    pub account_id: String,
    pub role_arn: String,
    pub external_id: Option<String>,
    #[serde(default)]
    pub excluded_regions: Vec<String>,
    #[serde(default)]
    pub excluded_resource_types: Vec<String>,
    /// `REGION=GLOB` each; REGION may be `*` or `global`.
    #[serde(default)]
    pub excluded_resources: Vec<String>,
    pub scan_interval_hours: Option<u32>,
    /// Run the baseline scan now (default true).
    pub scan: Option<bool>,
}

/// Changes to an account's scope and schedule; absent fields stay as they are.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountUpdate {
    pub excluded_regions: Option<Vec<String>>,
    pub excluded_resource_types: Option<Vec<String>>,
    pub excluded_resources: Option<Vec<String>>,
    pub scan_interval_hours: Option<u32>,
}

/// A newly added account and its baseline scan.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountCreated {
    pub account: Account,
    pub scan: Option<ScanJob>,
}

fn account_view(state: &AppState, account: Account) -> ApiResult<AccountView> {
    let last_scan = state.scheduler.jobs(Some(&account.name), 1)?.pop();
    let next_scan_at = state.scheduler.next_due(&account)?;
    Ok(AccountView {
        account,
        last_scan,
        next_scan_at,
    })
}

fn get_account(store: &dyn Store, name: &str) -> ApiResult<Account> {
    store
        .get_account(name)?
        .ok_or_else(|| ApiError::not_found(format!("no account named {name:?}")))
}

fn exclusions(raw: &[String]) -> ApiResult<Vec<ResourceExclusion>> {
    raw.iter()
        .map(|s| s.parse::<ResourceExclusion>().map_err(ApiError::from))
        .collect()
}

#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts",
    responses((status = 200, body = [AccountView])), security(("bearer" = [])))]
pub async fn list_accounts(
    State(state): State<Arc<AppState>>,
) -> ApiResult<Json<Vec<AccountView>>> {
    let accounts = state.store.list_accounts()?;
    let views = accounts
        .into_iter()
        .map(|a| account_view(&state, a))
        .collect::<ApiResult<_>>()?;
    Ok(Json(views))
}

#[utoipa::path(get, path = "/api/v1/accounts/{name}", tag = "accounts",
    params(("name" = String, Path, description = "Account name")),
    responses((status = 200, body = AccountView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_account_route(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> ApiResult<Json<AccountView>> {
    let account = get_account(state.store.as_ref(), &name)?;
    Ok(Json(account_view(&state, account)?))
}

#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = NewAccount,
    responses((status = 201, body = AccountCreated), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_account(
    State(state): State<Arc<AppState>>,
    ApiJson(new): ApiJson<NewAccount>,
) -> ApiResult<(StatusCode, Json<AccountCreated>)> {
    let account = Account {
        name: new.name,
        account_id: new.account_id,
        role_arn: new.role_arn,
        external_id: new.external_id,
        excluded_regions: new.excluded_regions,
        excluded_resource_types: new.excluded_resource_types,
        excluded_resources: exclusions(&new.excluded_resources)?,
        scan_interval_hours: new.scan_interval_hours,
        added_at: OffsetDateTime::now_utc(),
    };
    account.validate()?;
    {
        // One account creation at a time, so two requests cannot both pass the check.
        let _guard = state.account_changes.lock().await;
        match crate::store::add_account(state.store.as_ref(), &account) {
            Ok(()) => {}
            Err(crate::store::AddAccountError::Store(e)) => return Err(e.into()),
            Err(conflict) => return Err(ApiError::conflict(conflict.to_string())),
        }
    }
    tracing::info!(account = %account.name, account_id = %account.account_id, "account added");
    let scan = match new.scan.unwrap_or(true) {
        true => Some(
            state
                .scheduler
                .enqueue(&account.name, ScanTrigger::Baseline)?
                .0,
        ),
        false => None,
    };
    Ok((StatusCode::CREATED, Json(AccountCreated { account, scan })))
}

#[utoipa::path(patch, path = "/api/v1/accounts/{name}", tag = "accounts", request_body = AccountUpdate,
    params(("name" = String, Path, description = "Account name")),
    responses((status = 200, body = AccountView), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_account(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    ApiJson(update): ApiJson<AccountUpdate>,
) -> ApiResult<Json<AccountView>> {
    let account = {
        let _guard = state.account_changes.lock().await;
        let mut account = get_account(state.store.as_ref(), &name)?;
        if let Some(v) = update.excluded_regions {
            account.excluded_regions = v;
        }
        if let Some(v) = update.excluded_resource_types {
            account.excluded_resource_types = v;
        }
        if let Some(v) = update.excluded_resources {
            account.excluded_resources = exclusions(&v)?;
        }
        if let Some(v) = update.scan_interval_hours {
            account.scan_interval_hours = Some(v);
        }
        account.validate()?;
        state.store.put_account(&account)?;
        state.store.flush()?;
        account
    };
    tracing::info!(account = %account.name, "account updated");
    Ok(Json(account_view(&state, account)?))
}

#[utoipa::path(delete, path = "/api/v1/accounts/{name}", tag = "accounts",
    params(("name" = String, Path, description = "Account name")),
    responses((status = 204, description = "Removed with its resources and findings"),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_account(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let _guard = state.account_changes.lock().await;
    let account = get_account(state.store.as_ref(), &name)?;
    let store = state.store.clone();
    let (resources, findings) =
        tokio::task::spawn_blocking(move || crate::store::remove_account(store.as_ref(), &account))
            .await??;
    tracing::info!(account = %name, resources, findings, "account removed");
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------
// Scans

/// Which accounts to scan.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// Account name; every account when absent.
    pub account: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/scans", tag = "scans", request_body = ScanRequest,
    responses((status = 202, description = "Queued (or already queued or running)", body = [ScanJob]),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn trigger_scan(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<Vec<ScanJob>>)> {
    // The body is optional: none scans every account.
    let body = body?;
    let request: ScanRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ScanRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", e.to_string()))?
    };
    let jobs = match request.account {
        Some(name) => vec![state.scheduler.enqueue(&name, ScanTrigger::Manual)?.0],
        None => state.scheduler.enqueue_all(ScanTrigger::Manual)?,
    };
    Ok((StatusCode::ACCEPTED, Json(jobs)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ScanListParams {
    /// Only scans of this account (name).
    pub account: Option<String>,
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/scans", tag = "scans", params(ScanListParams),
    responses((status = 200, description = "Newest first", body = [ScanJob])),
    security(("bearer" = [])))]
pub async fn list_scans(
    State(state): State<Arc<AppState>>,
    ApiQuery(params): ApiQuery<ScanListParams>,
) -> ApiResult<Json<Vec<ScanJob>>> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    Ok(Json(
        state.scheduler.jobs(params.account.as_deref(), limit)?,
    ))
}

#[utoipa::path(get, path = "/api/v1/scans/{id}", tag = "scans",
    params(("id" = String, Path, description = "Scan job id")),
    responses((status = 200, body = ScanJob), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_scan(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Json<ScanJob>> {
    state
        .scheduler
        .job(&id)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no scan {id:?}")))
}

// ---------------------------------------------------------------------------------------
// Resources

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ResourceParams {
    /// Account name or 12-digit id.
    pub account: Option<String>,
    /// Resource type, e.g. `aws.s3.bucket`.
    #[serde(rename = "type")]
    pub resource_type: Option<String>,
    pub region: Option<String>,
    /// Resource-id glob (`*`, `?`); a prefix is `prefix*`.
    pub id: Option<String>,
    #[serde(default)]
    pub include_deleted: bool,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// A resource with its findings.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResourceView {
    pub resource: ResourceRecord,
    pub findings: Vec<FindingRecord>,
}

#[utoipa::path(get, path = "/api/v1/resources", tag = "resources", params(ResourceParams),
    responses((status = 200, body = Page<ResourceRecord>), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_resources(
    State(state): State<Arc<AppState>>,
    ApiQuery(p): ApiQuery<ResourceParams>,
) -> ApiResult<Json<Page<ResourceRecord>>> {
    let account_id = p
        .account
        .as_deref()
        .map(|a| account_id(state.store.as_ref(), a))
        .transpose()?;
    let after = p
        .cursor
        .as_deref()
        .map(|c| decode_cursor::<3>(c).map(|[a, b, c]| (a, b, c)))
        .transpose()?;
    let query = ResourceQuery {
        account_id,
        resource_type: p.resource_type,
        region: p.region,
        id_glob: p.id,
        include_deleted: p.include_deleted,
        after,
        limit: limit(p.limit)?,
    };
    let store = state.store.clone();
    let page = tokio::task::spawn_blocking(move || store.query_resources(&query)).await??;
    Ok(Json(Page {
        items: page.resources,
        total: None,
        next_cursor: page.next.map(|(a, t, i)| encode_cursor(&[&a, &t, &i])),
    }))
}

#[utoipa::path(get, path = "/api/v1/resources/{account}/{id}", tag = "resources",
    params(("account" = String, Path, description = "Account name or 12-digit id"),
        ("id" = String, Path, description = "Resource id (an ARN; slashes allowed)")),
    responses((status = 200, body = ResourceView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_resource(
    State(state): State<Arc<AppState>>,
    Path((account, id)): Path<(String, String)>,
) -> ApiResult<Json<ResourceView>> {
    Ok(Json(resource_view(&state, &account, &id)?))
}

/// A resource with the findings of every rule that covers its type.
pub(crate) fn resource_view(state: &AppState, account: &str, id: &str) -> ApiResult<ResourceView> {
    let account_id = account_id(state.store.as_ref(), account)?;
    let resource = state
        .store
        .find_resource(&account_id, id)?
        .ok_or_else(|| ApiError::not_found(format!("no resource {id:?} in account {account}")))?;
    // Findings are keyed by rule: ask each rule that covers this type.
    let current = state.registry.current();
    let mut findings = Vec::new();
    for (_, rule) in current.evaluator().packs().rules() {
        if rule.applies_to(&resource.resource_type)
            && let Some(f) = state.store.get_finding(&rule.id, &resource.resource_id)?
        {
            findings.push(f);
        }
    }
    Ok(ResourceView { resource, findings })
}

// ---------------------------------------------------------------------------------------
// Findings

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FindingParams {
    /// Comma-separated statuses: pass, fail, error, suppressed.
    pub status: Option<String>,
    /// Comma-separated severities: critical, high, medium, low, info.
    pub severity: Option<String>,
    pub rule: Option<String>,
    /// Account name or 12-digit id.
    pub account: Option<String>,
    pub resource_type: Option<String>,
    pub region: Option<String>,
    /// Include findings closed because their resource went away.
    #[serde(default)]
    pub include_closed: bool,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

pub(crate) fn finding_query(store: &dyn Store, p: FindingParams) -> ApiResult<FindingQuery> {
    let statuses = list(p.status.as_deref())
        .map(|s| match s {
            "pass" => Ok(FindingStatus::Pass),
            "fail" => Ok(FindingStatus::Fail),
            "error" => Ok(FindingStatus::Error),
            "suppressed" => Ok(FindingStatus::Suppressed),
            other => Err(ApiError::bad_request(format!(
                "unknown status {other:?}: use pass, fail, error or suppressed"
            ))),
        })
        .collect::<ApiResult<_>>()?;
    let severities = list(p.severity.as_deref())
        .map(|s| {
            crate::engine::Severity::parse(s)
                .map(|v| v.as_str().to_owned())
                .ok_or_else(|| ApiError::bad_request(format!("unknown severity {s:?}")))
        })
        .collect::<ApiResult<_>>()?;
    Ok(FindingQuery {
        statuses,
        severities,
        rule_id: p.rule,
        account_id: p
            .account
            .as_deref()
            .map(|a| account_id(store, a))
            .transpose()?,
        resource_type: p.resource_type,
        region: p.region,
        include_closed: p.include_closed,
        after: p
            .cursor
            .as_deref()
            .map(|c| decode_cursor::<2>(c).map(|[r, i]| (r, i)))
            .transpose()?,
        limit: limit(p.limit)?,
    })
}

#[utoipa::path(get, path = "/api/v1/findings", tag = "findings", params(FindingParams),
    responses((status = 200, body = Page<FindingRecord>), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_findings(
    State(state): State<Arc<AppState>>,
    ApiQuery(p): ApiQuery<FindingParams>,
) -> ApiResult<Json<Page<FindingRecord>>> {
    let query = finding_query(state.store.as_ref(), p)?;
    let FindingPage {
        findings,
        total,
        next,
    } = state.store.query_findings(&query)?;
    Ok(Json(Page {
        items: findings,
        total: Some(total),
        next_cursor: next.map(|(r, i)| encode_cursor(&[&r, &i])),
    }))
}

#[utoipa::path(get, path = "/api/v1/findings/summary", tag = "findings", params(FindingParams),
    responses((status = 200, body = FindingSummary), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn findings_summary(
    State(state): State<Arc<AppState>>,
    ApiQuery(p): ApiQuery<FindingParams>,
) -> ApiResult<Json<FindingSummary>> {
    let query = finding_query(state.store.as_ref(), p)?;
    Ok(Json(state.store.summarize_findings(&query)?))
}

/// Which accounts a report or an export covers, and how it is written.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    /// Only this account (name or 12-digit id); default every account.
    pub account: Option<String>,
    /// Reports: `json` (default), `csv` or `html`. Exports: `ocsf` (default) or `sarif`.
    pub format: Option<String>,
}

/// The accounts `account` selects: that one, or all.
fn report_accounts(store: &dyn Store, account: Option<&str>) -> ApiResult<Vec<String>> {
    match account {
        Some(a) => Ok(vec![account_id(store, a)?]),
        None => Ok(store
            .list_accounts()?
            .into_iter()
            .map(|a| a.account_id)
            .collect()),
    }
}

#[utoipa::path(get, path = "/api/v1/reports/{framework}", tag = "findings", params(
        ("framework" = String, Path, description = "e.g. cis-aws-7.0"), ReportParams),
    responses((status = 200, description = "The report as JSON, CSV or one HTML page"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn compliance_report(
    State(state): State<Arc<AppState>>,
    Path(framework): Path<String>,
    ApiQuery(p): ApiQuery<ReportParams>,
) -> ApiResult<Response> {
    let framework = Framework::find(&framework)
        .ok_or_else(|| ApiError::not_found(format!("no framework {framework:?}")))?;
    let format = match p.format.as_deref().unwrap_or("json") {
        "json" => ReportFormat::Json,
        "csv" => ReportFormat::Csv,
        "html" => ReportFormat::Html,
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown report format {other:?}: use json, csv or html"
            )));
        }
    };
    let accounts = report_accounts(state.store.as_ref(), p.account.as_deref())?;
    let findings = crate::findings::open_findings(state.store.as_ref(), &accounts)?;
    let rules = state.registry.current().rules();
    let report = Report::build(
        framework,
        &rules,
        &findings,
        accounts,
        time::OffsetDateTime::now_utc(),
    );
    let body = render(&report, format).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, format.content_type())], body).into_response())
}

#[utoipa::path(get, path = "/api/v1/findings/export", tag = "findings", params(ReportParams),
    responses((status = 200, description = "OCSF Compliance Findings (a JSON array) or a SARIF log"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn export_findings(
    State(state): State<Arc<AppState>>,
    ApiQuery(p): ApiQuery<ReportParams>,
) -> ApiResult<Json<serde_json::Value>> {
    let accounts = report_accounts(state.store.as_ref(), p.account.as_deref())?;
    let findings = crate::findings::open_findings(state.store.as_ref(), &accounts)?;
    let rules = state.registry.current().rules();
    match p.format.as_deref().unwrap_or("ocsf") {
        "ocsf" => Ok(Json(serde_json::Value::Array(export::ocsf(
            &findings, &rules,
        )))),
        "sarif" => Ok(Json(export::sarif(&findings, &rules))),
        other => Err(ApiError::bad_request(format!(
            "unknown export format {other:?}: use ocsf or sarif"
        ))),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    pub rule: String,
    pub resource: String,
}

#[utoipa::path(get, path = "/api/v1/findings/history", tag = "findings", params(HistoryParams),
    responses((status = 200, description = "Oldest first", body = [FindingChange])),
    security(("bearer" = [])))]
pub async fn finding_history(
    State(state): State<Arc<AppState>>,
    ApiQuery(p): ApiQuery<HistoryParams>,
) -> ApiResult<Json<Vec<FindingChange>>> {
    Ok(Json(state.store.finding_history(&p.rule, &p.resource)?))
}

// ---------------------------------------------------------------------------------------
// Rules

#[utoipa::path(get, path = "/api/v1/rules", tag = "rules",
    responses((status = 200, body = [RuleInfo])), security(("bearer" = [])))]
pub async fn list_rules(State(state): State<Arc<AppState>>) -> Json<Vec<RuleInfo>> {
    Json(state.registry.current().rules())
}

#[utoipa::path(get, path = "/api/v1/rules/{id}", tag = "rules",
    params(("id" = String, Path, description = "Rule id")),
    responses((status = 200, body = RuleInfo), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_rule(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Json<RuleInfo>> {
    state
        .registry
        .current()
        .rule(&id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no rule {id:?}")))
}

/// A change to a rule: its switch, its settings, or both.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleUpdate {
    pub enabled: Option<bool>,
    /// The operator's values, replacing those set before; settings left out go back to the
    /// configured value or the rule's default. Checked against the rule's `settings_schema`.
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
}

#[utoipa::path(patch, path = "/api/v1/rules/{id}", tag = "rules", request_body = RuleUpdate,
    params(("id" = String, Path, description = "Rule id")),
    responses((status = 200, body = RuleInfo), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_rule(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    ApiJson(update): ApiJson<RuleUpdate>,
) -> ApiResult<Json<RuleInfo>> {
    if update.enabled.is_none() && update.settings.is_none() {
        return Err(ApiError::bad_request(
            "nothing to change: give `enabled`, `settings` or both",
        ));
    }
    let registry = state.registry.clone();
    let rule = tokio::task::spawn_blocking(move || {
        // Settings first: values the rule refuses leave its switch untouched too.
        let mut rule = None;
        if let Some(values) = update.settings {
            rule = Some(registry.set_rule_settings(&id, values)?);
        }
        if let Some(enabled) = update.enabled {
            rule = Some(registry.set_rule_enabled(&id, enabled)?);
        }
        Ok::<_, RegistryError>(rule.expect("one change was asked for"))
    })
    .await??;
    state.refresh_gauges();
    tracing::info!(rule = %rule.id, enabled = rule.enabled, settings = %serde_json::Value::from(rule.settings.clone()), "rule changed");
    Ok(Json(rule))
}

// ---------------------------------------------------------------------------------------
// Modules

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UploadParams {
    /// Module name: 1-64 letters, digits, `.`, `_` or `-`.
    pub name: String,
}

/// Header carrying the module's Ed25519 signature when the body is the raw module.
pub const SIGNATURE_HEADER: &str = "x-palisade-signature";

#[utoipa::path(post, path = "/api/v1/modules", tag = "modules", params(UploadParams),
    request_body(description = "The component (`application/wasm`, signature in the \
        `X-Palisade-Signature` header), or `multipart/form-data` with a `module` part and a \
        `signature` part. The signature is Ed25519 over the module's lowercase hex SHA-256, \
        hex or base64.", content_type = "application/wasm", content = Vec<u8>),
    responses((status = 201, description = "Activated", body = Activation),
        (status = 200, description = "These bytes were already serving", body = Activation),
        (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn upload_module(
    State(state): State<Arc<AppState>>,
    ApiQuery(params): ApiQuery<UploadParams>,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> ApiResult<(StatusCode, Json<Activation>)> {
    let result = upload(&state, params.name, headers, request).await;
    state.metrics.record_upload(result.is_ok());
    if let Err(e) = &result {
        tracing::warn!(status = e.status.as_u16(), reason = %e.message, "module upload refused");
    }
    let activation = result?;
    state.refresh_gauges();
    let status = if activation.changed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(activation)))
}

async fn upload(
    state: &Arc<AppState>,
    name: String,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> ApiResult<Activation> {
    use axum::extract::FromRequest as _;
    // The body is read before its size is judged: answering before the client finished
    // sending makes many clients see a broken pipe instead of the 413. Bodies past the route's
    // limit (the module cap plus 1 MiB) are still cut off unread.
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (wasm, signature) = if content_type.starts_with("multipart/form-data") {
        let multipart = Multipart::from_request(request, &())
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        read_multipart(multipart).await?
    } else if content_type.is_empty()
        || content_type == "application/wasm"
        || content_type == "application/octet-stream"
    {
        let body: Result<Bytes, BytesRejection> = Bytes::from_request(request, &()).await;
        let signature = headers
            .get(SIGNATURE_HEADER)
            .map(|v| {
                v.to_str()
                    .map(str::to_owned)
                    .map_err(|_| ApiError::bad_request("the signature header is not ASCII"))
            })
            .transpose()?;
        (body?.to_vec(), signature)
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the module as application/wasm, or as multipart/form-data with `module` and `signature` parts",
        ));
    };
    if wasm.len() > state.max_module_bytes {
        return Err(ApiError::too_large(format!(
            "the module is {} bytes; modules may be at most {} bytes",
            wasm.len(),
            state.max_module_bytes
        )));
    }
    let signed_by = verify_signature(state, &wasm, signature.as_deref())?;
    let registry = state.registry.clone();
    // Compiling takes a while and uses every core: off the async workers.
    Ok(tokio::task::spawn_blocking(move || registry.upload(&name, wasm, signed_by)).await??)
}

async fn read_multipart(mut multipart: Multipart) -> ApiResult<(Vec<u8>, Option<String>)> {
    let (mut wasm, mut signature) = (None, None);
    while let Some(field) = multipart.next_field().await? {
        match field.name() {
            Some("module") => wasm = Some(field.bytes().await?.to_vec()),
            Some("signature") => signature = Some(field.text().await?),
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "unexpected multipart part {other:?}: send `module` and `signature`"
                )));
            }
            None => return Err(ApiError::bad_request("a multipart part has no name")),
        }
    }
    let wasm =
        wasm.ok_or_else(|| ApiError::bad_request("the multipart body has no `module` part"))?;
    Ok((wasm, signature))
}

/// With trusted keys configured every module must carry a signature one of them made.
pub(crate) fn verify_signature(
    state: &AppState,
    wasm: &[u8],
    signature: Option<&str>,
) -> ApiResult<Option<String>> {
    use sha2::Digest as _;
    if state.trusted.is_empty() {
        return Ok(None);
    }
    let Some(signature) = signature else {
        return Err(ApiError::unprocessable(
            "unsigned_module",
            "this server only accepts signed modules: send an Ed25519 signature over the module's SHA-256",
        ));
    };
    let digest = hex::encode(sha2::Sha256::digest(wasm));
    state
        .trusted
        .verify(&digest, signature)
        .map(Some)
        .map_err(|e| ApiError::unprocessable("bad_signature", e.to_string()))
}

#[utoipa::path(get, path = "/api/v1/modules", tag = "modules",
    responses((status = 200, body = [ModuleInfo])), security(("bearer" = [])))]
pub async fn list_modules(State(state): State<Arc<AppState>>) -> ApiResult<Json<Vec<ModuleInfo>>> {
    Ok(Json(state.registry.modules()?))
}

#[utoipa::path(get, path = "/api/v1/modules/{name}", tag = "modules",
    params(("name" = String, Path, description = "Module name")),
    responses((status = 200, body = ModuleInfo), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_module(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> ApiResult<Json<ModuleInfo>> {
    Ok(Json(state.registry.module(&name)?))
}

#[utoipa::path(delete, path = "/api/v1/modules/{name}", tag = "modules",
    params(("name" = String, Path, description = "Module name")),
    responses((status = 204, description = "Removed with its revisions and its rules' findings"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_module(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let registry = state.registry.clone();
    tokio::task::spawn_blocking(move || registry.delete(&name)).await??;
    state.refresh_gauges();
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/modules/{name}/rollback", tag = "modules",
    params(("name" = String, Path, description = "Module name")),
    responses((status = 200, body = Activation), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn rollback_module(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> ApiResult<Json<Activation>> {
    let registry = state.registry.clone();
    let activation = tokio::task::spawn_blocking(move || registry.rollback(&name)).await??;
    state.refresh_gauges();
    Ok(Json(activation))
}

// ---------------------------------------------------------------------------------------
// Suppressions

#[utoipa::path(get, path = "/api/v1/suppressions", tag = "suppressions",
    responses((status = 200, body = [Suppression])), security(("bearer" = [])))]
pub async fn list_suppressions(State(state): State<Arc<AppState>>) -> Json<Vec<Suppression>> {
    Json(state.registry.current().suppressions().to_vec())
}

/// A suppression to add.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSuppression {
    pub rule_id: String,
    /// Resource-id glob: `*` any run of characters, `?` one.
    pub pattern: String,
    pub reason: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/suppressions", tag = "suppressions", request_body = NewSuppression,
    responses((status = 201, body = Suppression), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_suppression(
    State(state): State<Arc<AppState>>,
    ApiJson(new): ApiJson<NewSuppression>,
) -> ApiResult<(StatusCode, Json<Suppression>)> {
    let registry = state.registry.clone();
    let suppression = tokio::task::spawn_blocking(move || {
        registry.add_suppression(&new.rule_id, &new.pattern, new.reason)
    })
    .await??;
    tracing::info!(rule = %suppression.rule_id, suppression = %suppression.id, "suppression added");
    Ok((StatusCode::CREATED, Json(suppression)))
}

#[utoipa::path(delete, path = "/api/v1/suppressions/{id}", tag = "suppressions",
    params(("id" = String, Path, description = "Suppression id")),
    responses((status = 204, description = "Removed; the failures it covered fail again"),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_suppression(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let registry = state.registry.clone();
    tokio::task::spawn_blocking(move || registry.delete_suppression(&id)).await??;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------
// Evaluate

/// A document to evaluate with the serving rules, without storing anything.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    pub resource_type: String,
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
    /// Defaults to the document's `ResourceId`, or `preview`.
    pub resource_id: Option<String>,
    /// Defaults to the document's `AccountId`, or 000000000000.
    pub account_id: Option<String>,
}

/// One rule's verdict on the document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VerdictView {
    pub rule_id: String,
    pub module: String,
    pub severity: String,
    pub status: FindingStatus,
    pub message: Option<String>,
}

/// The verdicts of every enabled rule that applies to the document's type.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EvaluateResponse {
    /// The ruleset generation that answered.
    pub generation: u64,
    pub verdicts: Vec<VerdictView>,
}

#[utoipa::path(post, path = "/api/v1/evaluate", tag = "rules", request_body = EvaluateRequest,
    responses((status = 200, body = EvaluateResponse), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn evaluate(
    State(state): State<Arc<AppState>>,
    ApiJson(request): ApiJson<EvaluateRequest>,
) -> ApiResult<Json<EvaluateResponse>> {
    if !request.document.is_object() {
        return Err(ApiError::bad_request("`document` must be a JSON object"));
    }
    let field = |name: &str| {
        request
            .document
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let mut resource = ResourceRecord {
        account_id: request
            .account_id
            .clone()
            .or_else(|| field("AccountId"))
            .unwrap_or_else(|| "000000000000".into()),
        resource_id: request
            .resource_id
            .clone()
            .or_else(|| field("ResourceId"))
            .unwrap_or_else(|| "preview".into()),
        region: field("Region").unwrap_or_default(),
        resource_type: request.resource_type,
        document: request.document,
        updated_at: OffsetDateTime::now_utc(),
        deleted_at: None,
    };
    // Rules read the envelope from the document, as in stored documents.
    let envelope = [
        ("ResourceId", resource.resource_id.clone()),
        ("ResourceType", resource.resource_type.clone()),
        ("AccountId", resource.account_id.clone()),
    ];
    if let Some(doc) = resource.document.as_object_mut() {
        for (key, value) in envelope {
            doc.entry(key).or_insert(serde_json::Value::String(value));
        }
    }
    let current = state.registry.current();
    let response = tokio::task::spawn_blocking(move || {
        let evaluator = current.evaluator();
        let verdicts = evaluator
            .verdicts(std::slice::from_ref(&resource), OffsetDateTime::now_utc())
            .into_iter()
            .map(|v| VerdictView {
                rule_id: v.rule.id.clone(),
                module: evaluator
                    .packs()
                    .owner(&v.rule.id)
                    .map(|p| p.name().to_owned())
                    .unwrap_or_default(),
                severity: v.rule.severity.as_str().to_owned(),
                status: v.status,
                message: v.message,
            })
            .collect();
        EvaluateResponse {
            generation: current.generation,
            verdicts,
        }
    })
    .await?;
    Ok(Json(response))
}

// ---------------------------------------------------------------------------------------
// Helpers

/// The account id of an account given by name or by 12-digit id.
pub(crate) fn account_id(store: &dyn Store, account: &str) -> ApiResult<String> {
    crate::store::resolve_account_id(store, account)?
        .ok_or_else(|| ApiError::not_found(format!("no account named {account:?}")))
}

fn limit(requested: Option<usize>) -> ApiResult<usize> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!(
            "limit {n} is out of range: use 1 to {MAX_LIMIT}"
        ))),
    }
}

fn list(raw: Option<&str>) -> impl Iterator<Item = &str> {
    raw.into_iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Cursors are the key of the last item, opaque to clients: URL-safe base64 of a JSON array.
pub(crate) fn encode_cursor(parts: &[&str]) -> String {
    let json = serde_json::to_vec(parts).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

pub(crate) fn decode_cursor<const N: usize>(cursor: &str) -> ApiResult<[String; N]> {
    let bad = || ApiError::bad_request("the cursor is not one this server issued");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let parts: Vec<String> = serde_json::from_slice(&json).map_err(|_| bad())?;
    parts.try_into().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = encode_cursor(&["a\0b", "arn:aws:s3:::x/y"]);
        assert_eq!(
            decode_cursor::<2>(&c).unwrap(),
            ["a\0b", "arn:aws:s3:::x/y"]
        );
        assert!(decode_cursor::<3>(&c).is_err());
        assert!(decode_cursor::<2>("not base64!").is_err());
        assert!(decode_cursor::<2>(&encode_cursor(&[])).is_err());
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit(Some(MAX_LIMIT)).unwrap(), MAX_LIMIT);
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(MAX_LIMIT + 1)).is_err());
    }
}

/// The real-time path: whether it runs, from which queue, and its counters since start.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventsStatus {
    pub enabled: bool,
    /// The SQS queue consumed, when enabled.
    pub queue_url: Option<String>,
    pub stats: EventStats,
}

#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    responses((status = 200, body = EventsStatus)),
    security(("bearer" = [])))]
pub async fn events_status(State(state): State<Arc<AppState>>) -> Json<EventsStatus> {
    Json(match &state.events {
        Some((queue_url, events)) => EventsStatus {
            enabled: true,
            queue_url: Some(queue_url.clone()),
            stats: events.stats(),
        },
        None => EventsStatus {
            enabled: false,
            queue_url: None,
            stats: EventStats::default(),
        },
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LimitParams {
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/events/rejected", tag = "events", params(LimitParams),
    responses((status = 200, description = "Queue messages set aside as unreadable, oldest first",
        body = [RejectedMessage])),
    security(("bearer" = [])))]
pub async fn rejected_events(
    State(state): State<Arc<AppState>>,
    ApiQuery(p): ApiQuery<LimitParams>,
) -> ApiResult<Json<Vec<RejectedMessage>>> {
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    Ok(Json(rejected_messages(state.store.as_ref(), limit)?))
}

#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", params(LimitParams),
    responses((status = 200, description = "Newest first, with each webhook's delivery",
        body = [AlertRecord])),
    security(("bearer" = [])))]
pub async fn list_alerts(
    State(state): State<Arc<AppState>>,
    ApiQuery(p): ApiQuery<LimitParams>,
) -> ApiResult<Json<Vec<AlertRecord>>> {
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    Ok(Json(state.alerter.list(limit)?))
}
