//! Bearer tokens: who is calling. Required whenever the daemon listens off
//! loopback (or when configured); otherwise a request without a token is
//! anonymous, and one with a token is still checked.
//! 401: no token, a malformed header, or an unknown token. 403: a revoked token.
//!
//! Requests that came through the daemon's local socket (`DATA_DIR/run/api.sock`,
//! in a directory only the daemon's user can enter) carry [`LocalPeer`] and are
//! [`Caller::Local`]: the host's administrator, as trusted as a one-shot
//! `acejudge` command run by the same user.

use super::error::ApiError;
use super::AppState;
use crate::store::TokenInfo;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Longest header value considered a token.
const MAX_TOKEN_LEN: usize = 256;

/// The caller of a request, put in its extensions by [`authenticate`].
#[derive(Clone, Debug)]
pub enum Caller {
    Anonymous,
    Token(TokenInfo),
    /// Through the local socket: no token, no rate limit, the CLI's run limits.
    Local,
}

/// Marks a request that arrived on the local socket (set by the socket's router only).
#[derive(Clone, Copy, Debug)]
pub struct LocalPeer;

impl Caller {
    /// The key of its rate limit and idempotency scope: the token's id, 0 without a token.
    pub fn scope(&self) -> i64 {
        match self {
            Caller::Anonymous | Caller::Local => 0,
            Caller::Token(token) => token.id,
        }
    }

    pub fn token_id(&self) -> Option<i64> {
        match self {
            Caller::Anonymous | Caller::Local => None,
            Caller::Token(token) => Some(token.id),
        }
    }
}

/// Middleware: resolves the caller or answers 401/403.
pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let header = request.headers().get(header::AUTHORIZATION).cloned();
    let resolved = if request.extensions().get::<LocalPeer>().is_some() {
        Ok(Caller::Local)
    } else {
        caller(&state, header).await
    };
    match resolved {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(error) => {
            state.queue.metrics().reject("unauthorized");
            error.into_response()
        }
    }
}

async fn caller(state: &AppState, header: Option<HeaderValue>) -> Result<Caller, ApiError> {
    let Some(value) = header else {
        if state.tokens_required {
            return Err(ApiError::unauthorized(
                "this daemon requires a bearer token: send `Authorization: Bearer <token>` (acejudge token create)",
            ));
        }
        return Ok(Caller::Anonymous);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty() && token.len() <= MAX_TOKEN_LEN)
        .ok_or_else(|| ApiError::unauthorized("malformed Authorization header: expected `Bearer <token>`"))?
        .to_string();
    let store = state.queue.store();
    match store.call(move |conn| crate::store::tokens::find_token_with(conn, &token)).await? {
        None => Err(ApiError::unauthorized("unknown token")),
        Some(info) if info.revoked_at.is_some() => {
            Err(ApiError::new(StatusCode::FORBIDDEN, "token_revoked", format!("token `{}` was revoked", info.name)))
        }
        Some(info) => Ok(Caller::Token(info)),
    }
}
