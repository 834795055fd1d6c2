//! The Java runner: programs and JUnit 5 suites on the host's JDK.
//!
//! - Toolchain: the default JDK (`/usr/bin/javac` resolved, so Debian's
//!   alternatives decide), or config key `java_home`; JUnit's jars from
//!   `/usr/share/java` (Debian's `junit5` package), or config key `junit_dir`.
//!   The JDK's `conf` and `lib` link into `/etc/java-*`, which is declared as
//!   a read-only path.
//! - Program: compile `javac -d out <entry>`, run `java -cp out <Class>`
//!   with the user's stdin.
//! - Tests: `challenges/FORMAT.md`'s `javac -d out -cp $JUNIT *.java` then
//!   `java -Xss8m -jar junit-platform-console-standalone.jar -cp out
//!   --scan-class-path --disable-banner --details=tree`, plus a listener
//!   shipped in this plugin ([`LISTENER`], compiled with the tests and
//!   registered through `META-INF/services`) that streams one JSON line per
//!   test to `.acejudge-report.jsonl`, so a killed run keeps its results.
//! - Memory: the JVM reserves much more address space than it uses, so memory
//!   is limited by cgroup only, and the JVM sees its cgroup (`cgroup_view`).
//!   Heap, metaspace and code cache are sized from the step's memory limit
//!   ([`jvm_options`]); `-XX:+ExitOnOutOfMemoryError` turns an
//!   `OutOfMemoryError` into a prompt exit whose message [`Runner::diagnose`]
//!   reports as a memory limit. Serial GC and C1 only (`TieredStopAtLevel=1`)
//!   for a fast start with few threads.
//! - Compile outputs: the compile step declares the classes directory
//!   ([`CLASSES_DIR`]) in [`Step::outputs`], so the host can reuse it for
//!   byte-identical inputs instead of compiling again.

mod diagnose;

