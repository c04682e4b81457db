//! Trustgate's own management API, for administrators signed in with a session: their clients
//! and secrets, service principals, identity providers, SCIM provisioning tokens and webhooks.

pub(crate) mod clients;
pub(crate) mod identity_providers;
pub(crate) mod principals;
pub(crate) mod provisioning;
pub(crate) mod webhooks;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// `201 Created` with a body that holds a secret, shown this once: no cache may keep it.
fn created_with_secret(body: impl Serialize) -> Response {
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
