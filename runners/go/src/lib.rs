//! The Go runner: programs and `go test` suites, built with the toolchain's
//! standard library and a shared, prepared build cache.
//!
//! - Toolchain: `/usr/bin/go`, else the newest `/usr/lib/go-*/bin/go`, else
//!   `/usr/local/go/bin/go` (config key `go`). `GOROOT` is the binary's
//!   grandparent; the version and platform come from `go version`.
//! - Program: compile `go build -o .acejudge-bin <entry>`, run the binary with
//!   the user's stdin.
//! - Compile outputs: each compile step declares the one binary it builds
//!   ([`PROGRAM_BINARY`], [`TEST_BINARY`]) in [`Step::outputs`], so the host
//!   can reuse it for byte-identical inputs instead of building again.
//! - Tests: `challenges/FORMAT.md`'s `go test -json -count=1 .` split in its
//!   two halves so that building and testing have their own limits: compile
//!   `go test -c -o .acejudge.test .` (the same build and vet checks), run the
//!   test binary under `test2json` exactly as `go test -json` does
//!   (`-test.v -test.count=1 -test.paniconexit0`). The output is `go test
//!   -json`'s, read by [`gotest`].
//! - Environment: `GOFLAGS=-mod=mod GOPROXY=off CGO_ENABLED=0`, `GOENV=off`,
//!   `HOME`/`GOPATH`/`TMPDIR` in the run's private `/tmp`.
//! - Build cache: the standard library as compiled with these settings is
//!   prepared once per toolchain version (a [`CacheSpec`] whose warm-up builds
//!   and vets a small program using the usual packages) and mounted
//!   copy-on-write as `GOCACHE`, so each run compiles only the user's package
//!   and writes only to its own layer. Without it, runs use a cold `/tmp` cache.
//! - Allowances: Go reserves much virtual memory (memory by cgroup only) and
//!   runs several threads, and `go build` several processes: extra pids.

mod diagnose;
pub mod gotest;

