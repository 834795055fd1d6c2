//! Submissions and executions: `POST /v1/submissions` (validated, committed,
//! then 202 — or, with `?wait=true`, the final result within the configured
//! bound; `Idempotency-Key` replays the first submission), reading one,
//! listing them with a cursor, and `POST /v1/executions` (an ad-hoc run).

use super::auth::Caller;
use super::body::{check_file_name, read_json};
use super::error::ApiError;
use super::AppState;
use crate::judge::{Execution, ExecutionLimits, Submission, SubmittedFile};
use crate::queue::HubEvent;
use crate::store::{sha256_hex, Enqueued, IdempotencyKey, NewSubmission, Status, SubmissionRecord};
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Longest `Idempotency-Key`.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
const DEFAULT_PAGE: usize = 20;
const MAX_PAGE: usize = 100;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionRequest {
    pub challenge: String,
    pub language: String,
    pub files: Vec<SubmittedFile>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SubmitQuery {
    #[serde(default)]
    pub wait: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub challenge: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionRequest {
    pub language: String,
    pub file: SubmittedFile,
    #[serde(default)]
    pub stdin: String,
    /// The run's limits; omitted = the defaults, which are also the ceiling
    /// over HTTP. Callers on the local socket may ask for up to the CLI's.
    #[serde(default)]
    pub limits: Option<ExecutionLimits>,
}

/// The most an ad-hoc run may ask for: `(wall ms, memory bytes)`.
fn execution_ceiling(caller: &Caller) -> (u64, u64) {
    match caller {
        // What `acejudge run` allows a local administrator.
        Caller::Local => (ExecutionLimits::MAX_WALL_MS, 1 << 40),
        // The platform's promise: 3 s, 256 MiB.
        Caller::Anonymous | Caller::Token(_) => (3_000, 256 << 20),
    }
}

/// Smallest memory a run may ask for: below it no runtime starts.
const MIN_EXECUTION_MEMORY: u64 = 16 << 20;

fn check_execution_limits(caller: &Caller, limits: &Option<ExecutionLimits>) -> Result<(), ApiError> {
    let Some(limits) = limits else { return Ok(()) };
    let (max_wall, max_memory) = execution_ceiling(caller);
    if limits.wall_ms == 0 || limits.wall_ms > max_wall {
        return Err(ApiError::unprocessable(
            "bad_limits",
            format!("limits.wall_ms is {}: it must be between 1 and {max_wall}", limits.wall_ms),
        ));
    }
    if limits.memory_bytes < MIN_EXECUTION_MEMORY || limits.memory_bytes > max_memory {
        return Err(ApiError::unprocessable(
            "bad_limits",
            format!(
                "limits.memory_bytes is {}: it must be between {MIN_EXECUTION_MEMORY} and {max_memory}",
                limits.memory_bytes
            ),
        ));
    }
    Ok(())
}

fn bad_query(rejection: QueryRejection) -> ApiError {
    ApiError::bad_request("invalid_query", format!("invalid query string: {}", rejection.body_text()))
}

/// Spends one run of the caller's rate limit, or answers 429 with Retry-After.
/// Counts a run against the caller's rate limit; the local socket's caller has none.
fn spend_run(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    if matches!(caller, Caller::Local) {
        return Ok(());
    }
    state.limiter.check(caller.scope(), Instant::now()).map_err(|wait| {
        state.queue.metrics().reject("rate_limited");
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many runs for this token: slow down")
            .retry_after(wait.as_secs_f64().ceil() as u64)
    })
}

fn check_file(state: &AppState, file: &SubmittedFile) -> Result<(), ApiError> {
    if file.content.len() > state.limits.max_file_bytes {
        return Err(ApiError::too_large(format!(
            "file {:?} is {} bytes, over the limit of {} bytes",
            file.name,
            file.content.len(),
            state.limits.max_file_bytes
        )));
    }
    check_file_name(&file.name)
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY_LEN && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_idempotency_key",
                format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"),
            )
        })?;
    Ok(Some(key.to_string()))
}

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<SubmitQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let key = idempotency_key(&headers)?;
    let request: SubmissionRequest = read_json(&headers, body, state.limits.max_body_bytes).await?;
    if request.files.len() > state.limits.max_files {
        return Err(ApiError::too_large(format!(
            "{} files, over the limit of {}",
            request.files.len(),
            state.limits.max_files
        )));
    }
    for file in &request.files {
        check_file(&state, file)?;
    }
    let submission = Submission {
        challenge: request.challenge.clone(),
        language: request.language.clone(),
        files: request.files.clone(),
    };
    state.queue.judge().validate(&submission)?;
    spend_run(&state, &caller)?;
    let idempotency = match key {
        Some(key) => {
            let canonical = serde_json::to_vec(&request).map_err(|e| ApiError::internal(&e))?;
            Some(IdempotencyKey { scope: caller.scope(), key, request_hash: sha256_hex(&canonical) })
        }
        None => None,
    };
    let accepted_at = crate::store::now_ms();
    let new = NewSubmission { submission, token_id: caller.token_id(), idempotency, created_at: accepted_at };
    let (id, replayed) = match state.queue.submit(new).await {
        Ok(Enqueued::Created(id)) => (id, false),
        Ok(Enqueued::Replayed(id)) => (id, true),
        Ok(Enqueued::Conflict(id)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_key_reused",
                format!("this Idempotency-Key was used for submission {id} with a different request"),
            ))
        }
        Err(error) => {
            if matches!(error, crate::queue::QueueError::Full(_)) {
                state.queue.metrics().reject("backlog_full");
            }
            return Err(error.into());
        }
    };
    let record = if query.wait {
        wait_for_done(&state, id).await?
    } else if replayed {
        load(&state, id).await?
    } else {
        // Just committed: answer from what was sent rather than reading it back.
        queued_record(id, request.challenge, request.language, accepted_at)
    };
    let status = if record.status == Status::Done { StatusCode::OK } else { StatusCode::ACCEPTED };
    let mut response = (status, Json(&record)).into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/submissions/{id}")) {
        headers.insert(header::LOCATION, location);
    }
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// A submission as it stands right after it was committed.
fn queued_record(id: i64, challenge: String, language: String, created_at: i64) -> SubmissionRecord {
    SubmissionRecord {
        id,
        challenge,
        language,
        status: Status::Queued,
        verdict: None,
        message: None,
        compile_output: None,
        wall_ms: None,
        cpu_ms: None,
        memory_peak_bytes: None,
        attempts: 0,
        created_at,
        started_at: None,
        finished_at: None,
        tests: Vec::new(),
    }
}

