//! `acejudge runners list | check PATH.so`, and the runners-directory options
//! every command that loads plugins shares.
//!
//! `check` is the conformance kit for plugin authors: it loads one plugin
//! the way the daemon does, reads its declarations, and runs its self-test
//! programs through the real sandbox (a program reading stdin — cold, then
//! on a warm start when the runner offers one, which must end the same —, a
//! program that does not compile, a test suite with known statuses).

use crate::plugins::api::{DiagnosisKind, Mode, TestStatus};
use crate::plugins::{
    self, CacheStore, Job, LoadOptions, LoadedRunner, Registry, ToolchainCache, ToolchainStatus, WarmStarts,
};
use crate::sandbox::{Sandbox, SandboxConfig, Status};
use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where runner plugins come from (global options).
#[derive(Args, Debug, Clone, Default)]
pub struct PluginArgs {
    /// Directory of runner plugins (*.so). Default: the directory of the acejudge executable,
    /// where only libacejudge_runner_*.so are loaded (so a cargo target/ dir works as is).
    #[arg(long, global = true, env = "ACEJUDGE_RUNNERS_DIR")]
    pub runners_dir: Option<PathBuf>,
    /// JSON file with each runner's configuration by id, e.g. {"python": {"python": "/opt/py/bin/python3"}}.
    #[arg(long, global = true, env = "ACEJUDGE_RUNNER_CONFIG")]
    pub runner_config: Option<PathBuf>,
}

impl PluginArgs {
    /// The load options these arguments describe. Successful toolchain probes
    /// are remembered in `<data_dir>/toolchains` and reused while valid
    /// ([`crate::plugins::toolchain_cache`]).
    pub fn load_options(&self, data_dir: &Path) -> anyhow::Result<LoadOptions> {
        let (dir, runner_files_only) = match &self.runners_dir {
            Some(dir) => (dir.clone(), false),
            None => {
                let exe = std::env::current_exe().context("cannot find the acejudge executable's directory")?;
                let dir = exe.parent().map(Path::to_path_buf).context("the executable has no directory")?;
                (dir, true)
            }
        };
        let configs = match &self.runner_config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read --runner-config {}", path.display()))?;
                serde_json::from_str::<BTreeMap<String, serde_json::Value>>(&text).with_context(|| {
                    format!("--runner-config {}: expected a JSON object of runner ids", path.display())
                })?
            }
            None => BTreeMap::new(),
        };
        let mut policy = plugins::HostPolicy::default();
        policy.forbidden.push(std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf()));
        if let Some(config) = &self.runner_config {
            policy.forbidden.push(std::path::absolute(config).unwrap_or_else(|_| config.clone()));
        }
        let toolchain_cache = Some(ToolchainCache { dir: data_dir.join("toolchains"), reuse: true });
        Ok(LoadOptions { dir, runner_files_only, configs, policy, toolchain_cache })
    }
}

#[derive(Args, Debug)]
pub struct RunnersArgs {
    #[command(subcommand)]
    pub command: RunnersCommand,
}

#[derive(Subcommand, Debug)]
pub enum RunnersCommand {
    /// List the loaded runners, their toolchains, and the plugins that were rejected.
    List,
    /// Load one plugin, check its declarations and run its self-tests in the sandbox.
    Check {
        /// The plugin file (.so).
        path: PathBuf,
    },
}

pub fn run(args: RunnersArgs, data_dir: &Path, plugin_args: &PluginArgs) -> anyhow::Result<u8> {
    let mut options = plugin_args.load_options(data_dir)?;
    match args.command {
        RunnersCommand::List => {
            // Listing probes every toolchain afresh and rewrites what the cache remembers.
            if let Some(cache) = &mut options.toolchain_cache {
                cache.reuse = false;
            }
            list(&options)
        }
        RunnersCommand::Check { path } => {
            // The conformance kit asks the plugin itself, and leaves the cache alone.
            options.toolchain_cache = None;
            check(&path, &options, data_dir)
        }
    }
}

fn list(options: &LoadOptions) -> anyhow::Result<u8> {
    let registry = Registry::load(options);
    println!("runners directory: {}", options.dir.display());
    if registry.runners().is_empty() {
        println!("no runner loaded");
    } else {
        println!("{:<10} {:<8} TOOLCHAIN", "ID", "VERSION");
    }
    for runner in registry.runners() {
        let toolchain = match runner.toolchain_status() {
            ToolchainStatus::Found { toolchain } => {
                let main = toolchain.programs.values().next().cloned().unwrap_or_default();
                format!("{} ({main})", toolchain.version)
            }
            ToolchainStatus::Missing { reason } => format!("MISSING: {reason}"),
        };
        println!("{:<10} {:<8} {toolchain}", runner.id(), runner.info().version);
    }
    for rejected in registry.rejected() {
        println!("REJECTED {rejected}");
    }
    Ok(0)
}

