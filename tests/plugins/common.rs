//! Shared by `tests/runners.rs` and `tests/plugins.rs`: builds the runner
//! plugins, the fixture plugins and the `acejudge` binary once per test
//! binary, and loads the four runners. Tests that need a toolchain say so
//! when it is missing, and fail instead on CI.

#![allow(dead_code)]

use acejudge::plugins::{CacheStore, LoadOptions, LoadedRunner, Registry, WarmStarts};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The crates `build()` builds, and their library files.
pub const RUNNERS: [&str; 4] = ["go", "java", "node", "python"];
pub const FIXTURES: [&str; 3] = ["bad-abi", "panics", "garbage"];

/// The directory holding the built `.so` files and the `acejudge` binary.
/// `ACEJUDGE_TEST_BUILD_DIR` overrides it (nothing is built then).
pub fn build_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("ACEJUDGE_TEST_BUILD_DIR") {
            return PathBuf::from(dir);
        }
        // <target>/<profile>/deps/<test binary>
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe.parent().and_then(Path::parent).expect("<target>/<profile>/deps").to_path_buf();
        let target_dir = profile_dir.parent().expect("<target>").to_path_buf();
        let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cargo.arg("build").arg("--quiet").env("CARGO_TARGET_DIR", &target_dir);
        if profile_dir.ends_with("release") {
            cargo.arg("--release");
        }
        cargo.args(["-p", "acejudge"]);
        for runner in RUNNERS {
            cargo.args(["-p", &format!("acejudge-runner-{runner}")]);
        }
        for fixture in FIXTURES {
            cargo.args(["-p", &format!("acejudge-fixture-{fixture}")]);
        }
        let status = cargo.status().expect("cargo runs");
        assert!(status.success(), "building the plugins failed");
        profile_dir
    })
}

/// A runner plugin's file, e.g. `libacejudge_runner_go.so`.
pub fn runner_library(id: &str) -> PathBuf {
    build_dir().join(format!("libacejudge_runner_{id}.so"))
}

/// A fixture plugin's file, e.g. `libacejudge_fixture_bad_abi.so`.
pub fn fixture_library(name: &str) -> PathBuf {
    build_dir().join(format!("libacejudge_fixture_{}.so", name.replace('-', "_")))
}

/// The four runners, loaded once.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let files: Vec<PathBuf> = RUNNERS.iter().map(|id| runner_library(id)).collect();
        let registry = Registry::load_files(&files, &LoadOptions::default());
        assert!(registry.rejected().is_empty(), "a runner was rejected: {:?}", registry.rejected());
        registry
    })
}

/// Prepared caches, in a directory of this test binary.
pub fn caches() -> &'static CacheStore {
    static CACHES: OnceLock<(tempfile::TempDir, CacheStore)> = OnceLock::new();
    &CACHES
        .get_or_init(|| {
            let dir = tempfile::Builder::new().prefix("acejudge-caches-").tempdir().expect("temp dir");
            let store = CacheStore::new(dir.path());
            (dir, store)
        })
        .1
}

/// Prepared caches with warm starts on, as the daemon has them (one slot state per harness slot).
pub fn warm_caches() -> &'static CacheStore {
    static CACHES: OnceLock<(tempfile::TempDir, CacheStore)> = OnceLock::new();
    &CACHES
        .get_or_init(|| {
            let dir = tempfile::Builder::new().prefix("acejudge-warm-caches-").tempdir().expect("temp dir");
            let store = CacheStore::new(dir.path()).with_warm_starts(WarmStarts::new(acejudge_tests::SLOTS));
            (dir, store)
        })
        .1
}

/// The runner `id` when its toolchain is installed; `None` (with the reason
/// printed) when it is not, which fails the test on CI.
pub fn runner_or_skip(test: &str, id: &str) -> Option<&'static LoadedRunner> {
    let runner = registry().get(id).unwrap_or_else(|| panic!("runner {id} is not loaded"));
    match runner.toolchain() {
        Ok(_) => Some(runner),
        Err(e) => {
            if std::env::var_os("CI").is_some() {
                panic!("{test}: CI must have every toolchain: {e}");
            }
            eprintln!("SKIP {test}: {e}");
            None
        }
    }
}
