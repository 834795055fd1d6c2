//! The compile-output cache: a successful compile's declared outputs, kept
//! under a key of everything the compile saw, and placed in a fresh box
//! instead of compiling again when a later job's inputs are byte-identical.
//!
//! ```text
//! key = SHA-256( runner id, runner version, toolchain version,
//!                the toolchain's read-only paths, the box size,
//!                the compile step exactly as planned (argv, env, limits,
//!                  read-only paths, overlays, cgroup view, stdin, outputs),
//!                the job's stdin when the compile step reads it,
//!                every file placed in the box before the compile, sorted
//!                  by name: name, mode, contents )
//! hit:  the entry's files and directories are written into the fresh box,
//!       owned by the slot's uid as the compile would have left them; the
//!       compile step is reported `cached` (a success, zero duration)
//! miss: the compile runs; only when it ends `Ok`, its declared outputs are
//!       read back with openat2 beneath the box and stored
//! ```
//!
//! Each field is framed (tag and length before each value), so no two
//! different inputs hash the same byte stream. The step is hashed as its
//! JSON, so a field added to [`Step`] later is part of the key at once.
//!
//! Layout: `<root>/<64 hex digits>/` holding `manifest.json` (the entries in
//! walk order: directories before what they hold, each file's size and
//! permission bits) and one blob per file, named by its index. An entry is
//! built in `<root>/.tmp-…` and renamed into place, so an entry that exists
//! is complete; when two slots compile the same key at once, the second
//! rename fails (the name is taken) and is a no-op.
//!
//! Reading back is the one place the host walks a box after untrusted code
//! ran in it. Every file and directory is opened with `openat2(RESOLVE_BENEATH
//! | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)` from the box's directory
//! ([`openat2_beneath`]), its type taken from `fstat` of what was opened, and
//! directories are listed through their descriptor (`fdopendir`), never by
//! path. Anything but regular files and directories (a link, FIFO, socket,
//! device), a name that is not UTF-8, a missing output, or more than
//! [`MAX_ENTRY_BYTES`] in all, and the outputs are not cached: the job goes
//! on as if there were no cache.
//!
//! Bounds: the entries' total is kept under the configured size
//! (`server.artifact_cache_bytes`, 0 disables the cache): after each store,
//! the least recently used entries (directory mtime, touched on every hit)
//! are removed until the total fits.
//!
//! Safety argument: an entry can only be created by a compile of exactly the
//! inputs in its key, so it is only ever served to byte-identical inputs under
//! the same runner, toolchain and plan; a different submission can never
//! receive another's outputs (that would take a SHA-256 collision). The
//! outputs of an untrusted compile stay untrusted: they are only ever run in
//! the sandbox, as the compile's own outputs would have been. The cache lives
//! in the data directory (root only, mode 0700); no run ever sees it.

use super::policy::check_relative;
use crate::sandbox::boxdir::openat2_beneath;
use crate::sandbox::{BoxDir, SandboxError};
use acejudge_runner_api::{StdinSource, Step};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::ffi::{CStr, OsString};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// The default bound on the cache's total size: 512 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 512 << 20;
/// The most one compile's outputs may hold to be cached: 64 MiB.
pub const MAX_ENTRY_BYTES: u64 = 64 << 20;
/// Changes whenever the key's framing or the entry layout does.
const FORMAT: &str = "acejudge-artifacts-v1";
const MANIFEST: &str = "manifest.json";
const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// Most files and directories in one entry.
const MAX_ENTRIES: usize = 10_000;
/// Temporary directories older than this were left by a crashed process.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// Why compile outputs were not cached or not restored (the job goes on without the cache).
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("compile output {path}: cannot {what}: {source}")]
    Read { path: String, what: &'static str, source: std::io::Error },
    #[error("compile output {path} is not a regular file or a directory (a link, FIFO, socket or device)")]
    NotPlain { path: String },
    #[error("compile output {path:?}: a name that is not UTF-8")]
    Name { path: String },
    #[error("compile outputs hold more than {limit} bytes or {MAX_ENTRIES} entries")]
    TooLarge { limit: u64 },
    #[error("artifact cache: cannot {what} {path}: {source}")]
    Store { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("artifact cache entry {path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("cannot place cached compile outputs in the box: {0}")]
    Box(#[from] SandboxError),
}

/// A file placed in the box before the compile step.
#[derive(Clone, Copy, Debug)]
pub struct PlacedFile<'a> {
    /// Relative to the box.
    pub name: &'a str,
    /// Permission bits as written (0644, or 0755 for an executable support file).
    pub mode: u32,
    pub contents: &'a [u8],
}

/// Everything a compile step's result depends on.
#[derive(Clone, Copy, Debug)]
pub struct KeyInputs<'a> {
    pub runner: &'a str,
    pub runner_version: &'a str,
    pub toolchain_version: &'a str,
    /// The toolchain's read-only paths, mounted in every step besides the step's own.
    pub toolchain_paths: &'a [String],
    /// The compile step, as it will run (after the host's adjustments).
    pub step: &'a Step,
    /// The job's stdin: part of the key only when the step reads it.
    pub stdin: &'a [u8],
    /// Size of the box and of the step's `/tmp`.
    pub box_bytes: u64,
    /// Every file in the box before the step, in any order.
    pub files: &'a [PlacedFile<'a>],
}

