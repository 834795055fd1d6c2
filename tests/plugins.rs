//! The plugin host against real plugin files: the four runners load, and
//! plugins with a wrong ABI, a panic, garbage output, no entry symbol, or a
//! duplicate id are rejected with a message naming the file and the reason
//! while the good ones keep working. Then the conformance kit
//! (`acejudge runners check`) and `acejudge run` end to end.

#[path = "plugins/common.rs"]
mod common;

use acejudge::plugins::api::{Mode, StdinSource};
use acejudge::plugins::{LoadError, LoadOptions, Registry};
use common::{build_dir, fixture_library, runner_library, RUNNERS};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A directory holding copies of `files` (each under its own file name).
fn plugin_dir(files: &[(&Path, &str)]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("acejudge-plugins-").tempdir().expect("temp dir");
    for (source, name) in files {
        std::fs::copy(source, dir.path().join(name)).unwrap_or_else(|e| panic!("copy {}: {e}", source.display()));
    }
    dir
}

fn load(dir: &Path) -> Registry {
    Registry::load(&LoadOptions { dir: dir.to_path_buf(), ..LoadOptions::default() })
}

fn rejection<'a>(registry: &'a Registry, file: &str) -> &'a LoadError {
    registry
        .rejected()
        .iter()
        .find(|e| e.path().file_name().is_some_and(|n| n == file))
        .unwrap_or_else(|| panic!("{file} must be rejected; rejected: {:?}", registry.rejected()))
}

/// A shared library of the host without our entry symbol.
fn foreign_library() -> PathBuf {
    let candidates = ["/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6", "/lib64/libm.so.6"];
    candidates.iter().map(PathBuf::from).find(|p| p.exists()).expect("libm is on every glibc host")
}

#[test]
fn bad_plugins_are_rejected_naming_the_file_and_the_reason_while_good_ones_load() {
    let python = runner_library("python");
    let go = runner_library("go");
    let bad_abi = fixture_library("bad-abi");
    let panics = fixture_library("panics");
    let garbage = fixture_library("garbage");
    let foreign = foreign_library();
    let not_elf = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(not_elf.path(), b"#!/bin/sh\necho not a library\n").expect("write");
    let dir = plugin_dir(&[
        (&python, "libacejudge_runner_python.so"),
        (&bad_abi, "bad-abi.so"),
        (&panics, "panics.so"),
        (&garbage, "garbage.so"),
        (&go, "libacejudge_runner_go.so"),
        (&foreign, "libm.so"),
        (not_elf.path(), "not-elf.so"),
    ]);
    // The bad-ABI fixture aborts the process if anything but its version is touched:
    // this test running to the end proves the version is checked first.
    let registry = load(dir.path());

    let ids: Vec<&str> = registry.runners().iter().map(|r| r.id()).collect();
    assert_eq!(ids, ["go", "python"], "the good plugins load: {:?}", registry.rejected());
    assert_eq!(registry.rejected().len(), 5, "{:?}", registry.rejected());

    let abi = rejection(&registry, "bad-abi.so");
    assert!(matches!(abi, LoadError::AbiVersion { found: 999, .. }), "{abi}");
    assert!(abi.to_string().contains("bad-abi.so: plugin ABI version 999"), "{abi}");

    let panicked = rejection(&registry, "panics.so").to_string();
    assert!(
        panicked.contains("panics.so: `info` failed: the runner panicked: this fixture always panics in info()"),
        "{panicked}"
    );

    let garbage = rejection(&registry, "garbage.so").to_string();
    assert!(garbage.contains("garbage.so: `info` returned garbage"), "{garbage}");

    let foreign = rejection(&registry, "libm.so").to_string();
    assert!(foreign.contains("libm.so: no `acejudge_runner_entry` symbol"), "{foreign}");

    let not_elf = rejection(&registry, "not-elf.so").to_string();
    assert!(not_elf.contains("not-elf.so: cannot load the library"), "{not_elf}");

    // The good ones keep working after their neighbours failed.
    let python = registry.get("python").expect("python loaded");
    assert_eq!(python.info().extensions, ["py"]);
    assert!(registry.find("py").is_some_and(|r| r.id() == "python"), "found by extension too");
    if python.toolchain().is_ok() {
        let request = acejudge::plugins::api::PlanRequest {
            mode: Mode::Program,
            entry: "main.py".into(),
            files: vec!["main.py".into()],
            limits: acejudge::plugins::Job::new(Mode::Program, "main.py", vec![]).limits,
            caches: Default::default(),
        };
        let plan = python.plan(&request).expect("a plan from a plugin loaded next to broken ones");
        assert_eq!(plan.run.stdin, StdinSource::Request);
    }
}

#[test]
fn a_second_plugin_with_the_same_id_is_rejected_and_the_first_kept() {
    let python = runner_library("python");
    let dir = plugin_dir(&[(&python, "a-python.so"), (&python, "b-python.so")]);
    let registry = load(dir.path());
    assert_eq!(registry.runners().len(), 1);
    assert!(registry.runners()[0].path().ends_with("a-python.so"));
    let duplicate = rejection(&registry, "b-python.so").to_string();
    assert!(duplicate.contains("runner id `python` is already provided by"), "{duplicate}");
}

#[test]
fn a_build_directory_loads_only_runner_libraries() {
    let options = LoadOptions { dir: build_dir().to_path_buf(), runner_files_only: true, ..LoadOptions::default() };
    let registry = Registry::load(&options);
    let ids: Vec<&str> = registry.runners().iter().map(|r| r.id()).collect();
    assert_eq!(ids, RUNNERS, "{:?}", registry.rejected());
    assert!(registry.rejected().is_empty(), "fixtures in target/ are not picked up: {:?}", registry.rejected());
}

