//! The data that crosses the plugin boundary, as JSON.
//!
//! Every type here is plain serde data: the host and a plugin may be built by
//! different compilers, so nothing crosses as a Rust layout. Paths are
//! `String`s (they are absolute paths on the host, shown at the same place
//! inside the sandbox), sizes are bytes and times are milliseconds.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a runner is: static facts, known without looking at the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunnerInfo {
    /// The language id users pick (`go`, `python`, …): `[a-z0-9-]+`, unique per host.
    pub id: String,
    /// Human-readable name (`Go`, `Python 3`).
    pub name: String,
    /// The plugin's own version (not the toolchain's).
    pub version: String,
    /// Source file extensions without the dot (`["py"]`); the first is the usual one.
    pub extensions: Vec<String>,
    /// One sentence: which test framework and how tests are found.
    pub tests: String,
}

/// The plugin's configuration, chosen by the host's administrator: a JSON
/// object whose keys each runner documents (e.g. `{"python": "/opt/py/bin/python3"}`).
/// `null` or `{}` means "use the defaults".
pub type RunnerConfig = serde_json::Value;

/// A toolchain the runner found on this host, and what it needs inside the sandbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Toolchain {
    /// The toolchain's own version string (`go1.19.8`, `Python 3.11.2`).
    pub version: String,
    /// Named paths the runner's plans use (`{"go": "/usr/lib/go-1.19/bin/go"}`).
    /// The host hands the whole `Toolchain` back with every `plan` call.
    pub programs: BTreeMap<String, String>,
    /// Host paths the toolchain needs inside the sandbox besides the system dirs
    /// (`/usr`, `/bin`, `/lib*` are always there), mounted read-only.
    pub readonly_paths: Vec<String>,
    /// What the runtime needs beyond what the challenge promises the user's code.
    pub allowances: Allowances,
    /// Caches the host prepares once per `key` and shows copy-on-write to runs.
    pub caches: Vec<CacheSpec>,
}

/// Resources a runtime needs for itself. A plan's step limits may exceed the
/// request's by at most these amounts; the host checks it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowances {
    /// Memory added to the requested limit for the runtime itself (the JVM's
    /// metaspace, code cache and threads). By default, none.
    pub extra_memory_bytes: u64,
    /// Processes/threads added to the requested limit (JVM and Go runtime threads).
    pub extra_pids: u64,
    /// The runtime reserves much virtual memory (JVM, Go, V8): memory must be
    /// limited by cgroup only, never `RLIMIT_AS`. (AceJudge never sets `RLIMIT_AS`.)
    pub unlimited_address_space: bool,
    /// The runtime sizes itself from its cgroup: steps may ask for a read-only
    /// view of their own cgroup at `/sys/fs/cgroup`.
    pub cgroup_view: bool,
}

/// A cache prepared once per `key` (e.g. Go's build cache for one toolchain version).
///
/// The host creates a fresh box, writes `warmup.files`, runs `warmup.steps`
/// in the sandbox, and keeps what they left in `warmup.output_dir` as a host
/// directory (dirs mode 0777, files 0644). Later plans get its path in
/// [`PlanRequest::caches`] and list it in [`Step::writable_overlays`]: each run
/// sees it copy-on-write, so no run can poison it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheSpec {
    /// `[a-z0-9-]+`, unique within the runner.
    pub name: String,
    /// Changes whenever the cache's contents would (toolchain version, flags).
    pub key: String,
    pub warmup: Warmup,
}

/// How to fill a cache: files, steps, and the box directory that becomes the cache.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warmup {
    pub files: Vec<PlanFile>,
    pub steps: Vec<Step>,
    /// Relative to the box.
    pub output_dir: String,
}

/// What the host wants to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// An ad-hoc program: the entry file reads stdin and writes stdout.
    Program,
    /// The entry file against hidden tests placed next to it (`challenges/FORMAT.md`).
    Tests,
}

/// Limits of one step, as in the sandbox: the whole process tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepLimits {
    pub wall_ms: u64,
    pub cpu_ms: u64,
    pub memory_bytes: u64,
    pub pids: u64,
    /// Cap on stdout and on stderr, each.
    pub output_bytes: u64,
}

/// The limits the host grants each step before the runner's allowances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestLimits {
    pub compile: StepLimits,
    pub run: StepLimits,
}

/// A request for a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRequest {
    pub mode: Mode,
    /// The user's file, e.g. `main.py`; it sits in the box's top directory.
    pub entry: String,
    /// Every file the host puts in the (flat) box, the entry included.
    pub files: Vec<String>,
    pub limits: RequestLimits,
    /// Prepared caches by name: absolute host paths. A cache that could not be
    /// prepared is absent, and the plan must still work without it.
    pub caches: BTreeMap<String, String>,
}

/// Where a step's stdin comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StdinSource {
    /// Nothing (end of file at once). The default.
    #[default]
    Empty,
    /// The bytes the user gave with the request (ad-hoc programs).
    Request,
}

