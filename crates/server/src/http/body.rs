//! Request bodies: bounded, typed, and refused with a clear 4xx when they are not what a route takes.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::{header, HeaderMap};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// Reads the whole body within the configured limit.
pub async fn bytes(request: Request, state: &AppState) -> Result<Bytes, ApiError> {
    let limit = state.config.body_limit;
    axum::body::to_bytes(request.into_body(), limit).await.map_err(|error| {
        if crate::http::conn::is_body_timeout(&error) {
            ApiError::RequestTimeout
        } else {
            ApiError::PayloadTooLarge(limit)
        }
    })
}

/// The media type of the body, lower-cased, without parameters such as `; charset=utf-8`.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
}

/// A JSON body (`application/json`, any charset), parsed into `T`.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        if media_type(request.headers()).as_deref() != Some("application/json") {
            return Err(ApiError::UnsupportedMediaType("application/json"));
        }
        let body = bytes(request, state).await?;
        serde_json::from_slice(&body).map(Json).map_err(|e| ApiError::InvalidJson(e.to_string()))
    }
}

/// Query parameters, looked up case-insensitively (Citrix documents `StartDateTime`, scripts
/// send `startDateTime`).
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn required(&self, name: &'static str) -> Result<&str, trustgate_core::ValidationError> {
        self.get(name).ok_or_else(|| trustgate_core::ValidationError::missing(name))
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(QueryParams)
            .map_err(|_| trustgate_core::ValidationError::invalid("query", "the query string is malformed").into())
    }
}

/// Path parameters, refused with a JSON 400 like every other bad input (axum's own rejection,
/// e.g. for a percent-encoded byte that is not UTF-8, is plain text).
pub struct PathParams<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(params)) => Ok(PathParams(params)),
            Err(_) => Err(trustgate_core::ValidationError::invalid("path", "the path is not valid UTF-8 text").into()),
        }
    }
}
