//! `GET /v1/submissions/{id}/events`: Server-Sent Events, in order —
//! `queued`, `compiling`, `running`, one `test` per result, then `done`
//! with the final submission, after which the stream ends. A subscriber to a
//! finished submission gets `queued`, `running`, its `test`s and `done` from
//! the store at once.

use super::error::ApiError;
use super::submissions::{load, parse_id};
use super::AppState;
use crate::judge::Progress;
use crate::queue::HubEvent;
use crate::store::{Status, SubmissionRecord};
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

/// Events buffered towards a slow client.
const BUFFER: usize = 64;

pub async fn stream(State(state): State<AppState>, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&raw)?;
    load(&state, id).await?; // 404 before anything streams.
    let subscription = state.queue.hub().subscribe(id);
    let record = match load(&state, id).await {
        Ok(record) => record,
        Err(error) => {
            drop(subscription);
            state.queue.hub().release(id);
            return Err(error);
        }
    };
    let (sender, receiver) = mpsc::channel::<Result<Event, Infallible>>(BUFFER);
    let task_state = state.clone();
    tokio::spawn(async move {
        let mut writer = Writer { sender, sequence: 0, tests_sent: 0 };
        let _ = feed(&task_state, id, record, subscription, &mut writer).await;
        task_state.queue.hub().release(id);
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(receiver);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

struct Writer {
    sender: mpsc::Sender<Result<Event, Infallible>>,
    sequence: u64,
    /// `test` events sent so far.
    tests_sent: usize,
}

/// The client went away.
struct Gone;

impl Writer {
    async fn send(&mut self, name: &str, data: serde_json::Value) -> Result<(), Gone> {
        self.sequence += 1;
        let event = Event::default().id(self.sequence.to_string()).event(name).data(data.to_string());
        self.sender.send(Ok(event)).await.map_err(|_| Gone)
    }

    async fn progress(&mut self, id: i64, progress: &Progress) -> Result<(), Gone> {
        match progress {
            Progress::Compiling => self.send("compiling", json!({ "id": id })).await,
            Progress::Running => self.send("running", json!({ "id": id })).await,
            Progress::Test(test) => {
                self.tests_sent += 1;
                self.send("test", json!(test)).await
            }
        }
    }

    /// The final result; first the `test` events of results not streamed yet (a judge may report
    /// its tests only at the end), so there is always one per result.
    async fn done(&mut self, record: &SubmissionRecord) -> Result<(), Gone> {
        for test in record.tests.iter().skip(self.tests_sent) {
            self.tests_sent += 1;
            self.send("test", json!(test)).await?;
        }
        self.send("done", json!(record)).await
    }
}

async fn feed(
    state: &AppState,
    id: i64,
    record: SubmissionRecord,
    mut subscription: crate::queue::Subscription,
    writer: &mut Writer,
) -> Result<(), Gone> {
    writer.send("queued", json!({ "id": id, "status": "queued" })).await?;
    if record.status == Status::Done {
        writer.send("running", json!({ "id": id })).await?;
        return writer.done(&record).await;
    }
    for progress in &subscription.history {
        writer.progress(id, progress).await?;
    }
    let shutting_down = state.shutting_down();
    tokio::pin!(shutting_down);
    loop {
        tokio::select! {
            event = subscription.receiver.recv() => match event {
                Ok(HubEvent::Progress(progress)) => writer.progress(id, &progress).await?,
                Ok(HubEvent::Done) | Err(RecvError::Closed) => {
                    if let Ok(record) = load(state, id).await {
                        if record.status == Status::Done {
                            return writer.done(&record).await;
                        }
                    }
                    return Ok(());
                }
                Err(RecvError::Lagged(missed)) => tracing::warn!(id, missed, "an event stream lagged"),
            },
            // A backstop against a missed notification.
            _ = tokio::time::sleep(Duration::from_secs(2)) => {
                if let Ok(record) = load(state, id).await {
                    if record.status == Status::Done {
                        return writer.done(&record).await;
                    }
                }
            }
            _ = &mut shutting_down => return Ok(()),
            _ = writer.sender.closed() => return Err(Gone),
        }
    }
}
