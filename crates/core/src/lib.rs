//! Trustgate's domain: identifiers, secrets, access and the rules that decide what a caller may do.
//!
//! Nothing here performs I/O; storage and HTTP live in `trustgate-store` and `trustgate-server`.

pub mod access;
pub mod admin;
pub mod catalog;
pub mod client;
pub mod client_secrets;
pub mod custody;
pub mod customer;
pub mod event;
pub mod federation;
pub mod group;
pub mod ids;
pub mod lifecycle;
pub mod mfa;
pub mod provisioning;
pub mod request_target;
pub mod resource_server;
pub mod rights;
pub mod secret;
pub mod token;
pub mod webhook;

mod encoding;
mod validate;

pub use validate::ValidationError;
