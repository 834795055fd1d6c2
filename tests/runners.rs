//! The four runner plugins on the real sandbox and the real toolchains: an
//! ad-hoc program, a compile error, a crash, a test suite with every status,
//! a suite killed mid-run, and a program trying to leave its box.
//!
//! Needs root (the sandbox) and each toolchain; a missing one is reported as
//! a skip locally and fails on CI. One sandbox per test binary
//! (`acejudge_tests::harness`), one leased slot per concurrent run.

#[path = "plugins/common.rs"]
mod common;

use acejudge::plugins::api::{DiagnosisKind, Mode, TestStatus, Toolchain};
use acejudge::plugins::{self, Execution, Job};
use acejudge::sandbox::Status;
use acejudge_tests::harness;
use common::{caches, registry, runner_or_skip, warm_caches};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Files by name and source.
type Files = &'static [(&'static str, &'static str)];
/// A test's name, the status it must have, and a fragment its message must contain.
type Expected = &'static [(&'static str, TestStatus, &'static str)];

/// One language's programs for the shared scenarios.
struct Lang {
    id: &'static str,
    hello: (&'static str, &'static str),
    /// Entry, source, what the compile error must mention (file and line).
    compile_error: (&'static str, &'static str, &'static str),
    /// Entry, source, what the diagnosis must say, what stderr must show of the trace.
    crash: (&'static str, &'static str, &'static str, &'static str),
    /// Entry, files, and each test's expected status and message fragment.
    suite: (&'static str, Files, Expected),
    /// A suite whose second test never ends.
    hanging: Hanging,
    /// Entry and source printing `connect: …`, `/etc/shadow: …`, `/root: …` (`PORT` is replaced).
    escape: (&'static str, &'static str),
}

/// A suite that hangs in its second test.
struct Hanging {
    entry: &'static str,
    files: Files,
    /// The test reported before the hang.
    finished: &'static str,
    /// The hung test, when the framework names a test as it starts.
    hung: Option<&'static str>,
    wall_ms: u64,
}

const PYTHON: Lang = Lang {
    id: "python",
    hello: ("main.py", "name = input()\nprint(f\"hello {name}\")\n"),
    compile_error: ("main.py", "name = input()\nprint(name\n", "File \"main.py\", line 2"),
    crash: (
        "main.py",
        "def divide():\n    return 1 / 0\n\ndivide()\n",
        "ZeroDivisionError: division by zero",
        "line 2, in divide",
    ),
    suite: (
        "calc.py",
        &[
            ("calc.py", "def add(a, b):\n    return a + b\n"),
            (
                "test_calc.py",
                "import unittest\nfrom calc import add\n\nclass CalcTest(unittest.TestCase):\n    def test_adds(self):\n        self.assertEqual(add(1, 1), 2)\n    def test_fails(self):\n        self.assertEqual(add(1, 1), 3, \"1 + 1\")\n    def test_errors(self):\n        raise ValueError(\"boom\")\n    @unittest.skip(\"later\")\n    def test_skipped(self):\n        pass\n",
            ),
        ],
        &[
            ("test_calc.CalcTest.test_adds", TestStatus::Pass, ""),
            ("test_calc.CalcTest.test_fails", TestStatus::Fail, "AssertionError: 2 != 3 : 1 + 1"),
            ("test_calc.CalcTest.test_errors", TestStatus::Error, "ValueError: boom"),
            ("test_calc.CalcTest.test_skipped", TestStatus::Skipped, "later"),
        ],
    ),
    hanging: Hanging {
        entry: "calc.py",
        files: &[
            ("calc.py", "def add(a, b):\n    return a + b\n"),
            (
                "test_calc.py",
                "import unittest\nfrom calc import add\n\nclass CalcTest(unittest.TestCase):\n    def test_a_adds(self):\n        self.assertEqual(add(1, 1), 2)\n    def test_b_spins(self):\n        while True:\n            pass\n    def test_c_never_runs(self):\n        pass\n",
            ),
        ],
        finished: "test_calc.CalcTest.test_a_adds",
        hung: Some("test_calc.CalcTest.test_b_spins"),
        wall_ms: 4000,
    },
    escape: (
        "main.py",
        r#"import os, socket
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=2).close()
    print("connect: OK")
except OSError as e:
    print("connect: refused", e)
try:
    open("/etc/shadow", "rb").read(1)
    print("/etc/shadow: OK")
except OSError as e:
    print("/etc/shadow: refused", e)
try:
    print("/root: OK", os.listdir("/root"))
except OSError as e:
    print("/root: refused", e)
"#,
    ),
};

const NODE: Lang = Lang {
    id: "node",
    hello: (
        "main.js",
        "const name = require('node:fs').readFileSync(0, 'utf8').trim();\nconsole.log(`hello ${name}`);\n",
    ),
    compile_error: ("main.js", "const x = 1;\nconsole.log(x\n", "main.js:2"),
    crash: ("main.js", "function f() {\n  throw new Error('boom');\n}\nf();\n", "Error: boom", "at f (/box/main.js:2"),
    suite: (
        "calc.js",
        &[
            ("calc.js", "exports.add = (a, b) => a + b;\n"),
            (
                "calc.test.js",
                "const test = require('node:test');\nconst assert = require('node:assert/strict');\nconst { add } = require('./calc');\ntest('adds', () => { assert.equal(add(1, 1), 2); });\ntest('fails', () => { assert.equal(add(1, 1), 3, '1 + 1'); });\ntest('errors', () => { throw new TypeError('boom'); });\ntest.skip('skipped', () => {});\n",
            ),
        ],
        &[
            ("adds", TestStatus::Pass, ""),
            ("fails", TestStatus::Fail, "AssertionError: 1 + 1"),
            ("errors", TestStatus::Error, "TypeError: boom"),
            ("skipped", TestStatus::Skipped, ""),
        ],
    ),
    // node:test names a test only when it ends, so the hung one is not listed.
    hanging: Hanging {
        entry: "calc.js",
        files: &[
            ("calc.js", "exports.add = (a, b) => a + b;\n"),
            (
                "calc.test.js",
                "const test = require('node:test');\nconst assert = require('node:assert/strict');\nconst { add } = require('./calc');\ntest('adds', () => { assert.equal(add(1, 1), 2); });\ntest('waits forever', () => new Promise(() => setInterval(() => {}, 1000)));\ntest('never runs', () => {});\n",
            ),
        ],
        finished: "adds",
        hung: None,
        wall_ms: 4000,
    },
    escape: (
        "main.js",
        r#"const fs = require('node:fs');
const net = require('node:net');
try { fs.readFileSync('/etc/shadow'); console.log('/etc/shadow: OK'); } catch (e) { console.log('/etc/shadow: refused', e.code); }
try { console.log('/root: OK', fs.readdirSync('/root')); } catch (e) { console.log('/root: refused', e.code); }
try {
  const s = net.connect(PORT, '127.0.0.1');
  s.on('connect', () => { console.log('connect: OK'); s.destroy(); });
  s.on('error', (e) => console.log('connect: refused', e.code));
} catch (e) { console.log('connect: refused', e.code); }
"#,
    ),
};

const GO: Lang = Lang {
    id: "go",
    hello: (
        "main.go",
        "package main\n\nimport (\n\t\"bufio\"\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n\tname, _ := bufio.NewReader(os.Stdin).ReadString('\\n')\n\tfmt.Printf(\"hello %s\", name)\n}\n",
    ),
    compile_error: ("main.go", "package main\n\nfunc main() {\n\tundefinedName()\n}\n", "main.go:4:2: undefined: undefinedName"),
    crash: (
        "main.go",
        "package main\n\nfunc main() {\n\tvar m map[string]int\n\tm[\"a\"] = 1\n}\n",
        "panic: assignment to entry in nil map",
        "/box/main.go:5",
    ),
    suite: (
        "calc.go",
        &[
            ("go.mod", "module calc\n\ngo 1.19\n"),
            ("calc.go", "package calc\n\nfunc Add(a, b int) int { return a + b }\n"),
            (
                "calc_test.go",
                "package calc\n\nimport \"testing\"\n\nfunc TestAdds(t *testing.T) {\n\tif Add(1, 1) != 2 {\n\t\tt.Fatal(\"1 + 1\")\n\t}\n}\n\nfunc TestFails(t *testing.T) { t.Errorf(\"expected 3, got %d\", Add(1, 1)) }\n\nfunc TestSkipped(t *testing.T) { t.Skip(\"later\") }\n\nfunc TestErrors(t *testing.T) {\n\tvar m map[string]int\n\tm[\"a\"] = 1\n}\n",
            ),
        ],
        &[
            ("TestAdds", TestStatus::Pass, ""),
            ("TestFails", TestStatus::Fail, "calc_test.go:11: expected 3, got 2"),
            ("TestSkipped", TestStatus::Skipped, "later"),
            ("TestErrors", TestStatus::Error, "panic: assignment to entry in nil map"),
        ],
    ),
    hanging: Hanging {
        entry: "calc.go",
        files: &[
            ("go.mod", "module calc\n\ngo 1.19\n"),
            ("calc.go", "package calc\n\nfunc Add(a, b int) int { return a + b }\n"),
            (
                "calc_test.go",
                "package calc\n\nimport \"testing\"\n\nfunc TestAdds(t *testing.T) {\n\tif Add(1, 1) != 2 {\n\t\tt.Fatal(\"1 + 1\")\n\t}\n}\n\nfunc TestSpins(t *testing.T) {\n\tfor {\n\t}\n}\n\nfunc TestNeverRuns(t *testing.T) {}\n",
            ),
        ],
        finished: "TestAdds",
        hung: Some("TestSpins"),
        wall_ms: 4000,
    },
    escape: (
        "main.go",
        r#"package main

import (
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	if c, err := net.DialTimeout("tcp", "127.0.0.1:PORT", 2*time.Second); err != nil {
		fmt.Println("connect: refused", err)
	} else {
		c.Close()
		fmt.Println("connect: OK")
	}
	if _, err := os.ReadFile("/etc/shadow"); err != nil {
		fmt.Println("/etc/shadow: refused", err)
	} else {
		fmt.Println("/etc/shadow: OK")
	}
	if entries, err := os.ReadDir("/root"); err != nil {
		fmt.Println("/root: refused", err)
	} else {
		fmt.Println("/root: OK", len(entries))
	}
}
"#,
    ),
};

const JAVA: Lang = Lang {
    id: "java",
    hello: (
        "Main.java",
        "import java.util.Scanner;\n\npublic class Main {\n    public static void main(String[] args) {\n        System.out.println(\"hello \" + new Scanner(System.in).nextLine());\n    }\n}\n",
    ),
    compile_error: (
        "Main.java",
        "public class Main {\n    public static void main(String[] args) {\n        int x = ;\n    }\n}\n",
        "Main.java:3: error",
    ),
    crash: (
        "Main.java",
        "public class Main {\n    public static void main(String[] args) {\n        throw new IllegalStateException(\"boom\");\n    }\n}\n",
        "Exception in thread \"main\" java.lang.IllegalStateException: boom",
        "at Main.main(Main.java:3)",
    ),
    suite: (
        "Calc.java",
        &[
            ("Calc.java", "public class Calc {\n    static int add(int a, int b) { return a + b; }\n}\n"),
            (
                "CalcTest.java",
                "import org.junit.jupiter.api.*;\nimport static org.junit.jupiter.api.Assertions.*;\n\nclass CalcTest {\n    @Test void adds() { assertEquals(2, Calc.add(1, 1)); }\n    @Test @DisplayName(\"fails with a message\") void fails() { assertEquals(3, Calc.add(1, 1), \"1 + 1\"); }\n    @Test void errors() { throw new IllegalStateException(\"boom\"); }\n    @Test @Disabled(\"later\") void skipped() {}\n}\n",
            ),
        ],
        &[
            ("CalcTest > adds()", TestStatus::Pass, ""),
            ("CalcTest > fails with a message", TestStatus::Fail, "1 + 1 ==> expected: <3> but was: <2>"),
            ("CalcTest > errors()", TestStatus::Error, "java.lang.IllegalStateException: boom"),
            ("CalcTest > skipped()", TestStatus::Skipped, "later"),
        ],
    ),
    hanging: Hanging {
        entry: "Calc.java",
        files: &[
            ("Calc.java", "public class Calc {\n    static int add(int a, int b) { return a + b; }\n}\n"),
            (
                "CalcTest.java",
                "import org.junit.jupiter.api.*;\nimport static org.junit.jupiter.api.Assertions.*;\n\n@TestMethodOrder(MethodOrderer.MethodName.class)\nclass CalcTest {\n    @Test void a_adds() { assertEquals(2, Calc.add(1, 1)); }\n    @Test void b_spins() { while (true) { Thread.onSpinWait(); } }\n    @Test void c_never_runs() {}\n}\n",
            ),
        ],
        finished: "CalcTest > a_adds()",
        hung: Some("CalcTest > b_spins()"),
        wall_ms: 4000,
    },
    escape: (
        "Main.java",
        r#"import java.net.Socket;
import java.nio.file.*;

public class Main {
    public static void main(String[] args) {
        try (Socket s = new Socket("127.0.0.1", PORT)) {
            System.out.println("connect: OK");
        } catch (Exception e) {
            System.out.println("connect: refused " + e);
        }
        try {
            Files.readAllBytes(Path.of("/etc/shadow"));
            System.out.println("/etc/shadow: OK");
        } catch (Exception e) {
            System.out.println("/etc/shadow: refused " + e);
        }
        try (var list = Files.list(Path.of("/root"))) {
            System.out.println("/root: OK " + list.count());
        } catch (Exception e) {
            System.out.println("/root: refused " + e);
        }
    }
}
"#,
    ),
};

fn files(list: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    list.iter().map(|(name, source)| (name.to_string(), source.as_bytes().to_vec())).collect()
}

/// Runs a job with `lang`'s runner on a leased slot; `None` when the test must skip.
/// A run that outlives its limits by far fails the test instead of hanging it.
/// In a `*_warm` module the job runs warm-started ([`run_warm`]).
fn execute(test: &str, lang: &Lang, job: Job) -> Option<Execution> {
    let h = harness(test)?;
    let runner = runner_or_skip(test, lang.id)?;
    let budget = Duration::from_millis(job.limits.compile.wall_ms + job.limits.run.wall_ms) + Duration::from_secs(120);
    let warm = test.contains("_warm::");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let lease = h.lease();
        let result = if warm {
            run_warm(h, lease.slot, runner, &job)
        } else {
            plugins::execute(&h.sandbox, lease.slot, runner, caches(), &job).map_err(|e| e.to_string())
        };
        let _ = sender.send(result);
    });
    match receiver.recv_timeout(budget) {
        Ok(Ok(execution)) => Some(execution),
        Ok(Err(e)) => panic!("{test}: {e}"),
        Err(_) => panic!("{test}: the job did not end within {budget:?}: a limit was not enforced"),
    }
}

