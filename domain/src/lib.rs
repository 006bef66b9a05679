//! The portal's rules and shared types. Pure Rust, no I/O: this crate is
//! compiled into both the server and the browser bundle, so it must never
//! hold anything server-only (password hashes, secrets, database types).

pub mod access;
pub mod access_log;
pub mod account_tokens;
pub mod appointments;
pub mod devices;
pub mod email;
pub mod forms;
pub mod glossary;
pub mod gp_record;
pub mod identity;
pub mod ids;
pub mod linkage;
pub mod nhs_number;
pub mod notifications;
pub mod ods_code;
pub mod ports;
pub mod second_factor;
pub mod session_rules;
pub mod throttle;
pub mod uk_time;
pub mod views;

pub use access::{Access, Actor, Decision, Permission, Role};
pub use email::Email;
pub use identity::IdentityLevel;
pub use ids::{AccountId, PatientId, PracticeId};
pub use nhs_number::NhsNumber;
pub use ods_code::OdsCode;
