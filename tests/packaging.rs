//! The service and its Debian package (issue 6), checked the way a release is:
//!
//! - `packaging/build-deb.sh` packages the binaries of this test's profile
//!   (`target/<profile>/`, built by `cargo build --workspace` before the tests:
//!   the same layout as a release package, unoptimised code);
//! - the file list has every installed path and nothing of the build machine;
//!   lintian reports no error; the maintainer scripts as cargo-deb generated
//!   them pass shellcheck;
//! - the packaged unit passes `systemd-analyze verify`, and its
//!   `systemd-analyze security` score is the one README.md records;
//! - the unit's capability bounding set is exactly what a sandboxed run needs:
//!   `acejudge exec` works under `setpriv` with those capabilities and fails
//!   without any one of them;
//! - `packaging/test-install.sh` installs the package into a fresh Debian root
//!   (debootstrap, cached in /var/cache/acejudge-test) where `acejudge doctor`
//!   and `acejudge judge` of a bundled reference work from the installed paths.
//!
//! Needs root and cargo-deb, dpkg-dev, lintian, shellcheck, systemd and
//! debootstrap (`scripts/install-deps.sh` installs them). Off CI a missing one
//! skips the test with the reason; on CI (env `CI` set) it fails.

use acejudge::config::Config;
use acejudge_tests::require_root;
use std::collections::BTreeSet;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// The bounding set the unit grants, each one measured as needed (see `each_capability_of_the_unit_is_needed`).
const CAPABILITIES: [&str; 9] = [
    "CAP_SYS_ADMIN",
    "CAP_SYS_CHROOT",
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_MKNOD",
];

/// Installed files the issue asks for, as `dpkg-deb -c` names them.
const REQUIRED_PATHS: [&str; 10] = [
    "./usr/bin/acejudge",
    "./usr/lib/acejudge/runners/libacejudge_runner_go.so",
    "./usr/lib/acejudge/runners/libacejudge_runner_java.so",
    "./usr/lib/acejudge/runners/libacejudge_runner_node.so",
    "./usr/lib/acejudge/runners/libacejudge_runner_python.so",
    "./usr/share/acejudge/challenges/lru-cache-ttl/challenge.toml",
    "./etc/acejudge/acejudge.toml",
    "./usr/lib/systemd/system/acejudge.service",
    "./usr/share/doc/acejudge/copyright",
    "./usr/share/doc/acejudge/changelog.Debian.gz",
];

/// Where a file of the package may be installed.
const ALLOWED_PREFIXES: [&str; 6] = [
    "./usr/bin/",
    "./usr/lib/acejudge/runners/",
    "./usr/share/acejudge/challenges/",
    "./usr/share/doc/acejudge/",
    "./etc/acejudge/",
    "./usr/lib/systemd/system/",
];

/// The tests that run the sandbox take turns: they share slot uids and a 2-core machine.
static ONE_SANDBOX_TEST_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    ONE_SANDBOX_TEST_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// `target/<profile>/`, where this test's binaries and the runner plugins are.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>").to_path_buf()
}

fn on_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// Whether `program` can be run; on CI a missing tool fails the test, elsewhere it skips it.
fn require_tool(test: &str, program: &str, args: &[&str]) -> bool {
    let found = Command::new(program).args(args).output().is_ok_and(|o| o.status.success());
    if found {
        return true;
    }
    let hint = "run scripts/install-deps.sh";
    if on_ci() {
        panic!("{test}: `{program}` is missing and CI must run this test ({hint})");
    }
    eprintln!("SKIP {test}: `{program}` is missing ({hint})");
    false
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program).args(args).output().unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(output: &Output) -> String {
    format!("{}\nstdout:\n{}\nstderr:\n{}", output.status, text(&output.stdout), text(&output.stderr))
}

/// The package, built once per test process by `packaging/build-deb.sh --binaries target/<profile>`.
struct Package {
    deb: PathBuf,
    _dir: tempfile::TempDir,
}

