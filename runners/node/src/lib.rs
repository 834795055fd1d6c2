//! The Node.js runner: CommonJS programs and `node:test` suites.
//!
//! - Toolchain: `/usr/bin/node` by default (config key `node`), version ≥ 18.
//! - Program: `node --max-old-space-size=… <entry>` with the user's stdin;
//!   its warm start ([`WARM_START`]) loads Node first and then runs the entry
//!   as its main module (`require('node:module').runMain()`), with the same
//!   `process.argv`, `execArgv`, output and exit status; only a stack trace's
//!   last frames (below the program's own) name the bootstrap.
//! - Tests: `node --test --test-reporter=tap <each *.test.js>`. This is
//!   `challenges/FORMAT.md`'s command with the TAP reporter in place of JUnit:
//!   Node's JUnit reporter writes its XML only when the whole run ends, while
//!   TAP is written as each test finishes, so a run killed mid-suite keeps its
//!   results (see [`tap`]).
//! - Memory: V8 reserves far more address space than it uses (memory is
//!   limited by cgroup only) and its heap is capped below the cgroup limit
//!   (`--max-old-space-size`, via `NODE_OPTIONS` so test-file child processes
//!   get it too), so running out of heap is a diagnosed memory limit rather
//!   than an OOM kill.

mod diagnose;
pub mod tap;

/// The warm start of programs ([`Step::warm_argv`]): run with `-e`, it waits
/// for the entry's name and then runs it as `node [flags] ENTRY` would.
pub const WARM_START: &str = include_str!("warm_start.js");

