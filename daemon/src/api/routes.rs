//! The read-only routes: health, languages, challenges (statement, limits and
//! starters — never hidden tests or references), metrics, the OpenAPI
//! document, and the JSON answers for unknown routes and panics.

use super::error::ApiError;
use super::AppState;
use crate::challenges::Challenge;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

pub async fn health(State(state): State<AppState>) -> Response {
    let stopping = state.queue.is_stopping();
    let metrics = state.queue.metrics();
    let body = json!({
        "status": if stopping { "draining" } else { "ok" },
        "version": env!("CARGO_PKG_VERSION"),
        "slots": state.queue.slots(),
        "queue_depth": metrics.queue_depth(),
        "running": metrics.running.load(std::sync::atomic::Ordering::SeqCst),
        "challenges": state.queue.judge().catalog().len(),
        "uptime_secs": state.started.elapsed().as_secs(),
    });
    let status = if stopping { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (status, Json(body)).into_response()
}

pub async fn languages(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "languages": state.queue.judge().languages() }))
}

/// A challenge as listed: no statement, no code.
fn summary(challenge: &Challenge) -> Value {
    json!({
        "slug": challenge.slug,
        "title": challenge.title,
        "difficulty": challenge.difficulty,
        "category": challenge.category,
        "tags": challenge.tags,
        "summary": challenge.summary,
        "languages": challenge.languages.keys().collect::<Vec<_>>(),
    })
}

pub async fn challenges(State(state): State<AppState>) -> Json<Value> {
    let list: Vec<Value> = state.queue.judge().catalog().iter().map(summary).collect();
    Json(json!({ "challenges": list }))
}

pub async fn challenge(State(state): State<AppState>, Path(slug): Path<String>) -> Result<Json<Value>, ApiError> {
    let challenge = state
        .queue
        .judge()
        .catalog()
        .get(&slug)
        .ok_or_else(|| ApiError::not_found("unknown_challenge", format!("unknown challenge `{slug}`")))?;
    let mut body = summary(challenge);
    let languages: serde_json::Map<String, Value> = challenge
        .languages
        .iter()
        .map(|(id, entry)| {
            // Only what a user starts from: the entry file's name, the interface, the starter code.
            (id.clone(), json!({ "entry": entry.entry, "interface": entry.interface, "starter": entry.starter }))
        })
        .collect();
    body["statement"] = json!(challenge.statement);
    body["limits"] = json!(challenge.limits);
    body["languages"] = Value::Object(languages);
    Ok(Json(body))
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.queue.metrics().render())
        .into_response()
}

pub async fn openapi() -> Json<Value> {
    Json(super::openapi::document())
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such route: see GET /v1/openapi.json")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
}

/// A handler panicked (a bug): answer JSON, keep serving.
pub fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "the daemon failed to answer; see its log")
        .into_response()
}
