//! The one error type a runner returns, serialized across the boundary.

use serde::{Deserialize, Serialize};

/// Why a runner call failed. It crosses the ABI as JSON, so it carries
/// messages, not sources.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum RunnerError {
    /// The toolchain is not installed where the configuration says: the message says what is missing.
    #[error("toolchain not found: {0}")]
    ToolchainMissing(String),
    /// The host's JSON configuration for this runner is wrong.
    #[error("invalid runner configuration: {0}")]
    InvalidConfig(String),
    /// The request cannot be planned (e.g. an entry file with the wrong extension).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The framework's output could not be read at all.
    #[error("cannot read the test output: {0}")]
    Parse(String),
    /// The runner panicked; the panic was caught on the plugin side.
    #[error("the runner panicked: {0}")]
    Panic(String),
    /// The host called a method this plugin does not know.
    #[error("unknown method `{0}`")]
    UnknownMethod(String),
    /// The host sent input the plugin could not decode.
    #[error("bad input: {0}")]
    BadInput(String),
    #[error("{0}")]
    Internal(String),
}
