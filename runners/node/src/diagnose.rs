//! Reading a failed Node run: syntax errors, uncaught exceptions, V8's heap limit.

use crate::tap;
use acejudge_runner_api::{clip, Diagnosis, DiagnosisKind, Mode, StepOutput, StepStatus, TestStatus};

pub fn diagnose(output: &StepOutput) -> Option<Diagnosis> {
    if !matches!(output.status, StepStatus::NonzeroExit | StepStatus::Signaled) {
        return None;
    }
    let all = format!("{}\n{}", output.stderr, output.stdout);
    if all.contains("JavaScript heap out of memory") {
        return Some(Diagnosis {
            kind: DiagnosisKind::MemoryLimit,
            message: "JavaScript heap out of memory (V8 reached its heap limit)".into(),
        });
    }
    match output.mode {
        Mode::Program => program(&output.stderr),
        Mode::Tests => tap::parse(&output.stdout)
            .tests
            .into_iter()
            .filter(|t| t.status == TestStatus::Error)
            .filter_map(|t| t.message)
            .find(|m| m.starts_with("the test file failed:") && m.contains("SyntaxError"))
            .map(|m| Diagnosis {
                kind: DiagnosisKind::CompileError,
                message: syntax_excerpt(m.trim_start_matches("the test file failed:").trim()).unwrap_or(m),
            }),
    }
}

fn program(stderr: &str) -> Option<Diagnosis> {
    let stderr = stderr.replace("/box/", "");
    if let Some(excerpt) = syntax_excerpt(&stderr) {
        return Some(Diagnosis { kind: DiagnosisKind::CompileError, message: excerpt });
    }
    let lines: Vec<&str> = stderr.lines().collect();
    let error = lines.iter().position(|l| is_error_line(l))?;
    let mut message = lines[error].to_string();
    if let Some(frame) = lines[error..].iter().find(|l| l.trim_start().starts_with("at ") && !l.contains("node:")) {
        message.push('\n');
        message.push_str(frame);
    }
    Some(Diagnosis { kind: DiagnosisKind::RuntimeError, message: clip(&message, 2000) })
}

/// Node prints `file:line`, the source line, a caret, then `SyntaxError: …`.
fn syntax_excerpt(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines.iter().position(|l| l.starts_with("SyntaxError: "))?;
    let start = lines[..end].iter().rposition(|l| is_location(l)).unwrap_or(end);
    let excerpt: Vec<&str> = lines[start..=end].iter().copied().filter(|l| !l.trim().is_empty()).collect();
    Some(clip(&excerpt.join("\n"), 2000))
}

/// `main.js:3` (the file and line Node prints above a thrown error).
fn is_location(line: &str) -> bool {
    line.rsplit_once(':').is_some_and(|(file, n)| file.ends_with("js") && n.parse::<u32>().is_ok())
}

fn is_error_line(line: &str) -> bool {
    let head = line.split(':').next().unwrap_or("");
    !line.starts_with(' ') && (head.ends_with("Error") || head.ends_with("Exception") || head == "Uncaught")
}

#[cfg(test)]
mod tests {
    use super::*;
    use acejudge_runner_api::StepKind;

    fn output(mode: Mode, status: StepStatus, stdout: &str, stderr: &str) -> StepOutput {
        StepOutput {
            step: StepKind::Run,
            mode,
            entry: "main.js".into(),
            status,
            exit_code: Some(1),
            signal: None,
            wall_ms: 50,
            stdout: stdout.into(),
            stderr: stderr.into(),
            stdout_truncated: false,
            stderr_truncated: false,
            report: None,
        }
    }

    #[test]
    fn a_syntax_error_is_a_compile_error_with_file_and_line() {
        let stderr = "/box/main.js:2\n\n\n\nSyntaxError: Unexpected end of input\n    at wrapSafe (node:internal/modules/cjs/loader:1464:18)\n\nNode.js v20.20.2\n";
        let d = diagnose(&output(Mode::Program, StepStatus::NonzeroExit, "", stderr)).unwrap();
        assert_eq!(d.kind, DiagnosisKind::CompileError);
        assert_eq!(d.message, "main.js:2\nSyntaxError: Unexpected end of input");
    }

    #[test]
    fn an_uncaught_error_is_a_runtime_error_with_its_first_frame() {
        let stderr = "/box/main.js:1\nfunction f(){ throw new Error(\"boom\") }\n              ^\n\nError: boom\n    at f (/box/main.js:1:21)\n    at Object.<anonymous> (/box/main.js:2:1)\n    at Module._compile (node:internal/modules/cjs/loader:1521:14)\n\nNode.js v20.20.2\n";
        let d = diagnose(&output(Mode::Program, StepStatus::NonzeroExit, "", stderr)).unwrap();
        assert_eq!(d.kind, DiagnosisKind::RuntimeError);
        assert_eq!(d.message, "Error: boom\n    at f (main.js:1:21)");
    }

    #[test]
    fn running_out_of_heap_is_a_memory_limit() {
        let stderr = "<--- JS stacktrace --->\n\nFATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n";
        let d = diagnose(&output(Mode::Program, StepStatus::Signaled, "", stderr)).unwrap();
        assert_eq!(d.kind, DiagnosisKind::MemoryLimit);
    }

    #[test]
    fn a_test_file_that_does_not_parse_is_a_compile_error() {
        let stdout = include_str!("../fixtures/tap-complete.txt");
        let d = diagnose(&output(Mode::Tests, StepStatus::NonzeroExit, stdout, "")).unwrap();
        assert_eq!(d.kind, DiagnosisKind::CompileError);
        assert_eq!(d.message, "c.test.js:3\nSyntaxError: Unexpected end of input");
    }
}