/// The job cold (which shows the slot what to prepare), then the slot's next
/// run prepared as the daemon does after a job, then the job again on it: the
/// warm run must be warm-started and end exactly as the cold one did.
fn run_warm(
    h: &acejudge_tests::Harness,
    slot: usize,
    runner: &plugins::LoadedRunner,
    job: &Job,
) -> Result<Execution, String> {
    let warm = warm_caches().warm_starts().expect("warm starts are on");
    let cold = plugins::execute(&h.sandbox, slot, runner, warm_caches(), job).map_err(|e| e.to_string())?;
    warm.refill(&h.sandbox, slot);
    assert_eq!(warm.waiting(slot).as_deref(), Some(runner.id()), "a run is prepared after the job");
    let warmed = plugins::execute(&h.sandbox, slot, runner, warm_caches(), job).map_err(|e| e.to_string())?;
    assert_eq!(warm.waiting(slot), None, "the prepared run was used");
    let (c, w) = (cold.run.as_ref().expect("a run step"), warmed.run.as_ref().expect("a run step"));
    assert!(!c.warm_started && w.warm_started, "the second run is the warm one");
    let same = |what: &str, a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| {
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "{what}: cold vs warm{}{}", explain(&cold), explain(&warmed));
    };
    same("status", &c.outcome.status, &w.outcome.status);
    same("exit code", &c.outcome.exit_code, &w.outcome.exit_code);
    same("stdout", &text(&c.outcome.stdout), &text(&w.outcome.stdout));
    same("diagnosis", &c.diagnosis, &w.diagnosis);
    if runner.id() == "python" {
        same("stderr", &text(&c.outcome.stderr), &text(&w.outcome.stderr));
    }
    Ok(warmed)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The run step's stdout and stderr, and each step's status, for assertion messages.
