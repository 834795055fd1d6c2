//! seccomp: the syscall policy, kept as commented data in `policy/seccomp.json`
//! (seccompiler's JSON format) and compiled once at start-up.
//!
//! Four stacked filters; the kernel applies the most severe answer of all:
//! - `allowlist`: Docker's default profile as reference; anything else kills
//!   the process (`SIGSYS` → `security_violation`). Calls refused below are on
//!   it too, so that they fail with an errno instead of killing: runtimes
//!   probe some of them (libuv tries io_uring, the JVM tries `clone3`).
//! - `refused`: EPERM for ptrace, process_vm_*, bpf, perf_event_open,
//!   userfaultfd, keyctl, mount, setns, unshare, io_uring_*, `clone` with any
//!   namespace flag, and host administration calls.
//! - `socket_families`: EAFNOSUPPORT for every socket family but AF_UNIX.
//! - `clone3`: ENOSYS, since BPF cannot read its flags; libc falls back to clone.
//!
//! seccompiler's arch check kills any call made with a non-native ABI
//! (a 32-bit `int 0x80` on x86_64).

use seccompiler::{BpfMap, BpfProgram, TargetArch};

/// The policy, embedded in the binary.
pub const POLICY_JSON: &str = include_str!("policy/seccomp.json");

/// The filters in the order they are installed.
const FILTERS: [&str; 4] = ["refused", "socket_families", "clone3", "allowlist"];

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("the seccomp policy does not compile: {0}")]
    Compile(#[from] seccompiler::Error),
    #[error("the seccomp policy has no `{0}` filter")]
    MissingFilter(&'static str),
    #[error("seccomp filters are not supported on this architecture")]
    UnsupportedArch,
}

/// Compiles the embedded policy for this architecture; fails on any unknown syscall name.
pub fn compile() -> Result<Vec<BpfProgram>, SeccompError> {
    let arch = native_arch()?;
    let mut map: BpfMap = seccompiler::compile_from_json(POLICY_JSON.as_bytes(), arch)?;
    FILTERS.iter().map(|name| map.remove(*name).ok_or(SeccompError::MissingFilter(name))).collect()
}

fn native_arch() -> Result<TargetArch, SeccompError> {
    if cfg!(target_arch = "x86_64") {
        Ok(TargetArch::x86_64)
    } else if cfg!(target_arch = "aarch64") {
        Ok(TargetArch::aarch64)
    } else {
        Err(SeccompError::UnsupportedArch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_compiles_into_four_non_empty_filters() {
        let filters = compile().unwrap();
        assert_eq!(filters.len(), 4);
        assert!(filters.iter().all(|f| !f.is_empty()));
    }

    #[test]
    fn every_refused_call_is_also_on_the_allowlist_so_it_fails_with_errno() {
        let policy: serde_json::Value = serde_json::from_str(POLICY_JSON).unwrap();
        let names = |filter: &str| -> Vec<String> {
            policy[filter]["filter"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["syscall"].as_str().unwrap().to_string())
                .collect()
        };
        let allowed = names("allowlist");
        for filter in ["refused", "socket_families", "clone3"] {
            for name in names(filter) {
                assert!(allowed.contains(&name), "`{name}` of `{filter}` would be killed, not refused");
            }
        }
        assert_eq!(policy["allowlist"]["mismatch_action"], "kill_process", "no allow-all profile");
    }
}
