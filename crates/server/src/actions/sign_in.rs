//! Signing in with an e-mail and a password, throttled like every guess.

use std::net::IpAddr;

use time::OffsetDateTime;
use trustgate_core::admin::{Admin, Email};
use trustgate_core::event::{self};
use trustgate_core::ids::AdminId;
use trustgate_core::ValidationError;

use crate::error::ApiError;
use crate::jobs::refusals::Subject;
use crate::password;
use crate::state::AppState;
use crate::throttle::retry_after_secs;
/// Checks an administrator's e-mail and password from `source`. A right password is only the first
/// step: the caller asks [`super::second_factor::after_password`] what follows, and once every step is
/// done [`super::second_factor::signed_in`] writes the success to the system log of every customer where
/// the administrator is an accepted member (the session it opens reaches each of them; a customer
/// that only invited them receives nothing, issue #20); failures
/// are counted there (R10, at most one record per administrator and customer per window) and
/// throttled per e-mail and source address. An unknown e-mail costs the same reads and hash as a wrong password, and is throttled
/// alike, so neither the time nor a 429 tells whether an account exists.
pub async fn authenticate(
    state: &AppState,
    email: &str,
    password: String,
    source: Option<IpAddr>,
) -> Result<Admin, ApiError> {
    let email = Email::parse(email)?;
    if password.len() > password::MAX_PASSWORD_LEN {
        return Err(ValidationError::too_long("password", password::MAX_PASSWORD_LEN).into());
    }
    if let Err(wait) = state.throttles.sign_ins.check(&email, source) {
        state.metrics.throttled(crate::metrics::ThrottleKind::SignIn);
        return Err(ApiError::Throttled { retry_after: retry_after_secs(wait) });
    }
    let store = state.store.as_ref();
    let admin = store.admin_by_email(&email).await?;
    let id = admin.as_ref().map_or_else(AdminId::generate, |a| a.id);
    let stored = store.password_hash(id).await?;
    let matches = password::verify(password, stored).await?;
    let memberships = store.memberships(id).await?;
    let now = OffsetDateTime::now_utc();
    let Some(admin) = admin else {
        state.throttles.sign_ins.failed(&email, source);
        return Err(bad_sign_in());
    };
    if matches {
        return Ok(admin);
    }
    state.throttles.sign_ins.failed(&email, source);
    for membership in memberships {
        let entry = || event::sign_in(&membership.customer.id, &admin, false, now);
        state.refused(&Subject::SignIn(membership.customer.id.clone(), admin.clone()), entry, source).await;
    }
    Err(bad_sign_in())
}

pub(crate) fn bad_sign_in() -> ApiError {
    ApiError::Unauthenticated { reason: "invalid", detail: "Invalid e-mail or password." }
}
