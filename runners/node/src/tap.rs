//! Node's `--test-reporter=tap` output → a [`TestReport`].
//!
//! Node writes TAP 13 as tests finish (so a killed run keeps what was
//! written). Subtests come before their parent, indented four spaces more;
//! `# Subtest: name` opens each test; a YAML block (`---` … `...`) follows
//! each test point with `duration_ms`, `failureType`, `error`, `name`,
//! `location`, `stack`. Stdout and stderr of the test files appear as `# `
//! comments. A file that fails to load is a top-level `not ok` named by its
//! path, preceded by its stderr as comments.
//!
//! Only leaves are reported; a parent or suite appears only when it failed by
//! itself (a hook failed), not because a subtest did. The suite is complete
//! when the top-level plan (`1..N`) was written.

use acejudge_runner_api::{clip, report::DID_NOT_FINISH, TestCase, TestReport, TestStatus};
use std::collections::BTreeMap;

struct Point {
    indent: usize,
    ok: bool,
    directive: Option<&'static str>,
    name: String,
    yaml: BTreeMap<String, String>,
}

pub fn parse(text: &str) -> TestReport {
    let lines: Vec<&str> = text.lines().collect();
    let mut report = TestReport::default();
    // The `# Subtest:` names open at each nesting level (indent / 4).
    let mut open: Vec<Option<String>> = Vec::new();
    // Whether a test point was seen at a level since its parent's last point.
    let mut had_points: Vec<bool> = Vec::new();
    let mut comments: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        let indent = line.len() - line.trim_start_matches(' ').len();
        let level = indent / 4;
        let body = &line[indent..];
        if let Some(name) = body.strip_prefix("# Subtest: ") {
            set(&mut open, level, Some(name.to_string()));
            open.truncate(level + 1);
        } else if let Some(comment) = body.strip_prefix('#') {
            comments.push(comment.strip_prefix(' ').unwrap_or(comment).to_string());
        } else if level == 0 && body.starts_with("1..") {
            report.complete = true;
        } else if let Some(mut point) = test_point(body, indent) {
            let (yaml, next) = yaml_block(&lines, i, indent + 2);
            point.yaml = yaml;
            i = next;
            let has_children = had_points.get(level + 1).copied().unwrap_or(false);
            set(&mut had_points, level + 1, false);
            set(&mut had_points, level, true);
            let parents: Vec<String> = open.iter().take(level).flatten().cloned().collect();
            if open.len() > level {
                open[level] = None;
            }
            if let Some(case) = case(&point, parents, has_children, &comments) {
                report.tests.push(case);
            }
            comments.clear();
        }
    }
    // A test that started but whose result never came: the run ended inside it.
    // Only the innermost open one is reported (its parents are open because of it).
    if !report.complete {
        if let Some(deepest) = open.iter().rposition(Option::is_some) {
            let name: Vec<String> = open.iter().take(deepest + 1).flatten().cloned().collect();
            report.tests.push(TestCase {
                name: name.join(" > "),
                status: TestStatus::Error,
                duration_ms: None,
                message: Some(DID_NOT_FINISH.into()),
            });
        }
    }
    report
}

fn set<T: Default + Clone>(v: &mut Vec<T>, index: usize, value: T) {
    if v.len() <= index {
        v.resize(index + 1, T::default());
    }
    v[index] = value;
}

/// `ok 3 - name # SKIP` / `not ok 2 - name`
fn test_point(body: &str, indent: usize) -> Option<Point> {
    let (ok, rest) =
        if let Some(rest) = body.strip_prefix("ok ") { (true, rest) } else { (false, body.strip_prefix("not ok ")?) };
    let (number, name) = rest.split_once(" - ").unwrap_or((rest, ""));
    if number.parse::<u64>().is_err() {
        return None;
    }
    let (name, directive) = if let Some(n) = name.strip_suffix(" # SKIP") {
        (n, Some("skip"))
    } else if let Some(n) = name.strip_suffix(" # TODO") {
        (n, Some("todo"))
    } else if let Some((n, d)) = name.rsplit_once(" # SKIP ") {
        let _ = d;
        (n, Some("skip"))
    } else if let Some((n, _)) = name.rsplit_once(" # TODO ") {
        (n, Some("todo"))
    } else {
        (name, None)
    };
    Some(Point { indent, ok, directive, name: unescape_name(name), yaml: BTreeMap::new() })
}

