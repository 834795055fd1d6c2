//! Optional per-step timestamps of a run, for the benchmark's cost breakdown.
//!
//! Off unless [`enable`] was called (only `examples/sandbox_bench` does): then
//! the supervisor, init and the payload each write `CLOCK_MONOTONIC` into one
//! shared anonymous page at fixed [`Point`]s. The page is inherited across
//! `clone3` and `fork`, and writing it is async-signal-safe (a vDSO clock read
//! and a volatile store), so it may be called between fork and exec.

use std::sync::atomic::{AtomicPtr, Ordering};

/// Where a timestamp is taken, in run order.
#[derive(Clone, Copy, Debug)]
#[repr(usize)]
pub enum Point {
    RunEntered,
    CgroupCreated,
    BeforeClone,
    InitStarted,
    InitJoinedCgroups,
    InitJoinedNetwork,
    InitEnteredTemplate,
    InitMounted,
    InitForking,
    PayloadStarted,
    PayloadStdio,
    PayloadIdentity,
    PayloadLandlock,
    PayloadSeccomp,
    InitSawExit,
    InitReaped,
    Decided,
    CgroupRemoved,
}

/// Names of the intervals ending at each point, for reports.
pub const NAMES: [&str; 18] = [
    "-",
    "cgroup create",
    "spec, plan, pipes",
    "clone3 until init runs",
    "init: join cgroups, cgroup ns",
    "init: network ns, prctl",
    "init: enter a copy of the template",
    "init: the run's mounts",
    "init: hand over the mount ns, landlock rules",
    "start the payload (vfork) until it runs",
    "payload: stdio, signals, rlimits, cwd",
    "payload: caps, ids, no_new_privs",
    "payload: landlock, close_range",
    "payload: seccomp",
    "exec, program, exit, init wakes",
    "init exits (namespaces torn down), supervisor reaps",
    "decide (read counters)",
    "cgroup remove",
];

static PAGE: AtomicPtr<u64> = AtomicPtr::new(std::ptr::null_mut());
const SLOTS: usize = NAMES.len();

/// Turns tracing on for this process and its future sandbox children.
pub fn enable() -> std::io::Result<()> {
    if !PAGE.load(Ordering::Acquire).is_null() {
        return Ok(());
    }
    // SAFETY: an anonymous shared mapping of one page; no file or address is given.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if page == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    PAGE.store(page.cast(), Ordering::Release);
    Ok(())
}

/// Records the time at `point` (no-op when tracing is off). Async-signal-safe.
pub fn mark(point: Point) {
    let page = PAGE.load(Ordering::Relaxed);
    if page.is_null() {
        return;
    }
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid out-pointer; `page` holds SLOTS u64s and the index is in range.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
        std::ptr::write_volatile(page.add(point as usize), ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
    }
}

/// The last run's interval lengths in microseconds, by [`NAMES`]; `None` when tracing is off.
pub fn take() -> Option<Vec<(&'static str, f64)>> {
    let page = PAGE.load(Ordering::Acquire);
    if page.is_null() {
        return None;
    }
    // SAFETY: the page holds SLOTS u64s written by this process tree; reads are volatile.
    let stamps: Vec<u64> = (0..SLOTS).map(|i| unsafe { std::ptr::read_volatile(page.add(i)) }).collect();
    Some((1..SLOTS).map(|i| (NAMES[i], stamps[i].saturating_sub(stamps[i - 1]) as f64 / 1000.0)).collect())
}
