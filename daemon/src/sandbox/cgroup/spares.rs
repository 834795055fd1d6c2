//! Cgroups made ready ahead of time: one spare per worker slot.
//!
//! Creating a run's cgroups (four directories and their limit files on a
//! hybrid host) and removing them afterwards cost ~0.35 ms per run. Neither
//! needs to be on the run's path: each slot keeps one fresh, empty spare,
//! and a background thread removes a used cgroup and makes the slot's next
//! spare while the daemon does other work. A run only writes its limits into
//! the spare it takes (when they differ from what the spare has).
//!
//! Every run still gets cgroups no earlier run was ever in, so its counters
//! (CPU time, peak memory, OOM kills) and page-cache charges start from zero.
//! When no spare is ready (the first run, or the thread is behind) the run
//! creates its cgroup itself, as before.
//!
//! The thread starts by removing the run cgroups that acejudge processes
//! which are gone left behind (killed, or exited with removals pending): they
//! are named `run-<pid>-…`, and only those whose pid no longer exists go.
//!
//! The same thread drops other things whose release is slow and need not
//! delay a run's result ([`Spares::release_later`]): a finished run's mount
//! namespace, whose teardown waits for an RCU grace period.

use super::{CgroupBackend, CgroupError, CgroupLimits, RunCgroup};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

struct Ready {
    cgroup: Box<dyn RunCgroup>,
    limits: CgroupLimits,
}

enum Job {
    /// Remove a used cgroup, then make a spare for `slot` with `limits`.
    Retire { used: Box<dyn RunCgroup>, slot: usize, limits: CgroupLimits },
    /// Just drop it.
    Release(Box<dyn Send>),
}

/// The spares of every slot and the thread that replaces them.
pub struct Spares {
    backend: Arc<dyn CgroupBackend>,
    ready: Arc<Vec<Mutex<Option<Ready>>>>,
    jobs: Option<Sender<Job>>,
    worker: Option<JoinHandle<()>>,
    /// Set when the sandbox goes away: used cgroups are still removed, no new spares made.
    closing: Arc<AtomicBool>,
    prefix: String,
}

impl Spares {
    /// Starts the background thread; spares appear after each slot's first run.
    pub fn new(backend: Arc<dyn CgroupBackend>, slots: usize) -> std::io::Result<Spares> {
        let ready: Arc<Vec<Mutex<Option<Ready>>>> = Arc::new((0..slots).map(|_| Mutex::new(None)).collect());
        let prefix = format!("run-{}", std::process::id());
        let (tx, rx) = mpsc::channel::<Job>();
        let closing = Arc::new(AtomicBool::new(false));
        let worker = {
            let (backend, ready, prefix) = (Arc::clone(&backend), Arc::clone(&ready), prefix.clone());
            let closing = Arc::clone(&closing);
            std::thread::Builder::new().name("acejudge-cgroups".into()).spawn(move || {
                remove_stale(&*backend);
                let mut made = 0u64;
                for job in rx {
                    let (used, slot, limits) = match job {
                        Job::Retire { used, slot, limits } => (used, slot, limits),
                        Job::Release(thing) => {
                            drop(thing);
                            continue;
                        }
                    };
                    if let Err(e) = used.remove() {
                        tracing::warn!(error = %e, "cannot remove a run's cgroup");
                    }
                    if closing.load(Ordering::Acquire) {
                        continue;
                    }
                    made += 1;
                    let name = format!("{prefix}-{slot}-spare{made}");
                    match backend.create(&name, limits) {
                        Ok(cgroup) => {
                            let previous = ready[slot]
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .replace(Ready { cgroup, limits });
                            if let Some(old) = previous {
                                let _ = old.cgroup.remove();
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot prepare a spare cgroup; the next run makes its own")
                        }
                    }
                }
            })?
        };
        Ok(Spares { backend, ready, jobs: Some(tx), worker: Some(worker), closing, prefix })
    }

    /// A fresh cgroup for a run in `slot` with `limits` applied: the slot's spare, or a new one.
    pub fn take(&self, slot: usize, run: u64, limits: CgroupLimits) -> Result<Box<dyn RunCgroup>, CgroupError> {
        let spare = self.ready.get(slot).and_then(|r| r.lock().unwrap_or_else(PoisonError::into_inner).take());
        match spare {
            Some(Ready { mut cgroup, limits: had }) => {
                if had != limits {
                    if let Err(e) = cgroup.set_limits(limits) {
                        let _ = cgroup.remove();
                        return Err(e);
                    }
                }
                Ok(cgroup)
            }
            None => self.backend.create(&format!("{}-{slot}-{run}", self.prefix), limits),
        }
    }

    /// Hands a finished run's cgroup to the background thread, which removes it
    /// and prepares the slot's next spare with the same limits.
    pub fn retire(&self, slot: usize, used: Box<dyn RunCgroup>, limits: CgroupLimits) {
        let job = Job::Retire { used, slot, limits };
        let Some(jobs) = &self.jobs else { return };
        if let Err(mpsc::SendError(Job::Retire { used, .. })) = jobs.send(job) {
            if let Err(e) = used.remove() {
                tracing::warn!(error = %e, "cannot remove a run's cgroup");
            }
        }
    }

    /// Drops `thing` on the background thread (here, if the thread is gone).
    pub fn release_later(&self, thing: Box<dyn Send>) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(Job::Release(thing));
        }
    }
}

