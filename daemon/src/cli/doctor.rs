//! `acejudge doctor`: what this host offers each isolation layer, before anything runs.
//!
//! Each line is OK, DEGRADED or MISSING with what it means. The exit status is
//! non-zero when a layer the daemon cannot run without is missing.

use crate::sandbox::cgroup::{self, Layout};
use crate::sandbox::landlock::LandlockPolicy;
use crate::sandbox::{seccomp, Limits, Sandbox, SandboxConfig, SandboxSpec, Status};
use std::path::Path;
use std::process::Command;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Level {
    Ok,
    Degraded,
    Missing,
}

pub struct Check {
    pub name: &'static str,
    pub level: Level,
    /// Whether the daemon refuses to run without it.
    pub required: bool,
    pub detail: String,
}

fn check(name: &'static str, level: Level, required: bool, detail: impl Into<String>) -> Check {
    Check { name, level, required, detail: detail.into() }
}

/// Runs every check; nothing here changes the host except a throwaway run in `data_dir`.
pub fn checks(data_dir: &Path) -> Vec<Check> {
    let mut out = Vec::new();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    out.push(if root {
        check("privileges", Level::Ok, true, "running as root: namespaces, mounts and uid switching are available")
    } else {
        check("privileges", Level::Missing, true, "not root: the sandbox needs CAP_SYS_ADMIN, CAP_SETUID/GID and friends (run as root or via the systemd unit)")
    });

    let landlock = LandlockPolicy::detect();
    out.push(match landlock.kernel_abi() {
        0 => check(
            "landlock",
            Level::Degraded,
            false,
            "Landlock unavailable: the mount namespace is the only filesystem fence",
        ),
        abi if abi >= 6 => check(
            "landlock",
            Level::Ok,
            false,
            format!(
                "ABI {abi}: filesystem, TCP and scoping rules enforced (policy vetted up to ABI {})",
                crate::sandbox::landlock::VETTED_ABI
            ),
        ),
        abi => check(
            "landlock",
            Level::Degraded,
            false,
            format!("ABI {abi}: enforced partially (TCP rules need ABI 4, scoping ABI 6)"),
        ),
    });

    let actions = std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail").unwrap_or_default();
    out.push(match seccomp::compile() {
        Ok(filters) if actions.contains("kill_process") => check(
            "seccomp",
            Level::Ok,
            true,
            format!("{} filters compiled; kill_process and errno actions available", filters.len()),
        ),
        Ok(_) => check("seccomp", Level::Missing, true, "the kernel lacks seccomp kill_process"),
        Err(e) => check("seccomp", Level::Missing, true, e.to_string()),
    });

    let namespaces = ["mnt", "pid", "net", "ipc", "uts", "cgroup"];
    let missing: Vec<&str> =
        namespaces.iter().copied().filter(|ns| !Path::new("/proc/self/ns").join(ns).exists()).collect();
    out.push(if missing.is_empty() {
        check("namespaces", Level::Ok, true, "mount, pid, net, ipc, uts and cgroup namespaces available")
    } else {
        check("namespaces", Level::Missing, true, format!("missing: {}", missing.join(", ")))
    });

    out.push(match cgroup::detect(Path::new("/sys/fs/cgroup")) {
        Some(Layout::V2 { mount }) => {
            let controllers = std::fs::read_to_string(mount.join("cgroup.controllers")).unwrap_or_default();
            let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
            if has("memory") && has("pids") {
                check("cgroups", Level::Ok, true, format!("cgroup v2 with {}: runs entered by clone3(CLONE_INTO_CGROUP), killed by cgroup.kill", controllers.trim()))
            } else {
                check("cgroups", Level::Missing, true, format!("cgroup v2 lacks memory or pids (has: {})", controllers.trim()))
            }
        }
        Some(Layout::V1 { unified, .. }) => {
            let missing: Vec<&str> = ["memory", "pids", "cpuacct"].into_iter().filter(|c| !Path::new("/sys/fs/cgroup").join(c).join("cgroup.procs").exists()).collect();
            if !missing.is_empty() {
                check("cgroups", Level::Missing, true, format!("cgroup v1 without {}", missing.join(", ")))
            } else if let Some(unified) = unified {
                let dynmods = if cgroup::has_favor_dynmods(&unified) {
                    "favordynmods on: joining costs no RCU grace period"
                } else {
                    "favordynmods off: each join waits an RCU grace period (the daemon turns it on at start)"
                };
                check("cgroups", Level::Degraded, true, format!("hybrid: memory, pids, cpuacct on v1 (joined by cgroup.procs writes; {dynmods}); cgroup.kill and clone3 into the empty v2 hierarchy"))
            } else {
                check("cgroups", Level::Degraded, true, "cgroup v1 only: memory, pids, cpuacct; runs end by killing the pid namespace's init")
            }
        }
        None => check("cgroups", Level::Missing, true, "no cgroup hierarchy under /sys/fs/cgroup: memory and process limits cannot be enforced"),
    });

    let config = SandboxConfig::default();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let taken: Vec<u32> = passwd
        .lines()
        .filter_map(|l| l.split(':').nth(2)?.parse().ok())
        .filter(|uid| (config.uid_base..config.uid_base + 64).contains(uid))
        .collect();
    out.push(if taken.is_empty() {
        check(
            "uid range",
            Level::Ok,
            false,
            format!("uids {}..{} belong to no account: one per worker slot", config.uid_base, config.uid_base + 64),
        )
    } else {
        check(
            "uid range",
            Level::Degraded,
            false,
            format!("uids {taken:?} in the slot range belong to accounts on this host"),
        )
    });

    if root {
        out.push(smoke_run(data_dir));
    }
    out.extend(toolchains());
    out
}

