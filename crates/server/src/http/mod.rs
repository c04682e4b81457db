//! The HTTP plumbing under every front door: the accept loop and its connection limits, request
//! bodies, TLS, the access log, health and fallbacks, and the headers every response carries.

pub(crate) mod access_log;
pub(crate) mod body;
pub(crate) mod conn;
pub(crate) mod meta;
pub(crate) mod response_headers;
pub mod tls;
