//! Submissions as rows: the durable queue's states are `queued → running →
//! done`. A worker slot claims the oldest queued row (`attempts + 1`); its
//! result is recorded only while the row is still `running` with the same
//! attempt, in one transaction with its test results (`completions + 1`).
//! A crash leaves rows `running`; [`requeue_running`] puts them back.

use super::{now_ms, Store, StoreError};
use crate::judge::{JudgeReport, Submission, SubmittedFile, TestResult, TestStatus};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use serde::Serialize;
use std::sync::mpsc;

/// Most enqueue requests committed in one transaction.
const MAX_BATCH: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Running,
    Done,
}

impl Status {
    fn parse(s: &str) -> Status {
        match s {
            "queued" => Status::Queued,
            "running" => Status::Running,
            _ => Status::Done,
        }
    }
}

/// An `Idempotency-Key`, scoped to the token that sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The token's id; 0 without a token.
    pub scope: i64,
    pub key: String,
    /// Hex SHA-256 of the request, so a reused key with another request is told apart.
    pub request_hash: String,
}

/// A submission to enqueue.
#[derive(Clone, Debug)]
pub struct NewSubmission {
    pub submission: Submission,
    pub token_id: Option<i64>,
    pub idempotency: Option<IdempotencyKey>,
    /// When it was accepted, Unix ms.
    pub created_at: i64,
}

/// What enqueueing did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// A new row, committed.
    Created(i64),
    /// The idempotency key was seen with the same request: the earlier submission.
    Replayed(i64),
    /// The idempotency key was seen with a different request.
    Conflict(i64),
}

/// A row a worker slot claimed.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub id: i64,
    /// Which claim this is (1 the first time); results are recorded only for the current one.
    pub attempt: i64,
    pub submission: Submission,
}

/// The result of a judged submission, as recorded.
#[derive(Clone, Debug)]
pub struct RecordedResult<'a> {
    pub verdict: &'a str,
    pub report: &'a JudgeReport,
}

/// A submission as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct SubmissionRecord {
    pub id: i64,
    pub challenge: String,
    pub language: String,
    pub status: Status,
    pub verdict: Option<String>,
    pub message: Option<String>,
    pub compile_output: Option<String>,
    pub wall_ms: Option<i64>,
    pub cpu_ms: Option<i64>,
    pub memory_peak_bytes: Option<i64>,
    pub attempts: i64,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// Per-test results; empty until done (and in listings).
    pub tests: Vec<TestResult>,
}

/// One page of a listing, newest first.
#[derive(Clone, Debug, Serialize)]
pub struct Page {
    pub items: Vec<SubmissionRecord>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

pub(super) struct EnqueueRequest {
    new: NewSubmission,
    reply: tokio::sync::oneshot::Sender<Result<Enqueued, StoreError>>,
}

impl Store {
    /// Commits a new submission (or finds its idempotent twin). Group-committed with concurrent calls.
    pub async fn enqueue(&self, new: NewSubmission) -> Result<Enqueued, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(EnqueueRequest { new, reply })
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// [`Store::enqueue`] for threads outside the async runtime.
    pub fn enqueue_blocking(&self, new: NewSubmission) -> Result<Enqueued, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(EnqueueRequest { new, reply })
            .map_err(|_| StoreError::WriterGone)?;
        answer.blocking_recv().map_err(|_| StoreError::WriterGone)?
    }

    /// Claims the oldest queued submission for a worker slot (blocking).
    pub fn claim(&self) -> Result<Option<Claimed>, StoreError> {
        self.with(|conn| {
            // A claim lost to a power cut only means the row is claimed again: it needs no fsync of its own
            // (the next FULL commit carries it to disk), which keeps the write lock free for enqueueing.
            let _gate = self.write_gate();
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            let claimed = claim_with(conn);
            conn.pragma_update(None, "synchronous", "FULL")?;
            claimed
        })
    }

