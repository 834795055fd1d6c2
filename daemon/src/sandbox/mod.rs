//! The sandbox: one entry point, [`Sandbox::run`], taking a [`SandboxSpec`] and
//! returning an [`Outcome`]. It knows nothing of challenges, HTTP or SQLite.
//!
//! One file per layer:
//! - [`namespaces`]: `clone3` into new mount, pid, ipc, uts (and cgroup)
//!   namespaces and the slot's empty network namespace;
//! - [`filesystem`]: the minimal root (tmpfs, read-only binds, box, `/tmp`,
//!   `/dev`, fresh `/proc`), `pivot_root`;
//! - [`identity`] (in [`child`]): a distinct unprivileged uid/gid per worker
//!   slot, every capability dropped, `no_new_privs`;
//! - [`landlock`]: read/execute on allowed paths, write only in the box and
//!   `/tmp`, no TCP, scoped abstract sockets and signals;
//! - [`seccomp`]: an allowlist that kills, plus errno filters;
//! - [`cgroup`]: v2 or v1 memory, pids and CPU accounting for the whole tree;
//! - [`rlimits`]: CPU, FSIZE, NOFILE, CORE=0, NPROC as a backstop;
//! - [`supervise`]: the timer, the pipes and the verdict on how the run ended.
//!
//! Fork-to-exec order (the code in [`child`] follows it, numbered the same):
//! 1. init joins the v1 cgroups (v2 is entered by `clone3(CLONE_INTO_CGROUP)`),
//!    then unshares a cgroup namespace rooted there;
//! 2. joins the slot's network namespace; dies with the supervisor;
//! 3. sets the hostname, makes mounts private, assembles the new root, `pivot_root`;
//! 4. adds the new root's Landlock rules to the run's ruleset;
//! 5. forks the payload and reaps everything until the payload exits;
//! 6. the payload takes its stdio pipes, default signals, rlimits, cwd `/box`;
//! 7. drops every capability, switches to the slot's uid/gid, `no_new_privs`;
//! 8. enforces Landlock, marks every inherited descriptor close-on-exec;
//! 9. installs the seccomp filters, as late as possible;
//! 10. `execve`.
//!
//! Everything the child needs (paths, rulesets, BPF programs, argv) is
//! prepared before `clone3`; between `clone3` and `execve` only
//! async-signal-safe syscalls run. When init exits, the kernel kills whatever
//! is left in the pid namespace, so the whole tree is gone when `run` returns.

pub mod boxdir;
pub mod cgroup;
pub mod child;
pub mod error;
pub mod filesystem;
pub mod landlock;
pub mod namespaces;
pub mod rlimits;
pub mod seccomp;
pub mod spec;
pub mod supervise;
mod sys;

pub use boxdir::BoxDir;
pub use error::SandboxError;
pub use spec::{Enforcement, Limits, Outcome, SandboxSpec, Status, TimeLimitKind};

use cgroup::{CgroupBackend, CgroupLimits, Layout};
use child::ChildPlan;
use landlock::LandlockPolicy;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// How the sandbox is set up on this host.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Holds the mount point of the runs' roots and the boxes.
    pub work_dir: PathBuf,
    /// Worker slots: runs that may be in flight at once, each with its own uid.
    pub slots: usize,
    /// The first slot's uid and gid; slot `i` runs as `uid_base + i`.
    pub uid_base: u32,
    /// Where cgroup hierarchies are mounted.
    pub cgroup_root: PathBuf,
    /// The name of the daemon's cgroup subtree that holds the runs.
    pub cgroup_group: String,
    /// Remount the cgroup2 hierarchy with `favordynmods` when runs must be
    /// attached by writing `cgroup.procs` (v1 controllers). Without it every
    /// attach waits for an RCU grace period: 5–25 ms per run on a busy host.
    pub favor_dynmods: bool,
}

impl Default for SandboxConfig {
    /// Two slots, uids from 61000, runs under `/sys/fs/cgroup/…/acejudge`.
    fn default() -> Self {
        SandboxConfig {
            work_dir: PathBuf::from("/var/lib/acejudge/sandbox"),
            slots: 2,
            uid_base: 61000,
            cgroup_root: PathBuf::from("/sys/fs/cgroup"),
            cgroup_group: "acejudge".into(),
            favor_dynmods: true,
        }
    }
}

struct Slot {
    uid: u32,
    store: boxdir::SlotStore,
    netns: OwnedFd,
    busy: Mutex<()>,
}

/// The host-wide sandbox state: filters compiled, cgroups opened, slots ready.
pub struct Sandbox {
    layout: Layout,
    cgroups: Box<dyn CgroupBackend>,
    landlock: LandlockPolicy,
    seccomp: Vec<seccompiler::BpfProgram>,
    slots: Vec<Slot>,
    new_root: PathBuf,
    last_cap: u32,
    runs: AtomicU64,
}

