//! The one mapping from domain errors to HTTP responses.
//!
//! Platform and management APIs answer in the Citrix gateway style
//! (`{"type":"https://errors-api.cloud.com/common/…","detail":…,"parameters":[…]}`); the token
//! endpoints answer as RFC 6749 §5.2 ([`OAuthError`]) or as the legacy trust service
//! ([`LegacyTokenError`]). Nothing internal — SQL, secrets, stack traces — reaches a body.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use trustgate_core::rights::Denied;
use trustgate_core::ValidationError;
use trustgate_store::StoreError;

const ERROR_TYPE_BASE: &str = "https://errors-api.cloud.com/common/";

/// Every error of the platform and management APIs, in the Citrix gateway shape.
#[derive(Serialize, utoipa::ToSchema)]
pub struct GatewayError {
    /// `https://errors-api.cloud.com/common/<kind>`: `authentication`, `authorization`, `notFound`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub detail: String,
    pub parameters: Vec<GatewayErrorParameter>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct GatewayErrorParameter {
    pub name: String,
    pub value: String,
}

/// RFC 6749 §5.2: `invalid_client`, `invalid_request`, `unsupported_grant_type`, `unauthorized_client`,
/// `temporarily_unavailable`, `server_error`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = OAuthError)]
pub struct OAuthErrorBody {
    error: &'static str,
    error_description: String,
}

/// Errors of the legacy trust service, in its ASP.NET model-state shape.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = LegacyTokenError)]
pub struct LegacyTokenErrorBody {
    message: &'static str,
    model_state: LegacyModelState,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LegacyModelState {
    credentials: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401; `reason` is `missing` or `invalid`, as the Citrix gateway says.
    #[error("unauthenticated ({reason})")]
    Unauthenticated { reason: &'static str, detail: &'static str },
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("unsupported content type; send {0}")]
    UnsupportedMediaType(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Refused(String),
    #[error("service unavailable")]
    Unavailable,
    #[error("internal error")]
    Internal,
}

impl ApiError {
    pub fn missing_credentials() -> Self {
        ApiError::Unauthenticated { reason: "missing", detail: "Missing or invalid authentication details" }
    }

    pub fn invalid_credentials() -> Self {
        ApiError::Unauthenticated { reason: "invalid", detail: "Missing or invalid authentication details" }
    }

    fn parts(&self) -> (StatusCode, &'static str, String, Vec<(&'static str, String)>) {
        match self {
            ApiError::Unauthenticated { reason, detail } => (
                StatusCode::UNAUTHORIZED,
                "authentication",
                (*detail).to_owned(),
                vec![("reason", (*reason).to_owned())],
            ),
            ApiError::Forbidden(why) => {
                (StatusCode::FORBIDDEN, "authorization", "Access denied".to_owned(), vec![("reason", why.clone())])
            }
            ApiError::NotFound(what) => {
                (StatusCode::NOT_FOUND, "notFound", format!("The {what} was not found."), vec![])
            }
            ApiError::Invalid(e) => {
                (StatusCode::BAD_REQUEST, e.kind, e.detail.clone(), vec![("name", e.field.to_owned())])
            }
            ApiError::InvalidJson(why) => (StatusCode::BAD_REQUEST, "invalidJson", why.clone(), vec![]),
            ApiError::PayloadTooLarge(max) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payloadTooLarge",
                format!("The request body must be at most {max} bytes."),
                vec![],
            ),
            ApiError::UnsupportedMediaType(wanted) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupportedMediaType",
                format!("Send the body as {wanted}."),
                vec![],
            ),
            ApiError::Conflict(why) => (StatusCode::CONFLICT, "conflict", why.clone(), vec![]),
            ApiError::Refused(why) => (StatusCode::CONFLICT, "refused", why.clone(), vec![]),
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "serviceUnavailable",
                "The service cannot reach its database; retry shortly.".to_owned(),
                vec![],
            ),
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internalError",
                "An unexpected error occurred; it has been logged.".to_owned(),
                vec![],
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, detail, parameters) = self.parts();
        let parameters = parameters
            .into_iter()
            .map(|(name, value)| GatewayErrorParameter { name: name.to_owned(), value })
            .collect();
        let body = GatewayError { kind: format!("{ERROR_TYPE_BASE}{kind}"), detail, parameters };
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("CwsAuth"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::Conflict(why) => ApiError::Conflict(why),
            StoreError::Refused(why) => ApiError::Refused(why),
            StoreError::Unavailable(why) => {
                tracing::warn!(%why, "the store is unavailable");
                ApiError::Unavailable
            }
            StoreError::Internal(why) => {
                tracing::error!(%why, "storage error");
                ApiError::Internal
            }
        }
    }
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        ApiError::Forbidden(denied.to_string())
    }
}

/// RFC 6749 §5.2 errors of `/cctrustoauth2/{customer}/tokens/clients`.
#[derive(Debug)]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
    pub status: StatusCode,
}

impl OAuthError {
    pub fn invalid_client() -> Self {
        Self {
            error: "invalid_client",
            description: "Invalid client id or client secret.".to_owned(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self { error: "invalid_request", description: description.into(), status: StatusCode::BAD_REQUEST }
    }

    pub fn unsupported_grant_type() -> Self {
        Self {
            error: "unsupported_grant_type",
            description: "Only grant_type=client_credentials is supported.".to_owned(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self { error: "unauthorized_client", description: description.into(), status: StatusCode::BAD_REQUEST }
    }

    pub fn server(error: ApiError) -> Self {
        let (status, description) = match error {
            ApiError::Unavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "The service is temporarily unavailable; retry shortly.")
            }
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large."),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "An unexpected error occurred; it has been logged."),
        };
        let error = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "invalid_request",
            StatusCode::SERVICE_UNAVAILABLE => "temporarily_unavailable",
            _ => "server_error",
        };
        Self { error, description: description.to_owned(), status }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = OAuthErrorBody { error: self.error, error_description: self.description };
        let mut response = (self.status, axum::Json(body)).into_response();
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// Errors of the legacy trust endpoint, in its ASP.NET model-state shape.
#[derive(Debug)]
pub struct LegacyTokenError {
    pub status: StatusCode,
    pub reason: String,
}

impl LegacyTokenError {
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, reason: reason.into() }
    }
}

impl IntoResponse for LegacyTokenError {
    fn into_response(self) -> Response {
        let body = LegacyTokenErrorBody {
            message: "The request is invalid.",
            model_state: LegacyModelState { credentials: vec![self.reason] },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }
}

impl From<OAuthError> for LegacyTokenError {
    fn from(error: OAuthError) -> Self {
        Self { status: error.status, reason: error.description }
    }
}
