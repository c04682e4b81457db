//! The second step of a password sign-in (issue #25), the same for the console and the management
//! API: what an administrator must do once their password was right, checking a TOTP code or a
//! recovery code (throttled like passwords, each code used once), and enrolling an authenticator.
//! Passkeys, the other factor, are in `passkeys.rs`.

use std::net::IpAddr;

use time::OffsetDateTime;
use trustgate_core::admin::Admin;
use trustgate_core::event;
use trustgate_core::mfa::{self, RecoveryCode, TotpSecret};

use crate::error::ApiError;
use crate::jobs::refusals::Subject;
use crate::state::AppState;
use crate::throttle::retry_after_secs;

/// The longest code read: a TOTP code or a recovery code with room for spaces.
pub const MAX_CODE_LEN: usize = 32;

/// What follows a right password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondStep {
    /// Nothing: the administrator has no second factor and none of their customers requires one.
    None,
    /// A factor they hold: a code from their authenticator app or a recovery code, or a passkey.
    Verify,
    /// A customer of theirs requires a second factor they do not have yet: they enrol one before
    /// anything else.
    Enrol,
}

/// Decides the second step for `admin`, whose password was just checked.
pub async fn after_password(state: &AppState, admin: &Admin) -> Result<SecondStep, ApiError> {
    if has_factor(state, admin).await? {
        return Ok(SecondStep::Verify);
    }
    let memberships = state.store.memberships(admin.id).await?;
    if memberships.iter().any(|m| m.customer.require_local_mfa) {
        return Ok(SecondStep::Enrol);
    }
    Ok(SecondStep::None)
}

/// Whether `admin` holds a second factor: a confirmed authenticator app, or a passkey.
pub async fn has_factor(state: &AppState, admin: &Admin) -> Result<bool, ApiError> {
    Ok(has_totp(state, admin).await? || !state.store.passkeys(admin.id).await?.is_empty())
}

/// Whether `admin` holds a confirmed authenticator app (and so, recovery codes).
pub async fn has_totp(state: &AppState, admin: &Admin) -> Result<bool, ApiError> {
    Ok(state.store.totp(admin.id).await?.is_some_and(|t| t.confirmed))
}

/// Writes the sign-in of `admin` to the system log of every customer where they are an accepted
/// member, once every step is done.
pub async fn signed_in(state: &AppState, admin: &Admin) -> Result<(), ApiError> {
    let now = OffsetDateTime::now_utc();
    for membership in state.store.memberships(admin.id).await? {
        state.store.append_log(&event::sign_in(&membership.customer.id, admin, true, now)).await?;
    }
    Ok(())
}

pub(crate) fn bad_code() -> ApiError {
    ApiError::Unauthenticated { reason: "invalid", detail: "Invalid or already used code." }
}

/// Checks `code` — six digits from the authenticator app, or a recovery code — for `admin` from
/// `source`. Attempts count against the same allowance as the administrator's passwords (per
/// e-mail and source); a TOTP code is accepted once (its time step is spent), a recovery code
/// once. A success from a recovery code is logged by the store; a failure is counted in the
/// system log as a failed sign-in.
pub async fn check_code(state: &AppState, admin: &Admin, code: &str, source: Option<IpAddr>) -> Result<(), ApiError> {
    if let Err(wait) = state.throttles.sign_ins.check(&admin.email, source) {
        state.metrics.throttled(crate::metrics::ThrottleKind::SignIn);
        return Err(ApiError::Throttled { retry_after: retry_after_secs(wait) });
    }
    if accepted(state, admin, code).await? {
        return Ok(());
    }
    state.throttles.sign_ins.failed(&admin.email, source);
    let now = OffsetDateTime::now_utc();
    for membership in state.store.memberships(admin.id).await? {
        let entry = || event::second_factor_failed(&membership.customer.id, admin, now);
        state.refused(&Subject::SignIn(membership.customer.id.clone(), admin.clone()), entry, source).await;
    }
    Err(bad_code())
}