fn explain(execution: &Execution) -> String {
    let mut out = String::new();
    for (name, step) in [("compile", &execution.compile), ("run", &execution.run)] {
        if let Some(step) = step {
            out.push_str(&format!(
                "\n--- {name}: {:?} exit {:?} diagnosis {:?}\nstdout: {}\nstderr: {}",
                step.outcome.status,
                step.outcome.exit_code,
                step.diagnosis,
                text(&step.outcome.stdout),
                text(&step.outcome.stderr)
            ));
        }
    }
    out
}

fn hello_world_reads_stdin_and_writes_stdout(test: &str, lang: &Lang) {
    let (entry, source) = lang.hello;
    let mut job = Job::new(Mode::Program, entry, files(&[(entry, source)]));
    job.stdin = b"world\n".to_vec();
    let Some(execution) = execute(test, lang, job) else { return };
    let run = execution.run.as_ref().unwrap_or_else(|| panic!("no run step:{}", explain(&execution)));
    assert_eq!(run.outcome.status, Status::Ok, "{}", explain(&execution));
    assert_eq!(text(&run.outcome.stdout), "hello world\n", "{}", explain(&execution));
    assert_eq!(run.diagnosis, None);
}

fn a_compile_error_returns_the_compilers_message_with_file_and_line(test: &str, lang: &Lang) {
    let (entry, source, location) = lang.compile_error;
    let Some(execution) = execute(test, lang, Job::new(Mode::Program, entry, files(&[(entry, source)]))) else {
        return;
    };
    let failed = execution.compile.iter().chain(execution.run.iter()).find(|s| s.outcome.status != Status::Ok);
    let diagnosis =
        failed.and_then(|s| s.diagnosis.clone()).unwrap_or_else(|| panic!("no diagnosis:{}", explain(&execution)));
    assert_eq!(diagnosis.kind, DiagnosisKind::CompileError, "{}", explain(&execution));
    assert!(diagnosis.message.contains(location), "the message must name {location}: {}", diagnosis.message);
}

