//! `acejudge run --lang LANG FILE [--stdin FILE]`: an ad-hoc program through
//! its runner plugin and the sandbox.
//!
//! The program's stdout goes to stdout and its stderr to stderr, unchanged;
//! then one `acejudge:` line on stderr says how it ended (or the compiler's
//! message). `--json` prints the whole execution as JSON instead. The exit
//! status is 0 when the program ran and exited 0, 1 otherwise.
//!
//! A one-shot process pays every set-up cost once per program, so it loads
//! only the runner it needs ([`Registry::load_for`]), reuses a still-valid
//! toolchain probe from the data dir, and builds the [`Sandbox`] (seccomp
//! compile, cgroups, network namespace, slot tmpfs) on a second thread while
//! the plugin is loaded and asked for its toolchain.

use super::runners::{find_runner, PluginArgs};
use super::units::{parse_duration, parse_size};
use crate::plugins::api::Mode;
use crate::plugins::{self, CacheStore, Job, Registry, StepResult};
use crate::sandbox::{Sandbox, SandboxConfig, Status};
use anyhow::{bail, Context};
use clap::Args;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The runner: its id (`python`) or a file extension (`py`).
    #[arg(long)]
    pub lang: String,
    /// The source file (its name is the entry file's name in the box).
    pub file: PathBuf,
    /// File fed to the program's stdin.
    #[arg(long)]
    pub stdin: Option<PathBuf>,
    /// Wall-clock limit of the run step.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub wall: Duration,
    /// Memory of the run step (the runner may add its runtime's allowance).
    #[arg(long, default_value = "256M", value_parser = parse_size)]
    pub mem: u64,
    /// Print the execution (outcomes, diagnosis, stdout, stderr) as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct JsonOutput<'a> {
    #[serde(flatten)]
    execution: &'a plugins::Execution,
    stdout: String,
    stderr: String,
}

pub fn run(args: RunArgs, data_dir: &Path, plugin_args: &PluginArgs) -> anyhow::Result<u8> {
    let source = std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let entry = args
        .file
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{}: the file name must be UTF-8", args.file.display()))?
        .to_string();
    let stdin = match &args.stdin {
        Some(path) => std::fs::read(path).with_context(|| format!("cannot read --stdin {}", path.display()))?,
        None => Vec::new(),
    };
    if args.wall.is_zero() || args.wall > Duration::from_secs(600) {
        bail!("--wall must be between 1ms and 600s");
    }
    let options = plugin_args.load_options(data_dir)?;
    let config = SandboxConfig { work_dir: data_dir.join("sandbox"), slots: 1, ..SandboxConfig::default() };
    let setup = std::thread::Builder::new()
        .name("acejudge-sandbox-setup".into())
        .spawn(move || Sandbox::new(config))
        .context("cannot start the sandbox set-up thread")?;
    let registry = Registry::load_for(&options, &args.lang);
    let runner = find_runner(&registry, &args.lang, &options);
    if let Ok(runner) = &runner {
        // Probe (or read the cached probe) while the sandbox is being set up; errors surface in `execute`.
        let _ = runner.toolchain();
    }
    let sandbox = setup.join().map_err(|_| anyhow::anyhow!("the sandbox set-up thread panicked"));
    let runner = runner?;
    let sandbox = sandbox?.context("cannot set up the sandbox")?;
    let caches = CacheStore::new(&data_dir.join("caches"));
    let mut job = Job::new(Mode::Program, &entry, vec![(entry.clone(), source)]);
    job.stdin = stdin;
    job.limits.run.wall_ms = args.wall.as_millis() as u64;
    job.limits.run.cpu_ms = job.limits.run.wall_ms * 2;
    job.limits.run.memory_bytes = args.mem;
    let execution = plugins::execute(&sandbox, 0, runner, &caches, &job)?;
    let last = execution.run.as_ref().or(execution.compile.as_ref());
    let ok = execution.run.as_ref().is_some_and(|r| r.outcome.status == Status::Ok);
    if args.json {
        let printed = JsonOutput {
            execution: &execution,
            stdout: last.map(|s| String::from_utf8_lossy(&s.outcome.stdout).into_owned()).unwrap_or_default(),
            stderr: last.map(|s| String::from_utf8_lossy(&s.outcome.stderr).into_owned()).unwrap_or_default(),
        };
        println!("{}", serde_json::to_string_pretty(&printed)?);
        return Ok(u8::from(!ok));
    }
    if let Some(step) = last {
        std::io::stdout().write_all(&step.outcome.stdout)?;
        std::io::stdout().flush()?;
        std::io::stderr().write_all(&step.outcome.stderr)?;
    }
    eprintln!("{}", summary(&execution));
    Ok(u8::from(!ok))
}

/// `acejudge: run ok, exit 0, 23 ms wall, 12 ms CPU, 5.1 MiB peak (python, Python 3.11.2)`
fn summary(execution: &plugins::Execution) -> String {
    let describe = |name: &str, step: &StepResult| {
        let o = &step.outcome;
        let status = match &o.status {
            Status::Ok => "ok".to_string(),
            Status::NonzeroExit => "non-zero exit".to_string(),
            other => serde_json::to_value(other)
                .ok()
                .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(|s| s.replace('_', " ")))
                .unwrap_or_else(|| format!("{other:?}")),
        };
        let mut line = format!(
            "acejudge: {name} {status}, exit {}, {} ms wall, {} ms CPU",
            o.exit_code.map_or("-".into(), |c| c.to_string()),
            o.wall_ms,
            o.cpu_user_ms + o.cpu_sys_ms
        );
        if let Some(peak) = o.memory_peak_bytes {
            line.push_str(&format!(", {:.1} MiB peak", peak as f64 / (1 << 20) as f64));
        }
        if let Some(d) = &step.diagnosis {
            line.push_str(&format!("\nacejudge: {:?}: {}", d.kind, d.message));
        }
        line
    };
    let mut lines = Vec::new();
    if let Some(compile) = &execution.compile {
        if compile.outcome.status != Status::Ok || execution.run.is_none() {
            lines.push(describe("compile", compile));
        }
    }
    if let Some(run) = &execution.run {
        lines.push(describe("run", run));
    }
    format!("{} ({}, {})", lines.join("\n"), execution.runner, execution.toolchain_version)
}
