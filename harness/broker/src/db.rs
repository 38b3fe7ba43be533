//! The broker's SQLite file: created private to its owner, brought up to
//! date by its migrations, and used off the async threads.
//!
//! The schema versions sit in `fare_schema`, the table the services' kit
//! keeps them in, so a database an older `fare broker` wrote opens as it is.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, Transaction};

/// One schema step, kept as a committed `.sql` file.
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
    #[error("a database task stopped before it finished: {0}")]
    Task(String),
}

const SCHEMA_VERSIONS: &str = "
CREATE TABLE IF NOT EXISTS fare_schema (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
";

/// The broker's database. Cloning shares the connection.
///
/// One connection behind a std mutex: SQLite serialises writers anyway, and
/// every call runs on the blocking pool, so the lock is never held across an
/// await.
#[derive(Debug, Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
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
        conn.execute_batch(SCHEMA_VERSIONS).map_err(open_err)?;
        apply_migrations(&mut conn, migrations)?;
        Ok(Db { conn: Arc::new(Mutex::new(conn)) })
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

    /// Runs `f` in one transaction, committed if `f` returns `Ok`.
    pub async fn write<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&Transaction<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let tx = conn.transaction().map_err(|e| E::from(e.into()))?;
            let value = f(&tx)?;
            tx.commit().map_err(|e| E::from(e.into()))?;
            Ok(value)
        })
        .await
        .map_err(|e| E::from(StoreError::Task(e.to_string())))?
    }
}

/// Creates `path` readable and writable by its owner only, or makes an
/// existing file so. SQLite gives its `-wal` and `-shm` files the mode of
/// the database file, so they follow.
fn owner_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
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

    async fn count(db: &Db) -> i64 {
        db.read(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).map_err(StoreError::from)).await.unwrap()
    }

    #[tokio::test]
    async fn the_database_and_its_journal_are_the_owners_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broker.sqlite");
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let db = Db::open(&path, &[M1]).unwrap();
        db.write(|tx| tx.execute("INSERT INTO t (x) VALUES (1)", []).map_err(StoreError::from)).await.unwrap();
        for file in ["broker.sqlite", "broker.sqlite-wal", "broker.sqlite-shm"] {
            let mode = std::fs::metadata(dir.path().join(file)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file}: {mode:o}");
        }
    }

    #[tokio::test]
    async fn migrations_apply_once_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broker.sqlite");
        let db = Db::open(&path, &[M1]).unwrap();
        db.write(|tx| tx.execute("INSERT INTO t VALUES (1)", []).map_err(StoreError::from)).await.unwrap();
        drop(db);
        let db = Db::open(&path, &[M1]).unwrap();
        assert_eq!(count(&db).await, 1);
    }

    #[tokio::test]
    async fn a_failed_write_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("broker.sqlite"), &[M1]).unwrap();
        let result: Result<(), StoreError> = db
            .write(|tx| {
                tx.execute("INSERT INTO t VALUES (1)", [])?;
                tx.execute("INSERT INTO nowhere VALUES (1)", [])?;
                Ok(())
            })
            .await;
        assert!(result.is_err());
        assert_eq!(count(&db).await, 0);
    }

    #[test]
    fn a_broken_migration_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let bad = Migration { version: 7, name: "typo", sql: "CREAT TABLE x (y);" };
        let err = Db::open(&dir.path().join("broker.sqlite"), &[bad]).unwrap_err().to_string();
        assert!(err.starts_with("applying migration 7 (typo)"), "{err}");
    }
}