fn an_uncaught_exception_is_a_runtime_error_with_the_trace_in_stderr(test: &str, lang: &Lang) {
    let (entry, source, message, trace) = lang.crash;
    let Some(execution) = execute(test, lang, Job::new(Mode::Program, entry, files(&[(entry, source)]))) else {
        return;
    };
    let run = execution.run.as_ref().unwrap_or_else(|| panic!("it must compile:{}", explain(&execution)));
    assert_eq!(run.outcome.status, Status::NonzeroExit, "{}", explain(&execution));
    let diagnosis = run.diagnosis.clone().unwrap_or_else(|| panic!("no diagnosis:{}", explain(&execution)));
    assert_eq!(diagnosis.kind, DiagnosisKind::RuntimeError, "{}", explain(&execution));
    assert!(diagnosis.message.contains(message), "diagnosis {:?} must say {message:?}", diagnosis.message);
    assert!(text(&run.outcome.stderr).contains(trace), "stderr must show {trace:?}:{}", explain(&execution));
}

fn a_test_run_gives_exactly_each_tests_status_and_message(test: &str, lang: &Lang) {
    let (entry, list, expected) = lang.suite;
    let Some(execution) = execute(test, lang, Job::new(Mode::Tests, entry, files(list))) else { return };
    let report = execution.report.clone().unwrap_or_else(|| panic!("no report:{}", explain(&execution)));
    let got: BTreeMap<&str, TestStatus> = report.tests.iter().map(|t| (t.name.as_str(), t.status)).collect();
    let want: BTreeMap<&str, TestStatus> = expected.iter().map(|(name, status, _)| (*name, *status)).collect();
    assert_eq!(got, want, "{}", explain(&execution));
    for (name, _, fragment) in expected {
        let case = report.tests.iter().find(|t| t.name == *name).expect("listed");
        let message = case.message.as_deref().unwrap_or("");
        assert!(message.contains(fragment), "{name}: message {message:?} must contain {fragment:?}");
    }
}