    /// Records a judged result in one transaction, if the row is still on this attempt.
    /// Returns false when it is not (it was re-queued meanwhile): nothing is written.
    pub fn record_result(&self, id: i64, attempt: i64, result: &RecordedResult<'_>) -> Result<bool, StoreError> {
        self.with(|conn| {
            let _gate = self.write_gate();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let report = result.report;
            let changed = tx.execute(
                "UPDATE submissions SET status = 'done', verdict = ?1, message = ?2, compile_output = ?3,
                     wall_ms = ?4, cpu_ms = ?5, memory_peak_bytes = ?6, completions = completions + 1, finished_at = ?7
                 WHERE id = ?8 AND status = 'running' AND attempts = ?9",
                params![
                    result.verdict,
                    report.message,
                    report.compile_output,
                    i64::try_from(report.wall_ms).unwrap_or(i64::MAX),
                    i64::try_from(report.cpu_ms).unwrap_or(i64::MAX),
                    report.memory_peak_bytes.map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
                    now_ms(),
                    id,
                    attempt
                ],
            )?;
            if changed == 0 {
                return Ok(false);
            }
            tx.execute("DELETE FROM test_results WHERE submission_id = ?1", params![id])?;
            {
                let mut insert = tx.prepare(
                    "INSERT INTO test_results (submission_id, position, name, status, duration_ms, message)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for (position, test) in report.tests.iter().enumerate() {
                    insert.execute(params![
                        id,
                        position as i64,
                        test.name,
                        test_status_str(test.status),
                        test.duration_ms,
                        test.message
                    ])?;
                }
            }
            tx.commit()?;
            Ok(true)
        })
    }

    /// Puts every `running` row back to `queued` (start-up after a crash; the end of a shutdown's grace).
    pub fn requeue_running(&self) -> Result<usize, StoreError> {
        self.with(|conn| {
            let _gate = self.write_gate();
            Ok(conn.execute("UPDATE submissions SET status = 'queued' WHERE status = 'running'", [])?)
        })
    }

    pub fn count_queued(&self) -> Result<i64, StoreError> {
        self.with(|conn| {
            Ok(conn.query_row("SELECT COUNT(*) FROM submissions WHERE status = 'queued'", [], |r| r.get(0))?)
        })
    }

    /// One submission with its test results.
    pub fn get(&self, id: i64) -> Result<Option<SubmissionRecord>, StoreError> {
        self.with(|conn| get_with(conn, id))
    }

    /// Submissions newest first, optionally of one challenge, after `cursor` (exclusive).
    pub fn list(&self, challenge: Option<&str>, cursor: Option<i64>, limit: usize) -> Result<Page, StoreError> {
        self.with(|conn| list_with(conn, challenge, cursor, limit))
    }
}

/// [`Store::list`] on a given connection.
pub fn list_with(
    conn: &Connection,
    challenge: Option<&str>,
    cursor: Option<i64>,
    limit: usize,
) -> Result<Page, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM submissions
         WHERE (?1 IS NULL OR challenge = ?1) AND (?2 IS NULL OR id < ?2)
         ORDER BY id DESC LIMIT ?3"
    ))?;
    let mut items: Vec<SubmissionRecord> =
        stmt.query_map(params![challenge, cursor, limit as i64 + 1], record_from_row)?.collect::<Result<_, _>>()?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|r| r.id.to_string())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// [`Store::claim`] on a given connection.
fn claim_with(conn: &mut Connection) -> Result<Option<Claimed>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;

    let row = tx
        .query_row(
            "UPDATE submissions SET status = 'running', attempts = attempts + 1, started_at = ?1
                 WHERE id = (SELECT id FROM submissions WHERE status = 'queued' ORDER BY id LIMIT 1)
                 RETURNING id, attempts, challenge, language, files",
            params![now_ms()],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                ))
            },
        )
        .optional()?;
    tx.commit()?;
    let Some((id, attempt, challenge, language, files)) = row else { return Ok(None) };
    let files: Vec<SubmittedFile> = serde_json::from_str(&files)?;
    Ok(Some(Claimed { id, attempt, submission: Submission { challenge, language, files } }))
}

const COLUMNS: &str = "id, challenge, language, status, verdict, message, compile_output, wall_ms, cpu_ms, \
                       memory_peak_bytes, attempts, created_at, started_at, finished_at";

fn record_from_row(row: &Row<'_>) -> rusqlite::Result<SubmissionRecord> {
    Ok(SubmissionRecord {
        id: row.get(0)?,
        challenge: row.get(1)?,
        language: row.get(2)?,
        status: Status::parse(&row.get::<_, String>(3)?),
        verdict: row.get(4)?,
        message: row.get(5)?,
        compile_output: row.get(6)?,
        wall_ms: row.get(7)?,
        cpu_ms: row.get(8)?,
        memory_peak_bytes: row.get(9)?,
        attempts: row.get(10)?,
        created_at: row.get(11)?,
        started_at: row.get(12)?,
        finished_at: row.get(13)?,
        tests: Vec::new(),
    })
}

