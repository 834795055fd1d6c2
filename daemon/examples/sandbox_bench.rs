//! Per-run cost of the sandbox as the daemon pays it (one `Sandbox`, many runs),
//! against the same program spawned bare and under bubblewrap, interleaved in one process.
//!
//! `cargo run --release --example sandbox_bench -- RUNS DIR PROGRAM [ARGS...]`
//! prints one JSON line with the median and p90 wall time of each in microseconds.
//!
//! All three see DIR the same way bubblewrap is given it, a bind: AceJudge runs
//! with DIR as an extra read-only path and DIR as the working directory is
//! replaced by an empty fresh box, so no file copying is timed. The per-run box
//! (a directory on the slot's tmpfs) is timed, as the daemon pays it.
//!
//! After each AceJudge run the bench waits 3 ms, so that the work the sandbox
//! does off the run's path (its background thread) does not slow the next
//! bare or bwrap run.
//!
//! With `ACEJUDGE_STEPTRACE=1` the JSON also holds `steps`: the median length
//! of each step of an AceJudge run in microseconds (see `sandbox::steptrace`).

use acejudge::sandbox::{steptrace, Limits, Sandbox, SandboxConfig, SandboxSpec, Status};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn percentile(samples: &mut [Duration], p: f64) -> u128 {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize].as_micros()
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(args.len() >= 3, "usage: sandbox_bench RUNS DIR PROGRAM [ARGS...]");
    let runs: usize = args[0].parse()?;
    let dir = PathBuf::from(&args[1]);
    let argv: Vec<String> = args[2..].to_vec();
    let work = tempfile::tempdir()?;
    let sandbox =
        Sandbox::new(SandboxConfig { work_dir: work.path().join("sandbox"), slots: 1, ..Default::default() })?;
    let readonly: Vec<PathBuf> = ["/etc/java-17-openjdk"].iter().map(PathBuf::from).filter(|p| p.exists()).collect();
    let (mut bare, mut judged, mut bwrap) = (Vec::new(), Vec::new(), Vec::new());
    let tracing = std::env::var_os("ACEJUDGE_STEPTRACE").is_some();
    if tracing {
        steptrace::enable()?;
    }
    let mut steps: Vec<Vec<f64>> = vec![Vec::new(); steptrace::NAMES.len() - 1];
    let quiet = |c: &mut Command| {
        c.stdout(Stdio::null()).stderr(Stdio::null());
    };
    for i in 0..runs + 3 {
        let t = Instant::now();
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]).current_dir(&dir).env_clear().env("PATH", "/usr/bin:/bin");
        quiet(&mut c);
        anyhow::ensure!(c.status()?.success(), "bare run failed");
        let bare_t = t.elapsed();

        let t = Instant::now();
        let boxed = sandbox.create_box(0, 64 << 20)?;
        let mut readonly = readonly.clone();
        readonly.push(dir.clone());
        let mut argv_in = argv.clone();
        if let Some(rel) = argv_in[0].strip_prefix("./") {
            argv_in[0] = dir.join(rel).display().to_string();
        }
        let java = argv_in.iter().position(|a| a == "-cp");
        if let Some(i) = java {
            argv_in[i + 1] = dir.display().to_string();
        }
        let spec = SandboxSpec {
            argv: argv_in,
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            stdin: vec![],
            box_dir: boxed.path().into(),
            readonly_paths: readonly,
            writable_overlays: vec![],
            cgroup_view: argv[0].contains("java"),
            limits: Limits { memory_bytes: 1 << 30, pids: 128, ..Limits::default() },
        };
        let outcome = sandbox.run(0, &spec)?;
        drop(boxed);
        let judged_t = t.elapsed();
        if let (true, Some(intervals)) = (i >= 3, steptrace::take()) {
            for (samples, (_, us)) in steps.iter_mut().zip(intervals) {
                samples.push(us);
            }
        }
        // The sandbox's background thread now removes this run's cgroups, makes the
        // next spare and frees the run's mount namespace (~0.5 ms of CPU). Let it
        // finish so that it does not run during the bwrap and bare timings.
        std::thread::sleep(std::time::Duration::from_millis(3));
        anyhow::ensure!(
            outcome.status == Status::Ok,
            "sandboxed run failed: {:?} {}",
            outcome.status,
            String::from_utf8_lossy(&outcome.stderr)
        );

        let t = Instant::now();
        let mut c = Command::new("bwrap");
        c.args(["--unshare-all", "--die-with-parent", "--new-session"]);
        for p in ["/usr", "/etc/alternatives", "/etc/java-17-openjdk"] {
            if Path::new(p).exists() {
                c.args(["--ro-bind", p, p]);
            }
        }
        c.args(["--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64"]);
        c.args(["--bind"])
            .arg(&dir)
            .args(["/box", "--chdir", "/box", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]);
        c.args(["--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--"]).args(&argv);
        quiet(&mut c);
        anyhow::ensure!(c.status()?.success(), "bwrap run failed");
        let bwrap_t = t.elapsed();
        if i >= 3 {
            bare.push(bare_t);
            judged.push(judged_t);
            bwrap.push(bwrap_t);
        }
    }
    let step_medians: serde_json::Map<String, serde_json::Value> = steps
        .iter_mut()
        .zip(&steptrace::NAMES[1..])
        .filter(|(samples, _)| !samples.is_empty())
        .map(|(samples, name)| {
            samples.sort_by(f64::total_cmp);
            (name.to_string(), serde_json::json!(samples[samples.len() / 2].round()))
        })
        .collect();
    let (bm, am, wm) = (percentile(&mut bare, 0.5), percentile(&mut judged, 0.5), percentile(&mut bwrap, 0.5));
    println!(
        "{}",
        serde_json::json!({
            "program": argv.join(" "), "runs": runs,
            "bare_median_us": bm, "bare_p90_us": percentile(&mut bare, 0.9),
            "acejudge_median_us": am, "acejudge_p90_us": percentile(&mut judged, 0.9),
            "bwrap_median_us": wm, "bwrap_p90_us": percentile(&mut bwrap, 0.9),
            "acejudge_overhead_us": am as i128 - bm as i128,
            "bwrap_overhead_us": wm as i128 - bm as i128,
            "overhead_ratio": (am as f64 - bm as f64) / (wm as f64 - bm as f64),
            "steps": step_medians,
        })
    );
    Ok(())
}
