//! Toolchain probes remembered on disk, for one-shot commands.
//!
//! Finding a toolchain means a version probe: the plugin spawns `python3
//! --version`, `node --version`, `java -version`… on the host, 1–10 ms each
//! (more under load). A daemon pays it once; `acejudge run` would pay it on
//! every call. So a successful probe is written to
//! `<data dir>/toolchains/<runner id>.json` and reused while nothing it
//! depended on has changed:
//!
//! - the plugin file (a new plugin may probe differently) and its version;
//! - the runner's configuration from `--runner-config`;
//! - every program the toolchain names (each entry of a `:`-separated class
//!   path) and every read-only path it declares:
//!   the path as given, where it resolves to (a repointed `/etc/alternatives`
//!   link) and that file's device, inode, size, mtime and ctime (a package
//!   upgrade replaces the file: new inode and ctime; ctime cannot be set back
//!   from user space).
//!
//! What it does not see: files a probe reads besides those (a `release` file
//! next to the JVM) changing while the binary stays byte-for-byte the same
//! file. `acejudge runners list` always probes and rewrites the entry.
//!
//! Trust: the entry lives in the data dir, which is the daemon's (root's) and
//! which no run can see (the host policy forbids it). An entry is only read
//! if it is a regular file owned by this user and writable by no one else,
//! and the toolchain it holds is checked against the host policy exactly as
//! a fresh probe is. Probes that fail are never remembered. Everything here is
//! best-effort: a cache that cannot be read or written means a fresh probe.

use acejudge_runner_api::{RunnerConfig, Toolchain};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Bumped when [`Entry`]'s meaning changes; other versions are ignored.
const FORMAT: u32 = 1;
/// Entries are a few hundred bytes; anything larger is not ours.
const MAX_ENTRY_BYTES: u64 = 1 << 20;

/// Where toolchain probes are remembered, and whether earlier ones are reused.
#[derive(Clone, Debug)]
pub struct ToolchainCache {
    pub dir: PathBuf,
    /// `false`: always probe, then rewrite the entry (`runners list`).
    pub reuse: bool,
}

/// The identity of one file as `stat` sees it (following links), and where it resolves to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct FileStamp {
    path: String,
    resolved: PathBuf,
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl FileStamp {
    fn of(path: &Path) -> Option<FileStamp> {
        let resolved = std::fs::canonicalize(path).ok()?;
        let meta = std::fs::metadata(&resolved).ok()?;
        Some(FileStamp {
            path: path.display().to_string(),
            resolved,
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        })
    }

    /// Still the same file at the same place.
    fn unchanged(&self) -> bool {
        FileStamp::of(Path::new(&self.path)).as_ref() == Some(self)
    }
}

/// What a probe depended on: the plugin and the configuration it was given.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Inputs {
    plugin: FileStamp,
    plugin_version: String,
    config: RunnerConfig,
}

/// One remembered probe.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    format: u32,
    inputs: Inputs,
    /// The toolchain's programs and read-only paths as they were.
    files: Vec<FileStamp>,
    toolchain: Toolchain,
}

/// The files a toolchain depends on: its programs (a value may be a
/// `:`-separated list, as a class path is) and read-only paths. `None` when
/// one is not an absolute path that can be stat'ed: such a toolchain is not
/// cached.
fn toolchain_files(toolchain: &Toolchain) -> Option<Vec<FileStamp>> {
    toolchain
        .programs
        .values()
        .flat_map(|value| value.split(':'))
        .chain(toolchain.readonly_paths.iter().map(String::as_str))
        .map(|p| if Path::new(p).is_absolute() { FileStamp::of(Path::new(p)) } else { None })
        .collect()
}

impl ToolchainCache {
    fn entry_path(&self, runner_id: &str) -> PathBuf {
        self.dir.join(format!("{runner_id}.json"))
    }

    /// The remembered toolchain of `runner_id`, if probing now would be done
    /// with the same plugin and configuration and its files are unchanged.
    pub fn load(
        &self,
        runner_id: &str,
        plugin: &Path,
        plugin_version: &str,
        config: &RunnerConfig,
    ) -> Option<Toolchain> {
        if !self.reuse {
            return None;
        }
        let path = self.entry_path(runner_id);
        let bytes = match read_trusted(&path) {
            Ok(bytes) => bytes,
            Err(e) => {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::debug!(path = %path.display(), error = %e, "toolchain cache entry ignored");
                }
                return None;
            }
        };
        let entry: Entry = serde_json::from_slice(&bytes).ok()?;
        let inputs =
            Inputs { plugin: FileStamp::of(plugin)?, plugin_version: plugin_version.into(), config: config.clone() };
        let fresh = entry.format == FORMAT && entry.inputs == inputs && entry.files.iter().all(FileStamp::unchanged);
        // The files listed must be exactly the toolchain's: an entry cannot vouch for less.
        let complete = toolchain_files(&entry.toolchain).is_some_and(|files| files == entry.files);
        if fresh && complete {
            tracing::debug!(runner = runner_id, "toolchain from the probe cache");
            Some(entry.toolchain)
        } else {
            tracing::debug!(runner = runner_id, "toolchain cache entry is stale");
            None
        }
    }

    /// Remembers a successful probe (atomically replacing the entry); logs and
    /// gives up on any error.
    pub fn store(
        &self,
        runner_id: &str,
        plugin: &Path,
        plugin_version: &str,
        config: &RunnerConfig,
        toolchain: &Toolchain,
    ) {
        let (Some(plugin), Some(files)) = (FileStamp::of(plugin), toolchain_files(toolchain)) else {
            return;
        };
        let entry = Entry {
            format: FORMAT,
            inputs: Inputs { plugin, plugin_version: plugin_version.into(), config: config.clone() },
            files,
            toolchain: toolchain.clone(),
        };
        if let Err(e) = self.write(runner_id, &entry) {
            tracing::debug!(dir = %self.dir.display(), error = %e, "toolchain probe not cached");
        }
    }

    fn write(&self, runner_id: &str, entry: &Entry) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(entry).map_err(std::io::Error::other)?;
        // Never creates the data dir itself: a command run elsewhere (`runners list`
        // as a user, in a directory without one) leaves no `data/` behind.
        match std::fs::DirBuilder::new().mode(0o700).create(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        let target = self.entry_path(runner_id);
        let temporary = self.dir.join(format!(".{runner_id}.json.{}", std::process::id()));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&temporary)
            .and_then(|mut file| std::io::Write::write_all(&mut file, &bytes))
            .and_then(|()| std::fs::rename(&temporary, &target));
        if written.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        written
    }
}