/// The SHA-256 key of one compile's inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ArtifactKey([u8; 32]);

impl ArtifactKey {
    /// 64 lowercase hex digits: the entry's directory name.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Display for ArtifactKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.hex())
    }
}

fn frame(hash: &mut Sha256, tag: &str, value: &[u8]) {
    hash.update((tag.len() as u64).to_le_bytes());
    hash.update(tag.as_bytes());
    hash.update((value.len() as u64).to_le_bytes());
    hash.update(value);
}

/// The key of a compile's inputs; `None` only if the step cannot be serialized.
pub fn key(inputs: &KeyInputs) -> Option<ArtifactKey> {
    let step = match serde_json::to_vec(inputs.step) {
        Ok(json) => json,
        Err(e) => {
            tracing::warn!(error = %e, "cannot serialize the compile step; its outputs are not cached");
            return None;
        }
    };
    let mut hash = Sha256::new();
    frame(&mut hash, "format", FORMAT.as_bytes());
    frame(&mut hash, "runner", inputs.runner.as_bytes());
    frame(&mut hash, "runner_version", inputs.runner_version.as_bytes());
    frame(&mut hash, "toolchain_version", inputs.toolchain_version.as_bytes());
    frame(&mut hash, "toolchain_paths", &(inputs.toolchain_paths.len() as u64).to_le_bytes());
    for path in inputs.toolchain_paths {
        frame(&mut hash, "toolchain_path", path.as_bytes());
    }
    frame(&mut hash, "step", &step);
    let stdin: &[u8] = if inputs.step.stdin == StdinSource::Request { inputs.stdin } else { &[] };
    frame(&mut hash, "stdin", stdin);
    frame(&mut hash, "box_bytes", &inputs.box_bytes.to_le_bytes());
    let mut files: Vec<&PlacedFile> = inputs.files.iter().collect();
    files.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()).then(a.mode.cmp(&b.mode)));
    frame(&mut hash, "files", &(files.len() as u64).to_le_bytes());
    for file in files {
        frame(&mut hash, "name", file.name.as_bytes());
        frame(&mut hash, "mode", &file.mode.to_le_bytes());
        frame(&mut hash, "contents", file.contents);
    }
    Some(ArtifactKey(hash.finalize().into()))
}

/// One file or directory of a compile's outputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Artifact {
    /// `mode`: the permission bits (`& 0o777`: never set-id or sticky).
    Dir {
        path: String,
        mode: u32,
    },
    File {
        path: String,
        mode: u32,
        contents: Vec<u8>,
    },
}

impl Artifact {
    pub fn path(&self) -> &str {
        match self {
            Artifact::Dir { path, .. } | Artifact::File { path, .. } => path,
        }
    }
}

/// A compile's outputs, in walk order (a directory before what it holds).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Artifacts {
    pub entries: Vec<Artifact>,
}

impl Artifacts {
    /// The bytes of all files.
    pub fn bytes(&self) -> u64 {
        self.entries
            .iter()
            .map(|e| match e {
                Artifact::File { contents, .. } => contents.len() as u64,
                Artifact::Dir { .. } => 0,
            })
            .sum()
    }
}

/// Reads the declared `outputs` back from the box at `box_root`, after the
/// compile ran: every file and directory opened with `openat2` beneath the
/// box without following links, only regular files and directories, at most
/// `max_bytes` in all. Any other finding refuses the whole set.
pub fn read_outputs(box_root: &Path, outputs: &[String], max_bytes: u64) -> Result<Artifacts, ArtifactError> {
    let root = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(box_root)
        .map_err(|source| ArtifactError::Read { path: box_root.display().to_string(), what: "open the box", source })?;
    let mut reader = Reader { root: &root, budget: max_bytes, limit: max_bytes, found: Artifacts::default() };
    for output in outputs {
        check_relative(output).map_err(|_| ArtifactError::Name { path: output.clone() })?;
        let normal: PathBuf = Path::new(output).components().collect();
        let normal = normal.to_str().ok_or_else(|| ArtifactError::Name { path: output.clone() })?.to_string();
        if reader.found.entries.iter().any(|e| e.path() == normal || normal.starts_with(&format!("{}/", e.path()))) {
            continue; // declared twice, or inside a directory already read
        }
        reader.walk(&normal)?;
    }
    Ok(reader.found)
}

