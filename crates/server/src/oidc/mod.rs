//! Console sign-in through a customer's OpenID Connect provider (issue #12): the authorization-code
//! flow with PKCE (S256), `state` and `nonce`, through the `openidconnect` crate. The provider's
//! metadata and keys are discovered at each step rather than cached, so a provider's key rotation
//! or a disconnection holds at once on every node.

use base64::Engine;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use secrecy::ExposeSecret;
use time::OffsetDateTime;
use trustgate_core::admin::{Admin, AdminStatus, Email};
use trustgate_core::event;
use trustgate_core::federation::{IdentityProvider, DEFAULT_EMAIL_CLAIM};
use trustgate_store::PendingSignIn;

use crate::state::AppState;

/// Where providers send the browser back; register it at the provider.
pub const CALLBACK_PATH: &str = "/console/sign-in/callback";
/// How long a person has at their provider before the sign-in must start again.
pub const PENDING_LIFETIME_SECS: i64 = 10 * 60;

type Connected =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// Why a sign-in through a provider did not happen, in words for the person at the browser.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("The sign-in was cancelled or refused at your identity provider ({0}).")]
    Provider(String),
    #[error(
        "This sign-in link expired or was already used, or it was started in another browser. Please sign in again."
    )]
    State,
    #[error("Your identity provider could not be reached or answered something unexpected: {0}")]
    Unavailable(String),
    #[error("Your identity provider's answer did not check out ({0}); nobody was signed in.")]
    Token(String),
    #[error("Your identity provider vouched for you, but you are not an administrator of this customer here. Ask one of its Full administrators to add you.")]
    Unknown,
    #[error("Your account is disabled at your identity provider.")]
    Disabled,
    #[error("Your identity provider no longer places you in any group that gives you access to this customer, so you were removed from it. Ask one of its Full administrators if you still need access.")]
    NoAccessLeft,
    #[error("The identity provider is no longer connected to this customer.")]
    Disconnected,
    /// The detail goes to the server's log, not to the browser.
    #[error("Trustgate could not complete the sign-in just now; please try again in a moment.")]
    Store(String),
}

pub fn redirect_uri(state: &AppState) -> String {
    format!("{}{CALLBACK_PATH}", state.config.issuer.url.trim_end_matches('/'))
}

async fn client(state: &AppState, provider: &IdentityProvider) -> Result<Connected, SignInError> {
    let issuer = IssuerUrl::new(provider.issuer.clone()).map_err(|e| SignInError::Unavailable(e.to_string()))?;
    let http = state.oidc_http.clone();
    let send = move |request| {
        let http = http.clone();
        async move { http.send(request).await }
    };
    let metadata = CoreProviderMetadata::discover_async(issuer, &send)
        .await
        .map_err(|e| SignInError::Unavailable(describe(&e)))?;
    let secret =
        state.server_keys().secret_vault.open(provider).map_err(|e| SignInError::Unavailable(e.to_string()))?;
    let redirect = RedirectUrl::new(redirect_uri(state)).map_err(|e| SignInError::Unavailable(e.to_string()))?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(provider.client_id.clone()),
        Some(ClientSecret::new(secret.expose_secret().to_owned())),
    )
    .set_redirect_uri(redirect))
}

/// The error and its causes, without the request's secrets (the crate's errors name none).
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Starts a sign-in at `provider`: records it under the digest of a fresh `state` and returns the
/// provider's URL to send the browser to, and the `state` to bind to the browser.
pub async fn begin(state: &AppState, provider: &IdentityProvider, next: &str) -> Result<(String, String), SignInError> {
    let client = client(state, provider).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".to_owned()))
        .add_scope(Scope::new("profile".to_owned()))
        .set_pkce_challenge(challenge)
        .url();
    let now = OffsetDateTime::now_utc();
    let pending = PendingSignIn {
        provider_id: provider.id,
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        next_path: next.to_owned(),
        expires_at: now + time::Duration::seconds(PENDING_LIFETIME_SECS),
    };
    state
        .store
        .begin_sign_in(&state.server_key().digest(csrf.secret()), &pending, now)
        .await
        .map_err(|e| SignInError::Store(e.to_string()))?;
    Ok((url.to_string(), csrf.secret().clone()))
}