use acejudge_runner_api::{
    export_runner, probe, Allowances, CacheSpec, Diagnosis, Mode, Plan, PlanFile, PlanRequest, ReportSource, Runner,
    RunnerConfig, RunnerError, RunnerInfo, SelfTest, SelfTestProgram, SelfTestSuite, StdinSource, Step, StepLimits,
    StepOutput, TestReport, TestStatus, Toolchain, Warmup,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Threads of the Go runtime and processes of `go build` (compile, vet, link).
const EXTRA_PIDS: u64 = 64;
/// The name of the build cache in [`PlanRequest::caches`].
pub const GOCACHE: &str = "gocache";
/// Bumped when the warm-up or the build settings change, so old caches are not reused.
const CACHE_REVISION: u32 = 1;
/// What a program's compile step builds (its declared output), in the box.
pub const PROGRAM_BINARY: &str = ".acejudge-bin";
/// What a test run's compile step builds (its declared output), in the box.
pub const TEST_BINARY: &str = ".acejudge.test";

#[derive(Default)]
pub struct GoRunner;

impl Runner for GoRunner {
    fn info(&self) -> RunnerInfo {
        RunnerInfo {
            id: "go".into(),
            name: "Go".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            extensions: vec!["go".into()],
            tests: "go test: go.mod and *_test.go in the entry file's package".into(),
        }
    }

    fn toolchain(&self, config: &RunnerConfig) -> Result<Toolchain, RunnerError> {
        probe::config_known_keys(config, &["go"])?;
        let go = probe::locate(probe::config_string(config, "go")?, &default_go_paths(), "go")?;
        let resolved = probe::resolve(&go)?;
        let goroot = resolved
            .parent()
            .and_then(Path::parent)
            .ok_or_else(|| RunnerError::ToolchainMissing(format!("{} is not inside a GOROOT", resolved.display())))?;
        // "go version go1.19.8 linux/amd64"
        let said = probe::first_line(&probe::command_output(&resolved, &["version"])?);
        let mut words = said.split_whitespace().skip(2);
        let (Some(version), Some(platform)) = (words.next(), words.next()) else {
            return Err(RunnerError::ToolchainMissing(format!("cannot read `go version`: {said:?}")));
        };
        let platform = platform.replace('/', "_");
        let test2json = goroot.join("pkg/tool").join(&platform).join("test2json");
        if !test2json.exists() {
            return Err(RunnerError::ToolchainMissing(format!("{} is missing", test2json.display())));
        }
        let system = ["/usr/", "/bin/", "/lib/", "/lib64/", "/sbin/"];
        let readonly_paths =
            if system.iter().any(|s| goroot.starts_with(s)) { vec![] } else { vec![goroot.display().to_string()] };
        let mut toolchain = Toolchain {
            version: version.to_string(),
            programs: BTreeMap::from([
                ("go".into(), resolved.display().to_string()),
                ("goroot".into(), goroot.display().to_string()),
                ("test2json".into(), test2json.display().to_string()),
            ]),
            readonly_paths,
            allowances: Allowances {
                extra_memory_bytes: 0,
                extra_pids: EXTRA_PIDS,
                unlimited_address_space: true,
                cgroup_view: false,
            },
            caches: vec![],
        };
        toolchain.caches.push(CacheSpec {
            name: GOCACHE.into(),
            key: format!("{version}-{platform}-r{CACHE_REVISION}"),
            warmup: warmup(&toolchain)?,
        });
        Ok(toolchain)
    }

    fn plan(&self, toolchain: &Toolchain, request: &PlanRequest) -> Result<Plan, RunnerError> {
        if !request.entry.ends_with(".go") || request.entry.ends_with("_test.go") {
            return Err(RunnerError::InvalidRequest(format!("the entry file {} must be a .go file", request.entry)));
        }
        let go = program(toolchain, "go")?;
        let cache = request.caches.get(GOCACHE);
        let env = environment(toolchain, cache.map_or("/tmp/gocache", String::as_str))?;
        let step = |argv: Vec<String>, limits: StepLimits, stdin: StdinSource, outputs: &[&str]| Step {
            argv,
            env: env.clone(),
            limits: StepLimits { pids: limits.pids + EXTRA_PIDS, ..limits },
            readonly_paths: vec![],
            writable_overlays: cache.into_iter().cloned().collect(),
            cgroup_view: false,
            stdin,
            outputs: outputs.iter().map(|o| o.to_string()).collect(),
            warm_argv: None,
        };
        let compile_limits = request.limits.compile;
        Ok(match request.mode {
            Mode::Program => Plan {
                files: vec![],
                compile: Some(step(
                    vec![go, "build".into(), "-o".into(), PROGRAM_BINARY.into(), request.entry.clone()],
                    compile_limits,
                    StdinSource::Empty,
                    &[PROGRAM_BINARY],
                )),
                run: step(vec![format!("/box/{PROGRAM_BINARY}")], request.limits.run, StdinSource::Request, &[]),
                report: ReportSource::Stdout,
            },
            Mode::Tests => Plan {
                files: vec![],
                compile: Some(step(
                    vec![go, "test".into(), "-c".into(), "-o".into(), TEST_BINARY.into(), ".".into()],
                    compile_limits,
                    StdinSource::Empty,
                    &[TEST_BINARY],
                )),
                run: step(
                    vec![
                        program(toolchain, "test2json")?,
                        "-t".into(),
                        format!("/box/{TEST_BINARY}"),
                        "-test.v".into(),
                        "-test.count=1".into(),
                        "-test.paniconexit0".into(),
                    ],
                    request.limits.run,
                    StdinSource::Empty,
                    &[],
                ),
                report: ReportSource::Stdout,
            },
        })
    }

    fn parse_report(&self, output: &StepOutput) -> Result<TestReport, RunnerError> {
        Ok(gotest::parse(&output.stdout))
    }

    fn diagnose(&self, output: &StepOutput) -> Option<Diagnosis> {
        diagnose::diagnose(output)
    }

    fn self_test(&self) -> SelfTest {
        let program = |source: &str| SelfTestProgram {
            entry: "main.go".into(),
            source: source.into(),
            stdin: "world\n".into(),
            expected_stdout: "hello world\n".into(),
        };
        SelfTest {
            program: program(concat!(
                "package main\n\nimport (\n\t\"bufio\"\n\t\"fmt\"\n\t\"os\"\n)\n\n",
                "func main() {\n\tname, _ := bufio.NewReader(os.Stdin).ReadString('\\n')\n",
                "\tfmt.Printf(\"hello %s\", name)\n}\n",
            )),
            compile_error: program("package main\n\nfunc main() {\n\tundefinedName()\n}\n"),
            tests: Some(SelfTestSuite {
                entry: "calc.go".into(),
                files: BTreeMap::from([
                    ("go.mod".into(), "module calc\n\ngo 1.19\n".into()),
                    ("calc.go".into(), "package calc\n\nfunc Add(a, b int) int { return a + b }\n".into()),
                    (
                        "calc_test.go".into(),
                        concat!(
                            "package calc\n\nimport \"testing\"\n\n",
                            "func TestAdds(t *testing.T) { if Add(1, 1) != 2 { t.Fatal(\"1 + 1\") } }\n",
                            "func TestFails(t *testing.T) { t.Errorf(\"expected 3, got %d\", Add(1, 1)) }\n",
                            "func TestSkipped(t *testing.T) { t.Skip(\"later\") }\n",
                            "func TestErrors(t *testing.T) { var m map[string]int; m[\"a\"] = 1 }\n",
                        )
                        .into(),
                    ),
                ]),
                expected: BTreeMap::from([
                    ("TestAdds".into(), TestStatus::Pass),
                    ("TestFails".into(), TestStatus::Fail),
                    ("TestSkipped".into(), TestStatus::Skipped),
                    ("TestErrors".into(), TestStatus::Error),
                ]),
            }),
        }
    }
}

fn default_go_paths() -> Vec<PathBuf> {
    let mut versioned: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version = name.strip_prefix("go-")?.split('.').map(|n| n.parse().ok()).collect::<Option<Vec<u32>>>()?;
            Some((version, entry.path().join("bin/go")))
        })
        .collect();
    versioned.sort();
    let mut paths = vec![PathBuf::from("/usr/bin/go")];
    paths.extend(versioned.into_iter().rev().map(|(_, p)| p));
    paths.push(PathBuf::from("/usr/local/go/bin/go"));
    paths
}

