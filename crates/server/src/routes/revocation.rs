//! `POST /oauth2/revoke` — token revocation (RFC 7009). The client authenticates as at the token
//! endpoint; a token it holds is then refused on every node until it would have expired anyway.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;
use trustgate_core::ids::ClientId;
use trustgate_core::secret::ClientSecret;

use super::tokens::basic_credentials;
use crate::body;
use crate::error::OAuthError;
use crate::state::AppState;

const FORM: &str = "application/x-www-form-urlencoded";

/// RFC 7009 token revocation.
#[utoipa::path(
    post,
    path = "/oauth2/revoke",
    tag = "tokens",
    security(()),
    request_body(content = super::doc::RevocationForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke (an invalid, expired or other client's token)"),
        (status = "4XX", description = "RFC 6749 §5.2 error", body = crate::error::OAuthErrorBody),
        (status = "5XX", description = "`temporarily_unavailable` or `server_error`", body = crate::error::OAuthErrorBody),
    )
)]
pub async fn revoke(State(state): State<AppState>, request: Request) -> Response {
    match revoke_token(&state, request).await {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => error.into_response(),
    }
}

async fn revoke_token(state: &AppState, request: Request) -> Result<(), OAuthError> {
    let basic = basic_credentials(request.headers())?;
    if body::media_type(request.headers()).as_deref() != Some(FORM) {
        return Err(OAuthError::invalid_request(format!("The body must be sent as {FORM}.")));
    }
    let body = body::bytes(request, state).await.map_err(OAuthError::server)?;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&body).map_err(|_| OAuthError::invalid_request("The form body is malformed."))?;
    let field = |name: &str| -> Result<Option<&str>, OAuthError> {
        let mut values = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(OAuthError::invalid_request(format!("The parameter {name} is repeated.")));
        }
        Ok(first)
    };
    let (client_id, secret) = match (basic, field("client_id")?, field("client_secret")?) {
        (Some(_), _, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "Send the client credentials in one way only: the body or HTTP Basic.",
            ))
        }
        (Some((id, secret)), _, None) => (id, secret),
        (None, Some(id), Some(secret)) => (id.to_owned(), secret.to_owned()),
        (None, _, _) => return Err(OAuthError::invalid_client()),
    };
    let client = authenticate(state, &client_id, &secret).await?;
    let token = field("token")?.ok_or_else(|| OAuthError::invalid_request("The parameter token is missing."))?;
    // Every token this server issues is an access token, so `token_type_hint` (§2.1) never
    // changes where the token is looked up; it is accepted and not otherwise read.
    field("token_type_hint")?;
    let now = OffsetDateTime::now_utc();
    // §2.2: a token that is invalid, expired, or another client's gets 200 and no effect, so the
    // answer tells the caller nothing about tokens it does not hold.
    let Ok(claims) = state.keys().verify(token, now, &state.config.issuer) else { return Ok(()) };
    if claims.sub != client {
        return Ok(());
    }
    let expires_at = OffsetDateTime::from_unix_timestamp(claims.exp).unwrap_or(now);
    state.store.revoke_token(&claims.jti, expires_at, now).await.map_err(|e| OAuthError::server(e.into()))
}

/// The client the credentials prove, refused exactly as the token endpoint refuses them.
async fn authenticate(state: &AppState, client_id: &str, secret: &str) -> Result<ClientId, OAuthError> {
    let id = ClientId::parse(client_id).map_err(|_| OAuthError::invalid_client())?;
    let presented = ClientSecret::from_presented(secret);
    let cached = state.client(id).await.map_err(OAuthError::server)?.ok_or_else(OAuthError::invalid_client)?;
    if !presented.is_some_and(|s| state.server_key.matches(&s, &cached.facts.verifier)) {
        return Err(OAuthError::invalid_client());
    }
    Ok(id)
}