struct Reader<'a> {
    root: &'a File,
    budget: u64,
    limit: u64,
    found: Artifacts,
}

impl Reader<'_> {
    fn walk(&mut self, relative: &str) -> Result<(), ArtifactError> {
        let err = |what: &'static str| {
            let path = relative.to_string();
            move |source| ArtifactError::Read { path, what, source }
        };
        if self.found.entries.len() >= MAX_ENTRIES {
            return Err(ArtifactError::TooLarge { limit: self.limit });
        }
        let file = File::from(openat2_beneath(self.root, Path::new(relative)).map_err(err("safely open"))?);
        let meta = file.metadata().map_err(err("stat"))?;
        if meta.is_dir() {
            let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777;
            self.found.entries.push(Artifact::Dir { path: relative.to_string(), mode });
            let mut names = list_dir(&file).map_err(err("list"))?;
            names.sort();
            for name in names {
                let name = name.into_string().map_err(|n| ArtifactError::Name {
                    path: format!("{relative}/{}", String::from_utf8_lossy(&n.into_vec())),
                })?;
                self.walk(&format!("{relative}/{name}"))?;
            }
            Ok(())
        } else if meta.is_file() {
            if meta.len() > self.budget {
                return Err(ArtifactError::TooLarge { limit: self.limit });
            }
            let mut contents = Vec::with_capacity(meta.len() as usize);
            (&file).take(self.budget + 1).read_to_end(&mut contents).map_err(err("read"))?;
            if contents.len() as u64 > self.budget {
                return Err(ArtifactError::TooLarge { limit: self.limit });
            }
            self.budget -= contents.len() as u64;
            let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777;
            self.found.entries.push(Artifact::File { path: relative.to_string(), mode, contents });
            Ok(())
        } else {
            Err(ArtifactError::NotPlain { path: relative.to_string() })
        }
    }
}

/// The names in a directory, read through its descriptor (never by path).
fn list_dir(dir: &File) -> std::io::Result<Vec<OsString>> {
    // SAFETY: duplicating a descriptor we hold open; the kernel checks it.
    let fd = unsafe { libc::fcntl(dir.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by fcntl and nothing else owns it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: `owned` is a valid directory descriptor; on success the stream owns it.
    let stream = unsafe { libc::fdopendir(owned.as_raw_fd()) };
    if stream.is_null() {
        return Err(std::io::Error::last_os_error()); // `owned` closes the descriptor
    }
    std::mem::forget(owned); // closed by closedir below
                             // SAFETY: `stream` is a valid DIR*; the duplicate shares the offset of `dir`, so start over.
    unsafe { libc::rewinddir(stream) };
    let mut names = Vec::new();
    let result = loop {
        // SAFETY: errno is thread-local; cleared to tell the end of the stream from an error.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: `stream` is a valid DIR* used by this thread only.
        let entry = unsafe { libc::readdir(stream) };
        if entry.is_null() {
            let error = std::io::Error::last_os_error();
            break if error.raw_os_error() == Some(0) { Ok(()) } else { Err(error) };
        }
        // SAFETY: readdir returned a valid dirent whose d_name is NUL-terminated; copied before the next call.
        let name = unsafe { CStr::from_ptr((*entry).d_name.as_ptr()) }.to_bytes();
        if name != b"." && name != b".." {
            names.push(OsString::from_vec(name.to_vec()));
        }
    };
    // SAFETY: `stream` is valid and closed exactly once (this also closes the duplicate).
    unsafe { libc::closedir(stream) };
    result.map(|()| names)
}

/// Writes cached outputs into a fresh box, before anything ran in it, owned
/// by the box's user (the slot's, as the compile's own outputs would be).
/// Files the host placed before the compile (`placed`) that the compile
/// left among its outputs are replaced by their cached version.
///
/// Only the host has touched the box at this point, so paths in it can be
/// used directly.
pub fn restore(artifacts: &Artifacts, boxed: &BoxDir) -> Result<(), ArtifactError> {
    for entry in &artifacts.entries {
        check_relative(entry.path()).map_err(|_| ArtifactError::Name { path: entry.path().to_string() })?;
        let target = boxed.path().join(entry.path());
        let io = |what: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| ArtifactError::Box(SandboxError::Box { what, path, source })
        };
        match entry {
            Artifact::Dir { path, mode } => {
                boxed.create_dirs(Path::new(path))?;
                chmod(&target, *mode).map_err(io("chmod", &target))?;
            }
            Artifact::File { path, mode, contents } => {
                if std::fs::symlink_metadata(&target).is_ok() {
                    std::fs::remove_file(&target).map_err(io("replace", &target))?;
                }
                boxed.write_file(Path::new(path), contents, mode & 0o111 != 0)?;
                chmod(&target, *mode).map_err(io("chmod", &target))?;
            }
        }
    }
    Ok(())
}

/// Sets the permission bits of a path the host made in a fresh box (never set-id or sticky).
fn chmod(path: &Path, mode: u32) -> std::io::Result<()> {
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode & 0o777))
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    format: String,
    bytes: u64,
    entries: Vec<ManifestEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum ManifestEntry {
    Dir { path: String, mode: u32 },
    File { path: String, mode: u32, size: u64 },
}

