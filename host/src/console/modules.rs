//! Console pages for policy modules: the modules with their revisions and rules, upload from a
//! file picker (the same checks as the API: size, signature, the component and its rules), and
//! rollback and removal. A refused upload is shown in place with its reason; the last good
//! revision keeps serving.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use time::format_description::well_known::Rfc3339;

use super::{CsrfForm, Nav, Viewer, admin_form, api_failure, off_workers, page, signed_in};
use crate::registry::{ModuleSource, Registry, RegistryError};
use crate::server::AppState;
use crate::server::api::verify_signature;
use crate::server::error::ApiError;

struct RevisionRow {
    number: u32,
    uploaded: String,
    serving: bool,
}

struct ModuleRow {
    name: String,
    source: &'static str,
    uploaded: bool,
    status: String,
    error: String,
    sha256: String,
    rules: Vec<String>,
    revisions: Vec<RevisionRow>,
}

#[derive(Template)]
#[template(path = "console/modules.html")]
struct ModulesPage {
    nav: Option<Nav>,
    nav_admin: bool,
    csrf: String,
    modules: Vec<ModuleRow>,
    error: Option<String>,
}

fn modules_page(state: &AppState, viewer: &Viewer, error: Option<String>) -> Response {
    let modules = match state.registry.modules() {
        Ok(modules) => modules,
        Err(e) => return api_failure(viewer, e.into()),
    };
    let modules = modules
        .into_iter()
        .map(|m| ModuleRow {
            source: match m.source {
                ModuleSource::Builtin => "built in",
                ModuleSource::Uploaded => "uploaded",
            },
            uploaded: m.source == ModuleSource::Uploaded,
            status: format!("{:?}", m.status).to_lowercase(),
            error: m.error.unwrap_or_default(),
            revisions: m
                .revisions
                .iter()
                .map(|r| RevisionRow {
                    number: r.number,
                    uploaded: r.uploaded_at.format(&Rfc3339).unwrap_or_default(),
                    serving: Some(r.number) == m.revision,
                })
                .collect(),
            name: m.name,
            sha256: m.sha256,
            rules: m.rules,
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page(
        status,
        &ModulesPage {
            nav: Some(Nav::from(viewer)),
            nav_admin: viewer.is_admin(),
            csrf: viewer.csrf.clone(),
            modules,
            error,
        },
    )
}

pub(super) async fn modules(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match signed_in(&state, &headers) {
        Ok(viewer) => modules_page(&state, &viewer, None),
        Err(r) => r.into_response(),
    }
}

/// The upload form's parts.
#[derive(Default)]
struct Upload {
    csrf: String,
    name: String,
    wasm: Vec<u8>,
    signature: Option<String>,
}

async fn read_upload(mut multipart: Multipart) -> Result<Upload, ApiError> {
    let mut upload = Upload::default();
    while let Some(field) = multipart.next_field().await? {
        match field.name() {
            Some("csrf") => upload.csrf = field.text().await?,
            Some("name") => upload.name = field.text().await?.trim().to_owned(),
            Some("module") => upload.wasm = field.bytes().await?.to_vec(),
            Some("signature") => {
                let text = field.text().await?;
                upload.signature = Some(text.trim().to_owned()).filter(|s| !s.is_empty());
            }
            _ => {}
        }
    }
    Ok(upload)
}

pub(super) async fn upload(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Response {
    let upload = match read_upload(multipart).await {
        Ok(upload) => upload,
        Err(e) => return super::error_page(None, e.status, e.message),
    };
    let viewer = match admin_form(&state, &headers, &upload.csrf) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    if upload.wasm.is_empty() {
        return modules_page(
            &state,
            &viewer,
            Some("choose a .wasm file to upload".into()),
        );
    }
    if upload.wasm.len() > state.max_module_bytes {
        let error = format!(
            "the module is {} bytes; modules may be at most {} bytes",
            upload.wasm.len(),
            state.max_module_bytes
        );
        return modules_page(&state, &viewer, Some(error));
    }
    let signed_by = match verify_signature(&state, &upload.wasm, upload.signature.as_deref()) {
        Ok(signed_by) => signed_by,
        Err(e) => return modules_page(&state, &viewer, Some(e.message)),
    };
    let registry = state.registry.clone();
    let name = upload.name.clone();
    let result = off_workers(move || registry.upload(&name, upload.wasm, signed_by)).await;
    state.metrics.record_upload(matches!(result, Ok(Ok(_))));
    match result {
        Ok(Ok(activation)) => {
            state.refresh_gauges();
            tracing::info!(module = %activation.module.name, "module uploaded from the console");
            Redirect::to("/modules").into_response()
        }
        Ok(Err(e)) => {
            tracing::warn!(module = %upload.name, reason = %e, "module upload refused");
            modules_page(&state, &viewer, Some(e.to_string()))
        }
        Err(e) => api_failure(&viewer, e),
    }
}

pub(super) async fn rollback(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    change(state, &headers, &form.csrf, move |r| {
        r.rollback(&name).map(drop)
    })
    .await
}

pub(super) async fn remove(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    change(state, &headers, &form.csrf, move |r| r.delete(&name)).await
}

/// An admin's change to the modules (rollback, removal): made off the async workers, then back
/// to the modules page, with the refusal shown in place when the registry refuses it.
async fn change(
    state: Arc<AppState>,
    headers: &HeaderMap,
    csrf: &str,
    apply: impl FnOnce(&Registry) -> Result<(), RegistryError> + Send + 'static,
) -> Response {
    let viewer = match admin_form(&state, headers, csrf) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let registry = state.registry.clone();
    match off_workers(move || apply(&registry)).await {
        Ok(Ok(())) => {
            state.refresh_gauges();
            Redirect::to("/modules").into_response()
        }
        Ok(Err(e)) => modules_page(&state, &viewer, Some(e.to_string())),
        Err(e) => api_failure(&viewer, e),
    }
}
