//! The Trustgate server: token endpoints, platform APIs, management API, the administrator
//! console and the operator CLI.

pub mod authz_cache;
pub mod bench;
pub mod cli;
pub mod config;
pub mod keys;
pub mod ops;
pub mod routes;
pub mod state;

mod auth;
mod body;
mod console;
mod error;
mod grant;
mod list_cache;
mod password;
mod revoked;
mod session;
mod token_cache;
mod transaction;
mod wire;

use std::future::Future;

use tokio::net::TcpListener;

pub use config::ServerConfig;
pub use error::ApiError;
pub use state::AppState;

/// Serves on an already bound listener until `shutdown` completes (tests bind port 0).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, routes::router(state)).with_graceful_shutdown(shutdown).await
}
