//! `POST /oauth2/revoke` — token revocation (RFC 7009). The client authenticates as at the token
//! endpoint; a token it holds is then refused on every node until it would have expired anyway.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

use crate::error::OAuthError;
use crate::metrics::RevocationOutcome;
use crate::oauth::grant;
use crate::oauth::tokens::ClientForm;
use crate::state::AppState;
use crate::throttle::Source;

/// RFC 7009 token revocation.
#[utoipa::path(
    post,
    path = "/oauth2/revoke",
    tag = "tokens",
    security(()),
    request_body(content = crate::openapi::RevocationForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke (an invalid, expired or other client's token)"),
        crate::openapi::OAuthErrors,
    )
)]
pub async fn revoke(State(state): State<AppState>, request: Request) -> Response {
    let used_basic = request.headers().contains_key(header::AUTHORIZATION);
    match revoke_token(&state, request).await {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) if used_basic => error.after_basic().into_response(),
        Err(error) => error.into_response(),
    }
}

async fn revoke_token(state: &AppState, request: Request) -> Result<(), OAuthError> {
    let Source(source) = Source::of(request.extensions(), request.headers(), &state.config.trusted_proxies);
    let form = ClientForm::read(state, request).await?;
    let (client_id, secret) = form.credentials()?;
    // The same checks as a token request: throttled per client, refusals in the system log.
    let client = grant::authenticate(state, client_id, secret, source).await?.client.facts.client.id;
    let token = form.token()?;
    let now = OffsetDateTime::now_utc();
    // §2.2: a token that is invalid, expired, or another client's gets 200 and no effect, so the
    // answer tells the caller nothing about tokens it does not hold.
    // Counted, so an operator sees a client trying other clients' tokens (issue #21, item 9).
    let Ok(claims) = state.keys().verify(token, now, &state.config.issuer) else {
        state.metrics.revocation(RevocationOutcome::Invalid);
        return Ok(());
    };
    if claims.sub != client {
        state.metrics.revocation(RevocationOutcome::NotHeld);
        tracing::info!(client_id = %client, token_of = %claims.sub, "a client asked to revoke another client's token; ignored");
        return Ok(());
    }
    let expires_at = OffsetDateTime::from_unix_timestamp(claims.exp).unwrap_or(now);
    let cap = crate::cache::revoked_tokens::REVOCATIONS_PER_CLIENT;
    state
        .store
        .revoke_token(client, &claims.jti, expires_at, now, cap)
        .await
        .map_err(|e| OAuthError::server(e.into()))?;
    state.metrics.revocation(RevocationOutcome::Revoked);
    Ok(())
}
