//! The supervisor side of a run: pipes, the timer, and the verdict.
//!
//! One blocking loop `poll`s the init's pidfd, stdout, stderr and stdin. It
//! wakes at the wall deadline and every few milliseconds to read the tree's CPU
//! time from the cgroup; whichever limit is hit first kills the whole tree
//! (`cgroup.kill` where the kernel has it, and SIGKILL to init, which takes the
//! pid namespace with it). Output beyond the cap is a kill too.
//!
//! [`decide`] is the one place an [`Outcome`]'s status is derived.

use super::cgroup::{CpuUsage, RunCgroup};
use super::child::{self, Step};
use super::error::SandboxError;
use super::spec::{Enforcement, Outcome, SandboxSpec, Status, TimeLimitKind};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// How often the tree's CPU time is read while a run is going.
const CPU_POLL: Duration = Duration::from_millis(10);

/// The run's pipes: (read end, write end).
pub struct Pipes {
    pub stdin: (OwnedFd, OwnedFd),
    pub stdout: (OwnedFd, OwnedFd),
    pub stderr: (OwnedFd, OwnedFd),
    pub status: (OwnedFd, OwnedFd),
    pub exec_err: (OwnedFd, OwnedFd),
}

/// A pipe, both ends close-on-exec: (read end, write end).
pub fn pipe() -> Result<(OwnedFd, OwnedFd), SandboxError> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(SandboxError::syscall("create a pipe"));
    }
    // SAFETY: pipe2 returned two new descriptors that only we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A unix seqpacket pair: one message per send, descriptors can travel along.
fn seqpacket_pair() -> Result<(OwnedFd, OwnedFd), SandboxError> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid two-element array.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) } != 0 {
        return Err(SandboxError::syscall("create the status socket"));
    }
    // SAFETY: socketpair returned two new descriptors that only we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

impl Pipes {
    pub fn new() -> Result<Pipes, SandboxError> {
        Ok(Pipes { stdin: pipe()?, stdout: pipe()?, stderr: pipe()?, status: seqpacket_pair()?, exec_err: pipe()? })
    }
}

/// Why the supervisor killed the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillReason {
    Wall,
    Cpu,
    Output,
}

/// What the supervisor observed.
pub struct Report {
    pub killed: Option<KillReason>,
    pub payload_status: Option<i32>,
    pub setup_failure: Option<(Step, i32)>,
    pub wall: Duration,
    pub stdout: Captured,
    pub stderr: Captured,
    /// The run's mount namespace, sent by init once the root is complete, so
    /// that its teardown happens off the run's path; `None` if it never came.
    pub mount_ns: Option<OwnedFd>,
}

#[derive(Default)]
pub struct Captured {
    pub bytes: Vec<u8>,
    pub total: u64,
    pub truncated: bool,
}

fn set_nonblocking(fd: &OwnedFd) {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
}

/// Reads what is available; returns false at EOF.
fn drain(file: &mut File, into: &mut Captured, cap: u64) -> bool {
    let mut buf = [0u8; 65536];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return false,
            Ok(n) => {
                into.total += n as u64;
                let room = cap.saturating_sub(into.bytes.len() as u64) as usize;
                into.bytes.extend_from_slice(&buf[..n.min(room)]);
                if into.total > cap {
                    into.truncated = true;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return true,
        }
    }
}

fn kill(pidfd: &OwnedFd, run_cgroup: &dyn RunCgroup) {
    if let Err(e) = run_cgroup.kill_all() {
        tracing::warn!(error = %e, "cgroup.kill failed; killing the run's init");
    }
    // SAFETY: pidfd_send_signal with a pidfd we own and no siginfo.
    unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), libc::SIGKILL, std::ptr::null::<u8>(), 0) };
}

/// Kills a run that will not be supervised (a prepared run discarded) and reaps its init.
pub fn kill_and_reap(pidfd: &OwnedFd, run_cgroup: &dyn RunCgroup) {
    kill(pidfd, run_cgroup);
    if let Err(e) = reap(pidfd) {
        tracing::warn!(error = %e, "cannot reap a discarded run's init");
    }
}

