//! Reading a failed Python run: syntax errors, uncaught exceptions, `MemoryError`.

use acejudge_runner_api::{clip, report, Diagnosis, DiagnosisKind, Mode, StepOutput, StepStatus, TestStatus};

const SYNTAX_ERRORS: [&str; 3] = ["SyntaxError", "IndentationError", "TabError"];

pub fn diagnose(output: &StepOutput) -> Option<Diagnosis> {
    if output.status != StepStatus::NonzeroExit {
        return None;
    }
    match output.mode {
        Mode::Program => diagnose_traceback(&output.stderr),
        Mode::Tests => {
            let report = report::parse_json_lines(output.report.as_deref().unwrap_or(""));
            report
                .tests
                .iter()
                .filter(|t| t.status == TestStatus::Error && t.name.ends_with("(could not be imported)"))
                .find_map(|t| syntax_error(t.message.as_deref().unwrap_or("")))
                .map(|message| Diagnosis { kind: DiagnosisKind::CompileError, message })
        }
    }
}

fn diagnose_traceback(stderr: &str) -> Option<Diagnosis> {
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty())?;
    let exception = last.split(':').next().unwrap_or("").trim();
    if SYNTAX_ERRORS.contains(&exception) {
        let message = syntax_error(stderr)?;
        return Some(Diagnosis { kind: DiagnosisKind::CompileError, message });
    }
    if !stderr.contains("Traceback (most recent call last):") {
        return None;
    }
    let kind = if exception == "MemoryError" { DiagnosisKind::MemoryLimit } else { DiagnosisKind::RuntimeError };
    let location = stderr
        .lines()
        .rfind(|l| l.trim_start().starts_with("File \"/box/"))
        .map(|l| format!("\n  {}", l.trim().replacen("\"/box/", "\"", 1)))
        .unwrap_or_default();
    Some(Diagnosis { kind, message: format!("{}{location}", last.trim()) })
}

/// From the last `File "x", line N` (a parse error has no `, in …`) to the error line.
fn syntax_error(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines.iter().rposition(|l| SYNTAX_ERRORS.iter().any(|e| l.starts_with(&format!("{e}:"))))?;
    let start =
        lines[..end].iter().rposition(|l| l.trim_start().starts_with("File \"") && !l.contains(", in ")).unwrap_or(end);
    let excerpt = lines[start..=end].join("\n").replace("\"/box/", "\"");
    Some(clip(&excerpt, 2000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::fixture_output;

    fn program(stderr: &str) -> StepOutput {
        let mut output = fixture_output("");
        output.mode = Mode::Program;
        output.report = None;
        output.stderr = stderr.into();
        output
    }

    #[test]
    fn a_parse_error_in_the_program_is_a_compile_error_with_file_and_line() {
        let stderr = "  File \"/box/main.py\", line 1\n    name = input(\n                ^\nSyntaxError: '(' was never closed\n";
        let d = diagnose(&program(stderr)).expect("diagnosed");
        assert_eq!(d.kind, DiagnosisKind::CompileError);
        assert_eq!(
            d.message,
            "  File \"main.py\", line 1\n    name = input(\n                ^\nSyntaxError: '(' was never closed"
        );
    }

    #[test]
    fn an_uncaught_exception_is_a_runtime_error_naming_the_line() {
        let stderr = "Traceback (most recent call last):\n  File \"/box/main.py\", line 3, in <module>\n    print(1 / 0)\n          ~~^~~\nZeroDivisionError: division by zero\n";
        let d = diagnose(&program(stderr)).expect("diagnosed");
        assert_eq!(d.kind, DiagnosisKind::RuntimeError);
        assert_eq!(d.message, "ZeroDivisionError: division by zero\n  File \"main.py\", line 3, in <module>");
        let d = diagnose(&program(
            "Traceback (most recent call last):\n  File \"/box/main.py\", line 1, in <module>\nMemoryError\n",
        ))
        .unwrap();
        assert_eq!(d.kind, DiagnosisKind::MemoryLimit);
    }

    #[test]
    fn a_test_module_that_cannot_be_parsed_is_a_compile_error() {
        let output = fixture_output(include_str!("../fixtures/report-complete.jsonl"));
        let d = diagnose(&output).expect("diagnosed");
        assert_eq!(d.kind, DiagnosisKind::CompileError);
        assert!(d.message.starts_with("  File \"broken.py\", line 1\n"), "{}", d.message);
        assert!(d.message.ends_with("SyntaxError: invalid syntax"), "{}", d.message);
    }

    #[test]
    fn a_clean_exit_or_a_kill_is_not_diagnosed() {
        let mut output = program("SyntaxError: x\n");
        output.status = StepStatus::TimeLimit;
        assert_eq!(diagnose(&output), None);
    }
}