/// What the provider sent back to the callback.
pub struct Callback<'a> {
    pub state: &'a str,
    pub code: Option<&'a str>,
    pub error: Option<&'a str>,
    /// The `state` this browser was given when it left, from its cookie.
    pub browser_state: &'a str,
}

/// Finishes a sign-in: the `state` must be one this browser started and not yet used; then the
/// code is exchanged with the PKCE verifier and the ID token checked (signature by the issuer's
/// keys, issuer, audience, expiry, nonce). The administrator is the one linked to (issuer,
/// subject) — see `Store::federated_admin`. Successes and refusals of a known administrator are
/// written to the customer's system log (R10).
pub async fn finish(
    state: &AppState,
    callback: Callback<'_>,
) -> Result<(Admin, IdentityProvider, String), SignInError> {
    let same_browser = !callback.state.is_empty()
        && bool::from(subtle::ConstantTimeEq::ct_eq(callback.state.as_bytes(), callback.browser_state.as_bytes()));
    if !same_browser {
        return Err(SignInError::State);
    }
    let now = OffsetDateTime::now_utc();
    let mut pending = None;
    // A sign-in begun just before the server key was rotated was stored under the retired key.
    for digest in state.server_keys().ring.digests(callback.state) {
        pending = state.store.take_sign_in(&digest, now).await.map_err(|e| SignInError::Store(e.to_string()))?;
        if pending.is_some() {
            break;
        }
    }
    let pending = pending.ok_or(SignInError::State)?;
    if let Some(error) = callback.error {
        return Err(SignInError::Provider(error.chars().filter(|c| c.is_ascii_graphic()).take(64).collect()));
    }
    let provider = state
        .store
        .identity_provider(pending.provider_id)
        .await
        .map_err(|e| SignInError::Store(e.to_string()))?
        .ok_or(SignInError::Disconnected)?;
    let code = callback.code.filter(|c| !c.is_empty()).ok_or_else(|| SignInError::Provider("no code".to_owned()))?;
    let client = client(state, &provider).await?;
    let http = state.oidc_http.clone();
    let send = move |request| {
        let http = http.clone();
        async move { http.send(request).await }
    };
    let response = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|e| SignInError::Unavailable(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
        .request_async(&send)
        .await
        .map_err(|e| SignInError::Token(describe(&e)))?;
    let id_token = response.id_token().ok_or_else(|| SignInError::Token("no ID token".to_owned()))?;
    let verifier = client.id_token_verifier().set_allowed_algs([
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::RsaSsaPssSha256,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    ]);
    let claims =
        id_token.claims(&verifier, &Nonce::new(pending.nonce.clone())).map_err(|e| SignInError::Token(describe(&e)))?;
    let subject = claims.subject().as_str().to_owned();
    let email = if provider.email_claim == DEFAULT_EMAIL_CLAIM {
        // An e-mail links a person only when the provider says it verified it.
        claims.email().filter(|_| claims.email_verified() == Some(true)).map(|e| e.as_str().to_owned())
    } else {
        named_claim(&id_token.to_string(), &provider.email_claim)
    };
    // Providers that follow OpenID Connect Core §5.4 to the letter (oidc-provider by default)
    // put the scopes' claims in the userinfo answer only, not in the ID token.
    let email = match email {
        Some(email) => Some(email),
        None => userinfo_email(&client, response.access_token(), claims.subject(), &provider, &send).await?,
    };
    let email = email.and_then(|e| Email::parse(&e).ok());
    let admin = state
        .store
        .federated_admin(&provider, &subject, email.as_ref(), now)
        .await
        .map_err(|e| SignInError::Store(e.to_string()))?
        .ok_or(SignInError::Unknown)?;
    if admin.status == AdminStatus::Disabled {
        let entry = event::federated_sign_in(&provider, &admin, Some("disabled at the identity provider"), now);
        state.store.append_log(&entry).await.map_err(|e| SignInError::Store(e.to_string()))?;
        return Err(SignInError::Disabled);
    }
    // Issue #25: a `groups` claim in the ID token says which of the customer's groups the person
    // is in now; without one, SCIM alone keeps their groups.
    if let Some(claimed) = groups_claim(&id_token.to_string()) {
        let actor = event::Actor::Admin { id: admin.id, name: admin.email.to_string() };
        let still_member = state
            .store
            .sync_claimed_groups(&provider.customer_id, admin.id, &claimed, &actor)
            .await
            .map_err(|e| SignInError::Store(e.to_string()))?;
        if !still_member {
            let why = Some("removed from the customer: their groups give them no access");
            let entry = event::federated_sign_in(&provider, &admin, why, now);
            state.store.append_log(&entry).await.map_err(|e| SignInError::Store(e.to_string()))?;
            return Err(SignInError::NoAccessLeft);
        }
    }
    state
        .store
        .append_log(&event::federated_sign_in(&provider, &admin, None, now))
        .await
        .map_err(|e| SignInError::Store(e.to_string()))?;
    Ok((admin, provider, pending.next_path))
}

/// Claims of a userinfo answer beyond the standard ones, such as Entra ID's `upn`.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
struct OtherClaims(serde_json::Map<String, serde_json::Value>);

impl openidconnect::AdditionalClaims for OtherClaims {}

/// The e-mail claim from the provider's userinfo endpoint, for the subject the ID token named
/// (the crate refuses an answer about anyone else); `None` when the provider has no such endpoint
/// or does not vouch for an e-mail there.
async fn userinfo_email<S>(
    client: &Connected,
    access_token: &openidconnect::AccessToken,
    subject: &openidconnect::SubjectIdentifier,
    provider: &IdentityProvider,
    send: &S,
) -> Result<Option<String>, SignInError>
where
    S: for<'c> openidconnect::AsyncHttpClient<'c>,
{
    let Ok(request) = client.user_info(access_token.clone(), Some(subject.clone())) else { return Ok(None) };
    let info: openidconnect::UserInfoClaims<OtherClaims, openidconnect::core::CoreGenderClaim> =
        request.request_async(send).await.map_err(|e| SignInError::Token(describe(&e)))?;
    Ok(if provider.email_claim == DEFAULT_EMAIL_CLAIM {
        info.email().filter(|_| info.email_verified() == Some(true)).map(|e| e.as_str().to_owned())
    } else {
        info.additional_claims().0.get(&provider.email_claim).and_then(|v| v.as_str()).map(str::to_owned)
    })
}

/// The `groups` claim of an ID token already checked (Entra ID sends group object ids, Okta group
/// names): `None` when there is none, so a provider that does not send it leaves groups alone.
fn groups_claim(id_token: &str) -> Option<Vec<String>> {
    let payload = id_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let values = claims.get("groups")?.as_array()?;
    Some(trustgate_core::group::claimed_groups(values.iter().filter_map(serde_json::Value::as_str)))
}

/// A string claim of an ID token whose signature and claims were already checked: the payload is
/// the one verified, read again for a claim the crate does not model (such as Entra ID's `upn`).
fn named_claim(id_token: &str, name: &str) -> Option<String> {
    let payload = id_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get(name)?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::groups_claim;

    fn token(claims: serde_json::Value) -> String {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("e30.{payload}.c2ln")
    }

    #[test]
    fn the_groups_claim_is_read_when_present_and_only_then() {
        let claimed = groups_claim(&token(serde_json::json!({"groups": ["ops", 7, "ops", " audit "]})));
        assert_eq!(claimed, Some(vec!["ops".to_owned(), "audit".to_owned()]));
        assert_eq!(groups_claim(&token(serde_json::json!({"sub": "x"}))), None);
        assert_eq!(groups_claim(&token(serde_json::json!({"groups": []}))), Some(Vec::new()));
    }
}
