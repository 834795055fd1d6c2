//! A fast, deterministic [`JudgeService`] for the queue's and the API's unit
//! tests, steered by markers in the submitted file:
//! `FAKE:wrong` → Wrong Answer on `test_two`; `FAKE:quiet` → no per-test progress; `FAKE:hold` → waits until
//! [`FakeJudge::release`]; `FAKE:host` → a host fault; `FAKE:panic` → panics;
//! anything else → Accepted with two passing tests. Executions echo stdin.

use crate::challenges::Catalog;
use crate::judge::{
    Execution, ExecutionReport, JudgeError, JudgeReport, JudgeService, LanguageInfo, Progress, Submission, TestResult,
    TestStatus, Verdict,
};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

pub struct FakeJudge {
    catalog: Catalog,
    /// Judge calls that returned a report.
    pub completed: AtomicUsize,
    held: Mutex<bool>,
    released: Condvar,
}

pub const LANGUAGES: [&str; 4] = ["go", "java", "node", "python"];

impl FakeJudge {
    /// Uses the repository's bundled challenges.
    pub fn new() -> FakeJudge {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../challenges");
        FakeJudge {
            catalog: Catalog::load(&dir).expect("bundled challenges"),
            completed: AtomicUsize::new(0),
            held: Mutex::new(true),
            released: Condvar::new(),
        }
    }

    /// Lets every `FAKE:hold` submission go on.
    pub fn release(&self) {
        *self.held.lock().unwrap() = false;
        self.released.notify_all();
    }

    fn wait_for_release(&self) {
        let mut held = self.held.lock().unwrap();
        while *held {
            held = self.released.wait(held).unwrap();
        }
    }
}

fn test(name: &str, status: TestStatus, message: Option<&str>) -> TestResult {
    TestResult { name: name.into(), status, duration_ms: Some(1.0), message: message.map(String::from) }
}

impl JudgeService for FakeJudge {
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn languages(&self) -> Vec<LanguageInfo> {
        LANGUAGES
            .iter()
            .map(|id| LanguageInfo {
                id: (*id).into(),
                name: id.to_uppercase(),
                version: "1".into(),
                extensions: vec![],
            })
            .collect()
    }

    fn validate(&self, submission: &Submission) -> Result<(), JudgeError> {
        crate::judge::validate_submission(&self.catalog, &LANGUAGES, submission)
    }

    fn judge(
        &self,
        _slot: usize,
        submission: &Submission,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<JudgeReport, JudgeError> {
        let content = submission.files.first().map(|f| f.content.as_str()).unwrap_or_default();
        if content.contains("FAKE:hold") {
            self.wait_for_release();
        }
        if content.contains("FAKE:panic") {
            panic!("the fake judge was told to panic");
        }
        if content.contains("FAKE:host") {
            return Err(JudgeError::Runner {
                language: submission.language.clone(),
                message: "fake host fault".into(),
            });
        }
        progress(Progress::Compiling);
        progress(Progress::Running);
        let tests = if content.contains("FAKE:wrong") {
            vec![
                test("test_one", TestStatus::Pass, None),
                test("test_two", TestStatus::Fail, Some("expected 1, got 2")),
            ]
        } else {
            vec![test("test_one", TestStatus::Pass, None), test("test_two", TestStatus::Pass, None)]
        };
        if !content.contains("FAKE:quiet") {
            for t in &tests {
                progress(Progress::Test(t.clone()));
            }
        }
        let verdict = if content.contains("FAKE:wrong") { Verdict::WrongAnswer } else { Verdict::Accepted };
        self.completed.fetch_add(1, Ordering::SeqCst);
        Ok(JudgeReport {
            verdict,
            tests,
            compile_output: None,
            message: None,
            wall_ms: 12,
            cpu_ms: 10,
            memory_peak_bytes: Some(1 << 20),
        })
    }

    fn execute(&self, _slot: usize, execution: &Execution) -> Result<ExecutionReport, JudgeError> {
        Ok(ExecutionReport {
            status: "ok".into(),
            exit_code: Some(0),
            stdout: execution.stdin.clone(),
            stderr: String::new(),
            compile_output: None,
            message: None,
            wall_ms: 1,
            cpu_ms: 1,
            memory_peak_bytes: None,
            language: execution.language.clone(),
            toolchain_version: "fake 1".into(),
        })
    }
}
