//! The sandbox: one entry point, [`Sandbox::run`], taking a [`SandboxSpec`] and
//! returning an [`Outcome`]. It knows nothing of challenges, HTTP or SQLite.
//!
//! One file per layer:
//! - [`namespaces`]: `clone3` into new pid, ipc, uts (and cgroup)
//!   namespaces and the slot's empty network namespace;
//! - [`filesystem`] and [`template`]: the minimal root (tmpfs, read-only
//!   binds, `/dev`) built once per slot and shape in a template mount
//!   namespace; each run's copy of it gets the box, `/tmp`, fresh `/proc`;
//! - [`identity`] (in [`child`]): a distinct unprivileged uid/gid per worker
//!   slot, every capability dropped, `no_new_privs`;
//! - [`landlock`]: read/execute on allowed paths, write only in the box and
//!   `/tmp`, no TCP, scoped abstract sockets and signals;
//! - [`seccomp`]: an allowlist that kills, plus errno filters;
//! - [`cgroup`]: v2 or v1 memory, pids and CPU accounting for the whole tree,
//!   fresh cgroups made ready ahead of each run;
//! - [`rlimits`]: CPU, FSIZE, NOFILE, CORE=0, NPROC as a backstop;
//! - [`supervise`]: the timer, the pipes and the verdict on how the run ended;
//! - [`workdir_lock`]: one sandbox per work directory, across processes.
//!
//! Fork-to-exec order (the code in [`child`] follows it, numbered the same):
//! 1. init closes what it does not use, joins the v1 cgroups (v2 is entered
//!    by `clone3(CLONE_INTO_CGROUP)`), then unshares a cgroup namespace rooted there;
//! 2. joins the slot's network namespace; dies with the supervisor;
//! 3. sets the hostname, enters a private copy of the slot's template mount
//!    namespace, attaches the box and mounts `/tmp`, `/proc`…; hands the
//!    supervisor a reference to that namespace;
//! 4. adds the root's Landlock rules to the run's ruleset;
//! 5. starts the payload (vfork-style) and reaps everything until it exits;
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
pub mod steptrace;
pub mod supervise;
mod sys;
pub mod template;
pub mod workdir_lock;

pub use boxdir::BoxDir;
pub use error::SandboxError;
pub use spec::{Enforcement, Limits, Outcome, SandboxSpec, Status, TimeLimitKind};

use cgroup::{CgroupBackend, CgroupLimits, Layout};
use child::ChildPlan;
use landlock::LandlockPolicy;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

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
    /// How long to wait for another process's sandbox on the same `work_dir`
    /// to end ([`workdir_lock`]); a daemon holding it is not waited for.
    pub lock_wait: std::time::Duration,
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
            lock_wait: std::time::Duration::from_secs(30),
        }
    }
}

struct Slot {
    index: usize,
    uid: u32,
    /// The payload's stack between its `clone(CLONE_VM)` and `execve` (see [`child`]).
    payload_stack: Mutex<Vec<u8>>,
    /// Template roots of this slot's runs, by shape (see [`template`]).
    templates: Mutex<template::SlotTemplates>,
    store: boxdir::SlotStore,
    netns: OwnedFd,
    busy: Mutex<()>,
    /// A run started ahead of its program, waiting for it ([`Sandbox::prepare`]).
    prepared: Mutex<Option<Prepared>>,
}

/// A slot taken for one run ([`Sandbox::claim`]).
struct Claim<'a> {
    slot: &'a Slot,
    _busy: MutexGuard<'a, ()>,
    run_cgroup: Box<dyn cgroup::RunCgroup>,
    limits: CgroupLimits,
}

/// A run whose process is up and waiting on its start signal: its runtime
/// has started (or is starting) in its own namespaces, cgroup and uid, and no
/// clock runs until [`Sandbox::run_prepared`] writes the signal.
struct Prepared {
    /// What it was prepared for (without stdin, which comes with the start).
    spec: SandboxSpec,
    pidfd: OwnedFd,
    pipes: supervise::Pipes,
    start_w: OwnedFd,
    run_cgroup: Box<dyn cgroup::RunCgroup>,
    limits: CgroupLimits,
}

/// The variable that tells a prepared run's runtime which descriptor carries its start signal.
pub const START_FD_VARIABLE: &str = "ACEJUDGE_START_FD";

