//! Running one job through a runner and the sandbox: plan, box, compile, run, read.
//!
//! ```text
//! Job (mode, entry, files, stdin, limits)
//!   → caches prepared (once per toolchain)      CacheStore::prepare_all
//!   → Plan checked against the host's rules     LoadedRunner::plan
//!   → fresh box: the job's files + support files
//!   → compile outputs cached for these inputs?  → placed in the box, compile skipped
//!   → compile step (if any) in the sandbox      → diagnosis if it failed; stop
//!                                                  its declared outputs cached if it succeeded
//!   → run step in the sandbox                   → diagnosis if it failed
//!   → report (test runs) from stdout or a file read with openat2
//! ```
//!
//! The verdict (Accepted, Wrong Answer…) is not decided here: an
//! [`Execution`] carries each step's [`Outcome`], the runner's [`Diagnosis`]
//! and the [`TestReport`], and the judge decides once, in one place.

use super::artifacts::{self, ArtifactCache, ArtifactKey, KeyInputs, PlacedFile};
use super::cache::{overlay_mount_point, CacheStore};
use super::error::ExecuteError;
use super::policy::check_relative;
use super::registry::LoadedRunner;
use crate::sandbox::{BoxDir, Enforcement, Limits, Outcome, Sandbox, SandboxSpec, Status};
use acejudge_runner_api::{
    Diagnosis, Mode, Plan, PlanRequest, ReportSource, RequestLimits, StdinSource, Step, StepKind, StepLimits,
    StepOutput, StepStatus, TestReport, Toolchain,
};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// The largest report file read back from a box.
const MAX_REPORT_BYTES: u64 = 16 << 20;

/// What to run.
#[derive(Clone, Debug)]
pub struct Job {
    pub mode: Mode,
    /// The user's file name (flat, e.g. `rate_limiter.py`); it must be among `files`.
    pub entry: String,
    /// Every file placed in the box: the entry and, for tests, the hidden tests.
    pub files: Vec<(String, Vec<u8>)>,
    /// For [`Mode::Program`]: the program's stdin.
    pub stdin: Vec<u8>,
    pub limits: RequestLimits,
    /// Size of the box (a tmpfs) and of the run's `/tmp`.
    pub box_bytes: u64,
}

impl Job {
    /// The platform's defaults: compile 10 s wall, 20 s CPU, 1 GiB, 256 pids;
    /// run 3 s wall, 6 s CPU, 256 MiB, 64 pids; 1 MiB of output; a 64 MiB box.
    pub fn new(mode: Mode, entry: &str, files: Vec<(String, Vec<u8>)>) -> Job {
        Job {
            mode,
            entry: entry.into(),
            files,
            stdin: Vec::new(),
            limits: RequestLimits {
                compile: StepLimits {
                    wall_ms: 10_000,
                    cpu_ms: 20_000,
                    memory_bytes: 1 << 30,
                    pids: 256,
                    output_bytes: 1 << 20,
                },
                run: StepLimits {
                    wall_ms: 3000,
                    cpu_ms: 6000,
                    memory_bytes: 256 << 20,
                    pids: 64,
                    output_bytes: 1 << 20,
                },
            },
            box_bytes: 64 << 20,
        }
    }
}

/// One step as it ran.
#[derive(Clone, Debug, Serialize)]
pub struct StepResult {
    pub outcome: Outcome,
    /// What the runner read into a failed step (a compile error, an `OutOfMemoryError`).
    pub diagnosis: Option<Diagnosis>,
    /// The output the runner was shown (stdout and stderr, lossily decoded).
    #[serde(skip)]
    pub output: StepOutput,
    /// The step did not run: its outputs came from the compile-output cache
    /// ([`super::artifacts`]), kept from an earlier successful compile of
    /// byte-identical inputs. The outcome is then `ok` with zero duration and
    /// no output.
    pub cached: bool,
    /// The run step's runtime was started before the job came ([`super::warm`]).
    pub warm_started: bool,
}

/// Everything that happened to a job.
#[derive(Clone, Debug, Serialize)]
pub struct Execution {
    pub runner: String,
    pub toolchain_version: String,
    #[serde(skip)]
    pub plan: Plan,
    pub compile: Option<StepResult>,
    /// `None` when the compile step failed.
    pub run: Option<StepResult>,
    /// For [`Mode::Tests`] when the run step ran.
    pub report: Option<TestReport>,
}

