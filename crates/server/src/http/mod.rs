//! The HTTP plumbing under every front door: the accept loop and its connection limits, request
//! bodies, TLS, the access log, health and fallbacks, and the headers every response carries.

pub(crate) mod access_log;
pub(crate) mod body;
pub(crate) mod client;
pub(crate) mod conn;
pub(crate) mod meta;
pub(crate) mod metrics_endpoint;
pub(crate) mod response_headers;
mod source;
pub mod tls;
pub mod webhook_client;
