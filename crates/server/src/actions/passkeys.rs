//! WebAuthn passkeys of local administrators (issue #25 item 4), through `webauthn-rs`: registering
//! one, and checking one as the second step after a password or as the whole sign-in.
//!
//! The relying party is the server's public URL: its host is the RP ID and the URL's origin the
//! only origin accepted (W3C WebAuthn §5.1.3, §7.1 step 9). A ceremony's state — the challenge and
//! what the answer is checked against — is serialised into the store under a keyed digest of its
//! purpose and of what the browser holds (its session, its pending second step, its sign-in form's
//! token), so any node finishes it, once, within [`CEREMONY_LIFETIME`]. A passkey requires user
//! verification (a PIN or biometric on the authenticator), which makes it two factors on its own.

use std::net::IpAddr;
use std::time::Duration;

use time::OffsetDateTime;
use trustgate_core::admin::{Admin, Email};
use trustgate_core::event;
use trustgate_core::ids::PasskeyId;
use trustgate_core::ValidationError;
use trustgate_store::StoredPasskey;
use webauthn_rs::prelude::{
    CreationChallengeResponse, CredentialID, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};
use webauthn_rs_proto::{AllowCredentials, PublicKeyCredentialRequestOptions, UserVerificationPolicy};

use crate::error::ApiError;
use crate::jobs::refusals::Subject;
use crate::state::AppState;
use crate::throttle::retry_after_secs;

/// How long a challenge stays good: the time to find the authenticator and touch it.
pub const CEREMONY_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// The longest name an administrator gives a passkey.
pub const MAX_NAME_LEN: usize = 64;

/// What a ceremony is for: part of its binding, so an answer made for one is never taken for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A signed-in administrator registers a passkey from their sign-in security page.
    Register,
    /// An administrator who owes an enrolment registers a passkey as their second factor.
    Enrol,
    /// The second step after a right password.
    SecondStep,
    /// Signing in with a passkey instead of the password.
    SignIn,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::Enrol => "enrol",
            Purpose::SecondStep => "second-step",
            Purpose::SignIn => "sign-in",
        }
    }
}

/// Where a ceremony is kept: a keyed digest of its purpose and of `held`, a secret the browser holds
/// and sends back with its answer; no other browser can finish it.
pub fn binding(state: &AppState, purpose: Purpose, held: &str) -> [u8; 32] {
    state.server_key().digest(&format!("webauthn:{}:{held}", purpose.as_str()))
}

/// The relying party: the server's public URL.
fn relying_party(state: &AppState) -> Result<Webauthn, ApiError> {
    let unusable = |why: &str| {
        tracing::error!(url = %state.config.issuer.url, "passkeys need the public URL to name a host: {why}");
        ApiError::Unavailable
    };
    let url = Url::parse(&state.config.issuer.url).map_err(|e| unusable(&e.to_string()))?;
    let origin = Url::parse(&url.origin().ascii_serialization()).map_err(|e| unusable(&e.to_string()))?;
    let host = origin.host_str().ok_or_else(|| unusable("no host"))?;
    WebauthnBuilder::new(host, &origin)
        .and_then(|b| b.rp_name("Trustgate").timeout(CEREMONY_LIFETIME).build())
        .map_err(|e| unusable(&e.to_string()))
}

fn user_handle(admin: &Admin) -> Result<Uuid, ApiError> {
    Uuid::parse_str(&admin.id.to_string()).map_err(|_| ApiError::Internal)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|_| ApiError::Internal)
}

fn expires() -> OffsetDateTime {
    OffsetDateTime::now_utc() + CEREMONY_LIFETIME
}

/// The administrator's passkeys as webauthn-rs reads them.
async fn credentials(state: &AppState, admin: &Admin) -> Result<Vec<(StoredPasskey, Passkey)>, ApiError> {
    let mut keys = Vec::new();
    for stored in state.store.passkeys(admin.id).await? {
        let passkey: Passkey = serde_json::from_str(&stored.passkey).map_err(|error| {
            tracing::error!(%error, "a stored passkey does not read");
            ApiError::Internal
        })?;
        keys.push((stored, passkey));
    }
    Ok(keys)
}

