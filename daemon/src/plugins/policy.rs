//! The host's rules for what a runner may declare and plan.
//!
//! A runner is trusted code, but its declarations decide what untrusted code
//! sees and gets. So the host checks them, and refuses (with the reason) a
//! toolchain or plan that would widen the sandbox by mistake:
//! - read-only paths are absolute, normalized, existing, and not a secret or
//!   state directory (`/root`, `/home`, `/var`, `/run`, `/etc/shadow`, the
//!   data dir…);
//! - overlays are only the prepared caches the host handed out;
//! - step limits never exceed the request's plus the runner's declared
//!   [`Allowances`] (memory and pids), and the cgroup view needs the allowance;
//! - support files and declared compile outputs stay inside the box, and
//!   support files never replace a user's or test's file.
//!
//! **Architecture Invariant:** a plan that fails these checks never runs.

use acejudge_runner_api::{Allowances, Plan, PlanRequest, ReportSource, Step, StepLimits, Toolchain};
use std::path::{Component, Path, PathBuf};

/// Host paths never mounted into a run, whatever a runner declares.
pub const FORBIDDEN_TREES: &[&str] = &[
    "/root",
    "/home",
    "/var",
    "/run",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/tmp",
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/ssh",
    "/etc/ssl/private",
    "/etc/acejudge",
];

/// The most outputs one step may declare ([`Step::outputs`]).
pub const MAX_OUTPUTS: usize = 16;

/// The host's bounds on runners.
#[derive(Clone, Debug)]
pub struct HostPolicy {
    /// No step (warm-ups included) may ask for more than this.
    pub max_step: StepLimits,
    /// Extra trees never mounted (the data dir, the runners' configuration).
    pub forbidden: Vec<PathBuf>,
    /// The largest support file a plan may place.
    pub max_file_bytes: usize,
}

impl Default for HostPolicy {
    /// Ten minutes, 8 GiB, 4096 processes, 64 MiB of output per step; 1 MiB per support file.
    fn default() -> Self {
        HostPolicy {
            max_step: StepLimits {
                wall_ms: 600_000,
                cpu_ms: 1_200_000,
                memory_bytes: 8 << 30,
                pids: 4096,
                output_bytes: 64 << 20,
            },
            forbidden: Vec::new(),
            max_file_bytes: 1 << 20,
        }
    }
}

impl HostPolicy {
    /// Checks a toolchain's declarations (its read-only paths and caches).
    pub fn check_toolchain(&self, toolchain: &Toolchain) -> Result<(), String> {
        for path in &toolchain.readonly_paths {
            self.check_readonly(path)?;
        }
        let mut names = Vec::new();
        for cache in &toolchain.caches {
            if !is_name(&cache.name) {
                return Err(format!("cache name {:?} must be [a-z0-9-]+", cache.name));
            }
            if names.contains(&&cache.name) {
                return Err(format!("cache `{}` is declared twice", cache.name));
            }
            names.push(&cache.name);
            if cache.key.is_empty() || cache.key.len() > 200 {
                return Err(format!("cache `{}` needs a key of 1 to 200 characters", cache.name));
            }
            check_relative(&cache.warmup.output_dir).map_err(|e| format!("cache `{}` output dir: {e}", cache.name))?;
            for file in &cache.warmup.files {
                check_relative(&file.path).map_err(|e| format!("cache `{}` file: {e}", cache.name))?;
            }
            if cache.warmup.steps.is_empty() {
                return Err(format!("cache `{}` has no warm-up step", cache.name));
            }
            for step in &cache.warmup.steps {
                self.check_step(step, &self.max_step, &Allowances::default(), &[], toolchain)
                    .map_err(|e| format!("cache `{}` warm-up: {e}", cache.name))?;
            }
        }
        Ok(())
    }

    /// Checks a plan against the request it answers and the runner's toolchain.
    pub fn check_plan(&self, plan: &Plan, request: &PlanRequest, toolchain: &Toolchain) -> Result<(), String> {
        let mut placed: Vec<&str> = request.files.iter().map(String::as_str).collect();
        for file in &plan.files {
            check_relative(&file.path).map_err(|e| format!("support file: {e}"))?;
            if placed.contains(&file.path.as_str()) {
                return Err(format!("support file {} would replace a file of the submission or its tests", file.path));
            }
            if file.contents.len() > self.max_file_bytes {
                return Err(format!("support file {} is larger than {} bytes", file.path, self.max_file_bytes));
            }
            placed.push(&file.path);
        }
        if let ReportSource::File { path } = &plan.report {
            check_relative(path).map_err(|e| format!("report file: {e}"))?;
        }
        let caches: Vec<&str> = request.caches.values().map(String::as_str).collect();
        if let Some(compile) = &plan.compile {
            let bound = within(&request.limits.compile, &self.max_step);
            self.check_step(compile, &bound, &toolchain.allowances, &caches, toolchain)
                .map_err(|e| format!("compile step: {e}"))?;
        }
        let bound = within(&request.limits.run, &self.max_step);
        self.check_step(&plan.run, &bound, &toolchain.allowances, &caches, toolchain)
            .map_err(|e| format!("run step: {e}"))
    }

