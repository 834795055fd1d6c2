//! The contract between AceJudge and its language runner plugins.
//!
//! A language is a shared library (`.so`) that AceJudge loads at start-up.
//! This crate is everything such a plugin needs: the [`Runner`] trait it
//! implements, the serde types that describe toolchains, plans and test
//! reports ([`types`]), and the C ABI that carries them ([`abi`]), wrapped by
//! the [`export_runner!`] macro. A plugin depends on this crate only.
//!
//! # Design
//!
//! *The host runs, the runner knows.* A runner never starts a sandboxed
//! process itself. It tells the host what its toolchain is and needs
//! ([`Runner::toolchain`]: paths, read-only mounts, runtime allowances,
//! caches), how to build and run a submission ([`Runner::plan`]: support
//! files, an optional compile step and a run step, each an argv, an
//! environment and limits), and how to read what came out
//! ([`Runner::parse_report`] for test runs, [`Runner::diagnose`] for
//! failures). The host places the files in a fresh box, runs each step in the
//! sandbox and hands the output back. So a runner is small, pure and testable
//! on recorded output, and the sandbox stays the only thing that runs
//! untrusted code.
//!
//! *Stateless calls.* The host hands the [`Toolchain`] a runner reported back
//! with every `plan` call, so a runner keeps no state between calls and may
//! be called from several threads at once (`Runner: Send + Sync`).
//!
//! *JSON across the boundary.* Plugins may be built by another compiler
//! version than the host, so nothing crosses as a Rust layout (never a
//! `Box<dyn Runner>`): the plugin exports one `extern "C"` symbol,
//! [`abi::ENTRY_SYMBOL`], returning a `#[repr(C)]` [`abi::RunnerEntry`] whose
//! **first field is the ABI version**, which the host checks before anything
//! else; calls take and return JSON bytes, and each buffer is freed by the
//! side that allocated it. Panics are caught in the plugin and come back as
//! [`RunnerError::Panic`].
//!
//! *Limits are the host's.* A plan's steps carry limits; the host checks them
//! against the request plus the runner's declared [`Allowances`] (extra
//! memory and threads for the JVM, say) and refuses a plan that asks for more.
//!
//! # A complete minimal plugin
//!
//! A `Cargo.toml` with `crate-type = ["cdylib"]` and a dependency on
//! `acejudge-runner-api`, then:
//!
//! ```
//! use acejudge_runner_api::*;
//! use std::collections::BTreeMap;
//!
//! /// Runs `*.sh` files with `/bin/sh`; tests print `PASS name` / `FAIL name: why`.
//! #[derive(Default)]
//! pub struct Shell;
//!
//! impl Runner for Shell {
//!     fn info(&self) -> RunnerInfo {
//!         RunnerInfo {
//!             id: "sh".into(),
//!             name: "POSIX shell".into(),
//!             version: env!("CARGO_PKG_VERSION").into(),
//!             extensions: vec!["sh".into()],
//!             tests: "test_*.sh files print PASS/FAIL lines".into(),
//!         }
//!     }
//!
//!     fn toolchain(&self, config: &RunnerConfig) -> Result<Toolchain, RunnerError> {
//!         let sh = probe::locate(probe::config_string(config, "sh")?, &["/bin/sh".into()], "sh")?;
//!         Ok(Toolchain {
//!             version: "POSIX".into(),
//!             programs: BTreeMap::from([("sh".into(), sh.display().to_string())]),
//!             readonly_paths: vec![],
//!             allowances: Allowances::default(),
//!             caches: vec![],
//!         })
//!     }
//!
//!     fn plan(&self, toolchain: &Toolchain, request: &PlanRequest) -> Result<Plan, RunnerError> {
//!         let sh = toolchain.programs["sh"].clone();
//!         let env = BTreeMap::from([("PATH".to_string(), "/usr/bin:/bin".to_string())]);
//!         let (argv, stdin) = match request.mode {
//!             Mode::Program => (vec![sh, request.entry.clone()], StdinSource::Request),
//!             Mode::Tests => {
//!                 let mut argv = vec![sh, "-c".into(), "for t in \"$@\"; do . \"./$t\"; done".into(), "sh".into()];
//!                 argv.extend(request.files.iter().filter(|f| f.starts_with("test_")).cloned());
//!                 (argv, StdinSource::Empty)
//!             }
//!         };
//!         let run = Step {
//!             argv,
//!             env,
//!             limits: request.limits.run,
//!             readonly_paths: vec![],
//!             writable_overlays: vec![],
//!             cgroup_view: false,
//!             stdin,
//!             outputs: vec![],
//!             warm_argv: None,
//!         };
//!         Ok(Plan { files: vec![], compile: None, run, report: ReportSource::Stdout })
//!     }
//!
//!     fn parse_report(&self, output: &StepOutput) -> Result<TestReport, RunnerError> {
//!         let tests = output.stdout.lines().filter_map(|line| {
//!             let (status, rest) = if let Some(rest) = line.strip_prefix("PASS ") {
//!                 (TestStatus::Pass, rest)
//!             } else {
//!                 (TestStatus::Fail, line.strip_prefix("FAIL ")?)
//!             };
//!             let (name, message) = match rest.split_once(": ") {
//!                 Some((name, why)) => (name, Some(why.to_string())),
//!                 None => (rest, None),
//!             };
//!             Some(TestCase { name: name.into(), status, duration_ms: None, message })
//!         });
//!         Ok(TestReport { tests: tests.collect(), complete: output.status == StepStatus::Ok })
//!     }
//!
//!     fn self_test(&self) -> SelfTest {
//!         let program = |source: &str| SelfTestProgram {
//!             entry: "main.sh".into(),
//!             source: source.into(),
//!             stdin: "world\n".into(),
//!             expected_stdout: "hello world\n".into(),
//!         };
//!         SelfTest {
//!             program: program("read name; echo \"hello $name\"\n"),
//!             compile_error: program("if then fi\n"),
//!             tests: None,
//!         }
//!     }
//! }
//!
//! export_runner!(Shell);
//! # fn main() {}
//! ```
//!
//! Build it with `cargo build --release`, check it with
//! `acejudge runners check target/release/libmy_runner.so`, and install it by
//! copying the `.so` into the runners directory. `README.md` beside this
//! crate walks through it.