/// [`Store::get`] on a given connection.
pub fn get_with(conn: &Connection, id: i64) -> Result<Option<SubmissionRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM submissions WHERE id = ?1"))?;
    let Some(mut record) = stmt.query_row(params![id], record_from_row).optional()? else { return Ok(None) };
    let mut tests = conn.prepare_cached(
        "SELECT name, status, duration_ms, message FROM test_results WHERE submission_id = ?1 ORDER BY position",
    )?;
    record.tests = tests
        .query_map(params![id], |row| {
            Ok(TestResult {
                name: row.get(0)?,
                status: parse_test_status(&row.get::<_, String>(1)?),
                duration_ms: row.get(2)?,
                message: row.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Some(record))
}

fn test_status_str(status: TestStatus) -> &'static str {
    match status {
        TestStatus::Pass => "pass",
        TestStatus::Fail => "fail",
        TestStatus::Error => "error",
        TestStatus::Skipped => "skipped",
    }
}

fn parse_test_status(s: &str) -> TestStatus {
    match s {
        "pass" => TestStatus::Pass,
        "fail" => TestStatus::Fail,
        "skipped" => TestStatus::Skipped,
        _ => TestStatus::Error,
    }
}

/// The writer thread: takes every enqueue request waiting, commits them in one transaction, answers each.
pub(super) fn writer_loop(
    mut conn: Connection,
    requests: mpsc::Receiver<EnqueueRequest>,
    gate: std::sync::Arc<std::sync::Mutex<()>>,
) {
    while let Ok(first) = requests.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match requests.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let committed = {
            let _gate = gate.lock().unwrap_or_else(|p| p.into_inner());
            commit_batch(&mut conn, &batch)
        };
        match committed {
            Ok(outcomes) => {
                for (request, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = request.reply.send(outcome);
                }
            }
            Err(error) => {
                tracing::error!(%error, size = batch.len(), "enqueue transaction failed");
                let message = error.to_string();
                for request in batch {
                    let _ = request.reply.send(Err(StoreError::Task(message.clone())));
                }
            }
        }
    }
}

/// One transaction for the batch; each request in its own savepoint so one failure spares the rest.
fn commit_batch(
    conn: &mut Connection,
    batch: &[EnqueueRequest],
) -> Result<Vec<Result<Enqueued, StoreError>>, StoreError> {
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for request in batch {
        let mut savepoint = tx.savepoint()?;
        let outcome = enqueue_one(&savepoint, &request.new);
        if outcome.is_ok() {
            savepoint.commit()?;
        } else {
            savepoint.rollback()?;
        }
        outcomes.push(outcome);
    }
    tx.commit()?;
    Ok(outcomes)
}

