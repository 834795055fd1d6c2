//! Per-run cgroups behind one trait, with a cgroup v2 backend (the primary
//! design: pure-v2 systemd hosts) and a v1 backend (memory, pids, cpuacct)
//! chosen by detecting the host's layout at start-up.
//!
//! A backend creates one [`RunCgroup`] per run, with the run's memory and pids
//! limits already written. The child joins it before it execs anything: on v2
//! through `clone3(CLONE_INTO_CGROUP)`, on v1 by writing `0` to the
//! `cgroup.procs` files the run cgroup hands out. After the run the supervisor
//! reads CPU time, peak memory and OOM kills, then removes it.
//!
//! On hybrid hosts (controllers on v1, an empty cgroup2 at
//! `/sys/fs/cgroup/unified`) the v1 backend also creates a v2 cgroup for the
//! run: `clone3` enters it, `cgroup.kill` empties it in one write.

mod io;
pub mod spares;
pub mod v1;
pub mod v2;

use std::os::fd::{BorrowedFd, RawFd};
use std::path::{Path, PathBuf};

pub use io::CgroupError;

/// The limits a cgroup enforces for one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CgroupLimits {
    pub memory_bytes: u64,
    pub pids: u64,
}

/// CPU time used by every process that was ever in the cgroup.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuUsage {
    pub user_us: u64,
    pub system_us: u64,
}

impl CpuUsage {
    pub fn total_us(&self) -> u64 {
        self.user_us + self.system_us
    }
}

/// A cgroup layout on this host, able to make per-run cgroups.
pub trait CgroupBackend: Send + Sync {
    /// `v2`, `v1`, or `v1+v2` for a hybrid host.
    fn version(&self) -> &'static str;
    /// Creates the run's cgroup(s) named `name` with `limits` applied.
    fn create(&self, name: &str, limits: CgroupLimits) -> Result<Box<dyn RunCgroup>, CgroupError>;
    /// The directories runs' cgroups are made in (one per hierarchy).
    fn run_parents(&self) -> Vec<PathBuf>;
}

/// The cgroup(s) of one run.
pub trait RunCgroup: Send {
    /// A v2 cgroup directory for `clone3(CLONE_INTO_CGROUP)`, when the host has one.
    fn clone_into(&self) -> Option<BorrowedFd<'_>>;
    /// Replaces the memory and pids limits (of a cgroup no process has entered yet).
    fn set_limits(&mut self, limits: CgroupLimits) -> Result<(), CgroupError>;
    /// `cgroup.procs` files the child must write `0` to, opened for writing.
    fn join_fds(&self) -> Vec<RawFd>;
    fn cpu_usage(&self) -> Result<CpuUsage, CgroupError>;
    /// Peak memory of the run, when the kernel reports it.
    fn memory_peak(&self) -> Option<u64>;
    /// How many processes the OOM killer killed in this cgroup.
    fn oom_kills(&self) -> Result<u64, CgroupError>;
    /// Kills every process in the cgroup at once, where the kernel can (`cgroup.kill`).
    /// Returns false when this backend cannot; the caller then kills the namespace's init.
    fn kill_all(&self) -> Result<bool, CgroupError>;
    /// Removes the cgroup(s); waits briefly for the last processes to be reaped.
    fn remove(self: Box<Self>) -> Result<(), CgroupError>;
}

/// Which layout this host has, as detected from `/sys/fs/cgroup`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Pure cgroup v2, mounted at this path.
    V2 { mount: PathBuf },
    /// Controllers on v1 under this root, maybe with an empty v2 hierarchy beside them.
    /// `views` are the mounted hierarchies runtimes size themselves from, by
    /// their exact controller lists (`memory`, `cpu,cpuacct`…).
    V1 { root: PathBuf, unified: Option<PathBuf>, views: Vec<String> },
}

/// Detects the layout under `root` (normally `/sys/fs/cgroup`).
pub fn detect(root: &Path) -> Option<Layout> {
    if root.join("cgroup.controllers").exists() {
        return Some(Layout::V2 { mount: root.to_path_buf() });
    }
    if root.join("memory").join("memory.limit_in_bytes").exists() {
        let unified = root.join("unified");
        let unified = unified.join("cgroup.procs").exists().then_some(unified);
        let proc_self = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let views = v1_views(&proc_self, root);
        return Some(Layout::V1 { root: root.to_path_buf(), unified, views });
    }
    None
}