/// Watches a started run until its init has exited and been reaped. The
/// clocks start at `started`; CPU time already in the cgroup then
/// (`cpu_before`: a prepared run's runtime start-up) is not the program's.
pub fn supervise(
    pidfd: OwnedFd,
    pipes: Pipes,
    spec: &SandboxSpec,
    run_cgroup: &dyn RunCgroup,
    started: Instant,
    cpu_before: CpuUsage,
) -> Result<Report, SandboxError> {
    let Pipes { stdin, stdout, stderr, status, exec_err } = pipes;
    drop((stdin.0, stdout.1, stderr.1, status.1, exec_err.1));
    let limits = &spec.limits;
    let cap = limits.output_bytes;
    // Non-blocking reads: a program that keeps its pipe open and idle must never
    // hold the loop in read(2) past the deadline.
    set_nonblocking(&stdout.0);
    set_nonblocking(&stderr.0);
    set_nonblocking(&stdin.1);
    set_nonblocking(&status.0);
    let status_socket = status.0;
    let mut message = Vec::new();
    let mut mount_ns: Option<OwnedFd> = None;
    let mut status_open = true;
    let (mut out_file, mut err_file) = (File::from(stdout.0), File::from(stderr.0));
    let mut stdin_file = if spec.stdin.is_empty() { None } else { Some(File::from(stdin.1)) };
    let mut stdin_left: &[u8] = &spec.stdin;
    let (mut out_open, mut err_open) = (true, true);
    let (mut out, mut err) = (Captured::default(), Captured::default());
    let mut killed: Option<KillReason> = None;
    let wall_deadline = started + limits.wall;
    let mut next_cpu_check = started + CPU_POLL;
    loop {
        let now = Instant::now();
        if killed.is_none() {
            if now >= wall_deadline {
                killed = Some(KillReason::Wall);
                kill(&pidfd, run_cgroup);
            } else if now >= next_cpu_check {
                next_cpu_check = now + CPU_POLL;
                let cpu_limit_us = cpu_before.total_us() + limits.cpu.as_micros() as u64;
                if run_cgroup.cpu_usage().map(|u| u.total_us() >= cpu_limit_us).unwrap_or(false) {
                    killed = Some(KillReason::Cpu);
                    kill(&pidfd, run_cgroup);
                }
            }
        }
        let timeout = if killed.is_some() {
            Duration::from_millis(100)
        } else {
            wall_deadline.min(next_cpu_check).saturating_duration_since(Instant::now())
        };
        let mut fds = vec![libc::pollfd { fd: pidfd.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
        if status_open {
            fds.push(libc::pollfd { fd: status_socket.as_raw_fd(), events: libc::POLLIN, revents: 0 });
        }
        if out_open {
            fds.push(libc::pollfd { fd: out_file.as_raw_fd(), events: libc::POLLIN, revents: 0 });
        }
        if err_open {
            fds.push(libc::pollfd { fd: err_file.as_raw_fd(), events: libc::POLLIN, revents: 0 });
        }
        if let Some(f) = &stdin_file {
            fds.push(libc::pollfd { fd: f.as_raw_fd(), events: libc::POLLOUT, revents: 0 });
        }
        let ms = timeout.as_millis().clamp(1, 1000) as libc::c_int;
        // SAFETY: `fds` is a valid array of pollfd for its length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return Err(SandboxError::syscall("poll the run"));
        }
        for pfd in &fds[1..] {
            if pfd.revents == 0 {
                continue;
            }
            if pfd.fd == status_socket.as_raw_fd() {
                status_open = receive_available(&status_socket, &mut message, &mut mount_ns);
            } else if pfd.fd == out_file.as_raw_fd() {
                out_open = drain(&mut out_file, &mut out, cap);
            } else if pfd.fd == err_file.as_raw_fd() {
                err_open = drain(&mut err_file, &mut err, cap);
            } else if let Some(f) = stdin_file.as_mut() {
                match f.write(stdin_left) {
                    Ok(written) => stdin_left = &stdin_left[written..],
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => stdin_left = &[],
                }
                if stdin_left.is_empty() {
                    stdin_file = None;
                }
            }
        }
        if killed.is_none() && (out.truncated || err.truncated) {
            killed = Some(KillReason::Output);
            kill(&pidfd, run_cgroup);
        }
        if fds[0].revents & libc::POLLIN != 0 {
            break;
        }
    }
    let wall = started.elapsed();
    // Init has exited, so the namespace is empty and every write end is closed: drain to EOF.
    drop(stdin_file);
    for (file, captured) in [(&mut out_file, &mut out), (&mut err_file, &mut err)] {
        while drain(file, captured, cap) {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    reap(&pidfd)?;
    receive_available(&status_socket, &mut message, &mut mount_ns);
    let mut exec_pipe = File::from(exec_err.0);
    let mut exec_message = Vec::new();
    let _ = exec_pipe.read_to_end(&mut exec_message);
    let mut payload_status = None;
    let mut setup_failure = None;
    for msg in messages(&message).chain(messages(&exec_message)) {
        match msg {
            (child::MSG_PAYLOAD_STATUS, _, status) => payload_status = Some(status),
            (child::MSG_SETUP_FAILED, step, errno) => {
                setup_failure = Some((Step::from_u8(step).unwrap_or(Step::Exec), errno));
            }
            _ => {}
        }
    }
    if killed == Some(KillReason::Output) || out.truncated || err.truncated {
        killed = killed.or(Some(KillReason::Output));
    }
    Ok(Report { killed, payload_status, setup_failure, wall, stdout: out, stderr: err, mount_ns })
}

/// Receives the status messages waiting on the socket, keeping a descriptor
/// that came along (the run's mount namespace) in `fd`. Returns false at EOF.
fn receive_available(socket: &OwnedFd, into: &mut Vec<u8>, fd: &mut Option<OwnedFd>) -> bool {
    loop {
        let mut buf = [0u8; child::MSG_LEN];
        let mut control = [0u64; 4];
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        // SAFETY: a zeroed msghdr is valid; its pointers point into live locals of the sizes given.
        let (n, received) = unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&control);
            let n = libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT);
            let mut received = None;
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while n > 0 && !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                    let passed = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>());
                    // SAFETY: SCM_RIGHTS installed a new descriptor that only we own.
                    received = Some(OwnedFd::from_raw_fd(passed));
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
            (n, received)
        };
        if let Some(passed) = received {
            fd.get_or_insert(passed);
        }
        match n {
            0 => return false,
            n if n > 0 => into.extend_from_slice(&buf[..n as usize]),
            _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => continue,
            _ => return true,
        }
    }
}