impl Sandbox {
    /// Prepares everything runs share: compiles the seccomp policy, detects
    /// Landlock and the cgroup layout, creates each slot's network namespace.
    pub fn new(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err(SandboxError::NotRoot);
        }
        if config.slots == 0 {
            return Err(SandboxError::InvalidSpec("at least one worker slot is needed".into()));
        }
        let seccomp = seccomp::compile()?;
        let landlock = LandlockPolicy::detect();
        let layout =
            cgroup::detect(&config.cgroup_root).ok_or_else(|| SandboxError::NoCgroups(config.cgroup_root.clone()))?;
        let cgroups = cgroup::open_backend(&layout, &config.cgroup_group)?;
        if config.favor_dynmods {
            if let Layout::V1 { unified: Some(unified), .. } = &layout {
                if let Err(e) = cgroup::favor_dynmods(unified) {
                    tracing::warn!(error = %e, "cannot enable favordynmods: each run's cgroup attach will wait for RCU");
                }
            }
        }
        let new_root = config.work_dir.join("root");
        let boxes = config.work_dir.join("boxes");
        for dir in [&config.work_dir, &new_root, &boxes] {
            std::fs::create_dir_all(dir).map_err(|source| SandboxError::Box {
                what: "create",
                path: dir.clone(),
                source,
            })?;
        }
        let slots = (0..config.slots)
            .map(|i| {
                let netns = namespaces::empty_network_namespace().map_err(SandboxError::NetworkNamespace)?;
                let store = boxdir::SlotStore::mount(&boxes.join(format!("slot{i}")), 64 << 20)?;
                Ok(Slot { uid: config.uid_base + i as u32, store, netns, busy: Mutex::new(()) })
            })
            .collect::<Result<Vec<_>, SandboxError>>()?;
        let last_cap = caps::runtime::procfs_all_supported(None)
            .ok()
            .and_then(|set| set.iter().map(|c| c.index() as u32).max())
            .unwrap_or(40)
            .max(40);
        Ok(Sandbox { layout, cgroups, landlock, seccomp, slots, new_root, last_cap, runs: AtomicU64::new(0) })
    }

    pub fn slots(&self) -> usize {
        self.slots.len()
    }

    /// The uid (and gid) a slot's runs have.
    pub fn slot_uid(&self, slot: usize) -> Option<u32> {
        self.slots.get(slot).map(|s| s.uid)
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Which layers this host enforces.
    pub fn enforcement(&self) -> Enforcement {
        Enforcement {
            landlock_abi: self.landlock.abi(),
            landlock: self.landlock.status().into(),
            cgroup: self.cgroups.version().into(),
            seccomp: true,
            namespaces: ["mount", "pid", "net", "ipc", "uts", "cgroup"].map(String::from).to_vec(),
        }
    }

    /// Creates a fresh, empty box for `slot` on the slot's tmpfs, resized to `size_bytes`.
    pub fn create_box(&self, slot: usize, size_bytes: u64) -> Result<BoxDir, SandboxError> {
        let state = self.slots.get(slot).ok_or(SandboxError::NoSuchSlot(slot, self.slots.len()))?;
        let n = self.runs.fetch_add(1, Ordering::Relaxed);
        state.store.create_box(&format!("box-{n}"), size_bytes, state.uid, state.uid)
    }

    /// Runs `spec` in worker slot `slot` and reports how it ended.
    ///
    /// Errors mean the sandbox could not be set up (or the program could not be
    /// executed); everything the program itself did is in the [`Outcome`].
    pub fn run(&self, slot: usize, spec: &SandboxSpec) -> Result<Outcome, SandboxError> {
        validate(spec)?;
        let slot_state = self.slots.get(slot).ok_or(SandboxError::NoSuchSlot(slot, self.slots.len()))?;
        let _busy = slot_state.busy.try_lock().map_err(|_| SandboxError::SlotBusy(slot))?;
        let n = self.runs.fetch_add(1, Ordering::Relaxed);
        let name = format!("run-{}-{slot}-{n}", std::process::id());
        let limits = CgroupLimits { memory_bytes: spec.limits.memory_bytes, pids: spec.limits.pids };
        let run_cgroup = self.cgroups.create(&name, limits)?;
        let result = self.run_in(slot_state, spec, run_cgroup.as_ref());
        if let Err(e) = run_cgroup.remove() {
            tracing::warn!(error = %e, "cannot remove a run's cgroup");
        }
        result
    }

    fn run_in(
        &self,
        slot: &Slot,
        spec: &SandboxSpec,
        run_cgroup: &dyn cgroup::RunCgroup,
    ) -> Result<Outcome, SandboxError> {
        let ruleset = self.landlock.create_ruleset()?;
        let root = filesystem::plan(
            &filesystem::RootInputs {
                new_root: &self.new_root,
                box_dir: &spec.box_dir,
                extra_readonly: &spec.readonly_paths,
                tmp_bytes: spec.limits.tmp_bytes,
                writable_overlays: &spec.writable_overlays,
                identity: filesystem::Identity { uid: slot.uid, gid: slot.uid },
                cgroup_view: spec.cgroup_view.then_some(&self.layout),
            },
            &self.landlock,
        )
        .map_err(SandboxError::InvalidSpec)?;
        let pipes = supervise::Pipes::new()?;
        let argv = cstrings(spec.argv.iter().map(String::as_str))?;
        let env =
            cstrings(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().iter().map(String::as_str))?;
        let exec_candidates = exec_candidates(spec)?;
        let plan = ChildPlan {
            parent_ends: vec![
                pipes.stdin.1.as_raw_fd(),
                pipes.stdout.0.as_raw_fd(),
                pipes.stderr.0.as_raw_fd(),
                pipes.status.0.as_raw_fd(),
                pipes.exec_err.0.as_raw_fd(),
            ],
            cgroup_procs_fds: run_cgroup.join_fds(),
            netns_fd: Some(slot.netns.as_raw_fd()),
            hostname: CString::from(c"acejudge"),
            new_root: path_cstring(&self.new_root)?,
            mount_ops: root.ops,
            landlock_fd: ruleset.as_ref().map(AsRawFd::as_raw_fd),
            landlock_rules: root.rules,
            status_w: pipes.status.1.as_raw_fd(),
            exec_err_w: pipes.exec_err.1.as_raw_fd(),
            stdin_r: pipes.stdin.0.as_raw_fd(),
            stdout_w: pipes.stdout.1.as_raw_fd(),
            stderr_w: pipes.stderr.1.as_raw_fd(),
            rlimits: rlimits::backstops(&spec.limits),
            cwd: CString::from(c"/box"),
            uid: slot.uid,
            gid: slot.uid,
            last_cap: self.last_cap,
            seccomp_filters: self.seccomp.clone(),
            argv: child::pointer_array(&argv),
            envp: child::pointer_array(&env),
            exec_candidates,
        };
        let started = std::time::Instant::now();
        let clone_into = run_cgroup.clone_into().map(|fd| fd.as_raw_fd());
        let pidfd = match namespaces::clone_run(clone_into)? {
            namespaces::Cloned::Child => child::init_main(&plan),
            namespaces::Cloned::Parent { pidfd } => pidfd,
        };
        // The strings behind argv/envp must outlive the clone; the child has its own copy now.
        drop((argv, env, plan, ruleset));
        let report = supervise::supervise(pidfd, pipes, spec, run_cgroup, started)?;
        let outcome = supervise::decide(report, run_cgroup, &spec.argv[0], self.enforcement())?;
        Ok(outcome)
    }
}

