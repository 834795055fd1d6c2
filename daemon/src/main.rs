//! The `acejudge` binary: parses the command line and hands off to `cli`.

use acejudge::cli::{self, Cli, Command};
use clap::Parser;

fn main() {
    let args = match Cli::try_parse() {
        Ok(args) => args,
        // Usage errors are one line that says what to fix; help and version print as usual.
        Err(e) if e.use_stderr() => {
            let message = e.to_string();
            eprintln!("{}", message.lines().next().unwrap_or("invalid arguments").trim());
            std::process::exit(2);
        }
        Err(e) => e.exit(),
    };
    // `acejudge run` hands its program to a daemon serving this data dir when one answers;
    // it then builds no sandbox of its own.
    let daemon = match &args.command {
        Command::Run(run) => cli::run::connect_daemon(run, &args.data_dir, &args.plugins),
        _ => None,
    };
    // While still single-threaded: the sandbox's own mounts must die with this process.
    // SAFETY: geteuid has no preconditions.
    let private_mounts = if daemon.is_none() && args.command.builds_sandbox() && unsafe { libc::geteuid() } == 0 {
        Some(acejudge::sandbox::namespaces::private_mount_namespace())
    } else {
        None
    };
    // A run handed to the daemon logs nothing of its own (errors are printed): no subscriber to set up.
    if daemon.is_none() {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("ACEJUDGE_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .with_writer(std::io::stderr)
            .init();
    }
    match private_mounts {
        // The slots' tmpfs go with the namespace at exit: no unmount on the way out.
        Some(Ok(())) => acejudge::sandbox::boxdir::slot_mounts_die_with_process(),
        Some(Err(error)) => {
            tracing::warn!(%error, "no private mount namespace: the sandbox's tmpfs mounts may outlive a crash")
        }
        None => {}
    }
    let result = match args.command {
        Command::Exec(exec) => cli::exec::run(*exec, &args.data_dir),
        Command::Doctor => cli::doctor::run(&args.data_dir),
        Command::Runners(runners) => cli::runners::run(runners, &args.data_dir, &args.plugins),
        Command::Run(run) => cli::run::run(run, &args.data_dir, &args.plugins, daemon),
        Command::Serve(serve) => cli::serve::run(serve, &args.data_dir, &args.plugins),
        Command::Judge(judge) => cli::judge::run(judge, &args.data_dir, &args.plugins),
        Command::Challenges(challenges) => cli::judge::challenges(challenges),
        Command::Token(token) => cli::token::run(token, &args.data_dir),
    };
    match result {
        Ok(code) => std::process::exit(code.into()),
        Err(e) => {
            eprintln!("acejudge: {e:#}");
            std::process::exit(2);
        }
    }
}
