//! Authorization server metadata (RFC 8414) and OpenID Provider metadata (OpenID Connect
//! Discovery 1.0): where a standard OAuth library finds the token endpoint, the keys and the
//! revocation endpoint, given only the issuer URL.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::state::AppState;

/// The standard token endpoint is Citrix's, for the root customer: it takes any client.
const TOKEN_PATH: &str = "/cctrustoauth2/root/tokens/clients";
/// Served by the router under these paths, and published under them.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
pub const REVOCATION_PATH: &str = "/oauth2/revoke";

/// `GET /.well-known/oauth-authorization-server` and `GET /.well-known/openid-configuration`:
/// one document serves both, since OpenID's required fields are valid RFC 8414 metadata.
pub async fn metadata(State(state): State<AppState>) -> Json<Value> {
    let issuer = &state.config.issuer.url;
    let algorithm = state.keys().algorithm();
    let auth_methods = ["client_secret_basic", "client_secret_post"];
    Json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}{TOKEN_PATH}"),
        "jwks_uri": format!("{issuer}{JWKS_PATH}"),
        "revocation_endpoint": format!("{issuer}{REVOCATION_PATH}"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": [algorithm],
        "revocation_endpoint_auth_methods_supported": auth_methods,
        // Required by both specifications, though no flow here uses an authorization endpoint:
        // the list is empty rather than promise a response type nothing answers.
        "response_types_supported": [],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [algorithm],
        "claims_supported": ["iss", "aud", "sub", "user_id", "customer_id", "customers", "iat", "exp", "jti"],
    }))
}
