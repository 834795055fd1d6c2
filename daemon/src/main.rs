//! The `acejudge` binary: parses the command line and hands off to `cli`.

use acejudge::cli::{self, Cli, Command};
use clap::Parser;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("ACEJUDGE_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Cli::parse();
    let result = match args.command {
        Command::Exec(exec) => cli::exec::run(*exec, &args.data_dir),
        Command::Doctor => cli::doctor::run(&args.data_dir),
    };
    match result {
        Ok(code) => std::process::exit(code.into()),
        Err(e) => {
            eprintln!("acejudge: {e:#}");
            std::process::exit(2);
        }
    }
}
