//! The code that runs in the sandbox's own processes, between `clone3` and `execve`.
//!
//! Two processes run this code: **init** (pid 1 of the run's pid namespace, still
//! root) and the **payload** it starts (which becomes the user's program). The
//! order is fixed and mirrors the module doc of [`crate::sandbox`]:
//!
//! init:
//! 1. close every inherited descriptor the run does not use; join the v1
//!    cgroups (v2 was entered by `clone3(CLONE_INTO_CGROUP)`), then a new
//!    cgroup namespace rooted at the run's cgroup;
//! 2. join the slot's empty network namespace; die with the supervisor;
//! 3. hostname; `setns` into the slot's template mount namespace, `chroot` to
//!    its root, `unshare` a private copy; attach the box, mount `/tmp`,
//!    `/proc`, overlays, cgroup view; send the supervisor the namespace;
//! 4. Landlock rules for the root's paths added to the run's ruleset;
//! 5. start the payload with `clone(CLONE_VM | CLONE_VFORK)` on the slot's
//!    stack (init is suspended until it execs), reap every process until it
//!    exits, report its wait status, exit (which kills whatever is left).
//!
//! payload:
//! 6. stdio from the supervisor's pipes; signal dispositions and mask reset;
//!    rlimits; cwd `/box`;
//! 7. capabilities dropped (bounding, ambient), groups, gid and uid switched
//!    (permitted and effective go with root), inheritable cleared; `no_new_privs`;
//! 8. Landlock enforced; every other descriptor marked close-on-exec;
//! 9. seccomp filters installed, last;
//! 10. `execve` of each candidate path; on failure the step and errno go to the
//!     supervisor through the exec-error pipe.
//!
//! **Everything here is async-signal-safe**: the plan was built by the
//! supervisor before `clone3`; this code only reads it and makes syscalls.

use super::steptrace::{mark, Point};
use super::sys::{self, Errno, SysResult};
use std::ffi::CString;
use std::os::fd::RawFd;

/// The step of the child's setup that failed, reported with its errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Step {
    JoinCgroup = 1,
    CgroupNamespace,
    NetworkNamespace,
    DeathSignal,
    Hostname,
    MountNamespace,
    Mount,
    LandlockRule,
    ForkPayload,
    Stdio,
    Rlimit,
    Chdir,
    DropCapabilities,
    SwitchIds,
    NoNewPrivs,
    Landlock,
    CloseDescriptors,
    Seccomp,
    Exec,
}

impl Step {
    pub fn from_u8(v: u8) -> Option<Step> {
        use Step::*;
        const ALL: [Step; 19] = [
            JoinCgroup,
            CgroupNamespace,
            NetworkNamespace,
            DeathSignal,
            Hostname,
            MountNamespace,
            Mount,
            LandlockRule,
            ForkPayload,
            Stdio,
            Rlimit,
            Chdir,
            DropCapabilities,
            SwitchIds,
            NoNewPrivs,
            Landlock,
            CloseDescriptors,
            Seccomp,
            Exec,
        ];
        ALL.into_iter().find(|s| *s as u8 == v)
    }

    pub fn name(self) -> &'static str {
        use Step::*;
        match self {
            JoinCgroup => "join the run's cgroup",
            CgroupNamespace => "create the cgroup namespace",
            NetworkNamespace => "join the empty network namespace",
            DeathSignal => "set the parent-death signal",
            Hostname => "set the hostname",
            MountNamespace => "enter a copy of the slot's template mount namespace",
            Mount => "mount the run's box, /tmp and /proc",
            LandlockRule => "add a Landlock rule",
            ForkPayload => "fork the program",
            Stdio => "connect stdin/stdout/stderr",
            Rlimit => "set resource limits",
            Chdir => "enter the box directory",
            DropCapabilities => "drop capabilities",
            SwitchIds => "switch to the slot's uid/gid",
            NoNewPrivs => "set no_new_privs",
            Landlock => "enforce Landlock",
            CloseDescriptors => "close inherited descriptors",
            Seccomp => "install the seccomp filters",
            Exec => "execute the program",
        }
    }
}

