//! A streaming JSON-lines report format for test drivers that run inside the
//! test process (a Python unittest result class, a JUnit listener).
//!
//! One JSON object per line, each written with a single `write` as it happens:
//!
//! ```text
//! {"event": "start", "name": "test_x.T.test_a"}
//! {"name": "test_x.T.test_a", "status": "pass", "duration_ms": 0.4, "message": null}
//! {"event": "end"}
//! ```
//!
//! [`parse_json_lines`] keeps every finished test, turns a test that started
//! but never finished into an `error` ("did not finish"), ignores a torn last
//! line and any line that is not such an object, and marks the report
//! complete only when the `end` event is there.

use crate::types::{TestCase, TestReport, TestStatus};
use serde::Deserialize;

/// The message of a test that was running when the run ended.
pub const DID_NOT_FINISH: &str = "did not finish: the run ended while this test was running";

#[derive(Deserialize)]
struct Line {
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    status: Option<TestStatus>,
    #[serde(default)]
    duration_ms: Option<f64>,
    #[serde(default)]
    message: Option<String>,
}

/// Reads a JSON-lines report (see the module doc).
pub fn parse_json_lines(text: &str) -> TestReport {
    let mut report = TestReport::default();
    let mut running: Vec<String> = Vec::new();
    for raw in text.lines() {
        let Ok(line) = serde_json::from_str::<Line>(raw) else { continue };
        match (line.event.as_deref(), line.name, line.status) {
            (Some("start"), Some(name), _) => running.push(name),
            (Some("end"), _, _) => report.complete = true,
            (None, Some(name), Some(status)) => {
                if let Some(i) = running.iter().position(|r| *r == name) {
                    running.remove(i);
                }
                let message = line.message.filter(|m| !m.trim().is_empty()).map(|m| crate::clip(&m, 4000));
                report.tests.push(TestCase { name, status, duration_ms: line.duration_ms, message });
            }
            _ => {}
        }
    }
    for name in running {
        report.tests.push(TestCase {
            name,
            status: TestStatus::Error,
            duration_ms: None,
            message: Some(DID_NOT_FINISH.into()),
        });
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_tests_are_kept_and_an_unfinished_one_is_an_error() {
        let text = concat!(
            "{\"event\": \"start\", \"name\": \"a\"}\n",
            "{\"name\": \"a\", \"status\": \"pass\", \"duration_ms\": 1.5, \"message\": null}\n",
            "not json at all\n",
            "{\"event\": \"start\", \"name\": \"b\"}\n",
            "{\"name\": \"b\", \"status\": \"fa",
        );
        let report = parse_json_lines(text);
        assert!(!report.complete);
        assert_eq!(report.tests.len(), 2);
        assert_eq!(report.tests[0].status, TestStatus::Pass);
        assert_eq!(report.tests[0].duration_ms, Some(1.5));
        assert_eq!(report.tests[1].name, "b");
        assert_eq!(report.tests[1].status, TestStatus::Error);
        assert_eq!(report.tests[1].message.as_deref(), Some(DID_NOT_FINISH));
    }

    #[test]
    fn the_end_event_marks_the_report_complete() {
        let report = parse_json_lines(
            "{\"name\": \"a\", \"status\": \"skipped\", \"message\": \"later\"}\n{\"event\": \"end\"}\n",
        );
        assert!(report.complete);
        assert_eq!(report.tests[0].message.as_deref(), Some("later"));
    }
}