fn a_run_killed_mid_suite_keeps_the_results_reported_so_far(test: &str, lang: &Lang) {
    let Hanging { entry, files: list, finished, hung, wall_ms } = lang.hanging;
    let mut job = Job::new(Mode::Tests, entry, files(list));
    job.limits.run.wall_ms = wall_ms;
    let Some(execution) = execute(test, lang, job) else { return };
    let run = execution.run.as_ref().unwrap_or_else(|| panic!("it must compile:{}", explain(&execution)));
    assert!(matches!(run.outcome.status, Status::TimeLimit { .. }), "{}", explain(&execution));
    let report = execution.report.clone().expect("a test run has a report");
    assert!(!report.complete, "{report:?}");
    let first = report.tests.iter().find(|t| t.name == finished);
    assert_eq!(first.map(|t| t.status), Some(TestStatus::Pass), "{report:?}{}", explain(&execution));
    if let Some(hung) = hung {
        let case = report.tests.iter().find(|t| t.name == hung).unwrap_or_else(|| panic!("{hung} missing: {report:?}"));
        assert_eq!(case.status, TestStatus::Error, "{case:?}{}", explain(&execution));
        assert!(case.message.as_deref().unwrap_or("").contains("did not finish"), "{case:?}");
    }
    assert!(report.tests.iter().all(|t| !t.name.contains("never")), "nothing after the hang ran: {report:?}");
}

