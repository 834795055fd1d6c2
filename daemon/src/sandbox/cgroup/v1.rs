//! The cgroup v1 backend: memory, pids and cpuacct, each its own hierarchy.
//!
//! A run gets a directory in each controller's hierarchy under the daemon's
//! own cgroup there, and the child joins each by writing `0` to its
//! `cgroup.procs`. Memory: `memory.limit_in_bytes` (and `memsw` where swap is
//! accounted); OOM kills are read from `memory.oom_control`'s `oom_kill`
//! counter (`memory.failcnt` does not count them). Peak: `max_usage_in_bytes`.
//!
//! On hybrid hosts the empty cgroup2 hierarchy is used too: the run is cloned
//! into a v2 cgroup there, and `cgroup.kill` ends it in one write.

use super::io::{self, CgroupError};
use super::{own_path, v2, CgroupBackend, CgroupLimits, CpuUsage, RunCgroup};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

const CONTROLLERS: [&str; 3] = ["memory", "pids", "cpuacct"];

pub struct V1Backend {
    /// `[memory, pids, cpuacct]` directories that hold the runs.
    bases: [PathBuf; 3],
    /// The v2 directory that holds the runs on a hybrid host.
    unified_base: Option<PathBuf>,
}

impl V1Backend {
    pub fn setup(
        root: &Path,
        unified: Option<&Path>,
        proc_self_cgroup: &str,
        group: &str,
    ) -> Result<V1Backend, CgroupError> {
        let base_for = |controller: &str| -> Result<PathBuf, CgroupError> {
            let mount = root.join(controller);
            if !mount.join("cgroup.procs").exists() {
                return Err(CgroupError::MissingController { controller: controller.into(), path: mount });
            }
            let own = own_path(proc_self_cgroup, controller).unwrap_or_else(|| "/".into());
            let base = mount.join(own.trim_start_matches('/')).join(group);
            std::fs::create_dir_all(&base).map_err(|source| CgroupError::Create { path: base.clone(), source })?;
            Ok(base)
        };
        let bases = [base_for(CONTROLLERS[0])?, base_for(CONTROLLERS[1])?, base_for(CONTROLLERS[2])?];
        let unified_base = match unified {
            Some(mount) => {
                let own = own_path(proc_self_cgroup, "").unwrap_or_else(|| "/".into());
                let base = mount.join(own.trim_start_matches('/')).join(group);
                std::fs::create_dir_all(&base).map_err(|source| CgroupError::Create { path: base.clone(), source })?;
                Some(base)
            }
            None => None,
        };
        Ok(V1Backend { bases, unified_base })
    }
}

impl CgroupBackend for V1Backend {
    fn version(&self) -> &'static str {
        if self.unified_base.is_some() {
            "v1+v2"
        } else {
            "v1"
        }
    }

    fn run_parents(&self) -> Vec<PathBuf> {
        self.bases.iter().chain(&self.unified_base).cloned().collect()
    }

    fn create(&self, name: &str, limits: CgroupLimits) -> Result<Box<dyn RunCgroup>, CgroupError> {
        // A new cgroup has no limits: the first set_limits only lowers them.
        let unlimited = CgroupLimits { memory_bytes: u64::MAX, pids: u64::MAX };
        let mut run = V1Run { dirs: Vec::new(), procs: Vec::new(), unified: None, limits: unlimited, counters: None };
        match run.configure(self, name, limits) {
            Ok(()) => Ok(Box::new(run)),
            Err(e) => {
                let _ = Box::new(run).remove();
                Err(e)
            }
        }
    }
}

/// One run's v1 cgroups (and its v2 cgroup on hybrid hosts).
pub struct V1Run {
    /// Created directories, in `[memory, pids, cpuacct]` order.
    dirs: Vec<PathBuf>,
    procs: Vec<File>,
    unified: Option<(PathBuf, File)>,
    limits: CgroupLimits,
    counters: Option<V1Counters>,
}

/// The accounting files, opened when the cgroup is made.
struct V1Counters {
    usage_user: io::CounterFile,
    usage_sys: io::CounterFile,
    max_usage: io::CounterFile,
    oom_control: io::CounterFile,
}

