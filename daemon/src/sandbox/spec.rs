//! What a run asks for ([`SandboxSpec`], [`Limits`]) and what it got ([`Outcome`]).
//!
//! These types are plain data: they cross into the judge, the CLI's JSON
//! output and (later) the HTTP API, so they derive serde and say nothing about
//! how the sandbox enforces them.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// Resource limits of one run. Every limit applies to the whole process tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Wall-clock time from the start of the run until everything is killed.
    #[serde(with = "duration_ms")]
    pub wall: Duration,
    /// CPU time (user + system) of the whole tree, read from the cgroup.
    #[serde(with = "duration_ms")]
    pub cpu: Duration,
    /// Memory of the whole tree (cgroup `memory.max`), swap disallowed.
    pub memory_bytes: u64,
    /// Processes and threads alive at once in the run (cgroup `pids.max`).
    pub pids: u64,
    /// Bytes kept of stdout, and separately of stderr; more is an output limit.
    pub output_bytes: u64,
    /// Largest file the run may write (`RLIMIT_FSIZE`).
    pub file_size_bytes: u64,
    /// Size of the box's private `/tmp` (a tmpfs, charged to the run's memory).
    pub tmp_bytes: u64,
    /// Open file descriptors per process (`RLIMIT_NOFILE`).
    pub open_files: u64,
}

impl Default for Limits {
    /// The platform's promise: 3 s wall, 256 MiB, 64 processes, 1 MiB of output.
    fn default() -> Self {
        Limits {
            wall: Duration::from_secs(3),
            cpu: Duration::from_secs(6),
            memory_bytes: 256 << 20,
            pids: 64,
            output_bytes: 1 << 20,
            file_size_bytes: 64 << 20,
            tmp_bytes: 64 << 20,
            open_files: 256,
        }
    }
}

/// One run: a program, its environment and its limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxSpec {
    /// `argv[0]` is looked up in the `PATH` of `env` inside the sandbox unless it contains `/`.
    pub argv: Vec<String>,
    /// The complete environment; nothing is inherited from the daemon.
    pub env: Vec<(String, String)>,
    /// Bytes fed to the program's stdin.
    pub stdin: Vec<u8>,
    /// The host directory mounted read-write at `/box` (the working directory).
    pub box_dir: PathBuf,
    /// Extra host paths mounted read-only (and executable) at the same place inside.
    pub readonly_paths: Vec<PathBuf>,
    /// Host directories shown at the same path inside, copy-on-write: the run
    /// reads the host's files, and what it writes lands in a per-run layer in
    /// memory (charged to the run) that is gone when the run ends. The host
    /// directory is never written. For shared build caches (Go's GOCACHE).
    pub writable_overlays: Vec<PathBuf>,
    /// Mount a read-only view of the run's own cgroup at `/sys/fs/cgroup`,
    /// for runtimes that size themselves from it (the JVM, Go, Node).
    pub cgroup_view: bool,
    pub limits: Limits,
}

/// How a run ended, decided in one place ([`crate::sandbox::Sandbox::run`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Status {
    /// Exited with code 0.
    Ok,
    /// Exited with a non-zero code.
    NonzeroExit,
    /// Killed by a signal the sandbox did not send.
    Signaled,
    /// The wall clock or the tree's CPU time ran out.
    TimeLimit { which: TimeLimitKind },
    /// The cgroup's OOM killer fired.
    MemoryLimit,
    /// stdout or stderr passed its cap, or a file passed `RLIMIT_FSIZE`.
    OutputLimit,
    /// A syscall outside the allowlist killed the run.
    SecurityViolation { syscall: Option<String> },
    /// Something in the sandbox itself failed after the program started.
    InternalError { message: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeLimitKind {
    Wall,
    Cpu,
}

/// Which isolation layers were in force for a run, as the kernel reported them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enforcement {
    /// The Landlock ABI used (0 when Landlock is unavailable).
    pub landlock_abi: u32,
    /// `fully_enforced`, `partially_enforced` or `not_enforced`.
    pub landlock: String,
    /// `v2`, `v1` or `v1+v2` (hybrid: controllers on v1, kill and CPU on v2).
    pub cgroup: String,
    pub seccomp: bool,
    pub namespaces: Vec<String>,
}

/// Everything known about a finished run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: Status,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub wall_ms: u64,
    pub cpu_user_ms: u64,
    pub cpu_sys_ms: u64,
    pub memory_peak_bytes: Option<u64>,
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    #[serde(skip)]
    pub stdout: Vec<u8>,
    #[serde(skip)]
    pub stderr: Vec<u8>,
    pub enforcement: Enforcement,
}

mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
