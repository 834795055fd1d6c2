//! Every error the API answers: `{"error": {"code", "message"}}` with the
//! right status, and `Retry-After` on 429 and 503. Judge, queue and store
//! errors map here, once: [`JudgeError::is_user_error`] decides 4xx or 5xx.

use crate::judge::JudgeError;
use crate::queue::{QueueError, RETRY_AFTER_FULL_SECS};
use crate::store::StoreError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// A stable, machine-readable code: `unknown_challenge`, `rate_limited`, ...
    pub code: &'static str,
    pub message: String,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), retry_after_secs: None }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn retry_after(mut self, secs: u64) -> ApiError {
        self.retry_after_secs = Some(secs.max(1));
        self
    }

    /// A fault of the host, not of the request: logged in full, answered briefly.
    pub fn internal(error: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(%error, "request failed on the daemon's side");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "the daemon failed to answer; see its log")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<JudgeError> for ApiError {
    fn from(error: JudgeError) -> ApiError {
        if !error.is_user_error() {
            return ApiError::internal(&error);
        }
        let message = error.to_string();
        match error {
            JudgeError::UnknownChallenge(_) => ApiError::not_found("unknown_challenge", message),
            JudgeError::UnknownLanguage { .. } => ApiError::unprocessable("unknown_language", message),
            JudgeError::LanguageNotOffered { .. } => ApiError::unprocessable("language_not_offered", message),
            JudgeError::MissingFile { .. } => ApiError::unprocessable("missing_file", message),
            JudgeError::UnexpectedFile { .. } => ApiError::unprocessable("unexpected_file", message),
            JudgeError::BadFileName(_) => ApiError::unprocessable("bad_file_name", message),
            JudgeError::Sandbox(_) | JudgeError::Runner { .. } => ApiError::internal(&message),
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> ApiError {
        match error {
            QueueError::Full(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "queue_full", error.to_string())
                .retry_after(RETRY_AFTER_FULL_SECS),
            QueueError::ShuttingDown | QueueError::Dropped => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", error.to_string())
                    .retry_after(RETRY_AFTER_FULL_SECS)
            }
            QueueError::Judge(error) => error.into(),
            QueueError::Store(error) => error.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        ApiError::internal(&error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_errors_of_the_judge_are_4xx_and_host_faults_5xx() {
        let cases = [
            (JudgeError::UnknownChallenge("x".into()), StatusCode::NOT_FOUND),
            (
                JudgeError::UnknownLanguage { language: "cobol".into(), available: "go".into() },
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (JudgeError::BadFileName("../x".into()), StatusCode::UNPROCESSABLE_ENTITY),
            (JudgeError::Runner { language: "go".into(), message: "boom".into() }, StatusCode::INTERNAL_SERVER_ERROR),
        ];
        for (error, status) in cases {
            assert_eq!(ApiError::from(error).status, status);
        }
    }

    #[test]
    fn a_full_queue_is_503_with_retry_after() {
        let response = ApiError::from(QueueError::Full(10)).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
    }
}