/// The host directory of cached compile outputs (`<data dir>/artifacts`).
#[derive(Debug)]
pub struct ArtifactCache {
    root: PathBuf,
    max_bytes: u64,
    /// One eviction at a time in this process (others may run in other processes: removal is by rename first).
    evicting: Mutex<()>,
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str, key: &str) -> String {
    format!("{prefix}-{key}-{}-{}", std::process::id(), SEQUENCE.fetch_add(1, Ordering::Relaxed))
}

impl ArtifactCache {
    /// A cache under `root` holding at most `max_bytes` (made absolute; created on first store).
    pub fn new(root: &Path, max_bytes: u64) -> ArtifactCache {
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        ArtifactCache { root, max_bytes, evicting: Mutex::new(()) }
    }

    /// As [`ArtifactCache::new`], or `None` when `max_bytes` is 0 (the cache disabled).
    pub fn configured(root: &Path, max_bytes: u64) -> Option<ArtifactCache> {
        (max_bytes > 0).then(|| ArtifactCache::new(root, max_bytes))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The most one compile's outputs may hold to be cached.
    pub fn max_entry_bytes(&self) -> u64 {
        MAX_ENTRY_BYTES.min(self.max_bytes)
    }

    fn entry_dir(&self, key: &ArtifactKey) -> PathBuf {
        self.root.join(key.hex())
    }

    /// The outputs stored under `key`, or `None`; a hit marks the entry as
    /// recently used. An unreadable entry is a miss (and is removed).
    pub fn load(&self, key: &ArtifactKey) -> Option<Artifacts> {
        let dir = self.entry_dir(key);
        if !dir.is_dir() {
            return None;
        }
        match read_entry(&dir) {
            Ok(found) => {
                if let Err(e) = File::open(&dir).and_then(|d| d.set_modified(SystemTime::now())) {
                    tracing::debug!(error = %e, dir = %dir.display(), "cannot mark an artifact entry as used");
                }
                Some(found)
            }
            Err(e) => {
                tracing::warn!(error = %e, "unreadable compile-output cache entry removed");
                self.remove(&dir, key.hex().as_str());
                None
            }
        }
    }

    /// Stores `artifacts` under `key`, then evicts down to the bound. `Ok(false)`
    /// when they were not stored: larger than an entry may be, or already
    /// there (another slot compiled the same inputs at the same time).
    pub fn store(&self, key: &ArtifactKey, artifacts: &Artifacts) -> Result<bool, ArtifactError> {
        if artifacts.bytes() > self.max_entry_bytes() {
            return Ok(false);
        }
        let target = self.entry_dir(key);
        if target.is_dir() {
            return Ok(false);
        }
        let store_err = |what: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| ArtifactError::Store { what, path, source }
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(store_err("create", &self.root))?;
        let temporary = self.root.join(unique(".tmp", &key.hex()));
        let written = write_entry(&temporary, artifacts);
        if let Err(e) = written {
            let _ = std::fs::remove_dir_all(&temporary);
            return Err(e);
        }
        let stored = match std::fs::rename(&temporary, &target) {
            Ok(()) => true,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&temporary);
                if !target.is_dir() {
                    return Err(store_err("rename into place", &target)(e));
                }
                false // the same key stored by someone else first: identical by construction
            }
        };
        if stored {
            self.evict()?;
        }
        Ok(stored)
    }

    /// Removes the least recently used entries until the total fits the
    /// bound (and temporary directories a crashed process left); returns the total kept.
    pub fn evict(&self) -> Result<u64, ArtifactError> {
        let _guard = self.evicting.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut entries = Vec::new();
        let listing = match std::fs::read_dir(&self.root) {
            Ok(listing) => listing,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(ArtifactError::Store { what: "list", path: self.root.clone(), source: e }),
        };
        for item in listing.flatten() {
            let name = item.file_name().to_string_lossy().into_owned();
            let Ok(meta) = item.metadata() else { continue };
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if name.starts_with('.') {
                let stale = SystemTime::now().duration_since(modified).is_ok_and(|age| age > STALE_AFTER);
                if stale {
                    let _ = std::fs::remove_dir_all(item.path());
                }
                continue;
            }
            if name.len() != 64 || !name.bytes().all(|b| b.is_ascii_hexdigit()) || !meta.is_dir() {
                continue;
            }
            entries.push((modified, dir_bytes(&item.path()), name));
        }
        let mut total: u64 = entries.iter().map(|(_, bytes, _)| bytes).sum();
        entries.sort();
        for (_, bytes, name) in entries {
            if total <= self.max_bytes {
                break;
            }
            self.remove(&self.root.join(&name), &name);
            total -= bytes;
            tracing::debug!(entry = %name, bytes, "compile-output cache entry evicted");
        }
        Ok(total)
    }

    /// The bytes the cache holds now.
    pub fn total_bytes(&self) -> u64 {
        std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| dir_bytes(&e.path()))
            .sum()
    }

    /// Removes an entry: renamed away first, so readers never see half of one.
    fn remove(&self, dir: &Path, name: &str) {
        let doomed = self.root.join(unique(".evict", name));
        if std::fs::rename(dir, &doomed).is_ok() {
            let _ = std::fs::remove_dir_all(&doomed);
        }
    }
}