fn package(test: &str) -> Option<&'static Package> {
    static PACKAGE: OnceLock<Result<Package, String>> = OnceLock::new();
    if !require_tool(test, "cargo", &["deb", "--version"]) || !require_tool(test, "dpkg-deb", &["--version"]) {
        return None;
    }
    let built = PACKAGE.get_or_init(|| {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let script = repo_root().join("packaging/build-deb.sh");
        let binaries = profile_dir();
        let output = Command::new(&script)
            .arg("--binaries")
            .arg(&binaries)
            .arg("--output")
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !output.status.success() {
            return Err(format!("packaging/build-deb.sh failed: {}", describe(&output)));
        }
        let deb = std::fs::read_dir(dir.path())
            .map_err(|e| e.to_string())?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "deb"))
            .ok_or_else(|| format!("no .deb in {}: {}", dir.path().display(), describe(&output)))?;
        Ok(Package { deb, _dir: dir })
    });
    match built {
        Ok(package) => Some(package),
        Err(e) => panic!("{test}: {e}"),
    }
}

/// The package's data files, extracted into a fresh directory.
fn extract(package: &Package) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    let out = Command::new("dpkg-deb").arg("-x").arg(&package.deb).arg(dir.path()).output().expect("dpkg-deb -x");
    assert!(out.status.success(), "dpkg-deb -x: {}", describe(&out));
    dir
}

/// The control files (maintainer scripts, conffiles), extracted into a fresh directory.
fn extract_control(package: &Package) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    let control = dir.path().join("DEBIAN");
    let out = Command::new("dpkg-deb").arg("-e").arg(&package.deb).arg(&control).output().expect("dpkg-deb -e");
    assert!(out.status.success(), "dpkg-deb -e: {}", describe(&out));
    dir
}

#[test]
fn the_package_installs_every_path_and_nothing_of_the_build_machine() {
    let test = "the_package_installs_every_path_and_nothing_of_the_build_machine";
    let Some(package) = package(test) else { return };
    let listing = Command::new("dpkg-deb").arg("-c").arg(&package.deb).output().expect("dpkg-deb -c");
    assert!(listing.status.success(), "{}", describe(&listing));
    let files: BTreeSet<String> = text(&listing.stdout)
        .lines()
        .filter(|line| !line.starts_with('d'))
        .filter_map(|line| line.split_whitespace().nth(5).map(String::from))
        .collect();
    for path in REQUIRED_PATHS {
        assert!(files.contains(path), "{path} is not in the package; it has:\n{files:#?}");
    }
    let workspace = repo_root().display().to_string();
    for file in &files {
        assert!(ALLOWED_PREFIXES.iter().any(|p| file.starts_with(p)), "{file} is outside the installed layout");
        for leak in [workspace.as_str(), "/target/", "/root/", "/home/", "/tmp/", ".cargo"] {
            assert!(!file.contains(leak), "{file} names the build machine ({leak})");
        }
    }
    // Every bundled challenge ships whole: statement, starters, hidden tests and references.
    let challenges = repo_root().join("challenges");
    for slug in std::fs::read_dir(&challenges).expect("challenges/").flatten().filter(|e| e.path().is_dir()) {
        let name = slug.file_name().to_string_lossy().into_owned();
        for source in walk(&slug.path()) {
            let relative = source.strip_prefix(&challenges).expect("under challenges/");
            let installed = format!("./usr/share/acejudge/challenges/{}", relative.display());
            assert!(files.contains(&installed), "{installed} (challenge {name}) is not in the package");
        }
    }
    // No file of the package names the workspace it was built in (binaries included).
    let data = extract(package);
    for file in walk(data.path()) {
        let bytes = std::fs::read(&file).expect("a packaged file");
        assert!(
            !bytes.windows(workspace.len()).any(|w| w == workspace.as_bytes()),
            "{} contains the build directory {workspace}",
            file.display()
        );
    }
}

/// Every regular file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a directory").flatten() {
        let kind = entry.file_type().expect("a file type");
        if kind.is_dir() {
            out.extend(walk(&entry.path()));
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
    out
}