/// The host-wide sandbox state: filters compiled, cgroups opened, slots ready.
pub struct Sandbox {
    layout: Layout,
    cgroups: Arc<dyn CgroupBackend>,
    spares: cgroup::spares::Spares,
    landlock: LandlockPolicy,
    seccomp: Vec<seccompiler::BpfProgram>,
    slots: Vec<Slot>,
    new_root: PathBuf,
    last_cap: u32,
    runs: AtomicU64,
    /// Released last, once the slots' mounts are gone.
    _lock: workdir_lock::WorkDirLock,
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
        // The slots' network namespaces (0.5–4 ms each) and the seccomp program
        // (~1 ms) are made on threads while the rest is set up.
        let netns_threads: Vec<_> = (0..config.slots).map(|_| namespaces::spawn_empty_network_namespace()).collect();
        let seccomp_thread = std::thread::spawn(seccomp::compile);
        let landlock = LandlockPolicy::detect();
        let layout =
            cgroup::detect(&config.cgroup_root).ok_or_else(|| SandboxError::NoCgroups(config.cgroup_root.clone()))?;
        let cgroups: Arc<dyn CgroupBackend> = Arc::from(cgroup::open_backend(&layout, &config.cgroup_group)?);
        let spares = cgroup::spares::Spares::new(Arc::clone(&cgroups), config.slots).map_err(|e| {
            SandboxError::Cgroup(cgroup::CgroupError::Create { path: "spare cgroups thread".into(), source: e })
        })?;
        if config.favor_dynmods {
            if let Layout::V1 { unified: Some(unified), .. } = &layout {
                if let Err(e) = cgroup::favor_dynmods(unified) {
                    tracing::warn!(error = %e, "cannot enable favordynmods: each run's cgroup attach will wait for RCU");
                }
            }
        }
        let new_root = config.work_dir.join("root");
        let boxes = config.work_dir.join("boxes");
        std::fs::create_dir_all(&config.work_dir).map_err(|source| SandboxError::Box {
            what: "create",
            path: config.work_dir.clone(),
            source,
        })?;
        let lock = workdir_lock::WorkDirLock::acquire(&config.work_dir, config.lock_wait)?;
        for dir in [&new_root, &boxes] {
            std::fs::create_dir_all(dir).map_err(|source| SandboxError::Box {
                what: "create",
                path: dir.clone(),
                source,
            })?;
        }
        let slots = netns_threads
            .into_iter()
            .enumerate()
            .map(|(i, netns)| {
                let netns = netns
                    .join()
                    .map_err(|_| SandboxError::NetworkNamespace(std::io::Error::other("thread panicked")))?
                    .map_err(SandboxError::NetworkNamespace)?;
                let store = boxdir::SlotStore::mount(&boxes.join(format!("slot{i}")), 64 << 20)?;
                Ok(Slot {
                    index: i,
                    uid: config.uid_base + i as u32,
                    payload_stack: Mutex::new(vec![0; child::PAYLOAD_STACK_BYTES]),
                    templates: Mutex::new(template::SlotTemplates::default()),
                    store,
                    netns,
                    busy: Mutex::new(()),
                    prepared: Mutex::new(None),
                })
            })
            .collect::<Result<Vec<_>, SandboxError>>()?;
        let last_cap = caps::runtime::procfs_all_supported(None)
            .ok()
            .and_then(|set| set.iter().map(|c| c.index() as u32).max())
            .unwrap_or(40)
            .max(40);
        let seccomp = seccomp_thread.join().map_err(|_| SandboxError::Syscall {
            what: "compile the seccomp policy",
            source: std::io::Error::other("the compile thread panicked"),
        })??;
        Ok(Sandbox {
            layout,
            cgroups,
            spares,
            landlock,
            seccomp,
            slots,
            new_root,
            last_cap,
            runs: AtomicU64::new(0),
            _lock: lock,
        })
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
    /// A run prepared in the slot and not used is discarded first.
    pub fn run(&self, slot: usize, spec: &SandboxSpec) -> Result<Outcome, SandboxError> {
        steptrace::mark(steptrace::Point::RunEntered);
        let Claim { slot: slot_state, _busy, run_cgroup, limits } = self.claim(slot, spec)?;
        steptrace::mark(steptrace::Point::CgroupCreated);
        let started = std::time::Instant::now();
        let result = self.launch(slot_state, spec, run_cgroup.as_ref(), None).and_then(|(pidfd, pipes)| {
            self.finish(pidfd, pipes, spec, run_cgroup.as_ref(), started, Default::default())
        });
        self.spares.retire(slot, run_cgroup, limits);
        steptrace::mark(steptrace::Point::CgroupRemoved);
        result
    }

