//! The compile-output cache (`plugins::artifacts`) on the real sandbox and
//! the real Go and Java toolchains: a second identical job skips its compile
//! and gives the same result; one changed byte misses; failed compiles,
//! over-size outputs and planted links are never cached; eviction keeps the
//! bound; two slots compiling the same inputs at once leave one entry.
//!
//! Needs root (the sandbox) and the toolchains; a missing one is reported as
//! a skip locally and fails on CI. Each test has its own cache directory;
//! Go's prepared build cache is shared (prepared once).

#[path = "plugins/common.rs"]
mod common;

use acejudge::plugins::api::{Mode, TestStatus};
use acejudge::plugins::artifacts::{read_outputs, ArtifactError};
use acejudge::plugins::{self, ArtifactCache, CacheStore, Execution, Job, LoadedRunner};
use acejudge::sandbox::Status;
use acejudge_tests::{harness, Harness, Run};
use common::{caches, runner_or_skip};
use std::sync::OnceLock;

/// Prints `hello <stdin>`, then whether its own binary belongs to the run's
/// uid and gid, and its mode: what a restored output must look like.
const HELLO_GO: &str = r#"package main

import (
	"bufio"
	"fmt"
	"os"
	"syscall"
)

func main() {
	name, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	fmt.Printf("hello %s", name)
	info, err := os.Stat("/box/.acejudge-bin")
	if err != nil {
		fmt.Println(err)
		return
	}
	st := info.Sys().(*syscall.Stat_t)
	fmt.Printf("mine %v %v, %v\n", st.Uid == uint32(os.Getuid()), st.Gid == uint32(os.Getgid()), info.Mode())
}
"#;

const GO_SUITE: &[(&str, &str)] = &[
    ("go.mod", "module calc\n\ngo 1.19\n"),
    ("calc.go", "package calc\n\nfunc Add(a, b int) int { return a + b }\n"),
    (
        "calc_test.go",
        "package calc\n\nimport \"testing\"\n\nfunc TestAdds(t *testing.T) { if Add(1, 1) != 2 { t.Fatal(\"1 + 1\") } }\nfunc TestFails(t *testing.T) { t.Errorf(\"expected 3, got %d\", Add(1, 1)) }\n",
    ),
];

const JAVA_MAIN: &str = "import java.util.Scanner;\n\npublic class Main {\n    public static void main(String[] args) {\n        System.out.println(\"hello \" + new Scanner(System.in).nextLine());\n    }\n}\n";

const JAVA_SUITE: &[(&str, &str)] = &[
    ("Calc.java", "public class Calc {\n    static int add(int a, int b) { return a + b; }\n}\n"),
    (
        "CalcTest.java",
        "import org.junit.jupiter.api.*;\nimport static org.junit.jupiter.api.Assertions.*;\n\nclass CalcTest {\n    @Test void adds() { assertEquals(2, Calc.add(1, 1)); }\n    @Test void fails() { assertEquals(3, Calc.add(1, 1), \"1 + 1\"); }\n}\n",
    ),
];

/// The harness and `id`'s runner, with its prepared caches made once (so
/// each test's own store does not prepare them again).
fn ready(test: &str, id: &str) -> Option<(&'static Harness, &'static LoadedRunner)> {
    let h = harness(test)?;
    let runner = runner_or_skip(test, id)?;
    static GO_PREPARED: OnceLock<()> = OnceLock::new();
    if id == "go" {
        GO_PREPARED.get_or_init(|| {
            let lease = h.lease();
            let prepared = caches().prepare_all(&h.sandbox, lease.slot, runner);
            assert!(prepared.contains_key("gocache"), "Go's build cache is prepared");
        });
    }
    Some((h, runner))
}

/// A store sharing the prepared caches, with its own compile-output cache of `bytes`.
struct Store {
    dir: tempfile::TempDir,
    caches: CacheStore,
}

impl Store {
    fn new(bytes: u64) -> Store {
        let dir = tempfile::Builder::new().prefix("acejudge-artifacts-").tempdir().expect("temp dir");
        let caches =
            CacheStore::new(caches().root()).with_artifacts(Some(ArtifactCache::new(&dir.path().join("a"), bytes)));
        Store { dir, caches }
    }