#[test]
fn the_configuration_is_a_conffile_and_the_unit_is_the_repository_one() {
    let test = "the_configuration_is_a_conffile_and_the_unit_is_the_repository_one";
    let Some(package) = package(test) else { return };
    let control = extract_control(package);
    let conffiles = std::fs::read_to_string(control.path().join("DEBIAN/conffiles")).expect("a conffiles file");
    assert_eq!(conffiles.lines().collect::<Vec<_>>(), ["/etc/acejudge/acejudge.toml"]);
    let data = extract(package);
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert_eq!(
        read(&data.path().join("usr/lib/systemd/system/acejudge.service")),
        read(&repo_root().join("systemd/acejudge.service"))
    );
    assert_eq!(
        read(&data.path().join("etc/acejudge/acejudge.toml")),
        read(&repo_root().join("packaging/acejudge.toml"))
    );
}

#[test]
fn lintian_reports_no_error() {
    let test = "lintian_reports_no_error";
    if !require_tool(test, "lintian", &["--version"]) {
        return;
    }
    let Some(package) = package(test) else { return };
    let out = Command::new("lintian").arg("--fail-on").arg("error").arg(&package.deb).output().expect("lintian");
    let report = text(&out.stdout);
    let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("E:")).collect();
    assert!(out.status.success() && errors.is_empty(), "lintian errors: {errors:#?}\n{}", describe(&out));
}

#[test]
fn the_maintainer_scripts_pass_shellcheck() {
    let test = "the_maintainer_scripts_pass_shellcheck";
    if !require_tool(test, "shellcheck", &["--version"]) {
        return;
    }
    let Some(package) = package(test) else { return };
    // As installed: cargo-deb inserted its systemd snippets at the debhelper token.
    let control = extract_control(package);
    let mut scripts = Vec::new();
    for name in ["preinst", "postinst", "prerm", "postrm"] {
        let path = control.path().join("DEBIAN").join(name);
        if path.exists() {
            scripts.push(path);
        }
    }
    assert!(scripts.len() >= 2, "postinst and postrm are missing from the package: {scripts:?}");
    let out = Command::new("shellcheck").arg("--shell=sh").args(&scripts).output().expect("shellcheck");
    assert!(out.status.success(), "generated maintainer scripts: {}", describe(&out));
    // And the sources, including the helper scripts.
    let root = repo_root();
    let sources =
        ["packaging/build-deb.sh", "packaging/test-install.sh", "packaging/debian/postinst", "packaging/debian/postrm"];
    let out = Command::new("shellcheck").current_dir(&root).args(sources).output().expect("shellcheck of packaging/");
    assert!(out.status.success(), "packaging/ scripts: {}", describe(&out));
}

/// A root holding the extracted package and the host's systemd targets and
/// slices, for `systemd-analyze --root`: the unit is checked against the
/// packaged `/usr/bin/acejudge`, not whatever this host has installed.
fn analyze_root(package: &Package) -> tempfile::TempDir {
    let root = extract(package);
    let units = root.path().join("usr/lib/systemd/system");
    std::fs::create_dir_all(&units).expect("the unit directory");
    let host_units = Path::new("/usr/lib/systemd/system");
    for entry in std::fs::read_dir(host_units).expect("/usr/lib/systemd/system").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".target") || name.ends_with(".slice") {
            let out = run("cp", &["-a", &entry.path().display().to_string(), &units.display().to_string()]);
            assert!(out.status.success(), "copying {name}: {}", describe(&out));
        }
    }
    root
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    let test = "the_unit_passes_systemd_analyze_verify";
    if !require_tool(test, "systemd-analyze", &["--version"]) {
        return;
    }
    let Some(package) = package(test) else { return };
    let root = analyze_root(package);
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", root.path().display()))
        .arg("acejudge.service")
        .output()
        .expect("systemd-analyze verify");
    // Unknown keys and other problems are only warnings: any output is a failure.
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        describe(&out)
    );
}