use acejudge_runner_api::{
    export_runner, probe, report, Allowances, Diagnosis, Mode, Plan, PlanFile, PlanRequest, ReportSource, Runner,
    RunnerConfig, RunnerError, RunnerInfo, SelfTest, SelfTestProgram, SelfTestSuite, StdinSource, Step, StepLimits,
    StepOutput, TestReport, TestStatus, Toolchain,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The listener source placed in the box for test runs.
pub const LISTENER: &str = include_str!("AceJudgeListener.java");
pub const LISTENER_FILE: &str = "AceJudgeListener.java";
/// Where `javac -d` writes the classes: the compile step's declared output,
/// the run step's class path.
pub const CLASSES_DIR: &str = "out";
/// The listener's registration, placed in [`CLASSES_DIR`] before the compile step.
const SERVICES_FILE: &str = "out/META-INF/services/org.junit.platform.launcher.TestExecutionListener";
/// Where the listener streams its JSON lines.
pub const REPORT_FILE: &str = ".acejudge-report.jsonl";
/// What `challenges/FORMAT.md` gives Java on top of the challenge's memory.
pub const EXTRA_MEMORY: u64 = 256 << 20;
/// The JVM's own threads (GC, compiler, reference handler, …).
const EXTRA_PIDS: u64 = 64;
/// `$JUNIT` of `challenges/FORMAT.md`, plus what the listener compiles against.
const COMPILE_JARS: [&str; 6] = [
    "junit-jupiter-api.jar",
    "apiguardian-api.jar",
    "opentest4j.jar",
    "junit-platform-commons.jar",
    "junit-platform-launcher.jar",
    "junit-platform-engine.jar",
];
const CONSOLE_JAR: &str = "junit-platform-console-standalone.jar";

#[derive(Default)]
pub struct JavaRunner;

impl Runner for JavaRunner {
    fn info(&self) -> RunnerInfo {
        RunnerInfo {
            id: "java".into(),
            name: "Java".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            extensions: vec!["java".into()],
            tests: "JUnit 5 (Jupiter): *Test.java in the default package, run by the console launcher".into(),
        }
    }

    fn toolchain(&self, config: &RunnerConfig) -> Result<Toolchain, RunnerError> {
        probe::config_known_keys(config, &["java_home", "junit_dir"])?;
        let java_home = match probe::config_string(config, "java_home")? {
            Some(home) => probe::locate(Some(home), &[], "JAVA_HOME")?,
            None => {
                let javac = probe::locate(None, &[PathBuf::from("/usr/bin/javac")], "javac (a JDK)")?;
                let resolved = probe::resolve(&javac)?;
                resolved.parent().and_then(Path::parent).map(Path::to_path_buf).ok_or_else(|| {
                    RunnerError::ToolchainMissing(format!("{} is not inside a JDK", resolved.display()))
                })?
            }
        };
        for tool in ["bin/java", "bin/javac"] {
            if !java_home.join(tool).exists() {
                return Err(RunnerError::ToolchainMissing(format!("{} has no {tool}", java_home.display())));
            }
        }
        let version = java_version(&java_home)?;
        let junit_dir = PathBuf::from(probe::config_string(config, "junit_dir")?.unwrap_or("/usr/share/java".into()));
        let mut programs = BTreeMap::from([
            ("java".into(), java_home.join("bin/java").display().to_string()),
            ("javac".into(), java_home.join("bin/javac").display().to_string()),
        ]);
        let mut readonly_paths = etc_links(&java_home);
        let system = ["/usr/", "/bin/", "/lib/", "/lib64/", "/sbin/"];
        if !system.iter().any(|s| java_home.starts_with(s)) {
            readonly_paths.push(java_home.display().to_string());
        }
        let mut description = format!("Java {version}");
        let console = junit_dir.join(CONSOLE_JAR);
        if console.exists() && COMPILE_JARS.iter().all(|j| junit_dir.join(j).exists()) {
            programs.insert("junit_console".into(), console.display().to_string());
            let classpath: Vec<String> = COMPILE_JARS.iter().map(|j| junit_dir.join(j).display().to_string()).collect();
            programs.insert("junit_classpath".into(), classpath.join(":"));
            if let Some(v) = jar_version(&junit_dir, &console) {
                description.push_str(&format!(", JUnit Platform {v}"));
            }
            if !system.iter().any(|s| junit_dir.starts_with(s)) {
                readonly_paths.push(junit_dir.display().to_string());
            }
        } else {
            description.push_str(&format!(" (no JUnit 5 in {}: test runs unavailable)", junit_dir.display()));
        }
        Ok(Toolchain {
            version: description,
            programs,
            readonly_paths,
            allowances: Allowances {
                extra_memory_bytes: EXTRA_MEMORY,
                extra_pids: EXTRA_PIDS,
                unlimited_address_space: true,
                cgroup_view: true,
            },
            caches: vec![],
        })
    }

    fn plan(&self, toolchain: &Toolchain, request: &PlanRequest) -> Result<Plan, RunnerError> {
        let class = request
            .entry
            .strip_suffix(".java")
            .filter(|c| is_identifier(c))
            .ok_or_else(|| {
                RunnerError::InvalidRequest(format!("the entry file {} must be <ClassName>.java", request.entry))
            })?
            .to_string();
        let tool = |name: &str| {
            toolchain.programs.get(name).cloned().ok_or_else(|| {
                RunnerError::InvalidRequest(format!("the toolchain has no `{name}` (is JUnit 5 installed?)"))
            })
        };
        let env = BTreeMap::from([
            ("PATH".to_string(), "/usr/bin:/bin".to_string()),
            ("HOME".to_string(), "/tmp".to_string()),
            ("LANG".to_string(), "C.UTF-8".to_string()),
            ("TMPDIR".to_string(), "/tmp".to_string()),
        ]);
        let with_allowance = |limits: StepLimits| StepLimits {
            memory_bytes: limits.memory_bytes + EXTRA_MEMORY,
            pids: limits.pids + EXTRA_PIDS,
            ..limits
        };
        let compile_limits = with_allowance(request.limits.compile);
        let run_limits = with_allowance(request.limits.run);
        let step = |argv: Vec<String>, limits: StepLimits, stdin: StdinSource, outputs: &[&str]| Step {
            argv,
            env: env.clone(),
            limits,
            readonly_paths: vec![],
            writable_overlays: vec![],
            cgroup_view: true,
            stdin,
            outputs: outputs.iter().map(|o| o.to_string()).collect(),
            warm_argv: None,
        };
        let mut javac = vec![tool("javac")?];
        javac.extend(jvm_options(compile_limits.memory_bytes).into_iter().map(|o| format!("-J{o}")));
        javac.extend(["-encoding", "UTF-8", "-d", CLASSES_DIR].map(String::from));
        let mut java = vec![tool("java")?];
        java.extend(jvm_options(run_limits.memory_bytes));
        java.push("-Xss8m".into());
        Ok(match request.mode {
            Mode::Program => {
                javac.push(request.entry.clone());
                java.extend(["-cp".into(), CLASSES_DIR.into(), class]);
                Plan {
                    files: vec![],
                    compile: Some(step(javac, compile_limits, StdinSource::Empty, &[CLASSES_DIR])),
                    run: step(java, run_limits, StdinSource::Request, &[]),
                    report: ReportSource::Stdout,
                }
            }
            Mode::Tests => {
                let mut sources: Vec<String> = request
                    .files
                    .iter()
                    .filter(|f| f.ends_with(".java"))
                    .cloned()
                    .chain(std::iter::once(LISTENER_FILE.to_string()))
                    .collect();
                sources.sort();
                sources.dedup();
                javac.extend(["-cp".into(), tool("junit_classpath")?]);
                javac.extend(sources);
                java.extend(["-jar".into(), tool("junit_console")?]);
                java.extend(
                    [
                        "-cp",
                        CLASSES_DIR,
                        "--scan-class-path",
                        "--disable-banner",
                        "--disable-ansi-colors",
                        "--details=tree",
                    ]
                    .map(String::from),
                );
                let file = |path: &str, contents: &str| PlanFile {
                    path: path.into(),
                    contents: contents.into(),
                    executable: false,
                };
                Plan {
                    files: vec![file(LISTENER_FILE, LISTENER), file(SERVICES_FILE, "acejudge.AceJudgeListener\n")],
                    compile: Some(step(javac, compile_limits, StdinSource::Empty, &[CLASSES_DIR])),
                    run: step(java, run_limits, StdinSource::Empty, &[]),
                    report: ReportSource::File { path: REPORT_FILE.into() },
                }
            }
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
            entry: "Main.java".into(),
            source: source.into(),
            stdin: "world\n".into(),
            expected_stdout: "hello world\n".into(),
        };
        SelfTest {
            program: program(concat!(
                "import java.util.Scanner;\n\npublic class Main {\n",
                "    public static void main(String[] args) {\n",
                "        System.out.println(\"hello \" + new Scanner(System.in).nextLine());\n    }\n}\n",
            )),
            compile_error: program(
                "public class Main {\n    public static void main(String[] args) {\n        int x = \n    }\n}\n",
            ),
            tests: Some(SelfTestSuite {
                entry: "Calc.java".into(),
                files: BTreeMap::from([
                    (
                        "Calc.java".into(),
                        "public class Calc {\n    static int add(int a, int b) { return a + b; }\n}\n".into(),
                    ),
                    (
                        "CalcTest.java".into(),
                        concat!(
                            "import org.junit.jupiter.api.*;\n",
                            "import static org.junit.jupiter.api.Assertions.*;\n\n",
                            "class CalcTest {\n",
                            "    @Test void adds() { assertEquals(2, Calc.add(1, 1)); }\n",
                            "    @Test void fails() { assertEquals(3, Calc.add(1, 1), \"1 + 1\"); }\n",
                            "    @Test void errors() { throw new IllegalStateException(\"boom\"); }\n",
                            "    @Test @Disabled(\"later\") void skipped() {}\n",
                            "}\n",
                        )
                        .into(),
                    ),
                ]),
                expected: BTreeMap::from([
                    ("CalcTest > adds()".into(), TestStatus::Pass),
                    ("CalcTest > fails()".into(), TestStatus::Fail),
                    ("CalcTest > errors()".into(), TestStatus::Error),
                    ("CalcTest > skipped()".into(), TestStatus::Skipped),
                ]),
            }),
        }
    }
}

/// JVM options sized from a step's memory limit: heap ~60 %, metaspace ~15 %
/// (32–256 MiB), a 32 MiB code cache (C1 only needs little), serial GC.
pub fn jvm_options(memory_bytes: u64) -> Vec<String> {
    let mib = memory_bytes >> 20;
    let heap = (mib * 6 / 10).max(16);
    let metaspace = (mib * 15 / 100).clamp(32, 256);
    vec![
        format!("-Xmx{heap}m"),
        format!("-XX:MaxMetaspaceSize={metaspace}m"),
        "-XX:ReservedCodeCacheSize=32m".into(),
        "-XX:+UseSerialGC".into(),
        "-XX:TieredStopAtLevel=1".into(),
        "-XX:+ExitOnOutOfMemoryError".into(),
        "-XX:-UsePerfData".into(),
        "-Xshare:auto".into(),
    ]
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// `JAVA_VERSION="17.0.15"` from the JDK's `release` file, else `java -version`.
fn java_version(java_home: &Path) -> Result<String, RunnerError> {
    if let Ok(release) = std::fs::read_to_string(java_home.join("release")) {
        if let Some(v) = release.lines().find_map(|l| l.strip_prefix("JAVA_VERSION=")) {
            return Ok(v.trim_matches('"').to_string());
        }
    }
    let said = probe::command_output(&java_home.join("bin/java"), &["-version"])?;
    Ok(probe::first_line(&said))
}

/// `1.9.1` from the jar's versioned name: the link's target, or a sibling
/// `junit-platform-console-standalone-1.9.1.jar` (Debian ships both).
fn jar_version(dir: &Path, jar: &Path) -> Option<String> {
    let prefix = "junit-platform-console-standalone-";
    let from_name = |name: &str| {
        let version = name.strip_prefix(prefix)?.strip_suffix(".jar")?;
        version.chars().next().filter(char::is_ascii_digit).map(|_| version.to_string())
    };
    let resolved = std::fs::canonicalize(jar).ok()?;
    if let Some(v) = resolved.file_name().and_then(|n| from_name(&n.to_string_lossy())) {
        return Some(v);
    }
    let mut versions: Vec<String> =
        std::fs::read_dir(dir).ok()?.flatten().filter_map(|e| from_name(&e.file_name().to_string_lossy())).collect();
    versions.sort();
    versions.pop()
}

/// The directories under `/etc` the JDK's `conf` and `lib` link into (Debian: `/etc/java-17-openjdk`).
fn etc_links(java_home: &Path) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut pending = vec![java_home.join("conf"), java_home.join("lib")];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_symlink() {
                let Ok(target) = std::fs::canonicalize(entry.path()) else { continue };
                let mut parts = target.components().skip(1);
                if let (Some(etc), Some(top)) = (parts.next(), parts.next()) {
                    let top = top.as_os_str().to_string_lossy();
                    if etc.as_os_str() == "etc" && top.starts_with("java") {
                        let dir = format!("/etc/{top}");
                        if !found.contains(&dir) {
                            found.push(dir);
                        }
                    }
                }
            }
        }
    }
    found.sort();
    found
}

