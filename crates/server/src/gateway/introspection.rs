//! `POST /oauth2/introspect` — token introspection (RFC 7662) for services that receive tokens
//! directly. The caller is a resource server the operator created (`trustgate resource-server
//! create`); the answer is what the token may do *now*: the same live checks as a platform API
//! call (R4–R7), so a reduced, removed or suspended owner shows on the next introspection.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use trustgate_core::access::Access;
use trustgate_core::client::ClientKind;
use trustgate_core::ids::ResourceServerId;
use trustgate_core::rights::{self, PrincipalKind};
use trustgate_core::secret::{ClientSecret, SecretVerifier, ServerKeyring};

use crate::error::OAuthError;
use crate::oauth::tokens::ClientForm;
use crate::platform::shapes::AccessType;
use crate::state::AppState;
use crate::throttle::{retry_after_secs, Source};

/// RFC 7662 token introspection.
#[utoipa::path(
    post,
    path = "/oauth2/introspect",
    tag = "tokens",
    security(()),
    request_body(content = crate::openapi::IntrospectionForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "`{\"active\": false}` alone, or the active token's details", body = crate::openapi::IntrospectionResponse),
        (status = 401, description = "The resource server's credentials are wrong (`WWW-Authenticate: Basic`)", body = crate::error::OAuthErrorBody),
        crate::openapi::OAuthErrors,
    )
)]
pub async fn introspect(State(state): State<AppState>, request: Request) -> Response {
    let mut response = match introspect_token(&state, request).await {
        Ok(Some(active)) => Json(active).into_response(),
        Ok(None) => Json(Inactive { active: false }).into_response(),
        // §2.1 requires the caller to authenticate: a failure is 401 with a challenge, however
        // the credentials were sent.
        Err(error) => return error.after_basic().into_response(),
    };
    // §4: the answer is about a bearer credential, and is true only now.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn introspect_token(state: &AppState, request: Request) -> Result<Option<Active>, OAuthError> {
    let Source(source) = Source::of(request.extensions(), request.headers(), &state.config.trusted_proxies);
    let form = ClientForm::read(state, request).await?;
    let (id, secret) = form.credentials()?;
    authenticate(state, id, secret, source).await?;
    let token = form.token()?;
    active(state, token).await
}

/// Proves the resource server `id` by `secret` from `source`: throttled per resource server and
/// source address as the token endpoint throttles clients (a well-formed unknown id alike, so a
/// 429 does not tell that it exists), and one HMAC computed whether or not `id` exists, so the
/// timing tells nothing about which it was.
async fn authenticate(state: &AppState, id: &str, secret: &str, source: Option<IpAddr>) -> Result<(), OAuthError> {
    let presented = ClientSecret::from_presented(secret);
    let id = ResourceServerId::parse(id).ok();
    if let Some(id) = id {
        if let Err(wait) = state.throttles.resource_servers.check(&id, source) {
            return Err(OAuthError::slow_down(retry_after_secs(wait)));
        }
    }
    // Read on every request, never cached: a deleted or rotated resource server is refused at
    // once on every node.
    let stored = match id {
        Some(id) => state.store.resource_server(id).await.map_err(|e| OAuthError::server(e.into()))?,
        None => None,
    };
    let ring = &state.server_keys().ring;
    let verifier = stored.as_ref().map_or_else(|| decoy(ring), |(_, verifier)| verifier.clone());
    let matches = presented.as_ref().is_some_and(|s| ring.matches(s, &verifier));
    match (id, stored, matches) {
        (_, Some(_), true) => Ok(()),
        (Some(id), _, _) => {
            state.throttles.resource_servers.failed(&id, source);
            Err(OAuthError::invalid_client())
        }
        (None, _, _) => Err(OAuthError::invalid_client()),
    }
}

/// Names the current server key, so checking it costs one HMAC, as a real secret does.
fn decoy(ring: &ServerKeyring) -> SecretVerifier {
    SecretVerifier::from_stored(&[0; 32], Some(ring.current().id()))
        .unwrap_or_else(|| unreachable!("32 bytes make a verifier"))
}

/// The token's details if it is active now; `None` (§2.2: `active` false and nothing else) for a
/// malformed, forged, expired or revoked token, a deleted client, an owner removed from the
/// customer, a client suspended with its disabled owner (R7), or a token of another customer.
async fn active(state: &AppState, token: &str) -> Result<Option<Active>, OAuthError> {
    let Some(claims) = state.verify_token(token) else { return Ok(None) };
    let Some(client) = state.client(claims.sub).await.map_err(OAuthError::server)? else { return Ok(None) };
    let facts = &client.facts.client;
    if facts.customer_id != claims.customer_id {
        return Ok(None);
    }
    if let Some(owner) = facts.owner() {
        if claims.user_id != Some(owner) {
            return Ok(None);
        }
    }
    let Ok(access) = rights::effective_access(PrincipalKind::ApiClient, &client.standing) else { return Ok(None) };
    let permissions = match access {
        Access::Full => state.catalog().entries().map(|entry| entry.permission.to_string()).collect(),
        Access::Custom(set) => set.iter().map(ToString::to_string).collect(),
    };
    let principal = match &facts.kind {
        ClientKind::SecureClient { owner } => Principal { id: owner.to_string(), kind: "administrator" },
        ClientKind::ServicePrincipal { .. } => Principal { id: facts.id.to_string(), kind: "service_principal" },
    };
    Ok(Some(Active {
        active: true,
        client_id: facts.id.to_string(),
        sub: claims.sub.to_string(),
        token_type: "Bearer",
        exp: claims.exp,
        iat: claims.iat,
        // Verification found both to be this deployment's.
        iss: state.config.issuer.url.clone(),
        aud: state.config.issuer.audience.clone(),
        jti: claims.jti.to_string(),
        customer_id: facts.customer_id.to_string(),
        principal,
        permissions,
        access_type: access.into(),
    }))
}

#[derive(Serialize)]
struct Inactive {
    active: bool,
}

// Typed rather than `json!`, so the members keep RFC 7662's order.
#[derive(Serialize)]
struct Active {
    active: bool,
    client_id: String,
    sub: String,
    token_type: &'static str,
    exp: i64,
    iat: i64,
    iss: String,
    aud: String,
    jti: String,
    customer_id: String,
    principal: Principal,
    permissions: Vec<String>,
    access_type: AccessType,
}

#[derive(Serialize)]
struct Principal {
    id: String,
    kind: &'static str,
}
