//! The judge: one submission in, one verdict and per-test results out.
//!
//! Pipeline: validate the files against the challenge → ask the language's
//! runner plugin for a plan → a fresh box with the entry file, the hidden
//! tests and the runner's support files → compile step, then test step, in
//! the sandbox → the runner parses its framework's output → the verdict,
//! derived once, in [`verdict::derive`]. Per-test results are kept whatever
//! the verdict.
//!
//! The judge knows nothing of HTTP or SQLite: the queue calls it through
//! [`JudgeService`], reporting progress through a callback.

pub mod pipeline;
pub mod verdict;

pub use pipeline::{execution_report, Judge, JudgeConfig};
pub use verdict::Verdict;

use crate::challenges::Catalog;
use serde::{Deserialize, Serialize};

/// A test's result as the judge reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestStatus {
    Pass,
    Fail,
    Error,
    Skipped,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    pub name: String,
    pub status: TestStatus,
    pub duration_ms: Option<f64>,
    /// For a failing test: what was expected and what happened.
    pub message: Option<String>,
}

/// One file of a submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmittedFile {
    pub name: String,
    pub content: String,
}

/// What a user submits for a challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    pub challenge: String,
    pub language: String,
    pub files: Vec<SubmittedFile>,
}

/// The result of judging a submission.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JudgeReport {
    pub verdict: Verdict,
    pub tests: Vec<TestResult>,
    /// The compiler's output when compilation failed (or warned).
    pub compile_output: Option<String>,
    /// What the user needs beyond per-test messages: a crash's trace, the limit hit.
    pub message: Option<String>,
    /// Wall time of the test step.
    pub wall_ms: u64,
    /// CPU time of the test step (user + system).
    pub cpu_ms: u64,
    pub memory_peak_bytes: Option<u64>,
}

/// Progress while judging, in order: `Compiling`, `Running`, then one `Test` per result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Progress {
    Compiling,
    Running,
    Test(TestResult),
}

/// An ad-hoc program: one source file run with stdin, no challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    pub language: String,
    pub file: SubmittedFile,
    pub stdin: String,
    /// The run step's limits; `None` is the runner's defaults (3 s, 256 MiB).
    pub limits: Option<ExecutionLimits>,
}

/// What an ad-hoc run may use (the API checks them against the caller's ceiling).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionLimits {
    /// Wall-clock limit; the CPU-time limit is twice it.
    pub wall_ms: u64,
    /// Memory of the run step (the runner may add its runtime's allowance).
    pub memory_bytes: u64,
}

impl ExecutionLimits {
    /// The longest wall limit anyone may ask for (`acejudge run --wall`, the local socket).
    pub const MAX_WALL_MS: u64 = 600_000;

    /// Sets `job`'s run step to these limits.
    pub fn apply(&self, job: &mut crate::plugins::Job) {
        job.limits.run.wall_ms = self.wall_ms;
        job.limits.run.cpu_ms = self.wall_ms.saturating_mul(2);
        job.limits.run.memory_bytes = self.memory_bytes;
    }
}

/// How an ad-hoc program ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionReport {
    /// `ok`, `compilation_error`, `runtime_error`, `time_limit`, `memory_limit`, `output_limit`,
    /// `security_violation` or `internal_error`.
    pub status: String,
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub compile_output: Option<String>,
    /// What the user needs beyond the output: the limit hit, a crash's cause.
    #[serde(default)]
    pub message: Option<String>,
    pub wall_ms: u64,
    pub cpu_ms: u64,
    pub memory_peak_bytes: Option<u64>,
    /// The runner and toolchain that ran it (`python`, `Python 3.11.2`).
    #[serde(default)]
    pub language: String,
    #[serde(default)]
    pub toolchain_version: String,
}

/// A language the judge can run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanguageInfo {
    pub id: String,
    pub name: String,
    pub version: String,
    pub extensions: Vec<String>,
}

