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
//!
//! What an install costs is mostly that emulation: every instruction run for
//! every syscall number (~2.4 µs per instruction of a linear filter here), so
//! [`compile`] installs one short program instead of four: the allowlist's
//! range search, whose `RET ALLOW` jumps ([`chain`]) into one binary search over
//! every syscall the three errno filters answer ([`as_dispatch_tree`]), which
//! jumps straight to that syscall's argument rules as seccompiler compiled
//! them. It answers what the stacked filters answer, because the errno filters
//! name disjoint calls, all of them on the allowlist: a unit test checks that
//! invariant on the policy, and another compares the installed program with
//! seccompiler's four stacked filters on every syscall number, both
//! architectures and a spread of arguments. Install: 840 µs (linear) → ~100 µs.

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

/// The errno filters, merged into one dispatch tree by [`compile`].
const ERRNO_FILTERS: [&str; 3] = ["refused", "socket_families", "clone3"];

/// Compiles the embedded policy for this architecture into the programs to
/// install; fails on any unknown syscall name. Normally one program: the
/// allowlist as a range search, chained into one dispatch tree over every
/// syscall an errno filter answers. Should a filter not have the shape those
/// rewrites expect, seccompiler's filters are installed as they are.
pub fn compile() -> Result<Vec<BpfProgram>, SeccompError> {
    let arch = native_arch()?;
    let linear = compile_linear()?;
    let allowlist = linear.last().and_then(as_range_search);
    let policy: Option<serde_json::Value> = serde_json::from_str(POLICY_JSON).ok();
    let errno = policy.and_then(|policy| as_dispatch_tree(&policy, &ERRNO_FILTERS, arch));
    if let (Some(allowlist), Some(errno)) = (allowlist, errno) {
        if let Some(one) = chain(&[allowlist, errno]) {
            return Ok(vec![one]);
        }
    }
    Ok(linear)
}

/// The policy's filters exactly as seccompiler compiles them, in install order.
pub fn compile_linear() -> Result<Vec<BpfProgram>, SeccompError> {
    let arch = native_arch()?;
    let mut map: BpfMap = seccompiler::compile_from_json(POLICY_JSON.as_bytes(), arch)?;
    FILTERS.iter().map(|name| map.remove(*name).ok_or(SeccompError::MissingFilter(name))).collect()
}

const BPF_JA: u16 = 0x05;