/// The submission `id`, or 404.
pub async fn load(state: &AppState, id: i64) -> Result<SubmissionRecord, ApiError> {
    let store = state.queue.store();
    store
        .call(move |conn| crate::store::submissions::get_with(conn, id))
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_submission", format!("no submission {id}")))
}

/// Waits until the submission is done, the wait bound passes, or the daemon stops; returns its state then.
async fn wait_for_done(state: &AppState, id: i64) -> Result<SubmissionRecord, ApiError> {
    let deadline = tokio::time::Instant::now() + state.wait_timeout;
    let mut subscription = state.queue.hub().subscribe(id);
    let mut record = load(state, id).await;
    let shutting_down = state.shutting_down();
    tokio::pin!(shutting_down);
    while matches!(&record, Ok(r) if r.status != Status::Done) {
        tokio::select! {
            event = subscription.receiver.recv() => match event {
                Ok(HubEvent::Done) | Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    record = load(state, id).await;
                    break;
                }
                Ok(HubEvent::Progress(_)) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            },
            // A backstop against a missed notification: look at the store now and then.
            _ = tokio::time::sleep(Duration::from_secs(1)) => record = load(state, id).await,
            _ = tokio::time::sleep_until(deadline) => break,
            _ = &mut shutting_down => break,
        }
    }
    drop(subscription);
    state.queue.hub().release(id);
    match record {
        Ok(r) if r.status == Status::Done => Ok(r),
        _ => load(state, id).await,
    }
}

/// A submission id from the path; anything that is not one is a 404.
pub fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::not_found("unknown_submission", format!("no submission {raw:?}")))
}

pub async fn get(State(state): State<AppState>, Path(raw): Path<String>) -> Result<Json<SubmissionRecord>, ApiError> {
    Ok(Json(load(&state, parse_id(&raw)?).await?))
}

pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<crate::store::Page>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request("invalid_query", format!("limit must be between 1 and {MAX_PAGE}")));
    }
    let cursor = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(raw) => Some(
            raw.parse::<i64>()
                .map_err(|_| ApiError::bad_request("invalid_cursor", "cursor must be a next_cursor from a page"))?,
        ),
        None => None,
    };
    let challenge = query.challenge.filter(|c| !c.is_empty());
    let store = state.queue.store();
    let page =
        store.call(move |conn| crate::store::submissions::list_with(conn, challenge.as_deref(), cursor, limit)).await?;
    Ok(Json(page))
}

pub async fn execute(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let request: ExecutionRequest = read_json(&headers, body, state.limits.max_body_bytes).await?;
    check_file(&state, &request.file)?;
    if request.stdin.len() > state.limits.max_stdin_bytes {
        return Err(ApiError::too_large(format!(
            "stdin is {} bytes, over the limit of {} bytes",
            request.stdin.len(),
            state.limits.max_stdin_bytes
        )));
    }
    let languages = state.queue.judge().languages();
    if !languages.iter().any(|l| l.id == request.language) {
        let available: Vec<&str> = languages.iter().map(|l| l.id.as_str()).collect();
        return Err(ApiError::unprocessable(
            "unknown_language",
            format!("unknown language `{}`: available are {}", request.language, available.join(", ")),
        ));
    }
    check_execution_limits(&caller, &request.limits)?;
    spend_run(&state, &caller)?;
    let execution =
        Execution { language: request.language, file: request.file, stdin: request.stdin, limits: request.limits };
    // A local caller may ask for a longer run than the HTTP bound: wait for it (and a compile) too.
    let bound = match (&caller, &execution.limits) {
        (Caller::Local, Some(limits)) => {
            state.wait_timeout.max(Duration::from_millis(limits.wall_ms) + Duration::from_secs(60))
        }
        _ => state.wait_timeout,
    };
    let report = tokio::time::timeout(bound, state.queue.execute(execution)).await.map_err(|_| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "timeout", "no worker slot answered in time").retry_after(5)
    })??;
    Ok((StatusCode::OK, Json(report)).into_response())
}