#[test]
fn loading_for_one_language_opens_only_its_plugin_when_the_file_name_says_so() {
    let options = LoadOptions { dir: build_dir().to_path_buf(), runner_files_only: true, ..LoadOptions::default() };
    let ids = |registry: &Registry| registry.runners().iter().map(|r| r.id().to_string()).collect::<Vec<_>>();
    assert_eq!(ids(&Registry::load_for(&options, "python")), ["python"]);
    // An extension, or anything that is not a runner id, names no file: the whole directory loads.
    assert_eq!(ids(&Registry::load_for(&options, "py")), RUNNERS);
    assert_eq!(ids(&Registry::load_for(&options, "../python")), RUNNERS);
}

#[test]
fn a_missing_runners_directory_is_reported_not_fatal() {
    let registry = load(Path::new("/nonexistent/acejudge/runners"));
    assert!(registry.runners().is_empty());
    assert!(registry.rejected()[0]
        .to_string()
        .contains("cannot read the runners directory /nonexistent/acejudge/runners"));
}

fn acejudge(args: &[&str], data_dir: &Path) -> std::process::Output {
    Command::new(build_dir().join("acejudge"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("ACEJUDGE_LOG", "error")
        .output()
        .expect("run acejudge")
}

fn is_root() -> bool {
    acejudge_tests::require_root("acejudge runners check")
}

#[test]
fn runners_check_passes_every_runners_self_tests_in_the_sandbox() {
    if !is_root() {
        return;
    }
    let data = tempfile::Builder::new().prefix("acejudge-check-").tempdir().expect("temp dir");
    for id in RUNNERS {
        let library = runner_library(id);
        let output = acejudge(&["runners", "check", library.to_str().expect("UTF-8 path")], data.path());
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stdout.contains("FAIL     toolchain") && std::env::var_os("CI").is_none() {
            eprintln!("SKIP runners check {id}: {stdout}");
            continue;
        }
        assert!(output.status.success(), "runners check {id} failed:\n{stdout}\n{stderr}");
        for check in ["load", "toolchain", "program", "warm start", "compile error", "test report"] {
            assert!(stdout.contains(&format!("ok       {check}")), "{id}: `{check}` must pass:\n{stdout}");
        }
        // Python and Node offer a warm start, and it must really have been used; Go and Java compile first.
        let warm_used = stdout.contains("ran on a prepared runtime");
        assert_eq!(warm_used, matches!(id, "python" | "node"), "{id}: warm start:\n{stdout}");
        assert!(stdout.contains("0 failed"), "{stdout}");
    }
}

#[test]
fn runners_check_rejects_a_broken_plugin_with_its_reason() {
    let data = tempfile::Builder::new().prefix("acejudge-check-").tempdir().expect("temp dir");
    let bad = fixture_library("bad-abi");
    let output = acejudge(&["runners", "check", bad.to_str().expect("UTF-8 path")], data.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL     load") && stdout.contains("plugin ABI version 999"), "{stdout}");
}

#[test]
fn runners_list_shows_each_runner_and_its_toolchain() {
    let data = tempfile::Builder::new().prefix("acejudge-list-").tempdir().expect("temp dir");
    let output = acejudge(&["runners", "list"], data.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    for id in RUNNERS {
        let line = stdout.lines().find(|l| l.starts_with(id)).unwrap_or_else(|| panic!("{id} missing:\n{stdout}"));
        assert!(line.contains("0.1.0"), "{line}");
    }
    assert!(!stdout.contains("REJECTED"), "the default directory skips the fixtures:\n{stdout}");
}

#[test]
fn run_prints_the_programs_output_and_how_it_ended() {
    if !is_root() {
        return;
    }
    let data = tempfile::Builder::new().prefix("acejudge-run-").tempdir().expect("temp dir");
    let source = data.path().join("main.py");
    std::fs::write(
        &source,
        "import sys\nname = input()\nprint(f'hello {name}')\nprint('to stderr', file=sys.stderr)\n",
    )
    .expect("write");
    let stdin = data.path().join("in.txt");
    std::fs::write(&stdin, "world\n").expect("write");
    let args = ["run", "--lang", "python", source.to_str().expect("UTF-8"), "--stdin", stdin.to_str().expect("UTF-8")];
    let output = acejudge(&args, data.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "hello world\n");
    assert!(stderr.starts_with("to stderr\n"), "{stderr}");
    assert!(stderr.contains("acejudge: run ok, exit 0"), "{stderr}");

    // The probe was remembered: the next run takes the toolchain from the cache
    // (marked here by its version), until `runners list` probes afresh.
    let entry = data.path().join("toolchains/python.json");
    let text = std::fs::read_to_string(&entry).expect("the probe is cached in the data dir");
    let mut cached: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    cached["toolchain"]["version"] = "Python from the cache".into();
    std::fs::write(&entry, serde_json::to_vec(&cached).expect("JSON")).expect("write");
    let output = acejudge(&args, data.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("(python, Python from the cache)"), "{stderr}");
    assert!(acejudge(&["runners", "list"], data.path()).status.success());
    let output = acejudge(&args, data.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && !stderr.contains("from the cache"), "{stderr}");

    let broken = data.path().join("broken.py");
    std::fs::write(&broken, "print(\n").expect("write");
    let output = acejudge(&["run", "--lang", "py", broken.to_str().expect("UTF-8")], data.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("acejudge: compilation error") && stderr.contains("File \"broken.py\", line 1"),
        "{stderr}"
    );
}