/// Runs `job` with `runner` in worker slot `slot`.
pub fn execute(
    sandbox: &Sandbox,
    slot: usize,
    runner: &LoadedRunner,
    caches: &CacheStore,
    job: &Job,
) -> Result<Execution, ExecuteError> {
    execute_observed(sandbox, slot, runner, caches, job, &mut |_| {})
}

/// As [`execute`], telling `on_step` as each sandboxed step starts (for live progress).
pub fn execute_observed(
    sandbox: &Sandbox,
    slot: usize,
    runner: &LoadedRunner,
    caches: &CacheStore,
    job: &Job,
    on_step: &mut dyn FnMut(StepKind),
) -> Result<Execution, ExecuteError> {
    check_job(job)?;
    let toolchain = runner.toolchain()?;
    let request = PlanRequest {
        mode: job.mode,
        entry: job.entry.clone(),
        files: job.files.iter().map(|(name, _)| name.clone()).collect(),
        limits: job.limits,
        caches: caches.prepare_all(sandbox, slot, runner),
    };
    let mut plan = runner.plan(&request)?;
    let wants_view = plan.run.cgroup_view || plan.compile.as_ref().is_some_and(|c| c.cgroup_view);
    if wants_view && !cgroup_view_works(sandbox, slot) {
        plan.run.cgroup_view = false;
        if let Some(compile) = &mut plan.compile {
            compile.cgroup_view = false;
        }
    }
    let mut execution = Execution {
        runner: runner.id().into(),
        toolchain_version: toolchain.version.clone(),
        plan: plan.clone(),
        compile: None,
        run: None,
        report: None,
    };
    if let (Some(warm), Mode::Program, None) = (caches.warm_starts(), job.mode, &plan.compile) {
        if let Some(outcome) = warm.run(sandbox, slot, runner.id(), toolchain, job, &plan)? {
            let mut run = step_result(runner, outcome, StepKind::Run, job, None)?;
            run.warm_started = true;
            execution.run = Some(run);
            return Ok(execution);
        }
    }
    let mut boxed = fill_box(sandbox, slot, job, &plan)?;
    if let Some(compile) = &plan.compile {
        let cache = caches.artifacts().filter(|_| !compile.outputs.is_empty());
        let key = cache.and_then(|_| compile_key(runner, toolchain, compile, job, &plan));
        let mut restored = false;
        if let (Some(cache), Some(key)) = (cache, &key) {
            if let Some(found) = cache.load(key) {
                match artifacts::restore(&found, &boxed) {
                    Ok(()) => restored = true,
                    Err(e) => {
                        tracing::warn!(error = %e, %key, "cached compile outputs not placed; compiling");
                        drop(boxed);
                        boxed = fill_box(sandbox, slot, job, &plan)?;
                    }
                }
            }
        }
        if restored {
            tracing::debug!(runner = runner.id(), key = ?key.map(|k| k.hex()), "compile skipped: its outputs were cached");
            execution.compile = Some(cached_compile(job));
        } else {
            on_step(StepKind::Compile);
            let result = run_step(sandbox, slot, runner, toolchain, &boxed, compile, StepKind::Compile, job, None)?;
            let failed = result.outcome.status != Status::Ok;
            execution.compile = Some(result);
            if failed {
                return Ok(execution);
            }
            if let (Some(cache), Some(key)) = (cache, &key) {
                keep_outputs(cache, key, &boxed, compile);
            }
        }
    }
    let report_file = match &plan.report {
        ReportSource::File { path } if job.mode == Mode::Tests => Some(PathBuf::from(path)),
        _ => None,
    };
    on_step(StepKind::Run);
    let result =
        run_step(sandbox, slot, runner, toolchain, &boxed, &plan.run, StepKind::Run, job, report_file.as_deref())?;
    if job.mode == Mode::Tests {
        execution.report = Some(runner.parse_report(&result.output)?);
    }
    execution.run = Some(result);
    Ok(execution)
}

/// A fresh box holding the job's files and the plan's support files.
fn fill_box(sandbox: &Sandbox, slot: usize, job: &Job, plan: &Plan) -> Result<BoxDir, ExecuteError> {
    let boxed = sandbox.create_box(slot, job.box_bytes)?;
    place_files(&boxed, job, plan)?;
    Ok(boxed)
}

