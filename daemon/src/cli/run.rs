//! `acejudge run --lang LANG FILE [--stdin FILE]`: an ad-hoc program through
//! its runner plugin and the sandbox.
//!
//! The program's stdout goes to stdout and its stderr to stderr, unchanged;
//! then one `acejudge:` line on stderr says how it ended (or the compiler's
//! message). `--json` prints the run as the API's `ExecutionReport` instead.
//! The exit status is 0 when the program ran and exited 0, 1 otherwise.
//!
//! Two ways to run, the same result:
//! - **Through the daemon.** When `acejudge serve` runs on the same data dir,
//!   the program goes to it over the local socket ([`super::local_client`]):
//!   the daemon's sandbox, runners and compile cache are already warm, so
//!   this costs the command's own start and one run. The daemon holds the
//!   data dir, so a one-shot run there could not start anyway.
//! - **One-shot** (no daemon, `--local`, or `--runners-dir`/`--runner-config`,
//!   which the daemon would not honour). A one-shot process pays every set-up
//!   cost once per program, so it loads only the runner it needs
//!   ([`Registry::load_for`]), reuses a still-valid toolchain probe from the
//!   data dir, and builds the [`Sandbox`] (seccomp compile, cgroups, network
//!   namespace, slot tmpfs) on a second thread while the plugin is loaded and
//!   asked for its toolchain.

use super::local_client::LocalClient;
use super::runners::{find_runner, PluginArgs};
use super::units::{parse_duration, parse_size};
use crate::judge::{execution_report, ExecutionLimits, ExecutionReport, LanguageInfo};
use crate::plugins::api::Mode;
use crate::plugins::{self, CacheStore, Job, Registry};
use crate::sandbox::{Sandbox, SandboxConfig};
use anyhow::{bail, Context};
use clap::Args;
use hyper::{Method, StatusCode};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The runner: its id (`python`) or a file extension (`py`).
    #[arg(long)]
    pub lang: String,
    /// The source file (its name is the entry file's name in the box).
    pub file: PathBuf,
    /// File fed to the program's stdin.
    #[arg(long)]
    pub stdin: Option<PathBuf>,
    /// Wall-clock limit of the run step.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub wall: Duration,
    /// Memory of the run step (the runner may add its runtime's allowance).
    #[arg(long, default_value = "256M", value_parser = parse_size)]
    pub mem: u64,
    /// Print how it ended as JSON (the API's ExecutionReport: status, exit code, stdout, stderr…).
    #[arg(long)]
    pub json: bool,
    /// Run in this process even when `acejudge serve` runs on this data dir
    /// (which then holds the data dir: the run waits for nothing and fails).
    #[arg(long)]
    pub local: bool,
}

/// What ran, how it ended, and the program's output as bytes.
struct Ran {
    report: ExecutionReport,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    through_daemon: bool,
}

/// The daemon serving `data_dir`, when this run may go through it: not
/// `--local`, and no plugin options the daemon would not honour. Called
/// before anything else, while the process is single-threaded: no sandbox
/// (nor its private mount namespace) is built when a daemon answers.
pub fn connect_daemon(args: &RunArgs, data_dir: &Path, plugin_args: &PluginArgs) -> Option<LocalClient> {
    let daemon_may_run_it = !args.local && plugin_args.runners_dir.is_none() && plugin_args.runner_config.is_none();
    daemon_may_run_it.then(|| LocalClient::connect(data_dir)).flatten()
}

pub fn run(
    args: RunArgs,
    data_dir: &Path,
    plugin_args: &PluginArgs,
    daemon: Option<LocalClient>,
) -> anyhow::Result<u8> {
    let source = std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let entry = args
        .file
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{}: the file name must be UTF-8", args.file.display()))?
        .to_string();
    let stdin = match &args.stdin {
        Some(path) => std::fs::read(path).with_context(|| format!("cannot read --stdin {}", path.display()))?,
        None => Vec::new(),
    };
    if args.wall.is_zero() || args.wall > Duration::from_millis(ExecutionLimits::MAX_WALL_MS) {
        bail!("--wall must be between 1ms and {}s", ExecutionLimits::MAX_WALL_MS / 1000);
    }
    let through_daemon = match (daemon, std::str::from_utf8(&source), std::str::from_utf8(&stdin)) {
        (Some(client), Ok(source), Ok(stdin)) => Some(run_through_daemon(client, &args, &entry, source, stdin)?),
        (Some(_), _, _) => bail!(
            "the judge serving {} takes UTF-8 source and stdin, and holds the data dir: \
             use another --data-dir for this program",
            data_dir.display()
        ),
        (None, _, _) => None,
    };
    let ran = match through_daemon {
        Some(ran) => ran,
        None => run_one_shot(&args, data_dir, plugin_args, entry, source, stdin)?,
    };
    let ok = ran.report.status == "ok";
    if args.json {
        println!("{}", serde_json::to_string_pretty(&ran.report)?);
        return Ok(u8::from(!ok));
    }
    std::io::stdout().write_all(&ran.stdout)?;
    std::io::stdout().flush()?;
    std::io::stderr().write_all(&ran.stderr)?;
    eprintln!("{}", summary(&ran.report, ran.through_daemon));
    Ok(u8::from(!ok))
}

/// The run's limits as given (`--wall`, `--mem`), applied the same way in-process and by the daemon.
fn limits(args: &RunArgs) -> ExecutionLimits {
    ExecutionLimits { wall_ms: args.wall.as_millis() as u64, memory_bytes: args.mem }
}

