//! `go test -json` (test2json) output → a [`TestReport`].
//!
//! One JSON event per line: `run`, `output`, `pass`, `fail`, `skip` for each
//! test (`Test` set), and a final `pass`/`fail` for the package (`Test`
//! absent), which is what marks the report complete. A panic ends the test
//! binary: the panicking test is an `error`, later tests never run, and the
//! package event never comes. A test that started and never ended (the run
//! was killed) is an `error` that did not finish.
//!
//! Only leaves are reported: `TestTable/case` but not `TestTable`, unless the
//! parent failed by itself.

use acejudge_runner_api::serde::Deserialize;
use acejudge_runner_api::{clip, report::DID_NOT_FINISH, serde_json, TestCase, TestReport, TestStatus};
use std::collections::HashMap;

#[derive(Deserialize)]
#[serde(crate = "acejudge_runner_api::serde")]
struct Event {
    #[serde(rename = "Action")]
    action: String,
    #[serde(rename = "Test", default)]
    test: Option<String>,
    #[serde(rename = "Output", default)]
    output: Option<String>,
    #[serde(rename = "Elapsed", default)]
    elapsed: Option<f64>,
}

#[derive(Default)]
struct Test {
    name: String,
    output: Vec<String>,
    result: Option<(String, Option<f64>)>,
}

pub fn parse(text: &str) -> TestReport {
    let mut tests: Vec<Test> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut complete = false;
    for line in text.lines() {
        let Ok(event) = serde_json::from_str::<Event>(line) else { continue };
        let Some(name) = event.test else {
            if matches!(event.action.as_str(), "pass" | "fail") {
                complete = true;
            }
            continue;
        };
        let i = *index.entry(name.clone()).or_insert_with(|| {
            tests.push(Test { name, ..Test::default() });
            tests.len() - 1
        });
        match event.action.as_str() {
            "output" => tests[i].output.extend(event.output),
            "pass" | "fail" | "skip" => tests[i].result = Some((event.action, event.elapsed)),
            _ => {}
        }
    }
    let has_children =
        |name: &str| tests.iter().any(|t| t.name.len() > name.len() + 1 && t.name.starts_with(&format!("{name}/")));
    // A child that failed, panicked or never finished.
    let child_failed = |name: &str| {
        let prefix = format!("{name}/");
        tests
            .iter()
            .filter(|t| t.name.starts_with(&prefix))
            .any(|t| !matches!(t.result.as_ref().map(|(a, _)| a.as_str()), Some("pass" | "skip")))
    };
    let mut report = TestReport { tests: Vec::new(), complete };
    for test in &tests {
        let panicked = test.output.iter().any(|l| l.starts_with("panic: "));
        if has_children(&test.name) && !panicked && (test.result.is_none() || child_failed(&test.name) || passed(test))
        {
            continue;
        }
        let duration_ms =
            test.result.as_ref().and_then(|(_, e)| *e).or_else(|| marker_seconds(&test.output)).map(|s| s * 1000.0);
        let (status, message) = match test.result.as_ref().map(|(a, _)| a.as_str()) {
            _ if panicked => (TestStatus::Error, Some(panic_message(&test.output))),
            Some("pass") => (TestStatus::Pass, None),
            Some("skip") => (TestStatus::Skipped, Some(clean_output(&test.output))),
            // test2json ends a test the binary never finished (killed) with a `fail`
            // the test itself never printed (no `--- FAIL` line).
            Some("fail") if !complete && !test.output.iter().any(|l| l.trim_start().starts_with("--- FAIL")) => {
                (TestStatus::Error, Some(DID_NOT_FINISH.to_string()))
            }
            Some(_) => (TestStatus::Fail, Some(clean_output(&test.output))),
            None => (TestStatus::Error, Some(DID_NOT_FINISH.to_string())),
        };
        let message = message.filter(|m| !m.is_empty()).map(|m| clip(&m, 4000));
        report.tests.push(TestCase { name: test.name.clone(), status, duration_ms, message });
    }
    report
}

/// `--- PASS: TestX (0.25s)` → 0.25 (when the events carry no `Elapsed`).
fn marker_seconds(output: &[String]) -> Option<f64> {
    output.iter().find_map(|l| {
        let l = l.trim();
        if !(l.starts_with("--- PASS") || l.starts_with("--- FAIL") || l.starts_with("--- SKIP")) {
            return None;
        }
        l.rsplit_once(" (")?.1.strip_suffix("s)")?.parse().ok()
    })
}

fn passed(test: &Test) -> bool {
    test.result.as_ref().is_some_and(|(a, _)| a == "pass")
}

/// The test's own lines (`t.Errorf` output), without the framework's markers.
fn clean_output(output: &[String]) -> String {
    let markers = ["=== RUN", "=== PAUSE", "=== CONT", "=== NAME", "--- PASS", "--- FAIL", "--- SKIP"];
    let lines: Vec<&str> = output
        .iter()
        .flat_map(|chunk| chunk.lines())
        .filter(|l| !markers.iter().any(|m| l.trim_start().starts_with(m)))
        .filter(|l| !matches!(l.trim(), "PASS" | "FAIL"))
        .map(|l| l.strip_prefix("    ").unwrap_or(l).trim_end())
        .collect();
    lines.join("\n").trim().replace("/box/", "")
}

