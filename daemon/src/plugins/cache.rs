//! Prepared caches (Go's build cache): filled once per runner, name and key,
//! then shown copy-on-write to every run.
//!
//! Preparing a cache runs the runner's warm-up steps in the sandbox, in a
//! fresh box, then copies the box's output directory to
//! `<root>/<runner>/<name>-<key>/content` on the host (directories mode 0777
//! so runs can add entries in their own overlay layer, files 0644). Runners
//! get the `content` path; the overlay is mounted one level up
//! ([`overlay_mount_point`]) because an overlay's root directory takes the
//! mode of its (root-owned, 0755) upper layer, which would make the cache's
//! top directory read-only to the run. The copy is built
//! under a temporary name and renamed into place, so a cache directory that
//! exists is complete; concurrent preparations (threads or processes) end
//! with one winner. The warm-up runs only the runner's own programs, never
//! user code, which is why reading its box back by path is acceptable here.
//!
//! **Architecture Invariant:** the host never writes a prepared cache again;
//! runs only ever see it through `writable_overlays`.
//!
//! The store also carries the compile-output cache ([`super::artifacts`]),
//! so everything that runs jobs gets both from one value.

use super::artifacts::{ArtifactCache, DEFAULT_MAX_BYTES};
use super::error::CacheError;
use super::execute::sandbox_spec;
use super::registry::LoadedRunner;
use crate::sandbox::{BoxDir, Sandbox, Status};
use acejudge_runner_api::{CacheSpec, Toolchain};
use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The subdirectory of a cache's home that holds its contents.
const CONTENT: &str = "content";

/// Where the overlay for a cache path handed to runners is mounted: its home,
/// one level up, so the cache's own top directory keeps its 0777 mode.
pub fn overlay_mount_point(cache_dir: &Path) -> PathBuf {
    match cache_dir.parent() {
        Some(home) if cache_dir.file_name().is_some_and(|n| n == CONTENT) => home.to_path_buf(),
        _ => cache_dir.to_path_buf(),
    }
}

/// The box a warm-up runs in.
const WARMUP_BOX_BYTES: u64 = 1 << 30;
/// The most a cache may hold.
const MAX_CACHE_BYTES: u64 = 1 << 30;

/// The host directory holding prepared caches.
pub struct CacheStore {
    root: PathBuf,
    locks: Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>,
    /// Caches whose preparation failed in this process: not retried until restart.
    failed: Mutex<HashMap<PathBuf, String>>,
    /// Compile outputs kept for byte-identical inputs (`None`: disabled).
    artifacts: Option<ArtifactCache>,
    /// Runs started ahead of their program, per worker slot (`None`: off, as in one-shot commands).
    warm_starts: Option<super::WarmStarts>,
}

impl CacheStore {
    /// `root` is made absolute (caches are mounted by absolute path).
    ///
    /// When `root` is a data dir's `caches` (`<data dir>/caches`, as every
    /// command opens it), compile outputs are cached next to it in
    /// `<data dir>/artifacts`, up to [`DEFAULT_MAX_BYTES`]; for any other
    /// root the compile-output cache is off. [`CacheStore::with_artifacts`]
    /// sets it explicitly (the daemon applies `server.artifact_cache_bytes`).
    pub fn new(root: &Path) -> CacheStore {
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        let artifacts = (root.file_name().is_some_and(|n| n == "caches"))
            .then(|| ArtifactCache::new(&root.with_file_name("artifacts"), DEFAULT_MAX_BYTES));
        CacheStore {
            root,
            locks: Mutex::new(HashMap::new()),
            failed: Mutex::new(HashMap::new()),
            artifacts,
            warm_starts: None,
        }
    }