fn its_programs_cannot_reach_the_network_or_read_outside_their_paths(test: &str, lang: &Lang) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a host listener to aim at");
    listener.set_nonblocking(true).expect("non-blocking");
    let port = listener.local_addr().expect("its address").port().to_string();
    let (entry, source) = lang.escape;
    let source = source.replace("PORT", &port);
    let Some(execution) = execute(test, lang, Job::new(Mode::Program, entry, files(&[(entry, &source)]))) else {
        return;
    };
    let run = execution.run.as_ref().unwrap_or_else(|| panic!("it must compile:{}", explain(&execution)));
    let out = text(&run.outcome.stdout);
    for what in ["connect", "/etc/shadow", "/root"] {
        assert!(out.contains(&format!("{what}: refused")), "{what} must be refused:{}", explain(&execution));
    }
    assert!(!out.contains(": OK"), "{out}");
    assert!(listener.accept().is_err(), "nothing may have connected to the host");
}

/// The ad-hoc (program) scenarios, as `#[test]`s in the calling module.
macro_rules! program_scenarios {
    ($lang:expr) => {
        fn name(test: &str) -> String {
            format!("{}::{test}", module_path!())
        }

        #[test]
        fn hello_world_reads_stdin_and_writes_stdout() {
            super::hello_world_reads_stdin_and_writes_stdout(&name("hello_world"), &$lang);
        }

        #[test]
        fn a_compile_error_returns_the_compilers_message_with_file_and_line() {
            super::a_compile_error_returns_the_compilers_message_with_file_and_line(&name("compile_error"), &$lang);
        }

        #[test]
        fn an_uncaught_exception_is_a_runtime_error_with_the_trace_in_stderr() {
            super::an_uncaught_exception_is_a_runtime_error_with_the_trace_in_stderr(&name("crash"), &$lang);
        }

        #[test]
        fn its_programs_cannot_reach_the_network_or_read_outside_their_paths() {
            super::its_programs_cannot_reach_the_network_or_read_outside_their_paths(&name("escape"), &$lang);
        }
    };
}

macro_rules! runner_tests {
    ($module:ident, $lang:expr) => {
        mod $module {
            use super::*;

            program_scenarios!($lang);

            #[test]
            fn a_test_run_gives_exactly_each_tests_status_and_message() {
                super::a_test_run_gives_exactly_each_tests_status_and_message(&name("suite"), &$lang);
            }

            #[test]
            fn a_run_killed_mid_suite_keeps_the_results_reported_so_far() {
                super::a_run_killed_mid_suite_keeps_the_results_reported_so_far(&name("killed"), &$lang);
            }
        }
    };
}

/// The ad-hoc scenarios again, each program run on a warm-started runtime (Python and Node have one).
macro_rules! warm_runner_tests {
    ($module:ident, $lang:expr) => {
        mod $module {
            use super::*;

            program_scenarios!($lang);
        }
    };
}

warm_runner_tests!(python_warm, PYTHON);
warm_runner_tests!(node_warm, NODE);
runner_tests!(python, PYTHON);
runner_tests!(node, NODE);
runner_tests!(go, GO);
runner_tests!(java, JAVA);

fn toolchain(test: &str, id: &str) -> Option<&'static Toolchain> {
    runner_or_skip(test, id).map(|r| r.toolchain().expect("checked by runner_or_skip"))
}

