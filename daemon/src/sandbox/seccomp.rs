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
//!
//! seccompiler lays an allowlist out as a linear chain (~1,700 instructions
//! for ~330 calls). Installing that cost ~0.84 ms per run, because the kernel
//! emulates the filter for every syscall number to build its allow cache. The
//! allowlist has no argument conditions, so [`as_range_search`] rebuilds it as
//! a binary search over ranges of syscall numbers: the same decisions (a unit
//! test compares both on every number), about a tenth of the instructions.

use seccompiler::{sock_filter, BpfMap, BpfProgram, TargetArch};

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
    let mut filters: Vec<BpfProgram> = FILTERS
        .iter()
        .map(|name| map.remove(*name).ok_or(SeccompError::MissingFilter(name)))
        .collect::<Result<_, _>>()?;
    if let Some(last) = filters.last_mut() {
        if let Some(faster) = as_range_search(last) {
            *last = faster;
        }
    }
    Ok(filters)
}

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JEQ_K: u16 = 0x15;
const BPF_JGT_K: u16 = 0x25;
const BPF_JGE_K: u16 = 0x35;
const BPF_RET_K: u16 = 0x06;
const SECCOMP_DATA_ARCH_OFFSET: u32 = 4;

#[derive(Clone, Copy)]
enum Target {
    Next,
    Skip(usize),
    Allow,
    Kill,
}

struct Insn {
    code: u16,
    k: u32,
    jt: Target,
    jf: Target,
}

/// Rebuilds seccompiler's linear allowlist (arch check; load nr; `JEQ nr` per
/// call; default kill) as a binary search over ranges of allowed numbers.
/// `None` when the program is not of that shape (e.g. argument conditions),
/// in which case the linear program is kept.
pub fn as_range_search(linear: &BpfProgram) -> Option<BpfProgram> {
    let [load_arch, check_arch, kill_other_arch, load_nr, ..] = linear.as_slice() else { return None };
    let shape_ok = load_arch.code == BPF_LD_W_ABS
        && load_arch.k == SECCOMP_DATA_ARCH_OFFSET
        && check_arch.code == BPF_JEQ_K
        && kill_other_arch.code == BPF_RET_K
        && load_nr.code == BPF_LD_W_ABS
        && load_nr.k == 0;
    let body = &linear[4..];
    // Only syscall-number comparisons and returns: no argument loads.
    if !shape_ok || body.iter().any(|i| i.code & 0x07 == 0x00 || i.code & 0x07 == 0x01) {
        return None;
    }
    let kill = kill_other_arch.k;
    let default = body.last()?;
    if default.code != BPF_RET_K || default.k != kill {
        return None;
    }
    let allow = body.iter().find(|i| i.code == BPF_RET_K && i.k != kill)?.k;
    let mut numbers: Vec<u32> = body.iter().filter(|i| i.code == BPF_JEQ_K).map(|i| i.k).collect();
    numbers.sort_unstable();
    numbers.dedup();
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for n in numbers {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == n => *end = n,
            _ => ranges.push((n, n)),
        }
    }
    if ranges.is_empty() {
        return None;
    }
    let mut tree = Vec::new();
    emit(&ranges, &mut tree);
    let mut program = vec![load_arch.clone(), check_arch.clone(), kill_other_arch.clone(), load_nr.clone()];
    let allow_at = tree.len();
    let kill_at = allow_at + 1;
    for (i, insn) in tree.iter().enumerate() {
        let offset = |t: Target| -> Option<u8> {
            let to = match t {
                Target::Next => i + 1,
                Target::Skip(n) => i + 1 + n,
                Target::Allow => allow_at,
                Target::Kill => kill_at,
            };
            u8::try_from(to - (i + 1)).ok()
        };
        program.push(sock_filter { code: insn.code, jt: offset(insn.jt)?, jf: offset(insn.jf)?, k: insn.k });
    }
    program.push(sock_filter { code: BPF_RET_K, jt: 0, jf: 0, k: allow });
    program.push(sock_filter { code: BPF_RET_K, jt: 0, jf: 0, k: kill });
    Some(program)
}

/// Emits the search over `ranges` (sorted, disjoint, non-empty).
fn emit(ranges: &[(u32, u32)], out: &mut Vec<Insn>) {
    if let [(start, end)] = ranges {
        out.push(Insn { code: BPF_JGE_K, k: *start, jt: Target::Next, jf: Target::Kill });
        out.push(Insn { code: BPF_JGT_K, k: *end, jt: Target::Kill, jf: Target::Allow });
        return;
    }
    let mid = ranges.len() / 2;
    let mut left = Vec::new();
    emit(&ranges[..mid], &mut left);
    out.push(Insn { code: BPF_JGE_K, k: ranges[mid].0, jt: Target::Skip(left.len()), jf: Target::Next });
    out.extend(left);
    emit(&ranges[mid..], out);
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

    /// Runs a filter on (arch, nr) with the subset of classic BPF these programs use.
    fn decide(program: &[sock_filter], arch: u32, nr: u32) -> u32 {
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let i = &program[pc];
            pc += 1;
            match i.code {
                BPF_LD_W_ABS => acc = if i.k == SECCOMP_DATA_ARCH_OFFSET { arch } else { nr },
                BPF_JEQ_K | BPF_JGT_K | BPF_JGE_K => {
                    let taken = match i.code {
                        BPF_JEQ_K => acc == i.k,
                        BPF_JGT_K => acc > i.k,
                        _ => acc >= i.k,
                    };
                    pc += usize::from(if taken { i.jt } else { i.jf });
                }
                BPF_RET_K => return i.k,
                0x05 => pc += i.k as usize, // BPF_JMP | BPF_JA
                other => panic!("unexpected BPF op {other:#x}"),
            }
        }
    }

    #[test]
    fn the_range_search_allowlist_decides_exactly_like_the_linear_one() {
        let arch = native_arch().unwrap();
        let mut map = seccompiler::compile_from_json(POLICY_JSON.as_bytes(), arch).unwrap();
        let linear = map.remove("allowlist").unwrap();
        let fast = as_range_search(&linear).expect("the allowlist has no argument conditions");
        assert!(fast.len() * 4 < linear.len(), "{} vs {} instructions", fast.len(), linear.len());
        let native = linear[1].k;
        for nr in (0..1024).chain([0x4000_0000, 0x4000_0001, 0x4000_0000 + 59, u32::MAX]) {
            for arch in [native, 0x4000_0003] {
                assert_eq!(decide(&fast, arch, nr), decide(&linear, arch, nr), "nr {nr} arch {arch:#x}");
            }
        }
        assert_eq!(decide(&fast, native, 0), libc::SECCOMP_RET_ALLOW, "read is allowed");
        assert_eq!(decide(&fast, native, 0x4000_0000), libc::SECCOMP_RET_KILL_PROCESS, "x32 calls are killed");
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
