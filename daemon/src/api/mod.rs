//! The HTTP API (v1, JSON) on axum: routes, bearer-token auth, the per-token
//! rate limit, SSE progress, the OpenAPI document and Prometheus metrics.
//!
//! | route | file |
//! |---|---|
//! | `GET /v1/health`, `/v1/languages`, `/v1/challenges[/{slug}]`, `/metrics`, `/v1/openapi.json` | [`routes`] |
//! | `POST /v1/submissions`, `GET /v1/submissions[/{id}]`, `POST /v1/executions` | [`submissions`] |
//! | `GET /v1/submissions/{id}/events` (SSE) | [`events`] |
//!
//! Every answer that is not a success is `{"error": {"code", "message"}}`
//! ([`error`]). Request bodies are read by [`body`] with a size limit
//! (413), parsed strictly (400) and checked (413 sizes, 422 names) before
//! anything is stored.
//!
//! **Architecture Invariant:** the API never reads hidden tests or reference
//! solutions: it shows a challenge's statement, limits and starters only.

pub mod auth;
pub mod body;
pub mod error;
pub mod events;
pub mod local_socket;
pub mod openapi;
pub mod ratelimit;
pub mod routes;
pub mod submissions;

use crate::config::LimitsConfig;
use crate::queue::Queue;
use axum::routing::{get, post};
use axum::Router;
use ratelimit::RateLimiter;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Every route, as `(method, path)`: the router and the OpenAPI document are checked against it.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/health"),
    ("GET", "/v1/languages"),
    ("GET", "/v1/challenges"),
    ("GET", "/v1/challenges/{slug}"),
    ("POST", "/v1/submissions"),
    ("GET", "/v1/submissions"),
    ("GET", "/v1/submissions/{id}"),
    ("GET", "/v1/submissions/{id}/events"),
    ("POST", "/v1/executions"),
    ("GET", "/metrics"),
    ("GET", "/v1/openapi.json"),
];

/// What the API is configured with.
#[derive(Clone, Debug)]
pub struct ApiOptions {
    pub limits: LimitsConfig,
    pub tokens_required: bool,
    /// Runs per token per window; 0 = unlimited.
    pub rate_limit: u32,
    pub rate_window: Duration,
    /// The bound of `?wait=true`.
    pub wait_timeout: Duration,
}

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub queue: Arc<Queue>,
    pub limits: LimitsConfig,
    pub tokens_required: bool,
    pub limiter: RateLimiter,
    pub wait_timeout: Duration,
    pub started: Instant,
    shutdown: watch::Sender<bool>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(queue: Arc<Queue>, options: ApiOptions) -> AppState {
        AppState(Arc::new(Inner {
            queue,
            limits: options.limits,
            tokens_required: options.tokens_required,
            limiter: RateLimiter::new(options.rate_limit, options.rate_window),
            wait_timeout: options.wait_timeout,
            started: Instant::now(),
            shutdown: watch::channel(false).0,
        }))
    }

    /// Stops accepting runs, ends event streams and waits, and stops the queue claiming work.
    pub fn begin_shutdown(&self) {
        self.queue.begin_shutdown();
        self.shutdown.send_replace(true);
    }

    /// Resolves when [`AppState::begin_shutdown`] was called.
    pub fn shutting_down(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut receiver = self.shutdown.subscribe();
        async move {
            let _ = receiver.wait_for(|stopping| *stopping).await;
        }
    }
}

/// The router of the local socket: the same routes, every request a [`auth::Caller::Local`].
pub fn local_router(state: AppState) -> Router {
    router(state).layer(axum::Extension(auth::LocalPeer))
}

/// The router with every route of [`ROUTES`].
pub fn router(state: AppState) -> Router {
    let authenticated = Router::new()
        .route("/v1/languages", get(routes::languages))
        .route("/v1/challenges", get(routes::challenges))
        .route("/v1/challenges/{slug}", get(routes::challenge))
        .route("/v1/submissions", post(submissions::create).get(submissions::list))
        .route("/v1/submissions/{id}", get(submissions::get))
        .route("/v1/submissions/{id}/events", get(events::stream))
        .route("/v1/executions", post(submissions::execute))
        .route("/metrics", get(routes::metrics))
        .route("/v1/openapi.json", get(routes::openapi))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::authenticate));
    Router::new()
        .route("/v1/health", get(routes::health))
        .merge(authenticated)
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(routes::panicked))
        .with_state(state)
}

#[cfg(test)]
mod tests;