async fn accepted(state: &AppState, admin: &Admin, code: &str) -> Result<bool, ApiError> {
    let now = OffsetDateTime::now_utc();
    if mfa::looks_like_totp(code) {
        let Some(enrolment) = state.store.totp(admin.id).await?.filter(|t| t.confirmed) else { return Ok(false) };
        let secret = state.server_keys().totp_vault.open(admin.id, &enrolment.sealed_secret).map_err(|error| {
            tracing::error!(%error, "a second factor does not open with the server keys");
            ApiError::Internal
        })?;
        let Some(step) = secret.matching_step(code, now.unix_timestamp()) else { return Ok(false) };
        // RFC 6238 §5.2: the verifier must not accept the second attempt of the same OTP.
        return Ok(state.store.spend_totp_step(admin.id, step).await?);
    }
    let Some(normalized) = RecoveryCode::normalize(code) else { return Ok(false) };
    let digests = mfa::recovery_digests(&state.server_keys().ring, admin.id, &normalized);
    Ok(state.store.spend_recovery_code(admin, &digests, now).await?.is_some())
}

/// The secret of the enrolment under way for `admin`, started now unless one is (`restart` starts
/// it over with a new secret). `Conflict` when they hold a confirmed factor already.
pub async fn enrolment(state: &AppState, admin: &Admin, restart: bool) -> Result<TotpSecret, ApiError> {
    let keys = state.server_keys();
    match state.store.totp(admin.id).await? {
        Some(t) if t.confirmed => return Err(already_enrolled()),
        Some(t) if !restart => {
            if let Ok(secret) = keys.totp_vault.open(admin.id, &t.sealed_secret) {
                return Ok(secret);
            }
        }
        _ => {}
    }
    let secret = TotpSecret::generate();
    let sealed = keys.totp_vault.seal(admin.id, &secret);
    if !state.store.begin_totp(admin.id, &sealed, OffsetDateTime::now_utc()).await? {
        return Err(already_enrolled());
    }
    Ok(secret)
}

fn already_enrolled() -> ApiError {
    ApiError::Conflict("this administrator has a second factor already; another Full administrator can reset it".into())
}

/// Confirms the enrolment under way with a `code` from the new authenticator (which spends its
/// time step) and returns the recovery codes, for their one view; throttled as sign-ins are.
pub async fn confirm(
    state: &AppState,
    admin: &Admin,
    code: &str,
    source: Option<IpAddr>,
) -> Result<Vec<RecoveryCode>, ApiError> {
    if let Err(wait) = state.throttles.sign_ins.check(&admin.email, source) {
        state.metrics.throttled(crate::metrics::ThrottleKind::SignIn);
        return Err(ApiError::Throttled { retry_after: retry_after_secs(wait) });
    }
    let keys = state.server_keys();
    let enrolment = state.store.totp(admin.id).await?.ok_or(ApiError::NotFound("enrolment"))?;
    if enrolment.confirmed {
        return Err(already_enrolled());
    }
    let secret = keys.totp_vault.open(admin.id, &enrolment.sealed_secret).map_err(|_| ApiError::Internal)?;
    let now = OffsetDateTime::now_utc();
    let Some(step) = secret.matching_step(code, now.unix_timestamp()) else {
        state.throttles.sign_ins.failed(&admin.email, source);
        return Err(bad_code());
    };
    let codes: Vec<RecoveryCode> = (0..mfa::RECOVERY_CODES).map(|_| RecoveryCode::generate()).collect();
    let digests: Vec<[u8; 32]> = codes.iter().map(|c| c.digest(&keys.ring, admin.id)).collect();
    if !state.store.confirm_totp(admin, &enrolment.sealed_secret, step, &digests, now).await? {
        return Err(ApiError::Conflict("the enrolment changed meanwhile; start it again".into()));
    }
    Ok(codes)
}