    fn artifacts(&self) -> &ArtifactCache {
        self.caches.artifacts().expect("on")
    }

    /// Entry directories, and anything else left in the cache's root.
    fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path().join("a"))
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }
}

fn execute(h: &Harness, runner: &LoadedRunner, store: &Store, job: &Job) -> Execution {
    let lease = h.lease();
    plugins::execute(&h.sandbox, lease.slot, runner, &store.caches, job).expect("the job runs")
}

fn program(entry: &str, source: &str, stdin: &str) -> Job {
    let mut job = Job::new(Mode::Program, entry, vec![(entry.to_string(), source.as_bytes().to_vec())]);
    job.stdin = stdin.as_bytes().to_vec();
    job
}

fn suite(entry: &str, files: &[(&str, &str)]) -> Job {
    let files = files.iter().map(|(n, s)| (n.to_string(), s.as_bytes().to_vec())).collect();
    Job::new(Mode::Tests, entry, files)
}

fn stdout(execution: &Execution) -> String {
    let run = execution.run.as_ref().expect("the run step ran");
    assert_eq!(run.outcome.status, Status::Ok, "stderr: {}", String::from_utf8_lossy(&run.outcome.stderr));
    String::from_utf8_lossy(&run.outcome.stdout).into_owned()
}

fn cached(execution: &Execution) -> bool {
    let compile = execution.compile.as_ref().expect("a compile step");
    assert_eq!(compile.outcome.status, Status::Ok, "the compile succeeded (or was cached)");
    compile.cached
}

fn statuses(execution: &Execution) -> Vec<(String, TestStatus)> {
    let report = execution.report.as_ref().expect("a report");
    assert!(report.complete, "the suite ran to its end");
    report.tests.iter().map(|t| (t.name.clone(), t.status)).collect()
}

#[test]
fn a_second_identical_go_run_skips_the_compile_and_prints_the_same() {
    let test = "a_second_identical_go_run_skips_the_compile_and_prints_the_same";
    let Some((h, runner)) = ready(test, "go") else { return };
    let store = Store::new(64 << 20);

    let first = execute(h, runner, &store, &program("main.go", HELLO_GO, "world\n"));
    assert!(!cached(&first), "nothing cached yet");
    assert_eq!(stdout(&first), "hello world\nmine true true, -rwxr-xr-x\n");
    assert_eq!(store.listing().len(), 1, "one entry, no temporary left: {:?}", store.listing());

    let second = execute(h, runner, &store, &program("main.go", HELLO_GO, "world\n"));
    assert!(cached(&second), "byte-identical inputs: the compile is skipped");
    let compile = second.compile.as_ref().unwrap();
    assert_eq!((compile.outcome.wall_ms, compile.outcome.cpu_user_ms, compile.outcome.exit_code), (0, 0, Some(0)));
    assert_eq!(stdout(&second), stdout(&first), "the cached binary, owned by the run's uid, with its mode");
    let json = serde_json::to_value(&second).unwrap();
    assert_eq!(json["compile"]["cached"], true, "{json}");
    assert_eq!(json["compile"]["outcome"]["status"]["kind"], "ok", "{json}");
    assert_eq!(serde_json::to_value(&first).unwrap()["compile"]["cached"], false);

    let other_stdin = execute(h, runner, &store, &program("main.go", HELLO_GO, "again\n"));
    assert!(cached(&other_stdin), "the compile step does not read stdin: still a hit");
    assert!(stdout(&other_stdin).starts_with("hello again\n"));

    let changed = HELLO_GO.replacen("hello %s", "hellp %s", 1);
    assert_eq!(changed.len(), HELLO_GO.len(), "one byte changed");
    let third = execute(h, runner, &store, &program("main.go", &changed, "world\n"));
    assert!(!cached(&third), "one byte changed: a miss");
    assert!(stdout(&third).starts_with("hellp world\n"), "{}", stdout(&third));

    let renamed = execute(h, runner, &store, &program("hello.go", HELLO_GO, "world\n"));
    assert!(!cached(&renamed), "another file name: a miss");
    assert_eq!(store.listing().len(), 3, "{:?}", store.listing());
}