    fn check_step(
        &self,
        step: &Step,
        bound: &StepLimits,
        allowances: &Allowances,
        caches: &[&str],
        toolchain: &Toolchain,
    ) -> Result<(), String> {
        let program = step.argv.first().filter(|p| !p.is_empty()).ok_or("the command is empty")?;
        if !program.starts_with('/') {
            return Err(format!("the program {program:?} must be an absolute path"));
        }
        if step.argv.iter().any(|a| a.contains('\0')) {
            return Err("an argument contains NUL".into());
        }
        for (key, value) in &step.env {
            if key.is_empty() || key.contains('=') || key.contains('\0') || value.contains('\0') {
                return Err(format!("environment variable {key:?} is malformed"));
            }
        }
        for path in &step.readonly_paths {
            self.check_readonly(path)?;
        }
        for overlay in &step.writable_overlays {
            if !caches.contains(&overlay.as_str()) {
                return Err(format!("overlay {overlay} is not a cache the host prepared"));
            }
        }
        if step.cgroup_view && !toolchain.allowances.cgroup_view {
            return Err("asks for a cgroup view the toolchain did not declare".into());
        }
        if step.outputs.len() > MAX_OUTPUTS {
            return Err(format!("declares {} outputs, more than {MAX_OUTPUTS}", step.outputs.len()));
        }
        for output in &step.outputs {
            check_relative(output).map_err(|e| format!("output: {e}"))?;
        }
        let l = &step.limits;
        if l.wall_ms == 0 || l.cpu_ms == 0 || l.memory_bytes < (4 << 20) || l.pids == 0 || l.output_bytes == 0 {
            return Err(format!("limits must be positive (memory at least 4 MiB): {l:?}"));
        }
        let memory = bound.memory_bytes.saturating_add(allowances.extra_memory_bytes).min(self.max_step.memory_bytes);
        let pids = bound.pids.saturating_add(allowances.extra_pids).min(self.max_step.pids);
        let over = [
            ("wall_ms", l.wall_ms, bound.wall_ms),
            ("cpu_ms", l.cpu_ms, bound.cpu_ms),
            ("memory_bytes", l.memory_bytes, memory),
            ("pids", l.pids, pids),
            ("output_bytes", l.output_bytes, bound.output_bytes),
        ];
        for (name, asked, allowed) in over {
            if asked > allowed {
                return Err(format!("{name} {asked} exceeds the {allowed} allowed (request plus declared allowances)"));
            }
        }
        Ok(())
    }

    /// A read-only path a runner wants mounted.
    pub fn check_readonly(&self, path: &str) -> Result<(), String> {
        let p = Path::new(path);
        if !p.is_absolute() || p.components().any(|c| matches!(c, Component::ParentDir | Component::CurDir)) {
            return Err(format!("read-only path {path:?} must be absolute and normalized"));
        }
        if p.parent().is_none() || p == Path::new("/etc") || p == Path::new("/usr") {
            return Err(format!("read-only path {path} is too broad"));
        }
        let forbidden = FORBIDDEN_TREES.iter().map(PathBuf::from).chain(self.forbidden.iter().cloned());
        for tree in forbidden {
            if p.starts_with(&tree) || tree.starts_with(p) {
                return Err(format!("read-only path {path} would expose {}", tree.display()));
            }
        }
        if !p.exists() {
            return Err(format!("read-only path {path} does not exist on this host"));
        }
        Ok(())
    }
}

fn within(request: &StepLimits, max: &StepLimits) -> StepLimits {
    StepLimits {
        wall_ms: request.wall_ms.min(max.wall_ms),
        cpu_ms: request.cpu_ms.min(max.cpu_ms),
        memory_bytes: request.memory_bytes.min(max.memory_bytes),
        pids: request.pids.min(max.pids),
        output_bytes: request.output_bytes.min(max.output_bytes),
    }
}

/// A relative path made of plain names only (no `..`, no `/` at the start).
pub fn check_relative(path: &str) -> Result<(), String> {
    let p = Path::new(path);
    let plain = !path.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    if plain && !path.contains('\0') {
        Ok(())
    } else {
        Err(format!("{path:?} must be a relative path without `..`"))
    }
}

