//! The `acejudge` command line: argument types and one module per subcommand.

pub mod doctor;
pub mod exec;
pub mod judge;
pub mod local_client;
pub mod run;
pub mod runners;
pub mod serve;
pub mod token;
pub mod units;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "acejudge", version, about = "A self-hostable judge for backend-engineering challenges")]
pub struct Cli {
    /// Where AceJudge keeps its state (boxes, database).
    #[arg(long, global = true, env = "ACEJUDGE_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub plugins: runners::PluginArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a command in the sandbox and print its Outcome as JSON.
    Exec(Box<exec::ExecArgs>),
    /// Check which isolation layers and toolchains this host has.
    Doctor,
    /// List runner plugins, or check one (the conformance kit for plugin authors).
    Runners(runners::RunnersArgs),
    /// Run a program through its language's runner and the sandbox; print its output and how it ended.
    Run(run::RunArgs),
    /// Serve the HTTP API: queue, worker slots, judge (config/acejudge.toml).
    Serve(serve::ServeArgs),
    /// Judge solution files against a challenge's hidden tests; print each test and the verdict.
    Judge(judge::JudgeArgs),
    /// List the challenges or show one's statement and starter.
    Challenges(judge::ChallengesArgs),
    /// Create, list or revoke API tokens.
    Token(token::TokenArgs),
}

impl Command {
    /// Whether the command may build a sandbox in this process (and so wants
    /// a private mount namespace, made while the process is single-threaded).
    pub fn builds_sandbox(&self) -> bool {
        !matches!(self, Command::Challenges(_) | Command::Token(_))
    }
}
