//! The schema, as an ordered list of migrations. `PRAGMA user_version` is the
//! number applied; each runs in its own transaction. Append, never edit.

use super::StoreError;
use rusqlite::Connection;

/// Migration `i` brings the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: submissions, their test results, tokens, idempotency keys.
    r#"
    CREATE TABLE tokens (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL,
        hash        TEXT NOT NULL UNIQUE,      -- hex SHA-256 of the token; the token itself is never stored
        created_at  INTEGER NOT NULL,          -- Unix ms
        revoked_at  INTEGER
    );
    CREATE UNIQUE INDEX tokens_active_name ON tokens(name) WHERE revoked_at IS NULL;

    CREATE TABLE submissions (
        id                INTEGER PRIMARY KEY AUTOINCREMENT,
        challenge         TEXT NOT NULL,
        language          TEXT NOT NULL,
        files             TEXT NOT NULL,       -- JSON [{name, content}]
        token_id          INTEGER REFERENCES tokens(id),
        status            TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done')),
        verdict           TEXT,
        message           TEXT,
        compile_output    TEXT,
        wall_ms           INTEGER,
        cpu_ms            INTEGER,
        memory_peak_bytes INTEGER,
        attempts          INTEGER NOT NULL DEFAULT 0,  -- times a worker slot claimed it
        completions       INTEGER NOT NULL DEFAULT 0,  -- times a judged result was recorded (at most 1)
        created_at        INTEGER NOT NULL,
        started_at        INTEGER,
        finished_at       INTEGER
    );
    CREATE INDEX submissions_by_status ON submissions(status, id);
    CREATE INDEX submissions_by_challenge ON submissions(challenge, id);

    CREATE TABLE test_results (
        submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
        position      INTEGER NOT NULL,
        name          TEXT NOT NULL,
        status        TEXT NOT NULL,
        duration_ms   REAL,
        message       TEXT,
        PRIMARY KEY (submission_id, position)
    ) WITHOUT ROWID;

    CREATE TABLE idempotency_keys (
        scope         INTEGER NOT NULL,        -- the token's id; 0 for requests without a token
        key           TEXT NOT NULL,
        request_hash  TEXT NOT NULL,           -- hex SHA-256 of the request: a reused key with another body is a conflict
        submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
        created_at    INTEGER NOT NULL,
        PRIMARY KEY (scope, key)
    ) WITHOUT ROWID;
    "#,
];

/// Applies the migrations the database has not seen yet.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current > MIGRATIONS.len() as i64 {
        return Err(StoreError::TooNew { found: current, known: MIGRATIONS.len() });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(current).unwrap_or(0)) {
        let version = index + 1;
        let apply = |conn: &mut Connection| -> rusqlite::Result<()> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", version as i64)?;
            tx.commit()
        };
        apply(conn).map_err(|source| StoreError::Migration { version, source })?;
        tracing::info!(version, "database migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_a_no_op_and_sets_the_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
    }

    #[test]
    fn a_database_from_a_newer_acejudge_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(migrate(&mut conn), Err(StoreError::TooNew { found: 99, .. })));
    }
}
