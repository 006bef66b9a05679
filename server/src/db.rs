//! The database: SQLite by default, PostgreSQL when the URL says so. One
//! `AnyPool` and one set of queries serve both (placeholders are `$1`,
//! which both dialects accept); the migrations differ per dialect.

use crate::config::DatabaseConfig;
use sqlx::AnyPool;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub dialect: Dialect,
    /// SQLite has one writer at a time. Without this, this process's
    /// writers poll SQLite's lock, and its busy handler sleeps up to 100 ms
    /// between tries: at the 8am rush single session updates took over a
    /// second. Writers take turns here instead, first come first served.
    /// None on PostgreSQL, whose writers do not exclude each other.
    write_turns: Option<Arc<Mutex<()>>>,
}

/// As SQLite's busy timeout, which sqlx sets to 5 seconds.
const WRITE_TURN_WAIT: Duration = Duration::from_secs(5);

/// A write transaction, holding this process's write turn on SQLite until
/// it commits or rolls back. Used as the connection it runs on
/// (`&mut *tx`), as `sqlx::Transaction` is.
pub struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl Deref for WriteTx {
    type Target = sqlx::AnyConnection;

    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// Problems starting up, each with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error(
        "DATABASE_URL is not one the portal understands. Use sqlite://data/portal.db for a file \
         on this machine, or postgres://user:password@host:5432/database for PostgreSQL"
    )]
    UnknownScheme,
    #[error(
        "Could not create the folder {folder} for the SQLite database: {cause}. Check that the portal may write there"
    )]
    Folder {
        folder: String,
        cause: std::io::Error,
    },
    #[error(
        "Could not connect to the database at {url}: {cause}. Check that the database server is \
         running and that DATABASE_URL names the right host, port, user and database"
    )]
    Connect { url: String, cause: sqlx::Error },
    #[error(
        "Could not bring the database schema up to date: {0}. The database was left as it was before this migration"
    )]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub fn dialect_of(url: &str) -> Option<Dialect> {
    if url.starts_with("sqlite:") {
        Some(Dialect::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some(Dialect::Postgres)
    } else {
        None
    }
}

pub async fn connect(config: &DatabaseConfig) -> Result<Db, DbSetupError> {
    install_default_drivers();
    let url = config.url();
    let dialect = dialect_of(url).ok_or(DbSetupError::UnknownScheme)?;
    let url = match dialect {
        Dialect::Sqlite => sqlite_url_creating_folder(url)?,
        Dialect::Postgres => url.to_owned(),
    };
    let pool = AnyPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&url)
        .await
        .map_err(|cause| DbSetupError::Connect {
            url: config.redacted_url(),
            cause,
        })?;
    let write_turns = (dialect == Dialect::Sqlite).then(|| Arc::new(Mutex::new(())));
    Ok(Db {
        pool,
        dialect,
        write_turns,
    })
}

/// `sqlite://data/portal.db` -> creates data/ and asks SQLite to create the file.
fn sqlite_url_creating_folder(url: &str) -> Result<String, DbSetupError> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = rest.split('?').next().unwrap_or("");
    let folder = std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty());
    if let Some(folder) = folder.filter(|_| path != ":memory:") {
        std::fs::create_dir_all(folder).map_err(|cause| DbSetupError::Folder {
            folder: folder.display().to_string(),
            cause,
        })?;
    }
    Ok(if url.contains('?') {
        url.to_owned()
    } else {
        format!("{url}?mode=rwc")
    })
}

impl Db {
    pub async fn migrate(&self) -> Result<(), DbSetupError> {
        let migrator = match self.dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// A transaction that will write. On SQLite it takes the write lock at
    /// once (`BEGIN IMMEDIATE`), waiting its turn: a transaction that read
    /// first and wrote later would fail outright if another connection
    /// wrote in between. On PostgreSQL an ordinary transaction.
    /// Never call it while holding another `WriteTx` or write turn: turns
    /// are not re-entrant (nor was SQLite's lock).
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let turn = self.write_turn().await;
        let tx = match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx { tx, _turn: turn })
    }

    /// This process's turn to write on SQLite (None on PostgreSQL), for a
    /// single write statement outside a transaction; hold it until the
    /// statement is done.
    ///
    /// Bounded like SQLite's own wait (5 s): past that the writer goes on
    /// without a turn and SQLite's lock decides, as it did before turns, so
    /// a mistaken nested write fails as it used to instead of hanging.
    pub async fn write_turn(&self) -> Option<OwnedMutexGuard<()>> {
        let turns = self.write_turns.as_ref()?;
        match tokio::time::timeout(WRITE_TURN_WAIT, turns.clone().lock_owned()).await {
            Ok(turn) => Some(turn),
            Err(_) => {
                tracing::warn!("waited too long for a write turn; writing without one");
                None
            }
        }
    }

    /// For `/readyz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("select 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }
}

pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert_eq!(dialect_of("sqlite://data/x.db"), Some(Dialect::Sqlite));
        assert_eq!(dialect_of("postgres://u@h/d"), Some(Dialect::Postgres));
        assert_eq!(dialect_of("mysql://u@h/d"), None);
        assert_eq!(dialect_of("data/portal.db"), None);
    }

    /// Writers queue for their turn: the second transaction begins only
    /// when the first has committed, and a single statement waits too.
    #[tokio::test]
    async fn sqlite_writers_take_turns() {
        let path = std::env::temp_dir().join(format!("portal-turns-{}.db", std::process::id()));
        let db = connect(&DatabaseConfig {
            database_url: format!("sqlite://{}", path.display()).into(),
            max_connections: 4,
        })
        .await
        .expect("connect");
        sqlx::query("create table t (n integer)")
            .execute(&db.pool)
            .await
            .expect("table");
        let first = db.begin_write().await.expect("first");
        let order = Arc::new(Mutex::new(Vec::new()));
        let second = {
            let (db, order) = (db.clone(), order.clone());
            tokio::spawn(async move {
                let mut tx = db.begin_write().await.expect("second");
                order.lock().await.push("second began");
                sqlx::query("insert into t values (2)")
                    .execute(&mut *tx)
                    .await
                    .expect("insert");
                tx.commit().await.expect("commit");
            })
        };
        let single = {
            let (db, order) = (db.clone(), order.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _turn = db.write_turn().await.expect("a turn on SQLite");
                order.lock().await.push("single wrote");
            })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        order.lock().await.push("first committed");
        first.commit().await.expect("commit");
        second.await.expect("second task");
        single.await.expect("single task");
        assert_eq!(
            *order.lock().await,
            ["first committed", "second began", "single wrote"]
        );
        drop(db);
        let _ = std::fs::remove_file(&path);
    }
}