/// The bytes of the files directly in `dir` (entries are flat).
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

fn write_entry(dir: &Path, artifacts: &Artifacts) -> Result<(), ArtifactError> {
    let store_err = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| ArtifactError::Store { what, path, source }
    };
    std::fs::DirBuilder::new().mode(0o700).create(dir).map_err(store_err("create", dir))?;
    let write = |path: &Path, bytes: &[u8]| -> Result<(), ArtifactError> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(store_err("create", path))?;
        std::io::Write::write_all(&mut file, bytes).map_err(store_err("write", path))
    };
    let mut entries = Vec::with_capacity(artifacts.entries.len());
    for (index, entry) in artifacts.entries.iter().enumerate() {
        entries.push(match entry {
            Artifact::Dir { path, mode } => ManifestEntry::Dir { path: path.clone(), mode: *mode },
            Artifact::File { path, mode, contents } => {
                write(&dir.join(index.to_string()), contents)?;
                ManifestEntry::File { path: path.clone(), mode: *mode, size: contents.len() as u64 }
            }
        });
    }
    let manifest = Manifest { format: FORMAT.into(), bytes: artifacts.bytes(), entries };
    let json = serde_json::to_vec(&manifest)
        .map_err(|e| ArtifactError::Corrupt { path: dir.to_path_buf(), reason: e.to_string() })?;
    write(&dir.join(MANIFEST), &json)
}

fn read_entry(dir: &Path) -> Result<Artifacts, ArtifactError> {
    let corrupt = |reason: String| ArtifactError::Corrupt { path: dir.to_path_buf(), reason };
    let read = |name: &str, limit: u64| -> Result<Vec<u8>, ArtifactError> {
        let path = dir.join(name);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|source| ArtifactError::Store { what: "open", path: path.clone(), source })?;
        let mut bytes = Vec::new();
        file.take(limit + 1).read_to_end(&mut bytes).map_err(|source| ArtifactError::Store {
            what: "read",
            path: path.clone(),
            source,
        })?;
        if bytes.len() as u64 > limit {
            return Err(corrupt(format!("{name} is larger than {limit} bytes")));
        }
        Ok(bytes)
    };
    let manifest: Manifest =
        serde_json::from_slice(&read(MANIFEST, MAX_MANIFEST_BYTES)?).map_err(|e| corrupt(e.to_string()))?;
    if manifest.format != FORMAT {
        return Err(corrupt(format!("format {:?}, expected {FORMAT:?}", manifest.format)));
    }
    if manifest.bytes > MAX_ENTRY_BYTES || manifest.entries.len() > MAX_ENTRIES {
        return Err(corrupt("larger than an entry may be".into()));
    }
    let mut entries = Vec::with_capacity(manifest.entries.len());
    for (index, entry) in manifest.entries.into_iter().enumerate() {
        entries.push(match entry {
            ManifestEntry::Dir { path, mode } => Artifact::Dir { path, mode: mode & 0o777 },
            ManifestEntry::File { path, mode, size } => {
                let contents = read(&index.to_string(), size)?;
                if contents.len() as u64 != size {
                    return Err(corrupt(format!("{path}: {} bytes, the manifest says {size}", contents.len())));
                }
                Artifact::File { path, mode: mode & 0o777, contents }
            }
        });
    }
    for entry in &entries {
        check_relative(entry.path()).map_err(corrupt)?;
    }
    Ok(Artifacts { entries })
}

