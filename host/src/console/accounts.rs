//! Console pages for accounts: the list with last and next scans, "scan now", an account's
//! page with its running scan's progress, and the "Connect an account" wizard of the product
//! doc — name, account id and exclusions → the role's CloudFormation template (download, or
//! the AWS console to create the stack; the server makes no AWS call for it) → the role ARN →
//! "Save source", which stores the account and queues its baseline scan → the account page,
//! which follows the scan and then offers the real-time set-up.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{
    CsrfForm, Nav, admin_form, api_failure, blocking, error_page, page, signed_in, urlencode,
};
use crate::account::{Account, ResourceExclusion};
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::store::{ScanJob, ScanState, ScanTrigger};

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

struct AccountRow {
    name: String,
    account_id: String,
    last_scan: String,
    issues: usize,
    next_scan: String,
}

#[derive(Template)]
#[template(path = "console/accounts.html")]
struct AccountsPage {
    nav: Option<Nav>,
    nav_admin: bool,
    csrf: String,
    accounts: Vec<AccountRow>,
}

pub(super) async fn accounts(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let viewer = match signed_in(&state, &headers) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let rows = {
        let state = state.clone();
        blocking(move || -> Result<Vec<AccountRow>, ApiError> {
            let mut rows = Vec::new();
            for a in state.store.list_accounts()? {
                let last = state.store.last_scan(&a.name)?;
                rows.push(AccountRow {
                    last_scan: last
                        .as_ref()
                        .map_or_else(|| "never".to_owned(), |s| rfc3339(s.finished_at)),
                    issues: last.map_or(0, |s| s.issues.len()),
                    next_scan: rfc3339(state.scheduler.next_due(&a)?),
                    name: a.name,
                    account_id: a.account_id,
                });
            }
            Ok(rows)
        })
        .await
    };
    let accounts = match rows {
        Ok(rows) => rows,
        Err(e) => return api_failure(&viewer, e),
    };
    page(
        StatusCode::OK,
        &AccountsPage {
            nav: Some(Nav::from(&viewer)),
            nav_admin: viewer.is_admin(),
            csrf: viewer.csrf.clone(),
            accounts,
        },
    )
}

