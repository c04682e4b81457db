//! Health, readiness, the OpenAPI document, and JSON answers for unknown routes.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// The management and platform API, described for humans and generators.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// `GET /healthz` — the process is up.
pub async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(json!({ "status": "ok" }))
}

/// `GET /readyz` — the process can reach its store; load balancers route by this.
pub async fn ready(State(state): State<AppState>) -> Result<axum::Json<serde_json::Value>, ApiError> {
    state.store.ping().await?;
    Ok(axum::Json(json!({ "status": "ready" })))
}

/// `GET /openapi.json`
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("route")
}

pub async fn method_not_allowed() -> Response {
    let body = json!({
        "type": "https://errors-api.cloud.com/common/methodNotAllowed",
        "detail": "This route does not accept this HTTP method.",
        "parameters": [],
    });
    (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}
