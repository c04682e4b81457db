//! The Trustgate server: token endpoints, the Citrix-style platform APIs, the management API, the
//! gateway decision, SCIM provisioning and the administrator console. The folders are its front
//! doors; ARCHITECTURE.md at the repository's root maps them.

pub mod actions;
pub mod cache;
pub mod clock;
pub mod config;
mod console;
#[cfg(unix)]
pub mod control_socket;
pub mod error;
pub mod gateway;
pub mod http;
pub mod jobs;
pub mod keys;
pub mod logging;
pub mod mail;
mod manage;
pub mod metrics;
mod oauth;
mod oidc;
mod openapi;
pub mod password;
pub mod platform;
pub mod router;
mod scim;
mod session;
pub mod state;
mod throttle;
use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use cache::revoked_tokens::REVOCATIONS_PER_CLIENT;
pub use config::ServerConfig;
pub use error::ApiError;
pub use state::AppState;
pub use throttle::{Policy as ThrottlePolicy, CEILING_FACTOR as THROTTLE_CEILING_FACTOR};

/// A node's state with its background jobs running, as `trustgate serve` starts it.
pub async fn start_node(
    store: Arc<dyn trustgate_store::Store>,
    server_keys: impl Into<trustgate_core::secret::ServerKeyring>,
    config: ServerConfig,
) -> Result<AppState, trustgate_store::StoreError> {
    let state = AppState::new(store, server_keys, config).await?;
    jobs::start(&state);
    Ok(state)
}

/// Serves on an already bound listener until `shutdown` completes (tests bind port 0), with the
/// connection limits of the state's configuration.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, None, shutdown).await
}

/// [`serve`], over TLS when `tls` is given (see [`http::tls::server_config`]).
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.config.connections;
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    let served = http::conn::serve(listener, router::router(state.clone()), limits, tls, shutdown).await;
    // Counts of refusals still in their window are written before the process goes.
    state.flush_refusals().await;
    served
}

/// Serves Prometheus metrics at `/metrics` on a listener of their own (`serve --metrics-listen`),
/// until `shutdown` completes.
pub async fn serve_metrics(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.config.connections;
    http::conn::serve(listener, http::metrics_endpoint::router(state), limits, None, shutdown).await
}