#[cfg(test)]
mod tests {
    use super::*;
    use acejudge_runner_api::StepLimits;
    use std::collections::BTreeMap;
    use std::os::unix::fs::PermissionsExt;

    fn step() -> Step {
        Step {
            argv: vec!["/usr/bin/go".into(), "build".into(), "-o".into(), ".acejudge-bin".into(), "main.go".into()],
            env: BTreeMap::from([("GOCACHE".into(), "/c".into()), ("PATH".into(), "/usr/bin".into())]),
            limits: StepLimits {
                wall_ms: 10_000,
                cpu_ms: 20_000,
                memory_bytes: 1 << 30,
                pids: 320,
                output_bytes: 1 << 20,
            },
            readonly_paths: vec![],
            writable_overlays: vec!["/data/caches/go/gocache-x/content".into()],
            cgroup_view: false,
            stdin: StdinSource::Empty,
            outputs: vec![".acejudge-bin".into()],
            warm_argv: None,
        }
    }

    struct Owned {
        step: Step,
        paths: Vec<String>,
        files: Vec<(String, u32, Vec<u8>)>,
        stdin: Vec<u8>,
        version: String,
        toolchain: String,
        runner: String,
        box_bytes: u64,
    }

    fn owned() -> Owned {
        Owned {
            step: step(),
            paths: vec!["/opt/go".into()],
            files: vec![
                ("main.go".into(), 0o644, b"package main\nfunc main() {}\n".to_vec()),
                ("go.mod".into(), 0o644, b"module m\n".to_vec()),
                ("driver.sh".into(), 0o755, b"#!/bin/sh\n".to_vec()),
            ],
            stdin: b"world\n".to_vec(),
            version: "0.1.0".into(),
            toolchain: "go1.19.8".into(),
            runner: "go".into(),
            box_bytes: 64 << 20,
        }
    }

    fn key_of(o: &Owned) -> ArtifactKey {
        let files: Vec<PlacedFile> =
            o.files.iter().map(|(name, mode, contents)| PlacedFile { name, mode: *mode, contents }).collect();
        key(&KeyInputs {
            runner: &o.runner,
            runner_version: &o.version,
            toolchain_version: &o.toolchain,
            toolchain_paths: &o.paths,
            step: &o.step,
            stdin: &o.stdin,
            box_bytes: o.box_bytes,
            files: &files,
        })
        .unwrap()
    }