export_runner!(JavaRunner);

#[cfg(test)]
mod tests {
    use super::*;
    use acejudge_runner_api::RequestLimits;

    fn toolchain() -> Toolchain {
        Toolchain {
            version: "Java 17.0.15".into(),
            programs: BTreeMap::from([
                ("java".into(), "/jdk/bin/java".into()),
                ("javac".into(), "/jdk/bin/javac".into()),
                ("junit_console".into(), "/j/junit-platform-console-standalone.jar".into()),
                ("junit_classpath".into(), "/j/a.jar:/j/b.jar".into()),
            ]),
            readonly_paths: vec![],
            allowances: Allowances::default(),
            caches: vec![],
        }
    }

    fn request(mode: Mode, entry: &str) -> PlanRequest {
        let limits =
            StepLimits { wall_ms: 3000, cpu_ms: 6000, memory_bytes: 256 << 20, pids: 64, output_bytes: 1 << 20 };
        PlanRequest {
            mode,
            entry: entry.into(),
            files: vec![entry.into(), "RateLimiterTest.java".into()],
            limits: RequestLimits { compile: limits, run: limits },
            caches: BTreeMap::new(),
        }
    }

    #[test]
    fn the_jvm_is_sized_from_the_memory_limit() {
        let options = jvm_options(512 << 20);
        assert_eq!(options[..2], ["-Xmx307m".to_string(), "-XX:MaxMetaspaceSize=76m".to_string()]);
        assert!(options.contains(&"-XX:+UseSerialGC".to_string()));
        assert!(options.contains(&"-XX:TieredStopAtLevel=1".to_string()));
        assert_eq!(jvm_options(64 << 20)[..2], ["-Xmx38m".to_string(), "-XX:MaxMetaspaceSize=32m".to_string()]);
    }

