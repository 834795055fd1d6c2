//! The box: the per-run working directory, a size-bounded tmpfs on the host.
//!
//! The supervisor fills it before anything untrusted runs, then never follows
//! a path inside it again: results are read with `openat2` under
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`, and the box
//! is removed by unmounting its tmpfs (nothing inside is walked at all).
//! Because it is a tmpfs, a run that fills its disk fills only its own box.

use super::error::SandboxError;
use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A mounted box; unmounted and removed on drop.
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
    /// Creates `path` and mounts a tmpfs of `size_bytes` on it, owned by `uid:gid`.
    pub fn create(path: &Path, size_bytes: u64, uid: u32, gid: u32) -> Result<BoxDir, SandboxError> {
        std::fs::DirBuilder::new().mode(0o700).create(path).map_err(box_err("create", path))?;
        let target = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| SandboxError::InvalidSpec("box path contains NUL".into()))?;
        let options =
            CString::new(format!("size={size_bytes},mode=0755,uid={uid},gid={gid}")).expect("no NUL in numbers");
        // SAFETY: all pointers are valid C strings for the duration of the call.
        let rc = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                options.as_ptr().cast(),
            )
        };
        if rc != 0 {
            let source = std::io::Error::last_os_error();
            let _ = std::fs::remove_dir(path);
            return Err(SandboxError::Box { what: "mount a tmpfs on", path: path.into(), source });
        }
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
            .open(path)
            .map_err(box_err("open", path))?;
        Ok(BoxDir { path: path.into(), dir, uid, gid })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a file into the box before the run (owned by the run's user).
    /// `relative` may contain directories; they are created.
    pub fn write_file(&self, relative: &Path, contents: &[u8], executable: bool) -> Result<(), SandboxError> {
        validate_relative(relative)?;
        let target = self.path.join(relative);
        if let Some(parent) = relative.parent().filter(|p| !p.as_os_str().is_empty()) {
            let mut current = self.path.clone();
            for component in parent.components() {
                current.push(component);
                if !current.exists() {
                    std::fs::DirBuilder::new().mode(0o755).create(&current).map_err(box_err("create", &current))?;
                    std::os::unix::fs::chown(&current, Some(self.uid), Some(self.gid))
                        .map_err(box_err("chown", &current))?;
                }
            }
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
        if let Ok(target) = CString::new(self.path.as_os_str().as_bytes()) {
            // SAFETY: a valid C string; MNT_DETACH|UMOUNT_NOFOLLOW never follows a link at the target.
            unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH | libc::UMOUNT_NOFOLLOW) };
        }
        if let Err(e) = std::fs::remove_dir(&self.path) {
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
