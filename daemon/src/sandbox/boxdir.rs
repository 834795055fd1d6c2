//! The box: the per-run working directory, on a size-bounded tmpfs of its slot.
//!
//! Each worker slot owns one tmpfs ([`SlotStore`]), mounted once; a box is a
//! fresh directory on it, and the tmpfs is resized to the box's size when the
//! box is made. Unmounting a tmpfs per run would cost an RCU grace period
//! (~2.6 ms measured) on the host's mount table; a directory costs ~0.1 ms.
//! A run that fills its disk fills only its slot's tmpfs.
//!
//! A slot's tmpfs is unmounted when its [`SlotStore`] is dropped, unless the
//! process said its mounts die with it ([`slot_mounts_die_with_process`]):
//! `acejudge` runs in a private mount namespace, so its slots' tmpfs vanish
//! when it exits anyway, together with the namespace; an explicit unmount
//! first is then a second round of mount-table work on a one-shot command's
//! exit path.
//!
//! The supervisor fills a box before anything untrusted runs, then never
//! follows a path inside it again: results are read with `openat2` under
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`, and the box
//! is removed with `std::fs::remove_dir_all`, which never follows links (it
//! walks with `openat(O_NOFOLLOW)` and `unlinkat`).

use super::error::SandboxError;
use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once the process's mount namespace is known to be its own.
static MOUNTS_DIE_WITH_PROCESS: AtomicBool = AtomicBool::new(false);

/// Declares that this process runs in a mount namespace of its own that ends
/// with it (see [`super::namespaces::private_mount_namespace`]), so dropping a
/// [`SlotStore`] leaves its tmpfs mounted for the namespace's end to remove.
/// The empty mount-point directory stays on the host; the next
/// [`SlotStore::mount`] there replaces it.
///
/// Only for processes that build their sandbox once (the `acejudge`
/// binary): one that kept making and dropping sandboxes would keep every
/// slot's tmpfs, and the memory in it, until it exits.
pub fn slot_mounts_die_with_process() {
    MOUNTS_DIE_WITH_PROCESS.store(true, Ordering::Relaxed);
}

/// One slot's tmpfs, mounted for the sandbox's lifetime.
pub struct SlotStore {
    root: PathBuf,
    size_bytes: std::sync::atomic::AtomicU64,
}

fn mount_tmpfs(target: &Path, flags: libc::c_ulong, options: &str) -> std::io::Result<()> {
    let target =
        CString::new(target.as_os_str().as_bytes()).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let options = CString::new(options).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: all pointers are valid C strings for the duration of the call.
    let rc =
        unsafe { libc::mount(c"tmpfs".as_ptr(), target.as_ptr(), c"tmpfs".as_ptr(), flags, options.as_ptr().cast()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn detach(target: &Path) {
    if let Ok(target) = CString::new(target.as_os_str().as_bytes()) {
        // SAFETY: a valid C string; UMOUNT_NOFOLLOW never follows a link at the target.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH | libc::UMOUNT_NOFOLLOW) };
    }
}

impl SlotStore {
    /// Mounts a fresh tmpfs at `root` (replacing one a crashed daemon left there).
    pub fn mount(root: &Path, size_bytes: u64) -> Result<SlotStore, SandboxError> {
        if root.exists() {
            detach(root);
            let _ = std::fs::remove_dir(root);
        }
        std::fs::DirBuilder::new().mode(0o700).create(root).map_err(box_err("create", root))?;
        mount_tmpfs(root, libc::MS_NOSUID | libc::MS_NODEV, &format!("size={size_bytes},nr_inodes=65536,mode=0711"))
            .map_err(box_err("mount a tmpfs on", root))?;
        Ok(SlotStore { root: root.into(), size_bytes: std::sync::atomic::AtomicU64::new(size_bytes) })
    }

    /// A new box of at most `size_bytes`, owned by `uid:gid`.
    pub fn create_box(&self, name: &str, size_bytes: u64, uid: u32, gid: u32) -> Result<BoxDir, SandboxError> {
        if self.size_bytes.swap(size_bytes, Ordering::Relaxed) != size_bytes {
            mount_tmpfs(&self.root, libc::MS_REMOUNT | libc::MS_NOSUID | libc::MS_NODEV, &format!("size={size_bytes}"))
                .map_err(box_err("resize the tmpfs at", &self.root))?;
        }
        let path = self.root.join(name);
        std::fs::DirBuilder::new().mode(0o755).create(&path).map_err(box_err("create", &path))?;
        std::os::unix::fs::chown(&path, Some(uid), Some(gid)).map_err(box_err("chown", &path))?;
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
            .open(&path)
            .map_err(box_err("open", &path))?;
        Ok(BoxDir { path, dir, uid, gid })
    }
}

impl Drop for SlotStore {
    fn drop(&mut self) {
        if MOUNTS_DIE_WITH_PROCESS.load(Ordering::Relaxed) {
            return;
        }
        detach(&self.root);
        let _ = std::fs::remove_dir(&self.root);
    }
}

/// A box: a directory on its slot's tmpfs; removed (without following links) on drop.
pub struct BoxDir {
    path: PathBuf,
    dir: File,
    uid: u32,
    gid: u32,
}

fn box_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> SandboxError + 'a {
    move |source| SandboxError::Box { what, path: path.to_path_buf(), source }
}

impl BoxDir {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a file into the box before the run (owned by the run's user).
    /// `relative` may contain directories; they are created.
    pub fn write_file(&self, relative: &Path, contents: &[u8], executable: bool) -> Result<(), SandboxError> {
        validate_relative(relative)?;
        let target = self.path.join(relative);
        if let Some(parent) = relative.parent().filter(|p| !p.as_os_str().is_empty()) {
            self.create_dirs(parent)?;
        }
        let mode = if executable { 0o755 } else { 0o644 };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&target)
            .map_err(box_err("create", &target))?;
        std::io::Write::write_all(&mut file, contents).map_err(box_err("write", &target))?;
        file.set_permissions(std::fs::Permissions::from_mode(mode)).map_err(box_err("chmod", &target))?;
        std::os::unix::fs::fchown(&file, Some(self.uid), Some(self.gid)).map_err(box_err("chown", &target))?;
        Ok(())
    }

    /// Creates `relative` and every missing directory above it in the box
    /// (before the run), 0755 and owned by the run's user.
    pub fn create_dirs(&self, relative: &Path) -> Result<(), SandboxError> {
        validate_relative(relative)?;
        let mut current = self.path.clone();
        for component in relative.components() {
            current.push(component);
            if !current.exists() {
                std::fs::DirBuilder::new().mode(0o755).create(&current).map_err(box_err("create", &current))?;
                std::os::unix::fs::chown(&current, Some(self.uid), Some(self.gid))
                    .map_err(box_err("chown", &current))?;
            }
        }
        Ok(())
    }

    /// Copies a host directory's contents into the box (before the run).
    pub fn copy_from(&self, source: &Path) -> Result<(), SandboxError> {
        self.copy_tree(source, Path::new(""))
    }

    fn copy_tree(&self, source: &Path, relative: &Path) -> Result<(), SandboxError> {
        let dir = source.join(relative);
        for entry in std::fs::read_dir(&dir).map_err(box_err("read", &dir))? {
            let entry = entry.map_err(box_err("read", &dir))?;
            let child = relative.join(entry.file_name());
            let meta = entry.metadata().map_err(box_err("stat", &entry.path()))?;
            if meta.is_dir() {
                self.copy_tree(source, &child)?;
            } else if meta.is_file() {
                let contents = std::fs::read(entry.path()).map_err(box_err("read", &entry.path()))?;
                self.write_file(&child, &contents, meta.permissions().mode() & 0o111 != 0)?;
            }
        }
        Ok(())
    }

    /// Reads a file the run left in the box, never following a link and never
    /// leaving the box; at most `max_bytes`.
    pub fn read_file(&self, relative: &Path, max_bytes: u64) -> Result<Vec<u8>, SandboxError> {
        let fd = openat2_beneath(&self.dir, relative).map_err(box_err("safely open", &self.path))?;
        let file = File::from(fd);
        let meta = file.metadata().map_err(box_err("stat", &self.path))?;
        if !meta.is_file() {
            let source = std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file");
            return Err(SandboxError::Box { what: "read", path: self.path.join(relative), source });
        }
        let mut out = Vec::new();
        file.take(max_bytes).read_to_end(&mut out).map_err(box_err("read", &self.path))?;
        Ok(out)
    }
}

impl Drop for BoxDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove box directory");
        }
    }
}

fn validate_relative(relative: &Path) -> Result<(), SandboxError> {
    let ok =
        !relative.as_os_str().is_empty() && relative.components().all(|c| matches!(c, std::path::Component::Normal(_)));
    if ok {
        Ok(())
    } else {
        Err(SandboxError::InvalidSpec(format!("file name {} must be relative, without `..`", relative.display())))
    }
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;

/// `openat2(dir, relative, O_RDONLY, RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS)`.
pub fn openat2_beneath(dir: &File, relative: &Path) -> std::io::Result<OwnedFd> {
    let path =
        CString::new(relative.as_os_str().as_bytes()).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let how = OpenHow {
        flags: (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK) as u64,
        mode: 0,
        resolve: RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: `how` is a valid open_how of the size passed; `path` is a valid C string.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
