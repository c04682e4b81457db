//! Authorization server metadata (RFC 8414) and OpenID Provider metadata (OpenID Connect
//! Discovery 1.0): where a standard OAuth library finds the token endpoint, the keys and the
//! revocation and introspection endpoints, given only the issuer URL.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use trustgate_core::token::Algorithm;

use crate::error::ApiError;
use crate::state::AppState;

/// The standard token endpoint is Citrix's, for the root customer: it takes any client.
pub(crate) const TOKEN_PATH: &str = "/cctrustoauth2/root/tokens/clients";
/// Published under these paths; the handlers' `utoipa::path` attributes name the same ones.
const JWKS_PATH: &str = "/.well-known/jwks.json";
const REVOCATION_PATH: &str = "/oauth2/revoke";
const INTROSPECTION_PATH: &str = "/oauth2/introspect";

/// RFC 8414 §3.
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "tokens",
    security(()),
    responses((status = 200, description = "Authorization server metadata", body = crate::openapi::ServerMetadata))
)]
pub async fn authorization_server(State(state): State<AppState>) -> Json<Value> {
    metadata(&state)
}

/// OpenID Connect Discovery 1.0 §4.
#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    tag = "tokens",
    security(()),
    responses((status = 200, description = "OpenID Provider metadata", body = crate::openapi::ServerMetadata))
)]
pub async fn openid_configuration(State(state): State<AppState>) -> Json<Value> {
    metadata(&state)
}

/// `GET /.well-known/oauth-authorization-server/{issuer path}` — RFC 8414 §3.1: for an issuer
/// with a path (`--public-url https://host/tg`), the well-known segment goes between the host and
/// the path, which is where openid-client and other RFC 8414 clients look. Only the issuer's own
/// path is answered; the proxy in front must send this path to Trustgate unchanged.
pub async fn authorization_server_at(State(state): State<AppState>, Path(path): Path<String>) -> Response {
    at_issuer_path(&state, &path)
}

/// `GET /.well-known/openid-configuration/{issuer path}`: the same insertion, which some clients
/// also try for OpenID metadata; the form OpenID Connect Discovery defines (the path, then
/// `/.well-known/openid-configuration`) is answered as for any issuer.
pub async fn openid_configuration_at(State(state): State<AppState>, Path(path): Path<String>) -> Response {
    at_issuer_path(&state, &path)
}

fn at_issuer_path(state: &AppState, path: &str) -> Response {
    match issuer_path(&state.config.issuer.url) {
        Some(issuer) if issuer == path.trim_end_matches('/') => metadata(state).into_response(),
        _ => ApiError::NotFound("route").into_response(),
    }
}

/// The path of an issuer URL without its slashes (`tg` for `https://host/tg`), if it has one.
fn issuer_path(issuer: &str) -> Option<&str> {
    let after_scheme = issuer.split_once("://").map_or(issuer, |(_, rest)| rest);
    let path = after_scheme.split_once('/')?.1.trim_matches('/');
    (!path.is_empty()).then_some(path)
}

/// One document serves both paths, since OpenID's required fields are valid RFC 8414 metadata.
fn metadata(state: &AppState) -> Json<Value> {
    let issuer = &state.config.issuer.url;
    // Every live key's algorithm: after a switch, tokens of the previous one still verify.
    let algorithms: Vec<&str> = state.keys().algorithms().into_iter().map(Algorithm::as_str).collect();
    let auth_methods = ["client_secret_basic", "client_secret_post"];
    Json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}{TOKEN_PATH}"),
        "jwks_uri": format!("{issuer}{JWKS_PATH}"),
        "revocation_endpoint": format!("{issuer}{REVOCATION_PATH}"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": algorithms,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        // RFC 7662: resource servers (not clients) authenticate here, in the same two ways.
        "introspection_endpoint": format!("{issuer}{INTROSPECTION_PATH}"),
        "introspection_endpoint_auth_methods_supported": auth_methods,
        // Required by both specifications, though no flow here uses an authorization endpoint:
        // the list is empty rather than promise a response type nothing answers.
        "response_types_supported": [],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algorithms,
        "claims_supported": ["iss", "aud", "sub", "user_id", "customer_id", "customers", "iat", "exp", "jti"],
    }))
}

#[cfg(test)]
mod tests {
    use super::issuer_path;

    #[test]
    fn the_issuer_path_is_what_follows_the_host() {
        assert_eq!(issuer_path("https://host/tg"), Some("tg"));
        assert_eq!(issuer_path("https://host/a/b/"), Some("a/b"));
        assert_eq!(issuer_path("https://host"), None);
        assert_eq!(issuer_path("https://host/"), None);
    }
}
