//! Every route of the server, with the handler that serves it.

mod administrators;
mod discovery;
mod manage;
mod meta;
mod notifications;
mod revocation;
mod systemlog;
mod tokens;

use axum::routing::{delete, get, post, put};
use axum::{middleware, Router};

use crate::state::AppState;
use crate::transaction;

pub use meta::OPENAPI;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/cctrustoauth2/{customer}/tokens/clients", post(tokens::oauth))
        .route("/{customer}/tokens/clients", post(tokens::legacy))
        .route(discovery::JWKS_PATH, get(tokens::jwks))
        .route("/.well-known/oauth-authorization-server", get(discovery::metadata))
        .route("/.well-known/openid-configuration", get(discovery::metadata))
        .route(discovery::REVOCATION_PATH, post(revocation::revoke))
        .route("/notifications/items", get(notifications::list).post(notifications::create))
        .route("/{customer}/notifications/items", get(notifications::list).post(notifications::create))
        .route("/administrators", get(administrators::list))
        .route("/administrators/$create", post(administrators::create))
        .route("/administrators/access", put(administrators::update_access))
        .route("/administrators/{id}", delete(administrators::remove))
        .route("/administrators/{id}/access", get(administrators::get_access))
        .route("/systemlog/records", get(systemlog::records))
        .route("/api/v1/session", get(manage::current).post(manage::sign_in).delete(manage::sign_out))
        .route("/api/v1/customers/{customer}/api-clients", get(manage::list_clients).post(manage::create_client))
        .route("/api/v1/customers/{customer}/api-clients/{id}", delete(manage::delete_client))
        .route("/openapi.json", get(meta::openapi))
        .route("/healthz", get(meta::health))
        .route("/readyz", get(meta::ready))
        .merge(crate::console::router())
        .fallback(meta::not_found)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .layer(middleware::from_fn(transaction::stamp))
        .with_state(state)
}