/// One program run in the sandbox, cwd = the box (`/box`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// An argv array (never a shell string); `argv[0]` should be an absolute path.
    pub argv: Vec<String>,
    /// The complete environment: nothing is inherited.
    pub env: BTreeMap<String, String>,
    pub limits: StepLimits,
    /// Extra host paths mounted read-only for this step (the toolchain's are added by the host).
    #[serde(default)]
    pub readonly_paths: Vec<String>,
    /// Prepared cache directories shown copy-on-write (paths from [`PlanRequest::caches`]).
    #[serde(default)]
    pub writable_overlays: Vec<String>,
    /// A read-only view of the step's own cgroup at `/sys/fs/cgroup`.
    #[serde(default)]
    pub cgroup_view: bool,
    #[serde(default)]
    pub stdin: StdinSource,
    /// For a compile step: what it builds that the run step needs, as paths
    /// relative to the box (`.acejudge-bin`, `out`); each a regular file or a
    /// directory of them. Empty (the default, and what plugins built before
    /// this field existed send) means the compile step always runs.
    ///
    /// When a compile step declares its outputs, the host may keep them after
    /// a **successful** compile and, for a later job whose inputs are
    /// byte-identical, place them in the fresh box and skip the compile step
    /// (it is then reported as `cached`, a success with zero duration). The
    /// key is a SHA-256 over the runner's id and version, the toolchain's
    /// version, this step exactly as planned (argv, environment, limits,
    /// paths, overlays, outputs) and every file placed in the box before it
    /// (name, mode, contents). So declare *everything* the run step reads that
    /// the compile step wrote, and nothing the compile step did not write: a
    /// missing declaration makes the cached run fail; a compile that writes
    /// anything else the run step depends on must declare no outputs.
    /// Outputs are read back with `openat2` beneath the box, never following
    /// a link; one holding a link or a special file, or larger than the
    /// host's per-entry bound, is simply not cached. Ignored on run steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<String>,
    /// For a run step: an argv that starts the runtime *before* the program
    /// is known, then runs the program exactly as [`Step::argv`] would. The
    /// host may start it ahead of a job in a sandbox prepared for the same
    /// step (same environment, limits and paths), so that a job finds its
    /// runtime already loaded. The process finds a descriptor number in the
    /// environment variable `ACEJUDGE_START_FD`; it must remove that variable,
    /// read one line from the descriptor (the entry file's name, relative to
    /// the box, written when the job's files are in the box and its stdin is
    /// ready), close it, and then run the entry as `argv` does: same
    /// arguments, `sys.argv`/`process.argv`, module search path, output and
    /// exit status. The run's clocks start when the line is written, so the
    /// runtime's start-up is not charged to the program. `None` (the default)
    /// means the step always starts cold. Ignored on compile steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm_argv: Option<Vec<String>>,
}

/// A file the runner places in the box (support scripts, config).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanFile {
    /// Relative to the box, no `..`; directories are created.
    pub path: String,
    pub contents: String,
    #[serde(default)]
    pub executable: bool,
}

/// Where the test framework's results are read from after the run step.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReportSource {
    /// The run step's stdout. The default.
    #[default]
    Stdout,
    /// A file the run writes in the box (read without following links).
    File { path: String },
}

/// How to build and run one submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Support files written next to the user's files (never replacing one).
    pub files: Vec<PlanFile>,
    /// Run first when present; if it fails, the run step is skipped.
    pub compile: Option<Step>,
    pub run: Step,
    /// For [`Mode::Tests`]: where the report is.
    pub report: ReportSource,
}

/// Which step produced a [`StepOutput`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Compile,
    Run,
}

/// How a step ended, as the sandbox saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Ok,
    NonzeroExit,
    Signaled,
    TimeLimit,
    MemoryLimit,
    OutputLimit,
    SecurityViolation,
    InternalError,
}

/// What a step left behind, handed to [`crate::Runner::parse_report`] and
/// [`crate::Runner::diagnose`]. Output is decoded lossily as UTF-8.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepOutput {
    pub step: StepKind,
    pub mode: Mode,
    pub entry: String,
    pub status: StepStatus,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub wall_ms: u64,
    pub stdout: String,
    pub stderr: String,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    /// The report file's contents when the plan named one (and it exists).
    pub report: Option<String>,
}

/// A test's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestStatus {
    /// The test ran and its assertions held.
    Pass,
    /// An assertion failed.
    Fail,
    /// The test raised/panicked/threw something other than an assertion failure,
    /// or could not be loaded.
    Error,
    Skipped,
}

/// One test's entry in a report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestCase {
    /// As the framework names it (`TestAllow/burst`, `test_rate.T.test_x`, `group > case`).
    pub name: String,
    pub status: TestStatus,
    pub duration_ms: Option<f64>,
    /// For non-passing tests: what was expected and what happened, trimmed.
    pub message: Option<String>,
}

/// One entry per test, in the order the framework reported them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TestReport {
    pub tests: Vec<TestCase>,
    /// The framework reported the end of the suite. `false` when the run was
    /// killed or crashed mid-suite: `tests` then holds what was reported so far.
    pub complete: bool,
}

impl TestReport {
    /// How many tests have `status`.
    pub fn count(&self, status: TestStatus) -> usize {
        self.tests.iter().filter(|t| t.status == status).count()
    }
}

/// A runner's reading of a failed step, more precise than the sandbox's status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub kind: DiagnosisKind,
    /// The part of the output a user needs (the compiler's message with file and line, the exception).
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosisKind {
    /// The source does not compile (or, for interpreted languages, does not parse).
    CompileError,
    /// The program crashed: uncaught exception, panic.
    RuntimeError,
    /// The runtime ran out of its memory (`OutOfMemoryError`, V8 heap limit).
    MemoryLimit,
}

/// A runner's self-test, run by `acejudge runners check`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfTest {
    /// An ad-hoc program: `entry` holding `source`, fed `stdin`, must print `expected_stdout`.
    pub program: SelfTestProgram,
    /// A source that does not compile: the diagnosis must be a compile error naming `entry`.
    pub compile_error: SelfTestProgram,
    /// A test run with known per-test statuses.
    pub tests: Option<SelfTestSuite>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfTestProgram {
    pub entry: String,
    pub source: String,
    pub stdin: String,
    pub expected_stdout: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfTestSuite {
    pub entry: String,
    /// The entry file and the test files, by name.
    pub files: BTreeMap<String, String>,
    /// Test name → the status the report must give it.
    pub expected: BTreeMap<String, TestStatus>,
}