#[test]
fn the_unit_security_score_is_the_one_the_readme_records() {
    let test = "the_unit_security_score_is_the_one_the_readme_records";
    if !require_tool(test, "systemd-analyze", &["--version"]) {
        return;
    }
    let Some(package) = package(test) else { return };
    let root = analyze_root(package);
    let out = Command::new("systemd-analyze")
        .arg("security")
        .arg("--offline=true")
        .arg(format!("--root={}", root.path().display()))
        .arg("--no-pager")
        .arg("acejudge.service")
        .output()
        .expect("systemd-analyze security");
    let report = text(&out.stdout);
    let score = report
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for acejudge.service: ").map(|(_, rest)| rest.to_string()))
        .unwrap_or_else(|| panic!("no overall exposure level: {}", describe(&out)));
    let value = score.split_whitespace().next().unwrap_or_default().to_string();
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let recorded = format!("Overall exposure level for acejudge.service: {value}");
    assert!(readme.contains(&recorded), "README.md must record the unit's score: `{recorded}`\n{report}");
}

/// The unit's value of `key` (the last assignment wins, as in systemd).
fn unit_value(key: &str) -> Option<String> {
    let unit = std::fs::read_to_string(repo_root().join("systemd/acejudge.service")).expect("the unit");
    unit.lines().rev().find_map(|l| l.strip_prefix(key)?.strip_prefix('=').map(|v| v.trim().to_string()))
}

#[test]
fn the_unit_has_the_settings_the_issue_asks_for_and_none_that_break_the_sandbox() {
    for (key, value) in [
        ("Type", "notify"),
        ("Delegate", "yes"),
        ("Restart", "on-failure"),
        ("StateDirectory", "acejudge"),
        ("ConfigurationDirectory", "acejudge"),
        ("RuntimeDirectory", "acejudge"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"),
        ("OOMPolicy", "continue"),
        ("AmbientCapabilities", ""),
    ] {
        assert_eq!(unit_value(key).as_deref(), Some(value), "{key}=");
    }
    let bounding = unit_value("CapabilityBoundingSet").expect("CapabilityBoundingSet=");
    let granted: BTreeSet<&str> = bounding.split_whitespace().collect();
    assert_eq!(granted, CAPABILITIES.into_iter().collect(), "the bounding set changed: re-measure and update the test");
    for key in ["PrivateDevices", "ProtectControlGroups", "ProtectHostname", "RestrictNamespaces", "RestrictSUIDSGID"] {
        assert_eq!(unit_value(key), None, "{key}= breaks the sandbox (see the unit's comments)");
    }
}

/// Runs `acejudge exec` bounded to `capabilities`: writes a file into the box
/// (DAC_OVERRIDE, CHOWN), runs it as the slot's uid (SYS_ADMIN, SETUID,
/// SETGID, SETPCAP, MKNOD) and leaves a sticky directory behind that the box's
/// removal must get through (FOWNER). Returns whether all of it worked.
fn sandboxed_run_works(capabilities: &[&str]) -> (bool, String) {
    let work = tempfile::tempdir().expect("a temp dir");
    let input = work.path().join("input");
    std::fs::create_dir(&input).expect("the input dir");
    std::fs::write(input.join("greeting.txt"), "hello from the box\n").expect("the input file");
    let bounding: String = std::iter::once("-all".to_string())
        .chain(capabilities.iter().map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase())))
        .collect::<Vec<_>>()
        .join(",");
    let out = Command::new("setpriv")
        .arg(format!("--bounding-set={bounding}"))
        .arg("--")
        .arg(profile_dir().join("acejudge"))
        .arg("--data-dir")
        .arg(work.path().join("data"))
        .args(["exec", "--dir"])
        .arg(&input)
        .args([
            "--",
            "/bin/sh",
            "-c",
            "cat /box/greeting.txt && mkdir /box/sticky && chmod 1777 /box/sticky && touch /box/sticky/left",
        ])
        .env("ACEJUDGE_LOG", "warn")
        .output()
        .expect("setpriv");
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    let worked = out.status.success()
        && stdout.contains(r#""kind": "ok""#)
        && stdout.contains("hello from the box")
        && !stderr.contains("cannot remove box");
    (worked, describe(&out))
}

