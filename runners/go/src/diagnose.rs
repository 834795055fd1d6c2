//! Reading a failed Go step: compiler and vet errors, panics, the runtime out of memory.

use crate::gotest::panic_message;
use acejudge_runner_api::{clip, Diagnosis, DiagnosisKind, Mode, StepKind, StepOutput, StepStatus};

pub fn diagnose(output: &StepOutput) -> Option<Diagnosis> {
    if output.status != StepStatus::NonzeroExit {
        return None;
    }
    if output.step == StepKind::Compile {
        let text = format!("{}\n{}", output.stderr.trim(), output.stdout.trim());
        let message = text.trim().replace("/box/", "");
        return Some(Diagnosis { kind: DiagnosisKind::CompileError, message: clip(&message, 4000) });
    }
    let stderr = &output.stderr;
    if stderr.contains("fatal error: runtime: out of memory") {
        return Some(Diagnosis {
            kind: DiagnosisKind::MemoryLimit,
            message: "fatal error: runtime: out of memory".into(),
        });
    }
    if output.mode == Mode::Program && (stderr.contains("panic: ") || stderr.contains("fatal error: ")) {
        let lines: Vec<String> = stderr.lines().map(String::from).collect();
        return Some(Diagnosis { kind: DiagnosisKind::RuntimeError, message: clip(&panic_message(&lines), 2000) });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(step: StepKind, stdout: &str, stderr: &str) -> StepOutput {
        StepOutput {
            step,
            mode: Mode::Program,
            entry: "main.go".into(),
            status: StepStatus::NonzeroExit,
            exit_code: Some(2),
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
    fn a_build_failure_is_a_compile_error_with_file_and_line() {
        let d = diagnose(&output(
            StepKind::Compile,
            "",
            "# command-line-arguments\n./main.go:4:2: undefined: undefinedName\n",
        ))
        .unwrap();
        assert_eq!(d.kind, DiagnosisKind::CompileError);
        assert_eq!(d.message, "# command-line-arguments\n./main.go:4:2: undefined: undefinedName");
    }

    #[test]
    fn a_panic_is_a_runtime_error_naming_the_users_line() {
        let stderr = "panic: runtime error: integer divide by zero\n\ngoroutine 1 [running]:\nmain.main()\n\t/box/main.go:7 +0x1d\n";
        let d = diagnose(&output(StepKind::Run, "", stderr)).unwrap();
        assert_eq!(d.kind, DiagnosisKind::RuntimeError);
        assert_eq!(d.message, "panic: runtime error: integer divide by zero\n    main.main()\n        main.go:7");
    }

    #[test]
    fn a_plain_non_zero_exit_is_left_alone() {
        assert_eq!(diagnose(&output(StepKind::Run, "", "bye\n")), None);
    }
}
