//! sqlx adapters for the domain's ports. Every query is written once with
//! `$n` placeholders and runs on SQLite and PostgreSQL alike.

pub mod access_log;
pub mod account_service;
pub mod accounts;
pub mod devices;
pub mod directory;
pub mod linkage;
pub mod nhs_login_links;
pub mod second_factor;
pub mod sessions;

use crate::db::Db;
use domain::ports::{PortError, Ports};
use std::sync::Arc;

pub fn ports(
    db: &Db,
    outbox: &crate::outbox::Outbox,
    limits: domain::session_rules::SessionLimits,
    config: &crate::config::ServeConfig,
) -> Ports {
    Ports {
        // Switched on by the web layer when NHS login is configured.
        sign_in_options: Default::default(),
        accounts: Arc::new(account_service::SqlAccountService {
            db: db.clone(),
            outbox: outbox.clone(),
        }),
        outbox: Arc::new(outbox.clone()),
        authenticator: Arc::new(accounts::PasswordAuthenticator::new(db.clone())),
        directory: Arc::new(directory::SqlDirectory { db: db.clone() }),
        access_log: Arc::new(access_log::SqlAccessLog { db: db.clone() }),
        devices: Arc::new(devices::SqlDevices {
            db: db.clone(),
            limits,
        }),
        second_factor: Arc::new(second_factor::SqlSecondFactor { db: db.clone() }),
        registration_letters: Arc::new(linkage::SqlRegistrationLetters {
            db: db.clone(),
            lifetime_days: config.linkage_key_days,
            public_url: config.public_url.clone(),
        }),
        gp_record: Arc::new(crate::gp_system::local::LocalGpRecord { db: db.clone() }),
        appointments: Arc::new(crate::appointments::SqlAppointments::new(
            db.clone(),
            outbox.clone(),
            i64::from(config.appointment_reminder_hours),
        )),
    }
}

/// Database errors become port errors: logged by the edge, never shown.
pub(crate) fn db_err(err: sqlx::Error) -> PortError {
    PortError::new(format!("database: {err}"))
}