#[test]
fn each_capability_of_the_unit_is_needed_and_together_they_suffice() {
    let test = "each_capability_of_the_unit_is_needed_and_together_they_suffice";
    if !require_root(test) || !require_tool(test, "setpriv", &["--version"]) {
        return;
    }
    let _turn = serial();
    let (worked, report) = sandboxed_run_works(&CAPABILITIES);
    assert!(worked, "a run with the unit's bounding set failed: {report}");
    for missing in CAPABILITIES {
        let fewer: Vec<&str> = CAPABILITIES.into_iter().filter(|c| *c != missing).collect();
        let (worked, report) = sandboxed_run_works(&fewer);
        assert!(!worked, "a run worked without {missing}: drop it from the unit's bounding set\n{report}");
    }
}

#[test]
fn the_packaged_configuration_is_the_default_but_for_the_installed_paths() {
    let packaged = Config::from_file(&repo_root().join("packaging/acejudge.toml")).expect("packaging/acejudge.toml");
    let mut expected = Config::from_file(&repo_root().join("config/acejudge.toml")).expect("config/acejudge.toml");
    expected.server.data_dir = "/var/lib/acejudge".into();
    expected.server.challenges_dir = "/usr/share/acejudge/challenges".into();
    expected.server.runners_dir = Some("/usr/lib/acejudge/runners".into());
    assert_eq!(packaged, expected, "packaging/acejudge.toml drifted from config/acejudge.toml");
}

#[test]
fn the_package_installs_into_a_fresh_debian_root_and_judges_a_reference() {
    let test = "the_package_installs_into_a_fresh_debian_root_and_judges_a_reference";
    if !require_root(test)
        || !require_tool(test, "debootstrap", &["--version"])
        || !require_tool(test, "unshare", &["--version"])
    {
        return;
    }
    let Some(package) = package(test) else { return };
    let _turn = serial();
    let script = repo_root().join("packaging/test-install.sh");
    let out = Command::new(&script).arg(&package.deb).output().expect("packaging/test-install.sh");
    assert!(out.status.success(), "install test: {}", describe(&out));
    eprintln!("{}", text(&out.stdout));
}

/// The next datagram on `socket`, as text.
fn notification(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    match socket.recv(&mut buf) {
        Ok(n) => text(&buf[..n]),
        Err(e) => format!("(nothing: {e})"),
    }
}

#[test]
fn serve_reports_ready_to_systemd_once_listening_and_stopping_on_sigterm() {
    let test = "serve_reports_ready_to_systemd_once_listening_and_stopping_on_sigterm";
    if !require_root(test) {
        return;
    }
    let _turn = serial();
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = dir.path().join("acejudge.toml");
    let text_config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = {:?}\nchallenges_dir = {:?}\n\n[queue]\nslots = 1\n\n\
         [sandbox]\nuid_base = 63000\n",
        dir.path().join("data"),
        repo_root().join("challenges"),
    );
    std::fs::write(&config, text_config).expect("the config");
    let socket_path = dir.path().join("notify");
    let socket = UnixDatagram::bind(&socket_path).expect("the notify socket");
    socket.set_read_timeout(Some(Duration::from_secs(60))).expect("a timeout");
    let mut child = Command::new(profile_dir().join("acejudge"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .env("NOTIFY_SOCKET", &socket_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("acejudge serve");
    let ready = notification(&socket);
    let ready_ok = ready.lines().any(|l| l == "READY=1") && ready.lines().any(|l| l.starts_with("STATUS="));
    // Right after READY=1: a service manager may stop the unit as soon as it is ready.
    // SAFETY: kill takes a pid and a signal number only.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = child.wait().expect("serve exits");
    socket.set_nonblocking(true).expect("a non-blocking socket");
    let stopping = notification(&socket);
    assert!(
        ready_ok,
        "serve sent no READY=1 with a STATUS= line once listening (got {ready:?}): it must call \
         `acejudge::service::ready(..)` after the listener is bound"
    );
    assert!(
        status.success(),
        "serve ended with {status} on a SIGTERM sent right after READY=1: its SIGTERM handler must be \
         registered before it reports ready"
    );
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "no STOPPING=1 on SIGTERM: got {stopping:?}");
}
