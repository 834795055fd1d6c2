//! The registry: every runner plugin of the runners directory, by language id.
//!
//! Loading a directory never fails as a whole: each `.so` is loaded, its ABI
//! version checked and its `info` read; a plugin that fails any of that is
//! kept in [`Registry::rejected`] with a message naming the file and the
//! reason, and the others work. A runner's toolchain is looked up on first
//! use (so `acejudge run --lang python` does not probe Java), and a missing
//! toolchain leaves the runner listed but unavailable. One-shot commands
//! load only the plugin they need when its file name says which it is
//! ([`Registry::load_for`]) and may reuse an earlier probe from disk
//! ([`super::toolchain_cache`]).

use super::error::{CallError, LoadError, PluginError};
use super::library::Plugin;
use super::policy::{is_name, HostPolicy};
use super::toolchain_cache::ToolchainCache;
use acejudge_runner_api::abi::method;
use acejudge_runner_api::{
    Diagnosis, Plan, PlanRequest, RunnerConfig, RunnerError, RunnerInfo, SelfTest, StepOutput, TestReport, Toolchain,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Where and how to load plugins.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    pub dir: PathBuf,
    /// Load only `libacejudge_runner_*.so`: for directories that hold other
    /// libraries too (a cargo `target/` dir). By default, every `*.so`.
    pub runner_files_only: bool,
    /// Per-runner JSON configuration, by runner id.
    pub configs: BTreeMap<String, RunnerConfig>,
    pub policy: HostPolicy,
    /// Where successful toolchain probes are remembered; `None`: probe every time.
    pub toolchain_cache: Option<ToolchainCache>,
}

/// The loaded runners and the rejected plugin files.
pub struct Registry {
    runners: Vec<LoadedRunner>,
    rejected: Vec<LoadError>,
}

impl Registry {
    /// Loads every plugin in `options.dir` (sorted by file name).
    pub fn load(options: &LoadOptions) -> Registry {
        let files = match plugin_files(&options.dir, options.runner_files_only) {
            Ok(files) => files,
            Err(source) => {
                let error = LoadError::Directory { path: options.dir.clone(), source };
                tracing::warn!(error = %error, "no runners loaded");
                return Registry { runners: vec![], rejected: vec![error] };
            }
        };
        Registry::load_files(&files, options)
    }

    /// Loads what `lang` (a runner id or extension) needs: when the directory
    /// has `libacejudge_runner_<lang>.so` (or `<lang>.so`) and that plugin is
    /// the runner for `lang`, only that file is loaded (dlopen and `info` of
    /// every other plugin cost ~0.15 ms each); otherwise the whole directory,
    /// as [`Registry::load`]. Other plugins are then not checked, so a
    /// duplicate id elsewhere in the directory goes unreported.
    pub fn load_for(options: &LoadOptions, lang: &str) -> Registry {
        if !is_name(lang) {
            return Registry::load(options);
        }
        let named = if options.runner_files_only {
            vec![format!("libacejudge_runner_{lang}.so")]
        } else {
            vec![format!("libacejudge_runner_{lang}.so"), format!("{lang}.so")]
        };
        for name in named {
            let path = options.dir.join(&name);
            if !path.is_file() {
                continue;
            }
            let registry = Registry::load_files(&[path], options);
            if registry.find(lang).is_some() {
                return registry;
            }
        }
        Registry::load(options)
    }

    /// Loads the given plugin files.
    pub fn load_files(files: &[PathBuf], options: &LoadOptions) -> Registry {
        let mut registry = Registry { runners: vec![], rejected: vec![] };
        for path in files {
            match LoadedRunner::load(path, options) {
                Ok(runner) => {
                    if let Some(other) = registry.get(runner.id()) {
                        let error = LoadError::Duplicate {
                            path: path.clone(),
                            id: runner.id().to_string(),
                            other: other.path().to_path_buf(),
                        };
                        tracing::warn!(error = %error, "runner plugin rejected");
                        registry.rejected.push(error);
                        continue;
                    }
                    tracing::info!(runner = runner.id(), path = %path.display(), "runner plugin loaded");
                    registry.runners.push(runner);
                }
                Err(error) => {
                    tracing::warn!(error = %error, "runner plugin rejected");
                    registry.rejected.push(error);
                }
            }
        }
        registry
    }

    /// The runner for language `id`.
    pub fn get(&self, id: &str) -> Option<&LoadedRunner> {
        self.runners.iter().find(|r| r.id() == id)
    }

    /// The runner whose id or one of whose extensions is `lang` (`py` finds `python`).
    pub fn find(&self, lang: &str) -> Option<&LoadedRunner> {
        self.get(lang).or_else(|| self.runners.iter().find(|r| r.info().extensions.iter().any(|e| e == lang)))
    }

    /// Loaded runners, sorted by file name.
    pub fn runners(&self) -> &[LoadedRunner] {
        &self.runners
    }

    /// Plugins that were not loaded, each with its reason.
    pub fn rejected(&self) -> &[LoadError] {
        &self.rejected
    }
}

