//! API tokens: `acj_` + 48 hex digits from the OS's random source. Only the
//! SHA-256 of a token is stored; the token itself is shown once, at creation.

use super::{now_ms, Store, StoreError};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// What every token starts with, so a leaked one is recognisable (and greppable).
pub const TOKEN_PREFIX: &str = "acj_";

/// A token that was just created: the secret is in `token`, and nowhere else.
#[derive(Clone, Debug)]
pub struct Token {
    pub id: i64,
    pub name: String,
    pub token: String,
}

/// A stored token, without its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Hex SHA-256 of a token or any other bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Creates a token named `name` (unique among active tokens).
    pub fn create_token(&self, name: &str) -> Result<Token, StoreError> {
        let mut secret = [0u8; 24];
        getrandom::fill(&mut secret).map_err(|e| StoreError::Task(format!("no randomness for a token: {e}")))?;
        let token = format!("{TOKEN_PREFIX}{}", secret.iter().map(|b| format!("{b:02x}")).collect::<String>());
        let hash = sha256_hex(token.as_bytes());
        self.with(|conn| {
            let _gate = self.write_gate();
            let id = conn.query_row(
                "INSERT INTO tokens (name, hash, created_at) VALUES (?1, ?2, ?3) RETURNING id",
                params![name, hash, now_ms()],
                |row| row.get(0),
            )?;
            Ok(Token { id, name: name.into(), token })
        })
    }

    /// The token `token` names, if it exists (revoked or not).
    pub fn find_token(&self, token: &str) -> Result<Option<TokenInfo>, StoreError> {
        self.with(|conn| find_token_with(conn, token))
    }

    pub fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare("SELECT id, name, created_at, revoked_at FROM tokens ORDER BY id")?;
            let rows = stmt.query_map([], |row| {
                Ok(TokenInfo { id: row.get(0)?, name: row.get(1)?, created_at: row.get(2)?, revoked_at: row.get(3)? })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Revokes the active token with this id or name; returns it, or `None` when there is none.
    pub fn revoke_token(&self, id_or_name: &str) -> Result<Option<TokenInfo>, StoreError> {
        let id: Option<i64> = id_or_name.parse().ok();
        self.with(|conn| {
            let _gate = self.write_gate();
            Ok(conn
                .query_row(
                    "UPDATE tokens SET revoked_at = ?1
                     WHERE revoked_at IS NULL AND (id = ?2 OR name = ?3)
                     RETURNING id, name, created_at, revoked_at",
                    params![now_ms(), id, id_or_name],
                    |row| {
                        Ok(TokenInfo {
                            id: row.get(0)?,
                            name: row.get(1)?,
                            created_at: row.get(2)?,
                            revoked_at: row.get(3)?,
                        })
                    },
                )
                .optional()?)
        })
    }
}

/// [`Store::find_token`] on a given connection.
pub fn find_token_with(conn: &Connection, token: &str) -> Result<Option<TokenInfo>, StoreError> {
    let hash = sha256_hex(token.as_bytes());
    Ok(conn
        .prepare_cached("SELECT id, name, created_at, revoked_at FROM tokens WHERE hash = ?1")?
        .query_row(params![hash], |row| {
            Ok(TokenInfo { id: row.get(0)?, name: row.get(1)?, created_at: row.get(2)?, revoked_at: row.get(3)? })
        })
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_stored_hashed_and_found_by_its_secret_until_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let token = store.create_token("ci").unwrap();
        assert!(token.token.starts_with(TOKEN_PREFIX) && token.token.len() == TOKEN_PREFIX.len() + 48);
        let stored: String = store.with(|c| Ok(c.query_row("SELECT hash FROM tokens", [], |r| r.get(0))?)).unwrap();
        assert_ne!(stored, token.token);
        assert_eq!(stored, sha256_hex(token.token.as_bytes()));
        assert_eq!(store.find_token(&token.token).unwrap().unwrap().name, "ci");
        assert!(store.find_token("acj_nope").unwrap().is_none());
        assert_eq!(store.revoke_token("ci").unwrap().unwrap().id, token.id);
        assert!(store.find_token(&token.token).unwrap().unwrap().revoked_at.is_some());
        assert!(store.revoke_token("ci").unwrap().is_none(), "already revoked");
    }

    #[test]
    fn two_active_tokens_cannot_share_a_name_but_a_revoked_name_can_be_reused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let first = store.create_token("ci").unwrap();
        assert!(store.create_token("ci").is_err());
        store.revoke_token(&first.id.to_string()).unwrap();
        assert!(store.create_token("ci").is_ok());
        assert_eq!(store.list_tokens().unwrap().len(), 2);
    }
}
