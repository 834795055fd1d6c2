//! The store: one SQLite file (WAL, `synchronous=FULL`, foreign keys on)
//! holding submissions, their test results, API tokens and idempotency keys.
//!
//! - [`migrations`]: the schema, versioned by `PRAGMA user_version`;
//! - [`submissions`]: enqueue (group-committed), claim, record results, read, list;
//! - [`tokens`]: create (hashed), authenticate, list, revoke.
//!
//! Blocking SQLite work never runs on the async worker threads: readers take
//! a connection from a small pool through [`Store::call`] (`spawn_blocking`),
//! the worker slots call the blocking methods from their own threads, and new
//! submissions go to one writer thread that commits whatever arrived together
//! in one transaction (group commit): every accepted submission is durably
//! committed before the API answers 202, and one fsync serves a whole batch.
//!
//! **Architecture Invariant:** the store knows nothing of HTTP or of the
//! judge's internals; it stores what it is given and answers what is asked.

pub mod migrations;
pub mod submissions;
pub mod tokens;

pub use submissions::{
    Claimed, Enqueued, IdempotencyKey, NewSubmission, Page, RecordedResult, Status, SubmissionRecord,
};
pub use tokens::{sha256_hex, Token, TokenInfo};

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

/// Idle pooled connections kept open.
const POOL_SIZE: usize = 4;
/// How long a statement waits for another writer before failing.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot open the database {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("database migration to version {version} failed: {source}")]
    Migration { version: usize, source: rusqlite::Error },
    #[error("the database is at schema version {found}, newer than this acejudge knows ({known}): upgrade acejudge")]
    TooNew { found: i64, known: usize },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored data is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the database writer has stopped")]
    WriterGone,
    #[error("a database task failed: {0}")]
    Task(String),
}

/// The database: a pool for reads and small writes, one writer thread for enqueueing.
pub struct Store {
    path: PathBuf,
    pool: Mutex<Vec<Connection>>,
    writer: Mutex<mpsc::Sender<submissions::EnqueueRequest>>,
    /// Held around every write transaction of this process, so writers queue here (woken at once)
    /// rather than in SQLite's busy handler (which sleeps in steps of up to 100 ms).
    write_gate: Arc<Mutex<()>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path`, migrates it, and starts the writer thread.
    pub fn open(path: &Path) -> Result<Arc<Store>, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir { path: parent.into(), source })?;
        }
        let mut first = open_connection(path)?;
        first
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|source| StoreError::Open { path: path.into(), source })?;
        migrations::migrate(&mut first)?;
        let writer_conn = open_connection(path)?;
        let (sender, receiver) = mpsc::channel();
        let write_gate = Arc::new(Mutex::new(()));
        let gate = Arc::clone(&write_gate);
        std::thread::Builder::new()
            .name("acejudge-db-writer".into())
            .spawn(move || submissions::writer_loop(writer_conn, receiver, gate))
            .map_err(|e| StoreError::Task(format!("cannot start the database writer: {e}")))?;
        Ok(Arc::new(Store { path: path.into(), pool: Mutex::new(vec![first]), writer: Mutex::new(sender), write_gate }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with a pooled connection on the calling thread (blocking).
    pub fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let pooled = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => open_connection(&self.path)?,
        };
        let result = f(&mut conn);
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < POOL_SIZE && conn.is_autocommit() {
            pool.push(conn);
        }
        result
    }

    /// Serialises this process's write transactions (see `write_gate`).
    pub(crate) fn write_gate(&self) -> std::sync::MutexGuard<'_, ()> {
        self.write_gate.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` with a pooled connection on tokio's blocking pool.
    pub async fn call<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = Arc::clone(self);
        tokio::task::spawn_blocking(move || store.with(f)).await.map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// `PRAGMA integrity_check`: `ok`, or the problems found.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare("PRAGMA integrity_check")?;
            let rows: Vec<String> = stmt.query_map([], |row| row.get(0))?.collect::<Result<_, _>>()?;
            Ok(rows.join("\n"))
        })
    }
}

/// A connection with the pragmas every connection needs.
fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let open_error = |source| StoreError::Open { path: path.into(), source };
    let conn = Connection::open(path).map_err(open_error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
    // FULL: a commit is on disk before it returns (WAL fsync), so "accepted" survives power loss too.
    conn.pragma_update(None, "synchronous", "FULL").map_err(open_error)?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(open_error)?;
    Ok(conn)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_database_is_in_wal_mode_with_foreign_keys_and_passes_integrity_check() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("sub/acejudge.db")).unwrap();
        let (mode, fk): (String, i64) = store
            .with(|conn| {
                let mode = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
                let fk = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
                Ok((mode, fk))
            })
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(fk, 1);
        assert_eq!(store.integrity_check().unwrap(), "ok");
    }
}
