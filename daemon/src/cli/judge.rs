//! `acejudge judge` and `acejudge challenges`: judge files against a bundled
//! challenge from the command line, and browse the catalog.

use super::runners::PluginArgs;
use crate::challenges::{Catalog, Challenge};
use crate::judge::{Judge, JudgeConfig, JudgeReport, JudgeService, Submission, SubmittedFile, TestStatus, Verdict};
use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct JudgeArgs {
    /// The challenge's slug (see `acejudge challenges list`).
    #[arg(long)]
    pub challenge: String,
    /// The language id: go, python, java, node.
    #[arg(long = "lang")]
    pub language: String,
    /// The challenges directory.
    #[arg(long, env = "ACEJUDGE_CHALLENGES_DIR", default_value = "challenges")]
    pub challenges_dir: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// The solution file(s); a challenge expects exactly its entry file.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ChallengesArgs {
    /// The challenges directory.
    #[arg(long, env = "ACEJUDGE_CHALLENGES_DIR", default_value = "challenges", global = true)]
    pub challenges_dir: PathBuf,
    #[command(subcommand)]
    pub command: ChallengesCommand,
}

#[derive(Subcommand, Debug)]
pub enum ChallengesCommand {
    /// Every challenge: slug, difficulty, category, languages.
    List,
    /// A challenge's statement and, with --lang, the starter for that language.
    Show {
        slug: String,
        #[arg(long = "lang")]
        language: Option<String>,
    },
}

/// Exit status: 0 Accepted, 1 judged but not Accepted, 2 could not judge.
pub fn run(args: JudgeArgs, data_dir: &Path, plugins: &PluginArgs) -> anyhow::Result<u8> {
    let mut files = Vec::new();
    for path in &args.files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{}: not a file name", path.display()))?
            .to_string();
        let content = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        files.push(SubmittedFile { name, content });
    }
    let options = plugins.load_options(data_dir)?;
    let config = JudgeConfig {
        challenges_dir: args.challenges_dir.clone(),
        runners_dir: options.dir.clone(),
        data_dir: data_dir.to_path_buf(),
        slots: 1,
        uid_base: crate::sandbox::SandboxConfig::default().uid_base,
        artifact_cache_bytes: crate::plugins::artifacts::DEFAULT_MAX_BYTES,
        // One submission, then the process ends: nothing to prepare for.
        warm_starts: false,
    };
    let submission = Submission { challenge: args.challenge, language: args.language, files };
    // Refuse bad input before setting up anything.
    let catalog = Catalog::load(&args.challenges_dir)?;
    let languages: Vec<&str> = ["go", "java", "node", "python"].to_vec();
    if catalog.get(&submission.challenge).is_none() {
        let known: Vec<&str> = catalog.iter().map(|c| c.slug.as_str()).collect();
        bail!("unknown challenge `{}`: the challenges are {}", submission.challenge, known.join(", "));
    }
    crate::judge::validate_submission(&catalog, &languages, &submission)?;
    let judge = Judge::open_with(&config, options)?;
    let report = judge.judge(0, &submission, &mut |_| {})?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(if report.verdict == Verdict::Accepted { 0 } else { 1 })
}

fn print_report(report: &JudgeReport) {
    for test in &report.tests {
        let mark = match test.status {
            TestStatus::Pass => "PASS ",
            TestStatus::Fail => "FAIL ",
            TestStatus::Error => "ERROR",
            TestStatus::Skipped => "SKIP ",
        };
        let time = test.duration_ms.map(|ms| format!(" ({ms:.0} ms)")).unwrap_or_default();
        println!("{mark} {}{time}", test.name);
        if let Some(message) = test.message.as_deref().filter(|_| test.status != TestStatus::Pass) {
            for line in message.lines().take(12) {
                println!("        {line}");
            }
        }
    }
    if let Some(output) = &report.compile_output {
        println!("\ncompiler output:\n{output}");
    }
    if let Some(message) = &report.message {
        println!("\n{message}");
    }
    let passed = report.tests.iter().filter(|t| t.status == TestStatus::Pass).count();
    let peak = report.memory_peak_bytes.map(|b| format!(", peak memory {} MiB", b >> 20)).unwrap_or_default();
    println!(
        "\nverdict: {} ({passed}/{} tests passed, {} ms wall, {} ms CPU{peak})",
        report.verdict.as_str(),
        report.tests.len(),
        report.wall_ms,
        report.cpu_ms
    );
}

pub fn challenges(args: ChallengesArgs) -> anyhow::Result<u8> {
    let catalog = Catalog::load(&args.challenges_dir)?;
    for problem in &catalog.problems {
        eprintln!("skipped: {problem}");
    }
    match args.command {
        ChallengesCommand::List => {
            for c in catalog.iter() {
                let languages: Vec<&str> = c.languages.keys().map(String::as_str).collect();
                println!(
                    "{:<28} {:<7} {:<20} {}",
                    c.slug,
                    format!("{:?}", c.difficulty).to_lowercase(),
                    c.category,
                    languages.join(",")
                );
            }
            Ok(0)
        }
        ChallengesCommand::Show { slug, language } => {
            let challenge: &Challenge = catalog.get(&slug).with_context(|| {
                let known: Vec<&str> = catalog.iter().map(|c| c.slug.as_str()).collect();
                format!("unknown challenge `{slug}`: the challenges are {}", known.join(", "))
            })?;
            println!("{}", challenge.statement);
            if let Some(language) = language {
                let entry = challenge.languages.get(&language).with_context(|| {
                    let offered: Vec<&str> = challenge.languages.keys().map(String::as_str).collect();
                    format!("`{slug}` is not offered in {language}: it is offered in {}", offered.join(", "))
                })?;
                println!("---- starter: {} ----\n{}", entry.entry, entry.starter);
            }
            Ok(0)
        }
    }
}