#[test]
fn each_runner_finds_its_toolchain_reads_its_version_and_declares_its_needs() {
    let prefixes = [("go", "go1."), ("python", "Python 3."), ("node", "Node.js v"), ("java", "Java ")];
    for (id, prefix) in prefixes {
        let Some(toolchain) = toolchain("each_runner_finds_its_toolchain", id) else { continue };
        assert!(toolchain.version.starts_with(prefix), "{id}: {}", toolchain.version);
    }
    if let Some(java) = toolchain("java_declarations", "java") {
        assert!(java.allowances.cgroup_view && java.allowances.unlimited_address_space);
        assert_eq!(java.allowances.extra_memory_bytes, 256 << 20);
        assert!(java.allowances.extra_pids > 0);
        assert!(java.version.contains("JUnit Platform"), "JUnit 5 must be found: {}", java.version);
        if Path::new("/etc/java-17-openjdk").exists() && java.version.starts_with("Java 17") {
            assert!(java.readonly_paths.contains(&"/etc/java-17-openjdk".to_string()), "{:?}", java.readonly_paths);
        }
    }
    if let Some(go) = toolchain("go_declarations", "go") {
        assert!(go.allowances.unlimited_address_space && go.allowances.extra_pids > 0);
        assert_eq!(go.caches.len(), 1);
        assert!(go.caches[0].key.starts_with(&go.version), "the cache is keyed by the toolchain version");
    }
}

/// Every file under `dir` with its size and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).expect("read cache dir").flatten() {
            let meta = entry.metadata().expect("stat");
            if meta.is_dir() {
                pending.push(entry.path());
            }
            out.insert(entry.path(), (meta.len(), meta.modified().expect("mtime")));
        }
    }
    out
}

#[test]
fn go_build_cache_is_prepared_once_and_runs_cannot_change_it() {
    let test = "go_build_cache_is_prepared_once_and_runs_cannot_change_it";
    let (entry, source) = GO.hello;
    let mut job = Job::new(Mode::Program, entry, files(&[(entry, source)]));
    job.stdin = b"cache\n".to_vec();
    let Some(first) = execute(test, &GO, job) else { return };
    assert_eq!(
        first.run.as_ref().map(|r| text(&r.outcome.stdout)),
        Some("hello cache\n".into()),
        "{}",
        explain(&first)
    );
    let toolchain = registry().get("go").and_then(|r| r.toolchain().ok()).expect("go is available");
    let dir = caches().dir("go", &toolchain.caches[0]);
    assert!(dir.is_dir(), "the cache is prepared at {}", dir.display());
    let compile = first.compile.as_ref().expect("go compiles");
    assert!(compile.outcome.status == Status::Ok, "{}", explain(&first));
    let before = snapshot(&dir);
    assert!(before.len() > 10, "the warm-up filled the cache: {} entries", before.len());
    let poison = r#"package main

import (
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	cache := os.Getenv("GOCACHE")
	err := os.WriteFile(filepath.Join(cache, "poison"), []byte("x"), 0o644)
	fmt.Println("write:", err)
	entries, _ := os.ReadDir(cache)
	for _, e := range entries {
		if e.IsDir() {
			fmt.Println("remove:", os.RemoveAll(filepath.Join(cache, e.Name())))
			break
		}
	}
}
"#;
    let Some(attack) = execute(test, &GO, Job::new(Mode::Program, "main.go", files(&[("main.go", poison)]))) else {
        return;
    };
    let out = attack.run.as_ref().map(|r| text(&r.outcome.stdout)).unwrap_or_default();
    assert!(out.contains("write: <nil>"), "the run writes to its own layer:{}", explain(&attack));
    assert!(out.contains("remove: <nil>"), "and may even delete there:{}", explain(&attack));
    assert_eq!(snapshot(&dir), before, "the prepared cache on the host is unchanged");
    assert!(!dir.join("poison").exists());
}

