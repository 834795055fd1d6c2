//! rlimits: a per-process backstop behind the cgroup limits.
//!
//! CPU (a second past the tree's CPU limit, so the cgroup timer decides first),
//! FSIZE (largest file), NOFILE, CORE=0 (no core dumps into the box), and NPROC
//! for the slot's uid (counts every process of that uid on the host). No
//! RLIMIT_AS: the JVM and Go reserve far more address space than they use;
//! memory is limited by the cgroup.

use super::spec::Limits;

pub fn backstops(limits: &Limits) -> Vec<(libc::__rlimit_resource_t, libc::rlimit)> {
    let cpu_secs = limits.cpu.as_secs() + 1;
    let both = |n: u64| libc::rlimit { rlim_cur: n, rlim_max: n };
    vec![
        (libc::RLIMIT_CPU, libc::rlimit { rlim_cur: cpu_secs, rlim_max: cpu_secs + 1 }),
        (libc::RLIMIT_FSIZE, both(limits.file_size_bytes)),
        (libc::RLIMIT_NOFILE, both(limits.open_files)),
        (libc::RLIMIT_CORE, both(0)),
        (libc::RLIMIT_NPROC, both(limits.pids.saturating_add(8))),
    ]
}