/// TAP escapes `#` and `\` in names.
fn unescape_name(name: &str) -> String {
    name.replace("\\#", "#").replace("\\\\", "\\")
}

/// Reads a `---` … `...` block at `indent` starting at line `i`; returns the
/// top-level scalar keys and the index after the block.
fn yaml_block(lines: &[&str], i: usize, indent: usize) -> (BTreeMap<String, String>, usize) {
    let mut map = BTreeMap::new();
    let pad = " ".repeat(indent);
    if lines.get(i).map(|l| l.trim_end()) != Some(&format!("{pad}---")) {
        return (map, i);
    }
    let mut j = i + 1;
    while j < lines.len() {
        let line = lines[j];
        if line.trim_end() == format!("{pad}...") {
            return (map, j + 1);
        }
        j += 1;
        let Some(entry) = line.strip_prefix(&pad) else { continue };
        if entry.starts_with(' ') {
            continue; // a nested value we do not read
        }
        let Some((key, value)) = entry.split_once(':') else { continue };
        let value = value.trim();
        if value == "|-" || value == "|" || value == ">-" {
            let inner = format!("{pad}  ");
            let mut block = Vec::new();
            while j < lines.len() && (lines[j].starts_with(&inner) || lines[j].trim().is_empty()) {
                block.push(lines[j].strip_prefix(&inner).unwrap_or("").to_string());
                j += 1;
            }
            map.insert(key.to_string(), block.join("\n").trim_end().to_string());
        } else if !value.is_empty() && value != "~" {
            map.insert(key.to_string(), scalar(value));
        }
    }
    (map, j)
}

fn scalar(value: &str) -> String {
    if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        inner.replace("''", "'")
    } else if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        inner.replace("\\\"", "\"").replace("\\n", "\n").replace("\\\\", "\\")
    } else {
        value.to_string()
    }
}

fn case(point: &Point, parents: Vec<String>, has_children: bool, comments: &[String]) -> Option<TestCase> {
    let failure_type = point.yaml.get("failureType").map(String::as_str);
    let is_suite = point.yaml.get("type").map(String::as_str) == Some("suite");
    if (has_children || is_suite) && (point.ok || failure_type == Some("subtestsFailed")) {
        return None;
    }
    let duration_ms = point.yaml.get("duration_ms").and_then(|d| d.parse().ok());
    let file_level = point.indent == 0 && point.name.starts_with('/') && point.name.ends_with(".js");
    let mut name = parents;
    name.push(if file_level { basename(&point.name).to_string() } else { point.name.clone() });
    let name = name.join(" > ");
    let (status, message) = match (point.ok, point.directive) {
        (_, Some("skip")) => (TestStatus::Skipped, point.yaml.get("skip").cloned().or(Some("skipped".into()))),
        (_, Some(_)) => (TestStatus::Skipped, Some("todo".into())),
        (true, None) => (TestStatus::Pass, None),
        (false, None) if file_level => {
            let stderr = comments.join("\n").replace("/box/", "");
            let message = if stderr.trim().is_empty() { failure_message(point) } else { stderr };
            (TestStatus::Error, Some(format!("the test file failed: {}", message.trim())))
        }
        (false, None) => {
            let assertion = point.yaml.get("code").map(String::as_str) == Some("ERR_ASSERTION")
                || point.yaml.get("name").is_some_and(|n| n.starts_with("AssertionError"));
            let status =
                if assertion && failure_type == Some("testCodeFailure") { TestStatus::Fail } else { TestStatus::Error };
            (status, Some(failure_message(point)))
        }
    };
    Some(TestCase { name, status, duration_ms, message: message.map(|m| clip(&m, 4000)) })
}

