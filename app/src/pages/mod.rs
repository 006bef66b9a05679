pub mod admin;
pub mod info;
pub mod patient;
pub mod sign_in;
pub mod staff;