/// Writes the job's files and the plan's support files into `boxed`.
pub(crate) fn place_files(boxed: &BoxDir, job: &Job, plan: &Plan) -> Result<(), ExecuteError> {
    for (name, contents) in &job.files {
        boxed.write_file(Path::new(name), contents, false)?;
    }
    for file in &plan.files {
        boxed.write_file(Path::new(&file.path), file.contents.as_bytes(), file.executable)?;
    }
    Ok(())
}

/// The compile-output cache key of `compile`: the runner, the toolchain, the
/// step as it will run and every file [`fill_box`] places, with its mode.
fn compile_key(
    runner: &LoadedRunner,
    toolchain: &Toolchain,
    compile: &Step,
    job: &Job,
    plan: &Plan,
) -> Option<ArtifactKey> {
    let files: Vec<PlacedFile> = job
        .files
        .iter()
        .map(|(name, contents)| PlacedFile { name, mode: 0o644, contents })
        .chain(plan.files.iter().map(|f| PlacedFile {
            name: &f.path,
            mode: if f.executable { 0o755 } else { 0o644 },
            contents: f.contents.as_bytes(),
        }))
        .collect();
    artifacts::key(&KeyInputs {
        runner: runner.id(),
        runner_version: &runner.info().version,
        toolchain_version: &toolchain.version,
        toolchain_paths: &toolchain.readonly_paths,
        step: compile,
        stdin: &job.stdin,
        box_bytes: job.box_bytes,
        files: &files,
    })
}

/// After a successful compile: reads its declared outputs back from the box
/// (beneath it, no links) and stores them. Outputs that cannot be cached are
/// logged and skipped; the job goes on either way.
fn keep_outputs(cache: &ArtifactCache, key: &ArtifactKey, boxed: &BoxDir, compile: &Step) {
    let outputs = match artifacts::read_outputs(boxed.path(), &compile.outputs, cache.max_entry_bytes()) {
        Ok(outputs) => outputs,
        Err(e) => {
            tracing::info!(error = %e, "compile outputs not cached");
            return;
        }
    };
    match cache.store(key, &outputs) {
        Ok(true) => tracing::debug!(%key, bytes = outputs.bytes(), "compile outputs cached"),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "compile outputs not cached"),
    }
}

/// The compile step's result when its outputs came from the cache: a success
/// that took no time and printed nothing.
pub(crate) fn cached_compile(job: &Job) -> StepResult {
    let outcome = Outcome {
        status: Status::Ok,
        exit_code: Some(0),
        signal: None,
        wall_ms: 0,
        cpu_user_ms: 0,
        cpu_sys_ms: 0,
        memory_peak_bytes: None,
        stdout_bytes: 0,
        stderr_bytes: 0,
        stdout_truncated: false,
        stderr_truncated: false,
        stdout: Vec::new(),
        stderr: Vec::new(),
        enforcement: Enforcement {
            landlock_abi: 0,
            landlock: "not_run".into(),
            cgroup: String::new(),
            seccomp: false,
            namespaces: Vec::new(),
        },
    };
    let output = step_output(&outcome, StepKind::Compile, job, None);
    StepResult { outcome, diagnosis: None, output, cached: true, warm_started: false }
}

/// Whether this host's sandbox can mount a run's cgroup view. A step that
/// asks for one runs without it where it cannot (logged once): runtimes then
/// size themselves from the explicit flags their runner gives them.
fn cgroup_view_works(sandbox: &Sandbox, slot: usize) -> bool {
    static WORKS: OnceLock<bool> = OnceLock::new();
    *WORKS.get_or_init(|| {
        let probe = || -> Result<Status, crate::sandbox::SandboxError> {
            let boxed = sandbox.create_box(slot, 1 << 20)?;
            let spec = SandboxSpec {
                argv: vec!["/bin/true".into()],
                env: vec![],
                stdin: vec![],
                box_dir: boxed.path().to_path_buf(),
                readonly_paths: vec![],
                writable_overlays: vec![],
                cgroup_view: true,
                limits: Limits::default(),
            };
            Ok(sandbox.run(slot, &spec)?.status)
        };
        match probe() {
            Ok(Status::Ok) => true,
            Ok(status) => {
                tracing::warn!(?status, "the sandbox's cgroup view does not work here; runs go without it");
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "the sandbox cannot mount a cgroup view here; runs go without it");
                false
            }
        }
    })
}

