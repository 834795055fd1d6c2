//! `acejudge token create --name NAME | list | revoke ID|NAME`: the API's
//! bearer tokens. `create` prints the token once, on stdout; only its
//! SHA-256 is stored. The daemon need not be stopped: it reads tokens from
//! the database on every request, so a revocation applies at once.

use super::serve::load_config;
use crate::config;
use crate::store::Store;
use anyhow::bail;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct TokenArgs {
    /// The configuration file whose data dir holds the database (as for `serve`).
    #[arg(long, global = true, env = "ACEJUDGE_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token and print it (once).
    Create {
        /// A name for the token's holder, unique among active tokens.
        #[arg(long)]
        name: String,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by id or name.
    Revoke {
        /// The token's id or name.
        token: String,
    },
}

pub fn run(args: TokenArgs, data_dir: &Path) -> anyhow::Result<u8> {
    let config = load_config(args.config.as_deref(), data_dir)?;
    let store = Store::open(&config::database_path(&config.server.data_dir))?;
    match args.command {
        TokenCommand::Create { name } => {
            let name = name.trim();
            if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
                bail!("--name must be 1 to 64 printable characters");
            }
            let token = match store.create_token(name) {
                Ok(token) => token,
                Err(crate::store::StoreError::Sqlite(e)) if e.to_string().contains("UNIQUE") => {
                    bail!("an active token is already named `{name}`: pick another name or revoke it first")
                }
                Err(e) => return Err(e.into()),
            };
            println!("{}", token.token);
            eprintln!(
                "token {} `{}` created. It is shown only now: store it safely. Send it as `Authorization: Bearer <token>`.",
                token.id, token.name
            );
            Ok(0)
        }
        TokenCommand::List => {
            let tokens = store.list_tokens()?;
            if tokens.is_empty() {
                println!("no tokens (acejudge token create --name NAME)");
                return Ok(0);
            }
            println!("{:<6} {:<24} {:<22} STATUS", "ID", "NAME", "CREATED (UTC)");
            for token in tokens {
                let status = match token.revoked_at {
                    Some(at) => format!("revoked {}", format_ms(at)),
                    None => "active".into(),
                };
                println!("{:<6} {:<24} {:<22} {status}", token.id, token.name, format_ms(token.created_at));
            }
            Ok(0)
        }
        TokenCommand::Revoke { token } => match store.revoke_token(&token)? {
            Some(info) => {
                println!("token {} `{}` revoked", info.id, info.name);
                Ok(0)
            }
            None => bail!("no active token with id or name `{token}` (see acejudge token list)"),
        },
    }
}

/// `2026-11-28 03:04:21` from Unix milliseconds (UTC).
fn format_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_print_as_utc_dates() {
        assert_eq!(super::format_ms(0), "1970-01-01 00:00:00");
        assert_eq!(super::format_ms(1_709_210_096_000), "2024-02-29 12:34:56");
    }
}
