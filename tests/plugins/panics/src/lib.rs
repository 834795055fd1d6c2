//! Test fixture: a well-formed plugin whose `info` panics. The panic must be
//! caught inside the plugin and the host must reject the plugin, naming it.

use acejudge_runner_api::*;

#[derive(Default)]
pub struct Panics;

impl Runner for Panics {
    fn info(&self) -> RunnerInfo {
        panic!("this fixture always panics in info()")
    }

    fn toolchain(&self, _config: &RunnerConfig) -> Result<Toolchain, RunnerError> {
        Err(RunnerError::ToolchainMissing("a fixture has no toolchain".into()))
    }

    fn plan(&self, _toolchain: &Toolchain, _request: &PlanRequest) -> Result<Plan, RunnerError> {
        Err(RunnerError::InvalidRequest("a fixture plans nothing".into()))
    }

    fn parse_report(&self, _output: &StepOutput) -> Result<TestReport, RunnerError> {
        Ok(TestReport::default())
    }

    fn self_test(&self) -> SelfTest {
        panic!("this fixture always panics in self_test()")
    }
}

export_runner!(Panics);