/// The name an administrator gives a passkey: trimmed, 1 to [`MAX_NAME_LEN`] characters, no controls.
pub fn passkey_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ValidationError::missing("name").into());
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(ValidationError::too_long("name", MAX_NAME_LEN).into());
    }
    if name.chars().any(char::is_control) {
        return Err(ValidationError::invalid("name", "name must not hold control characters").into());
    }
    Ok(name.to_owned())
}

/// Starts registering a passkey for `admin`; their passkeys already registered are excluded, so
/// an authenticator is not registered twice. Returns what the browser passes to
/// `navigator.credentials.create()`.
pub async fn start_registration(
    state: &AppState,
    admin: &Admin,
    binding: &[u8; 32],
) -> Result<CreationChallengeResponse, ApiError> {
    let exclude: Vec<CredentialID> =
        state.store.passkeys(admin.id).await?.into_iter().map(|p| CredentialID::from(p.credential_id)).collect();
    let (options, registration) = relying_party(state)?
        .start_passkey_registration(user_handle(admin)?, admin.email.as_str(), &admin.display_name, Some(exclude))
        .map_err(|error| {
            tracing::error!(%error, "starting a passkey registration");
            ApiError::Internal
        })?;
    state.store.put_ceremony(binding, Some(admin.id), &to_json(&registration)?, expires()).await?;
    Ok(options)
}

fn not_accepted() -> ApiError {
    ApiError::Unauthenticated { reason: "invalid", detail: "The passkey was not accepted. Please try again." }
}

/// Finishes the registration under way at `binding` with the browser's `credential` (JSON), naming
/// the passkey `name`. Refused when the ceremony is not this administrator's, spent or expired,
/// when the answer does not verify, and (409) when the credential is registered already.
pub async fn finish_registration(
    state: &AppState,
    admin: &Admin,
    binding: &[u8; 32],
    name: &str,
    credential: &str,
) -> Result<StoredPasskey, ApiError> {
    let name = passkey_name(name)?;
    let credential: RegisterPublicKeyCredential =
        serde_json::from_str(credential).map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    let now = OffsetDateTime::now_utc();
    let ceremony = state.store.take_ceremony(binding, now).await?.ok_or_else(not_accepted)?;
    if ceremony.admin_id != Some(admin.id) {
        return Err(not_accepted());
    }
    let registration: PasskeyRegistration = serde_json::from_str(&ceremony.state).map_err(|_| not_accepted())?;
    let passkey = relying_party(state)?.finish_passkey_registration(&credential, &registration).map_err(|error| {
        tracing::info!(%error, "a passkey registration was refused");
        not_accepted()
    })?;
    let stored = StoredPasskey {
        id: PasskeyId::generate(),
        admin_id: admin.id,
        name,
        credential_id: passkey.cred_id().to_vec(),
        passkey: to_json(&passkey)?,
        sign_count: 0,
        created_at: now,
        last_used_at: None,
    };
    if !state.store.add_passkey(admin, &stored).await? {
        return Err(ApiError::Conflict("this passkey is registered already".into()));
    }
    Ok(stored)
}

/// Starts checking one of `admin`'s passkeys (only theirs are allowed); `None` when they hold none.
/// Returns what the browser passes to `navigator.credentials.get()`.
pub async fn start_authentication(
    state: &AppState,
    admin: &Admin,
    binding: &[u8; 32],
) -> Result<Option<RequestChallengeResponse>, ApiError> {
    let keys: Vec<Passkey> = credentials(state, admin).await?.into_iter().map(|(_, key)| key).collect();
    if keys.is_empty() {
        return Ok(None);
    }
    let (options, authentication) = relying_party(state)?.start_passkey_authentication(&keys).map_err(|error| {
        tracing::error!(%error, "starting a passkey authentication");
        ApiError::Internal
    })?;
    state.store.put_ceremony(binding, Some(admin.id), &to_json(&authentication)?, expires()).await?;
    Ok(Some(options))
}

