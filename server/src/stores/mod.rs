//! sqlx adapters for the domain's ports. Every query is written once with
//! `$n` placeholders and runs on SQLite and PostgreSQL alike.

pub mod access_log;
pub mod account_service;
pub mod accounts;
pub mod directory;
pub mod sessions;

use crate::db::Db;
use domain::ports::{PortError, Ports};
use std::sync::Arc;

pub fn ports(db: &Db, outbox: &crate::outbox::Outbox) -> Ports {
    Ports {
        accounts: Arc::new(account_service::SqlAccountService {
            db: db.clone(),
            outbox: outbox.clone(),
        }),
        outbox: Arc::new(outbox.clone()),
        authenticator: Arc::new(accounts::PasswordAuthenticator::new(db.clone())),
        directory: Arc::new(directory::SqlDirectory { db: db.clone() }),
        access_log: Arc::new(access_log::SqlAccessLog { db: db.clone() }),
    }
}

/// Database errors become port errors: logged by the edge, never shown.
pub(crate) fn db_err(err: sqlx::Error) -> PortError {
    PortError::new(format!("database: {err}"))
}