/// One line of `check`'s report.
struct Report {
    failed: usize,
    passed: usize,
}

impl Report {
    fn line(&mut self, ok: bool, what: &str, detail: impl AsRef<str>) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
        let detail = detail.as_ref().trim_end().replace('\n', "\n           ");
        println!("{} {what:<18} {detail}", if ok { "ok      " } else { "FAIL    " });
    }
}

fn check(path: &Path, options: &LoadOptions, data_dir: &Path) -> anyhow::Result<u8> {
    if !path.is_file() {
        bail!("{}: no such plugin file", path.display());
    }
    let registry = Registry::load_files(&[path.to_path_buf()], options);
    let mut report = Report { failed: 0, passed: 0 };
    let Some(runner) = registry.runners().first() else {
        for rejected in registry.rejected() {
            report.line(false, "load", rejected.to_string());
        }
        return Ok(1);
    };
    let info = runner.info();
    report.line(
        true,
        "load",
        format!(
            "ABI {}; runner `{}` ({}) {}; extensions {}",
            runner.abi_version(),
            info.id,
            info.name,
            info.version,
            info.extensions.join(", ")
        ),
    );
    let toolchain = match runner.toolchain() {
        Ok(toolchain) => toolchain,
        Err(e) => {
            report.line(false, "toolchain", e.to_string());
            return Ok(1);
        }
    };
    report.line(true, "toolchain", &toolchain.version);
    let a = &toolchain.allowances;
    report.line(
        true,
        "declarations",
        format!(
            "read-only {:?}; extra memory {} MiB, extra pids {}, cgroup view {}, caches {:?}",
            toolchain.readonly_paths,
            a.extra_memory_bytes >> 20,
            a.extra_pids,
            a.cgroup_view,
            toolchain.caches.iter().map(|c| format!("{}@{}", c.name, c.key)).collect::<Vec<_>>()
        ),
    );
    let self_test = match runner.self_test() {
        Ok(self_test) => self_test,
        Err(e) => {
            report.line(false, "self-test", e.to_string());
            return Ok(1);
        }
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        report.line(false, "sandbox", "the self-test programs run in the sandbox, which needs root");
        return Ok(1);
    }
    let config = SandboxConfig { work_dir: data_dir.join("sandbox"), slots: 1, ..SandboxConfig::default() };
    let sandbox = Sandbox::new(config).context("cannot set up the sandbox")?;
    // A check compiles for real every time: no compile outputs from an earlier check.
    let caches = CacheStore::new(&data_dir.join("caches")).with_artifacts(None).with_warm_starts(WarmStarts::new(1));

    let program = &self_test.program;
    let mut job =
        Job::new(Mode::Program, &program.entry, vec![(program.entry.clone(), program.source.clone().into_bytes())]);
    job.stdin = program.stdin.clone().into_bytes();
    let cold = plugins::execute(&sandbox, 0, runner, &caches, &job);
    match &cold {
        Ok(execution) => {
            let stdout = execution.run.as_ref().map(|r| String::from_utf8_lossy(&r.outcome.stdout).into_owned());
            let ok = execution.run.as_ref().is_some_and(|r| r.outcome.status == Status::Ok)
                && stdout.as_deref() == Some(program.expected_stdout.as_str());
            let detail = if ok {
                format!("{} printed {:?} in {} ms", program.entry, program.expected_stdout, wall(execution))
            } else {
                format!("expected {:?}, got {}", program.expected_stdout, describe(execution))
            };
            report.line(ok, "program", detail);
        }
        Err(e) => report.line(false, "program", e.to_string()),
    }
    if let (Ok(cold), Some(warm)) = (&cold, caches.warm_starts()) {
        check_warm_start(&mut report, &sandbox, warm, runner, &caches, &job, cold);
    }

    let broken = &self_test.compile_error;
    let job = Job::new(Mode::Program, &broken.entry, vec![(broken.entry.clone(), broken.source.clone().into_bytes())]);
    match plugins::execute(&sandbox, 0, runner, &caches, &job) {
        Ok(execution) => {
            let diagnosis = execution.compile.iter().chain(execution.run.iter()).find_map(|s| s.diagnosis.clone());
            let ok = diagnosis
                .as_ref()
                .is_some_and(|d| d.kind == DiagnosisKind::CompileError && d.message.contains(&broken.entry));
            let detail = match diagnosis {
                Some(d) if ok => d.message,
                Some(d) => format!("expected a compile error naming {}, got {:?}: {}", broken.entry, d.kind, d.message),
                None => format!("expected a compile error, got no diagnosis: {}", describe(&execution)),
            };
            report.line(ok, "compile error", detail);
        }
        Err(e) => report.line(false, "compile error", e.to_string()),
    }

    if let Some(suite) = &self_test.tests {
        let files = suite.files.iter().map(|(name, source)| (name.clone(), source.clone().into_bytes())).collect();
        let job = Job::new(Mode::Tests, &suite.entry, files);
        match plugins::execute(&sandbox, 0, runner, &caches, &job) {
            Ok(execution) => {
                let got: BTreeMap<String, TestStatus> =
                    execution.report.iter().flat_map(|r| &r.tests).map(|t| (t.name.clone(), t.status)).collect();
                let ok = got == suite.expected;
                let detail = if ok {
                    format!("{} tests with the expected statuses in {} ms", got.len(), wall(&execution))
                } else {
                    format!("expected {:?}\n got {:?}\n{}", suite.expected, got, describe(&execution))
                };
                report.line(ok, "test report", detail);
            }
            Err(e) => report.line(false, "test report", e.to_string()),
        }
    }
    println!("{} passed, {} failed", report.passed, report.failed);
    Ok(u8::from(report.failed > 0))
}

