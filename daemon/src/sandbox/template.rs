//! Template mount namespaces: each slot's read-only root, assembled once.
//!
//! Assembling a root costs ~20 mounts, a `pivot_root` and the detach of the
//! host's mount tree that came with `clone3(CLONE_NEWNS)` — ~0.5 ms a run. The
//! part that is the same for every run of a slot (the tmpfs root, the system
//! binds, the synthetic `/etc`, `/dev`, the mount points) depends only on the
//! slot's uid and the spec's [`Shape`] (extra read-only paths, overlays, cgroup
//! view), so it is built once, in a mount namespace of its own that a helper
//! thread pivots into and leaves; a descriptor keeps it alive. A run's init
//! then `setns`es into that template and `unshare`s a private copy of it (a
//! dozen mounts), in which it attaches only what is its own: the box, a fresh
//! `/tmp`, the overlays' write layers, `/proc` and the cgroup view.
//!
//! The template's tmpfs is shared by the runs of a slot, but nothing of a run
//! can reach it: it is read-only (remounted so after `pivot_root`), root-owned,
//! and every run-writable place is a mount of the run's own. A template whose
//! bound host paths were replaced since (`ldconfig` renames a new
//! `/etc/ld.so.cache` into place) is rebuilt on its next use.
//!
//! Also here: the detached mounts (`open_tree(OPEN_TREE_CLONE)`) a run
//! attaches, made by the supervisor before `clone3` from host paths.

use super::child::{self, LandlockRule, MountOp};
use super::error::SandboxError;
use super::filesystem::Shape;
use super::sys;
use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How many shapes a slot keeps templates for.
const TEMPLATES_PER_SLOT: usize = 8;

/// How often a template's bound host paths are compared with the host.
const RECHECK: Duration = Duration::from_secs(1);

/// One slot's root for one shape.
pub struct Template {
    shape: Shape,
    pub ns: OwnedFd,
    /// The template's root directory (`O_PATH`): where a run's init makes its
    /// root before copying the namespace. `setns` alone would give it the
    /// namespace's root mount, which is not the template's when the daemon
    /// itself runs in a chroot.
    pub root: OwnedFd,
    /// Landlock rules for the template's paths, added by each run.
    pub rules: Vec<LandlockRule>,
    /// Bound host paths and the (device, inode) they had when bound.
    bound: Vec<(PathBuf, u64, u64)>,
    /// When `bound` was last compared with the host.
    checked: Instant,
}

impl Template {
    /// Assembles the template in a new mount namespace on a short-lived thread.
    pub fn build(
        new_root: &Path,
        shape: Shape,
        ops: Vec<MountOp>,
        rules: Vec<LandlockRule>,
        bound: Vec<PathBuf>,
    ) -> Result<Template, SandboxError> {
        let bound =
            bound.into_iter().filter_map(|p| std::fs::metadata(&p).ok().map(|m| (p, m.dev(), m.ino()))).collect();
        let root = CString::new(new_root.as_os_str().as_bytes())
            .map_err(|_| SandboxError::InvalidSpec(format!("{} contains NUL", new_root.display())))?;
        let (ns, root) = std::thread::spawn(move || assemble(&root, &ops)).join().map_err(|_| {
            SandboxError::Syscall { what: "assemble a template root", source: std::io::Error::other("thread panicked") }
        })??;
        Ok(Template { shape, ns, root, rules, bound, checked: Instant::now() })
    }

    /// False once a bound host path was replaced (renamed over, deleted). Looks
    /// at most once per [`RECHECK`]: a run may see a replaced file that late.
    fn is_current(&mut self) -> bool {
        if self.checked.elapsed() < RECHECK {
            return true;
        }
        self.checked = Instant::now();
        self.bound.iter().all(|(path, dev, ino)| {
            std::fs::metadata(path).map(|m| (m.dev(), m.ino()) == (*dev, *ino)).unwrap_or(false)
        })
    }
}

