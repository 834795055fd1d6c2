//! Shared harness for the integration tests: one sandbox per test binary,
//! a pool of worker slots, compiled payloads, and the safety net every
//! destructive test runs inside.
//!
//! Safety net, in order, before any hostile payload runs:
//! 1. the test process moves itself into a cgroup of its own with a memory
//!    and pids limit, so the sandbox's run cgroups nest inside it: a sandbox
//!    bug fails a test instead of taking the machine down;
//! 2. a canary run proves the sandbox isolates: a non-root uid and its own
//!    pid namespace. If the canary fails, every test using the harness fails.

use acejudge::sandbox::{cgroup, BoxDir, Limits, Outcome, Sandbox, SandboxConfig, SandboxSpec};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, OnceLock};

/// Slots in the test sandbox: tests run two at a time, some use two slots.
pub const SLOTS: usize = 4;
/// The containment cgroup's limits.
const CONTAINMENT_MEMORY: u64 = 6 << 30;
const CONTAINMENT_PIDS: u64 = 4096;

pub struct Harness {
    pub sandbox: Sandbox,
    free: Mutex<Vec<usize>>,
    freed: Condvar,
    /// The compiled `tests/payloads/attacks.c`.
    pub attacks: Vec<u8>,
    _work: tempfile::TempDir,
}

/// Whether this process may run sandbox tests; on CI a missing requirement is a failure, never a skip.
pub fn require_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test}: the sandbox tests need root, and CI must run them");
    }
    eprintln!("SKIP {test}: needs root (namespaces, mounts, cgroups); run `sudo cargo test` or see README");
    false
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// Compiles a C file of `tests/payloads` into a static binary.
pub fn compile_payload(work: &Path, name: &str) -> Vec<u8> {
    let source = repo_root().join("tests/payloads").join(format!("{name}.c"));
    let output = work.join(name);
    let status = std::process::Command::new("gcc")
        .args(["-O1", "-static", "-o"])
        .arg(&output)
        .arg(&source)
        .status()
        .expect("gcc is needed to build the test payloads (apt-get install gcc)");
    assert!(status.success(), "compiling {} failed", source.display());
    std::fs::read(&output).expect("read compiled payload")
}

/// Moves this test process into a memory- and pids-limited cgroup of its own.
fn contain_self() {
    let layout = cgroup::detect(Path::new("/sys/fs/cgroup")).expect("a cgroup hierarchy");
    let proc_self = std::fs::read_to_string("/proc/self/cgroup").expect("read /proc/self/cgroup");
    let name = format!("acejudge-tests-{}", std::process::id());
    let enter = |dir: PathBuf, limits: &[(&str, String)]| {
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        for (file, value) in limits {
            std::fs::write(dir.join(file), value).unwrap_or_else(|e| panic!("write {file}: {e}"));
        }
        std::fs::write(dir.join("cgroup.procs"), std::process::id().to_string())
            .unwrap_or_else(|e| panic!("enter {}: {e}", dir.display()));
    };
    match layout {
        cgroup::Layout::V1 { root, .. } => {
            for (controller, limits) in [
                ("memory", vec![("memory.limit_in_bytes", CONTAINMENT_MEMORY.to_string())]),
                ("pids", vec![("pids.max", CONTAINMENT_PIDS.to_string())]),
            ] {
                let own = cgroup::own_path(&proc_self, controller).unwrap_or_else(|| "/".into());
                enter(root.join(controller).join(own.trim_start_matches('/')).join(&name), &limits);
            }
        }
        cgroup::Layout::V2 { mount } => {
            let own = cgroup::own_path(&proc_self, "").unwrap_or_else(|| "/".into());
            let parent = mount.join(own.trim_start_matches('/'));
            let _ = std::fs::write(parent.join("cgroup.subtree_control"), "+memory +pids");
            enter(
                parent.join(&name),
                &[("memory.max", CONTAINMENT_MEMORY.to_string()), ("pids.max", CONTAINMENT_PIDS.to_string())],
            );
        }
    }
}

static HARNESS: OnceLock<Harness> = OnceLock::new();
static WORK_DIR: OnceLock<PathBuf> = OnceLock::new();