/// When the runner's run step has a warm start, the self-test program run on
/// it must end exactly as it did cold: status, exit code, stdout, stderr.
fn check_warm_start(
    report: &mut Report,
    sandbox: &Sandbox,
    warm: &WarmStarts,
    runner: &LoadedRunner,
    caches: &CacheStore,
    job: &Job,
    cold: &plugins::Execution,
) {
    warm.refill(sandbox, 0);
    if warm.waiting(0).is_none() {
        report.line(true, "warm start", "none offered: the program always starts cold");
        return;
    }
    let line = match plugins::execute(sandbox, 0, runner, caches, job) {
        Ok(warmed) => match (cold.run.as_ref(), warmed.run.as_ref()) {
            (Some(c), Some(w)) if w.warm_started => {
                let same = c.outcome.status == w.outcome.status
                    && c.outcome.exit_code == w.outcome.exit_code
                    && c.outcome.stdout == w.outcome.stdout
                    && c.outcome.stderr == w.outcome.stderr;
                let detail = if same {
                    format!("the program ran on a prepared runtime in {} ms, as it did cold", w.outcome.wall_ms)
                } else {
                    format!("it ended differently than cold:\ncold:{}\nwarm:{}", describe(cold), describe(&warmed))
                };
                (same, detail)
            }
            _ => (false, format!("the prepared run was not used:{}", describe(&warmed))),
        },
        Err(e) => (false, e.to_string()),
    };
    report.line(line.0, "warm start", line.1);
}

fn wall(execution: &plugins::Execution) -> u64 {
    execution.compile.iter().chain(execution.run.iter()).map(|s| s.outcome.wall_ms).sum()
}

/// A failed execution in a few lines: each step's status and output.
fn describe(execution: &plugins::Execution) -> String {
    let mut text = String::new();
    for (name, step) in [("compile", &execution.compile), ("run", &execution.run)] {
        if let Some(step) = step {
            text.push_str(&format!(
                "\n{name}: {:?}, exit {:?}\nstdout: {}\nstderr: {}",
                step.outcome.status,
                step.outcome.exit_code,
                acejudge_runner_api::clip(&String::from_utf8_lossy(&step.outcome.stdout), 1500),
                acejudge_runner_api::clip(&String::from_utf8_lossy(&step.outcome.stderr), 1500)
            ));
        }
    }
    text
}

/// The runner for `lang` from the configured directory, with a clear error when absent.
pub fn find_runner<'a>(registry: &'a Registry, lang: &str, options: &LoadOptions) -> anyhow::Result<&'a LoadedRunner> {
    if let Some(runner) = registry.find(lang) {
        return Ok(runner);
    }
    let known: Vec<&str> = registry.runners().iter().map(LoadedRunner::id).collect();
    let mut message = format!("no runner for `{lang}` in {} (loaded: {})", options.dir.display(), known.join(", "));
    for rejected in registry.rejected() {
        message.push_str(&format!("\nrejected: {rejected}"));
    }
    bail!(message)
}
