//! `acejudge exec` and `acejudge doctor` as a user runs them: the real binary,
//! its exit status, its JSON and its one-line errors.

use std::process::{Command, Output};

fn acejudge(args: &[&str], data_dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_acejudge"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("run the acejudge binary")
}

fn is_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "{test} needs root and CI must run it");
    eprintln!("SKIP {test}: needs root to run the sandbox");
    false
}

fn one_line_error(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stderr).trim().to_string();
    assert!(!output.status.success(), "bad arguments must fail");
    assert_eq!(text.lines().count(), 1, "one line, got: {text}");
    assert!(output.stdout.is_empty(), "nothing runs, nothing is printed on stdout");
    text
}

#[test]
fn bad_arguments_get_a_one_line_error_saying_what_to_fix() {
    let data = tempfile::tempdir().expect("tempdir");
    let cases: &[(&[&str], &str)] = &[
        (&["exec", "--mem", "lots", "--", "/bin/true"], "e.g. 256M"),
        (&["exec", "--wall", "soon", "--", "/bin/true"], "e.g. 500ms"),
        (&["exec", "--dir", "/no/such/dir", "--", "/bin/true"], "--dir /no/such/dir: no such directory"),
        (&["exec"], "no command given"),
        (&["exec", "--mem", "100000G", "--", "/bin/true"], "--mem"),
        (&["exec", "--pids", "1000000", "--", "/bin/true"], "--pids 1000000 is outside what this host allows"),
        (&["exec", "--wall", "3h", "--", "/bin/true"], "e.g. 500ms"),
        (&["exec", "--cpu", "900s", "--", "/bin/true"], "--cpu 900000ms is outside"),
        (&["exec", "--ro", "relative/path", "--", "/bin/true"], "absolute path"),
        (&["exec", "--env", "NOEQUALS", "--", "/bin/true"], "KEY=VALUE"),
    ];
    for (args, expected) in cases {
        let output = acejudge(args, data.path());
        let message = one_line_error(&output);
        assert!(message.contains(expected), "{args:?}: expected {expected:?} in {message:?}");
    }
}

#[test]
fn exec_prints_the_outcome_as_json_with_the_programs_output() {
    if !is_root("exec_prints_the_outcome_as_json_with_the_programs_output") {
        return;
    }
    let data = tempfile::tempdir().expect("tempdir");
    let src = tempfile::tempdir().expect("tempdir");
    std::fs::write(src.path().join("input.txt"), "from the box\n").expect("write");
    std::fs::write(src.path().join("stdin.txt"), "from stdin\n").expect("write");
    let dir = src.path().to_str().expect("utf-8");
    let stdin = format!("{dir}/stdin.txt");
    let output = acejudge(
        &["exec", "--dir", dir, "--stdin", &stdin, "--", "/bin/sh", "-c", "cat input.txt; cat; echo oops >&2; exit 3"],
        data.path(),
    );
    assert!(
        output.status.success(),
        "the run was judged, so exec succeeds: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    assert_eq!(json["status"]["kind"], "nonzero_exit");
    assert_eq!(json["exit_code"], 3);
    assert_eq!(json["stdout"], "from the box\nfrom stdin\n");
    assert_eq!(json["stderr"], "oops\n");
    assert!(json["wall_ms"].as_u64().is_some() && json["enforcement"]["seccomp"] == true);
}

#[test]
fn exec_of_a_missing_program_fails_naming_it() {
    if !is_root("exec_of_a_missing_program_fails_naming_it") {
        return;
    }
    let data = tempfile::tempdir().expect("tempdir");
    let output = acejudge(&["exec", "--", "no-such-program"], data.path());
    let message = one_line_error(&output);
    assert!(message.contains("cannot execute `no-such-program`"), "{message}");
}

#[test]
fn doctor_reports_every_layer_and_passes_on_a_complete_host() {
    if !is_root("doctor_reports_every_layer_and_passes_on_a_complete_host") {
        return;
    }
    let data = tempfile::tempdir().expect("tempdir");
    let output = acejudge(&["doctor"], data.path());
    let text = String::from_utf8_lossy(&output.stdout);
    for layer in [
        "privileges",
        "landlock",
        "seccomp",
        "namespaces",
        "cgroups",
        "uid range",
        "sandbox run",
        "python",
        "node",
        "java",
        "go",
        "junit5",
    ] {
        assert!(text.lines().any(|l| l.contains(layer)), "doctor says nothing about {layer}:\n{text}");
    }
    assert!(output.status.success(), "this host has every required layer:\n{text}");
    assert!(!text.contains("MISSING"), "{text}");
}
