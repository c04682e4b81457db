//! The one mapping from domain errors to HTTP responses.
//!
//! Platform and management APIs answer in the Citrix gateway style
//! (`{"type":"https://errors-api.cloud.com/common/…","detail":…,"parameters":[…]}`); the token
//! endpoints answer as RFC 6749 §5.2 ([`OAuthError`]) or as the legacy trust service
//! ([`LegacyTokenError`]). Nothing internal — SQL, secrets, stack traces — reaches a body.

use std::time::Duration;

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
    /// A change a lifecycle rule forbids (409); `reason` is the rule's machine-readable name.
    #[error("{detail}")]
    Refused { reason: &'static str, detail: String },
    #[error("service unavailable")]
    Unavailable,
    /// 429: too many failures; locked out for `retry_after` seconds (sent as `Retry-After`).
    #[error("too many failed attempts; retry after {retry_after} s")]
    Throttled { retry_after: u64 },
    /// 503 with `Retry-After`: the server is too busy for this request now (every password-hashing
    /// thread is taken, or the response took too long); the same request may succeed later.
    #[error("busy: {reason}; retry after {retry_after:?}")]
    RetryLater { retry_after: Duration, reason: &'static str },
    /// 408: the request body did not arrive within the body timeout.
    #[error("the request body was not received in time")]
    RequestTimeout,
    /// 412: a conditional write (`If-Match`) named a version that is no longer current.
    #[error("the resource changed since the version presented")]
    PreconditionFailed,
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

    /// How long the client should wait before trying again, sent as `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::RetryLater { retry_after, .. } => Some(*retry_after),
            ApiError::Throttled { retry_after } => Some(Duration::from_secs(*retry_after)),
            _ => None,
        }
    }

    /// The status and detail every front door answers this error with; the SCIM service
    /// provider wraps them in its own body (RFC 7644 §3.12).
    pub fn status_and_detail(&self) -> (StatusCode, String) {
        let (status, _, detail, parameters) = self.parts();
        match parameters.into_iter().find(|(name, _)| *name == "reason") {
            Some((_, reason)) if status == StatusCode::FORBIDDEN => (status, reason),
            _ => (status, detail),
        }
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
            ApiError::Refused { reason, detail } => {
                (StatusCode::CONFLICT, "refused", detail.clone(), vec![("reason", (*reason).to_owned())])
            }
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "serviceUnavailable",
                "The service cannot reach its database; retry shortly.".to_owned(),
                vec![],
            ),
            ApiError::Throttled { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                "tooManyRequests",
                format!("Too many failed attempts; retry after {retry_after} seconds."),
                vec![("retryAfter", retry_after.to_string())],
            ),
            ApiError::RetryLater { retry_after, reason } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "serviceUnavailable",
                format!("The service is busy; retry after {} seconds.", retry_after_seconds(*retry_after)),
                vec![("reason", (*reason).to_owned()), ("retryAfter", retry_after_seconds(*retry_after).to_string())],
            ),
            ApiError::RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "requestTimeout",
                "The request body was not received in time.".to_owned(),
                vec![],
            ),
            ApiError::PreconditionFailed => (
                StatusCode::PRECONDITION_FAILED,
                "preconditionFailed",
                "The resource changed since the version presented in If-Match.".to_owned(),
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
        let retry_after = self.retry_after();
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
        insert_retry_after(&mut response, retry_after.map(retry_after_seconds));
        response
    }
}