/// Removes `run-<pid>-…` cgroups of processes that no longer exist. A cgroup
/// that still holds a process cannot be removed and stays.
fn remove_stale(backend: &dyn CgroupBackend) {
    // Without a procfs every pid would look dead: leave everything then.
    if !Path::new("/proc/self").exists() {
        return;
    }
    let mut removed = 0;
    for parent in backend.run_parents() {
        let Ok(entries) = std::fs::read_dir(&parent) else { continue };
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(owner_pid) else { continue };
            if Path::new("/proc").join(pid.to_string()).exists() {
                continue;
            }
            if std::fs::remove_dir(entry.path()).is_ok() {
                removed += 1;
            }
        }
    }
    if removed > 0 {
        tracing::info!(removed, "removed run cgroups left by acejudge processes that are gone");
    }
}

/// The pid in a run cgroup's name (`run-<pid>-<slot>-<n>`).
fn owner_pid(name: &str) -> Option<u32> {
    name.strip_prefix("run-")?.split('-').next()?.parse().ok()
}

impl Drop for Spares {
    /// Lets the thread finish what was handed to it, then removes the unused spares.
    fn drop(&mut self) {
        self.closing.store(true, Ordering::Release);
        drop(self.jobs.take());
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
        for slot in self.ready.iter() {
            if let Some(ready) = slot.lock().unwrap_or_else(PoisonError::into_inner).take() {
                if let Err(e) = ready.cgroup.remove() {
                    tracing::warn!(error = %e, "cannot remove a spare cgroup");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::cgroup::v2::V2Backend;

    #[test]
    fn only_run_cgroups_of_processes_that_are_gone_are_removed() {
        let root = tempfile::tempdir().unwrap();
        let dead = root.path().join("run-999999999-0-1");
        let mine = root.path().join(format!("run-{}-0-spare1", std::process::id()));
        let other = root.path().join("supervisor");
        for dir in [&dead, &mine, &other] {
            std::fs::create_dir(dir).unwrap();
        }
        remove_stale(&V2Backend::at(root.path().into()));
        assert!(!dead.exists(), "a gone process's run cgroup is removed");
        assert!(mine.exists() && other.exists(), "live owners' and other cgroups stay");
        assert_eq!(owner_pid("run-42-1-7"), Some(42));
        assert_eq!(owner_pid("runner"), None);
    }
}
