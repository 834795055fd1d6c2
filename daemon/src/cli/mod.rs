//! The `acejudge` command line: argument types and one module per subcommand.

pub mod doctor;
pub mod exec;
pub mod units;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "acejudge", version, about = "A self-hostable judge for backend-engineering challenges")]
pub struct Cli {
    /// Where AceJudge keeps its state (boxes, database).
    #[arg(long, global = true, env = "ACEJUDGE_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a command in the sandbox and print its Outcome as JSON.
    Exec(Box<exec::ExecArgs>),
    /// Check which isolation layers and toolchains this host has.
    Doctor,
}