fn enqueue_one(conn: &Connection, new: &NewSubmission) -> Result<Enqueued, StoreError> {
    if let Some(key) = &new.idempotency {
        let seen: Option<(String, i64)> = conn
            .prepare_cached("SELECT request_hash, submission_id FROM idempotency_keys WHERE scope = ?1 AND key = ?2")?
            .query_row(params![key.scope, key.key], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        if let Some((hash, id)) = seen {
            return Ok(if hash == key.request_hash { Enqueued::Replayed(id) } else { Enqueued::Conflict(id) });
        }
    }
    let files = serde_json::to_string(&new.submission.files)?;
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO submissions (challenge, language, files, token_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
             RETURNING id",
        )?
        .query_row(
            params![new.submission.challenge, new.submission.language, files, new.token_id, new.created_at],
            |row| row.get(0),
        )?;
    if let Some(key) = &new.idempotency {
        conn.prepare_cached(
            "INSERT INTO idempotency_keys (scope, key, request_hash, submission_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![key.scope, key.key, key.request_hash, id, new.created_at])?;
    }
    Ok(Enqueued::Created(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::Verdict;
    use std::sync::Arc;

    fn store() -> (tempfile::TempDir, Arc<Store>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("acejudge.db")).unwrap();
        (dir, store)
    }

    fn new(challenge: &str) -> NewSubmission {
        NewSubmission {
            submission: Submission {
                challenge: challenge.into(),
                language: "python".into(),
                files: vec![SubmittedFile { name: "a.py".into(), content: "print(1)".into() }],
            },
            token_id: None,
            idempotency: None,
            created_at: now_ms(),
        }
    }

    fn report(tests: usize) -> JudgeReport {
        JudgeReport {
            verdict: Verdict::Accepted,
            tests: (0..tests)
                .map(|i| TestResult {
                    name: format!("t{i}"),
                    status: TestStatus::Pass,
                    duration_ms: Some(1.5),
                    message: None,
                })
                .collect(),
            compile_output: None,
            message: None,
            wall_ms: 10,
            cpu_ms: 5,
            memory_peak_bytes: Some(1 << 20),
        }
    }

    #[test]
    fn a_claimed_submission_is_recorded_once_with_its_tests_in_order() {
        let (_dir, store) = store();
        let Enqueued::Created(id) = store.enqueue_blocking(new("c")).unwrap() else { panic!("not created") };
        let claimed = store.claim().unwrap().unwrap();
        assert_eq!((claimed.id, claimed.attempt), (id, 1));
        assert!(store.claim().unwrap().is_none(), "nothing else is queued");
        let report = report(3);
        assert!(store.record_result(id, 1, &RecordedResult { verdict: "accepted", report: &report }).unwrap());
        assert!(!store.record_result(id, 1, &RecordedResult { verdict: "accepted", report: &report }).unwrap());
        let record = store.get(id).unwrap().unwrap();
        assert_eq!(record.status, Status::Done);
        assert_eq!(record.verdict.as_deref(), Some("accepted"));
        assert_eq!(record.tests.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["t0", "t1", "t2"]);
        let completions: i64 = store
            .with(|c| Ok(c.query_row("SELECT completions FROM submissions WHERE id = ?1", [id], |r| r.get(0))?))
            .unwrap();
        assert_eq!(completions, 1);
    }

    #[test]
    fn a_result_from_a_stale_attempt_is_not_recorded_after_requeue() {
        let (_dir, store) = store();
        store.enqueue_blocking(new("c")).unwrap();
        let first = store.claim().unwrap().unwrap();
        assert_eq!(store.requeue_running().unwrap(), 1);
        let second = store.claim().unwrap().unwrap();
        assert_eq!(second.attempt, 2);
        let report = report(1);
        assert!(!store
            .record_result(first.id, first.attempt, &RecordedResult { verdict: "accepted", report: &report })
            .unwrap());
        assert!(store
            .record_result(second.id, second.attempt, &RecordedResult { verdict: "accepted", report: &report })
            .unwrap());
    }

    #[test]
    fn an_idempotency_key_replays_the_same_request_and_flags_a_different_one() {
        let (_dir, store) = store();
        let key = |hash: &str| IdempotencyKey { scope: 0, key: "k1".into(), request_hash: hash.into() };
        let mut a = new("c");
        a.idempotency = Some(key("h1"));
        let Enqueued::Created(id) = store.enqueue_blocking(a.clone()).unwrap() else { panic!() };
        assert_eq!(store.enqueue_blocking(a).unwrap(), Enqueued::Replayed(id));
        let mut b = new("c");
        b.idempotency = Some(key("h2"));
        assert_eq!(store.enqueue_blocking(b).unwrap(), Enqueued::Conflict(id));
        assert_eq!(store.count_queued().unwrap(), 1);
    }

    #[test]
    fn pages_walk_every_submission_once_newest_first_and_filter_by_challenge() {
        let (_dir, store) = store();
        for i in 0..7 {
            store.enqueue_blocking(new(if i % 2 == 0 { "even" } else { "odd" })).unwrap();
        }
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = store.list(None, cursor, 3).unwrap();
            seen.extend(page.items.iter().map(|r| r.id));
            match page.next_cursor {
                Some(next) => cursor = Some(next.parse().unwrap()),
                None => break,
            }
        }
        assert_eq!(seen, [7, 6, 5, 4, 3, 2, 1]);
        let odd = store.list(Some("odd"), None, 10).unwrap();
        assert_eq!(odd.items.iter().map(|r| r.id).collect::<Vec<_>>(), [6, 4, 2]);
        assert!(odd.next_cursor.is_none());
    }

    #[test]
    fn concurrent_enqueues_are_all_committed() {
        let (_dir, store) = store();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        assert!(matches!(store.enqueue_blocking(new("c")).unwrap(), Enqueued::Created(_)));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(store.count_queued().unwrap(), 200);
    }
}