fn check_job(job: &Job) -> Result<(), ExecuteError> {
    for (name, _) in &job.files {
        check_relative(name).map_err(ExecuteError::InvalidJob)?;
        if name.contains('/') {
            return Err(ExecuteError::InvalidJob(format!("{name}: the box is flat, file names have no `/`")));
        }
    }
    if !job.files.iter().any(|(name, _)| *name == job.entry) {
        return Err(ExecuteError::InvalidJob(format!("the entry file {} is not among the files", job.entry)));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn run_step(
    sandbox: &Sandbox,
    slot: usize,
    runner: &LoadedRunner,
    toolchain: &Toolchain,
    boxed: &BoxDir,
    step: &Step,
    kind: StepKind,
    job: &Job,
    report_file: Option<&Path>,
) -> Result<StepResult, ExecuteError> {
    let spec = sandbox_spec(step, boxed, toolchain, &job.stdin, job.box_bytes);
    let outcome = sandbox.run(slot, &spec)?;
    let report = report_file.and_then(|path| match boxed.read_file(path, MAX_REPORT_BYTES) {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) => {
            tracing::debug!(error = %e, "no report file");
            None
        }
    });
    step_result(runner, outcome, kind, job, report)
}

/// A finished step with the runner's diagnosis when it failed.
fn step_result(
    runner: &LoadedRunner,
    outcome: Outcome,
    kind: StepKind,
    job: &Job,
    report: Option<String>,
) -> Result<StepResult, ExecuteError> {
    let output = step_output(&outcome, kind, job, report);
    let diagnosis = if outcome.status == Status::Ok { None } else { runner.diagnose(&output)? };
    Ok(StepResult { outcome, diagnosis, output, cached: false, warm_started: false })
}

/// The sandbox run for a planned step (stdin given only when the step asks
/// for it), with a private `/tmp` of `tmp_bytes`.
pub(crate) fn sandbox_spec(
    step: &Step,
    boxed: &BoxDir,
    toolchain: &Toolchain,
    stdin: &[u8],
    tmp_bytes: u64,
) -> SandboxSpec {
    let l = &step.limits;
    SandboxSpec {
        argv: step.argv.clone(),
        env: step.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        stdin: if step.stdin == StdinSource::Request { stdin.to_vec() } else { Vec::new() },
        box_dir: boxed.path().to_path_buf(),
        readonly_paths: toolchain.readonly_paths.iter().chain(&step.readonly_paths).map(PathBuf::from).collect(),
        writable_overlays: step.writable_overlays.iter().map(|p| overlay_mount_point(Path::new(p))).collect(),
        cgroup_view: step.cgroup_view,
        limits: Limits {
            wall: Duration::from_millis(l.wall_ms),
            cpu: Duration::from_millis(l.cpu_ms),
            memory_bytes: l.memory_bytes,
            pids: l.pids,
            output_bytes: l.output_bytes,
            tmp_bytes,
            ..Limits::default()
        },
    }
}

fn step_output(outcome: &Outcome, step: StepKind, job: &Job, report: Option<String>) -> StepOutput {
    StepOutput {
        step,
        mode: job.mode,
        entry: job.entry.clone(),
        status: match outcome.status {
            Status::Ok => StepStatus::Ok,
            Status::NonzeroExit => StepStatus::NonzeroExit,
            Status::Signaled => StepStatus::Signaled,
            Status::TimeLimit { .. } => StepStatus::TimeLimit,
            Status::MemoryLimit => StepStatus::MemoryLimit,
            Status::OutputLimit => StepStatus::OutputLimit,
            Status::SecurityViolation { .. } => StepStatus::SecurityViolation,
            Status::InternalError { .. } => StepStatus::InternalError,
        },
        exit_code: outcome.exit_code,
        signal: outcome.signal,
        wall_ms: outcome.wall_ms,
        stdout: String::from_utf8_lossy(&outcome.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&outcome.stderr).into_owned(),
        stdout_truncated: outcome.stdout_truncated,
        stderr_truncated: outcome.stderr_truncated,
        report,
    }
}