/// One filesystem operation of the root assembly, with host-side paths under the new root.
pub enum MountOp {
    MakeDir {
        path: CString,
        mode: libc::mode_t,
    },
    Symlink {
        target: CString,
        path: CString,
    },
    /// A small file written into the new root (synthetic `/etc`).
    WriteFile {
        path: CString,
        contents: Vec<u8>,
    },
    CharDevice {
        path: CString,
        dev: libc::dev_t,
    },
    Chown {
        path: CString,
        uid: libc::uid_t,
        gid: libc::gid_t,
    },
    /// A sysctl of the run's own namespaces; skipped where the kernel lacks it.
    Sysctl {
        path: CString,
        value: &'static [u8],
    },
    Mount {
        source: Option<CString>,
        target: CString,
        fstype: Option<CString>,
        flags: libc::c_ulong,
        data: Option<CString>,
    },
    /// Attaches a detached mount (from `open_tree(OPEN_TREE_CLONE)`) at `target`.
    MoveMount {
        tree: RawFd,
        target: CString,
    },
}

/// A Landlock path rule added from inside, once the new root is in place.
#[derive(Clone)]
pub struct LandlockRule {
    pub path: CString,
    pub access: u64,
}

/// Everything the child needs, prepared by the supervisor before `clone3`.
pub struct ChildPlan {
    // init
    /// The descriptors init and the payload use, sorted; init closes all others
    /// first (among them the supervisor's ends of the pipes, so EOFs arrive when they should).
    pub keep_fds: Vec<RawFd>,
    pub cgroup_procs_fds: Vec<RawFd>,
    pub netns_fd: Option<RawFd>,
    pub hostname: CString,
    /// The slot's template mount namespace for this run's shape, and its root directory.
    pub template_ns: RawFd,
    pub template_root: RawFd,
    /// The run's own mounts, made in its copy of the template.
    pub mount_ops: Vec<MountOp>,
    pub landlock_fd: Option<RawFd>,
    pub landlock_rules: Vec<LandlockRule>,
    pub status_w: RawFd,
    pub exec_err_w: RawFd,
    // payload
    pub stdin_r: RawFd,
    pub stdout_w: RawFd,
    pub stderr_w: RawFd,
    /// A prepared run's start signal (read end), kept open across `execve`:
    /// the runtime waits on it until the program is there ([`super::Sandbox::prepare`]).
    pub start_r: Option<RawFd>,
    pub rlimits: Vec<(libc::__rlimit_resource_t, libc::rlimit)>,
    pub cwd: CString,
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    pub last_cap: u32,
    pub seccomp_filters: Vec<seccompiler::BpfProgram>,
    /// The payload's stack while it shares init's memory (until `execve`): the
    /// slot's buffer, which only init's copy of this address space writes.
    pub payload_stack: (*mut u8, usize),
    pub exec_candidates: Vec<CString>,
    pub argv: Vec<*const libc::c_char>,
    pub envp: Vec<*const libc::c_char>,
}

impl ChildPlan {
    /// Every descriptor init or the payload uses, sorted.
    pub fn fds_used(&self) -> Vec<RawFd> {
        let mut fds: Vec<RawFd> = [self.status_w, self.exec_err_w, self.stdin_r, self.stdout_w, self.stderr_w]
            .into_iter()
            .chain(self.cgroup_procs_fds.iter().copied())
            .chain(self.netns_fd)
            .chain([self.template_ns, self.template_root])
            .chain(self.landlock_fd)
            .chain(self.start_r)
            .chain(self.mount_ops.iter().filter_map(|op| match op {
                MountOp::MoveMount { tree, .. } => Some(*tree),
                _ => None,
            }))
            .collect();
        fds.sort_unstable();
        fds.dedup();
        fds
    }
}

/// The payload's stack until it execs: its setup is a few shallow calls.
pub const PAYLOAD_STACK_BYTES: usize = 256 << 10;

/// What init reports through the status pipe: 1 byte kind, 1 byte step, 4 bytes value.
pub const MSG_LEN: usize = 6;
pub const MSG_PAYLOAD_STATUS: u8 = 0;
pub const MSG_SETUP_FAILED: u8 = 1;
/// The run's root is complete: the supervisor may take a reference to its mount namespace.
pub const MSG_ROOT_READY: u8 = 2;

