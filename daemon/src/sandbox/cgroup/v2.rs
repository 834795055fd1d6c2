//! The cgroup v2 backend: one directory per run under a subtree the daemon owns.
//!
//! Files used: `memory.max`, `memory.swap.max`, `pids.max` (limits);
//! `cpu.stat`, `memory.peak`, `memory.events` (accounting); `cgroup.kill`
//! (ending the run). The run is entered with `clone3(CLONE_INTO_CGROUP)`, so
//! no `cgroup.procs` write is ever on the hot path.
//!
//! Under systemd (`Delegate=yes`) the daemon's own cgroup has processes, and
//! v2 forbids controllers in a cgroup with processes, so [`V2Backend::setup`]
//! first moves the daemon into a `supervisor` leaf beside the runs' subtree.

use super::io::{self, CgroupError};
use super::{CgroupBackend, CgroupLimits, CpuUsage, RunCgroup};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub struct V2Backend {
    runs_root: PathBuf,
}

impl V2Backend {
    /// Prepares `<mount><own>/<group>` for runs, enabling memory and pids for it.
    pub fn setup(mount: &Path, own: &str, group: &str) -> Result<V2Backend, CgroupError> {
        let own_dir = mount.join(own.trim_start_matches('/'));
        let available = io::read(&own_dir.join("cgroup.controllers"))?;
        for controller in ["memory", "pids"] {
            if !available.split_whitespace().any(|c| c == controller) {
                return Err(CgroupError::MissingController { controller: controller.into(), path: own_dir });
            }
        }
        if own_dir != mount {
            // No internal processes: the daemon leaves its own cgroup for a leaf beside the runs.
            let leaf = own_dir.join("supervisor");
            io::create_dir(&leaf)?;
            io::write(&leaf.join("cgroup.procs"), &std::process::id().to_string())?;
        }
        io::write(&own_dir.join("cgroup.subtree_control"), "+memory +pids")?;
        let runs_root = own_dir.join(group);
        io::create_dir(&runs_root)?;
        io::write(&runs_root.join("cgroup.subtree_control"), "+memory +pids")?;
        Ok(V2Backend { runs_root })
    }

    /// A backend over an existing directory, for tests against a fake cgroupfs.
    pub fn at(runs_root: PathBuf) -> V2Backend {
        V2Backend { runs_root }
    }
}

impl CgroupBackend for V2Backend {
    fn version(&self) -> &'static str {
        "v2"
    }

    fn run_parents(&self) -> Vec<PathBuf> {
        vec![self.runs_root.clone()]
    }

    fn create(&self, name: &str, limits: CgroupLimits) -> Result<Box<dyn RunCgroup>, CgroupError> {
        let dir = self.runs_root.join(name);
        io::create_dir(&dir)?;
        let made = V2Run::configure(&dir, limits);
        if made.is_err() {
            let _ = io::remove_dir(&dir);
        }
        made.map(|run| Box::new(run) as Box<dyn RunCgroup>)
    }
}

/// One run's v2 cgroup.
pub struct V2Run {
    dir: PathBuf,
    handle: File,
    cpu_stat: io::CounterFile,
    /// Absent on kernels before 5.19.
    memory_peak: Option<io::CounterFile>,
    memory_events: io::CounterFile,
}

impl V2Run {
    fn configure(dir: &Path, limits: CgroupLimits) -> Result<V2Run, CgroupError> {
        write_limits(dir, limits)?;
        let swap = dir.join("memory.swap.max");
        if swap.exists() {
            io::write(&swap, "0")?;
        }
        let handle = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(dir)
            .map_err(|source| CgroupError::Read { path: dir.into(), source })?;
        Ok(V2Run {
            dir: dir.into(),
            handle,
            cpu_stat: io::CounterFile::open(dir.join("cpu.stat"))?,
            memory_peak: io::CounterFile::open(dir.join("memory.peak")).ok(),
            memory_events: io::CounterFile::open(dir.join("memory.events"))?,
        })
    }
}

fn write_limits(dir: &Path, limits: CgroupLimits) -> Result<(), CgroupError> {
    io::write(&dir.join("memory.max"), &limits.memory_bytes.to_string())?;
    io::write(&dir.join("pids.max"), &limits.pids.to_string())
}

impl RunCgroup for V2Run {
    fn set_limits(&mut self, limits: CgroupLimits) -> Result<(), CgroupError> {
        write_limits(&self.dir, limits)
    }

    fn clone_into(&self) -> Option<BorrowedFd<'_>> {
        Some(self.handle.as_fd())
    }

    fn join_fds(&self) -> Vec<RawFd> {
        Vec::new()
    }

    fn cpu_usage(&self) -> Result<CpuUsage, CgroupError> {
        Ok(CpuUsage {
            user_us: self.cpu_stat.read_key("user_usec")?.unwrap_or(0),
            system_us: self.cpu_stat.read_key("system_usec")?.unwrap_or(0),
        })
    }

    fn memory_peak(&self) -> Option<u64> {
        self.memory_peak.as_ref()?.read_u64().ok()
    }

    fn oom_kills(&self) -> Result<u64, CgroupError> {
        Ok(self.memory_events.read_key("oom_kill")?.unwrap_or(0))
    }

    fn kill_all(&self) -> Result<bool, CgroupError> {
        kill(&self.dir)
    }

    fn remove(self: Box<Self>) -> Result<(), CgroupError> {
        let V2Run { dir, handle, cpu_stat, memory_peak, memory_events } = *self;
        drop((handle, cpu_stat, memory_peak, memory_events));
        io::remove_dir(&dir)
    }
}

