//! The plugin host: loads runner plugins, checks them, and runs jobs through them.
//!
//! - [`library`]: one `.so` — `dlopen`, the ABI version check (first, before
//!   any call), JSON calls whose buffers go back to the plugin's `free`;
//! - [`registry`]: every plugin of the runners directory by language id;
//!   rejected files with their reason; toolchains looked up on first use;
//! - [`policy`]: what a runner may declare and plan (read-only paths, limits
//!   within the request plus declared allowances, support files in the box);
//! - [`cache`]: caches prepared once per toolchain (Go's build cache) and
//!   shown copy-on-write to runs;
//! - [`artifacts`]: compile outputs kept under a SHA-256 of everything the
//!   compile saw, placed in the box instead of compiling byte-identical
//!   inputs again;
//! - [`toolchain_cache`]: successful toolchain probes remembered in the data
//!   dir while the plugin, its configuration and the toolchain's files are
//!   unchanged (one-shot commands skip the version probe);
//! - [`execute`]: one job — plan, box, compile and run steps in the sandbox,
//!   the runner's diagnosis and test report;
//! - [`warm`]: ad-hoc programs whose runtime was started, in their own
//!   sandbox, before they came (the daemon's slots prepare the next run
//!   after each job).
//!
//! For the judge, the whole path is:
//!
//! ```no_run
//! # fn demo(sandbox: &acejudge::sandbox::Sandbox) -> Result<(), Box<dyn std::error::Error>> {
//! use acejudge::plugins::{self, api::Mode, CacheStore, Job, LoadOptions, Registry};
//! let registry = Registry::load(&LoadOptions { dir: "/usr/lib/acejudge/runners".into(), ..Default::default() });
//! let caches = CacheStore::new("/var/lib/acejudge/caches".as_ref());
//! let runner = registry.get("python").ok_or("python is not installed")?;
//! let files = vec![
//!     ("rate_limiter.py".to_string(), b"class RateLimiter: ...".to_vec()),
//!     ("test_rate_limiter.py".to_string(), b"import unittest ...".to_vec()),
//! ];
//! let job = Job::new(Mode::Tests, "rate_limiter.py", files);
//! let execution = plugins::execute(sandbox, 0, runner, &caches, &job)?;
//! for test in execution.report.iter().flat_map(|r| &r.tests) {
//!     println!("{} {:?}", test.name, test.status);
//! }
//! # Ok(()) }
//! ```
//!
//! **Architecture Invariant:** plugins never run untrusted code themselves and
//! never see a sandbox type: they return plans (data) and read outputs (data).
//! Everything untrusted runs through [`crate::sandbox::Sandbox::run`] here.
//!
//! **Architecture Invariant:** a plugin library is never unloaded while a
//! [`LoadedRunner`] from it exists.

pub mod artifacts;
pub mod cache;
pub mod error;
pub mod execute;
pub mod library;
pub mod policy;
pub mod registry;
pub mod toolchain_cache;
pub mod warm;

pub use acejudge_runner_api as api;
pub use artifacts::ArtifactCache;
pub use cache::CacheStore;
pub use error::{CacheError, CallError, ExecuteError, LoadError, PluginError};
pub use execute::{execute, execute_observed, Execution, Job, StepResult};
pub use policy::HostPolicy;
pub use registry::{LoadOptions, LoadedRunner, Registry, ToolchainStatus};
pub use toolchain_cache::ToolchainCache;
pub use warm::WarmStarts;
