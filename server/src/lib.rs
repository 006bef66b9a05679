#![recursion_limit = "512"]
//! The portal's server: configuration, the database and the adapters that
//! implement the domain's ports, the axum router and its middleware, and the
//! command-line tasks. `main.rs` only parses the command line.

pub mod appointments;
pub mod cli;
pub mod config;
pub mod db;
pub mod gp_system;
pub mod nhs_login;
pub mod outbox;
pub mod passwords;
pub mod provisioning;
pub mod stores;
pub mod telemetry;
pub mod web;
