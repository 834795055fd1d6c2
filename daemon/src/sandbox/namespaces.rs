//! Namespaces: the `clone3` that starts a run, and each slot's empty network namespace.
//!
//! A run's init is created by one `clone3` with new pid, ipc and uts
//! namespaces (its mount namespace is a copy of the slot's template), a pidfd for the supervisor, and — on hosts with a cgroup2
//! hierarchy — `CLONE_INTO_CGROUP`, which places it in the run's cgroup before
//! it runs a single instruction (no `cgroup.procs` write on v2). The cgroup
//! namespace is unshared by init once it has joined its v1 cgroups.
//!
//! Network: creating a network namespace costs ~0.4 ms and its teardown is
//! deferred work in the kernel, so each worker slot keeps one empty network
//! namespace (loopback only, down) for all its runs. Nothing of a run survives
//! in it: every socket dies with the run's processes, and SysV IPC (which would
//! survive) lives in the per-run ipc namespace.

use super::error::SandboxError;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// New namespaces of `clone3`. The mount namespace is not among them: init
/// enters a copy of its slot's template instead (see [`super::template`]), so
/// the daemon's own mount tree is neither copied nor torn down.
pub const RUN_NAMESPACES: u64 = (libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS) as u64;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

pub enum Cloned {
    /// In the new process (init of the run). Must never return to the caller's frames.
    Child,
    Parent {
        pidfd: OwnedFd,
    },
}

/// `clone3` into the run's namespaces (and cgroup, when `cgroup_dir` is given).
pub fn clone_run(cgroup_dir: Option<RawFd>) -> Result<Cloned, SandboxError> {
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: RUN_NAMESPACES | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    if let Some(fd) = cgroup_dir {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: `args` is a valid clone_args of the size passed. Without CLONE_VM the child
    // gets a copy of this address space and continues here with a return value of 0;
    // the caller then runs only async-signal-safe code in it and never returns.
    let rc = unsafe { libc::syscall(libc::SYS_clone3, &mut args as *mut CloneArgs, std::mem::size_of::<CloneArgs>()) };
    match rc {
        0 => Ok(Cloned::Child),
        pid if pid > 0 => {
            // SAFETY: CLONE_PIDFD stored a new descriptor that only we own.
            Ok(Cloned::Parent { pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) } })
        }
        _ => Err(SandboxError::syscall("clone3 the run's init")),
    }
}

/// Starts making a network namespace with nothing in it, on a short-lived
/// thread (which unshares, so the daemon's own threads keep the host network);
/// join to get the descriptor that holds it open.
pub fn spawn_empty_network_namespace() -> std::thread::JoinHandle<std::io::Result<OwnedFd>> {
    std::thread::spawn(|| -> std::io::Result<OwnedFd> {
        // SAFETY: unshare only affects this thread, which exits right after.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let file = std::fs::File::open("/proc/thread-self/ns/net")?;
        Ok(OwnedFd::from(file))
    })
}

/// Moves this process into a mount namespace of its own, a slave of the host's:
/// host mounts still appear in it, but the mounts the sandbox makes (each
/// slot's tmpfs) stay private and vanish with the process, even on SIGKILL.
///
/// Call it first thing in `main`, while the process has a single thread
/// (`unshare(CLONE_NEWNS)` applies to the calling thread only).
pub fn private_mount_namespace() -> std::io::Result<()> {
    // SAFETY: unshare takes no pointers.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: valid C string; a propagation change on "/" takes no data.
    let rc = unsafe {
        libc::mount(std::ptr::null(), c"/".as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_SLAVE, std::ptr::null())
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
