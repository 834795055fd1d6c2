//! Reading request bodies: a size limit (413), strict JSON (400), and the
//! file-name rule (422) every submitted file obeys.

use super::error::ApiError;
use axum::body::Body;
use axum::http::{header, HeaderMap};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

/// Past the limit, a body is still read (and dropped) up to this many bytes, so that a client that is
/// still sending gets the 413 rather than a reset connection.
const DRAIN_CAP: u64 = 16 << 20;

/// Reads at most `limit` bytes of body and parses them as `T`.
pub async fn read_json<T: DeserializeOwned>(headers: &HeaderMap, body: Body, limit: usize) -> Result<T, ApiError> {
    let too_large = || ApiError::too_large(format!("the request body is over the limit of {limit} bytes"));
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > DRAIN_CAP) {
        return Err(too_large());
    }
    let mut body = body;
    let mut bytes = Vec::new();
    let mut seen: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| ApiError::bad_request("unreadable_body", format!("cannot read the request body: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        seen += data.len() as u64;
        if seen > DRAIN_CAP {
            return Err(too_large());
        }
        if seen <= limit as u64 {
            bytes.extend_from_slice(&data);
        }
    }
    if seen > limit as u64 {
        return Err(too_large());
    }
    serde_json::from_slice(&bytes).map_err(|error| {
        let code = if error.is_data() { "invalid_request" } else { "malformed_json" };
        ApiError::bad_request(code, format!("the request body is not valid: {error}"))
    })
}

/// A file name the judge can place in a box: not empty, not absolute, no `/` or `\`, no `..`,
/// no NUL or other control characters, at most 255 bytes.
pub fn check_file_name(name: &str) -> Result<(), ApiError> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name.starts_with('/') {
        Some("is absolute")
    } else if name.contains('/') || name.contains('\\') {
        Some("contains a path separator")
    } else if name.contains("..") || name == "." {
        Some("contains `..`")
    } else if name.contains('\0') {
        Some("contains NUL")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else if name.len() > 255 {
        Some("is longer than 255 bytes")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(ApiError::unprocessable(
            "bad_file_name",
            format!("file name {name:?} {problem}: use a plain name such as rate_limiter.py"),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_that_could_escape_or_confuse_the_box_are_refused() {
        for bad in ["", "/etc/passwd", "a/b.py", "..", "../x.py", "x..py", ".", "a\0b", "a\nb", "a\u{7f}b", "a\\b"] {
            assert!(check_file_name(bad).is_err(), "{bad:?} was accepted");
        }
        for good in ["rate_limiter.py", "RateLimiter.java", ".hidden", "a-b_c.go"] {
            assert!(check_file_name(good).is_ok(), "{good:?} was refused");
        }
    }
}
