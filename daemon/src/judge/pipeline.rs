//! The real [`JudgeService`]: the challenge catalog, the runner plugins and
//! the sandbox, put together.
//!
//! One submission: validate → a test [`Job`] (the entry file + the hidden
//! tests, the challenge's limits) → [`plugins::execute`] (plan, box, compile,
//! run, report) → [`Facts`] → [`verdict::derive`]. Per-test results are kept
//! whatever the verdict.

use super::verdict::{self, Facts};
use super::{
    Execution as AdHoc, ExecutionReport, JudgeError, JudgeReport, JudgeService, LanguageInfo, Progress, Submission,
    TestResult, TestStatus, Verdict,
};
use crate::challenges::{Catalog, Challenge};
use crate::plugins::api::{DiagnosisKind, Mode, StepKind, StepLimits, TestStatus as RunnerTestStatus};
use crate::plugins::{
    self, ArtifactCache, CacheStore, Execution, Job, LoadOptions, Registry, StepResult, ToolchainStatus, WarmStarts,
};
use crate::sandbox::{Sandbox, SandboxConfig, Status};
use std::path::PathBuf;

/// Where the judge finds its parts.
#[derive(Clone, Debug)]
pub struct JudgeConfig {
    pub challenges_dir: PathBuf,
    pub runners_dir: PathBuf,
    /// State: the sandbox's boxes and roots, the runners' prepared caches, cached compile outputs.
    pub data_dir: PathBuf,
    /// Worker slots: judged submissions in flight at once.
    pub slots: usize,
    /// The first slot's uid; slot `i` runs as `uid_base + i`.
    pub uid_base: u32,
    /// Bound on the compile-output cache in `<data_dir>/artifacts`; 0 disables it.
    pub artifact_cache_bytes: u64,
    /// Prepare each slot's next ad-hoc run ahead of time ([`crate::plugins::warm`]).
    pub warm_starts: bool,
}

impl JudgeConfig {
    /// Plugin loading options: in the executable's own directory (a cargo
    /// `target/` dir) only `libacejudge_runner_*.so` are runners.
    pub fn plugin_options(&self) -> LoadOptions {
        let exe_dir = std::env::current_exe().ok().and_then(|p| p.parent().map(PathBuf::from));
        let runner_files_only = exe_dir.is_some_and(|d| d == self.runners_dir);
        LoadOptions { dir: self.runners_dir.clone(), runner_files_only, ..LoadOptions::default() }
    }
}

/// Bytes of compiler output or crash trace kept in a report.
const MAX_MESSAGE_CHARS: usize = 8000;

pub struct Judge {
    catalog: Catalog,
    registry: Registry,
    caches: CacheStore,
    sandbox: Sandbox,
}

impl Judge {
    /// Loads challenges and runner plugins and sets up the sandbox.
    pub fn open(config: &JudgeConfig) -> Result<Judge, JudgeError> {
        Judge::open_with(config, config.plugin_options())
    }

