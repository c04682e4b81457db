//! Health, readiness, the OpenAPI document, and JSON answers for unknown routes.

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, GatewayError};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Status {
    /// `ok` from `/healthz`, `ready` from `/readyz`.
    #[schema(example = "ok")]
    status: &'static str,
}

/// Liveness: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "meta", security(()), responses((status = 200, body = Status)))]
pub async fn health() -> axum::Json<Status> {
    axum::Json(Status { status: "ok" })
}

/// Readiness: the process can reach its store; load balancers route by this.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "meta",
    security(()),
    responses(
        (status = 200, body = Status),
        (status = 503, description = "The store is unreachable", body = GatewayError),
    )
)]
pub async fn ready(State(state): State<AppState>) -> Result<axum::Json<Status>, ApiError> {
    state.store.ping().await?;
    Ok(axum::Json(Status { status: "ready" }))
}

/// What builds the OpenAPI document: given by the router, which knows every route, so that this
/// module (one of the router's) need not know the router.
static DESCRIBE: OnceLock<fn() -> utoipa::openapi::OpenApi> = OnceLock::new();

pub(crate) fn describe_with(describe: fn() -> utoipa::openapi::OpenApi) {
    let _ = DESCRIBE.set(describe);
}

/// This document: the management and platform API, described for humans and generators.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "An OpenAPI 3.1 document", content_type = "application/json", body = serde_json::Value))
)]
pub async fn openapi() -> Response {
    // Generated once, on first use: the routes cannot change while the process runs.
    static DOCUMENT: OnceLock<Bytes> = OnceLock::new();
    let body = DOCUMENT.get_or_init(|| match DESCRIBE.get().map(|describe| describe().to_pretty_json()) {
        Some(Ok(text)) => Bytes::from(text),
        None => Bytes::new(),
        Some(Err(error)) => {
            tracing::error!(%error, "the OpenAPI document cannot be serialised");
            Bytes::new()
        }
    });
    ([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("route")
}

pub async fn method_not_allowed() -> Response {
    let body = GatewayError {
        kind: "https://errors-api.cloud.com/common/methodNotAllowed".to_owned(),
        detail: "This route does not accept this HTTP method.".to_owned(),
        parameters: Vec::new(),
    };
    (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}