/// Why a submission could not be judged. Each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    #[error("unknown challenge `{0}`")]
    UnknownChallenge(String),
    #[error("unknown language `{language}`: available are {available}")]
    UnknownLanguage { language: String, available: String },
    #[error("challenge `{challenge}` is not offered in {language}: it is offered in {offered}")]
    LanguageNotOffered { challenge: String, language: String, offered: String },
    #[error(
        "file `{expected}` is missing: challenge `{challenge}` in {language} expects exactly one file, `{expected}`"
    )]
    MissingFile { challenge: String, language: String, expected: String },
    #[error("unexpected file `{name}`: challenge `{challenge}` in {language} expects exactly one file, `{expected}`")]
    UnexpectedFile { challenge: String, language: String, name: String, expected: String },
    #[error("file name {0:?} is not allowed: use a plain name without `/`, `..` or control characters")]
    BadFileName(String),
    /// Not a `#[source]`: the message already holds it, and `{:#}` would print it twice.
    #[error("the sandbox failed: {0}")]
    Sandbox(crate::sandbox::SandboxError),
    #[error("the {language} runner failed: {message}")]
    Runner { language: String, message: String },
}

impl From<crate::sandbox::SandboxError> for JudgeError {
    fn from(error: crate::sandbox::SandboxError) -> Self {
        JudgeError::Sandbox(error)
    }
}

impl JudgeError {
    /// True when the submission itself is at fault (a 4xx), false for a host fault (a 5xx).
    pub fn is_user_error(&self) -> bool {
        !matches!(self, JudgeError::Sandbox(_) | JudgeError::Runner { .. })
    }
}

/// What the queue and the API need from the judge.
pub trait JudgeService: Send + Sync + 'static {
    fn catalog(&self) -> &Catalog;
    fn languages(&self) -> Vec<LanguageInfo>;
    /// Checks a submission without running it (unknown challenge, language, file names).
    fn validate(&self, submission: &Submission) -> Result<(), JudgeError>;
    /// Judges on worker slot `slot` (blocking; call from a blocking thread).
    fn judge(
        &self,
        slot: usize,
        submission: &Submission,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<JudgeReport, JudgeError>;
    /// Runs an ad-hoc program on worker slot `slot` (blocking).
    fn execute(&self, slot: usize, execution: &Execution) -> Result<ExecutionReport, JudgeError>;
    /// Called on worker slot `slot` after each ad-hoc execution, once its
    /// answer is out: time to get the slot's next run ready (warm starts). Blocking.
    fn after_job(&self, _slot: usize) {}
}

/// Checks a submission against the catalog and the loaded languages, before anything runs.
pub fn validate_submission(catalog: &Catalog, languages: &[&str], submission: &Submission) -> Result<(), JudgeError> {
    for file in &submission.files {
        if !crate::challenges::is_plain_file_name(&file.name) {
            return Err(JudgeError::BadFileName(file.name.clone()));
        }
    }
    let challenge =
        catalog.get(&submission.challenge).ok_or_else(|| JudgeError::UnknownChallenge(submission.challenge.clone()))?;
    if !languages.contains(&submission.language.as_str()) {
        return Err(JudgeError::UnknownLanguage {
            language: submission.language.clone(),
            available: languages.join(", "),
        });
    }
    let entry = challenge.languages.get(&submission.language).ok_or_else(|| JudgeError::LanguageNotOffered {
        challenge: challenge.slug.clone(),
        language: submission.language.clone(),
        offered: challenge.languages.keys().cloned().collect::<Vec<_>>().join(", "),
    })?;
    if let Some(other) = submission.files.iter().find(|f| f.name != entry.entry) {
        return Err(JudgeError::UnexpectedFile {
            challenge: challenge.slug.clone(),
            language: submission.language.clone(),
            name: other.name.clone(),
            expected: entry.entry.clone(),
        });
    }
    if submission.files.len() > 1 {
        return Err(JudgeError::UnexpectedFile {
            challenge: challenge.slug.clone(),
            language: submission.language.clone(),
            name: format!("{} (a second copy)", entry.entry),
            expected: entry.entry.clone(),
        });
    }
    if submission.files.is_empty() {
        return Err(JudgeError::MissingFile {
            challenge: challenge.slug.clone(),
            language: submission.language.clone(),
            expected: entry.entry.clone(),
        });
    }
    Ok(())
}
