//! The integration suites, compiled into one test binary: each suite links
//! the whole server, and one binary instead of eight saves gigabytes of disk
//! and minutes of linking. Every test starts the portal on port 0 with a
//! fresh database (SQLite, or PostgreSQL when PORTAL_TEST_DATABASE_URL is set).

mod common;

mod appointments;
mod cli;
mod devices;
mod email;
mod fhir_appointments;
mod fhir_record;
mod glossary;
mod linkage;
mod nhs_login;
mod outbox;
mod portal;
mod record;
mod second_factor;
