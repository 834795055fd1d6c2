//! Reading a failed Java step: javac errors, `OutOfMemoryError`, uncaught exceptions.

use acejudge_runner_api::{clip, Diagnosis, DiagnosisKind, StepKind, StepOutput, StepStatus};

pub fn diagnose(output: &StepOutput) -> Option<Diagnosis> {
    if output.status != StepStatus::NonzeroExit {
        return None;
    }
    let text = format!("{}\n{}", output.stderr, output.stdout);
    // `-XX:+ExitOnOutOfMemoryError` prints "Terminating due to java.lang.OutOfMemoryError: Java heap space".
    if let Some(line) = text.lines().find(|l| l.contains("java.lang.OutOfMemoryError")) {
        let message = line
            .split_once("java.lang.OutOfMemoryError")
            .map_or(line.to_string(), |(_, rest)| format!("java.lang.OutOfMemoryError{rest}"));
        return Some(Diagnosis { kind: DiagnosisKind::MemoryLimit, message: message.trim().to_string() });
    }
    if output.step == StepKind::Compile {
        let message: Vec<&str> = output
            .stderr
            .lines()
            .chain(output.stdout.lines())
            .filter(|l| !l.starts_with("Note: ") && !l.starts_with("Picked up "))
            .collect();
        return Some(Diagnosis { kind: DiagnosisKind::CompileError, message: clip(message.join("\n").trim(), 4000) });
    }
    let lines: Vec<&str> = output.stderr.lines().collect();
    let start = lines.iter().position(|l| l.starts_with("Exception in thread "))?;
    let mut message = vec![lines[start]];
    message.extend(lines[start + 1..].iter().filter(|l| l.trim_start().starts_with("at ")).take(5));
    message.extend(lines[start + 1..].iter().find(|l| l.starts_with("Caused by: ")));
    Some(Diagnosis { kind: DiagnosisKind::RuntimeError, message: clip(&message.join("\n"), 2000) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use acejudge_runner_api::Mode;

    fn output(step: StepKind, stdout: &str, stderr: &str) -> StepOutput {
        StepOutput {
            step,
            mode: Mode::Program,
            entry: "Main.java".into(),
            status: StepStatus::NonzeroExit,
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
    fn javac_errors_are_a_compile_error_with_file_and_line() {
        let stderr = "Main.java:3: error: illegal start of expression\n    }\n    ^\n1 error\n";
        let d = diagnose(&output(StepKind::Compile, "", stderr)).unwrap();
        assert_eq!(d.kind, DiagnosisKind::CompileError);
        assert_eq!(d.message, "Main.java:3: error: illegal start of expression\n    }\n    ^\n1 error");
    }

    #[test]
    fn an_out_of_memory_error_is_a_memory_limit_with_its_message() {
        let d =
            diagnose(&output(StepKind::Run, "", "Terminating due to java.lang.OutOfMemoryError: Java heap space\n"))
                .unwrap();
        assert_eq!(d.kind, DiagnosisKind::MemoryLimit);
        assert_eq!(d.message, "java.lang.OutOfMemoryError: Java heap space");
    }

    #[test]
    fn an_uncaught_exception_is_a_runtime_error_with_its_trace() {
        let stderr = "Exception in thread \"main\" java.lang.ArithmeticException: / by zero\n\tat Main.divide(Main.java:3)\n\tat Main.main(Main.java:6)\n";
        let d = diagnose(&output(StepKind::Run, "", stderr)).unwrap();
        assert_eq!(d.kind, DiagnosisKind::RuntimeError);
        assert_eq!(d.message, stderr.trim_end());
    }
}