pub fn encode(kind: u8, step: u8, value: i32) -> [u8; MSG_LEN] {
    let v = value.to_le_bytes();
    [kind, step, v[0], v[1], v[2], v[3]]
}

fn fail(fd: RawFd, step: Step, errno: Errno) -> ! {
    let _ = sys::write_all(fd, &encode(MSG_SETUP_FAILED, step as u8, errno.0));
    sys::exit(126)
}

trait Context<T> {
    fn at(self, fd: RawFd, step: Step) -> T;
}

impl<T> Context<T> for SysResult<T> {
    fn at(self, fd: RawFd, step: Step) -> T {
        match self {
            Ok(v) => v,
            Err(e) => fail(fd, step, e),
        }
    }
}

/// Entry point of init (pid 1 of the run). Never returns.
pub fn init_main(plan: &ChildPlan) -> ! {
    mark(Point::InitStarted);
    let st = plan.status_w;
    // Every descriptor of the daemon that the run does not use goes first: init lives
    // as long as the run, and a copy of another thread's file being written (a box
    // file of another slot) would keep it busy for exec (ETXTBSY) all that time.
    close_all_but(&plan.keep_fds);
    // The new root's files and the program get the same modes whatever the daemon's umask.
    // SAFETY: umask cannot fail and takes no pointers.
    unsafe { libc::umask(0o022) };
    // 1. cgroups: v1 controllers are joined by writing "0" (= this process).
    for &fd in &plan.cgroup_procs_fds {
        sys::write_all(fd, b"0").at(st, Step::JoinCgroup);
    }
    sys::unshare(libc::CLONE_NEWCGROUP).at(st, Step::CgroupNamespace);
    mark(Point::InitJoinedCgroups);
    // 2. network: the slot's empty namespace (only a down loopback), or a new one.
    match plan.netns_fd {
        Some(fd) => sys::setns(fd, libc::CLONE_NEWNET).at(st, Step::NetworkNamespace),
        None => sys::unshare(libc::CLONE_NEWNET).at(st, Step::NetworkNamespace),
    }
    sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong).at(st, Step::DeathSignal);
    sys::prctl(libc::PR_SET_DUMPABLE, 0).at(st, Step::DeathSignal);
    mark(Point::InitJoinedNetwork);
    // 3. the root: a copy of the slot's template, then what is this run's own.
    sys::sethostname(&plan.hostname).at(st, Step::Hostname);
    sys::setns(plan.template_ns, libc::CLONE_NEWNS).at(st, Step::MountNamespace);
    sys::fchdir(plan.template_root).at(st, Step::MountNamespace);
    sys::chroot(c".").at(st, Step::MountNamespace);
    // The copy moves root and cwd onto its own mounts.
    sys::unshare(libc::CLONE_NEWNS).at(st, Step::MountNamespace);
    mark(Point::InitEnteredTemplate);
    for op in &plan.mount_ops {
        run_mount_op(op).at(st, Step::Mount);
    }
    mark(Point::InitMounted);
    // Hand the supervisor this root's mount namespace, so that its teardown (an RCU
    // grace period) happens after the run's result, not on init's exit.
    if let Ok(ns) = sys::open(c"/proc/thread-self/ns/mnt", libc::O_RDONLY, 0) {
        let _ = sys::send_with_fd(st, &encode(MSG_ROOT_READY, 0, 0), ns);
        sys::close(ns);
    }
    // 4. Landlock rules for what exists only inside.
    if let Some(ruleset) = plan.landlock_fd {
        for rule in &plan.landlock_rules {
            add_landlock_rule(ruleset, rule).at(st, Step::LandlockRule);
        }
    }
    // 5. the payload.
    mark(Point::InitForking);
    let arg = plan as *const ChildPlan as *mut libc::c_void;
    let (stack, stack_len) = plan.payload_stack;
    let payload = sys::spawn_vfork(stack, stack_len, payload_entry, arg).at(st, Step::ForkPayload);
    for fd in [plan.stdin_r, plan.stdout_w, plan.stderr_w, plan.exec_err_w].into_iter().chain(plan.start_r) {
        sys::close(fd);
    }
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: `status` is a valid out-pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid == payload {
            mark(Point::InitSawExit);
            let _ = sys::write_all(st, &encode(MSG_PAYLOAD_STATUS, 0, status));
            // Leaving pid 1 makes the kernel kill everything still in the namespace.
            sys::exit(0);
        }
        if pid < 0 && Errno::last().0 != libc::EINTR {
            sys::exit(125);
        }
    }
}

