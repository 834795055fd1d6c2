//! Thin, async-signal-safe wrappers over the raw syscalls the sandbox needs.
//!
//! Everything here may run between `clone3` and `execve`, so nothing here
//! allocates, locks, or panics: each wrapper makes one syscall and turns its
//! return value into `Result<_, Errno>`.

use std::ffi::CStr;
use std::os::fd::RawFd;

/// A raw `errno` value, kept small so the child can report it without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    pub fn last() -> Errno {
        Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))
    }
}

impl From<Errno> for std::io::Error {
    fn from(errno: Errno) -> Self {
        std::io::Error::from_raw_os_error(errno.0)
    }
}

pub type SysResult<T> = Result<T, Errno>;

fn check(rc: libc::c_long) -> SysResult<libc::c_long> {
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(rc)
    }
}

fn check_int(rc: libc::c_int) -> SysResult<libc::c_int> {
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(rc)
    }
}

fn ptr_or_null(s: Option<&CStr>) -> *const libc::c_char {
    s.map_or(std::ptr::null(), CStr::as_ptr)
}

pub fn mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: libc::c_ulong,
    data: Option<&CStr>,
) -> SysResult<()> {
    // SAFETY: every pointer is a NUL-terminated string that outlives the call, or null.
    let rc = unsafe {
        libc::mount(ptr_or_null(source), target.as_ptr(), ptr_or_null(fstype), flags, ptr_or_null(data).cast())
    };
    check_int(rc).map(drop)
}

pub fn mkdir(path: &CStr, mode: libc::mode_t) -> SysResult<()> {
    // SAFETY: `path` is a valid C string.
    match check_int(unsafe { libc::mkdir(path.as_ptr(), mode) }) {
        Ok(_) | Err(Errno(libc::EEXIST)) => Ok(()),
        Err(e) => Err(e),
    }
}

pub fn chmod(path: &CStr, mode: libc::mode_t) -> SysResult<()> {
    // SAFETY: `path` is a valid C string.
    check_int(unsafe { libc::chmod(path.as_ptr(), mode) }).map(drop)
}

pub fn chown(path: &CStr, uid: libc::uid_t, gid: libc::gid_t) -> SysResult<()> {
    // SAFETY: `path` is a valid C string.
    check_int(unsafe { libc::chown(path.as_ptr(), uid, gid) }).map(drop)
}

pub fn symlink(target: &CStr, path: &CStr) -> SysResult<()> {
    // SAFETY: both are valid C strings.
    check_int(unsafe { libc::symlink(target.as_ptr(), path.as_ptr()) }).map(drop)
}

pub fn mknod(path: &CStr, mode: libc::mode_t, dev: libc::dev_t) -> SysResult<()> {
    // SAFETY: `path` is a valid C string.
    check_int(unsafe { libc::mknod(path.as_ptr(), mode, dev) }).map(drop)
}

pub fn open(path: &CStr, flags: libc::c_int, mode: libc::mode_t) -> SysResult<RawFd> {
    // SAFETY: `path` is a valid C string; the mode is passed as the variadic third argument.
    check_int(unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) })
}

pub fn close(fd: RawFd) {
    // SAFETY: closing a descriptor this process owns; errors are irrelevant here.
    unsafe { libc::close(fd) };
}

/// Writes all of `buf`, retrying short writes and `EINTR`.
pub fn write_all(fd: RawFd, mut buf: &[u8]) -> SysResult<()> {
    while !buf.is_empty() {
        // SAFETY: `buf` is a valid readable slice for its length.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = Errno::last();
            if e.0 == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

pub fn chdir(path: &CStr) -> SysResult<()> {
    // SAFETY: `path` is a valid C string.
    check_int(unsafe { libc::chdir(path.as_ptr()) }).map(drop)
}

const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;

/// Attaches the detached mount `tree` at `target` (`move_mount(2)`).
pub fn move_mount(tree: RawFd, target: &CStr) -> SysResult<()> {
    // SAFETY: an empty path with F_EMPTY_PATH names `tree` itself; `target` is a valid C string.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree,
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    })
    .map(drop)
}