/// Writes `cgroup.kill`; false when the kernel has no such file (before 5.14).
pub fn kill(dir: &Path) -> Result<bool, CgroupError> {
    let path = dir.join("cgroup.kill");
    if !path.exists() {
        return Ok(false);
    }
    io::write(&path, "1").map(|()| true)
}

#[cfg(test)]
mod tests {
    //! The v2 backend against a fake cgroupfs: a temp directory whose files the
    //! test writes the way the kernel would.
    use super::*;

    fn limits() -> CgroupLimits {
        CgroupLimits { memory_bytes: 256 << 20, pids: 64 }
    }

    /// A run directory as the kernel makes it: the accounting files exist from the start.
    fn fake_run_dir(root: &Path, name: &str) -> PathBuf {
        let dir = root.join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("cpu.stat"), "usage_usec 0\nuser_usec 0\nsystem_usec 0\n").unwrap();
        std::fs::write(dir.join("memory.peak"), "0\n").unwrap();
        std::fs::write(dir.join("memory.events"), "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n").unwrap();
        dir
    }

    #[test]
    fn create_writes_memory_swap_and_pids_limits() {
        let root = tempfile::tempdir().unwrap();
        fake_run_dir(root.path(), "run-1");
        std::fs::write(root.path().join("run-1/memory.swap.max"), "max").unwrap();
        let backend = V2Backend::at(root.path().into());
        let run = backend.create("run-1", limits()).unwrap();
        let read = |f: &str| std::fs::read_to_string(root.path().join("run-1").join(f)).unwrap();
        assert_eq!(read("memory.max"), "268435456");
        assert_eq!(read("memory.swap.max"), "0");
        assert_eq!(read("pids.max"), "64");
        assert!(run.clone_into().is_some(), "v2 runs are entered with CLONE_INTO_CGROUP");
        assert!(run.join_fds().is_empty(), "v2 needs no cgroup.procs write");
    }

    #[test]
    fn set_limits_rewrites_memory_and_pids() {
        let root = tempfile::tempdir().unwrap();
        fake_run_dir(root.path(), "run-4");
        let backend = V2Backend::at(root.path().into());
        let mut run = backend.create("run-4", limits()).unwrap();
        run.set_limits(CgroupLimits { memory_bytes: 1 << 30, pids: 128 }).unwrap();
        let read = |f: &str| std::fs::read_to_string(root.path().join("run-4").join(f)).unwrap();
        assert_eq!(read("memory.max"), "1073741824");
        assert_eq!(read("pids.max"), "128");
    }

    #[test]
    fn accounting_is_read_from_cpu_stat_memory_peak_and_events() {
        let root = tempfile::tempdir().unwrap();
        fake_run_dir(root.path(), "run-2");
        let backend = V2Backend::at(root.path().into());
        let run = backend.create("run-2", limits()).unwrap();
        let dir = root.path().join("run-2");
        std::fs::write(dir.join("cpu.stat"), "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n").unwrap();
        std::fs::write(dir.join("memory.peak"), "1048576\n").unwrap();
        std::fs::write(dir.join("memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n")
            .unwrap();
        assert_eq!(run.cpu_usage().unwrap(), CpuUsage { user_us: 1000, system_us: 500 });
        assert_eq!(run.memory_peak(), Some(1 << 20));
        assert_eq!(run.oom_kills().unwrap(), 1);
    }

    #[test]
    fn kill_all_writes_cgroup_kill_when_the_kernel_has_it() {
        let root = tempfile::tempdir().unwrap();
        fake_run_dir(root.path(), "run-3");
        let backend = V2Backend::at(root.path().into());
        let run = backend.create("run-3", limits()).unwrap();
        let dir = root.path().join("run-3");
        assert!(!run.kill_all().unwrap(), "no cgroup.kill file: the caller must kill init");
        std::fs::write(dir.join("cgroup.kill"), "").unwrap();
        assert!(run.kill_all().unwrap());
        assert_eq!(std::fs::read_to_string(dir.join("cgroup.kill")).unwrap(), "1");
    }

    #[test]
    fn setup_refuses_a_hierarchy_without_memory_or_pids() {
        let mount = tempfile::tempdir().unwrap();
        std::fs::write(mount.path().join("cgroup.controllers"), "cpu io\n").unwrap();
        let err = V2Backend::setup(mount.path(), "/", "acejudge").err().unwrap();
        assert!(err.to_string().contains("`memory` is not available"), "{err}");
    }

    #[test]
    fn setup_in_a_delegated_cgroup_moves_the_daemon_to_a_leaf() {
        let mount = tempfile::tempdir().unwrap();
        let own = mount.path().join("system.slice/acejudge.service");
        std::fs::create_dir_all(&own).unwrap();
        std::fs::write(own.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        let backend = V2Backend::setup(mount.path(), "/system.slice/acejudge.service", "runs").unwrap();
        assert_eq!(backend.runs_root, own.join("runs"));
        let procs = std::fs::read_to_string(own.join("supervisor/cgroup.procs")).unwrap();
        assert_eq!(procs, std::process::id().to_string());
        assert_eq!(std::fs::read_to_string(own.join("cgroup.subtree_control")).unwrap(), "+memory +pids");
        assert_eq!(std::fs::read_to_string(own.join("runs/cgroup.subtree_control")).unwrap(), "+memory +pids");
    }
}