/// Closes every descriptor from 3 up that is not in `keep` (sorted ascending).
fn close_all_but(keep: &[RawFd]) {
    let close_range = |first: u32, last: u32| {
        // SAFETY: close_range takes integers only.
        unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
    };
    let mut next: u32 = 3;
    for &fd in keep {
        let Ok(fd) = u32::try_from(fd) else { continue };
        if fd > next {
            close_range(next, fd - 1);
        }
        next = next.max(fd + 1);
    }
    close_range(next, u32::MAX);
}

pub(super) fn run_mount_op(op: &MountOp) -> SysResult<()> {
    match op {
        MountOp::MakeDir { path, mode } => sys::mkdir(path, *mode).and_then(|()| sys::chmod(path, *mode)),
        MountOp::Chown { path, uid, gid } => sys::chown(path, *uid, *gid),
        MountOp::Symlink { target, path } => sys::symlink(target, path),
        MountOp::WriteFile { path, contents } => {
            let fd = sys::open(path, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, 0o644)?;
            let written = sys::write_all(fd, contents);
            sys::close(fd);
            written
        }
        // mknod applies the umask: the mode is set again so that every user can write /dev/null.
        MountOp::CharDevice { path, dev } => {
            sys::mknod(path, libc::S_IFCHR | 0o666, *dev).and_then(|()| sys::chmod(path, 0o666))
        }
        MountOp::Sysctl { path, value } => match sys::open(path, libc::O_WRONLY, 0) {
            Ok(fd) => {
                let written = sys::write_all(fd, value);
                sys::close(fd);
                written
            }
            Err(Errno(libc::ENOENT)) => Ok(()),
            Err(e) => Err(e),
        },
        MountOp::Mount { source, target, fstype, flags, data } => {
            sys::mount(source.as_deref(), target, fstype.as_deref(), *flags, data.as_deref())
        }
        MountOp::MoveMount { tree, target } => sys::move_mount(*tree, target),
    }
}

#[repr(C, packed)]
struct LandlockPathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

const LANDLOCK_RULE_PATH_BENEATH: libc::c_long = 1;

fn add_landlock_rule(ruleset: RawFd, rule: &LandlockRule) -> SysResult<()> {
    let fd = sys::open(&rule.path, libc::O_PATH, 0)?;
    let attr = LandlockPathBeneathAttr { allowed_access: rule.access, parent_fd: fd };
    // SAFETY: `attr` is a valid landlock_path_beneath_attr for the duration of the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset,
            LANDLOCK_RULE_PATH_BENEATH,
            &attr as *const LandlockPathBeneathAttr,
            0,
        )
    };
    let result = if rc < 0 { Err(Errno::last()) } else { Ok(()) };
    sys::close(fd);
    result
}

extern "C" fn payload_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `&ChildPlan` init passed to spawn_vfork; init is suspended
    // and keeps it alive until this process execs or exits.
    let plan = unsafe { &*(arg as *const ChildPlan) };
    payload_main(plan)
}