pub(super) async fn scan_now(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let viewer = match admin_form(&state, &headers, &form.csrf) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    match state.scheduler.enqueue(&name, ScanTrigger::Manual) {
        Ok(_) => Redirect::to(&format!("/accounts/{}", urlencode(&name))).into_response(),
        Err(e) => api_failure(&viewer, e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// One account

/// The newest scan job, as the page shows it.
struct JobView {
    trigger: &'static str,
    state: &'static str,
    tasks_planned: u64,
    tasks_done: u64,
    resources: u64,
    error: String,
}

struct LastScan {
    finished: String,
    resources: u64,
    failing: u64,
    issues: usize,
    /// The first collection issues, for people.
    issue_lines: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/account.html")]
struct AccountPage {
    nav: Option<Nav>,
    nav_admin: bool,
    name: String,
    account_id: String,
    role_arn: String,
    job: Option<JobView>,
    /// The newest job is queued or running: the page refreshes itself.
    scanning: bool,
    /// The newest job succeeded: the real-time set-up is offered.
    finished: bool,
    last: Option<LastScan>,
}

fn job_view(job: &ScanJob) -> JobView {
    JobView {
        trigger: match job.trigger {
            ScanTrigger::Baseline => "Baseline",
            ScanTrigger::Manual => "Manual",
            _ => "Scheduled",
        },
        state: match job.state {
            ScanState::Queued => "queued",
            ScanState::Running => "running",
            ScanState::Succeeded => "finished",
            ScanState::Failed => "failed",
            ScanState::Interrupted => "interrupted",
        },
        tasks_planned: job.progress.tasks_planned,
        tasks_done: job.progress.tasks_done,
        resources: job.progress.resources,
        error: job.error.clone().unwrap_or_default(),
    }
}

pub(super) async fn account(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let viewer = match signed_in(&state, &headers) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let found = {
        let state = state.clone();
        blocking(move || -> Result<_, ApiError> {
            let Some(account) = state.store.get_account(&name)? else {
                return Err(ApiError::not_found(format!("no account named {name:?}")));
            };
            let job = state.scheduler.jobs(Some(&name), 1)?.into_iter().next();
            let last = state.store.last_scan(&name)?;
            Ok((account, job, last))
        })
        .await
    };
    let (account, job, last) = match found {
        Ok(found) => found,
        Err(e) => return api_failure(&viewer, e),
    };
    let scanning = job
        .as_ref()
        .is_some_and(|j| matches!(j.state, ScanState::Queued | ScanState::Running));
    let finished = job
        .as_ref()
        .is_some_and(|j| j.state == ScanState::Succeeded);
    let last = last.map(|s| LastScan {
        finished: rfc3339(s.finished_at),
        resources: s.resources.values().sum(),
        failing: s.failing.values().sum(),
        issues: s.issues.len(),
        issue_lines: s
            .issues
            .iter()
            .take(10)
            .map(|i| format!("{} {}: {}", i.service, i.region, i.message))
            .collect(),
    });
    page(
        StatusCode::OK,
        &AccountPage {
            nav: Some(Nav::from(&viewer)),
            nav_admin: viewer.is_admin(),
            name: account.name,
            account_id: account.account_id,
            role_arn: account.role_arn,
            job: job.as_ref().map(job_view),
            scanning,
            finished,
            last,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Connect an account

/// The wizard's fields, carried from step to step in the form itself.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ConnectForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    account_id: String,
    #[serde(default)]
    excluded_regions: String,
    #[serde(default)]
    excluded_resource_types: String,
    #[serde(default)]
    excluded_resources: String,
    #[serde(default)]
    external_id: String,
    #[serde(default)]
    role_arn: String,
    /// `continue` (to the role step) or `save`.
    #[serde(default)]
    step: String,
}

#[derive(Template)]
#[template(path = "console/connect.html")]
struct ConnectPage {
    nav: Option<Nav>,
    csrf: String,
    form: ConnectForm,
    error: Option<String>,
    /// Show the role step (template, console link, role ARN).
    step_role: bool,
    console_link: String,
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

impl ConnectForm {
    /// The account these fields describe, checked as the API checks it. Before the role step
    /// the role is the template's default name, so everything else can be checked first.
    fn account(&self) -> Result<Account, String> {
        let role_arn = match self.role_arn.trim() {
            "" => format!(
                "arn:aws:iam::{}:role/{}",
                self.account_id.trim(),
                crate::aws::role_template::DEFAULT_ROLE_NAME
            ),
            arn => arn.to_owned(),
        };
        let excluded_resources = self
            .excluded_resources
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| l.parse::<ResourceExclusion>().map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        let account = Account {
            name: self.name.trim().to_owned(),
            account_id: self.account_id.trim().to_owned(),
            role_arn,
            external_id: Some(self.external_id.clone()).filter(|e| !e.is_empty()),
            excluded_regions: words(&self.excluded_regions),
            excluded_resource_types: words(&self.excluded_resource_types),
            excluded_resources,
            scan_interval_hours: None,
            added_at: OffsetDateTime::now_utc(),
        };
        account.validate().map_err(|e| e.to_string())?;
        Ok(account)
    }

    /// Where to create the stack: the AWS console's CloudFormation page, with the stack name.
    /// A link only; nothing is sent from here.
    fn console_link(&self) -> String {
        format!(
            "https://console.aws.amazon.com/cloudformation/home#/stacks/create?stackName=palisade-audit-{}",
            urlencode(self.account_id.trim())
        )
    }
}

fn connect_page(
    viewer: &super::Viewer,
    form: ConnectForm,
    error: Option<String>,
    step_role: bool,
) -> Response {
    let console_link = form.console_link();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page(
        status,
        &ConnectPage {
            nav: Some(Nav::from(viewer)),
            csrf: viewer.csrf.clone(),
            form,
            error,
            step_role,
            console_link,
        },
    )
}

pub(super) async fn connect(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let viewer = match signed_in(&state, &headers) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    if !viewer.is_admin() {
        return error_page(
            Some(&viewer),
            StatusCode::FORBIDDEN,
            "connecting an account needs an admin token",
        );
    }
    connect_page(&viewer, ConnectForm::default(), None, false)
}

/// Each step of the wizard posts here: `continue` checks the details and shows the role step
/// (with a fresh external id); `save` stores the account and queues its baseline scan.
pub(super) async fn connect_step(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(mut form): Form<ConnectForm>,
) -> Response {
    let viewer = match admin_form(&state, &headers, &form.csrf) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    if form.external_id.is_empty() {
        form.external_id = super::session::random_hex()[..32].to_owned();
    }
    let saving = form.step == "save";
    let account = match form.account() {
        Ok(account) => account,
        Err(e) => return connect_page(&viewer, form, Some(e), saving),
    };
    if state
        .store
        .get_account(&account.name)
        .ok()
        .flatten()
        .is_some()
    {
        let error = format!("an account named {:?} exists already", account.name);
        return connect_page(&viewer, form, Some(error), saving);
    }
    if !saving {
        // The role the template creates, unless the operator named another.
        if form.role_arn.trim().is_empty() {
            form.role_arn = account.role_arn.clone();
        }
        return connect_page(&viewer, form, None, true);
    }
    {
        let _guard = state.account_changes.lock().await;
        match crate::store::add_account(state.store.as_ref(), &account) {
            Ok(()) => {}
            Err(crate::store::AddAccountError::Store(e)) => return api_failure(&viewer, e.into()),
            Err(conflict) => return connect_page(&viewer, form, Some(conflict.to_string()), true),
        }
    }
    tracing::info!(account = %account.name, account_id = %account.account_id, "account added from the console");
    if let Err(e) = state
        .scheduler
        .enqueue(&account.name, ScanTrigger::Baseline)
    {
        return api_failure(&viewer, e.into());
    }
    Redirect::to(&format!("/accounts/{}", urlencode(&account.name))).into_response()
}

#[derive(Deserialize)]
pub(super) struct TemplateQuery {
    account_id: String,
    #[serde(default)]
    external_id: String,
}

/// The role's CloudFormation template, as a download.
pub(super) async fn role_template(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<TemplateQuery>,
) -> Response {
    if let Err(r) = signed_in(&state, &headers) {
        return r.into_response();
    }
    let external_id = Some(q.external_id.as_str()).filter(|e| !e.is_empty());
    let template = crate::aws::role_template::role_template(None, external_id);
    let file = format!(
        "attachment; filename=\"palisade-role-{}.json\"",
        q.account_id
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
    );
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_DISPOSITION, file),
        ],
        serde_json::to_string_pretty(&template).unwrap_or_default(),
    )
        .into_response()
}

#[derive(Deserialize)]
pub(super) struct EventsQuery {
    queue_arn: String,
}

/// The real-time set-up's CloudFormation template for `queue_arn`, as a download.
pub(super) async fn events_template(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> Response {
    let viewer = match signed_in(&state, &headers) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    if let Err(e) = crate::events::template::parse_queue_arn(q.queue_arn.trim()) {
        return error_page(Some(&viewer), StatusCode::BAD_REQUEST, e.to_string());
    }
    let template = crate::events::template::events_template(q.queue_arn.trim());
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"palisade-events.json\"",
            ),
        ],
        serde_json::to_string_pretty(&template).unwrap_or_default(),
    )
        .into_response()
}