/// Reads `path` if it is a regular file (not a link) owned by this user and
/// writable by no one else.
fn read_trusted(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path)?;
    let meta = file.metadata()?;
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if !meta.is_file() || meta.uid() != euid || meta.mode() & 0o022 != 0 || meta.len() > MAX_ENTRY_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "not a regular file of this user, writable by no one else",
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_ENTRY_BYTES).read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use acejudge_runner_api::Allowances;
    use std::collections::BTreeMap;

    fn toolchain(program: &Path) -> Toolchain {
        Toolchain {
            version: "Fake 1.0".into(),
            programs: BTreeMap::from([("fake".into(), program.display().to_string())]),
            readonly_paths: vec![],
            allowances: Allowances::default(),
            caches: vec![],
        }
    }

    /// A temp dir with a fake plugin file, a fake toolchain program and a cache in it.
    fn fixture() -> (tempfile::TempDir, PathBuf, PathBuf, ToolchainCache) {
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("libfake.so");
        let program = dir.path().join("fake");
        std::fs::write(&plugin, b"plugin").unwrap();
        std::fs::write(&program, b"v1").unwrap();
        let cache = ToolchainCache { dir: dir.path().join("toolchains"), reuse: true };
        (dir, plugin, program, cache)
    }

    #[test]
    fn a_probe_is_reused_until_the_program_the_plugin_or_the_config_changes() {
        let (dir, plugin, program, cache) = fixture();
        let config = serde_json::Value::Null;
        let nowhere = ToolchainCache { dir: dir.path().join("no-data-dir/toolchains"), reuse: true };
        nowhere.store("fake", &plugin, "1", &config, &toolchain(&program));
        assert!(!dir.path().join("no-data-dir").exists(), "the data dir is never created");
        assert_eq!(cache.load("fake", &plugin, "1", &config), None, "nothing stored yet");
        let found = toolchain(&program);
        cache.store("fake", &plugin, "1", &config, &found);
        assert_eq!(cache.load("fake", &plugin, "1", &config), Some(found.clone()));
        assert_eq!(cache.load("fake", &plugin, "2", &config), None, "another plugin version");
        assert_eq!(cache.load("fake", &plugin, "1", &serde_json::json!({"fake": "/x"})), None, "another config");
        let refresh = ToolchainCache { reuse: false, ..cache.clone() };
        assert_eq!(refresh.load("fake", &plugin, "1", &config), None, "refresh never reuses");

        // The program replaced (as a package upgrade does): a new inode.
        let replacement = dir.path().join("fake.new");
        std::fs::write(&replacement, b"v2").unwrap();
        std::fs::rename(&replacement, &program).unwrap();
        assert_eq!(cache.load("fake", &plugin, "1", &config), None, "the program changed");

        cache.store("fake", &plugin, "1", &config, &found);
        std::fs::write(&plugin, b"plugin, rebuilt").unwrap();
        assert_eq!(cache.load("fake", &plugin, "1", &config), None, "the plugin changed");
    }

    #[test]
    fn an_entry_others_can_write_is_not_trusted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("libfake.so");
        std::fs::write(&plugin, b"plugin").unwrap();
        let cache = ToolchainCache { dir: dir.path().join("toolchains"), reuse: true };
        let found = toolchain(&plugin);
        cache.store("fake", &plugin, "1", &serde_json::Value::Null, &found);
        let entry = cache.entry_path("fake");
        assert_eq!(std::fs::metadata(&entry).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(cache.load("fake", &plugin, "1", &serde_json::Value::Null), None);
    }

    #[test]
    fn an_entry_naming_fewer_files_than_its_toolchain_is_refused() {
        let (_dir, plugin, program, cache) = fixture();
        cache.store("fake", &plugin, "1", &serde_json::Value::Null, &toolchain(&program));
        let path = cache.entry_path("fake");
        let mut entry: Entry = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        entry.files.clear();
        std::fs::write(&path, serde_json::to_vec(&entry).unwrap()).unwrap();
        assert_eq!(cache.load("fake", &plugin, "1", &serde_json::Value::Null), None);
    }
}