#[test]
fn a_go_suite_from_a_cached_test_binary_reports_exactly_the_same() {
    let test = "a_go_suite_from_a_cached_test_binary_reports_exactly_the_same";
    let Some((h, runner)) = ready(test, "go") else { return };
    let store = Store::new(64 << 20);
    let first = execute(h, runner, &store, &suite("calc.go", GO_SUITE));
    assert!(!cached(&first));
    let expected = [("TestAdds".to_string(), TestStatus::Pass), ("TestFails".to_string(), TestStatus::Fail)];
    assert_eq!(statuses(&first), expected);
    let second = execute(h, runner, &store, &suite("calc.go", GO_SUITE));
    assert!(cached(&second), "the test binary came from the cache");
    assert_eq!(statuses(&second), expected);
    assert_eq!(
        second.report.as_ref().unwrap().tests[1].message,
        first.report.as_ref().unwrap().tests[1].message,
        "the same failure message"
    );
}

#[test]
fn java_classes_from_the_cache_run_programs_and_suites_exactly_the_same() {
    let test = "java_classes_from_the_cache_run_programs_and_suites_exactly_the_same";
    let Some((h, runner)) = ready(test, "java") else { return };
    let store = Store::new(64 << 20);
    let first = execute(h, runner, &store, &program("Main.java", JAVA_MAIN, "world\n"));
    assert!(!cached(&first));
    assert_eq!(stdout(&first), "hello world\n");
    let second = execute(h, runner, &store, &program("Main.java", JAVA_MAIN, "world\n"));
    assert!(cached(&second));
    assert_eq!(stdout(&second), "hello world\n");

    // The suite's listener registration is placed in `out/` before the
    // compile: the cached `out/` replaces it with the same file, never twice.
    let first = execute(h, runner, &store, &suite("Calc.java", JAVA_SUITE));
    assert!(!cached(&first));
    let expected =
        [("CalcTest > adds()".to_string(), TestStatus::Pass), ("CalcTest > fails()".to_string(), TestStatus::Fail)];
    assert_eq!(statuses(&first), expected);
    let second = execute(h, runner, &store, &suite("Calc.java", JAVA_SUITE));
    assert!(cached(&second), "the classes came from the cache");
    assert_eq!(statuses(&second), expected, "the listener still reports every test");
}

#[test]
fn a_failed_compile_is_never_cached() {
    let test = "a_failed_compile_is_never_cached";
    let Some((h, runner)) = ready(test, "go") else { return };
    let store = Store::new(64 << 20);
    let broken = "package main\n\nfunc main() {\n\tundefinedName()\n}\n";
    for _ in 0..2 {
        let execution = execute(h, runner, &store, &program("main.go", broken, ""));
        let compile = execution.compile.as_ref().unwrap();
        assert!(!compile.cached);
        assert_eq!(compile.outcome.status, Status::NonzeroExit);
        assert!(compile.diagnosis.as_ref().is_some_and(|d| d.message.contains("undefinedName")));
        assert!(execution.run.is_none());
    }
    assert!(store.listing().is_empty(), "{:?}", store.listing());
}

#[test]
fn outputs_larger_than_an_entry_may_be_are_not_cached() {
    let test = "outputs_larger_than_an_entry_may_be_are_not_cached";
    let Some((h, runner)) = ready(test, "go") else { return };
    // A Go hello world is about 2 MiB: over a 1 MiB cache's entry bound.
    let store = Store::new(1 << 20);
    for _ in 0..2 {
        let execution = execute(h, runner, &store, &program("main.go", HELLO_GO, "world\n"));
        assert!(!cached(&execution), "too large to be cached");
        assert!(stdout(&execution).starts_with("hello world\n"));
    }
    assert_eq!(store.artifacts().total_bytes(), 0);
    assert!(store.listing().is_empty(), "nothing stored, no temporary left: {:?}", store.listing());
}

