//! `acejudge exec`: run one command in a fresh box and print its Outcome as JSON.

use super::units::{parse_duration, parse_size};
use crate::sandbox::{Limits, Outcome, Sandbox, SandboxConfig, SandboxSpec};
use anyhow::{bail, Context};
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The largest wall or CPU limit `exec` accepts.
const MAX_TIME: Duration = Duration::from_secs(600);
/// The most processes a run may have at once.
const MAX_PIDS: u64 = 4096;

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Directory whose contents are copied into the box (the working directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Memory of the whole process tree.
    #[arg(long, default_value = "256M", value_parser = parse_size)]
    pub mem: u64,
    /// Wall-clock limit.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub wall: Duration,
    /// CPU-time limit of the whole process tree.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub cpu: Duration,
    /// Processes and threads alive at once.
    #[arg(long, default_value_t = 64)]
    pub pids: u64,
    /// Cap on stdout and on stderr, each.
    #[arg(long, default_value = "1M", value_parser = parse_size)]
    pub output: u64,
    /// Size of the box (and of /tmp).
    #[arg(long = "box-size", default_value = "64M", value_parser = parse_size)]
    pub box_size: u64,
    /// File fed to the program's stdin.
    #[arg(long)]
    pub stdin: Option<PathBuf>,
    /// Extra host path visible read-only inside (repeatable).
    #[arg(long = "ro")]
    pub readonly: Vec<PathBuf>,
    /// Host directory shown copy-on-write inside: the run's writes never reach the host (repeatable).
    #[arg(long = "overlay")]
    pub overlays: Vec<PathBuf>,
    /// Environment variable KEY=VALUE for the program (repeatable); PATH defaults to /usr/bin:/bin.
    #[arg(long = "env")]
    pub env: Vec<String>,
    /// Mount a read-only view of the run's cgroup at /sys/fs/cgroup.
    #[arg(long)]
    pub cgroup_view: bool,
    /// The program and its arguments.
    #[arg(last = true)]
    pub argv: Vec<String>,
}

#[derive(Serialize)]
struct ExecOutput<'a> {
    #[serde(flatten)]
    outcome: &'a Outcome,
    stdout: String,
    stderr: String,
}

fn host_memory_bytes() -> u64 {
    // SAFETY: sysinfo fills the zeroed struct it is given.
    let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a valid out-pointer.
    if unsafe { libc::sysinfo(&mut info) } != 0 {
        return u64::MAX;
    }
    info.totalram as u64 * info.mem_unit as u64
}

/// Checks the arguments before anything runs; each error says what to fix.
pub fn validate(args: &ExecArgs) -> anyhow::Result<()> {
    if args.argv.is_empty() {
        bail!("no command given: put the program and its arguments after `--`, e.g. `acejudge exec -- /usr/bin/python3 -c 'print(1)'`");
    }
    if let Some(dir) = &args.dir {
        if !dir.is_dir() {
            bail!("--dir {}: no such directory", dir.display());
        }
    }
    if let Some(stdin) = &args.stdin {
        if !stdin.is_file() {
            bail!("--stdin {}: no such file", stdin.display());
        }
    }
    let host_memory = host_memory_bytes();
    if args.mem < (4 << 20) || args.mem > host_memory {
        bail!("--mem {} is outside what this host allows: use 4M up to {}M", args.mem, host_memory >> 20);
    }
    for (flag, value) in [("--wall", args.wall), ("--cpu", args.cpu)] {
        if value.is_zero() || value > MAX_TIME {
            bail!(
                "{flag} {}ms is outside what this host allows: use 1ms up to {}s",
                value.as_millis(),
                MAX_TIME.as_secs()
            );
        }
    }
    if args.pids == 0 || args.pids > MAX_PIDS {
        bail!("--pids {} is outside what this host allows: use 1 up to {MAX_PIDS}", args.pids);
    }
    if args.output == 0 || args.output > (256 << 20) {
        bail!("--output {} is outside what this host allows: use 1 byte up to 256M", args.output);
    }
    if args.box_size < (1 << 20) || args.box_size > host_memory / 2 {
        bail!(
            "--box-size {} is outside what this host allows: use 1M up to {}M",
            args.box_size,
            (host_memory / 2) >> 20
        );
    }
    for path in &args.readonly {
        if !path.is_absolute() || !path.exists() {
            bail!("--ro {}: give an absolute path that exists on this host", path.display());
        }
    }
    for path in &args.overlays {
        if !path.is_absolute() || !path.is_dir() {
            bail!("--overlay {}: give an absolute path to an existing directory", path.display());
        }
    }
    for kv in &args.env {
        if !kv.contains('=') || kv.starts_with('=') {
            bail!("--env {kv:?}: use KEY=VALUE");
        }
    }
    Ok(())
}

pub fn run(args: ExecArgs, data_dir: &Path) -> anyhow::Result<u8> {
    validate(&args)?;
    let stdin = match &args.stdin {
        Some(path) => std::fs::read(path).with_context(|| format!("cannot read --stdin {}", path.display()))?,
        None => Vec::new(),
    };
    let config = SandboxConfig { work_dir: data_dir.join("sandbox"), slots: 1, ..SandboxConfig::default() };
    let sandbox = Sandbox::new(config).context("cannot set up the sandbox")?;
    let boxed = sandbox.create_box(0, args.box_size)?;
    if let Some(dir) = &args.dir {
        boxed.copy_from(dir)?;
    }
    let mut env: Vec<(String, String)> =
        args.env.iter().filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))).collect();
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), "/usr/bin:/bin".into()));
    }
    let spec = SandboxSpec {
        argv: args.argv,
        env,
        stdin,
        box_dir: boxed.path().to_path_buf(),
        readonly_paths: args.readonly,
        cgroup_view: args.cgroup_view,
        writable_overlays: args.overlays,
        limits: Limits {
            wall: args.wall,
            cpu: args.cpu,
            memory_bytes: args.mem,
            pids: args.pids,
            output_bytes: args.output,
            tmp_bytes: args.box_size,
            ..Limits::default()
        },
    };
    let outcome = sandbox.run(0, &spec)?;
    let printed = ExecOutput {
        outcome: &outcome,
        stdout: String::from_utf8_lossy(&outcome.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&outcome.stderr).into_owned(),
    };
    println!("{}", serde_json::to_string_pretty(&printed)?);
    Ok(0)
}
