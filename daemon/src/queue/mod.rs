//! The durable queue: submissions are rows in the store; `N` worker slots —
//! dedicated blocking threads, slot `i` passed to [`JudgeService::judge`] as
//! `i` — claim them oldest first, judge them, and record each result in one
//! transaction. Progress fans out to subscribers through the [`hub`].
//!
//! - Backpressure: at most `backlog` rows wait; past that [`Queue::submit`]
//!   answers [`QueueError::Full`] (the API's 503 with Retry-After).
//! - Crash recovery: [`Queue::start`] re-queues rows a crash left `running`.
//!   A result is recorded only for the attempt that claimed the row, so a
//!   submission never completes twice (the `completions` column proves it).
//! - Shutdown: [`Queue::begin_shutdown`] stops claiming; running submissions
//!   get until a deadline ([`Queue::wait_for_slots`]); the rest are re-queued
//!   ([`Queue::finish_shutdown`]) for the next start.
//! - Ad-hoc executions are not stored: they wait in memory, ahead of queued
//!   submissions, and share the same slots.
//!
//! **Architecture Invariant:** the queue knows nothing of HTTP; the judge
//! knows nothing of the queue.

pub mod hub;
pub mod metrics;
mod worker;

pub use hub::{Hub, HubEvent, Subscription};
pub use metrics::Metrics;

use crate::judge::{Execution, ExecutionReport, JudgeError, JudgeService};
use crate::store::{Enqueued, NewSubmission, Store, StoreError};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Seconds a client is told to wait when the backlog is full.
pub const RETRY_AFTER_FULL_SECS: u64 = 5;

#[derive(Clone, Copy, Debug)]
pub struct QueueOptions {
    pub slots: usize,
    pub backlog: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the queue is full ({0} submissions waiting): retry later")]
    Full(usize),
    #[error("the daemon is shutting down: retry later")]
    ShuttingDown,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Judge(#[from] JudgeError),
    #[error("the worker slot running this stopped before answering")]
    Dropped,
}

pub(crate) struct ExecutionJob {
    execution: Execution,
    reply: tokio::sync::oneshot::Sender<Result<ExecutionReport, JudgeError>>,
}

#[derive(Default)]
struct DispatchState {
    executions: VecDeque<ExecutionJob>,
    /// There may be queued rows: try to claim one.
    work_hint: bool,
    /// Bumped by every enqueue, so a slot that found nothing knows whether to look again.
    generation: u64,
    stopping: bool,
    live_slots: usize,
}

pub(crate) struct Shared {
    store: Arc<Store>,
    judge: Arc<dyn JudgeService>,
    hub: Hub,
    metrics: Arc<Metrics>,
    backlog: usize,
    state: Mutex<DispatchState>,
    /// Wakes slots: work arrived or stopping.
    wake: Condvar,
    /// Wakes the shutdown waiter: a slot exited.
    slot_exited: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, DispatchState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub struct Queue {
    shared: Arc<Shared>,
    slots: usize,
}

impl Queue {
    /// Re-queues what a crash left running, then starts the worker slots.
    pub fn start(
        store: Arc<Store>,
        judge: Arc<dyn JudgeService>,
        metrics: Arc<Metrics>,
        options: QueueOptions,
    ) -> Result<Queue, QueueError> {
        let requeued = store.requeue_running()?;
        if requeued > 0 {
            tracing::warn!(requeued, "submissions left running by an earlier stop were re-queued");
        }
        metrics.queued.store(store.count_queued()?, Ordering::SeqCst);
        metrics.slots.store(options.slots as i64, Ordering::SeqCst);
        let shared = Arc::new(Shared {
            store,
            judge,
            hub: Hub::default(),
            metrics,
            backlog: options.backlog,
            state: Mutex::new(DispatchState { work_hint: true, live_slots: options.slots, ..DispatchState::default() }),
            wake: Condvar::new(),
            slot_exited: Condvar::new(),
        });
        for slot in 0..options.slots {
            let for_slot = Arc::clone(&shared);
            let spawned = std::thread::Builder::new()
                .name(format!("acejudge-slot-{slot}"))
                .spawn(move || worker::run_slot(slot, &for_slot));
            if let Err(e) = spawned {
                shared.lock().live_slots -= 1;
                return Err(QueueError::Store(StoreError::Task(format!("cannot start worker slot {slot}: {e}"))));
            }
        }
        Ok(Queue { shared, slots: options.slots })
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.shared.store
    }

    pub fn judge(&self) -> &Arc<dyn JudgeService> {
        &self.shared.judge
    }

    pub fn hub(&self) -> &Hub {
        &self.shared.hub
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    pub fn slots(&self) -> usize {
        self.slots
    }

    pub fn is_stopping(&self) -> bool {
        self.shared.lock().stopping
    }

    /// Commits a submission (durably) and wakes a slot; `Full` past the backlog.
    pub async fn submit(&self, new: NewSubmission) -> Result<Enqueued, QueueError> {
        if self.is_stopping() {
            return Err(QueueError::ShuttingDown);
        }
        let metrics = &self.shared.metrics;
        let before = metrics.queued.fetch_add(1, Ordering::SeqCst);
        if before >= self.shared.backlog as i64 {
            metrics.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(QueueError::Full(self.shared.backlog));
        }
        let outcome = self.shared.store.enqueue(new).await;
        match outcome {
            Ok(Enqueued::Created(_)) => {
                let mut state = self.shared.lock();
                state.work_hint = true;
                state.generation += 1;
                drop(state);
                self.shared.wake.notify_one();
            }
            Ok(Enqueued::Replayed(_) | Enqueued::Conflict(_)) | Err(_) => {
                metrics.queued.fetch_sub(1, Ordering::SeqCst);
            }
        }
        Ok(outcome?)
    }

    /// Runs an ad-hoc program on the next free slot and waits for it.
    pub async fn execute(&self, execution: Execution) -> Result<ExecutionReport, QueueError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        {
            let mut state = self.shared.lock();
            if state.stopping {
                return Err(QueueError::ShuttingDown);
            }
            if state.executions.len() >= self.shared.backlog {
                return Err(QueueError::Full(self.shared.backlog));
            }
            state.executions.push_back(ExecutionJob { execution, reply });
        }
        self.shared.wake.notify_one();
        match answer.await {
            Ok(result) => Ok(result?),
            Err(_) if self.is_stopping() => Err(QueueError::ShuttingDown),
            Err(_) => Err(QueueError::Dropped),
        }
    }

    /// Stops claiming work; pending executions are answered `ShuttingDown` (by dropping them).
    pub fn begin_shutdown(&self) {
        let mut state = self.shared.lock();
        state.stopping = true;
        state.executions.clear();
        drop(state);
        self.shared.wake.notify_all();
    }

    /// Waits (blocking) until every slot has finished its current job or `deadline` passes.
    /// Returns true when all slots are idle.
    pub fn wait_for_slots(&self, deadline: Instant) -> bool {
        let mut state = self.shared.lock();
        while state.live_slots > 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self.shared.slot_exited.wait_timeout(state, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
        true
    }

    /// Re-queues what is still running after the grace period, for the next start.
    pub fn finish_shutdown(&self) -> Result<usize, StoreError> {
        self.shared.store.requeue_running()
    }
}

/// How often an idle slot looks at the store even without a wake-up (another process may have enqueued).
pub(crate) const IDLE_POLL: Duration = Duration::from_secs(2);

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod tests;