/// `[a-z0-9-]+`, 1 to 64 characters: runner ids and cache names.
pub fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use acejudge_runner_api::{Mode, PlanFile, RequestLimits, StdinSource};
    use std::collections::BTreeMap;

    const LIMITS: StepLimits =
        StepLimits { wall_ms: 3000, cpu_ms: 6000, memory_bytes: 256 << 20, pids: 64, output_bytes: 1 << 20 };

    fn toolchain(extra_memory: u64) -> Toolchain {
        Toolchain {
            version: "1".into(),
            programs: BTreeMap::new(),
            readonly_paths: vec![],
            allowances: Allowances { extra_memory_bytes: extra_memory, ..Allowances::default() },
            caches: vec![],
        }
    }

    fn request() -> PlanRequest {
        PlanRequest {
            mode: Mode::Tests,
            entry: "main.py".into(),
            files: vec!["main.py".into(), "test_main.py".into()],
            limits: RequestLimits { compile: LIMITS, run: LIMITS },
            caches: BTreeMap::from([("c".to_string(), "/data/caches/c".to_string())]),
        }
    }

    fn plan(limits: StepLimits) -> Plan {
        Plan {
            files: vec![],
            compile: None,
            run: Step {
                argv: vec!["/usr/bin/python3".into()],
                env: BTreeMap::new(),
                limits,
                readonly_paths: vec![],
                writable_overlays: vec![],
                cgroup_view: false,
                stdin: StdinSource::Empty,
                outputs: vec![],
                warm_argv: None,
            },
            report: ReportSource::Stdout,
        }
    }

    #[test]
    fn limits_may_grow_only_by_the_declared_allowances() {
        let policy = HostPolicy::default();
        let more = StepLimits { memory_bytes: LIMITS.memory_bytes + (256 << 20), ..LIMITS };
        assert!(policy.check_plan(&plan(more), &request(), &toolchain(256 << 20)).is_ok());
        let err = policy.check_plan(&plan(more), &request(), &toolchain(0)).unwrap_err();
        assert!(err.contains("memory_bytes"), "{err}");
        let slower = StepLimits { wall_ms: 5000, ..LIMITS };
        assert!(policy.check_plan(&plan(slower), &request(), &toolchain(0)).unwrap_err().contains("wall_ms"));
    }

    #[test]
    fn secrets_and_state_are_never_read_only_paths() {
        let policy = HostPolicy { forbidden: vec![PathBuf::from("/srv/acejudge-data")], ..HostPolicy::default() };
        for path in [
            "/",
            "/etc",
            "/etc/shadow",
            "/root",
            "/var/lib",
            "/home/x",
            "relative",
            "/usr/../root",
            "/srv/acejudge-data/db",
        ] {
            assert!(policy.check_readonly(path).is_err(), "{path} must be refused");
        }
        assert!(policy.check_readonly("/srv").is_err(), "a parent of a forbidden tree exposes it");
        assert!(policy.check_readonly("/usr/share").is_ok());
        assert!(policy.check_readonly("/usr/nonexistent-dir").unwrap_err().contains("does not exist"));
    }

    #[test]
    fn support_files_stay_in_the_box_and_never_replace_a_submitted_file() {
        let policy = HostPolicy::default();
        let mut p = plan(LIMITS);
        p.files.push(PlanFile { path: "test_main.py".into(), contents: String::new(), executable: false });
        assert!(policy.check_plan(&p, &request(), &toolchain(0)).unwrap_err().contains("replace"));
        p.files[0].path = "../escape.py".into();
        assert!(policy.check_plan(&p, &request(), &toolchain(0)).is_err());
        p.files[0].path = "support/driver.py".into();
        assert!(policy.check_plan(&p, &request(), &toolchain(0)).is_ok());
    }

    #[test]
    fn declared_outputs_stay_in_the_box() {
        let policy = HostPolicy::default();
        let mut p = plan(LIMITS);
        p.compile = Some(Step { outputs: vec!["out".into(), ".acejudge-bin".into()], ..p.run.clone() });
        assert!(policy.check_plan(&p, &request(), &toolchain(0)).is_ok());
        for bad in ["../escape", "/etc/shadow", "", "a/../../b"] {
            p.compile = Some(Step { outputs: vec![bad.into()], ..p.run.clone() });
            let err = policy.check_plan(&p, &request(), &toolchain(0)).unwrap_err();
            assert!(err.contains("output"), "{bad:?}: {err}");
        }
        p.compile = Some(Step { outputs: (0..=MAX_OUTPUTS).map(|i| format!("o{i}")).collect(), ..p.run.clone() });
        assert!(policy.check_plan(&p, &request(), &toolchain(0)).unwrap_err().contains("outputs"));
    }

    #[test]
    fn overlays_must_be_prepared_caches_and_programs_absolute() {
        let policy = HostPolicy::default();
        let mut p = plan(LIMITS);
        p.run.writable_overlays.push("/etc".into());
        assert!(policy.check_plan(&p, &request(), &toolchain(0)).unwrap_err().contains("overlay"));
        p.run.writable_overlays = vec!["/data/caches/c".into()];
        assert!(policy.check_plan(&p, &request(), &toolchain(0)).is_ok());
        p.run.argv[0] = "python3".into();
        assert!(policy.check_plan(&p, &request(), &toolchain(0)).unwrap_err().contains("absolute"));
        p.run.argv[0] = "/usr/bin/python3".into();
        p.run.cgroup_view = true;
        assert!(policy.check_plan(&p, &request(), &toolchain(0)).unwrap_err().contains("cgroup"));
    }
}