fn validate(spec: &SandboxSpec) -> Result<(), SandboxError> {
    let invalid = |m: &str| Err(SandboxError::InvalidSpec(m.into()));
    if spec.argv.is_empty() || spec.argv[0].is_empty() {
        return invalid("the command is empty: give the program to run");
    }
    if !spec.box_dir.is_dir() {
        return Err(SandboxError::InvalidSpec(format!("box directory {} does not exist", spec.box_dir.display())));
    }
    let l = &spec.limits;
    if l.wall.is_zero() || l.cpu.is_zero() || l.memory_bytes < (1 << 20) || l.pids == 0 || l.output_bytes == 0 {
        return invalid("limits must be positive (and memory at least 1M)");
    }
    Ok(())
}

fn cstrings<'a>(items: impl Iterator<Item = &'a str>) -> Result<Vec<CString>, SandboxError> {
    items
        .map(|s| {
            CString::new(s).map_err(|_| SandboxError::InvalidSpec(format!("argument or variable {s:?} contains NUL")))
        })
        .collect()
}

fn path_cstring(path: &Path) -> Result<CString, SandboxError> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| SandboxError::InvalidSpec(format!("{} contains NUL", path.display())))
}

/// The paths `execve` tries: `argv[0]` itself if it has a `/`, else each `PATH` entry.
fn exec_candidates(spec: &SandboxSpec) -> Result<Vec<CString>, SandboxError> {
    let program = &spec.argv[0];
    if program.contains('/') {
        return cstrings(std::iter::once(program.as_str()));
    }
    let path = spec.env.iter().find(|(k, _)| k == "PATH").map_or("/usr/local/bin:/usr/bin:/bin", |(_, v)| v.as_str());
    let joined: Vec<String> =
        path.split(':').filter(|d| !d.is_empty()).map(|d| format!("{}/{program}", d.trim_end_matches('/'))).collect();
    cstrings(joined.iter().map(String::as_str))
}
