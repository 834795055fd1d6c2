//! The verdict, derived in exactly one place from what the steps did and what
//! the tests reported.

pub use crate::plugins::api::StepStatus;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Accepted,
    WrongAnswer,
    CompilationError,
    RuntimeError,
    TimeLimitExceeded,
    MemoryLimitExceeded,
    OutputLimitExceeded,
    SecurityViolation,
    InternalError,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::WrongAnswer => "wrong_answer",
            Verdict::CompilationError => "compilation_error",
            Verdict::RuntimeError => "runtime_error",
            Verdict::TimeLimitExceeded => "time_limit_exceeded",
            Verdict::MemoryLimitExceeded => "memory_limit_exceeded",
            Verdict::OutputLimitExceeded => "output_limit_exceeded",
            Verdict::SecurityViolation => "security_violation",
            Verdict::InternalError => "internal_error",
        }
    }

    /// Every verdict, for metrics and docs.
    pub const ALL: [Verdict; 9] = [
        Verdict::Accepted,
        Verdict::WrongAnswer,
        Verdict::CompilationError,
        Verdict::RuntimeError,
        Verdict::TimeLimitExceeded,
        Verdict::MemoryLimitExceeded,
        Verdict::OutputLimitExceeded,
        Verdict::SecurityViolation,
        Verdict::InternalError,
    ];
}

/// The facts the verdict is derived from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facts {
    /// The compile step's end, when there was one.
    pub compile: Option<StepStatus>,
    /// The runner read the compile output as a compile error.
    pub compile_error: bool,
    /// The test step's end (`None` when it never ran).
    pub run: Option<StepStatus>,
    /// The runner read the test step as out of memory (`OutOfMemoryError`).
    pub runtime_out_of_memory: bool,
    pub passed: usize,
    pub failed: usize,
    pub errored: usize,
    /// The framework reported the end of the suite.
    pub complete: bool,
}

/// The one place a verdict is decided. Order: compile problems, then limits
/// and violations of the test step (they cut the suite short, so they win
/// over what it reported), then the tests themselves.
pub fn derive(f: &Facts) -> Verdict {
    match f.compile {
        Some(StepStatus::TimeLimit) => return Verdict::TimeLimitExceeded,
        Some(StepStatus::MemoryLimit) => return Verdict::MemoryLimitExceeded,
        Some(StepStatus::OutputLimit) => return Verdict::OutputLimitExceeded,
        Some(StepStatus::SecurityViolation) => return Verdict::SecurityViolation,
        Some(StepStatus::InternalError) => return Verdict::InternalError,
        Some(StepStatus::NonzeroExit | StepStatus::Signaled) => return Verdict::CompilationError,
        Some(StepStatus::Ok) | None => {}
    }
    if f.compile_error {
        return Verdict::CompilationError;
    }
    let Some(run) = f.run else { return Verdict::InternalError };
    match run {
        StepStatus::SecurityViolation => return Verdict::SecurityViolation,
        StepStatus::TimeLimit => return Verdict::TimeLimitExceeded,
        StepStatus::MemoryLimit => return Verdict::MemoryLimitExceeded,
        StepStatus::OutputLimit => return Verdict::OutputLimitExceeded,
        StepStatus::InternalError => return Verdict::InternalError,
        StepStatus::Ok | StepStatus::NonzeroExit | StepStatus::Signaled => {}
    }
    if f.runtime_out_of_memory {
        return Verdict::MemoryLimitExceeded;
    }
    let total = f.passed + f.failed + f.errored;
    if f.complete && total > 0 && f.failed == 0 && f.errored == 0 && run == StepStatus::Ok {
        return Verdict::Accepted;
    }
    if f.failed > 0 {
        return Verdict::WrongAnswer;
    }
    // Errors in tests, a crash, or a suite that never finished: the program itself broke.
    Verdict::RuntimeError
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ran(run: StepStatus, passed: usize, failed: usize, errored: usize, complete: bool) -> Facts {
        Facts {
            compile: Some(StepStatus::Ok),
            compile_error: false,
            run: Some(run),
            runtime_out_of_memory: false,
            passed,
            failed,
            errored,
            complete,
        }
    }

    #[test]
    fn every_test_passing_in_a_complete_suite_is_accepted() {
        assert_eq!(derive(&ran(StepStatus::Ok, 10, 0, 0, true)), Verdict::Accepted);
    }

    #[test]
    fn an_empty_or_incomplete_suite_is_never_accepted() {
        assert_eq!(derive(&ran(StepStatus::Ok, 0, 0, 0, true)), Verdict::RuntimeError);
        assert_eq!(derive(&ran(StepStatus::Ok, 5, 0, 0, false)), Verdict::RuntimeError);
        assert_eq!(derive(&ran(StepStatus::NonzeroExit, 5, 0, 0, true)), Verdict::RuntimeError);
    }

    #[test]
    fn a_failing_assertion_is_wrong_answer_even_with_errors_beside_it() {
        assert_eq!(derive(&ran(StepStatus::NonzeroExit, 8, 2, 0, true)), Verdict::WrongAnswer);
        assert_eq!(derive(&ran(StepStatus::NonzeroExit, 8, 1, 1, true)), Verdict::WrongAnswer);
        assert_eq!(derive(&ran(StepStatus::NonzeroExit, 8, 0, 2, true)), Verdict::RuntimeError);
    }

    #[test]
    fn limits_of_the_test_step_win_over_partial_results() {
        assert_eq!(derive(&ran(StepStatus::TimeLimit, 3, 0, 0, false)), Verdict::TimeLimitExceeded);
        assert_eq!(derive(&ran(StepStatus::MemoryLimit, 3, 1, 0, false)), Verdict::MemoryLimitExceeded);
        assert_eq!(derive(&ran(StepStatus::OutputLimit, 3, 0, 0, false)), Verdict::OutputLimitExceeded);
        assert_eq!(derive(&ran(StepStatus::SecurityViolation, 3, 0, 0, false)), Verdict::SecurityViolation);
        let mut oom = ran(StepStatus::NonzeroExit, 3, 0, 1, true);
        oom.runtime_out_of_memory = true;
        assert_eq!(derive(&oom), Verdict::MemoryLimitExceeded);
    }

    #[test]
    fn compile_failures_stop_before_the_tests() {
        let mut f = ran(StepStatus::Ok, 0, 0, 0, false);
        f.compile = Some(StepStatus::NonzeroExit);
        f.run = None;
        assert_eq!(derive(&f), Verdict::CompilationError);
        f.compile = Some(StepStatus::TimeLimit);
        assert_eq!(derive(&f), Verdict::TimeLimitExceeded);
        let mut parse_error = ran(StepStatus::NonzeroExit, 0, 0, 0, false);
        parse_error.compile = None;
        parse_error.compile_error = true;
        assert_eq!(derive(&parse_error), Verdict::CompilationError, "interpreted languages report syntax errors too");
    }

    #[test]
    fn a_test_step_that_never_ran_is_an_internal_error() {
        let mut f = ran(StepStatus::Ok, 0, 0, 0, false);
        f.run = None;
        assert_eq!(derive(&f), Verdict::InternalError);
    }
}