    #[test]
    fn tests_compile_with_junit_and_run_the_console_launcher_with_the_listener() {
        let plan = JavaRunner.plan(&toolchain(), &request(Mode::Tests, "RateLimiter.java")).unwrap();
        let compile = plan.compile.unwrap();
        let tail: Vec<&str> = compile.argv.iter().rev().take(5).rev().map(String::as_str).collect();
        assert_eq!(
            tail,
            ["-cp", "/j/a.jar:/j/b.jar", "AceJudgeListener.java", "RateLimiter.java", "RateLimiterTest.java"]
        );
        assert!(compile.argv.contains(&"-J-Xmx307m".to_string()), "{:?}", compile.argv);
        assert_eq!(plan.run.limits.memory_bytes, 512 << 20);
        assert!(plan.run.cgroup_view);
        let run: Vec<&str> = plan.run.argv.iter().map(String::as_str).collect();
        assert_eq!(run[0], "/jdk/bin/java");
        assert!(run.contains(&"-Xmx307m") && run.contains(&"-Xss8m"));
        let launcher = run.iter().position(|a| *a == "-jar").unwrap();
        assert_eq!(
            run[launcher..],
            [
                "-jar",
                "/j/junit-platform-console-standalone.jar",
                "-cp",
                "out",
                "--scan-class-path",
                "--disable-banner",
                "--disable-ansi-colors",
                "--details=tree"
            ]
        );
        assert_eq!(plan.report, ReportSource::File { path: REPORT_FILE.into() });
        assert_eq!(plan.files[1].path, SERVICES_FILE);
    }

