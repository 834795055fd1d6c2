//! Warm starts: an ad-hoc program's run step started before the program comes.
//!
//! A runner may give its run step a `warm_argv` ([`Step::warm_argv`]): the
//! runtime (an interpreter, a VM) starts first and waits for the entry's name
//! on a start descriptor, then runs the entry as `argv` would. After a job on
//! a worker slot, the daemon prepares the slot's next run the same way the
//! last ad-hoc job's run step looked — same runner, environment, limits and
//! box size — in a fresh box ([`Sandbox::prepare`]). When the next job is
//! that run, its files go into the waiting run's box and the start signal is
//! written ([`Sandbox::run_prepared`]): the runtime's start-up is behind it.
//! Anything else (another language, other limits, a submission) runs cold and
//! discards the waiting run.
//!
//! **Architecture Invariant:** a prepared run is a whole sandboxed run of its
//! own — fresh namespaces, cgroup, box, Landlock and seccomp, the slot's uid —
//! used by at most one job and never reused. Nothing of one job reaches
//! another; only the order of work changes (the runtime loads first). Its
//! clocks start with the start signal, so the runtime's start-up is not the
//! program's time; its memory is the program's, as in a cold run.

use super::api::{Plan, Step, Toolchain};
use super::error::ExecuteError;
use super::execute::{place_files, sandbox_spec, Job};
use crate::sandbox::{BoxDir, Outcome, Sandbox};
use std::sync::Mutex;

/// The warm starts of every worker slot.
pub struct WarmStarts {
    slots: Vec<Mutex<SlotWarmth>>,
}

#[derive(Default)]
struct SlotWarmth {
    /// How the slot's last warm-startable job ran: what to prepare next.
    recipe: Option<Recipe>,
    /// The prepared run waiting in the sandbox, and its (empty) box.
    waiting: Option<Waiting>,
}

#[derive(Clone)]
struct Recipe {
    runner: String,
    step: Step,
    toolchain: Toolchain,
    box_bytes: u64,
}

struct Waiting {
    runner: String,
    boxed: BoxDir,
}

impl WarmStarts {
    pub fn new(slots: usize) -> WarmStarts {
        WarmStarts { slots: (0..slots).map(|_| Mutex::default()).collect() }
    }

    /// Runs `job`'s run step (`plan.run`, which has a `warm_argv`) on the run
    /// waiting in `slot`, when one was prepared for exactly this step:
    /// `Ok(None)` means run it cold. Either way, that step is what the slot
    /// prepares next ([`WarmStarts::refill`]).
    pub fn run(
        &self,
        sandbox: &Sandbox,
        slot: usize,
        runner: &str,
        toolchain: &Toolchain,
        job: &Job,
        plan: &Plan,
    ) -> Result<Option<Outcome>, ExecuteError> {
        let step = &plan.run;
        let Some(warm_step) = warm_step(step) else { return Ok(None) };
        let Some(state) = self.slots.get(slot) else { return Ok(None) };
        let waiting = {
            let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
            state.recipe = Some(Recipe {
                runner: runner.into(),
                step: step.clone(),
                toolchain: toolchain.clone(),
                box_bytes: job.box_bytes,
            });
            state.waiting.take()
        };
        let Some(waiting) = waiting.filter(|w| w.runner == runner) else { return Ok(None) };
        place_files(&waiting.boxed, job, plan)?;
        let spec = sandbox_spec(&warm_step, &waiting.boxed, toolchain, &job.stdin, job.box_bytes);
        let start = format!("{}\n", job.entry);
        Ok(sandbox.run_prepared(slot, &spec, start.as_bytes())?)
    }

    /// Prepares `slot`'s next run after its last warm-startable job, unless
    /// one is waiting already. Failures are logged: the next job runs cold.
    pub fn refill(&self, sandbox: &Sandbox, slot: usize) {
        let Some(state) = self.slots.get(slot) else { return };
        let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
        if state.waiting.is_some() {
            return;
        }
        let Some(recipe) = state.recipe.clone() else { return };
        let Some(warm_step) = warm_step(&recipe.step) else { return };
        let prepared = sandbox.create_box(slot, recipe.box_bytes).and_then(|boxed| {
            let spec = sandbox_spec(&warm_step, &boxed, &recipe.toolchain, &[], recipe.box_bytes);
            sandbox.prepare(slot, &spec).map(|()| boxed)
        });
        match prepared {
            Ok(boxed) => state.waiting = Some(Waiting { runner: recipe.runner, boxed }),
            Err(error) => tracing::warn!(slot, runner = %recipe.runner, %error, "no warm start prepared"),
        }
    }

    /// The runner whose run is waiting in `slot`, if any.
    pub fn waiting(&self, slot: usize) -> Option<String> {
        let state = self.slots.get(slot)?.lock().unwrap_or_else(|p| p.into_inner());
        state.waiting.as_ref().map(|w| w.runner.clone())
    }
}

/// `step` as its warm start runs it: the warm argv, everything else the same.
fn warm_step(step: &Step) -> Option<Step> {
    let argv = step.warm_argv.clone()?;
    Some(Step { argv, warm_argv: None, ..step.clone() })
}