pub fn fchdir(fd: RawFd) -> SysResult<()> {
    // SAFETY: fchdir takes a descriptor only.
    check_int(unsafe { libc::fchdir(fd) }).map(drop)
}

pub fn chroot(path: &CStr) -> SysResult<()> {
    // SAFETY: `path` is a valid C string.
    check_int(unsafe { libc::chroot(path.as_ptr()) }).map(drop)
}

pub fn pivot_root_here() -> SysResult<()> {
    let dot = c".";
    // SAFETY: pivot_root(".", ".") stacks the old root under the new one; both are valid strings.
    check(unsafe { libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) }).map(drop)
}

pub fn umount_detach(path: &CStr) -> SysResult<()> {
    // SAFETY: `path` is a valid C string.
    check_int(unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) }).map(drop)
}

pub fn unshare(flags: libc::c_int) -> SysResult<()> {
    // SAFETY: unshare takes no pointers.
    check_int(unsafe { libc::unshare(flags) }).map(drop)
}

pub fn setns(fd: RawFd, nstype: libc::c_int) -> SysResult<()> {
    // SAFETY: setns takes no pointers; a bad fd is reported as EBADF.
    check_int(unsafe { libc::setns(fd, nstype) }).map(drop)
}

pub fn sethostname(name: &CStr) -> SysResult<()> {
    // SAFETY: the pointer and length describe the string's bytes.
    check_int(unsafe { libc::sethostname(name.as_ptr(), name.to_bytes().len()) }).map(drop)
}

pub fn prctl(option: libc::c_int, arg2: libc::c_ulong) -> SysResult<()> {
    // SAFETY: the options used here take integer arguments only.
    check_int(unsafe { libc::prctl(option, arg2, 0 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong) })
        .map(drop)
}

pub fn dup2(from: RawFd, to: RawFd) -> SysResult<()> {
    // SAFETY: dup2 takes no pointers.
    check_int(unsafe { libc::dup2(from, to) }).map(drop)
}

/// Starts `child(arg)` as a new process that shares this address space on
/// `stack` until it calls `execve` or exits, while the caller is suspended
/// (`CLONE_VM | CLONE_VFORK`, as `posix_spawn` does): no page tables are
/// copied. The child must only make syscalls and write its own stack.
///
/// `stack` is the lowest address of `stack_len` writable bytes that nothing
/// else uses while the child runs.
pub fn spawn_vfork(
    stack: *mut u8,
    stack_len: usize,
    child: extern "C" fn(*mut libc::c_void) -> libc::c_int,
    arg: *mut libc::c_void,
) -> SysResult<libc::pid_t> {
    // The stack grows down on every architecture this builds for; keep it 16-byte aligned.
    let top = (stack as usize + stack_len) & !15;
    // SAFETY: `top` is the aligned end of a writable buffer nothing else uses (the caller
    // is suspended until the child execs or exits); `child` never returns into our frames.
    let pid = unsafe {
        libc::clone(child, top as *mut libc::c_void, libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD, arg)
    };
    if pid < 0 {
        return Err(Errno::last());
    }
    Ok(pid)
}

pub fn exit(code: i32) -> ! {
    // SAFETY: _exit never returns and runs no destructors or atexit handlers.
    unsafe { libc::_exit(code) }
}

/// Sends `bytes` with descriptor `fd` attached (`SCM_RIGHTS`) on a unix socket.
pub fn send_with_fd(sock: RawFd, bytes: &[u8], fd: RawFd) -> SysResult<()> {
    // Room for one descriptor's control message, aligned for cmsghdr.
    let mut control = [0u64; 4];
    let mut iov = libc::iovec { iov_base: bytes.as_ptr() as *mut libc::c_void, iov_len: bytes.len() };
    // SAFETY: a zeroed msghdr is valid; every pointer set below points into live locals,
    // and CMSG_SPACE(4) (24 bytes) fits in `control` (32 bytes).
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        check(libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) as libc::c_long).map(drop)
    }
}
