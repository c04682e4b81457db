//! SCIM error bodies (RFC 7644 §3.12). The status and detail come from the one mapping of domain
//! errors (`crate::error::ApiError`); only the body's shape, and `scimType`, are SCIM's.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use trustgate_store::StoreError;

use crate::error::ApiError;

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const MEDIA_TYPE: &str = "application/scim+json";

#[derive(Debug)]
pub struct ScimError {
    pub status: StatusCode,
    /// RFC 7644 Table 9: `invalidFilter`, `uniqueness`, `invalidSyntax`, `invalidPath`, `noTarget`,
    /// `invalidValue`, `mutability`, …
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, scim_type: Some(scim_type), detail: detail.into() }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, scim_type: None, detail: detail.into() }
    }

    pub fn not_implemented(detail: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_IMPLEMENTED, scim_type: None, detail: detail.into() }
    }
}

impl From<ApiError> for ScimError {
    fn from(error: ApiError) -> Self {
        let scim_type = match &error {
            ApiError::Conflict(_) => Some("uniqueness"),
            ApiError::Invalid(_) => Some("invalidValue"),
            ApiError::InvalidJson(_) => Some("invalidSyntax"),
            _ => None,
        };
        let (status, detail) = error.status_and_detail();
        Self { status, scim_type, detail }
    }
}

impl From<StoreError> for ScimError {
    fn from(error: StoreError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<trustgate_core::ValidationError> for ScimError {
    fn from(error: trustgate_core::ValidationError) -> Self {
        ApiError::from(error).into()
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = json!(scim_type);
        }
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"scim\""));
        }
        response
    }
}