    #[test]
    fn the_key_does_not_depend_on_the_order_files_or_variables_come_in() {
        let base = key_of(&owned());
        let mut reordered = owned();
        reordered.files.reverse();
        assert_eq!(key_of(&reordered), base, "files in another order");
        let mut env = owned();
        env.step.env =
            [("PATH", "/usr/bin"), ("GOCACHE", "/c")].into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        assert_eq!(key_of(&env), base, "environment built in another order");
        assert_eq!(base.hex().len(), 64);
        assert!(base.hex().bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }

    #[test]
    fn the_key_changes_with_every_input() {
        let base = key_of(&owned());
        type Change = fn(&mut Owned);
        let changes: [(&str, Change); 21] = [
            ("runner", |o| o.runner = "go2".into()),
            ("runner version", |o| o.version = "0.1.1".into()),
            ("toolchain version", |o| o.toolchain = "go1.19.9".into()),
            ("toolchain paths", |o| o.paths.push("/opt/more".into())),
            ("box size", |o| o.box_bytes += 1),
            ("argv", |o| o.step.argv[4] = "other.go".into()),
            ("argv split", |o| {
                o.step.argv.pop();
                o.step.argv[3] = ".acejudge-binmain.go".into();
            }),
            ("env value", |o| {
                o.step.env.insert("GOCACHE".into(), "/d".into());
            }),
            ("env added", |o| {
                o.step.env.insert("GOFLAGS".into(), "-race".into());
            }),
            ("wall", |o| o.step.limits.wall_ms += 1),
            ("cpu", |o| o.step.limits.cpu_ms += 1),
            ("memory", |o| o.step.limits.memory_bytes += 1),
            ("pids", |o| o.step.limits.pids += 1),
            ("output", |o| o.step.limits.output_bytes += 1),
            ("read-only paths", |o| o.step.readonly_paths.push("/usr/share".into())),
            ("overlays", |o| o.step.writable_overlays.clear()),
            ("cgroup view", |o| o.step.cgroup_view = true),
            ("outputs", |o| o.step.outputs.push("more".into())),
            ("one byte of a file", |o| o.files[0].2[0] ^= 1),
            ("a file's mode", |o| o.files[1].1 = 0o755),
            ("a file's name", |o| o.files[1].0 = "go.sum".into()),
        ];
        for (what, change) in changes {
            let mut o = owned();
            change(&mut o);
            assert_ne!(key_of(&o), base, "{what} must change the key");
        }
        let mut extra = owned();
        extra.files.push(("extra_test.go".into(), 0o644, vec![]));
        assert_ne!(key_of(&extra), base, "an added (even empty) file");
        let mut moved = owned();
        let tail = std::mem::take(&mut moved.files[1].2);
        moved.files[0].2.extend_from_slice(&tail);
        assert_ne!(key_of(&moved), base, "bytes moved from one file to another");
    }

    #[test]
    fn stdin_is_part_of_the_key_only_when_the_compile_step_reads_it() {
        let mut o = owned();
        let base = key_of(&o);
        o.stdin = b"other\n".to_vec();
        assert_eq!(key_of(&o), base, "the compile does not read stdin");
        o.step.stdin = StdinSource::Request;
        let reads = key_of(&o);
        assert_ne!(reads, base);
        o.stdin = b"world\n".to_vec();
        assert_ne!(key_of(&o), reads);
    }

    fn box_with(files: &[(&str, &[u8], u32)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, contents, mode) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, contents).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode)).unwrap();
        }
        dir
    }

    #[test]
    fn outputs_are_read_back_as_files_and_directories_in_walk_order() {
        let dir = box_with(&[
            (".acejudge-bin", b"\x7fELF", 0o755),
            ("out/Main.class", b"cafebabe", 0o644),
            ("out/pkg/A.class", b"a", 0o644),
            ("main.go", b"source", 0o644),
        ]);
        let outputs = vec![".acejudge-bin".to_string(), "out/".to_string(), "out/pkg".to_string()];
        let found = read_outputs(dir.path(), &outputs, 1 << 20).unwrap();
        let paths: Vec<&str> = found.entries.iter().map(Artifact::path).collect();
        assert_eq!(paths, [".acejudge-bin", "out", "out/Main.class", "out/pkg", "out/pkg/A.class"]);
        assert_eq!(
            found.entries[0],
            Artifact::File { path: ".acejudge-bin".into(), mode: 0o755, contents: b"\x7fELF".to_vec() }
        );
        assert_eq!(found.bytes(), 4 + 8 + 1);
    }

    #[test]
    fn a_planted_symlink_is_never_followed() {
        let dir = box_with(&[("out/Main.class", b"x", 0o644)]);
        std::os::unix::fs::symlink("/etc/shadow", dir.path().join(".acejudge-bin")).unwrap();
        std::os::unix::fs::symlink("/etc/shadow", dir.path().join("out/Leak.class")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("linked")).unwrap();
        for output in [".acejudge-bin", "out", "linked", "linked/shadow"] {
            let err = read_outputs(dir.path(), &[output.to_string()], 1 << 20).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, ArtifactError::Read { .. } | ArtifactError::NotPlain { .. }), "{output}: {text}");
            assert!(!text.contains("root:"), "{output}: nothing of the target is read: {text}");
        }
        let escape = read_outputs(dir.path(), &["../etc/shadow".to_string()], 1 << 20);
        assert!(escape.is_err(), "`..` never leaves the box");
    }

    #[test]
    fn fifos_and_missing_outputs_are_not_cached() {
        let dir = box_with(&[("out/A.class", b"x", 0o644)]);
        let fifo = std::ffi::CString::new(dir.path().join("out/pipe").into_os_string().into_vec()).unwrap();
        // SAFETY: a valid C string.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let err = read_outputs(dir.path(), &["out".to_string()], 1 << 20).unwrap_err();
        assert!(matches!(err, ArtifactError::NotPlain { ref path } if path == "out/pipe"), "{err}");
        let err = read_outputs(dir.path(), &["missing".to_string()], 1 << 20).unwrap_err();
        assert!(matches!(err, ArtifactError::Read { .. }), "{err}");
    }

    #[test]
    fn outputs_over_the_bound_are_not_cached() {
        let dir = box_with(&[("out/A.class", &[1; 600], 0o644), ("out/B.class", &[2; 600], 0o644)]);
        let err = read_outputs(dir.path(), &["out".to_string()], 1000).unwrap_err();
        assert!(matches!(err, ArtifactError::TooLarge { limit: 1000 }), "{err}");
        assert!(read_outputs(dir.path(), &["out".to_string()], 1200).is_ok());
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::new(cache_dir.path(), 1000);
        let big = read_outputs(dir.path(), &["out".to_string()], 1 << 20).unwrap();
        let k = key_of(&owned());
        assert!(!cache.store(&k, &big).unwrap(), "larger than the whole cache: not stored");
        assert!(cache.load(&k).is_none());
    }

    fn artifacts(byte: u8, size: usize) -> Artifacts {
        Artifacts {
            entries: vec![
                Artifact::Dir { path: "out".into(), mode: 0o750 },
                Artifact::File { path: "out/A.class".into(), mode: 0o640, contents: vec![byte; size] },
                Artifact::File { path: "bin".into(), mode: 0o700, contents: vec![byte] },
            ],
        }
    }

    fn key_n(n: u8) -> ArtifactKey {
        let mut o = owned();
        o.files[0].2.push(n);
        key_of(&o)
    }

    #[test]
    fn stored_outputs_come_back_identical_and_a_second_store_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::new(&dir.path().join("artifacts"), 1 << 20);
        let k = key_n(1);
        assert!(cache.load(&k).is_none());
        assert!(cache.store(&k, &artifacts(7, 100)).unwrap());
        assert_eq!(cache.load(&k).unwrap(), artifacts(7, 100));
        assert!(!cache.store(&k, &artifacts(7, 100)).unwrap(), "already there");
        assert!(cache.load(&key_n(2)).is_none(), "another key misses");
        let leftovers: Vec<String> = std::fs::read_dir(cache.root())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(leftovers, [k.hex()], "no temporary directory is left");
        let mode = std::fs::metadata(cache.root()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "root only");
    }

    #[test]
    fn a_damaged_entry_is_a_miss_and_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::new(dir.path(), 1 << 20);
        let k = key_n(3);
        cache.store(&k, &artifacts(1, 10)).unwrap();
        std::fs::write(dir.path().join(k.hex()).join("1"), b"short").unwrap();
        assert!(cache.load(&k).is_none());
        assert!(!dir.path().join(k.hex()).exists());
    }

    #[test]
    fn eviction_keeps_the_total_under_the_bound_and_drops_the_least_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        // Each entry holds 1001 bytes of blobs and a manifest of under 200: three fit, four do not.
        let cache = ArtifactCache::new(dir.path(), 4000);
        let old = SystemTime::now() - Duration::from_secs(1000);
        for n in 0..3u8 {
            assert!(cache.store(&key_n(n), &artifacts(n, 1000)).unwrap());
            // Entries made in the same instant: age them so their order is clear.
            let entry = File::open(dir.path().join(key_n(n).hex())).unwrap();
            entry.set_modified(old + Duration::from_secs(u64::from(n) * 10)).unwrap();
        }
        assert!(cache.total_bytes() > 3000, "three entries are kept");
        assert!(cache.load(&key_n(0)).is_some(), "a hit makes entry 0 the most recently used");
        assert!(cache.store(&key_n(3), &artifacts(3, 1000)).unwrap());
        let total = cache.total_bytes();
        assert!(total <= 4000, "total {total} over the bound");
        assert!(cache.load(&key_n(1)).is_none(), "the least recently used went first");
        assert!(cache.load(&key_n(0)).is_some() && cache.load(&key_n(3)).is_some());
        for n in 4..20u8 {
            cache.store(&key_n(n), &artifacts(n, 1000)).unwrap();
            assert!(cache.total_bytes() <= 4000);
        }
        assert!(cache.load(&key_n(19)).is_some(), "the newest is kept");
    }

    #[test]
    fn a_disabled_cache_is_none() {
        assert!(ArtifactCache::configured(Path::new("/nonexistent"), 0).is_none());
        assert_eq!(ArtifactCache::configured(Path::new("/x"), 10).map(|c| c.max_bytes()), Some(10));
    }
}
