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
            format!(
                "policy compiled ({} BPF instructions); kill_process and errno actions available",
                filters.iter().map(Vec::len).sum::<usize>()
            ),
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

    // Before the smoke run, which moves this process into a leaf of its own cgroup.
    out.push(delegation(Path::new("/sys/fs/cgroup")));

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
/// In a work dir of its own, so that it also works while `acejudge serve`
/// holds the data dir's sandbox (see `sandbox::workdir_lock`).
fn smoke_run(data_dir: &Path) -> Check {
    let config = SandboxConfig { work_dir: data_dir.join("doctor-sandbox"), slots: 1, ..SandboxConfig::default() };
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

/// Whether this process's own cgroup subtree is usable for runs: writable,
/// with the controllers the sandbox needs, and delegated by a service manager
/// (systemd marks a `Delegate=yes` unit's cgroup with the `trusted.delegate`
/// or `user.delegate` extended attribute). The only change it makes is a probe
/// cgroup created and removed inside that subtree.
fn delegation(cgroup_root: &Path) -> Check {
    let proc_self = match std::fs::read_to_string("/proc/self/cgroup") {
        Ok(text) => text,
        Err(e) => return check("delegation", Level::Missing, true, format!("cannot read /proc/self/cgroup: {e}")),
    };
    match cgroup::detect(cgroup_root) {
        Some(Layout::V2 { mount }) => {
            let own = cgroup::own_path(&proc_self, "").unwrap_or_else(|| "/".into());
            delegation_v2(&mount, &own)
        }
        Some(Layout::V1 { root, unified, .. }) => delegation_v1(&root, unified.as_deref(), &proc_self),
        None => {
            check("delegation", Level::Missing, true, "no cgroup hierarchy under /sys/fs/cgroup: nothing to delegate")
        }
    }
}

/// What one cgroup directory offers this process.
struct CgroupAccess {
    delegated: bool,
    writable: Result<(), String>,
}

fn inspect_cgroup(dir: &Path) -> CgroupAccess {
    let delegated = ["trusted.delegate", "user.delegate"].iter().any(|name| xattr(dir, name).as_deref() == Some(b"1"));
    let probe = dir.join(format!("acejudge-doctor-{}", std::process::id()));
    let writable = std::fs::create_dir(&probe)
        .and_then(|()| std::fs::remove_dir(&probe))
        .map_err(|e| format!("cannot create a cgroup in {}: {e}", dir.display()));
    CgroupAccess { delegated, writable }
}

/// An extended attribute of `path`, when it has one.
fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    let name = std::ffi::CString::new(name).ok()?;
    let mut value = [0u8; 16];
    // SAFETY: valid C strings and a buffer of the length passed; the kernel writes at most that many bytes.
    let n = unsafe { libc::getxattr(path.as_ptr(), name.as_ptr(), value.as_mut_ptr().cast(), value.len()) };
    usize::try_from(n).ok().map(|n| value[..n].to_vec())
}

/// The v2 check: `<mount><own>` must be writable and offer memory and pids.
fn delegation_v2(mount: &Path, own: &str) -> Check {
    let dir = mount.join(own.trim_start_matches('/'));
    let access = inspect_cgroup(&dir);
    let controllers = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let missing: Vec<&str> =
        ["memory", "pids"].into_iter().filter(|c| !controllers.split_whitespace().any(|x| x == *c)).collect();
    if let Err(e) = access.writable {
        return check(
            "delegation",
            Level::Missing,
            true,
            format!("{e}: runs need cgroups of their own under {own} (under systemd: Delegate=yes, and no ProtectControlGroups=)"),
        );
    }
    if !missing.is_empty() {
        return check(
            "delegation",
            Level::Missing,
            true,
            format!(
                "{own} lacks {} in cgroup.controllers: runs cannot be limited (under systemd: Delegate=yes)",
                missing.join(" and ")
            ),
        );
    }
    let layout = format!("runs go in {own}/acejudge, the daemon in a leaf beside them");
    if access.delegated {
        check("delegation", Level::Ok, true, format!("{own} is delegated and writable, with memory and pids: {layout}"))
    } else if dir == mount {
        check(
            "delegation",
            Level::Ok,
            true,
            format!("the hierarchy's root, writable, with memory and pids (no service manager): {layout}"),
        )
    } else {
        check(
            "delegation",
            Level::Degraded,
            true,
            format!("{own} is writable with memory and pids but not delegated: a service manager may move or remove what the daemon makes there; run it as the acejudge.service unit (Delegate=yes)"),
        )
    }
}