    /// As [`Judge::open`], with explicit plugin options (runner configuration, host policy).
    pub fn open_with(config: &JudgeConfig, plugins: LoadOptions) -> Result<Judge, JudgeError> {
        let catalog = Catalog::load(&config.challenges_dir)
            .map_err(|e| JudgeError::Runner { language: "-".into(), message: e.to_string() })?;
        for problem in &catalog.problems {
            tracing::warn!(%problem, "challenge skipped");
        }
        let registry = Registry::load(&plugins);
        for rejected in registry.rejected() {
            tracing::warn!(error = %rejected, "runner plugin rejected");
        }
        let sandbox = Sandbox::new(SandboxConfig {
            work_dir: config.data_dir.join("sandbox"),
            slots: config.slots,
            uid_base: config.uid_base,
            ..SandboxConfig::default()
        })?;
        let artifacts = ArtifactCache::configured(&config.data_dir.join("artifacts"), config.artifact_cache_bytes);
        let mut caches = CacheStore::new(&config.data_dir.join("caches")).with_artifacts(artifacts);
        if config.warm_starts {
            caches = caches.with_warm_starts(WarmStarts::new(config.slots));
        }
        Ok(Judge { catalog, registry, caches, sandbox })
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Ids of the runners whose toolchain is present.
    fn available(&self) -> Vec<&str> {
        self.registry
            .runners()
            .iter()
            .filter(|r| matches!(r.toolchain_status(), ToolchainStatus::Found { .. }))
            .map(|r| r.id())
            .collect()
    }

    fn runner_error(language: &str, e: impl std::fmt::Display) -> JudgeError {
        JudgeError::Runner { language: language.into(), message: e.to_string() }
    }
}

fn step_limits(wall_ms: u64, cpu_ms: u64, memory_mb: u64, pids: u64, output_bytes: u64) -> StepLimits {
    StepLimits { wall_ms, cpu_ms, memory_bytes: memory_mb << 20, pids, output_bytes }
}

/// The test job for a submission: the challenge's limits, the entry and its hidden tests.
fn test_job(challenge: &Challenge, language: &str, content: &str) -> Option<Job> {
    let entry = challenge.languages.get(language)?;
    let mut files = vec![(entry.entry.clone(), content.as_bytes().to_vec())];
    files.extend(entry.tests.iter().map(|t| (t.name.clone(), t.contents.clone())));
    let mut job = Job::new(Mode::Tests, &entry.entry, files);
    let l = &challenge.limits;
    job.limits.run = step_limits(l.run_wall_ms, l.run_cpu_ms, l.memory_mb, l.pids, l.output_bytes);
    job.limits.compile.wall_ms = l.compile_wall_ms;
    job.limits.compile.cpu_ms = l.compile_wall_ms * 2;
    Some(job)
}

fn diagnosed(step: Option<&StepResult>, kind: DiagnosisKind) -> Option<String> {
    step.and_then(|s| s.diagnosis.as_ref()).filter(|d| d.kind == kind).map(|d| d.message.clone())
}

fn clip(text: &str) -> String {
    crate::plugins::api::clip(text, MAX_MESSAGE_CHARS)
}

fn combined_output(step: &StepResult) -> String {
    let mut text = step.output.stderr.clone();
    if !step.output.stdout.trim().is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&step.output.stdout);
    }
    clip(&text)
}

fn test_status(status: RunnerTestStatus) -> TestStatus {
    match status {
        RunnerTestStatus::Pass => TestStatus::Pass,
        RunnerTestStatus::Fail => TestStatus::Fail,
        RunnerTestStatus::Error => TestStatus::Error,
        RunnerTestStatus::Skipped => TestStatus::Skipped,
    }
}

/// Turns what happened into the report: facts → verdict, tests, messages.
fn report(execution: &Execution) -> JudgeReport {
    let compile = execution.compile.as_ref();
    let run = execution.run.as_ref();
    let tests: Vec<TestResult> = execution
        .report
        .iter()
        .flat_map(|r| &r.tests)
        .map(|t| TestResult {
            name: t.name.clone(),
            status: test_status(t.status),
            duration_ms: t.duration_ms,
            message: t.message.clone(),
        })
        .collect();
    let count = |s: TestStatus| tests.iter().filter(|t| t.status == s).count();
    let compile_error =
        diagnosed(compile, DiagnosisKind::CompileError).or_else(|| diagnosed(run, DiagnosisKind::CompileError));
    let out_of_memory = diagnosed(run, DiagnosisKind::MemoryLimit);
    let facts = Facts {
        compile: compile.map(|s| s.output.status),
        compile_error: compile_error.is_some(),
        run: run.map(|s| s.output.status),
        runtime_out_of_memory: out_of_memory.is_some(),
        passed: count(TestStatus::Pass),
        failed: count(TestStatus::Fail),
        errored: count(TestStatus::Error),
        complete: execution.report.as_ref().is_some_and(|r| r.complete),
    };
    let verdict = verdict::derive(&facts);
    let compile_output = match (&compile_error, compile) {
        (Some(message), _) => Some(clip(message)),
        (None, Some(step)) if step.outcome.status != Status::Ok => Some(combined_output(step)),
        _ => None,
    };
    let message = match verdict {
        Verdict::Accepted | Verdict::WrongAnswer | Verdict::CompilationError => None,
        Verdict::MemoryLimitExceeded => out_of_memory.or_else(|| run.map(combined_output)),
        _ => diagnosed(run, DiagnosisKind::RuntimeError).map(|m| clip(&m)).or_else(|| run.map(combined_output)),
    };
    let timed = run.or(compile);
    JudgeReport {
        verdict,
        tests,
        compile_output,
        message: message.filter(|m| !m.trim().is_empty()),
        wall_ms: timed.map_or(0, |s| s.outcome.wall_ms),
        cpu_ms: timed.map_or(0, |s| s.outcome.cpu_user_ms + s.outcome.cpu_sys_ms),
        memory_peak_bytes: timed.and_then(|s| s.outcome.memory_peak_bytes),
    }
}

