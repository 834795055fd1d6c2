//! The daemon's configuration: `config/acejudge.toml`, every key optional
//! with a documented default, then the environment (`ACEJUDGE_LISTEN`,
//! `ACEJUDGE_DATA_DIR`) on top.
//!
//! The defaults make `acejudge serve` work from the repository root: the
//! bundled `challenges/`, state in `data/`, runner plugins next to the
//! executable, `127.0.0.1:8080`, one worker slot per core.
//!
//! Precedence, lowest first: built-in defaults → the TOML file → the
//! environment → command-line flags (applied by the caller).

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The configuration file read when `--config` is not given (relative to the working directory).
pub const DEFAULT_CONFIG_PATH: &str = "config/acejudge.toml";

/// Everything `acejudge serve` needs to know.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub queue: QueueConfig,
    pub limits: LimitsConfig,
    pub auth: AuthConfig,
    pub sandbox: SandboxSection,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to listen on. Default `127.0.0.1:8080`; port 0 picks a free port.
    pub listen: SocketAddr,
    /// State: the SQLite database, the sandbox's boxes, prepared caches, cached compile outputs. Default `data`.
    pub data_dir: PathBuf,
    /// Runner plugins (`*.so`). Default: empty, meaning the directory of the acejudge executable.
    pub runners_dir: Option<PathBuf>,
    /// The challenge folders. Default `challenges`.
    pub challenges_dir: PathBuf,
    /// Bound on the compile-output cache (`<data_dir>/artifacts`): successful
    /// compiles' outputs, reused for byte-identical inputs; least recently
    /// used entries go first. 0 disables it. Default 512 MiB.
    pub artifact_cache_bytes: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            runners_dir: None,
            challenges_dir: PathBuf::from("challenges"),
            artifact_cache_bytes: crate::plugins::artifacts::DEFAULT_MAX_BYTES,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Worker slots: submissions judged at once. Default 0, meaning one per CPU core.
    pub slots: usize,
    /// Queued submissions accepted before `POST` answers 503 with Retry-After. Default 1000.
    pub backlog: usize,
    /// How long `?wait=true` holds a request before answering with the current state. Default 60 s.
    pub wait_timeout_secs: u64,
    /// On SIGTERM, how long running submissions may take to finish before they are re-queued. Default 30 s.
    pub shutdown_grace_secs: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig { slots: 0, backlog: 1000, wait_timeout_secs: 60, shutdown_grace_secs: 30 }
    }
}

impl QueueConfig {
    /// The number of worker slots: `slots`, or the number of cores when it is 0.
    pub fn effective_slots(&self) -> usize {
        if self.slots > 0 {
            return self.slots;
        }
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request body. Default 1 MiB.
    pub max_body_bytes: usize,
    /// Largest single submitted file. Default 256 KiB.
    pub max_file_bytes: usize,
    /// Most files in one submission. Default 16.
    pub max_files: usize,
    /// Largest stdin of an ad-hoc execution. Default 256 KiB.
    pub max_stdin_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig { max_body_bytes: 1 << 20, max_file_bytes: 256 << 10, max_files: 16, max_stdin_bytes: 256 << 10 }
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Require a bearer token on loopback too. Off a loopback address tokens are always required. Default false.
    pub require_on_loopback: bool,
    /// Runs (`POST /v1/submissions`, `POST /v1/executions`) allowed per token per window; 0 = unlimited. Default 120.
    pub rate_limit: u32,
    /// The sliding window of the rate limit. Default 60 s.
    pub rate_window_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig { require_on_loopback: false, rate_limit: 120, rate_window_secs: 60 }
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxSection {
    /// The uid (and gid) of worker slot 0; slot `i` runs as `uid_base + i`. Default 61000.
    pub uid_base: u32,
    /// After an ad-hoc execution, start the slot's next run of the same kind
    /// ahead of time (its interpreter loaded, in its own sandbox). Default true.
    pub warm_starts: bool,
}

impl Default for SandboxSection {
    fn default() -> Self {
        SandboxSection { uid_base: 61000, warm_starts: true }
    }
}

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {name}={value:?}: {message}")]
    Env { name: &'static str, value: String, message: String },
    #[error("{key}: {message}")]
    Invalid { key: &'static str, message: String },
}

impl Config {
    /// Reads `path`; when `path` is `None`, reads [`DEFAULT_CONFIG_PATH`] if it exists, or
    /// uses the defaults. Then applies the environment and checks the values.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = match path {
            Some(path) => Config::from_file(path)?,
            None if Path::new(DEFAULT_CONFIG_PATH).is_file() => Config::from_file(Path::new(DEFAULT_CONFIG_PATH))?,
            None => Config::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        config.check()?;
        Ok(config)
    }

    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        Config::parse(&text).map_err(|message| ConfigError::Parse { path: path.into(), message })
    }

    /// Parses TOML text; the error names the key and line.
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| text.get(..s.start).unwrap_or(text).matches('\n').count() + 1);
            match line {
                Some(line) => format!("line {line}: {}", e.message()),
                None => e.message().to_string(),
            }
        })
    }

    /// `ACEJUDGE_LISTEN` and `ACEJUDGE_DATA_DIR` override the file.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(value) = var("ACEJUDGE_LISTEN").filter(|v| !v.is_empty()) {
            self.server.listen = value.parse().map_err(|e: std::net::AddrParseError| ConfigError::Env {
                name: "ACEJUDGE_LISTEN",
                value: value.clone(),
                message: format!("{e}: expected ADDRESS:PORT, e.g. 127.0.0.1:8080"),
            })?;
        }
        if let Some(value) = var("ACEJUDGE_DATA_DIR").filter(|v| !v.is_empty()) {
            self.server.data_dir = PathBuf::from(value);
        }
        Ok(())
    }

    /// Rejects values that cannot work, by key.
    pub fn check(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| Err(ConfigError::Invalid { key, message: message.into() });
        if self.queue.backlog == 0 {
            return invalid("queue.backlog", "must be at least 1");
        }
        if self.queue.slots > 256 {
            return invalid("queue.slots", "must be at most 256");
        }
        if self.limits.max_body_bytes < 1024 {
            return invalid("limits.max_body_bytes", "must be at least 1024");
        }
        if self.limits.max_files == 0 {
            return invalid("limits.max_files", "must be at least 1");
        }
        if self.auth.rate_limit > 0 && self.auth.rate_window_secs == 0 {
            return invalid("auth.rate_window_secs", "must be at least 1 when auth.rate_limit is set");
        }
        if self.server.data_dir.as_os_str().is_empty() {
            return invalid("server.data_dir", "must not be empty");
        }
        Ok(())
    }

    /// Whether requests must carry a bearer token: always off loopback, on loopback when configured.
    pub fn tokens_required(&self) -> bool {
        self.auth.require_on_loopback || !self.server.listen.ip().is_loopback()
    }

    /// The SQLite database inside the data dir.
    pub fn database_path(&self) -> PathBuf {
        database_path(&self.server.data_dir)
    }
}