fn insert_retry_after(response: &mut Response, seconds: Option<u64>) {
    if let Some(seconds) = seconds {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
}

/// Whole seconds, rounded up and at least one, as `Retry-After` takes them.
fn retry_after_seconds(after: Duration) -> u64 {
    after.as_secs() + u64::from(after.subsec_nanos() > 0 || after.is_zero())
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::Conflict(why) => ApiError::Conflict(why),
            StoreError::Stale => ApiError::PreconditionFailed,
            StoreError::Refused(refusal) if refusal.is_forbidden() => ApiError::Forbidden(refusal.to_string()),
            StoreError::Refused(refusal) => ApiError::Refused { reason: refusal.code(), detail: refusal.to_string() },
            StoreError::Unavailable(why) => {
                tracing::warn!(%why, "the store is unavailable");
                ApiError::Unavailable
            }
            StoreError::Internal(why) => {
                tracing::error!(%why, "storage error");
                ApiError::Internal
            }
            StoreError::Database(error) => {
                tracing::error!(why = %error, detail = ?error, "storage error");
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
    /// Seconds for `Retry-After`, on a 429.
    pub retry_after: Option<u64>,
    /// The client authenticated with HTTP Basic: a failure answers 401 with a Basic challenge.
    pub basic_challenge: bool,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>, status: StatusCode) -> Self {
        Self { error, description: description.into(), status, retry_after: None, basic_challenge: false }
    }

    pub fn invalid_client() -> Self {
        Self::new("invalid_client", "Invalid client id or client secret.", StatusCode::BAD_REQUEST)
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description, StatusCode::BAD_REQUEST)
    }

    pub fn unsupported_grant_type() -> Self {
        Self::new("unsupported_grant_type", "Only grant_type=client_credentials is supported.", StatusCode::BAD_REQUEST)
    }

    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new("unauthorized_client", description, StatusCode::BAD_REQUEST)
    }

    /// The client is locked out after repeated wrong secrets. `slow_down` (RFC 8628 §3.5,
    /// registered for token endpoint responses) says exactly this: wait, then ask again.
    pub fn slow_down(retry_after: u64) -> Self {
        let description = format!("Too many failed attempts for this client; retry after {retry_after} seconds.");
        Self { retry_after: Some(retry_after), ..Self::new("slow_down", description, StatusCode::TOO_MANY_REQUESTS) }
    }

    /// RFC 6749 §5.2: a client that authenticated with the Authorization header and failed gets
    /// 401 and a challenge in the scheme it used.
    pub fn after_basic(mut self) -> Self {
        if self.error == "invalid_client" {
            self.status = StatusCode::UNAUTHORIZED;
            self.basic_challenge = true;
        }
        self
    }

    pub fn server(error: ApiError) -> Self {
        let (status, description) = match error {
            ApiError::Unavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "The service is temporarily unavailable; retry shortly.")
            }
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large."),
            ApiError::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "The request body was not received in time."),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "An unexpected error occurred; it has been logged."),
        };
        let error = match status {
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT => "invalid_request",
            StatusCode::SERVICE_UNAVAILABLE => "temporarily_unavailable",
            _ => "server_error",
        };
        Self::new(error, description, status)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = OAuthErrorBody { error: self.error, error_description: self.description };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.basic_challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"trustgate\""));
        }
        insert_retry_after(&mut response, self.retry_after);
        response
    }
}

/// Errors of the legacy trust endpoint, in its ASP.NET model-state shape.
#[derive(Debug)]
pub struct LegacyTokenError {
    pub status: StatusCode,
    pub reason: String,
    pub retry_after: Option<u64>,
}

impl LegacyTokenError {
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, reason: reason.into(), retry_after: None }
    }
}

impl IntoResponse for LegacyTokenError {
    fn into_response(self) -> Response {
        let message =
            if self.status == StatusCode::TOO_MANY_REQUESTS { "Too many requests." } else { "The request is invalid." };
        let body = LegacyTokenErrorBody { message, model_state: LegacyModelState { credentials: vec![self.reason] } };
        let mut response = (self.status, axum::Json(body)).into_response();
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        insert_retry_after(&mut response, self.retry_after);
        response
    }
}

impl From<OAuthError> for LegacyTokenError {
    fn from(error: OAuthError) -> Self {
        Self { status: error.status, reason: error.description, retry_after: error.retry_after }
    }
}