/// The v1 (and hybrid) check: the daemon's own directory in each hierarchy it uses must be writable.
fn delegation_v1(root: &Path, unified: Option<&Path>, proc_self: &str) -> Check {
    let mut dirs: Vec<(String, std::path::PathBuf)> = ["memory", "pids", "cpuacct"]
        .into_iter()
        .map(|c| {
            let own = cgroup::own_path(proc_self, c).unwrap_or_else(|| "/".into());
            (format!("{c}:{own}"), root.join(c).join(own.trim_start_matches('/')))
        })
        .collect();
    if let Some(mount) = unified {
        let own = cgroup::own_path(proc_self, "").unwrap_or_else(|| "/".into());
        dirs.push((format!("unified:{own}"), mount.join(own.trim_start_matches('/'))));
    }
    let mut delegated = false;
    for (name, dir) in &dirs {
        let access = inspect_cgroup(dir);
        if let Err(e) = access.writable {
            return check("delegation", Level::Missing, true, format!("{name}: {e} (under systemd: Delegate=yes)"));
        }
        delegated |= access.delegated;
    }
    let names: Vec<&str> = dirs.iter().map(|(name, _)| name.as_str()).collect();
    if delegated {
        check("delegation", Level::Ok, true, format!("delegated and writable: {}", names.join(", ")))
    } else {
        check(
            "delegation",
            Level::Ok,
            true,
            format!("writable (not marked delegated; v1 controllers): {}", names.join(", ")),
        )
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

#[cfg(test)]
mod tests {
    //! The delegation check against a fake cgroupfs: a temp directory shaped like the kernel's.
    use super::*;

    fn fake_v2(controllers: &str) -> tempfile::TempDir {
        let mount = tempfile::tempdir().unwrap();
        let own = mount.path().join("system.slice/acejudge.service");
        std::fs::create_dir_all(&own).unwrap();
        std::fs::write(own.join("cgroup.controllers"), controllers).unwrap();
        mount
    }

    #[test]
    fn a_writable_cgroup_with_memory_and_pids_passes_and_the_probe_is_removed() {
        let mount = fake_v2("cpu io memory pids\n");
        let own = mount.path().join("system.slice/acejudge.service");
        let marked = xattr_set(&own, "user.delegate", b"1");
        let c = delegation_v2(mount.path(), "/system.slice/acejudge.service");
        if marked {
            assert_eq!(c.level, Level::Ok, "{}", c.detail);
            assert!(c.detail.contains("is delegated"), "{}", c.detail);
        } else {
            // No user xattrs on this filesystem: writable but not marked delegated.
            assert_eq!(c.level, Level::Degraded, "{}", c.detail);
            assert!(c.detail.contains("not delegated"), "{}", c.detail);
        }
        let left: Vec<_> = std::fs::read_dir(&own).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left, ["cgroup.controllers"], "the probe cgroup must not be left behind");
    }

    #[test]
    fn a_cgroup_without_memory_or_pids_is_missing() {
        let mount = fake_v2("cpu io\n");
        let c = delegation_v2(mount.path(), "/system.slice/acejudge.service");
        assert_eq!(c.level, Level::Missing);
        assert!(c.required);
        assert!(c.detail.contains("memory and pids"), "{}", c.detail);
    }

    #[test]
    fn a_cgroup_that_cannot_be_written_is_missing_and_says_delegate() {
        let mount = fake_v2("memory pids\n");
        let c = delegation_v2(mount.path(), "/system.slice/gone.service");
        assert_eq!(c.level, Level::Missing);
        assert!(c.detail.contains("cannot create a cgroup") && c.detail.contains("Delegate=yes"), "{}", c.detail);
    }

    #[test]
    fn the_hierarchy_root_is_usable_outside_a_service_manager() {
        let mount = tempfile::tempdir().unwrap();
        std::fs::write(mount.path().join("cgroup.controllers"), "memory pids\n").unwrap();
        let c = delegation_v2(mount.path(), "/");
        assert_eq!(c.level, Level::Ok, "{}", c.detail);
        assert!(c.detail.contains("root"), "{}", c.detail);
    }

    #[test]
    fn v1_checks_each_controller_directory_it_would_write() {
        let root = tempfile::tempdir().unwrap();
        for dir in ["memory/daemon", "pids", "cpuacct"] {
            std::fs::create_dir_all(root.path().join(dir)).unwrap();
        }
        let proc_self = "4:memory:/daemon\n3:pids:/\n2:cpu,cpuacct:/missing\n0::/\n";
        let c = delegation_v1(root.path(), None, proc_self);
        assert_eq!(c.level, Level::Missing, "{}", c.detail);
        assert!(c.detail.starts_with("cpuacct:/missing"), "{}", c.detail);
        std::fs::create_dir_all(root.path().join("cpuacct/missing")).unwrap();
        let c = delegation_v1(root.path(), None, proc_self);
        assert_eq!(c.level, Level::Ok, "{}", c.detail);
    }

    fn xattr_set(path: &Path, name: &str, value: &[u8]) -> bool {
        let path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        let name = std::ffi::CString::new(name).unwrap();
        // SAFETY: valid C strings and a value buffer of the length passed.
        unsafe { libc::setxattr(path.as_ptr(), name.as_ptr(), value.as_ptr().cast(), value.len(), 0) == 0 }
    }
}