/// Runs on its own thread: `unshare(CLONE_NEWNS)` gives the thread (alone) a
/// new mount namespace, in which the root is assembled under `root` and pivoted into.
fn assemble(root: &CString, ops: &[MountOp]) -> Result<(OwnedFd, OwnedFd), SandboxError> {
    let step = |what: &'static str| {
        move |e: sys::Errno| SandboxError::Syscall { what, source: std::io::Error::from_raw_os_error(e.0) }
    };
    // CLONE_NEWNS implies CLONE_FS: this thread's root, cwd and umask become its own.
    sys::unshare(libc::CLONE_NEWNS).map_err(step("create a template mount namespace"))?;
    // SAFETY: umask takes no pointers; it is this thread's own fs_struct now.
    unsafe { libc::umask(0o022) };
    let ns = sys::open(c"/proc/thread-self/ns/mnt", libc::O_RDONLY | libc::O_CLOEXEC, 0)
        .map_err(step("open the template mount namespace"))?;
    // SAFETY: open returned a new descriptor that only we own.
    let ns = unsafe { OwnedFd::from_raw_fd(ns) };
    sys::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None).map_err(step("make mounts private"))?;
    for op in ops {
        child::run_mount_op(op).map_err(step("assemble a template root"))?;
    }
    sys::chdir(root).map_err(step("enter the template root"))?;
    sys::pivot_root_here().map_err(step("pivot_root into the template root"))?;
    sys::umount_detach(c".").map_err(step("detach the host's mounts from the template"))?;
    sys::chdir(c"/").map_err(step("enter the template root"))?;
    let read_only = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV;
    sys::mount(None, c"/", None, read_only, None).map_err(step("make the template root read-only"))?;
    let top = sys::open(c"/", libc::O_PATH | libc::O_DIRECTORY, 0).map_err(step("open the template root"))?;
    // SAFETY: open returned a new descriptor that only we own.
    Ok((ns, unsafe { OwnedFd::from_raw_fd(top) }))
}

/// A slot's templates, one per shape seen recently.
#[derive(Default)]
pub struct SlotTemplates {
    entries: Vec<Template>,
}

impl SlotTemplates {
    /// The current template for `shape`, built by `build` when missing or stale.
    pub fn get(
        &mut self,
        shape: &Shape,
        build: impl FnOnce() -> Result<Template, SandboxError>,
    ) -> Result<&Template, SandboxError> {
        if let Some(i) = self.entries.iter().position(|t| &t.shape == shape) {
            if self.entries[i].is_current() {
                let template = self.entries.remove(i);
                self.entries.push(template);
                return self.entries.last().ok_or(SandboxError::InvalidSpec("template vanished".into()));
            }
            self.entries.remove(i);
            tracing::info!("a host path bound into a template root was replaced: rebuilding the template");
        }
        let template = build()?;
        if self.entries.len() >= TEMPLATES_PER_SLOT {
            self.entries.remove(0);
        }
        self.entries.push(template);
        self.entries.last().ok_or(SandboxError::InvalidSpec("template vanished".into()))
    }
}

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// A detached, non-recursive bind of host `path` (never through a final
/// symlink), nosuid and nodev, read-only if asked: `open_tree(OPEN_TREE_CLONE)`
/// then `mount_setattr`. Closing the descriptor of a tree never attached
/// dissolves it.
pub fn detached_bind(path: &Path, read_only: bool) -> Result<OwnedFd, SandboxError> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| SandboxError::InvalidSpec(format!("{} contains NUL", path.display())))?;
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | libc::AT_SYMLINK_NOFOLLOW as libc::c_uint;
    // SAFETY: a valid C string and flags; the result is a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c_path.as_ptr(), flags) };
    if fd < 0 {
        return Err(SandboxError::Box { what: "bind", path: path.into(), source: std::io::Error::last_os_error() });
    }
    // SAFETY: open_tree returned a new descriptor that only we own.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | if read_only { MOUNT_ATTR_RDONLY } else { 0 },
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `attr` is a valid mount_attr of the size passed; the empty path names `tree`.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            std::os::fd::AsRawFd::as_raw_fd(&tree),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc < 0 {
        return Err(SandboxError::Box {
            what: "restrict the bind of",
            path: path.into(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(tree)
}