impl JudgeService for Judge {
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn languages(&self) -> Vec<LanguageInfo> {
        self.registry
            .runners()
            .iter()
            .filter_map(|r| match r.toolchain_status() {
                ToolchainStatus::Found { toolchain } => Some(LanguageInfo {
                    id: r.id().into(),
                    name: r.info().name.clone(),
                    version: toolchain.version,
                    extensions: r.info().extensions.clone(),
                }),
                ToolchainStatus::Missing { .. } => None,
            })
            .collect()
    }

    fn validate(&self, submission: &Submission) -> Result<(), JudgeError> {
        super::validate_submission(&self.catalog, &self.available(), submission)
    }

    fn judge(
        &self,
        slot: usize,
        submission: &Submission,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<JudgeReport, JudgeError> {
        self.validate(submission)?;
        let challenge = self
            .catalog
            .get(&submission.challenge)
            .ok_or_else(|| JudgeError::UnknownChallenge(submission.challenge.clone()))?;
        let language = submission.language.as_str();
        let runner = self.registry.get(language).ok_or_else(|| JudgeError::UnknownLanguage {
            language: language.into(),
            available: self.available().join(", "),
        })?;
        let content = submission.files.first().map_or("", |f| f.content.as_str());
        let job = test_job(challenge, language, content).ok_or_else(|| JudgeError::LanguageNotOffered {
            challenge: challenge.slug.clone(),
            language: language.into(),
            offered: challenge.languages.keys().cloned().collect::<Vec<_>>().join(", "),
        })?;
        // `compiling` is reported for interpreted languages too: it is the step before the tests.
        progress(Progress::Compiling);
        let mut on_step = |step: StepKind| {
            if step == StepKind::Run {
                progress(Progress::Running);
            }
        };
        let execution = plugins::execute_observed(&self.sandbox, slot, runner, &self.caches, &job, &mut on_step)
            .map_err(|e| Judge::runner_error(language, e))?;
        let report = report(&execution);
        for test in &report.tests {
            progress(Progress::Test(test.clone()));
        }
        Ok(report)
    }

    fn after_job(&self, slot: usize) {
        if let Some(warm) = self.caches.warm_starts() {
            warm.refill(&self.sandbox, slot);
        }
    }

    fn execute(&self, slot: usize, program: &AdHoc) -> Result<ExecutionReport, JudgeError> {
        if !crate::challenges::is_plain_file_name(&program.file.name) {
            return Err(JudgeError::BadFileName(program.file.name.clone()));
        }
        let language = program.language.as_str();
        let available = self.available();
        let runner = self.registry.get(language).filter(|_| available.contains(&language)).ok_or_else(|| {
            JudgeError::UnknownLanguage { language: language.into(), available: available.join(", ") }
        })?;
        let mut job = Job::new(
            Mode::Program,
            &program.file.name,
            vec![(program.file.name.clone(), program.file.content.as_bytes().to_vec())],
        );
        job.stdin = program.stdin.as_bytes().to_vec();
        if let Some(limits) = program.limits {
            limits.apply(&mut job);
        }
        let execution = plugins::execute(&self.sandbox, slot, runner, &self.caches, &job)
            .map_err(|e| Judge::runner_error(language, e))?;
        Ok(execution_report(&execution))
    }
}

/// What an ad-hoc run tells its caller, from everything the plugin host recorded.
pub fn execution_report(execution: &plugins::Execution) -> ExecutionReport {
    let compile_failed = execution.compile.as_ref().filter(|c| c.outcome.status != Status::Ok);
    let run = execution.run.as_ref();
    let status = match (compile_failed, run) {
        (Some(c), _) if matches!(c.outcome.status, Status::NonzeroExit | Status::Signaled) => "compilation_error",
        (Some(c), _) => status_name(&c.outcome.status),
        (None, Some(r)) if diagnosed(Some(r), DiagnosisKind::CompileError).is_some() => "compilation_error",
        (None, Some(r)) if diagnosed(Some(r), DiagnosisKind::MemoryLimit).is_some() => "memory_limit",
        (None, Some(r)) => status_name(&r.outcome.status),
        (None, None) => "internal_error",
    };
    let timed = run.or(execution.compile.as_ref());
    ExecutionReport {
        status: status.into(),
        exit_code: run.and_then(|r| r.outcome.exit_code),
        stdout: run.map(|r| r.output.stdout.clone()).unwrap_or_default(),
        stderr: run.map(|r| r.output.stderr.clone()).unwrap_or_default(),
        compile_output: compile_failed.map(combined_output),
        message: timed.and_then(|s| s.diagnosis.as_ref()).map(|d| d.message.clone()),
        wall_ms: timed.map_or(0, |s| s.outcome.wall_ms),
        cpu_ms: timed.map_or(0, |s| s.outcome.cpu_user_ms + s.outcome.cpu_sys_ms),
        memory_peak_bytes: timed.and_then(|s| s.outcome.memory_peak_bytes),
        language: execution.runner.clone(),
        toolchain_version: execution.toolchain_version.clone(),
    }
}

fn status_name(status: &Status) -> &'static str {
    match status {
        Status::Ok => "ok",
        Status::NonzeroExit | Status::Signaled => "runtime_error",
        Status::TimeLimit { .. } => "time_limit",
        Status::MemoryLimit => "memory_limit",
        Status::OutputLimit => "output_limit",
        Status::SecurityViolation { .. } => "security_violation",
        Status::InternalError { .. } => "internal_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::api::{Plan, ReportSource, StdinSource, Step, TestCase, TestReport};
    use crate::plugins::execute::cached_compile;

    fn execution(tests: &[RunnerTestStatus]) -> Execution {
        let job = Job::new(Mode::Tests, "calc.go", vec![("calc.go".into(), b"package calc\n".to_vec())]);
        let step = Step {
            argv: vec!["/usr/bin/true".into()],
            env: Default::default(),
            limits: job.limits.run,
            readonly_paths: vec![],
            writable_overlays: vec![],
            cgroup_view: false,
            stdin: StdinSource::Empty,
            outputs: vec![],
            warm_argv: None,
        };
        let compile = cached_compile(&job);
        let mut run = cached_compile(&job);
        run.cached = false;
        run.output.step = StepKind::Run;
        run.outcome.wall_ms = 12;
        let tests = tests
            .iter()
            .enumerate()
            .map(|(i, status)| TestCase { name: format!("T{i}"), status: *status, duration_ms: None, message: None })
            .collect();
        Execution {
            runner: "go".into(),
            toolchain_version: "go1.19.8".into(),
            plan: Plan { files: vec![], compile: Some(step.clone()), run: step, report: ReportSource::Stdout },
            compile: Some(compile),
            run: Some(run),
            report: Some(TestReport { tests, complete: true }),
        }
    }

    #[test]
    fn a_cached_compile_is_a_successful_compile() {
        let passing = execution(&[RunnerTestStatus::Pass, RunnerTestStatus::Pass]);
        assert!(passing.compile.as_ref().is_some_and(|c| c.cached && c.outcome.wall_ms == 0));
        let judged = report(&passing);
        assert_eq!(judged.verdict, Verdict::Accepted);
        assert_eq!(judged.compile_output, None);
        assert_eq!(judged.wall_ms, 12, "the run step's time, not the cached compile's");
        assert_eq!(report(&execution(&[RunnerTestStatus::Pass, RunnerTestStatus::Fail])).verdict, Verdict::WrongAnswer);
    }
}