/// `panic: …` and the stack frames in the box's files.
pub fn panic_message(output: &[String]) -> String {
    let lines: Vec<&str> = output.iter().flat_map(|chunk| chunk.lines()).collect();
    let mut message: Vec<String> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with("panic: ") || trimmed.starts_with("fatal error: ") {
            message.push(trimmed.trim_end_matches(" [recovered]").to_string());
        } else if trimmed.starts_with("/box/") && i > 0 {
            message.push(format!("    {}", lines[i - 1].trim()));
            let file = trimmed.trim_start_matches("/box/");
            message.push(format!("        {}", file.split(" +0x").next().unwrap_or(file)));
        }
    }
    message.dedup();
    message.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statuses(report: &TestReport) -> Vec<(&str, TestStatus)> {
        report.tests.iter().map(|t| (t.name.as_str(), t.status)).collect()
    }

    #[test]
    fn the_recorded_run_gives_each_status_and_message() {
        let report = parse(include_str!("../fixtures/test2json-complete.jsonl"));
        assert!(report.complete);
        assert_eq!(
            statuses(&report),
            [
                ("TestAdd", TestStatus::Pass),
                ("TestFails", TestStatus::Fail),
                ("TestSkip", TestStatus::Skipped),
                ("TestTable/one_plus_one", TestStatus::Pass),
                ("TestTable/two_plus_two", TestStatus::Fail),
                ("TestNeverRuns", TestStatus::Pass),
            ]
        );
        assert_eq!(report.tests[1].message.as_deref(), Some("calc_test.go:10: expected 3, got 2"));
        assert_eq!(report.tests[2].message.as_deref(), Some("calc_test.go:11: later"));
        assert_eq!(report.tests[4].message.as_deref(), Some("calc_test.go:14: expected 4, got 5"));
    }

    #[test]
    fn a_panic_is_an_error_and_the_suite_is_cut_short() {
        let report = parse(include_str!("../fixtures/test2json-panic.jsonl"));
        assert!(!report.complete, "the package never reported its end");
        let last = report.tests.last().unwrap();
        assert_eq!((last.name.as_str(), last.status), ("TestPanics", TestStatus::Error));
        assert!(last
            .message
            .as_deref()
            .unwrap()
            .starts_with("panic: assignment to entry in nil map\n    calc.TestPanics("));
        assert!(last.message.as_deref().unwrap().ends_with("\n        calc_test.go:16"));
        assert!(!report.tests.iter().any(|t| t.name == "TestNeverRuns"));
    }

    #[test]
    fn events_without_elapsed_times_read_the_same() {
        // Recorded in the sandbox without `-t`: no Elapsed fields, a panic ends the suite.
        let report = parse(include_str!("../fixtures/test2json-sandbox-panic.jsonl"));
        assert!(!report.complete);
        assert_eq!(
            statuses(&report),
            [
                ("TestAdds", TestStatus::Pass),
                ("TestFails", TestStatus::Fail),
                ("TestSkipped", TestStatus::Skipped),
                ("TestTable/one", TestStatus::Pass),
                ("TestTable/two", TestStatus::Fail),
                ("TestErrors", TestStatus::Error),
            ]
        );
        assert_eq!(report.tests[0].duration_ms, Some(0.0));
        assert_eq!(report.tests[1].message.as_deref(), Some("calc_test.go:11: expected 3, got 2"));
        assert!(report.tests[5].message.as_deref().unwrap().starts_with("panic: assignment to entry in nil map"));
    }

    #[test]
    fn a_test_cut_off_by_the_sandbox_is_an_error_not_a_failure() {
        // Recorded in the sandbox: the wall limit killed the test binary inside TestSpins,
        // and test2json closed the test with a `fail` that has no elapsed time.
        let report = parse(include_str!("../fixtures/test2json-killed-in-sandbox.jsonl"));
        assert!(!report.complete);
        assert_eq!(statuses(&report), [("TestAdds", TestStatus::Pass), ("TestSpins", TestStatus::Error)]);
        assert_eq!(report.tests[1].message.as_deref(), Some(DID_NOT_FINISH));
    }

    #[test]
    fn a_run_killed_mid_suite_keeps_the_tests_reported_so_far() {
        let report = parse(include_str!("../fixtures/test2json-killed.jsonl"));
        assert!(!report.complete);
        assert_eq!(report.tests.len(), 7);
        let hung = report.tests.last().unwrap();
        assert_eq!((hung.name.as_str(), hung.status), ("TestHangs", TestStatus::Error));
        assert_eq!(hung.message.as_deref(), Some(DID_NOT_FINISH));
        assert_eq!(
            report.tests[5],
            TestCase { name: "TestNeverRuns".into(), status: TestStatus::Pass, duration_ms: Some(0.0), message: None }
        );
    }
}
