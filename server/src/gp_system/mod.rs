//! GP-system adapters: the ways the portal reaches a practice's clinical
//! record (the `domain::gp_record::GpRecord` port), and the FHIR import
//! that fills the portal's own copy.

pub mod demo;
pub mod export;
pub mod fhir;
pub mod fhir_client;
pub mod fhir_import;
pub mod import_command;
pub mod local;
