//! Console pages for one rule: its metadata, its settings (kind, default, value in force) and
//! the settings editor, checked against the rule's schema with refusals shown in place. The
//! rule list and its switches are `mod.rs`'s.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    Nav, Viewer, admin_form, api_failure, error_page, off_workers, page, signed_in, urlencode,
};
use crate::registry::{RegistryError, RuleInfo};
use crate::server::AppState;

struct SettingRow {
    name: String,
    kind: String,
    default: String,
    value: String,
    description: String,
}

#[derive(Template)]
#[template(path = "console/rule.html")]
struct RulePage {
    nav: Option<Nav>,
    nav_admin: bool,
    csrf: String,
    rule: RuleInfo,
    /// (is an http(s) link, text): other references are shown, not linked.
    references: Vec<(bool, String)>,
    settings: Vec<SettingRow>,
    editor: String,
    error: Option<String>,
}

fn rule_page(
    viewer: &Viewer,
    rule: RuleInfo,
    editor: Option<String>,
    error: Option<String>,
) -> Response {
    let properties = rule.settings_schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let settings = properties
        .iter()
        .map(|(name, schema)| SettingRow {
            name: name.clone(),
            kind: schema["type"].as_str().unwrap_or("").to_owned(),
            default: schema["default"].to_string(),
            value: rule
                .settings
                .get(name)
                .map(Value::to_string)
                .unwrap_or_default(),
            description: schema["description"].as_str().unwrap_or("").to_owned(),
        })
        .collect();
    let editor = editor.unwrap_or_else(|| {
        serde_json::to_string_pretty(&Value::Object(rule.settings.clone())).unwrap_or_default()
    });
    let references = rule
        .references
        .iter()
        .map(|r| {
            (
                r.starts_with("https://") || r.starts_with("http://"),
                r.clone(),
            )
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page(
        status,
        &RulePage {
            nav: Some(Nav::from(viewer)),
            nav_admin: viewer.is_admin(),
            csrf: viewer.csrf.clone(),
            rule,
            references,
            settings,
            editor,
            error,
        },
    )
}

pub(super) async fn rule(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let viewer = match signed_in(&state, &headers) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    match state.registry.current().rule(&id) {
        Some(rule) => rule_page(&viewer, rule, None, None),
        None => error_page(
            Some(&viewer),
            StatusCode::NOT_FOUND,
            format!("no rule {id:?}"),
        ),
    }
}

#[derive(Deserialize)]
pub(super) struct SettingsForm {
    csrf: String,
    settings: String,
}

pub(super) async fn save_settings(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<SettingsForm>,
) -> Response {
    let viewer = match admin_form(&state, &headers, &form.csrf) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let Some(rule) = state.registry.current().rule(&id) else {
        return error_page(
            Some(&viewer),
            StatusCode::NOT_FOUND,
            format!("no rule {id:?}"),
        );
    };
    let text = if form.settings.trim().is_empty() {
        "{}"
    } else {
        form.settings.as_str()
    };
    let values: Map<String, Value> = match serde_json::from_str(text) {
        Ok(values) => values,
        Err(e) => {
            let error = format!("the settings are not a JSON object: {e}");
            return rule_page(&viewer, rule, Some(form.settings), Some(error));
        }
    };
    let registry = state.registry.clone();
    let rule_id = id.clone();
    match off_workers(move || registry.set_rule_settings(&rule_id, values)).await {
        Ok(Ok(rule)) => {
            tracing::info!(rule = %rule.id, "rule settings changed from the console");
            Redirect::to(&format!("/rules/{}", urlencode(&id))).into_response()
        }
        Ok(Err(e @ RegistryError::Settings { .. })) => {
            rule_page(&viewer, rule, Some(form.settings), Some(e.to_string()))
        }
        Ok(Err(e)) => api_failure(&viewer, e.into()),
        Err(e) => api_failure(&viewer, e),
    }
}
