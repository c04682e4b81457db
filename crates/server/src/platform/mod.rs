//! The Citrix Cloud APIs, in Citrix's shapes: administrators and their access, notifications,
//! the system log, and who is calling them.

pub(crate) mod administrators;
pub(crate) mod auth;
pub mod notifications;
pub mod shapes;
pub(crate) mod subscriptions;
pub(crate) mod system_log;