#[test]
fn java_out_of_memory_error_is_a_memory_limit_with_its_message() {
    let test = "java_out_of_memory_error_is_a_memory_limit_with_its_message";
    let source = "import java.util.*;\n\npublic class Main {\n    public static void main(String[] args) {\n        List<long[]> hoard = new ArrayList<>();\n        while (true) {\n            hoard.add(new long[1 << 20]);\n        }\n    }\n}\n";
    let mut job = Job::new(Mode::Program, "Main.java", files(&[("Main.java", source)]));
    job.limits.run.memory_bytes = 64 << 20;
    job.limits.run.wall_ms = 10_000;
    let Some(execution) = execute(test, &JAVA, job) else { return };
    let run = execution.run.as_ref().unwrap_or_else(|| panic!("it must compile:{}", explain(&execution)));
    let diagnosis = run.diagnosis.clone().unwrap_or_else(|| panic!("no diagnosis:{}", explain(&execution)));
    assert_eq!(diagnosis.kind, DiagnosisKind::MemoryLimit, "{}", explain(&execution));
    assert_eq!(diagnosis.message, "java.lang.OutOfMemoryError: Java heap space");
    assert_eq!(run.outcome.status, Status::NonzeroExit, "the JVM exits; the kernel did not have to kill it");
}

#[test]
fn node_heap_exhaustion_is_a_memory_limit() {
    let test = "node_heap_exhaustion_is_a_memory_limit";
    let source = "const hoard = [];\nwhile (true) hoard.push(new Array(1e6).fill(1));\n";
    let mut job = Job::new(Mode::Program, "main.js", files(&[("main.js", source)]));
    job.limits.run.memory_bytes = 128 << 20;
    job.limits.run.wall_ms = 10_000;
    let Some(execution) = execute(test, &NODE, job) else { return };
    let run = execution.run.as_ref().expect("node has no compile step");
    let diagnosis = run.diagnosis.clone().unwrap_or_else(|| panic!("no diagnosis:{}", explain(&execution)));
    assert_eq!(diagnosis.kind, DiagnosisKind::MemoryLimit, "{}", explain(&execution));
}

#[test]
fn java_sees_its_own_cgroup_memory_limit_and_sizes_its_heap_below_it() {
    let test = "java_sees_its_own_cgroup_memory_limit_and_sizes_its_heap_below_it";
    let source = r#"import java.nio.file.*;

public class Main {
    public static void main(String[] args) throws Exception {
        for (String file : new String[] {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
            Path path = Path.of(file);
            if (Files.exists(path)) {
                System.out.println("cgroup " + Files.readString(path).trim());
            }
        }
        System.out.println("heap " + Runtime.getRuntime().maxMemory());
    }
}
"#;
    let Some(execution) = execute(test, &JAVA, Job::new(Mode::Program, "Main.java", files(&[("Main.java", source)])))
    else {
        return;
    };
    let run = execution.run.as_ref().unwrap_or_else(|| panic!("it must compile:{}", explain(&execution)));
    let out = text(&run.outcome.stdout);
    let limit: u64 = (256 << 20) + (256 << 20);
    assert!(
        out.contains(&format!("cgroup {limit}\n")),
        "the JVM's view of its cgroup shows {limit}:{}",
        explain(&execution)
    );
    let heap: u64 = out.lines().find_map(|l| l.strip_prefix("heap ")?.parse().ok()).expect("heap printed");
    assert!(heap <= limit * 6 / 10 && heap >= limit / 2, "heap {heap} is ~60% of {limit}");
}

/// A warm start keeps every limit: a busy loop ends at the wall limit counted
/// from the program's start (not the runtime's), a memory hog at the memory
/// limit — as they do cold ([`run_warm`] compares the two).
#[test]
fn python_warm_starts_keep_the_time_and_memory_limits() {
    let test = "python_warm::limits";
    let mut spin = Job::new(Mode::Program, "main.py", files(&[("main.py", "while True:\n    pass\n")]));
    spin.limits.run.wall_ms = 1000;
    let Some(execution) = execute(test, &PYTHON, spin) else { return };
    let run = execution.run.as_ref().expect("a run step");
    assert!(matches!(run.outcome.status, Status::TimeLimit { .. }), "{}", explain(&execution));
    assert!(run.outcome.wall_ms < 2000, "the limit counts from the program's start: {} ms", run.outcome.wall_ms);

    let mut hog = Job::new(
        Mode::Program,
        "main.py",
        files(&[("main.py", "hoard = []\nwhile True:\n    hoard.append(bytearray(1 << 20))\n")]),
    );
    hog.limits.run.memory_bytes = 64 << 20;
    let Some(execution) = execute(test, &PYTHON, hog) else { return };
    let run = execution.run.as_ref().expect("a run step");
    assert_eq!(run.outcome.status, Status::MemoryLimit, "{}", explain(&execution));
}
