//! The Python runner: CPython 3 programs and `unittest` suites.
//!
//! - Toolchain: `/usr/bin/python3` by default (never the `python3` on `PATH`,
//!   which may be a pyenv shim); config key `python` overrides it. The
//!   interpreter runs with `-I -S`: isolated from the environment and
//!   user site-packages, lean start-up.
//! - Program: `python3 -I -S <entry>` with the user's stdin; its warm start
//!   ([`WARM_START`]) loads the interpreter first and then runs the entry the
//!   same way (same `sys.argv`, `__main__`, tracebacks and exit status).
//! - Tests: `challenges/FORMAT.md`'s `python3 -I -S -m unittest discover -s .
//!   -p 'test_*.py' -v`, through a small driver shipped in this plugin
//!   ([`DRIVER`], placed in the box as `_acejudge_unittest.py`) that does the
//!   same discovery and output and streams one JSON line per test to
//!   `.acejudge-report.jsonl` (see [`acejudge_runner_api::report`]).
//! - Diagnosis: a `SyntaxError` raised while parsing the user's code is a
//!   compile error; an uncaught exception is a runtime error; `MemoryError`
//!   is a memory limit.

mod diagnose;

use acejudge_runner_api::{
    export_runner, probe, report, Allowances, Diagnosis, Mode, Plan, PlanFile, PlanRequest, ReportSource, Runner,
    RunnerConfig, RunnerError, RunnerInfo, SelfTest, SelfTestProgram, SelfTestSuite, StdinSource, Step, StepOutput,
    TestReport, TestStatus, Toolchain,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The warm start of programs ([`Step::warm_argv`]): run with `-c`, it waits
/// for the entry's name and then runs it as `python3 -I -S ENTRY` would.
pub const WARM_START: &str = include_str!("warm_start.py");

/// The unittest driver placed in the box for test runs.
pub const DRIVER: &str = include_str!("acejudge_unittest.py");
/// Its name in the box.
pub const DRIVER_FILE: &str = "_acejudge_unittest.py";
/// Where the driver streams its JSON lines.
pub const REPORT_FILE: &str = ".acejudge-report.jsonl";

#[derive(Default)]
pub struct PythonRunner;

impl Runner for PythonRunner {
    fn info(&self) -> RunnerInfo {
        RunnerInfo {
            id: "python".into(),
            name: "Python 3".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            extensions: vec!["py".into()],
            tests: "unittest: test_*.py next to the entry file, discovered like `python3 -m unittest discover`".into(),
        }
    }

    fn toolchain(&self, config: &RunnerConfig) -> Result<Toolchain, RunnerError> {
        probe::config_known_keys(config, &["python"])?;
        let python =
            probe::locate(probe::config_string(config, "python")?, &[PathBuf::from("/usr/bin/python3")], "python3")?;
        let version = probe::first_line(&probe::command_output(&python, &["-I", "-S", "--version"])?);
        if !version.starts_with("Python 3") {
            return Err(RunnerError::ToolchainMissing(format!(
                "{} is not Python 3 (it says {version:?})",
                python.display()
            )));
        }
        Ok(Toolchain {
            version,
            programs: BTreeMap::from([("python".into(), python.display().to_string())]),
            readonly_paths: outside_system_dirs(&probe::resolve(&python)?),
            allowances: Allowances::default(),
            caches: vec![],
        })
    }

    fn plan(&self, toolchain: &Toolchain, request: &PlanRequest) -> Result<Plan, RunnerError> {
        let python = toolchain
            .programs
            .get("python")
            .ok_or_else(|| RunnerError::InvalidRequest("the toolchain has no `python` program".into()))?
            .clone();
        if !request.entry.ends_with(".py") {
            return Err(RunnerError::InvalidRequest(format!("the entry file {} must end in .py", request.entry)));
        }
        let env = BTreeMap::from([
            ("PATH".to_string(), "/usr/bin:/bin".to_string()),
            ("HOME".to_string(), "/tmp".to_string()),
            ("LANG".to_string(), "C.UTF-8".to_string()),
            ("TMPDIR".to_string(), "/tmp".to_string()),
        ]);
        let step = |argv: Vec<String>, stdin: StdinSource| Step {
            argv,
            env: env.clone(),
            limits: request.limits.run,
            readonly_paths: vec![],
            writable_overlays: vec![],
            cgroup_view: false,
            stdin,
            outputs: vec![],
            warm_argv: None,
        };
        Ok(match request.mode {
            Mode::Program => {
                let mut run =
                    step(vec![python.clone(), "-I".into(), "-S".into(), request.entry.clone()], StdinSource::Request);
                run.warm_argv = Some(vec![python, "-I".into(), "-S".into(), "-c".into(), WARM_START.into()]);
                Plan { files: vec![], compile: None, run, report: ReportSource::Stdout }
            }
            Mode::Tests => Plan {
                files: vec![PlanFile { path: DRIVER_FILE.into(), contents: DRIVER.into(), executable: false }],
                compile: None,
                run: step(
                    std::iter::once(python)
                        .chain(["-I", "-S", DRIVER_FILE, "-s", ".", "-p", "test_*.py", "-v"].map(String::from))
                        .collect(),
                    StdinSource::Empty,
                ),
                report: ReportSource::File { path: REPORT_FILE.into() },
            },
        })
    }

    fn parse_report(&self, output: &StepOutput) -> Result<TestReport, RunnerError> {
        Ok(report::parse_json_lines(output.report.as_deref().unwrap_or("")))
    }

    fn diagnose(&self, output: &StepOutput) -> Option<Diagnosis> {
        diagnose::diagnose(output)
    }

    fn self_test(&self) -> SelfTest {
        let program = |source: &str| SelfTestProgram {
            entry: "main.py".into(),
            source: source.into(),
            stdin: "world\n".into(),
            expected_stdout: "hello world\n".into(),
        };
        SelfTest {
            program: program("name = input()\nprint(f\"hello {name}\")\n"),
            compile_error: program("name = input(\nprint(name)\n"),
            tests: Some(SelfTestSuite {
                entry: "calc.py".into(),
                files: BTreeMap::from([
                    ("calc.py".into(), "def add(a, b):\n    return a + b\n".into()),
                    (
                        "test_calc.py".into(),
                        concat!(
                            "import unittest\n",
                            "from calc import add\n\n",
                            "class CalcTest(unittest.TestCase):\n",
                            "    def test_adds(self):\n        self.assertEqual(add(1, 1), 2)\n",
                            "    def test_fails(self):\n        self.assertEqual(add(1, 1), 3, \"1 + 1\")\n",
                            "    def test_errors(self):\n        raise ValueError(\"boom\")\n",
                            "    @unittest.skip(\"later\")\n    def test_skipped(self):\n        pass\n",
                        )
                        .into(),
                    ),
                ]),
                expected: BTreeMap::from([
                    ("test_calc.CalcTest.test_adds".into(), TestStatus::Pass),
                    ("test_calc.CalcTest.test_fails".into(), TestStatus::Fail),
                    ("test_calc.CalcTest.test_errors".into(), TestStatus::Error),
                    ("test_calc.CalcTest.test_skipped".into(), TestStatus::Skipped),
                ]),
            }),
        }
    }
}

/// The interpreter's prefix when it lives outside the system dirs every run sees.
fn outside_system_dirs(resolved: &Path) -> Vec<String> {
    let system = ["/usr/", "/bin/", "/lib/", "/lib64/", "/sbin/"];
    if system.iter().any(|s| resolved.starts_with(s)) {
        return vec![];
    }
    // …/bin/python3 → … (the stdlib is under …/lib).
    resolved.parent().and_then(Path::parent).map(|p| vec![p.display().to_string()]).unwrap_or_default()
}

export_runner!(PythonRunner);

#[cfg(test)]
mod tests {
    use super::*;
    use acejudge_runner_api::{RequestLimits, StepLimits};

    fn request(mode: Mode, entry: &str) -> PlanRequest {
        let limits =
            StepLimits { wall_ms: 3000, cpu_ms: 6000, memory_bytes: 256 << 20, pids: 64, output_bytes: 1 << 20 };
        PlanRequest {
            mode,
            entry: entry.into(),
            files: vec![entry.into(), "test_x.py".into()],
            limits: RequestLimits { compile: limits, run: limits },
            caches: BTreeMap::new(),
        }
    }

    fn toolchain() -> Toolchain {
        Toolchain {
            version: "Python 3.11.2".into(),
            programs: BTreeMap::from([("python".into(), "/usr/bin/python3".into())]),
            readonly_paths: vec![],
            allowances: Allowances::default(),
            caches: vec![],
        }
    }

    #[test]
    fn tests_run_the_format_md_discovery_through_the_driver() {
        let plan = PythonRunner.plan(&toolchain(), &request(Mode::Tests, "x.py")).unwrap();
        assert_eq!(
            plan.run.argv,
            ["/usr/bin/python3", "-I", "-S", DRIVER_FILE, "-s", ".", "-p", "test_*.py", "-v"].map(String::from)
        );
        assert_eq!(plan.files[0].path, DRIVER_FILE);
        assert_eq!(plan.report, ReportSource::File { path: REPORT_FILE.into() });
        assert!(plan.compile.is_none());
    }

    #[test]
    fn programs_run_isolated_with_the_users_stdin() {
        let plan = PythonRunner.plan(&toolchain(), &request(Mode::Program, "main.py")).unwrap();
        assert_eq!(plan.run.argv, ["/usr/bin/python3", "-I", "-S", "main.py"].map(String::from));
        assert_eq!(plan.run.stdin, StdinSource::Request);
        let err = PythonRunner.plan(&toolchain(), &request(Mode::Program, "main.rb")).unwrap_err();
        assert!(matches!(err, RunnerError::InvalidRequest(_)));
    }

    #[test]
    fn the_recorded_report_gives_each_status() {
        let output = fixture_output(include_str!("../fixtures/report-complete.jsonl"));
        let report = PythonRunner.parse_report(&output).unwrap();
        assert!(report.complete);
        let status: BTreeMap<&str, TestStatus> = report.tests.iter().map(|t| (t.name.as_str(), t.status)).collect();
        assert_eq!(status["test_calc.CalcTest.test_adds"], TestStatus::Pass);
        assert_eq!(status["test_calc.CalcTest.test_fails"], TestStatus::Fail);
        assert_eq!(status["test_calc.CalcTest.test_errors"], TestStatus::Error);
        assert_eq!(status["test_calc.CalcTest.test_skipped"], TestStatus::Skipped);
        assert_eq!(status["test_broken (could not be imported)"], TestStatus::Error);
        let fails = report.tests.iter().find(|t| t.name.ends_with("test_fails")).unwrap();
        assert_eq!(
            fails.message.as_deref(),
            Some("AssertionError: 2 != 3 : sum of 1 and 1\n  File \"test_calc.py\", line 5, in test_fails")
        );
    }

    #[test]
    fn a_run_killed_mid_suite_keeps_the_tests_reported_so_far() {
        let output = fixture_output(include_str!("../fixtures/report-killed.jsonl"));
        let report = PythonRunner.parse_report(&output).unwrap();
        assert!(!report.complete);
        let names: Vec<(&str, TestStatus)> = report.tests.iter().map(|t| (t.name.as_str(), t.status)).collect();
        assert_eq!(
            names,
            [
                ("test_broken (could not be imported)", TestStatus::Error),
                ("test_calc.CalcTest.test_adds", TestStatus::Pass),
                ("test_calc.CalcTest.test_errors", TestStatus::Error),
                ("test_calc.CalcTest.test_fails", TestStatus::Error),
            ]
        );
        assert_eq!(report.tests[3].message.as_deref(), Some(report::DID_NOT_FINISH));
    }

    pub(crate) fn fixture_output(report: &str) -> StepOutput {
        StepOutput {
            step: acejudge_runner_api::StepKind::Run,
            mode: Mode::Tests,
            entry: "calc.py".into(),
            status: acejudge_runner_api::StepStatus::NonzeroExit,
            exit_code: Some(1),
            signal: None,
            wall_ms: 40,
            stdout: String::new(),
            stderr: String::new(),
            stdout_truncated: false,
            stderr_truncated: false,
            report: Some(report.into()),
        }
    }
}
