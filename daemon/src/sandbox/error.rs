//! The sandbox's one error type: each variant names the step that failed.

use super::cgroup::CgroupError;
use super::child::Step;
use super::landlock::LandlockError;
use super::seccomp::SeccompError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("invalid run: {0}")]
    InvalidSpec(String),
    #[error("worker slot {0} does not exist (this sandbox has {1})")]
    NoSuchSlot(usize, usize),
    #[error("worker slot {0} is already running something")]
    SlotBusy(usize),
    #[error("the sandbox needs root (CAP_SYS_ADMIN and friends); run as root or through the systemd unit")]
    NotRoot,
    #[error("no usable cgroup hierarchy under {0}")]
    NoCgroups(PathBuf),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Landlock(#[from] LandlockError),
    #[error(transparent)]
    Seccomp(#[from] SeccompError),
    #[error("cannot {what} {path}: {source}")]
    Box { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("cannot create the slot's network namespace: {0}")]
    NetworkNamespace(std::io::Error),
    #[error("cannot {what}: {source}")]
    Syscall { what: &'static str, source: std::io::Error },
    #[error("the sandbox could not {}: {}", .step.name(), std::io::Error::from_raw_os_error(*.errno))]
    ChildSetup { step: Step, errno: i32 },
    #[error(
        "the sandbox directory {} is in use by {holder}: one AceJudge process per data dir \
         (use another --data-dir, or go through that process)",
        .dir.display()
    )]
    WorkDirBusy { dir: PathBuf, holder: String },
    #[error("cannot execute `{program}`: {source}")]
    Exec { program: String, source: std::io::Error },
}

impl SandboxError {
    pub(crate) fn syscall(what: &'static str) -> SandboxError {
        SandboxError::Syscall { what, source: std::io::Error::last_os_error() }
    }
}