fn plugin_files(dir: &Path, runner_files_only: bool) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "so") && p.is_file())
        .filter(|p| {
            !runner_files_only || p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("libacejudge_runner_"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The state of a runner's toolchain on this host.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ToolchainStatus {
    Found { toolchain: Toolchain },
    Missing { reason: String },
}

/// One loaded runner: the plugin, what it said about itself, its toolchain.
#[derive(Clone)]
pub struct LoadedRunner {
    plugin: Arc<Plugin>,
    info: RunnerInfo,
    config: RunnerConfig,
    policy: HostPolicy,
    toolchain_cache: Option<ToolchainCache>,
    toolchain: Arc<OnceLock<Result<Toolchain, String>>>,
}

impl LoadedRunner {
    fn load(path: &Path, options: &LoadOptions) -> Result<LoadedRunner, LoadError> {
        let plugin = Plugin::load(path)?;
        let info: RunnerInfo =
            plugin.call(method::INFO, &()).map_err(|source| LoadError::Call { path: path.into(), source })?;
        check_info(&info).map_err(|reason| LoadError::InvalidInfo { path: path.into(), reason })?;
        let config = options.configs.get(&info.id).cloned().unwrap_or(RunnerConfig::Null);
        Ok(LoadedRunner {
            plugin: Arc::new(plugin),
            info,
            config,
            policy: options.policy.clone(),
            toolchain_cache: options.toolchain_cache.clone(),
            toolchain: Arc::new(OnceLock::new()),
        })
    }

    pub fn id(&self) -> &str {
        &self.info.id
    }

    pub fn info(&self) -> &RunnerInfo {
        &self.info
    }

    pub fn path(&self) -> &Path {
        self.plugin.path()
    }

    pub fn abi_version(&self) -> u32 {
        self.plugin.abi_version()
    }

    pub fn policy(&self) -> &HostPolicy {
        &self.policy
    }

    /// Finds the toolchain on first call (the plugin probes the host, or a
    /// still-valid earlier probe comes from the toolchain cache), then
    /// remembers it. Missing toolchains, bad configuration and declarations
    /// the host refuses are all `Missing` with the reason.
    pub fn toolchain_status(&self) -> ToolchainStatus {
        match self.toolchain_result() {
            Ok(toolchain) => ToolchainStatus::Found { toolchain: toolchain.clone() },
            Err(reason) => ToolchainStatus::Missing { reason: reason.clone() },
        }
    }

    /// The toolchain, or why this runner cannot run anything here.
    pub fn toolchain(&self) -> Result<&Toolchain, PluginError> {
        self.toolchain_result()
            .as_ref()
            .map_err(|reason| PluginError::Unavailable { runner: self.id().into(), reason: reason.clone() })
    }

    fn toolchain_result(&self) -> &Result<Toolchain, String> {
        self.toolchain.get_or_init(|| {
            let cache = self.toolchain_cache.as_ref();
            let (path, version) = (self.path(), self.info.version.as_str());
            let cached = cache.and_then(|c| c.load(self.id(), path, version, &self.config));
            let from_cache = cached.is_some();
            let found: Result<Toolchain, CallError> = match cached {
                Some(toolchain) => Ok(toolchain),
                None => self.plugin.call(method::TOOLCHAIN, &self.config),
            };
            let checked = match found {
                Ok(toolchain) => self
                    .policy
                    .check_toolchain(&toolchain)
                    .map(|()| toolchain)
                    .map_err(|e| format!("the host refuses its declaration: {e}")),
                Err(CallError::Runner { error: RunnerError::ToolchainMissing(m), .. }) => Err(m),
                Err(e) => Err(e.to_string()),
            };
            match (&checked, cache) {
                (Err(reason), _) => tracing::warn!(runner = self.id(), reason = %reason, "toolchain unavailable"),
                (Ok(toolchain), Some(cache)) if !from_cache => {
                    cache.store(self.id(), path, version, &self.config, toolchain)
                }
                _ => {}
            }
            checked
        })
    }

    fn call_error(&self, source: CallError) -> PluginError {
        PluginError::Call { runner: self.id().into(), path: self.path().into(), source }
    }

    /// Asks the runner for a plan and checks it against the host's rules.
    pub fn plan(&self, request: &PlanRequest) -> Result<Plan, PluginError> {
        let toolchain = self.toolchain()?;
        let input = acejudge_runner_api::abi::PlanInput { toolchain: toolchain.clone(), request: request.clone() };
        let plan: Plan = self.plugin.call(method::PLAN, &input).map_err(|e| self.call_error(e))?;
        self.policy.check_plan(&plan, request, toolchain).map_err(|reason| PluginError::Invalid {
            runner: self.id().into(),
            what: "plan",
            reason,
        })?;
        Ok(plan)
    }

    /// Reads a test run's output into a report.
    pub fn parse_report(&self, output: &StepOutput) -> Result<TestReport, PluginError> {
        self.plugin.call(method::PARSE_REPORT, output).map_err(|e| self.call_error(e))
    }

    /// The runner's reading of a failed step, if it has one.
    pub fn diagnose(&self, output: &StepOutput) -> Result<Option<Diagnosis>, PluginError> {
        self.plugin.call(method::DIAGNOSE, output).map_err(|e| self.call_error(e))
    }

    /// The runner's self-test programs.
    pub fn self_test(&self) -> Result<SelfTest, PluginError> {
        self.plugin.call(method::SELF_TEST, &()).map_err(|e| self.call_error(e))
    }
}

fn check_info(info: &RunnerInfo) -> Result<(), String> {
    if !is_name(&info.id) {
        return Err(format!("id {:?} must be [a-z0-9-]+ (1 to 64 characters)", info.id));
    }
    if info.name.trim().is_empty() {
        return Err("the name is empty".into());
    }
    if info.extensions.is_empty() {
        return Err("no source file extension".into());
    }
    if let Some(bad) = info.extensions.iter().find(|e| e.is_empty() || !e.bytes().all(|b| b.is_ascii_alphanumeric())) {
        return Err(format!("extension {bad:?} must be letters and digits, without the dot"));
    }
    Ok(())
}
