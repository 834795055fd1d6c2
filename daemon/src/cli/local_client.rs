//! The CLI's side of the local socket ([`crate::api::local_socket`]): when
//! `acejudge serve` runs on the same data dir, one-shot commands hand it their
//! work over `DATA_DIR/run/api.sock` (plain HTTP/1.1 on the Unix socket)
//! instead of building a second sandbox on the daemon's directories.

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use std::path::Path;
use std::time::Duration;

/// A connection to the daemon serving a data dir.
pub struct LocalClient {
    runtime: tokio::runtime::Runtime,
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

/// An answer: its status and body.
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Answer {
    /// The API's `{"error": {"code", "message"}}`, or the body as text.
    pub fn error(&self) -> (String, String) {
        let parsed: Option<serde_json::Value> = serde_json::from_slice(&self.body).ok();
        let field = |name: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.pointer(&format!("/error/{name}")))
                .and_then(|v| v.as_str())
                .map(String::from)
        };
        (
            field("code").unwrap_or_else(|| self.status.as_str().into()),
            field("message").unwrap_or_else(|| String::from_utf8_lossy(&self.body).into_owned()),
        )
    }
}

impl LocalClient {
    /// Connects to the daemon serving `data_dir`; `None` when none answers
    /// (no socket, a dead daemon's socket, or one this user may not reach).
    pub fn connect(data_dir: &Path) -> Option<LocalClient> {
        let path = crate::config::local_socket_path(data_dir);
        if !path.exists() {
            return None;
        }
        let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build().ok()?;
        let sender = runtime.block_on(async {
            let stream = match tokio::net::UnixStream::connect(&path).await {
                Ok(stream) => stream,
                Err(error) => {
                    tracing::debug!(%error, path = %path.display(), "no daemon answers on the local socket");
                    return None;
                }
            };
            let (sender, connection) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.ok()?;
            tokio::spawn(connection);
            Some(sender)
        })?;
        Some(LocalClient { runtime, sender })
    }

    /// Sends one request and reads the whole answer, within `bound` (a daemon
    /// that stopped answering must not hang the command).
    pub fn request(
        &mut self,
        method: Method,
        path: &str,
        json: Option<&serde_json::Value>,
        bound: Duration,
    ) -> anyhow::Result<Answer> {
        let body = match json {
            Some(value) => Full::new(Bytes::from(serde_json::to_vec(value)?)),
            None => Full::new(Bytes::new()),
        };
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, "localhost")
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(body)
            .context("cannot build the request")?;
        let sender = &mut self.sender;
        let exchange = async move {
            sender.ready().await.context("the daemon closed the local socket")?;
            let response = sender.send_request(request).await.context("the daemon did not answer")?;
            let status = response.status();
            let body = response.into_body().collect().await.context("the daemon's answer was cut off")?.to_bytes();
            Ok(Answer { status, body })
        };
        self.runtime.block_on(async move {
            tokio::time::timeout(bound, exchange)
                .await
                .map_err(|_| anyhow::anyhow!("the daemon did not answer within {} s", bound.as_secs()))?
        })
    }
}