    /// The same store with this compile-output cache (`None` turns it off).
    pub fn with_artifacts(mut self, artifacts: Option<ArtifactCache>) -> CacheStore {
        self.artifacts = artifacts;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The compile-output cache, when on.
    pub fn artifacts(&self) -> Option<&ArtifactCache> {
        self.artifacts.as_ref()
    }

    /// Turns on warm starts of ad-hoc programs (the daemon's worker slots).
    pub fn with_warm_starts(mut self, warm_starts: super::WarmStarts) -> CacheStore {
        self.warm_starts = Some(warm_starts);
        self
    }

    pub fn warm_starts(&self) -> Option<&super::WarmStarts> {
        self.warm_starts.as_ref()
    }

    /// Where a cache's contents live once prepared (the path runners get).
    pub fn dir(&self, runner: &str, spec: &CacheSpec) -> PathBuf {
        self.home(runner, spec).join(CONTENT)
    }

    /// The directory holding a cache's `content`: what is renamed into place, and the overlay's mount point.
    fn home(&self, runner: &str, spec: &CacheSpec) -> PathBuf {
        let key: String =
            spec.key.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
        self.root.join(runner).join(format!("{}-{key}", spec.name))
    }

    /// The runner's caches that are already prepared, by name (no preparation).
    pub fn available(&self, runner: &str, toolchain: &Toolchain) -> BTreeMap<String, String> {
        toolchain
            .caches
            .iter()
            .map(|spec| (spec.name.clone(), self.dir(runner, spec)))
            .filter(|(_, dir)| dir.is_dir())
            .map(|(name, dir)| (name, dir.display().to_string()))
            .collect()
    }

    /// Every cache of the runner, prepared now if needed, by name. A cache
    /// that cannot be prepared is logged and left out: runs go without it.
    pub fn prepare_all(&self, sandbox: &Sandbox, slot: usize, runner: &LoadedRunner) -> BTreeMap<String, String> {
        let Ok(toolchain) = runner.toolchain() else { return BTreeMap::new() };
        let mut ready = BTreeMap::new();
        for spec in &toolchain.caches {
            match self.prepare(sandbox, slot, runner.id(), toolchain, spec) {
                Ok(dir) => {
                    ready.insert(spec.name.clone(), dir.display().to_string());
                }
                Err(e) => tracing::warn!(error = %e, "cache not prepared; runs go without it"),
            }
        }
        ready
    }

    /// Prepares one cache unless it already exists; returns its directory.
    pub fn prepare(
        &self,
        sandbox: &Sandbox,
        slot: usize,
        runner: &str,
        toolchain: &Toolchain,
        spec: &CacheSpec,
    ) -> Result<PathBuf, CacheError> {
        let target = self.dir(runner, spec);
        if target.is_dir() {
            return Ok(target);
        }
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            locks.entry(target.clone()).or_default().clone()
        };
        let _guard = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if target.is_dir() {
            return Ok(target);
        }
        let failed = self.failed.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&target).cloned();
        if let Some(reason) = failed {
            let (runner, name) = (runner.to_string(), spec.name.clone());
            return Err(CacheError::Invalid {
                runner,
                name,
                reason: format!("failed earlier in this process: {reason}"),
            });
        }
        let result = self.prepare_locked(sandbox, slot, runner, toolchain, spec, &target);
        if let Err(e) = &result {
            self.failed.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(target.clone(), e.to_string());
        }
        result
    }

    fn prepare_locked(
        &self,
        sandbox: &Sandbox,
        slot: usize,
        runner: &str,
        toolchain: &Toolchain,
        spec: &CacheSpec,
        target: &Path,
    ) -> Result<PathBuf, CacheError> {
        let target = target.to_path_buf();
        let io = |what: &'static str, path: &Path| {
            let (runner, name, path) = (runner.to_string(), spec.name.clone(), path.to_path_buf());
            move |source| CacheError::Io { runner, name, what, path, source }
        };
        let home = target.parent().unwrap_or(&self.root).to_path_buf();
        let parent = home.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::DirBuilder::new().recursive(true).mode(0o755).create(&parent).map_err(io("create", &parent))?;
        tracing::info!(runner, cache = %spec.name, key = %spec.key, "preparing a cache (once per toolchain version)");
        let started = std::time::Instant::now();
        let boxed = self.warm_up(sandbox, slot, runner, toolchain, spec)?;
        let temporary =
            parent.join(format!(".tmp-{}-{}-{:?}", spec.name, std::process::id(), std::thread::current().id()));
        let _ = std::fs::remove_dir_all(&temporary);
        std::fs::DirBuilder::new().mode(0o755).create(&temporary).map_err(io("create", &temporary))?;
        let mut budget = MAX_CACHE_BYTES;
        copy_out(&boxed, Path::new(&spec.warmup.output_dir), &temporary.join(CONTENT), &mut budget)
            .map_err(io("copy the warm-up's output to", &temporary))?;
        drop(boxed);
        if let Err(e) = std::fs::rename(&temporary, &home) {
            let _ = std::fs::remove_dir_all(&temporary);
            if !target.is_dir() {
                return Err(io("rename into place", &home)(e));
            }
        }
        tracing::info!(runner, cache = %spec.name, ms = started.elapsed().as_millis() as u64, dir = %target.display(), "cache prepared");
        Ok(target)
    }

    fn warm_up(
        &self,
        sandbox: &Sandbox,
        slot: usize,
        runner: &str,
        toolchain: &Toolchain,
        spec: &CacheSpec,
    ) -> Result<BoxDir, CacheError> {
        let sandbox_err = |source| CacheError::Sandbox { runner: runner.into(), name: spec.name.clone(), source };
        let boxed = sandbox.create_box(slot, WARMUP_BOX_BYTES).map_err(sandbox_err)?;
        for file in &spec.warmup.files {
            boxed.write_file(Path::new(&file.path), file.contents.as_bytes(), file.executable).map_err(sandbox_err)?;
        }
        for step in &spec.warmup.steps {
            let mut run = sandbox_spec(step, &boxed, toolchain, &[], 256 << 20);
            run.limits.file_size_bytes = 256 << 20;
            let outcome = sandbox.run(slot, &run).map_err(sandbox_err)?;
            if outcome.status != Status::Ok {
                let stderr = String::from_utf8_lossy(&outcome.stderr);
                return Err(CacheError::Warmup {
                    runner: runner.into(),
                    name: spec.name.clone(),
                    argv: step.argv.join(" "),
                    status: format!("{:?} (exit {:?})", outcome.status, outcome.exit_code),
                    stderr: acejudge_runner_api::clip(&stderr, 2000),
                });
            }
        }
        Ok(boxed)
    }
}

/// Copies `relative` (a directory in the box) to `dest` on the host: real
/// directories and regular files only, files read with `openat2` beneath the box.
fn copy_out(boxed: &BoxDir, relative: &Path, dest: &Path, budget: &mut u64) -> std::io::Result<()> {
    std::fs::DirBuilder::new().mode(0o777).create(dest)?;
    std::fs::set_permissions(dest, std::os::unix::fs::PermissionsExt::from_mode(0o777))?;
    for entry in std::fs::read_dir(boxed.path().join(relative))? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let child = relative.join(entry.file_name());
        if kind.is_dir() {
            copy_out(boxed, &child, &dest.join(entry.file_name()), budget)?;
        } else if kind.is_file() {
            let bytes = boxed.read_file(&child, *budget + 1).map_err(std::io::Error::other)?;
            if bytes.len() as u64 > *budget {
                return Err(std::io::Error::other(format!("the cache is larger than {MAX_CACHE_BYTES} bytes")));
            }
            *budget -= bytes.len() as u64;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .custom_flags(libc::O_NOFOLLOW)
                .open(dest.join(entry.file_name()))?;
            std::io::Write::write_all(&mut file, &bytes)?;
        }
    }
    Ok(())
}