/// The complete messages in `bytes`, decoded.
fn messages(bytes: &[u8]) -> impl Iterator<Item = (u8, u8, i32)> + '_ {
    bytes.chunks_exact(child::MSG_LEN).filter_map(child::decode)
}

fn reap(pidfd: &OwnedFd) -> Result<(), SandboxError> {
    loop {
        // SAFETY: a zeroed siginfo_t is a valid out-parameter for waitid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid with P_PIDFD on a pidfd we own.
        let rc =
            unsafe { libc::waitid(libc::P_PIDFD, pidfd.as_fd().as_raw_fd() as libc::id_t, &mut info, libc::WEXITED) };
        if rc == 0 {
            return Ok(());
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return Err(SandboxError::syscall("reap the run's init"));
        }
    }
}

/// Derives the run's status — the one place it is decided.
pub fn decide(
    report: Report,
    run_cgroup: &dyn RunCgroup,
    cpu_before: CpuUsage,
    program: &str,
    enforcement: Enforcement,
) -> Result<Outcome, SandboxError> {
    if let Some((step, errno)) = report.setup_failure {
        if step == Step::Exec {
            return Err(SandboxError::Exec {
                program: program.into(),
                source: std::io::Error::from_raw_os_error(errno),
            });
        }
        return Err(SandboxError::ChildSetup { step, errno });
    }
    let cpu = run_cgroup.cpu_usage().unwrap_or_default();
    let oom_kills = run_cgroup.oom_kills().unwrap_or(0);
    let (mut exit_code, mut signal) = (None, None);
    if let Some(ws) = report.payload_status {
        if libc::WIFEXITED(ws) {
            exit_code = Some(libc::WEXITSTATUS(ws));
        } else if libc::WIFSIGNALED(ws) {
            signal = Some(libc::WTERMSIG(ws));
        }
    }
    let status = match (report.killed, oom_kills, exit_code, signal) {
        (Some(KillReason::Wall), ..) => Status::TimeLimit { which: TimeLimitKind::Wall },
        (Some(KillReason::Cpu), ..) => Status::TimeLimit { which: TimeLimitKind::Cpu },
        (_, oom, ..) if oom > 0 => Status::MemoryLimit,
        (Some(KillReason::Output), ..) => Status::OutputLimit,
        (None, _, Some(0), _) => Status::Ok,
        (None, _, Some(_), _) => Status::NonzeroExit,
        (None, _, None, Some(libc::SIGSYS)) => Status::SecurityViolation { syscall: None },
        (None, _, None, Some(libc::SIGXCPU)) => Status::TimeLimit { which: TimeLimitKind::Cpu },
        (None, _, None, Some(libc::SIGXFSZ)) => Status::OutputLimit,
        (None, _, None, Some(_)) => Status::Signaled,
        (None, _, None, None) => {
            Status::InternalError { message: "the run's init ended without reporting the program's status".into() }
        }
    };
    Ok(Outcome {
        status,
        exit_code,
        signal,
        wall_ms: report.wall.as_millis() as u64,
        cpu_user_ms: cpu.user_us.saturating_sub(cpu_before.user_us) / 1000,
        cpu_sys_ms: cpu.system_us.saturating_sub(cpu_before.system_us) / 1000,
        memory_peak_bytes: run_cgroup.memory_peak(),
        stdout_bytes: report.stdout.total,
        stderr_bytes: report.stderr.total,
        stdout_truncated: report.stdout.truncated,
        stderr_truncated: report.stderr.truncated,
        stdout: report.stdout.bytes,
        stderr: report.stderr.bytes,
        enforcement,
    })
}
