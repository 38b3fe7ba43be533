//! Opening a service's SQLite file, applying its migrations, and running
//! work on it off the async threads.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, Transaction};
use tokio::sync::Notify;

/// Creates `path` readable and writable by its owner only, or makes an
/// existing file so. SQLite gives its `-wal` and `-shm` files the mode of
/// the database file, so they follow.
fn owner_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

/// One schema step of a service, kept as a committed `.sql` file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("opening the database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("applying migration {version} ({name}): {source}")]
    Migration {
        version: u32,
        name: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("making the database {path} private to its owner: {source}")]
    Private {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("encoding an event: {0}")]
    Event(#[from] crate::envelope::EnvelopeError),
    #[error("a database task stopped before it finished: {0}")]
    Task(String),
}

/// The kit's own tables, present in every service's database.
const KIT_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS fare_schema (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE IF NOT EXISTS fare_inbox (
    event_id TEXT PRIMARY KEY,
    handled_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE IF NOT EXISTS fare_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    traceparent TEXT,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE IF NOT EXISTS fare_outbox_dead (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    body TEXT NOT NULL,
    error TEXT NOT NULL,
    moved_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
";

/// A service's database. Cloning shares the connection.
///
/// One connection behind a std mutex: SQLite serialises writers anyway, and
/// every call runs on the blocking pool, so the lock is never held across an
/// await.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
    committed: Arc<Notify>,
    path: PathBuf,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.path).finish()
    }
}

impl Db {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date.
    pub fn open(path: &Path, migrations: &[Migration]) -> Result<Db, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let open_err = |source| StoreError::Open { path: path.to_owned(), source };
        owner_only(path).map_err(|source| StoreError::Private { path: path.to_owned(), source })?;
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(open_err)?;
        conn.execute_batch(KIT_SCHEMA).map_err(open_err)?;
        apply_migrations(&mut conn, migrations)?;
        Ok(Db { conn: Arc::new(Mutex::new(conn)), committed: Arc::new(Notify::new()), path: path.to_owned() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with the connection, for reads.
    pub async fn read<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&Connection) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&conn)
        })
        .await
        .map_err(|e| E::from(StoreError::Task(e.to_string())))?
    }

    /// Runs `f` in one transaction, committed if `f` returns `Ok`. Wakes the
    /// outbox relay after every commit.
    pub async fn write<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&Transaction<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        let result = tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let tx = conn.transaction().map_err(|e| E::from(e.into()))?;
            let value = f(&tx)?;
            tx.commit().map_err(|e| E::from(e.into()))?;
            Ok(value)
        })
        .await
        .map_err(|e| E::from(StoreError::Task(e.to_string())))?;
        if result.is_ok() {
            self.committed.notify_one();
        }
        result
    }

    /// Resolves after the next commit (or at once if one happened since the
    /// last call): the outbox relay waits on it.
    pub(crate) async fn committed(&self) {
        self.committed.notified().await
    }

    /// Whether the database answers: the readiness check.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(StoreError::from)).await
    }
}

fn apply_migrations(conn: &mut Connection, migrations: &[Migration]) -> Result<(), StoreError> {
    for m in migrations {
        let wrap = |source| StoreError::Migration { version: m.version, name: m.name, source };
        let done: bool = conn
            .query_row("SELECT EXISTS(SELECT 1 FROM fare_schema WHERE version = ?1)", [m.version], |r| r.get(0))
            .map_err(wrap)?;
        if done {
            continue;
        }
        let tx = conn.transaction().map_err(wrap)?;
        tx.execute_batch(m.sql).map_err(wrap)?;
        tx.execute("INSERT INTO fare_schema (version, name) VALUES (?1, ?2)", rusqlite::params![m.version, m.name])
            .map_err(wrap)?;
        tx.commit().map_err(wrap)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const M1: Migration = Migration { version: 1, name: "init", sql: "CREATE TABLE t (x INTEGER);" };

    #[tokio::test]
    async fn the_database_and_its_journal_are_the_owners_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("svc.sqlite");
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let db = Db::open(&path, &[M1]).unwrap();
        db.write(|tx| tx.execute("INSERT INTO t (x) VALUES (1)", []).map_err(StoreError::from)).await.unwrap();
        for file in ["svc.sqlite", "svc.sqlite-wal", "svc.sqlite-shm"] {
            let mode = std::fs::metadata(dir.path().join(file)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file}: {mode:o}");
        }
    }

    #[tokio::test]
    async fn migrations_apply_once_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("svc.sqlite");
        let db = Db::open(&path, &[M1]).unwrap();
        db.write(|tx| tx.execute("INSERT INTO t VALUES (1)", []).map_err(StoreError::from)).await.unwrap();
        drop(db);
        let db = Db::open(&path, &[M1]).unwrap();
        let n: i64 = db
            .read(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).map_err(StoreError::from))
            .await
            .unwrap();
        assert_eq!(n, 1);
    }

    #[tokio::test]
    async fn a_failed_write_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("svc.sqlite"), &[M1]).unwrap();
        let result: Result<(), StoreError> = db
            .write(|tx| {
                tx.execute("INSERT INTO t VALUES (1)", [])?;
                tx.execute("INSERT INTO nowhere VALUES (1)", [])?;
                Ok(())
            })
            .await;
        assert!(result.is_err());
        let n: i64 = db
            .read(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).map_err(StoreError::from))
            .await
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn a_broken_migration_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let bad = Migration { version: 7, name: "typo", sql: "CREAT TABLE x (y);" };
        let err = Db::open(&dir.path().join("svc.sqlite"), &[bad]).unwrap_err().to_string();
        assert!(err.starts_with("applying migration 7 (typo)"), "{err}");
    }
}