    #[test]
    fn each_compile_step_declares_the_classes_directory_its_run_step_reads() {
        for mode in [Mode::Program, Mode::Tests] {
            let plan = JavaRunner.plan(&toolchain(), &request(mode, "RateLimiter.java")).unwrap();
            let compile = plan.compile.unwrap();
            assert_eq!(compile.outputs, [CLASSES_DIR], "{mode:?}");
            let d = compile.argv.iter().position(|a| a == "-d").unwrap();
            assert_eq!(compile.argv[d + 1], CLASSES_DIR, "{mode:?}: the declared output is what `-d` writes");
            let cp = plan.run.argv.iter().position(|a| a == "-cp").unwrap();
            assert_eq!(plan.run.argv[cp + 1], CLASSES_DIR, "{mode:?}: the run's class path");
            assert!(plan.run.outputs.is_empty(), "{mode:?}: a run step declares nothing");
        }
    }

    #[test]
    fn programs_run_the_entry_class_and_reject_a_bad_file_name() {
        let plan = JavaRunner.plan(&toolchain(), &request(Mode::Program, "Main.java")).unwrap();
        assert_eq!(plan.run.argv.last().map(String::as_str), Some("Main"));
        assert_eq!(plan.compile.unwrap().argv.last().map(String::as_str), Some("Main.java"));
        assert!(JavaRunner.plan(&toolchain(), &request(Mode::Program, "my-main.java")).is_err());
    }

    #[test]
    fn the_recorded_reports_give_each_status_and_keep_a_killed_run() {
        let output = |report: &str| StepOutput {
            step: acejudge_runner_api::StepKind::Run,
            mode: Mode::Tests,
            entry: "Calc.java".into(),
            status: acejudge_runner_api::StepStatus::NonzeroExit,
            exit_code: Some(1),
            signal: None,
            wall_ms: 900,
            stdout: String::new(),
            stderr: String::new(),
            stdout_truncated: false,
            stderr_truncated: false,
            report: Some(report.into()),
        };
        let report = JavaRunner.parse_report(&output(include_str!("../fixtures/report-complete.jsonl"))).unwrap();
        assert!(report.complete);
        let got: Vec<(&str, TestStatus)> = report.tests.iter().map(|t| (t.name.as_str(), t.status)).collect();
        assert_eq!(
            got,
            [
                ("CalcTest > errors()", TestStatus::Error),
                ("CalcTest > adds()", TestStatus::Pass),
                ("CalcTest > fails with a message", TestStatus::Fail),
                ("CalcTest > skipped()", TestStatus::Skipped),
                ("CalcTest > Inner > deep()", TestStatus::Fail),
            ]
        );
        assert_eq!(
            report.tests[2].message.as_deref(),
            Some("org.opentest4j.AssertionFailedError: sum of 1 and 1 ==> expected: <3> but was: <2>\n\tat CalcTest.fails(CalcTest.java:5)")
        );
        let killed = JavaRunner.parse_report(&output(include_str!("../fixtures/report-killed.jsonl"))).unwrap();
        assert!(!killed.complete);
        let last = killed.tests.last().unwrap();
        assert_eq!((last.name.as_str(), last.status), ("CalcTest > hangs()", TestStatus::Error));
        assert_eq!(killed.count(TestStatus::Pass), 1);
    }
}
