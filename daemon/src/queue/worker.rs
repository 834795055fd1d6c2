//! One worker slot: a dedicated thread that takes the next job — an ad-hoc
//! execution first, else the oldest queued submission — runs it through the
//! judge on its slot, and records the result.

use super::{ExecutionJob, Shared, IDLE_POLL};
use crate::judge::{JudgeError, JudgeReport, Verdict};
use crate::store::{Claimed, RecordedResult};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

enum Job {
    Execution(ExecutionJob),
    Submission(Claimed),
}

pub(super) fn run_slot(slot: usize, shared: &Shared) {
    tracing::debug!(slot, "worker slot started");
    while let Some(job) = next_job(shared) {
        shared.metrics.running.fetch_add(1, Ordering::SeqCst);
        match job {
            Job::Execution(job) => execute(slot, shared, job),
            Job::Submission(claimed) => judge(slot, shared, claimed),
        }
        shared.metrics.running.fetch_sub(1, Ordering::SeqCst);
    }
    let mut state = shared.lock();
    state.live_slots -= 1;
    drop(state);
    shared.slot_exited.notify_all();
    tracing::debug!(slot, "worker slot stopped");
}

/// Blocks until there is a job, or returns `None` when the queue is stopping.
fn next_job(shared: &Shared) -> Option<Job> {
    let mut state = shared.lock();
    loop {
        if state.stopping {
            return None;
        }
        if let Some(job) = state.executions.pop_front() {
            return Some(Job::Execution(job));
        }
        if state.work_hint {
            let generation = state.generation;
            drop(state);
            let claimed = shared.store.claim();
            state = shared.lock();
            match claimed {
                Ok(Some(claimed)) => {
                    shared.metrics.queued.fetch_sub(1, Ordering::SeqCst);
                    return Some(Job::Submission(claimed));
                }
                Ok(None) => {
                    if state.generation == generation {
                        state.work_hint = false;
                    }
                    continue;
                }
                Err(error) => {
                    tracing::error!(%error, "cannot claim a submission; retrying");
                    drop(state);
                    std::thread::sleep(Duration::from_millis(500));
                    state = shared.lock();
                    continue;
                }
            }
        }
        let (guard, timeout) = shared.wake.wait_timeout(state, IDLE_POLL).unwrap_or_else(|p| p.into_inner());
        state = guard;
        if timeout.timed_out() {
            state.work_hint = true;
        }
    }
}

fn execute(slot: usize, shared: &Shared, job: ExecutionJob) {
    shared.metrics.executions.fetch_add(1, Ordering::SeqCst);
    let result = catch_unwind(AssertUnwindSafe(|| shared.judge.execute(slot, &job.execution))).unwrap_or_else(|_| {
        Err(JudgeError::Runner { language: job.execution.language.clone(), message: "the judge panicked".into() })
    });
    if let Err(error) = &result {
        if !error.is_user_error() {
            shared.metrics.sandbox_failures.fetch_add(1, Ordering::SeqCst);
            tracing::error!(slot, %error, "execution failed on the host's side");
        }
    }
    let _ = job.reply.send(result);
    after_job(slot, shared);
}

/// The judge's work between jobs (preparing the slot's next run), never fatal to the slot.
fn after_job(slot: usize, shared: &Shared) {
    if catch_unwind(AssertUnwindSafe(|| shared.judge.after_job(slot))).is_err() {
        tracing::error!(slot, "the judge panicked between jobs");
    }
}

fn judge(slot: usize, shared: &Shared, claimed: Claimed) {
    let id = claimed.id;
    let language = claimed.submission.language.clone();
    tracing::info!(slot, id, attempt = claimed.attempt, challenge = %claimed.submission.challenge, %language, "judging");
    shared.hub.begin(id);
    let started = Instant::now();
    let mut progress = |event: crate::judge::Progress| shared.hub.publish(id, event);
    let outcome = catch_unwind(AssertUnwindSafe(|| shared.judge.judge(slot, &claimed.submission, &mut progress)));
    let seconds = started.elapsed().as_secs_f64();
    let report = match outcome {
        Ok(Ok(report)) => report,
        Ok(Err(error)) => {
            if !error.is_user_error() {
                shared.metrics.sandbox_failures.fetch_add(1, Ordering::SeqCst);
            }
            tracing::error!(slot, id, %error, "the judge could not judge a submission");
            internal_error(error.to_string())
        }
        Err(_) => {
            shared.metrics.sandbox_failures.fetch_add(1, Ordering::SeqCst);
            tracing::error!(slot, id, "the judge panicked");
            internal_error("the judge failed unexpectedly (a bug): the submission could not be judged".into())
        }
    };
    let verdict = report.verdict.as_str();
    match shared.store.record_result(id, claimed.attempt, &RecordedResult { verdict, report: &report }) {
        Ok(true) => {
            shared.metrics.observe_run(verdict, &language, seconds);
            tracing::info!(slot, id, verdict, seconds, "judged");
        }
        Ok(false) => tracing::warn!(slot, id, "result dropped: the submission was re-queued meanwhile"),
        // The row stays `running`: the next start re-queues it.
        Err(error) => tracing::error!(slot, id, %error, "cannot record a result"),
    }
    shared.hub.finish(id);
}

fn internal_error(message: String) -> JudgeReport {
    JudgeReport {
        verdict: Verdict::InternalError,
        tests: Vec::new(),
        compile_output: None,
        message: Some(message),
        wall_ms: 0,
        cpu_ms: 0,
        memory_peak_bytes: None,
    }
}