#[test]
fn eviction_keeps_the_cache_under_its_bound_least_recently_used_first() {
    let test = "eviction_keeps_the_cache_under_its_bound_least_recently_used_first";
    let Some((h, runner)) = ready(test, "go") else { return };
    let variant = |n: u32| HELLO_GO.replacen("hello %s", &format!("hello{n} %s"), 1);
    // Learn one entry's size, then bound a cache to one and a half of it.
    let probe = Store::new(64 << 20);
    execute(h, runner, &probe, &program("main.go", &variant(0), "world\n"));
    let one = probe.artifacts().total_bytes();
    assert!(one > 1 << 20, "a Go binary is over 1 MiB: {one}");
    let bound = one + one / 2;
    let store = Store::new(bound);

    let a = execute(h, runner, &store, &program("main.go", &variant(1), "world\n"));
    assert!(!cached(&a));
    assert!(store.artifacts().total_bytes() <= bound);
    let b = execute(h, runner, &store, &program("main.go", &variant(2), "world\n"));
    assert!(!cached(&b));
    let total = store.artifacts().total_bytes();
    assert!(total > 0 && total <= bound, "total {total}, bound {bound}");
    assert_eq!(store.listing().len(), 1, "the older entry was evicted: {:?}", store.listing());
    let b_again = execute(h, runner, &store, &program("main.go", &variant(2), "world\n"));
    assert!(cached(&b_again), "the most recent entry is kept");
    let a_again = execute(h, runner, &store, &program("main.go", &variant(1), "world\n"));
    assert!(!cached(&a_again), "the least recently used entry was evicted");
    assert!(store.artifacts().total_bytes() <= bound);
}

#[test]
fn two_slots_compiling_the_same_inputs_at_once_leave_one_entry() {
    let test = "two_slots_compiling_the_same_inputs_at_once_leave_one_entry";
    let Some((h, runner)) = ready(test, "go") else { return };
    let store = Store::new(64 << 20);
    let source = HELLO_GO.replacen("hello %s", "hello-twice %s", 1);
    let outputs: Vec<String> = std::thread::scope(|scope| {
        let jobs: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| stdout(&execute(h, runner, &store, &program("main.go", &source, "world\n")))))
            .collect();
        jobs.into_iter().map(|j| j.join().expect("no panic")).collect()
    });
    assert_eq!(outputs[0], outputs[1]);
    let listing = store.listing();
    assert_eq!(listing.len(), 1, "one entry, no temporary left: {listing:?}");
    assert!(listing[0].len() == 64 && listing[0].bytes().all(|b| b.is_ascii_hexdigit()), "{listing:?}");
    let third = execute(h, runner, &store, &program("main.go", &source, "world\n"));
    assert!(cached(&third));
}

#[test]
fn links_planted_by_a_sandboxed_run_in_place_of_outputs_are_never_followed() {
    let test = "links_planted_by_a_sandboxed_run_in_place_of_outputs_are_never_followed";
    let Some(h) = harness(test) else { return };
    let lease = h.lease();
    let plant =
        "ln -s /etc/shadow .acejudge-bin && mkdir out && echo x > out/A.class && ln -s /etc/shadow out/B.class \
                 && ln -s /etc linked && ln -s /proc/self/root/etc/shadow magic && { mkfifo pipe || true; } && echo ok";
    let (outcome, boxed) = h.run_in(lease.slot, Run::new(&["/bin/sh", "-c", plant]));
    assert_eq!(
        (outcome.status.clone(), String::from_utf8_lossy(&outcome.stdout).trim()),
        (Status::Ok, "ok"),
        "{}",
        String::from_utf8_lossy(&outcome.stderr)
    );
    for output in [".acejudge-bin", "out", "linked/shadow", "pipe", "magic", "../../../etc/shadow"] {
        let result = read_outputs(boxed.path(), &[output.to_string()], 1 << 20);
        match result {
            Err(ArtifactError::Read { .. } | ArtifactError::NotPlain { .. } | ArtifactError::Name { .. }) => {}
            other => panic!("{output}: must be refused, got {other:?}"),
        }
    }
    let fine = read_outputs(boxed.path(), &["out/A.class".to_string()], 1 << 20).expect("a plain file is read");
    assert_eq!(fine.bytes(), 2);
}
