//! Helpers runners share to find a toolchain: reading the host's JSON
//! configuration, picking the first existing candidate, asking a program its version.
//!
//! These run in the host process (as the daemon's user), never in the sandbox:
//! only the toolchain's own binaries with fixed arguments, an empty
//! environment and a timeout.

use crate::error::RunnerError;
use crate::types::RunnerConfig;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a version probe may take before it counts as missing.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads string `key` from the runner's config object; `None` when absent.
/// The config itself may be `null` (all defaults).
pub fn config_string(config: &RunnerConfig, key: &str) -> Result<Option<String>, RunnerError> {
    match config {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Object(map) => match map.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(other) => Err(RunnerError::InvalidConfig(format!("`{key}` must be a non-empty string, not {other}"))),
        },
        other => Err(RunnerError::InvalidConfig(format!("the configuration must be a JSON object, not {other}"))),
    }
}

/// Rejects keys a runner does not know, so a typo is not silently ignored.
pub fn config_known_keys(config: &RunnerConfig, known: &[&str]) -> Result<(), RunnerError> {
    if let serde_json::Value::Object(map) = config {
        if let Some(key) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(RunnerError::InvalidConfig(format!("unknown key `{key}` (known: {})", known.join(", "))));
        }
    }
    Ok(())
}

/// The configured path if given (it must exist), else the first default that exists.
pub fn locate(configured: Option<String>, defaults: &[PathBuf], what: &str) -> Result<PathBuf, RunnerError> {
    if let Some(path) = configured {
        let path = PathBuf::from(path);
        if !path.is_absolute() {
            return Err(RunnerError::InvalidConfig(format!("{what} path {} must be absolute", path.display())));
        }
        if !path.exists() {
            return Err(RunnerError::ToolchainMissing(format!(
                "{what} not found at the configured {}",
                path.display()
            )));
        }
        return Ok(path);
    }
    defaults.iter().find(|p| p.exists()).cloned().ok_or_else(|| {
        let list: Vec<String> = defaults.iter().map(|p| p.display().to_string()).collect();
        RunnerError::ToolchainMissing(format!("{what} not found (looked at {})", list.join(", ")))
    })
}

/// Resolves symlinks (`/usr/bin/java` → `/usr/lib/jvm/…/bin/java`).
pub fn resolve(path: &Path) -> Result<PathBuf, RunnerError> {
    std::fs::canonicalize(path)
        .map_err(|e| RunnerError::ToolchainMissing(format!("cannot resolve {}: {e}", path.display())))
}

/// Runs `program args…` with an empty environment (but `PATH`) and returns
/// stdout, or stderr when stdout is empty (`java -version` writes to stderr).
pub fn command_output(program: &Path, args: &[&str]) -> Result<String, RunnerError> {
    let missing =
        |why: String| RunnerError::ToolchainMissing(format!("{} {}: {why}", program.display(), args.join(" ")));
    let mut child = Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| missing(e.to_string()))?;
    let started = Instant::now();
    let deadline = started + PROBE_TIMEOUT;
    // The pipes reach EOF when the program exits: read both on threads and wake
    // at once, instead of polling the exit status and noticing it late.
    let (done, finished) = std::sync::mpsc::channel::<(usize, String)>();
    let pipes: [Option<Box<dyn Read + Send>>; 2] = [
        child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
        child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
    ];
    for (i, pipe) in pipes.into_iter().enumerate() {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            let _ = done.send((i, text));
        });
    }
    drop(done);
    let mut texts: [Option<String>; 2] = [None, None];
    let mut timed_out = false;
    while texts.iter().any(Option::is_none) {
        match finished.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((i, text)) => texts[i] = Some(text),
            Err(_) => {
                timed_out = true;
                break;
            }
        }
    }
    // Both pipes closed: the program has exited (or closed them and goes on; the deadline holds).
    let status = loop {
        match child.try_wait().map_err(|e| missing(e.to_string()))? {
            Some(status) if !timed_out => break status,
            None if !timed_out && Instant::now() < deadline => std::thread::sleep(Duration::from_micros(100)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(missing(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())));
            }
        }
    };
    let [stdout, stderr] = texts.map(Option::unwrap_or_default);
    if !status.success() {
        return Err(missing(format!("exited with {status}: {}", stderr.trim())));
    }
    Ok(if stdout.trim().is_empty() { stderr } else { stdout })
}

/// The first line of `text`, trimmed.
pub fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_strings_are_read_and_wrong_types_rejected() {
        assert_eq!(config_string(&json!(null), "go").unwrap(), None);
        assert_eq!(config_string(&json!({"go": "/x/go"}), "go").unwrap(), Some("/x/go".into()));
        assert!(matches!(config_string(&json!({"go": 3}), "go"), Err(RunnerError::InvalidConfig(_))));
        assert!(matches!(config_string(&json!([1]), "go"), Err(RunnerError::InvalidConfig(_))));
        assert!(
            matches!(config_known_keys(&json!({"og": "x"}), &["go"]), Err(RunnerError::InvalidConfig(m)) if m.contains("og"))
        );
    }

    #[test]
    fn locate_prefers_the_configured_path_and_names_what_is_missing() {
        let err = locate(None, &[PathBuf::from("/nonexistent/a"), PathBuf::from("/nonexistent/b")], "go")
            .expect_err("nothing exists");
        assert!(err.to_string().contains("/nonexistent/a, /nonexistent/b"), "{err}");
        let err =
            locate(Some("/nonexistent/c".into()), &[PathBuf::from("/")], "go").expect_err("configured is missing");
        assert!(err.to_string().contains("configured /nonexistent/c"), "{err}");
        assert_eq!(
            locate(None, &[PathBuf::from("/nonexistent"), PathBuf::from("/")], "x").unwrap(),
            PathBuf::from("/")
        );
    }

    #[test]
    fn command_output_returns_stdout_or_else_stderr_and_fails_on_a_nonzero_exit() {
        assert_eq!(command_output(Path::new("/bin/echo"), &["go1.19"]).unwrap(), "go1.19\n");
        let sh = Path::new("/bin/sh");
        assert_eq!(command_output(sh, &["-c", "echo 'openjdk 17' >&2"]).unwrap(), "openjdk 17\n");
        let err = command_output(sh, &["-c", "echo broken >&2; exit 3"]).expect_err("exit 3");
        assert!(err.to_string().contains("broken"), "{err}");
    }

    #[test]
    fn command_output_reports_a_program_that_cannot_start() {
        let err = command_output(Path::new("/nonexistent/prog"), &["--version"]).expect_err("cannot run");
        assert!(matches!(err, RunnerError::ToolchainMissing(_)));
    }
}