fn program(toolchain: &Toolchain, name: &str) -> Result<String, RunnerError> {
    toolchain
        .programs
        .get(name)
        .cloned()
        .ok_or_else(|| RunnerError::InvalidRequest(format!("the toolchain has no `{name}` program")))
}

/// `challenges/FORMAT.md`'s settings, with everything else kept in the run's `/tmp`.
fn environment(toolchain: &Toolchain, gocache: &str) -> Result<BTreeMap<String, String>, RunnerError> {
    let goroot = program(toolchain, "goroot")?;
    Ok([
        ("PATH", format!("{goroot}/bin:/usr/bin:/bin")),
        ("GOROOT", goroot),
        ("GOCACHE", gocache.to_string()),
        ("GOPATH", "/tmp/go".into()),
        ("HOME", "/tmp".into()),
        ("TMPDIR", "/tmp".into()),
        ("LANG", "C.UTF-8".into()),
        ("GOENV", "off".into()),
        ("GOFLAGS", "-mod=mod".into()),
        ("GOPROXY", "off".into()),
        ("GOSUMDB", "off".into()),
        ("GOTOOLCHAIN", "local".into()),
        ("GOTELEMETRY", "off".into()),
        ("CGO_ENABLED", "0".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect())
}

/// Builds and vets a program and a test binary that use the packages
/// challenges usually need, so their compiled form lands in the cache.
fn warmup(toolchain: &Toolchain) -> Result<Warmup, RunnerError> {
    let go = program(toolchain, "go")?;
    let env = environment(toolchain, "/box/.gocache")?;
    let limits =
        StepLimits { wall_ms: 120_000, cpu_ms: 240_000, memory_bytes: 1 << 30, pids: 256, output_bytes: 1 << 20 };
    let step = |args: &[&str]| Step {
        argv: std::iter::once(go.clone()).chain(args.iter().map(|a| a.to_string())).collect(),
        env: env.clone(),
        limits,
        readonly_paths: vec![],
        writable_overlays: vec![],
        cgroup_view: false,
        stdin: StdinSource::Empty,
        outputs: vec![],
        warm_argv: None,
    };
    let file =
        |path: &str, contents: &str| PlanFile { path: path.into(), contents: contents.into(), executable: false };
    Ok(Warmup {
        files: vec![
            file("go.mod", "module warmup\n\ngo 1.19\n"),
            file("main.go", include_str!("warmup/main.go.txt")),
            file("main_test.go", include_str!("warmup/main_test.go.txt")),
        ],
        steps: vec![step(&["build", "-o", "/tmp/warmup", "."]), step(&["test", "-c", "-o", "/tmp/warmup.test", "."])],
        output_dir: ".gocache".into(),
    })
}

export_runner!(GoRunner);

#[cfg(test)]
mod tests {
    use super::*;
    use acejudge_runner_api::RequestLimits;

    fn toolchain() -> Toolchain {
        Toolchain {
            version: "go1.19.8".into(),
            programs: BTreeMap::from([
                ("go".into(), "/usr/lib/go-1.19/bin/go".into()),
                ("goroot".into(), "/usr/lib/go-1.19".into()),
                ("test2json".into(), "/usr/lib/go-1.19/pkg/tool/linux_amd64/test2json".into()),
            ]),
            readonly_paths: vec![],
            allowances: Allowances::default(),
            caches: vec![],
        }
    }

    fn request(mode: Mode, cache: Option<&str>) -> PlanRequest {
        let limits =
            StepLimits { wall_ms: 3000, cpu_ms: 6000, memory_bytes: 256 << 20, pids: 64, output_bytes: 1 << 20 };
        PlanRequest {
            mode,
            entry: "ratelimiter.go".into(),
            files: vec!["ratelimiter.go".into(), "go.mod".into(), "ratelimiter_test.go".into()],
            limits: RequestLimits { compile: limits, run: limits },
            caches: cache.map(|c| BTreeMap::from([(GOCACHE.to_string(), c.to_string())])).unwrap_or_default(),
        }
    }

    #[test]
    fn tests_build_then_run_the_test_binary_as_go_test_json_does() {
        let plan = GoRunner.plan(&toolchain(), &request(Mode::Tests, Some("/data/caches/go/gocache-x"))).unwrap();
        let compile = plan.compile.unwrap();
        assert_eq!(
            compile.argv,
            ["/usr/lib/go-1.19/bin/go", "test", "-c", "-o", ".acejudge.test", "."].map(String::from)
        );
        assert_eq!(compile.env["GOFLAGS"], "-mod=mod");
        assert_eq!(compile.env["GOPROXY"], "off");
        assert_eq!(compile.env["CGO_ENABLED"], "0");
        assert_eq!(compile.env["GOCACHE"], "/data/caches/go/gocache-x");
        assert_eq!(compile.writable_overlays, ["/data/caches/go/gocache-x"]);
        assert_eq!(
            plan.run.argv,
            [
                "/usr/lib/go-1.19/pkg/tool/linux_amd64/test2json",
                "-t",
                "/box/.acejudge.test",
                "-test.v",
                "-test.count=1",
                "-test.paniconexit0"
            ]
            .map(String::from)
        );
        assert_eq!(plan.run.limits.pids, 64 + EXTRA_PIDS);
    }

    #[test]
    fn each_compile_step_declares_the_binary_its_run_step_executes() {
        for (mode, binary) in [(Mode::Program, PROGRAM_BINARY), (Mode::Tests, TEST_BINARY)] {
            let plan = GoRunner.plan(&toolchain(), &request(mode, Some("/data/caches/go/gocache-x"))).unwrap();
            let compile = plan.compile.unwrap();
            assert_eq!(compile.outputs, [binary], "{mode:?}");
            let o = compile.argv.iter().position(|a| a == "-o").unwrap();
            assert_eq!(compile.argv[o + 1], binary, "{mode:?}: the declared output is what `-o` writes");
            assert!(plan.run.argv.contains(&format!("/box/{binary}")), "{mode:?}: {:?}", plan.run.argv);
            assert!(plan.run.outputs.is_empty(), "{mode:?}: a run step declares nothing");
        }
        let warmup = GoRunner.toolchain(&RunnerConfig::Null).ok().map(|t| t.caches[0].warmup.clone());
        for step in warmup.iter().flat_map(|w| &w.steps) {
            assert!(step.outputs.is_empty(), "warm-up steps are never cached as compile outputs");
        }
    }

    #[test]
    fn without_a_prepared_cache_runs_use_a_private_one() {
        let plan = GoRunner.plan(&toolchain(), &request(Mode::Program, None)).unwrap();
        let compile = plan.compile.unwrap();
        assert_eq!(compile.env["GOCACHE"], "/tmp/gocache");
        assert!(compile.writable_overlays.is_empty());
        assert_eq!(plan.run.argv, ["/box/.acejudge-bin"]);
        assert_eq!(plan.run.stdin, StdinSource::Request);
    }
}
