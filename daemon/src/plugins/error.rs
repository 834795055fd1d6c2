//! The plugin host's errors: why a plugin was rejected, why a call failed.
//! Every message names the plugin file (loading) or the runner (calls).

use crate::sandbox::SandboxError;
use acejudge_runner_api::RunnerError;
use std::path::PathBuf;

/// Why a plugin file was not loaded. The rest of the plugins keep working.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: cannot load the library: {source}")]
    Open { path: PathBuf, source: libloading::Error },
    #[error(
        "{path}: no `{symbol}` symbol, so not an AceJudge runner plugin (build it with `export_runner!`): {source}"
    )]
    MissingSymbol { path: PathBuf, symbol: &'static str, source: libloading::Error },
    #[error("{path}: the entry point returned a null pointer")]
    NullEntry { path: PathBuf },
    #[error("{path}: plugin ABI version {found}, but this AceJudge supports {min} to {max}: rebuild the plugin against the matching acejudge-runner-api")]
    AbiVersion { path: PathBuf, found: u32, min: u32, max: u32 },
    #[error("{path}: {source}")]
    Call { path: PathBuf, source: CallError },
    #[error("{path}: invalid runner info: {reason}")]
    InvalidInfo { path: PathBuf, reason: String },
    #[error("{path}: runner id `{id}` is already provided by {other}")]
    Duplicate { path: PathBuf, id: String, other: PathBuf },
    #[error("cannot read the runners directory {path}: {source}")]
    Directory { path: PathBuf, source: std::io::Error },
}

impl LoadError {
    /// The plugin file (or directory) the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            LoadError::Open { path, .. }
            | LoadError::MissingSymbol { path, .. }
            | LoadError::NullEntry { path }
            | LoadError::AbiVersion { path, .. }
            | LoadError::Call { path, .. }
            | LoadError::InvalidInfo { path, .. }
            | LoadError::Duplicate { path, .. }
            | LoadError::Directory { path, .. } => path,
        }
    }
}

/// One call into a plugin that did not give a usable answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The plugin answered with bytes that are not the expected JSON.
    #[error("`{method}` returned garbage: {reason}")]
    Garbage { method: &'static str, reason: String },
    /// The plugin answered with an error (a panic it caught included).
    #[error("`{method}` failed: {error}")]
    Runner { method: &'static str, error: RunnerError },
}

/// A loaded runner that could not do what the host asked.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("runner `{runner}` ({path}): {source}")]
    Call { runner: String, path: PathBuf, source: CallError },
    #[error("runner `{runner}`: its toolchain is unavailable: {reason}")]
    Unavailable { runner: String, reason: String },
    /// The plan or declaration breaks the host's rules (a runner bug).
    #[error("runner `{runner}` made an invalid {what}: {reason}")]
    Invalid { runner: String, what: &'static str, reason: String },
}

/// Why a job could not be executed (as opposed to a program that failed).
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    #[error("invalid job: {0}")]
    InvalidJob(String),
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
}

/// Why a cache could not be prepared (runs then go without it).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache `{name}` of runner `{runner}`: {what} {path}: {source}")]
    Io { runner: String, name: String, what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("cache `{name}` of runner `{runner}`: warm-up step `{argv}` ended as {status}: {stderr}")]
    Warmup { runner: String, name: String, argv: String, status: String, stderr: String },
    #[error("cache `{name}` of runner `{runner}`: {source}")]
    Sandbox { runner: String, name: String, source: SandboxError },
    #[error("cache `{name}` of runner `{runner}`: {reason}")]
    Invalid { runner: String, name: String, reason: String },
}
