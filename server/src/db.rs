//! The database: SQLite by default, PostgreSQL when the URL says so. One
//! `AnyPool` and one set of queries serve both (placeholders are `$1`,
//! which both dialects accept); the migrations differ per dialect.

use crate::config::DatabaseConfig;
use sqlx::AnyPool;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use std::time::Duration;

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
    Ok(Db { pool, dialect })
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
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres => self.pool.begin().await,
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
}