/// The payload: becomes the user's program. Reports failures through the exec-error pipe.
fn payload_main(plan: &ChildPlan) -> ! {
    mark(Point::PayloadStarted);
    let er = plan.exec_err_w;
    // 6. stdio, signals, rlimits, cwd.
    sys::close(plan.status_w);
    sys::dup2(plan.stdin_r, 0).at(er, Step::Stdio);
    sys::dup2(plan.stdout_w, 1).at(er, Step::Stdio);
    sys::dup2(plan.stderr_w, 2).at(er, Step::Stdio);
    reset_signals();
    for (resource, limit) in &plan.rlimits {
        // SAFETY: `limit` is a valid rlimit.
        let rc = unsafe { libc::setrlimit(*resource, limit) };
        if rc != 0 {
            fail(er, Step::Rlimit, Errno::last());
        }
    }
    sys::chdir(&plan.cwd).at(er, Step::Chdir);
    mark(Point::PayloadStdio);
    // 7. identity.
    drop_bounding_and_ambient(plan.last_cap).at(er, Step::DropCapabilities);
    switch_ids(plan.uid, plan.gid).at(er, Step::SwitchIds);
    clear_all_capabilities().at(er, Step::DropCapabilities);
    sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1).at(er, Step::NoNewPrivs);
    mark(Point::PayloadIdentity);
    // 8. Landlock, then no inherited descriptor survives exec except stdio (and a prepared run's start signal).
    if let Some(ruleset) = plan.landlock_fd {
        // SAFETY: landlock_restrict_self takes a descriptor and flags only.
        let rc = unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0) };
        if rc < 0 {
            fail(er, Step::Landlock, Errno::last());
        }
    }
    // SAFETY: close_range takes integers only; CLOEXEC keeps the exec-error pipe usable until exec.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    if rc < 0 {
        fail(er, Step::CloseDescriptors, Errno::last());
    }
    if let Some(fd) = plan.start_r {
        // SAFETY: fcntl on a descriptor this process holds, with integer arguments only.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } < 0 {
            fail(er, Step::CloseDescriptors, Errno::last());
        }
    }
    mark(Point::PayloadLandlock);
    // 9. seccomp, as late as possible.
    for filter in &plan.seccomp_filters {
        if seccompiler::apply_filter(filter).is_err() {
            fail(er, Step::Seccomp, Errno::last());
        }
    }
    mark(Point::PayloadSeccomp);
    // 10. exec.
    let mut errno = Errno(libc::ENOENT);
    for path in &plan.exec_candidates {
        // SAFETY: argv and envp are NULL-terminated arrays of pointers into strings owned by the plan.
        unsafe { libc::execve(path.as_ptr(), plan.argv.as_ptr(), plan.envp.as_ptr()) };
        let e = Errno::last();
        if !matches!(e.0, libc::ENOENT | libc::ENOTDIR) || errno.0 == libc::ENOENT {
            errno = e;
        }
    }
    fail(er, Step::Exec, errno)
}

fn reset_signals() {
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: resetting a disposition to SIG_DFL is async-signal-safe.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    // SAFETY: `empty` is a valid, initialised sigset.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    }
}

fn drop_bounding_and_ambient(last_cap: u32) -> SysResult<()> {
    for cap in 0..=last_cap {
        match sys::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong) {
            Ok(()) | Err(Errno(libc::EINVAL)) => {}
            Err(e) => return Err(e),
        }
    }
    // SAFETY: PR_CAP_AMBIENT_CLEAR_ALL takes integer arguments only.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

fn switch_ids(uid: libc::uid_t, gid: libc::gid_t) -> SysResult<()> {
    // Raw syscalls throughout: glibc's set*id/setgroups wrappers broadcast to the
    // parent's other threads, which do not exist in this child, and deadlock.
    // SAFETY: an empty group list with a null pointer is valid.
    if unsafe { libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) } < 0 {
        return Err(Errno::last());
    }
    // SAFETY: integer arguments only.
    if unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) } < 0 {
        return Err(Errno::last());
    }
    // SAFETY: integer arguments only.
    if unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) } < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn clear_all_capabilities() -> SysResult<()> {
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let data = [CapData { effective: 0, permitted: 0, inheritable: 0 }; 2];
    // SAFETY: header and a two-element data array as capset(2) expects for version 3.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Reads a setup failure or payload status message.
pub fn decode(buf: &[u8]) -> Option<(u8, u8, i32)> {
    if buf.len() < MSG_LEN {
        return None;
    }
    Some((buf[0], buf[1], i32::from_le_bytes([buf[2], buf[3], buf[4], buf[5]])))
}

/// Turns a `CStr` list into the NULL-terminated pointer array `execve` wants.
pub fn pointer_array(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings.iter().map(|s| s.as_ptr()).chain(std::iter::once(std::ptr::null())).collect()
}