use acejudge_runner_api::{
    export_runner, probe, Allowances, Diagnosis, Mode, Plan, PlanRequest, ReportSource, Runner, RunnerConfig,
    RunnerError, RunnerInfo, SelfTest, SelfTestProgram, SelfTestSuite, StdinSource, Step, StepOutput, TestReport,
    TestStatus, Toolchain,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Memory the `node --test` parent process needs besides the test files' own.
const TEST_RUNNER_MEMORY: u64 = 64 << 20;
/// libuv's pool, V8's platform threads, and one child process per test file.
const EXTRA_PIDS: u64 = 32;

#[derive(Default)]
pub struct NodeRunner;

impl Runner for NodeRunner {
    fn info(&self) -> RunnerInfo {
        RunnerInfo {
            id: "node".into(),
            name: "Node.js".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            extensions: vec!["js".into(), "cjs".into()],
            tests: "node:test: *.test.js next to the entry file, run with `node --test`".into(),
        }
    }

    fn toolchain(&self, config: &RunnerConfig) -> Result<Toolchain, RunnerError> {
        probe::config_known_keys(config, &["node"])?;
        let defaults = [PathBuf::from("/usr/bin/node"), PathBuf::from("/usr/local/bin/node")];
        let node = probe::locate(probe::config_string(config, "node")?, &defaults, "node")?;
        let version = probe::first_line(&probe::command_output(&node, &["--version"])?);
        let major: u32 = version.trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
        if major < 18 {
            return Err(RunnerError::ToolchainMissing(format!(
                "{} is {version:?}: node:test with the TAP reporter needs Node 18 or newer",
                node.display()
            )));
        }
        let resolved = probe::resolve(&node)?;
        let system = ["/usr/", "/bin/", "/lib/", "/lib64/", "/sbin/"];
        let readonly_paths = if system.iter().any(|s| resolved.starts_with(s)) {
            vec![]
        } else {
            resolved.parent().and_then(Path::parent).map(|p| vec![p.display().to_string()]).unwrap_or_default()
        };
        Ok(Toolchain {
            version: format!("Node.js {version}"),
            programs: BTreeMap::from([("node".into(), node.display().to_string())]),
            readonly_paths,
            allowances: Allowances {
                extra_memory_bytes: TEST_RUNNER_MEMORY,
                extra_pids: EXTRA_PIDS,
                unlimited_address_space: true,
                cgroup_view: false,
            },
            caches: vec![],
        })
    }

    fn plan(&self, toolchain: &Toolchain, request: &PlanRequest) -> Result<Plan, RunnerError> {
        let node = toolchain
            .programs
            .get("node")
            .ok_or_else(|| RunnerError::InvalidRequest("the toolchain has no `node` program".into()))?
            .clone();
        if !(request.entry.ends_with(".js") || request.entry.ends_with(".cjs")) {
            return Err(RunnerError::InvalidRequest(format!("the entry file {} must end in .js", request.entry)));
        }
        let mut limits = request.limits.run;
        limits.pids += EXTRA_PIDS;
        let mut env = BTreeMap::from([
            ("PATH".to_string(), "/usr/bin:/bin".to_string()),
            ("HOME".to_string(), "/tmp".to_string()),
            ("LANG".to_string(), "C.UTF-8".to_string()),
            ("TMPDIR".to_string(), "/tmp".to_string()),
            ("NODE_DISABLE_COLORS".to_string(), "1".to_string()),
        ]);
        let (argv, stdin, warm_argv) = match request.mode {
            Mode::Program => {
                let heap = format!("--max-old-space-size={}", ((limits.memory_bytes >> 20) * 6 / 10).max(16));
                (
                    vec![node.clone(), heap.clone(), request.entry.clone()],
                    StdinSource::Request,
                    Some(vec![node, heap, "-e".into(), WARM_START.into()]),
                )
            }
            Mode::Tests => {
                let mut files: Vec<String> =
                    request.files.iter().filter(|f| f.ends_with(".test.js")).cloned().collect();
                if files.is_empty() {
                    return Err(RunnerError::InvalidRequest("no *.test.js file to run".into()));
                }
                files.sort();
                // Each test file runs in its own process, one at a time on small hosts.
                let heap_mib = (limits.memory_bytes >> 20) * 4 / 10;
                env.insert("NODE_OPTIONS".into(), format!("--max-old-space-size={}", heap_mib.max(16)));
                limits.memory_bytes += TEST_RUNNER_MEMORY;
                let mut argv = vec![node, "--test".into(), "--test-reporter=tap".into()];
                argv.extend(files);
                (argv, StdinSource::Empty, None)
            }
        };
        let run = Step {
            argv,
            env,
            limits,
            readonly_paths: vec![],
            writable_overlays: vec![],
            cgroup_view: false,
            stdin,
            outputs: vec![],
            warm_argv,
        };
        Ok(Plan { files: vec![], compile: None, run, report: ReportSource::Stdout })
    }

    fn parse_report(&self, output: &StepOutput) -> Result<TestReport, RunnerError> {
        Ok(tap::parse(&output.stdout))
    }

    fn diagnose(&self, output: &StepOutput) -> Option<Diagnosis> {
        diagnose::diagnose(output)
    }

    fn self_test(&self) -> SelfTest {
        let program = |source: &str| SelfTestProgram {
            entry: "main.js".into(),
            source: source.into(),
            stdin: "world\n".into(),
            expected_stdout: "hello world\n".into(),
        };
        SelfTest {
            program: program(
                "const name = require('node:fs').readFileSync(0, 'utf8').trim();\nconsole.log(`hello ${name}`);\n",
            ),
            compile_error: program("console.log(\n"),
            tests: Some(SelfTestSuite {
                entry: "calc.js".into(),
                files: BTreeMap::from([
                    ("calc.js".into(), "exports.add = (a, b) => a + b;\n".into()),
                    (
                        "calc.test.js".into(),
                        concat!(
                            "const test = require('node:test');\n",
                            "const assert = require('node:assert/strict');\n",
                            "const { add } = require('./calc');\n",
                            "test('adds', () => { assert.equal(add(1, 1), 2); });\n",
                            "test('fails', () => { assert.equal(add(1, 1), 3, '1 + 1'); });\n",
                            "test('errors', () => { throw new TypeError('boom'); });\n",
                            "test.skip('skipped', () => {});\n",
                        )
                        .into(),
                    ),
                ]),
                expected: BTreeMap::from([
                    ("adds".into(), TestStatus::Pass),
                    ("fails".into(), TestStatus::Fail),
                    ("errors".into(), TestStatus::Error),
                    ("skipped".into(), TestStatus::Skipped),
                ]),
            }),
        }
    }
}

export_runner!(NodeRunner);

#[cfg(test)]
mod tests {
    use super::*;
    use acejudge_runner_api::{RequestLimits, StepLimits};

    fn toolchain() -> Toolchain {
        Toolchain {
            version: "Node.js v20.20.2".into(),
            programs: BTreeMap::from([("node".into(), "/usr/bin/node".into())]),
            readonly_paths: vec![],
            allowances: Allowances::default(),
            caches: vec![],
        }
    }

    fn request(mode: Mode) -> PlanRequest {
        let limits =
            StepLimits { wall_ms: 3000, cpu_ms: 6000, memory_bytes: 256 << 20, pids: 64, output_bytes: 1 << 20 };
        PlanRequest {
            mode,
            entry: "rateLimiter.js".into(),
            files: vec!["rateLimiter.js".into(), "z.test.js".into(), "a.test.js".into(), "helper.js".into()],
            limits: RequestLimits { compile: limits, run: limits },
            caches: BTreeMap::new(),
        }
    }

    #[test]
    fn tests_run_every_test_file_with_the_streaming_tap_reporter() {
        let plan = NodeRunner.plan(&toolchain(), &request(Mode::Tests)).unwrap();
        assert_eq!(
            plan.run.argv,
            ["/usr/bin/node", "--test", "--test-reporter=tap", "a.test.js", "z.test.js"].map(String::from)
        );
        assert_eq!(plan.run.env["NODE_OPTIONS"], "--max-old-space-size=102");
        assert_eq!(plan.run.limits.memory_bytes, (256 << 20) + TEST_RUNNER_MEMORY);
        assert_eq!(plan.run.limits.pids, 64 + EXTRA_PIDS);
    }

    #[test]
    fn programs_cap_the_heap_below_the_memory_limit() {
        let plan = NodeRunner.plan(&toolchain(), &request(Mode::Program)).unwrap();
        assert_eq!(plan.run.argv, ["/usr/bin/node", "--max-old-space-size=153", "rateLimiter.js"].map(String::from));
        assert_eq!(plan.run.stdin, StdinSource::Request);
    }
}