/// The program through the daemon's `POST /v1/executions`, on its local socket.
fn run_through_daemon(
    mut client: LocalClient,
    args: &RunArgs,
    entry: &str,
    source: &str,
    stdin: &str,
) -> anyhow::Result<Ran> {
    let mut request = serde_json::json!({
        "language": args.lang,
        "file": { "name": entry, "content": source },
        "stdin": stdin,
        "limits": limits(args),
    });
    // The daemon's own bound for a local run is the wall limit plus a minute (queue, compile).
    let bound = args.wall + Duration::from_secs(120);
    let mut answer = client.request(Method::POST, "/v1/executions", Some(&request), bound)?;
    if answer.status == StatusCode::UNPROCESSABLE_ENTITY && answer.error().0 == "unknown_language" {
        // `--lang` may name an extension (`py`): the daemon knows which runner has it.
        if let Some(id) = language_by_extension(&mut client, &args.lang)? {
            request["language"] = id.into();
            answer = client.request(Method::POST, "/v1/executions", Some(&request), bound)?;
        }
    }
    if answer.status != StatusCode::OK {
        let (code, message) = answer.error();
        bail!("the judge serving this data dir refused the run ({} {code}): {message}", answer.status.as_u16());
    }
    let report: ExecutionReport =
        serde_json::from_slice(&answer.body).context("the daemon's answer is not an ExecutionReport")?;
    let (stdout, stderr) = (report.stdout.clone().into_bytes(), report.stderr.clone().into_bytes());
    Ok(Ran { report, stdout, stderr, through_daemon: true })
}

fn language_by_extension(client: &mut LocalClient, lang: &str) -> anyhow::Result<Option<String>> {
    #[derive(serde::Deserialize)]
    struct Languages {
        languages: Vec<LanguageInfo>,
    }
    let answer = client.request(Method::GET, "/v1/languages", None, Duration::from_secs(30))?;
    let Ok(list) = serde_json::from_slice::<Languages>(&answer.body) else { return Ok(None) };
    let wanted = lang.trim_start_matches('.');
    Ok(list
        .languages
        .into_iter()
        .find(|l| l.extensions.iter().any(|e| e.trim_start_matches('.') == wanted))
        .map(|l| l.id))
}

/// The program in this process: the runner's plugin and a sandbox of its own.
fn run_one_shot(
    args: &RunArgs,
    data_dir: &Path,
    plugin_args: &PluginArgs,
    entry: String,
    source: Vec<u8>,
    stdin: Vec<u8>,
) -> anyhow::Result<Ran> {
    let options = plugin_args.load_options(data_dir)?;
    let config = SandboxConfig { work_dir: data_dir.join("sandbox"), slots: 1, ..SandboxConfig::default() };
    let setup = std::thread::Builder::new()
        .name("acejudge-sandbox-setup".into())
        .spawn(move || Sandbox::new(config))
        .context("cannot start the sandbox set-up thread")?;
    let registry = Registry::load_for(&options, &args.lang);
    let runner = find_runner(&registry, &args.lang, &options);
    if let Ok(runner) = &runner {
        // Probe (or read the cached probe) while the sandbox is being set up; errors surface in `execute`.
        let _ = runner.toolchain();
    }
    let sandbox = setup.join().map_err(|_| anyhow::anyhow!("the sandbox set-up thread panicked"));
    let runner = runner?;
    let sandbox = sandbox?.context("cannot set up the sandbox")?;
    let caches = CacheStore::new(&data_dir.join("caches"));
    let mut job = Job::new(Mode::Program, &entry, vec![(entry.clone(), source)]);
    job.stdin = stdin;
    limits(args).apply(&mut job);
    let execution = plugins::execute(&sandbox, 0, runner, &caches, &job)?;
    // The program's own output, byte for byte (a compiler's output is in the report).
    let (stdout, stderr) = match &execution.run {
        Some(run) => (run.outcome.stdout.clone(), run.outcome.stderr.clone()),
        None => (Vec::new(), Vec::new()),
    };
    Ok(Ran { report: execution_report(&execution), stdout, stderr, through_daemon: false })
}

/// `acejudge: run ok, exit 0, 23 ms wall, 12 ms CPU, 5.1 MiB peak (python, Python 3.11.2)`;
/// a compile error prints the compiler's output first.
fn summary(report: &ExecutionReport, through_daemon: bool) -> String {
    let mut lines = Vec::new();
    if report.status == "compilation_error" {
        if let Some(output) = &report.compile_output {
            lines.push(output.trim_end().to_string());
        }
        lines.push(format!("acejudge: compilation error, {} ms wall", report.wall_ms));
    } else {
        let mut line = format!(
            "acejudge: run {}, exit {}, {} ms wall, {} ms CPU",
            report.status.replace('_', " "),
            report.exit_code.map_or("-".into(), |c| c.to_string()),
            report.wall_ms,
            report.cpu_ms
        );
        if let Some(peak) = report.memory_peak_bytes {
            line.push_str(&format!(", {:.1} MiB peak", peak as f64 / (1 << 20) as f64));
        }
        lines.push(line);
    }
    if let Some(message) = &report.message {
        lines.push(format!("acejudge: {message}"));
    }
    let via = if through_daemon { " through acejudge serve" } else { "" };
    format!("{} ({}, {}){via}", lines.join("\n"), report.language, report.toolchain_version)
}