/// At exit: the harness's sandbox is a static and is never dropped, so unmount
/// its slots' tmpfs here, or every test run would leave mounts on the host.
extern "C" fn unmount_slots_at_exit() {
    if let Some(work) = WORK_DIR.get() {
        for slot in 0..SLOTS {
            let path = work.join("sandbox/boxes").join(format!("slot{slot}"));
            if let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) {
                // SAFETY: a valid C string; MNT_DETACH never blocks.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
        let _ = std::fs::remove_dir_all(work);
    }
}

/// The shared harness, set up on first use (contained, canary-checked); `None` when not root.
pub fn harness(test: &str) -> Option<&'static Harness> {
    if !require_root(test) {
        return None;
    }
    Some(HARNESS.get_or_init(|| {
        contain_self();
        let work = tempfile::Builder::new().prefix("acejudge-test-").tempdir().expect("temp dir");
        if WORK_DIR.set(work.path().to_path_buf()).is_ok() {
            // SAFETY: registering a plain extern "C" function with no arguments.
            unsafe { libc::atexit(unmount_slots_at_exit) };
        }
        let config = SandboxConfig {
            work_dir: work.path().join("sandbox"),
            slots: SLOTS,
            cgroup_group: format!("acejudge-test-{}", std::process::id()),
            ..SandboxConfig::default()
        };
        let sandbox = Sandbox::new(config).expect("the sandbox sets up");
        let attacks = compile_payload(work.path(), "attacks");
        let harness = Harness {
            sandbox,
            free: Mutex::new((0..SLOTS).rev().collect()),
            freed: Condvar::new(),
            attacks,
            _work: work,
        };
        harness.canary();
        harness
    }))
}

/// A worker slot held by one test; returned to the pool on drop.
pub struct Lease<'a> {
    harness: &'a Harness,
    pub slot: usize,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.harness.free.lock().unwrap_or_else(|e| e.into_inner()).push(self.slot);
        self.harness.freed.notify_one();
    }
}

/// What a test asks to run.
pub struct Run<'a> {
    pub argv: Vec<String>,
    pub files: Vec<(&'a str, Vec<u8>, bool)>,
    pub limits: Limits,
    pub stdin: Vec<u8>,
    pub env: Vec<(String, String)>,
    pub cgroup_view: bool,
}

impl<'a> Run<'a> {
    pub fn new(argv: &[&str]) -> Run<'a> {
        Run {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            files: Vec::new(),
            limits: Limits { wall: std::time::Duration::from_secs(5), ..Limits::default() },
            stdin: Vec::new(),
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            cgroup_view: false,
        }
    }

    /// A run of the compiled attacks payload with `args`.
    pub fn attack(h: &Harness, args: &[&str]) -> Run<'a> {
        let mut argv = vec!["./attacks"];
        argv.extend_from_slice(args);
        let mut run = Run::new(&argv);
        run.files.push(("attacks", h.attacks.clone(), true));
        run
    }

    pub fn python(code: &str) -> Run<'a> {
        Run::new(&["/usr/bin/python3", "-I", "-S", "-c", code])
    }
}

impl Harness {
    pub fn lease(&self) -> Lease<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(slot) = free.pop() {
                return Lease { harness: self, slot };
            }
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Runs in a fresh box on `slot`, returning the Outcome and the box (still mounted).
    pub fn run_in(&self, slot: usize, run: Run) -> (Outcome, BoxDir) {
        let boxed = self.sandbox.create_box(slot, 64 << 20).expect("create box");
        for (name, contents, executable) in &run.files {
            boxed.write_file(Path::new(name), contents, *executable).expect("write file into box");
        }
        let spec = SandboxSpec {
            argv: run.argv,
            env: run.env,
            stdin: run.stdin,
            box_dir: boxed.path().to_path_buf(),
            readonly_paths: Vec::new(),
            writable_overlays: Vec::new(),
            cgroup_view: run.cgroup_view,
            limits: run.limits,
        };
        let outcome = self.sandbox.run(slot, &spec).expect("the sandbox runs the program");
        (outcome, boxed)
    }

    /// Runs on a leased slot.
    pub fn run(&self, run: Run) -> Outcome {
        let lease = self.lease();
        self.run_in(lease.slot, run).0
    }

    /// Proves isolation before anything destructive runs: non-root uid, own pid namespace.
    fn canary(&self) {
        let lease = self.lease();
        let (outcome, _box) = self.run_in(
            lease.slot,
            Run::python(
                "import os; print(os.getuid(), os.getpid(), len([p for p in os.listdir('/proc') if p.isdigit()]))",
            ),
        );
        let out = String::from_utf8_lossy(&outcome.stdout).to_string();
        let fields: Vec<u64> = out.split_whitespace().filter_map(|f| f.parse().ok()).collect();
        assert!(
            fields.len() == 3 && fields[0] != 0 && fields[1] <= 3 && fields[2] <= 3,
            "CANARY FAILED — the sandbox does not isolate (uid, pid, visible processes = {out:?}); no destructive test may run"
        );
    }
}

pub fn stdout(outcome: &Outcome) -> String {
    String::from_utf8_lossy(&outcome.stdout).into_owned()
}

pub fn stderr(outcome: &Outcome) -> String {
    String::from_utf8_lossy(&outcome.stderr).into_owned()
}
