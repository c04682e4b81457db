//! Authorization server metadata (RFC 8414) and OpenID Provider metadata (OpenID Connect
//! Discovery 1.0): where a standard OAuth library finds the token endpoint, the keys and the
//! revocation and introspection endpoints, given only the issuer URL.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use trustgate_core::token::Algorithm;

use crate::state::AppState;

/// The standard token endpoint is Citrix's, for the root customer: it takes any client.
const TOKEN_PATH: &str = "/cctrustoauth2/root/tokens/clients";
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
    responses((status = 200, description = "Authorization server metadata", body = super::doc::ServerMetadata))
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
    responses((status = 200, description = "OpenID Provider metadata", body = super::doc::ServerMetadata))
)]
pub async fn openid_configuration(State(state): State<AppState>) -> Json<Value> {
    metadata(&state)
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