/// The SQLite database of a data dir.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("acejudge.db")
}

/// The serving daemon's local socket: the same API for the host's
/// administrator, inside a directory only the daemon's user may enter.
pub fn local_socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("run").join("api.sock")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_gives_the_documented_defaults() {
        let config = Config::parse("").unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.server.data_dir, PathBuf::from("data"));
        assert_eq!(config.server.challenges_dir, PathBuf::from("challenges"));
        assert!(!config.tokens_required());
    }

    #[test]
    fn the_shipped_config_parses_and_equals_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/acejudge.toml");
        let config = Config::from_file(&path).unwrap();
        assert_eq!(config, Config::default(), "config/acejudge.toml must document the defaults, not change them");
    }

    #[test]
    fn every_key_of_the_shipped_config_is_commented() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/acejudge.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut keys = 0;
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start_matches('#').trim();
            let is_key = trimmed.contains(" = ")
                && !trimmed.starts_with('[')
                && line.trim_start().starts_with(|c: char| c.is_ascii_lowercase() || c == '#');
            if is_key && !line.starts_with("# ") {
                keys += 1;
                assert!(
                    i > 0 && lines[i - 1].starts_with("# "),
                    "key on line {} has no comment above it: {line}",
                    i + 1
                );
            }
        }
        assert!(keys >= 10, "found only {keys} keys");
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_line() {
        let error = Config::parse("[server]\nlisten = \"127.0.0.1:1\"\nport = 3\n").unwrap_err();
        assert!(error.contains("line 3") && error.contains("port"), "{error}");
    }

    #[test]
    fn the_environment_overrides_listen_address_and_data_dir() {
        let mut config = Config::parse("[server]\nlisten = \"127.0.0.1:1\"\ndata_dir = \"/from/file\"\n").unwrap();
        config
            .apply_env(|name| match name {
                "ACEJUDGE_LISTEN" => Some("0.0.0.0:9000".into()),
                "ACEJUDGE_DATA_DIR" => Some("/from/env".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(config.server.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.server.data_dir, PathBuf::from("/from/env"));
        assert!(config.tokens_required(), "a non-loopback address requires tokens");
    }

    #[test]
    fn a_malformed_listen_address_in_the_environment_names_the_variable() {
        let mut config = Config::default();
        let error = config.apply_env(|name| (name == "ACEJUDGE_LISTEN").then(|| "localhost".into())).unwrap_err();
        assert!(error.to_string().contains("ACEJUDGE_LISTEN"), "{error}");
    }

    #[test]
    fn impossible_values_are_rejected_by_key() {
        let config = Config::parse("[queue]\nbacklog = 0\n").unwrap();
        assert!(config.check().unwrap_err().to_string().starts_with("queue.backlog"));
    }
}