pub mod abi;
pub mod error;
pub mod probe;
pub mod report;
pub mod types;

pub use error::RunnerError;
/// Re-exported so a runner needs no other dependency to read JSON output
/// (derive with `#[serde(crate = "acejudge_runner_api::serde")]`).
pub use serde;
pub use serde_json;
pub use types::*;

/// A language runner. Implement it, then export it with [`export_runner!`].
///
/// Every method must be cheap and must not start sandboxed work: the host
/// does that. Only [`Runner::toolchain`] may look at the host (files, version
/// probes of the toolchain's own binaries).
pub trait Runner: Send + Sync + 'static {
    /// Static facts: id, name, extensions.
    fn info(&self) -> RunnerInfo;

    /// Finds the toolchain (using the host's `config` when given), reads its
    /// version and says what it needs inside the sandbox. A missing toolchain
    /// is [`RunnerError::ToolchainMissing`] naming what is missing.
    fn toolchain(&self, config: &RunnerConfig) -> Result<Toolchain, RunnerError>;

    /// How to build and run `request` with `toolchain` (the value this
    /// runner's `toolchain` returned).
    fn plan(&self, toolchain: &Toolchain, request: &PlanRequest) -> Result<Plan, RunnerError>;

    /// Reads the test framework's native output (the run step's stdout or its
    /// report file) into one entry per test. Must keep what was reported
    /// before a crash or a kill, and set [`TestReport::complete`] accordingly.
    fn parse_report(&self, output: &StepOutput) -> Result<TestReport, RunnerError>;

    /// Reads a failed step more precisely than the sandbox can: a compile
    /// error with its file and line, an `OutOfMemoryError` that is really a
    /// memory limit. `None` leaves the sandbox's status as it is. By default,
    /// no diagnosis.
    fn diagnose(&self, output: &StepOutput) -> Option<Diagnosis> {
        let _ = output;
        None
    }

    /// Programs `acejudge runners check` runs to prove the runner works.
    fn self_test(&self) -> SelfTest;
}