/// Chains `filters` into one program: each filter's `RET ALLOW` jumps to the
/// next filter instead; the last one's answers stand. Same length as the sum,
/// so no jump inside a filter moves. `None` if the result would be too long.
pub fn chain(filters: &[BpfProgram]) -> Option<BpfProgram> {
    let total: usize = filters.iter().map(Vec::len).sum();
    if filters.is_empty() || total > 4096 {
        return None;
    }
    let mut program = Vec::with_capacity(total);
    let last = filters.len() - 1;
    for (n, filter) in filters.iter().enumerate() {
        let next_start = program.len() + filter.len();
        for insn in filter {
            let is_allow = insn.code == BPF_RET_K && insn.k == libc::SECCOMP_RET_ALLOW;
            if n < last && is_allow {
                let offset = u32::try_from(next_start - (program.len() + 1)).ok()?;
                program.push(sock_filter { code: BPF_JA, jt: 0, jf: 0, k: offset });
            } else {
                program.push(insn.clone());
            }
        }
    }
    Some(program)
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

/// One syscall's rules: its number and which distinct body decides it.
struct Block {
    nr: u32,
    body: usize,
}

/// Recompiles filters `names` of `policy` (filters with per-syscall argument
/// rules, which seccompiler lays out as one long chain each, and which must
/// name disjoint syscalls and share their default) as one binary search over
/// their syscall numbers that jumps straight to that syscall's rules. Each
/// syscall's rules are compiled by seccompiler alone, as a filter of their own,
/// and kept as it emitted them. `None` when a program is not of the expected
/// shape or a block could reach outside itself; the caller keeps the chain.
pub fn as_dispatch_tree(policy: &serde_json::Value, names: &[&str], arch: TargetArch) -> Option<BpfProgram> {
    let mut split = serde_json::Map::new();
    for name in names {
        let filter = policy.get(*name)?;
        let mut by_syscall: std::collections::BTreeMap<&str, Vec<serde_json::Value>> = Default::default();
        for rule in filter.get("filter")?.as_array()? {
            by_syscall.entry(rule.get("syscall")?.as_str()?).or_default().push(rule.clone());
        }
        for (i, rules) in by_syscall.values().enumerate() {
            let mut one = filter.clone();
            one["filter"] = serde_json::Value::Array(rules.clone());
            split.insert(format!("{name}-{i}"), one);
        }
    }
    let json = serde_json::to_vec(&split).ok()?;
    let programs = seccompiler::compile_from_json(json.as_slice(), arch).ok()?;
    let any = programs.values().next()?;
    let (prologue, default) = (any.get(..4)?.to_vec(), any.last()?.clone());
    if prologue[0].code != BPF_LD_W_ABS || prologue[0].k != SECCOMP_DATA_ARCH_OFFSET || default.code != BPF_RET_K {
        return None;
    }
    // One default for all: the filters merged must answer the same when no rule matches.
    if programs.values().any(|p| p.last().map(|i| (i.code, i.k)) != Some((default.code, default.k))) {
        return None;
    }
    let mut blocks = Vec::new();
    // Syscalls refused outright all have the same body: each distinct body is laid out once.
    let mut bodies: Vec<Vec<sock_filter>> = Vec::new();
    let same = |a: &sock_filter, b: &sock_filter| (a.code, a.jt, a.jf, a.k) == (b.code, b.jt, b.jf, b.k);
    for program in programs.values() {
        let [p0, p1, p2, p3, check, to_body, to_default, body @ ..] = program.as_slice() else { return None };
        let entry_ok = check.code == BPF_JEQ_K
            && (check.jt, check.jf) == (0, 1)
            && to_body.code == BPF_JA
            && to_body.k == 1
            && to_default.code == BPF_JA;
        let prologue_ok = [p0, p1, p2, p3].iter().zip(&prologue).all(|(a, b)| same(a, b));
        if !entry_ok || !prologue_ok || body.last().map(|i| i.code) != Some(BPF_RET_K) {
            return None;
        }
        for (j, insn) in body.iter().enumerate() {
            let targets = match (insn.code & 0x07, insn.code) {
                (_, BPF_JA) => vec![j + 1 + insn.k as usize],
                (0x05, _) => vec![j + 1 + insn.jt as usize, j + 1 + insn.jf as usize],
                _ => vec![],
            };
            if targets.iter().any(|t| *t >= body.len()) {
                return None;
            }
        }
        let index =
            match bodies.iter().position(|b| b.len() == body.len() && b.iter().zip(body).all(|(x, y)| same(x, y))) {
                Some(i) => i,
                None => {
                    bodies.push(body.to_vec());
                    bodies.len() - 1
                }
            };
        blocks.push(Block { nr: check.k, body: index });
    }
    blocks.sort_by_key(|b| b.nr);
    if blocks.is_empty() || blocks.windows(2).any(|w| w[0].nr == w[1].nr) {
        return None;
    }
    let mut tree = Vec::new();
    dispatch(&blocks, 0, &mut tree);
    let mut program = prologue;
    let tree_start = program.len();
    let mut body_at = Vec::new();
    let mut at = tree_start + tree.len();
    for body in &bodies {
        body_at.push(at);
        at += body.len();
    }
    let default_at = at;
    for (n, (insn, block)) in tree.iter().enumerate() {
        let here = tree_start + n;
        let to = |t: Target| match t {
            Target::Next => here + 1,
            Target::Skip(k) => here + 1 + k,
            Target::Allow => body_at[blocks[block.unwrap_or(0)].body],
            Target::Kill => default_at,
        };
        if insn.code == BPF_JA {
            program.push(sock_filter { code: BPF_JA, jt: 0, jf: 0, k: u32::try_from(to(insn.jt) - here - 1).ok()? });
        } else {
            let jt = u8::try_from(to(insn.jt) - here - 1).ok()?;
            let jf = u8::try_from(to(insn.jf) - here - 1).ok()?;
            program.push(sock_filter { code: insn.code, jt, jf, k: insn.k });
        }
    }
    for body in &bodies {
        program.extend_from_slice(body);
    }
    program.push(default);
    Some(program)
}

/// Emits the search over `blocks[..]` (sorted by number); `first` is the index of
/// `blocks[0]` in the whole list. Leaves jump to their block or to the default.
fn dispatch(blocks: &[Block], first: usize, out: &mut Vec<(Insn, Option<usize>)>) {
    if let [only] = blocks {
        out.push((Insn { code: BPF_JEQ_K, k: only.nr, jt: Target::Next, jf: Target::Skip(1) }, None));
        out.push((Insn { code: BPF_JA, k: 0, jt: Target::Allow, jf: Target::Allow }, Some(first)));
        out.push((Insn { code: BPF_JA, k: 0, jt: Target::Kill, jf: Target::Kill }, None));
        return;
    }
    let mid = blocks.len() / 2;
    let mut left = Vec::new();
    dispatch(&blocks[..mid], first, &mut left);
    out.push((Insn { code: BPF_JGE_K, k: blocks[mid].nr, jt: Target::Skip(left.len()), jf: Target::Next }, None));
    out.extend(left);
    dispatch(&blocks[mid..], first + mid, out);
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
    fn policy_compiles_into_four_non_empty_filters_installed_as_one_shorter_program() {
        let filters = compile_linear().unwrap();
        assert_eq!(filters.len(), 4);
        assert!(filters.iter().all(|f| !f.is_empty()));
        let installed = compile().unwrap();
        assert_eq!(installed.len(), 1);
        // What the kernel pays at install: it runs the program for every syscall number.
        let native = filters[0][1].k;
        let steps = |p: &[sock_filter]| -> usize { (0..512).map(|nr| run_counted(p, native, nr, [0; 6]).1).sum() };
        let stacked_steps: usize = filters.iter().map(|f| steps(f)).sum();
        let installed_steps = steps(&installed[0]);
        assert!(installed_steps * 10 < stacked_steps, "{installed_steps} vs {stacked_steps} instructions run");
    }

    /// Runs a filter on (arch, nr) with no arguments.
    fn decide(program: &[sock_filter], arch: u32, nr: u32) -> u32 {
        run(program, arch, nr, [0; 6])
    }

    /// Runs a filter on a `seccomp_data` with the classic BPF seccompiler emits.
    fn run(program: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        run_counted(program, arch, nr, args).0
    }

    /// The filter's answer and how many instructions it executed.
    fn run_counted(program: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> (u32, usize) {
        let word = |offset: u32| -> u32 {
            match offset {
                0 => nr,
                4 => arch,
                8 | 12 => 0,
                o => {
                    let arg = args[((o - 16) / 8) as usize];
                    if (o - 16) % 8 == 0 {
                        arg as u32
                    } else {
                        (arg >> 32) as u32
                    }
                }
            }
        };
        let (mut pc, mut acc, mut steps) = (0usize, 0u32, 0usize);
        loop {
            let i = &program[pc];
            pc += 1;
            steps += 1;
            match i.code {
                BPF_LD_W_ABS => acc = word(i.k),
                0x54 => acc &= i.k, // BPF_ALU | BPF_AND | BPF_K
                BPF_JEQ_K | BPF_JGT_K | BPF_JGE_K | 0x45 => {
                    let taken = match i.code {
                        BPF_JEQ_K => acc == i.k,
                        BPF_JGT_K => acc > i.k,
                        BPF_JGE_K => acc >= i.k,
                        _ => acc & i.k != 0, // BPF_JSET
                    };
                    pc += usize::from(if taken { i.jt } else { i.jf });
                }
                BPF_RET_K => return (i.k, steps),
                BPF_JA => pc += i.k as usize,
                other => panic!("unexpected BPF op {other:#x}"),
            }
        }
    }

    /// The kernel's answer for stacked filters: the most severe action wins.
    fn stacked(filters: &[BpfProgram], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let severity = |ret: u32| (ret & libc::SECCOMP_RET_ACTION_FULL) as i32;
        filters.iter().rev().map(|f| run(f, arch, nr, args)).min_by_key(|r| severity(*r)).unwrap()
    }

    #[test]
    fn the_dispatch_trees_answer_exactly_like_seccompilers_linear_filters() {
        let arch = native_arch().unwrap();
        let mut map = seccompiler::compile_from_json(POLICY_JSON.as_bytes(), arch).unwrap();
        let policy: serde_json::Value = serde_json::from_str(POLICY_JSON).unwrap();
        for name in ["refused", "socket_families", "clone3"] {
            let linear = map.remove(name).unwrap();
            let tree = as_dispatch_tree(&policy, &[name], arch).expect("seccompiler's layout");
            if name == "refused" {
                // What the kernel pays at install: it runs the filter for every syscall number.
                let total = |p: &[sock_filter]| (0..512).map(|nr| run_counted(p, linear[1].k, nr, [0; 6]).1).sum();
                let (tree_total, linear_total): (usize, usize) = (total(&tree), total(&linear));
                assert!(tree_total * 4 < linear_total, "{tree_total} vs {linear_total} instructions run");
            }
            let native = linear[1].k;
            for nr in (0..512).chain([0x4000_0000, u32::MAX]) {
                for arch in [native, 0x4000_0003] {
                    for a0 in ARGS {
                        let args = [a0, 0, a0 >> 1, 0, 0, 0];
                        assert_eq!(
                            run(&tree, arch, nr, args),
                            run(&linear, arch, nr, args),
                            "{name}: nr {nr} {args:x?}"
                        );
                    }
                }
            }
        }
    }

    const ARGS: [u64; 12] = [
        0,
        libc::SIGCHLD as u64,
        (libc::CLONE_VM | libc::CLONE_FS | libc::CLONE_FILES | libc::CLONE_THREAD) as u64,
        libc::CLONE_NEWNS as u64,
        libc::CLONE_NEWUSER as u64 | libc::SIGCHLD as u64,
        libc::CLONE_NEWNET as u64,
        libc::AF_UNIX as u64,
        libc::AF_INET as u64,
        libc::AF_INET6 as u64,
        libc::AF_NETLINK as u64,
        u32::MAX as u64,
        1 << 32,
    ];

    #[test]
    fn the_installed_program_answers_exactly_like_seccompilers_stacked_filters() {
        let filters = compile_linear().unwrap();
        let installed = compile().unwrap();
        let [chained] = installed.as_slice() else { panic!("one program") };
        let native = filters[0][1].k;
        let mut checked = 0;
        for nr in (0..512).chain([0x4000_0000, 0x4000_0000 + 59, u32::MAX]) {
            for arch in [native, 0x4000_0003] {
                for a0 in ARGS {
                    for a2 in [0, libc::CLONE_NEWPID as u64] {
                        let args = [a0, 0, a2, 0, 0, 0];
                        assert_eq!(
                            run(chained, arch, nr, args),
                            stacked(&filters, arch, nr, args),
                            "nr {nr} arch {arch:#x} args {args:x?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 20_000);
        let socket = libc::SYS_socket as u32;
        let eafnosupport = libc::SECCOMP_RET_ERRNO | libc::EAFNOSUPPORT as u32;
        assert_eq!(run(chained, native, socket, [libc::AF_INET as u64, 1, 0, 0, 0, 0]), eafnosupport);
        assert_eq!(run(chained, native, socket, [libc::AF_UNIX as u64, 1, 0, 0, 0, 0]), libc::SECCOMP_RET_ALLOW);
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
