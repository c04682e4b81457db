//! Why a request was refused, answered as Trustgate's own APIs answer: the Citrix gateway's
//! problem body, with RFC 6750's `WWW-Authenticate` challenge.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// 401: no token, or one that is malformed, forged, expired, from another issuer or
    /// audience, revoked, or no longer active (its client deleted, its owner removed).
    #[error("unauthenticated: {0}")]
    Unauthenticated(&'static str),
    /// 403: the caller may not do this; the reason says why (a missing permission, another
    /// customer).
    #[error("forbidden: {reason}")]
    Forbidden {
        /// Why, for the problem body's `reason`.
        reason: String,
        /// The permission the route needs, for the `WWW-Authenticate` challenge's `scope`.
        scope: Option<String>,
    },
    /// 503: Trustgate could not be asked (the key set or the decision), so nothing is allowed.
    #[error("Trustgate is unavailable: {0}")]
    Unavailable(String),
}

impl Rejection {
    pub(crate) fn missing() -> Self {
        Rejection::Unauthenticated("missing")
    }

    pub(crate) fn invalid() -> Self {
        Rejection::Unauthenticated("invalid")
    }

    /// The HTTP status it is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Rejection::Forbidden { .. } => StatusCode::FORBIDDEN,
            Rejection::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

const RETRY_UNAVAILABLE: Duration = Duration::from_secs(1);

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let status = self.status();
        let (kind, detail, reason, challenge) = match &self {
            Rejection::Unauthenticated(reason) => (
                "authentication",
                "Missing or invalid authentication details".to_owned(),
                Some((*reason).to_owned()),
                Some(if *reason == "missing" {
                    "Bearer".to_owned()
                } else {
                    "Bearer error=\"invalid_token\"".to_owned()
                }),
            ),
            Rejection::Forbidden { reason, scope } => (
                "authorization",
                "Access denied".to_owned(),
                Some(reason.clone()),
                Some(match scope {
                    Some(scope) => format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\""),
                    None => "Bearer error=\"insufficient_scope\"".to_owned(),
                }),
            ),
            Rejection::Unavailable(_) => (
                "serviceUnavailable",
                "The authorization service cannot be reached; retry shortly.".to_owned(),
                None,
                None,
            ),
        };
        let parameters: Vec<_> = reason.into_iter().map(|r| json!({ "name": "reason", "value": r })).collect();
        let body = json!({
            "type": format!("https://errors-api.cloud.com/common/{kind}"),
            "detail": detail,
            "parameters": parameters,
        });
        let content_type = [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))];
        let mut response = (status, content_type, body.to_string()).into_response();
        let headers = response.headers_mut();
        if let Some(challenge) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_UNAVAILABLE.as_secs()));
        }
        response
    }
}
