//! The queue with the fake judge: order, crash recovery, backpressure, shutdown.

use super::fake::FakeJudge;
use super::*;
use crate::judge::{Progress, Submission, SubmittedFile};
use crate::store::{NewSubmission, Status};

fn submission(content: &str) -> NewSubmission {
    NewSubmission {
        submission: Submission {
            challenge: "lru-cache-ttl".into(),
            language: "python".into(),
            files: vec![SubmittedFile { name: "lru_cache.py".into(), content: content.into() }],
        },
        token_id: None,
        idempotency: None,
        created_at: crate::store::now_ms(),
    }
}

fn start(store: &Arc<Store>, judge: &Arc<FakeJudge>, slots: usize, backlog: usize) -> Queue {
    let judge: Arc<dyn JudgeService> = judge.clone();
    Queue::start(Arc::clone(store), judge, Arc::new(Metrics::default()), QueueOptions { slots, backlog }).unwrap()
}

fn wait_done(store: &Store, id: i64) -> crate::store::SubmissionRecord {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let record = store.get(id).unwrap().unwrap();
        if record.status == Status::Done {
            return record;
        }
        assert!(Instant::now() < deadline, "submission {id} not done: {record:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn created(outcome: Enqueued) -> i64 {
    match outcome {
        Enqueued::Created(id) => id,
        other => panic!("expected a new submission, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_are_judged_and_recorded_with_their_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let judge = Arc::new(FakeJudge::new());
    let queue = start(&store, &judge, 2, 100);
    let ok = created(queue.submit(submission("class LRUCache: pass")).await.unwrap());
    let wrong = created(queue.submit(submission("FAKE:wrong")).await.unwrap());
    let host = created(queue.submit(submission("FAKE:host")).await.unwrap());
    let panic = created(queue.submit(submission("FAKE:panic")).await.unwrap());
    let store2 = Arc::clone(&store);
    let records =
        tokio::task::spawn_blocking(move || [ok, wrong, host, panic].map(|id| wait_done(&store2, id))).await.unwrap();
    let verdicts: Vec<_> = records.iter().map(|r| r.verdict.clone().unwrap()).collect();
    assert_eq!(verdicts, ["accepted", "wrong_answer", "internal_error", "internal_error"]);
    assert_eq!(records[1].tests[1].name, "test_two");
    assert_eq!(queue.metrics().sandbox_failures.load(Ordering::SeqCst), 2);
    assert_eq!(queue.metrics().queue_depth(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_backlog_refuses_new_submissions_and_frees_up_as_slots_work() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let judge = Arc::new(FakeJudge::new());
    let queue = start(&store, &judge, 1, 2);
    let first = created(queue.submit(submission("FAKE:hold")).await.unwrap());
    // Wait until the slot holds the first one, so exactly two can wait.
    while store.get(first).unwrap().unwrap().status != Status::Running {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    queue.submit(submission("a")).await.unwrap();
    queue.submit(submission("b")).await.unwrap();
    assert!(matches!(queue.submit(submission("c")).await, Err(QueueError::Full(2))));
    judge.release();
    let store2 = Arc::clone(&store);
    tokio::task::spawn_blocking(move || wait_done(&store2, 3)).await.unwrap();
    created(queue.submit(submission("d")).await.unwrap());
}

#[test]
fn rows_left_running_by_a_crash_are_requeued_and_complete_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    for _ in 0..5 {
        store.enqueue_blocking(submission("x")).unwrap();
    }
    // A "crashed" daemon claimed two and never recorded them.
    store.claim().unwrap().unwrap();
    store.claim().unwrap().unwrap();
    let judge = Arc::new(FakeJudge::new());
    let queue = start(&store, &judge, 2, 100);
    for id in 1..=5 {
        wait_done(&store, id);
    }
    let rows: Vec<(i64, i64)> = store
        .with(|c| {
            let mut stmt = c.prepare("SELECT attempts, completions FROM submissions ORDER BY id")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .unwrap();
    assert_eq!(rows, [(2, 1), (2, 1), (1, 1), (1, 1), (1, 1)]);
    assert_eq!(judge.completed.load(Ordering::SeqCst), 5);
    drop(queue);
}

#[test]
fn shutdown_lets_running_work_finish_within_the_deadline_and_requeues_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let judge = Arc::new(FakeJudge::new());
    let id = created(store.enqueue_blocking(submission("FAKE:hold")).unwrap());
    let queue = start(&store, &judge, 1, 100);
    while store.get(id).unwrap().unwrap().status != Status::Running {
        std::thread::sleep(Duration::from_millis(5));
    }
    queue.begin_shutdown();
    assert!(!queue.wait_for_slots(Instant::now() + Duration::from_millis(100)), "the held job is still running");
    assert_eq!(queue.finish_shutdown().unwrap(), 1);
    assert_eq!(store.get(id).unwrap().unwrap().status, Status::Queued);
    judge.release();
    assert!(queue.wait_for_slots(Instant::now() + Duration::from_secs(5)));
    let record = store.get(id).unwrap().unwrap();
    assert_eq!(record.status, Status::Queued, "the late result of a re-queued row is dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_reaches_a_subscriber_in_order_ending_with_done() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let judge = Arc::new(FakeJudge::new());
    let queue = start(&store, &judge, 1, 100);
    let id = created(queue.submit(submission("FAKE:hold")).await.unwrap());
    let mut sub = queue.hub().subscribe(id);
    judge.release();
    let mut events = sub.history.clone().into_iter().map(HubEvent::Progress).collect::<Vec<_>>();
    while events.last() != Some(&HubEvent::Done) {
        events.push(sub.receiver.recv().await.unwrap());
    }
    let names: Vec<String> = events
        .iter()
        .map(|e| match e {
            HubEvent::Progress(Progress::Test(t)) => format!("test:{}", t.name),
            HubEvent::Progress(p) => format!("{p:?}"),
            HubEvent::Done => "done".into(),
        })
        .collect();
    assert_eq!(names, ["Compiling", "Running", "test:test_one", "test:test_two", "done"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_run_on_a_slot_and_answer_directly() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let judge = Arc::new(FakeJudge::new());
    let queue = start(&store, &judge, 1, 100);
    let execution = Execution {
        language: "python".into(),
        file: SubmittedFile { name: "main.py".into(), content: "print(input())".into() },
        stdin: "hello\n".into(),
        limits: None,
    };
    let report = queue.execute(execution).await.unwrap();
    assert_eq!(report.stdout, "hello\n");
}
