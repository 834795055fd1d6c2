//! The real [`JudgeService`]: challenges + runner plugins + sandbox.
//! (Being written: until it lands, `judge` and `execute` answer an internal error.)

use super::{Execution, ExecutionReport, JudgeError, JudgeReport, JudgeService, LanguageInfo, Progress, Submission};
use crate::challenges::Catalog;
use std::path::PathBuf;

/// Where the judge finds its parts.
#[derive(Clone, Debug)]
pub struct JudgeConfig {
    pub challenges_dir: PathBuf,
    pub runners_dir: PathBuf,
    /// State: the sandbox's boxes and roots, the runners' prepared caches.
    pub data_dir: PathBuf,
    /// Worker slots: judged submissions in flight at once.
    pub slots: usize,
    /// The first slot's uid; slot `i` runs as `uid_base + i`.
    pub uid_base: u32,
}

pub struct Judge {
    catalog: Catalog,
}

impl Judge {
    /// Loads challenges and runner plugins and sets up the sandbox.
    pub fn open(config: &JudgeConfig) -> Result<Judge, JudgeError> {
        let catalog = Catalog::load(&config.challenges_dir)
            .map_err(|e| JudgeError::Runner { language: "-".into(), message: e.to_string() })?;
        Ok(Judge { catalog })
    }
}

impl JudgeService for Judge {
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn languages(&self) -> Vec<LanguageInfo> {
        Vec::new()
    }

    fn validate(&self, submission: &Submission) -> Result<(), JudgeError> {
        super::validate_submission(&self.catalog, &["go", "java", "node", "python"], submission)
    }

    fn judge(
        &self,
        _slot: usize,
        _submission: &Submission,
        _progress: &mut dyn FnMut(Progress),
    ) -> Result<JudgeReport, JudgeError> {
        Err(JudgeError::Runner { language: "-".into(), message: "the judge pipeline is not wired yet".into() })
    }

    fn execute(&self, _slot: usize, _execution: &Execution) -> Result<ExecutionReport, JudgeError> {
        Err(JudgeError::Runner { language: "-".into(), message: "the judge pipeline is not wired yet".into() })
    }
}