/// Runs `/bin/true` through the full sandbox: proves the layers work together.
fn smoke_run(data_dir: &Path) -> Check {
    let config = SandboxConfig { work_dir: data_dir.join("sandbox"), slots: 1, ..SandboxConfig::default() };
    let result = Sandbox::new(config).and_then(|sandbox| {
        let boxed = sandbox.create_box(0, 1 << 20)?;
        let spec = SandboxSpec {
            argv: vec!["/bin/true".into()],
            env: vec![],
            stdin: vec![],
            box_dir: boxed.path().into(),
            readonly_paths: vec![],
            cgroup_view: false,
            writable_overlays: vec![],
            limits: Limits::default(),
        };
        sandbox.run(0, &spec)
    });
    match result {
        Ok(outcome) if outcome.status == Status::Ok => check(
            "sandbox run",
            Level::Ok,
            true,
            format!(
                "/bin/true ran isolated in {} ms (cgroup {}, Landlock {})",
                outcome.wall_ms, outcome.enforcement.cgroup, outcome.enforcement.landlock
            ),
        ),
        Ok(outcome) => check("sandbox run", Level::Missing, true, format!("/bin/true ended as {:?}", outcome.status)),
        Err(e) => check("sandbox run", Level::Missing, true, format!("{e}")),
    }
}

fn version_of(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    let text = if output.stdout.is_empty() { output.stderr } else { output.stdout };
    String::from_utf8_lossy(&text).lines().next().map(|l| l.trim().to_string())
}

fn toolchains() -> Vec<Check> {
    let go = ["/usr/bin/go"].into_iter().map(String::from).chain(
        std::fs::read_dir("/usr/lib")
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("go-"))
            .map(|e| e.path().join("bin/go").display().to_string()),
    );
    let mut found = Vec::new();
    let mut probe = |name: &'static str, candidates: Vec<String>, args: &[&str]| {
        let hit =
            candidates.iter().find(|c| Path::new(c).exists()).and_then(|c| version_of(c, args).map(|v| (c.clone(), v)));
        found.push(match hit {
            Some((path, version)) => check(name, Level::Ok, false, format!("{path}: {version}")),
            None => check(
                name,
                Level::Degraded,
                false,
                format!("not found (looked at {}): {name} submissions cannot run", candidates.join(", ")),
            ),
        });
    };
    probe("python", vec!["/usr/bin/python3".into()], &["--version"]);
    probe("node", vec!["/usr/bin/node".into()], &["--version"]);
    probe("java", vec!["/usr/bin/java".into()], &["-version"]);
    probe("go", go.collect(), &["version"]);
    let junit = "/usr/share/java/junit-platform-console-standalone.jar";
    found.push(if Path::new(junit).exists() {
        check("junit5", Level::Ok, false, junit)
    } else {
        check("junit5", Level::Degraded, false, "the junit5 package is not installed: Java tests cannot run")
    });
    found
}

pub fn run(data_dir: &Path) -> anyhow::Result<u8> {
    let results = checks(data_dir);
    let mut fatal = false;
    for c in &results {
        let label = match c.level {
            Level::Ok => "OK      ",
            Level::Degraded => "DEGRADED",
            Level::Missing => "MISSING ",
        };
        println!("{label} {:<12} {}", c.name, c.detail);
        fatal |= c.required && c.level == Level::Missing;
    }
    if fatal {
        println!("\nA layer the daemon needs is missing: runs would not be isolated. Fix the MISSING lines above.");
    }
    Ok(u8::from(fatal))
}