impl V1Run {
    fn configure(&mut self, backend: &V1Backend, name: &str, limits: CgroupLimits) -> Result<(), CgroupError> {
        for base in &backend.bases {
            let dir = base.join(name);
            io::create_dir(&dir)?;
            self.dirs.push(dir);
        }
        self.set_limits(limits)?;
        let memory = &self.dirs[0];
        self.counters = Some(V1Counters {
            usage_user: io::CounterFile::open(self.dirs[2].join("cpuacct.usage_user"))?,
            usage_sys: io::CounterFile::open(self.dirs[2].join("cpuacct.usage_sys"))?,
            max_usage: io::CounterFile::open(memory.join("memory.max_usage_in_bytes"))?,
            oom_control: io::CounterFile::open(memory.join("memory.oom_control"))?,
        });
        for dir in &self.dirs {
            let path = dir.join("cgroup.procs");
            let file = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_CLOEXEC)
                .open(&path)
                .map_err(|source| CgroupError::Write { path, source })?;
            self.procs.push(file);
        }
        if let Some(base) = &backend.unified_base {
            let dir = base.join(name);
            io::create_dir(&dir)?;
            let handle = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(&dir)
                .map_err(|source| CgroupError::Read { path: dir.clone(), source })?;
            self.unified = Some((dir, handle));
        }
        Ok(())
    }
}

impl V1Run {
    fn counters(&self) -> Result<&V1Counters, CgroupError> {
        self.counters.as_ref().ok_or_else(|| CgroupError::Read {
            path: self.dirs.first().cloned().unwrap_or_default(),
            source: std::io::Error::other("the cgroup was not fully created"),
        })
    }
}

impl RunCgroup for V1Run {
    fn set_limits(&mut self, limits: CgroupLimits) -> Result<(), CgroupError> {
        let memory = &self.dirs[0];
        let bytes = limits.memory_bytes.to_string();
        let limit = memory.join("memory.limit_in_bytes");
        let memsw = memory.join("memory.memsw.limit_in_bytes");
        // memory+swap may never be below memory: raise it first, lower it last.
        let order = if limits.memory_bytes >= self.limits.memory_bytes { [&memsw, &limit] } else { [&limit, &memsw] };
        for path in order {
            if path == &limit || path.exists() {
                io::write(path, &bytes)?;
            }
        }
        io::write(&self.dirs[1].join("pids.max"), &limits.pids.to_string())?;
        self.limits = limits;
        Ok(())
    }

    fn clone_into(&self) -> Option<BorrowedFd<'_>> {
        self.unified.as_ref().map(|(_, handle)| handle.as_fd())
    }

    fn join_fds(&self) -> Vec<RawFd> {
        self.procs.iter().map(AsRawFd::as_raw_fd).collect()
    }

    fn cpu_usage(&self) -> Result<CpuUsage, CgroupError> {
        let c = self.counters()?;
        Ok(CpuUsage { user_us: c.usage_user.read_u64()? / 1000, system_us: c.usage_sys.read_u64()? / 1000 })
    }

    fn memory_peak(&self) -> Option<u64> {
        self.counters().ok()?.max_usage.read_u64().ok()
    }

    fn oom_kills(&self) -> Result<u64, CgroupError> {
        Ok(self.counters()?.oom_control.read_key("oom_kill")?.unwrap_or(0))
    }

    fn kill_all(&self) -> Result<bool, CgroupError> {
        match &self.unified {
            Some((dir, _)) => v2::kill(dir),
            None => Ok(false),
        }
    }

    fn remove(self: Box<Self>) -> Result<(), CgroupError> {
        let V1Run { dirs, procs, unified, counters, .. } = *self;
        drop((procs, counters));
        let mut first_error = None;
        let unified_dir = unified.map(|(dir, handle)| {
            drop(handle);
            dir
        });
        for dir in dirs.iter().chain(unified_dir.iter()) {
            if let Err(e) = io::remove_dir(dir) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