fn failure_message(point: &Point) -> String {
    let error = point.yaml.get("error").map(String::as_str).unwrap_or("failed");
    let mut message = match point.yaml.get("name") {
        Some(name) if point.yaml.get("code").map(String::as_str) != Some("ERR_TEST_FAILURE") || name != "Error" => {
            format!("{name}: {error}")
        }
        _ => error.to_string(),
    };
    let frames: Vec<&str> = point
        .yaml
        .get("stack")
        .map(|s| s.lines().filter(|l| l.contains("/box/")).take(3).collect())
        .unwrap_or_default();
    if frames.is_empty() {
        if let Some(location) = point.yaml.get("location") {
            message.push_str(&format!("\n    at {}", location.replace("/box/", "")));
        }
    }
    for frame in frames {
        message.push_str(&format!("\n    at {}", frame.trim().replace("/box/", "")));
    }
    message.trim().to_string()
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statuses(report: &TestReport) -> Vec<(&str, TestStatus)> {
        report.tests.iter().map(|t| (t.name.as_str(), t.status)).collect()
    }

    #[test]
    fn the_recorded_run_gives_each_status_and_message() {
        let report = parse(include_str!("../fixtures/tap-complete.txt"));
        assert!(report.complete);
        assert_eq!(
            statuses(&report),
            [
                ("adds numbers", TestStatus::Pass),
                ("fails an assertion", TestStatus::Fail),
                ("throws an error", TestStatus::Error),
                ("is skipped", TestStatus::Skipped),
                ("group > inner passes", TestStatus::Pass),
                ("group > inner fails", TestStatus::Fail),
                ("b passes", TestStatus::Pass),
                ("b hangs", TestStatus::Pass),
                ("c.test.js", TestStatus::Error),
            ]
        );
        let fails = &report.tests[1];
        assert_eq!(
            fails.message.as_deref(),
            Some("AssertionError: expected sum 3\n\n2 !== 3\n    at TestContext.<anonymous> (a.test.js:4:43)")
        );
        assert_eq!(
            report.tests[2].message.as_deref(),
            Some("TypeError: boom\n    at TestContext.<anonymous> (a.test.js:5:39)")
        );
        let broken = report.tests[8].message.as_deref().unwrap();
        assert!(broken.starts_with("the test file failed: c.test.js:3\n"), "{broken}");
        assert!(broken.contains("SyntaxError: Unexpected end of input"), "{broken}");
        assert!(!broken.contains("user output line"), "{broken}");
        assert!((report.tests[0].duration_ms.unwrap() - 11.938719).abs() < 1e-9);
    }

    #[test]
    fn a_run_killed_mid_suite_keeps_the_tests_reported_so_far() {
        let report = parse(include_str!("../fixtures/tap-killed.txt"));
        assert!(!report.complete);
        assert_eq!(report.tests.len(), 7);
        assert_eq!(report.tests[6].name, "b passes");
    }

    #[test]
    fn a_test_cut_off_while_running_is_an_error() {
        let text = "TAP version 13\n# Subtest: finishes\nok 1 - finishes\n  ---\n  duration_ms: 1\n  ...\n# Subtest: outer\n    # Subtest: spins forever\n";
        let report = parse(text);
        assert_eq!(statuses(&report), [("finishes", TestStatus::Pass), ("outer > spins forever", TestStatus::Error)]);
        assert_eq!(report.tests[1].message.as_deref(), Some(DID_NOT_FINISH));
    }

    #[test]
    fn timeouts_todos_and_subtests_are_read() {
        let report = parse(include_str!("../fixtures/tap-subtests.txt"));
        assert_eq!(
            statuses(&report),
            [
                ("parent with subtests > child ok", TestStatus::Pass),
                ("parent with subtests > child fails", TestStatus::Fail),
                ("times out", TestStatus::Error),
                ("a todo", TestStatus::Skipped),
            ]
        );
        assert_eq!(report.tests[2].message.as_deref(), Some("test timed out after 50ms\n    at sub.test.js:7:1"));
        let deep = report.tests[1].message.as_deref().unwrap();
        assert!(deep.starts_with("AssertionError: Expected values to be strictly deep-equal:\n"), "{deep}");
    }
}