/// The v1 hierarchies (as controller lists) holding memory, pids or CPU that are mounted under `root`.
pub fn v1_views(proc_self_cgroup: &str, root: &Path) -> Vec<String> {
    let mut views: Vec<String> = proc_self_cgroup
        .lines()
        .filter_map(|line| line.split(':').nth(1))
        .filter(|controllers| {
            controllers.split(',').any(|c| matches!(c, "memory" | "pids" | "cpu" | "cpuacct"))
                && root.join(controllers).is_dir()
        })
        .map(String::from)
        .collect();
    views.sort();
    views
}

/// This process's cgroup path in the hierarchy whose controller list contains
/// `controller` (or the v2 hierarchy for `""`), from `/proc/self/cgroup` text.
pub fn own_path(proc_self_cgroup: &str, controller: &str) -> Option<String> {
    proc_self_cgroup.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let matches = if controller.is_empty() {
            controllers.is_empty()
        } else {
            controllers.split(',').any(|c| c == controller)
        };
        matches.then(|| path.to_string())
    })
}

/// Whether the cgroup2 hierarchy mounted at `mount` has `favordynmods` set.
pub fn has_favor_dynmods(mount: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() > 3 && Path::new(fields[1]) == mount && fields[3].split(',').any(|o| o == "favordynmods")
    })
}

/// Remounts the cgroup2 hierarchy at `mount` with `favordynmods`: process
/// migration (writing `cgroup.procs`, on any hierarchy) then no longer waits
/// for an RCU grace period, at a small cost to fork and exit. A host-wide
/// setting, the one systemd and container runtimes recommend for hosts that
/// create many cgroups; needed here only where runs join v1 controllers.
pub fn favor_dynmods(mount: &Path) -> std::io::Result<()> {
    if has_favor_dynmods(mount) {
        return Ok(());
    }
    let target = std::ffi::CString::new(mount.as_os_str().as_encoded_bytes())?;
    // SAFETY: valid C strings; a remount changes only the superblock's options.
    let rc = unsafe {
        libc::mount(
            c"cgroup2".as_ptr(),
            target.as_ptr(),
            c"cgroup2".as_ptr(),
            libc::MS_REMOUNT,
            c"favordynmods".as_ptr().cast(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    tracing::info!(mount = %mount.display(), "cgroup2 remounted with favordynmods");
    Ok(())
}

/// Opens the backend for this host's layout; `group` names the subtree runs go in.
pub fn open_backend(layout: &Layout, group: &str) -> Result<Box<dyn CgroupBackend>, CgroupError> {
    let proc_self = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|source| CgroupError::Read { path: "/proc/self/cgroup".into(), source })?;
    match layout {
        Layout::V2 { mount } => {
            let own = own_path(&proc_self, "").unwrap_or_else(|| "/".into());
            Ok(Box::new(v2::V2Backend::setup(mount, &own, group)?))
        }
        Layout::V1 { root, unified, .. } => {
            Ok(Box::new(v1::V1Backend::setup(root, unified.as_deref(), &proc_self, group)?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_path_finds_v1_controller_and_v2_line() {
        let text = "9:name=systemd:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/x\n0::/user.slice/u.service\n";
        assert_eq!(own_path(text, "memory").as_deref(), Some("/process_api/abc"));
        assert_eq!(own_path(text, "cpuacct").as_deref(), Some("/x"));
        assert_eq!(own_path(text, "").as_deref(), Some("/user.slice/u.service"));
        assert_eq!(own_path(text, "pids"), None);
    }

    #[test]
    fn v1_views_are_the_mounted_hierarchies_with_memory_pids_or_cpu() {
        let root = tempfile::tempdir().unwrap();
        for dir in ["memory", "pids", "cpu,cpuacct", "blkio"] {
            std::fs::create_dir(root.path().join(dir)).unwrap();
        }
        let text = "5:blkio:/\n4:memory:/a\n3:pids:/\n2:cpu,cpuacct:/\n1:name=systemd:/\n0::/\n";
        assert_eq!(v1_views(text, root.path()), ["cpu,cpuacct", "memory", "pids"]);
    }

    #[test]
    fn detect_tells_v2_from_v1_on_fake_trees() {
        let v2 = tempfile::tempdir().unwrap();
        std::fs::write(v2.path().join("cgroup.controllers"), "memory pids\n").unwrap();
        assert_eq!(detect(v2.path()), Some(Layout::V2 { mount: v2.path().into() }));

        let v1 = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(v1.path().join("memory")).unwrap();
        std::fs::write(v1.path().join("memory/memory.limit_in_bytes"), "max").unwrap();
        assert!(matches!(detect(v1.path()), Some(Layout::V1 { unified: None, .. })));

        let empty = tempfile::tempdir().unwrap();
        assert_eq!(detect(empty.path()), None);
    }
}