/// The options an e-mail that names nobody, or an administrator without passkeys, is answered with:
/// shaped as webauthn-rs shapes a real administrator's, with one credential whose id is derived from
/// the e-mail under the server key, so it stays the same from one ask to the next as a real one does.
/// Answering "no passkey" instead would tell anyone which addresses are administrators holding
/// passkeys (W3C WebAuthn Level 3, §14.6.2 "Username Enumeration"). No ceremony is kept: whatever
/// the browser answers is refused as a wrong answer is.
pub fn decoy_authentication(state: &AppState, email: &Email) -> Result<RequestChallengeResponse, ApiError> {
    let mut challenge = [0_u8; 32];
    getrandom::fill(&mut challenge).map_err(|_| ApiError::Internal)?;
    let id = state.server_key().digest(&format!("webauthn:decoy:{}", email.as_str()));
    Ok(RequestChallengeResponse {
        public_key: PublicKeyCredentialRequestOptions {
            challenge: challenge.to_vec().into(),
            timeout: Some(u32::try_from(CEREMONY_LIFETIME.as_millis()).map_err(|_| ApiError::Internal)?),
            rp_id: relying_party(state)?
                .get_allowed_origins()
                .first()
                .and_then(Url::host_str)
                .ok_or(ApiError::Internal)?
                .to_owned(),
            allow_credentials: vec![AllowCredentials {
                type_: "public-key".to_owned(),
                id: id.to_vec().into(),
                transports: None,
            }],
            user_verification: UserVerificationPolicy::Required,
            hints: None,
            extensions: None,
        },
        mediation: None,
    })
}

/// An answer sent for an e-mail that names nobody: throttled, counted and refused as a wrong answer
/// of an administrator is, so it tells no more than the [`decoy_authentication`] did.
pub fn refuse_for_nobody(state: &AppState, email: &Email, source: Option<IpAddr>) -> ApiError {
    if let Err(wait) = state.throttles.sign_ins.check(email, source) {
        state.metrics.throttled(crate::metrics::ThrottleKind::SignIn);
        return ApiError::Throttled { retry_after: retry_after_secs(wait) };
    }
    state.throttles.sign_ins.failed(email, source);
    not_accepted()
}

/// Checks the browser's answer `credential` (JSON) to the ceremony under way at `binding` for
/// `admin`, from `source`. Attempts count against the same allowance as the administrator's
/// passwords; a failure is counted in the system log as a failed sign-in.
pub async fn finish_authentication(
    state: &AppState,
    admin: &Admin,
    binding: &[u8; 32],
    credential: &str,
    source: Option<IpAddr>,
) -> Result<(), ApiError> {
    if let Err(wait) = state.throttles.sign_ins.check(&admin.email, source) {
        state.metrics.throttled(crate::metrics::ThrottleKind::SignIn);
        return Err(ApiError::Throttled { retry_after: retry_after_secs(wait) });
    }
    if accepted(state, admin, binding, credential).await? {
        return Ok(());
    }
    state.throttles.sign_ins.failed(&admin.email, source);
    let now = OffsetDateTime::now_utc();
    for membership in state.store.memberships(admin.id).await? {
        let entry = || event::passkey_failed(&membership.customer.id, admin, now);
        state.refused(&Subject::SignIn(membership.customer.id.clone(), admin.clone()), entry, source).await;
    }
    Err(not_accepted())
}

async fn accepted(state: &AppState, admin: &Admin, binding: &[u8; 32], credential: &str) -> Result<bool, ApiError> {
    let now = OffsetDateTime::now_utc();
    // The ceremony is spent whatever the answer: a second try needs a new challenge.
    let Some(ceremony) = state.store.take_ceremony(binding, now).await? else { return Ok(false) };
    if ceremony.admin_id != Some(admin.id) {
        return Ok(false);
    }
    let Ok(authentication) = serde_json::from_str::<PasskeyAuthentication>(&ceremony.state) else { return Ok(false) };
    let Ok(credential) = serde_json::from_str::<PublicKeyCredential>(credential) else { return Ok(false) };
    let result = match relying_party(state)?.finish_passkey_authentication(&credential, &authentication) {
        Ok(result) => result,
        Err(error) => {
            tracing::info!(%error, "a passkey assertion was refused");
            return Ok(false);
        }
    };
    if !result.user_verified() {
        return Ok(false);
    }
    // Only the administrator's own credentials were allowed; the store checks it is still theirs.
    let Some((_, mut passkey)) = credentials(state, admin)
        .await?
        .into_iter()
        .find(|(stored, _)| stored.credential_id == result.cred_id().as_ref())
    else {
        return Ok(false);
    };
    passkey.update_credential(&result);
    let counter = i64::from(result.counter());
    Ok(state.store.use_passkey(admin.id, result.cred_id().as_ref(), counter, &to_json(&passkey)?, now).await?)
}