/// Keeps at most `max_chars` characters of `text` (whole lines where possible),
/// marking the cut.
pub fn clip(text: &str, max_chars: usize) -> String {
    let text = text.trim_end();
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let cut: String = text.chars().take(max_chars).collect();
    let cut = match cut.rfind('\n') {
        Some(i) if i > max_chars / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    format!("{cut}\n… (cut)")
}

/// Exports a [`Runner`] as this library's plugin entry point.
///
/// `export_runner!(MyRunner)` builds it with `Default`; `export_runner!(MyRunner, MyRunner::new())`
/// with an expression. The runner is built on first use, inside the panic guard.
/// Use it once per plugin crate (it defines the `acejudge_runner_entry` symbol).
#[macro_export]
macro_rules! export_runner {
    ($runner:ty) => {
        $crate::export_runner!($runner, <$runner as ::core::default::Default>::default());
    };
    ($runner:ty, $init:expr) => {
        /// The plugin's entry point: AceJudge checks the returned ABI version first.
        #[no_mangle]
        pub extern "C" fn acejudge_runner_entry() -> *const $crate::abi::RunnerEntry {
            unsafe extern "C" fn call(
                method: $crate::abi::RawSlice,
                input: $crate::abi::RawSlice,
            ) -> $crate::abi::RawBuffer {
                static RUNNER: ::std::sync::OnceLock<$runner> = ::std::sync::OnceLock::new();
                // SAFETY: the host passes slices valid for the duration of this call (the ABI contract).
                unsafe { $crate::abi::dispatch(|| RUNNER.get_or_init(|| $init), method, input) }
            }
            static ENTRY: $crate::abi::RunnerEntry = $crate::abi::RunnerEntry {
                abi_version: $crate::abi::ABI_VERSION,
                call,
                free: $crate::abi::free_buffer,
            };
            &ENTRY
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_text_and_cuts_long_text_at_a_line() {
        assert_eq!(clip("short\n", 100), "short");
        let long = "line one is here\nline two is here\nline three\n";
        let cut = clip(long, 30);
        assert!(cut.starts_with("line one is here"), "{cut}");
        assert!(cut.ends_with("… (cut)"), "{cut}");
        assert!(!cut.contains("three"));
    }

    #[test]
    fn types_round_trip_as_json() {
        let step = Step {
            argv: vec!["/usr/bin/true".into()],
            env: Default::default(),
            limits: StepLimits { wall_ms: 1, cpu_ms: 1, memory_bytes: 1, pids: 1, output_bytes: 1 },
            readonly_paths: vec![],
            writable_overlays: vec![],
            cgroup_view: false,
            stdin: StdinSource::Request,
            outputs: vec![],
            warm_argv: None,
        };
        let json = serde_json::to_string(&step).unwrap();
        assert!(json.contains(r#""stdin":"request""#), "{json}");
        assert!(!json.contains("outputs"), "no outputs: the JSON is what older hosts know: {json}");
        assert_eq!(serde_json::from_str::<Step>(&json).unwrap(), step);
        let built = Step { outputs: vec!["out".into()], ..step };
        let json = serde_json::to_string(&built).unwrap();
        assert!(json.contains(r#""outputs":["out"]"#), "{json}");
        assert_eq!(serde_json::from_str::<Step>(&json).unwrap(), built);
        let report: ReportSource = serde_json::from_str(r#"{"kind":"file","path":"r.jsonl"}"#).unwrap();
        assert_eq!(report, ReportSource::File { path: "r.jsonl".into() });
    }
}