    /// Takes `slot` for a new run of `spec`: checks the spec, holds the
    /// slot's lock, discards a run prepared there, takes fresh cgroups.
    fn claim(&self, slot: usize, spec: &SandboxSpec) -> Result<Claim<'_>, SandboxError> {
        let (slot_state, busy) = self.lock_slot(slot, spec)?;
        self.discard_prepared(slot_state);
        let n = self.runs.fetch_add(1, Ordering::Relaxed);
        let limits = CgroupLimits { memory_bytes: spec.limits.memory_bytes, pids: spec.limits.pids };
        let run_cgroup = self.spares.take(slot, n, limits)?;
        Ok(Claim { slot: slot_state, _busy: busy, run_cgroup, limits })
    }

    /// Checks `spec` and holds `slot`'s lock (a slot runs one thing at a time).
    fn lock_slot(&self, slot: usize, spec: &SandboxSpec) -> Result<(&Slot, MutexGuard<'_, ()>), SandboxError> {
        validate(spec)?;
        let slot_state = self.slots.get(slot).ok_or(SandboxError::NoSuchSlot(slot, self.slots.len()))?;
        let busy = slot_state.busy.try_lock().map_err(|_| SandboxError::SlotBusy(slot))?;
        Ok((slot_state, busy))
    }

    /// Starts `spec` in worker slot `slot` ahead of its program and leaves it
    /// waiting (replacing a run prepared there before). The process gets one
    /// more descriptor, named by the environment variable
    /// [`START_FD_VARIABLE`], which becomes readable (one line: what
    /// [`Sandbox::run_prepared`] is given) when the program is in the box; a
    /// runtime started this way loads itself first and then runs the program.
    ///
    /// Everything else is a run like [`Sandbox::run`]'s: its own namespaces,
    /// cgroup, uid, Landlock and seccomp, the same limits. Its clocks (wall
    /// and CPU) start with the start signal.
    pub fn prepare(&self, slot: usize, spec: &SandboxSpec) -> Result<(), SandboxError> {
        let Claim { slot: slot_state, _busy, run_cgroup, limits } = self.claim(slot, spec)?;
        // What it is prepared for: `spec` without stdin, which comes with the start.
        let mut prepared_spec = spec.clone();
        prepared_spec.stdin.clear();
        let launched = supervise::pipe().and_then(|(start_r, start_w)| {
            let mut launched_spec = prepared_spec.clone();
            launched_spec.env.push((START_FD_VARIABLE.into(), start_r.as_raw_fd().to_string()));
            let (pidfd, pipes) =
                self.launch(slot_state, &launched_spec, run_cgroup.as_ref(), Some(start_r.as_raw_fd()))?;
            Ok((pidfd, pipes, start_w))
        });
        match launched {
            Ok((pidfd, pipes, start_w)) => {
                let prepared = Prepared { spec: prepared_spec, pidfd, pipes, start_w, run_cgroup, limits };
                let mut waiting = slot_state.prepared.lock().unwrap_or_else(|p| p.into_inner());
                *waiting = Some(prepared);
                Ok(())
            }
            Err(e) => {
                self.spares.retire(slot, run_cgroup, limits);
                Err(e)
            }
        }
    }

    /// Runs `spec` on the run prepared in `slot` when it was prepared for the
    /// same run (all but stdin) and is still waiting: writes `start` (one
    /// line, e.g. the entry file's name) to its start signal, feeds it
    /// `spec.stdin`, and supervises it as [`Sandbox::run`] does, its clocks
    /// starting now. `Ok(None)` when there is no such run: run `spec` instead.
    pub fn run_prepared(&self, slot: usize, spec: &SandboxSpec, start: &[u8]) -> Result<Option<Outcome>, SandboxError> {
        let (slot_state, _busy) = self.lock_slot(slot, spec)?;
        let taken = {
            let mut prepared = slot_state.prepared.lock().map_err(|_| SandboxError::SlotBusy(slot))?;
            match prepared.take() {
                Some(p) if same_run(&p.spec, spec) => Some(p),
                other => {
                    *prepared = other;
                    None
                }
            }
        };
        let Some(prepared) = taken else { return Ok(None) };
        if exited(&prepared.pidfd) {
            tracing::warn!(slot, "a prepared run ended before its program came; running it afresh");
            self.retire_prepared(slot, prepared);
            return Ok(None);
        }
        let Prepared { pidfd, pipes, start_w, run_cgroup, limits, .. } = prepared;
        let cpu_before = run_cgroup.cpu_usage().unwrap_or_default();
        let started = std::time::Instant::now();
        let signalled = sys::write_all(start_w.as_raw_fd(), start).map_err(|e| SandboxError::Syscall {
            what: "start a prepared run",
            source: std::io::Error::from_raw_os_error(e.0),
        });
        drop(start_w);
        let result = match signalled {
            Ok(()) => self.finish(pidfd, pipes, spec, run_cgroup.as_ref(), started, cpu_before).map(Some),
            Err(e) => {
                supervise::kill_and_reap(&pidfd, run_cgroup.as_ref());
                Err(e)
            }
        };
        self.spares.retire(slot, run_cgroup, limits);
        result
    }

    /// Kills and removes the run prepared in `slot`, if any.
    fn discard_prepared(&self, slot: &Slot) {
        let taken = slot.prepared.lock().map(|mut p| p.take()).unwrap_or(None);
        if let Some(prepared) = taken {
            self.retire_prepared(slot.index, prepared);
        }
    }

    fn retire_prepared(&self, slot: usize, prepared: Prepared) {
        let Prepared { pidfd, pipes, start_w, run_cgroup, limits, .. } = prepared;
        drop(start_w);
        supervise::kill_and_reap(&pidfd, run_cgroup.as_ref());
        drop(pipes);
        self.spares.retire(slot, run_cgroup, limits);
    }

    /// Clones the run's init into its namespaces and cgroup; it starts the payload.
    fn launch(
        &self,
        slot: &Slot,
        spec: &SandboxSpec,
        run_cgroup: &dyn cgroup::RunCgroup,
        start_r: Option<libc::c_int>,
    ) -> Result<(OwnedFd, supervise::Pipes), SandboxError> {
        let ruleset = self.landlock.create_ruleset()?;
        let shape = filesystem::Shape {
            extra_readonly: spec.readonly_paths.clone(),
            writable_overlays: spec.writable_overlays.clone(),
            cgroup_view: spec.cgroup_view,
        };
        filesystem::check_shape(&shape).map_err(SandboxError::InvalidSpec)?;
        let mut templates = slot.templates.lock().map_err(|_| SandboxError::SlotBusy(slot.index))?;
        let template = templates.get(&shape, || {
            let plan = filesystem::template_plan(
                &filesystem::TemplateInputs {
                    new_root: &self.new_root,
                    identity: filesystem::Identity { uid: slot.uid, gid: slot.uid },
                    shape: &shape,
                    cgroup_layout: &self.layout,
                },
                &self.landlock,
            )
            .map_err(SandboxError::InvalidSpec)?;
            template::Template::build(&self.new_root, shape.clone(), plan.ops, plan.rules, plan.bound)
        })?;
        let box_tree = template::detached_bind(&spec.box_dir, false)?;
        let tmp_trees =
            shape.per_run_binds().iter().map(|p| template::detached_bind(p, true)).collect::<Result<Vec<_>, _>>()?;
        let tmp_fds: Vec<_> = tmp_trees.iter().map(AsRawFd::as_raw_fd).collect();
        let root = filesystem::run_plan(
            &filesystem::RunInputs {
                box_tree: box_tree.as_raw_fd(),
                tmp_trees: &tmp_fds,
                tmp_bytes: spec.limits.tmp_bytes,
                shape: &shape,
                cgroup_layout: &self.layout,
            },
            &self.landlock,
        )
        .map_err(SandboxError::InvalidSpec)?;
        let landlock_rules = template.rules.iter().cloned().chain(root.rules).collect();
        let pipes = supervise::Pipes::new()?;
        let argv = cstrings(spec.argv.iter().map(String::as_str))?;
        let env =
            cstrings(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().iter().map(String::as_str))?;
        let exec_candidates = exec_candidates(spec)?;
        let mut payload_stack = slot.payload_stack.lock().map_err(|_| SandboxError::SlotBusy(slot.index))?;
        let mut plan = ChildPlan {
            keep_fds: Vec::new(),
            cgroup_procs_fds: run_cgroup.join_fds(),
            netns_fd: Some(slot.netns.as_raw_fd()),
            hostname: CString::from(c"acejudge"),
            template_ns: template.ns.as_raw_fd(),
            template_root: template.root.as_raw_fd(),
            mount_ops: root.ops,
            landlock_fd: ruleset.as_ref().map(AsRawFd::as_raw_fd),
            landlock_rules,
            status_w: pipes.status.1.as_raw_fd(),
            exec_err_w: pipes.exec_err.1.as_raw_fd(),
            stdin_r: pipes.stdin.0.as_raw_fd(),
            stdout_w: pipes.stdout.1.as_raw_fd(),
            stderr_w: pipes.stderr.1.as_raw_fd(),
            start_r,
            rlimits: rlimits::backstops(&spec.limits),
            cwd: CString::from(c"/box"),
            uid: slot.uid,
            gid: slot.uid,
            last_cap: self.last_cap,
            seccomp_filters: self.seccomp.clone(),
            payload_stack: (payload_stack.as_mut_ptr(), payload_stack.len()),
            argv: child::pointer_array(&argv),
            envp: child::pointer_array(&env),
            exec_candidates,
        };
        plan.keep_fds = plan.fds_used();
        let clone_into = run_cgroup.clone_into().map(|fd| fd.as_raw_fd());
        steptrace::mark(steptrace::Point::BeforeClone);
        let pidfd = match namespaces::clone_run(clone_into)? {
            namespaces::Cloned::Child => child::init_main(&plan),
            namespaces::Cloned::Parent { pidfd } => pidfd,
        };
        // The strings behind argv/envp must outlive the clone; the child has its own copy now.
        drop((argv, env, plan, ruleset, payload_stack, templates, box_tree, tmp_trees));
        Ok((pidfd, pipes))
    }

    /// Supervises a launched run to its end and decides how it ended.
    fn finish(
        &self,
        pidfd: OwnedFd,
        pipes: supervise::Pipes,
        spec: &SandboxSpec,
        run_cgroup: &dyn cgroup::RunCgroup,
        started: std::time::Instant,
        cpu_before: cgroup::CpuUsage,
    ) -> Result<Outcome, SandboxError> {
        let mut report = supervise::supervise(pidfd, pipes, spec, run_cgroup, started, cpu_before)?;
        steptrace::mark(steptrace::Point::InitReaped);
        if let Some(mount_ns) = report.mount_ns.take() {
            self.spares.release_later(Box::new(mount_ns));
        }
        let outcome = supervise::decide(report, run_cgroup, cpu_before, &spec.argv[0], self.enforcement())?;
        steptrace::mark(steptrace::Point::Decided);
        Ok(outcome)
    }
}

impl Drop for Sandbox {
    /// Prepared runs die with the sandbox.
    fn drop(&mut self) {
        for slot in &self.slots {
            self.discard_prepared(slot);
        }
    }
}

/// Whether two specs describe the same run, stdin aside.
fn same_run(prepared: &SandboxSpec, wanted: &SandboxSpec) -> bool {
    prepared.argv == wanted.argv
        && prepared.env == wanted.env
        && prepared.box_dir == wanted.box_dir
        && prepared.readonly_paths == wanted.readonly_paths
        && prepared.writable_overlays == wanted.writable_overlays
        && prepared.cgroup_view == wanted.cgroup_view
        && prepared.limits == wanted.limits
}

/// Whether the process behind `pidfd` has exited (a pidfd polls readable then).
fn exited(pidfd: &OwnedFd) -> bool {
    let mut pfd = libc::pollfd { fd: pidfd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd, no wait.
    let ready = unsafe { libc::poll(&mut pfd, 1, 0) };
    ready != 0
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
