//! Passkeys in the console (issue #25 item 4): registering and deleting them on the sign-in
//! security page or while enrolling, the second step with one, and signing in with one alone.
//!
//! Each ceremony has two posts: `…/options` answers the challenge as JSON for `passkeys.js` to
//! hand to the browser's authenticator, and the form's own action takes the answer. The challenge
//! is bound to what this browser holds — its session, its pending second step (`tg_mfa`), or its
//! sign-in form's token (`tg_signin`, matched by the form's `csrf` field) — so no other browser
//! can answer it.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use serde_json::json;
use trustgate_core::admin::{Admin, Email};
use trustgate_core::ids::PasskeyId;

use super::error::ConsoleError;
use super::extract::{Fields, Signed};
use super::second_factor::{
    account_page, code_page, finish, passkey_enrolment_refused, pending, refusal, with_retry_after, Owed, StepError,
    ACCOUNT_PATH, PENDING,
};
use super::session_pages::{destination, sign_in_page_with, ProviderForm, SIGN_IN_FORM};
use super::{form_cookie, SIGN_IN_PATH};
use crate::actions::passkeys::{self, binding, Purpose};
use crate::actions::second_factor as factors;
use crate::actions::sign_in;
use crate::error::ApiError;
use crate::session::{self, cookie_value, AdminSession};
use crate::state::AppState;
use crate::throttle::{retry_after_secs, Source};

/// The largest answer read from a browser: an attestation without certificates is a few hundred
/// bytes; the console's body limit bounds it anyway.
const MAX_CREDENTIAL_LEN: usize = 16 * 1024;
const NO_ANSWER: &str = "Your browser did not answer with a passkey. Passkeys need JavaScript; try again.";

/// The options for `navigator.credentials`, or what went wrong as `{"detail": …}`.
fn options<T: Serialize>(result: Result<T, ConsoleError>) -> Response {
    match result {
        Ok(options) => Json(options).into_response(),
        Err(error) => {
            let status = if error.status().is_redirection() { StatusCode::UNAUTHORIZED } else { error.status() };
            (status, Json(json!({ "detail": error.message() }))).into_response()
        }
    }
}

/// The browser's answer, read from the form's `credential` field.
fn credential(form: &Fields) -> Result<&str, ApiError> {
    let answer = form.get("credential");
    if answer.is_empty() {
        return Err(ApiError::Unauthenticated { reason: "missing", detail: NO_ANSWER });
    }
    if answer.len() > MAX_CREDENTIAL_LEN {
        return Err(ApiError::PayloadTooLarge(MAX_CREDENTIAL_LEN));
    }
    Ok(answer)
}

/// A form posted by a signed-in local administrator, with their session's CSRF token.
async fn signed_form(state: &AppState, request: Request) -> Result<(AdminSession, Fields), ConsoleError> {
    let (mut parts, body) = request.into_parts();
    let Signed(session) =
        <Signed as axum::extract::FromRequestParts<AppState>>::from_request_parts(&mut parts, state).await?;
    let form = Fields::read(Request::from_parts(parts, body), state).await?;
    if !session.csrf_matches(form.get("csrf")) {
        return Err(ConsoleError::stale_form());
    }
    if session.admin.provider.is_federated() || session.session.customer_id.is_some() {
        return Err(ConsoleError::page(
            StatusCode::FORBIDDEN,
            "You sign in through your organisation's identity provider: passkeys are set up there.",
        ));
    }
    Ok((session, form))
}

fn session_binding(state: &AppState, session: &AdminSession) -> [u8; 32] {
    binding(state, Purpose::Register, &URL_SAFE_NO_PAD.encode(session.digest))
}

/// `POST /console/account/passkeys/options` — asks for the administrator's password again: a passkey
/// added is a way in that outlives the session, so a session alone (left open, or taken) must not be
/// enough to add one. The check is a sign-in's: throttled, and a wrong password counted as one.
pub async fn register_options(State(state): State<AppState>, request: Request) -> Response {
    let Source(source) = Source::of(request.extensions(), request.headers(), &state.config.trusted_proxies);
    options(
        async {
            let (session, form) = signed_form(&state, request).await?;
            let password = form.get("current_password").to_owned();
            let checked = sign_in::authenticate(&state, session.admin.email.as_str(), password, source).await.map_err(
                |error| match error {
                    ApiError::Unauthenticated { .. } => {
                        ApiError::Unauthenticated { reason: "invalid", detail: "That is not your password." }
                    }
                    other => other,
                },
            )?;
            if checked.id != session.admin.id {
                return Err(ApiError::Internal.into());
            }
            let bound = session_binding(&state, &session);
            Ok(passkeys::start_registration(&state, &session.admin, &bound).await?)
        }
        .await,
    )
}

/// `POST /console/account/passkeys` — registers the passkey the browser made.
pub async fn register(State(state): State<AppState>, request: Request) -> Result<Response, ConsoleError> {
    let (session, form) = signed_form(&state, request).await?;
    let bound = session_binding(&state, &session);
    let registered = match credential(&form) {
        Ok(answer) => passkeys::finish_registration(&state, &session.admin, &bound, form.get("name"), answer).await,
        Err(error) => Err(error),
    };
    match registered {
        Ok(_) => Ok(Redirect::to(ACCOUNT_PATH).into_response()),
        Err(error) => {
            let (status, message, _) = refusal(error);
            account_page(&state, &session, status, false, StepError::Passkey(&message)).await
        }
    }
}

/// `POST /console/account/passkeys/{id}/delete` — deletes one of the administrator's own passkeys,
/// unless it is the last factor of someone a customer requires one of (a reset by another Full
/// administrator is the way out of that).
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ConsoleError> {
    let (session, _) = signed_form(&state, request).await?;
    let admin = &session.admin;
    let id = PasskeyId::parse(&id).map_err(|_| ApiError::NotFound("passkey"))?;
    let held = state.store.passkeys(admin.id).await.map_err(ApiError::from)?;
    let last = held.len() == 1 && !factors::has_totp(&state, admin).await?;
    let required =
        state.store.memberships(admin.id).await.map_err(ApiError::from)?.iter().any(|m| m.customer.require_local_mfa);
    if last && required && held.iter().any(|p| p.id == id) {
        let message = "This is your only second factor and a customer of yours requires one: register another passkey or set up an authenticator app first.";
        return account_page(&state, &session, StatusCode::CONFLICT, false, StepError::Passkey(message)).await;
    }
    let deleted =
        state.store.delete_passkey(admin, id, time::OffsetDateTime::now_utc()).await.map_err(ApiError::from)?;
    ApiError::unless_found(deleted, "passkey")?;
    Ok(Redirect::to(ACCOUNT_PATH).into_response())
}

/// The pending step's administrator and the cookie value the ceremony is bound to.
async fn pending_step(state: &AppState, headers: &HeaderMap, owed: Owed) -> Option<(Admin, String)> {
    let admin = pending(state, headers, owed).await?;
    Some((admin, cookie_value(headers, PENDING)?))
}

/// `POST /console/sign-in/enrol/passkey/options` — a passkey as the second factor a customer requires.
pub async fn enrol_options(State(state): State<AppState>, headers: HeaderMap) -> Response {
    options(
        async {
            let (admin, held) =
                pending_step(&state, &headers, Owed::Enrol).await.ok_or(ConsoleError::SignIn { next: None })?;
            Ok(passkeys::start_registration(&state, &admin, &binding(&state, Purpose::Enrol, &held)).await?)
        }
        .await,
    )
}

/// `POST /console/sign-in/enrol/passkey` — registers it and opens the session.
pub async fn enrol(State(state): State<AppState>, request: Request) -> Response {
    let Some((admin, held)) = pending_step(&state, request.headers(), Owed::Enrol).await else {
        return Redirect::to(SIGN_IN_PATH).into_response();
    };
    let form = match Fields::read(request, &state).await {
        Ok(form) => form,
        Err(error) => return error.into_response(),
    };
    let next = destination(Some(form.get("next"))).to_owned();
    let bound = binding(&state, Purpose::Enrol, &held);
    let registered = match credential(&form) {
        Ok(answer) => passkeys::finish_registration(&state, &admin, &bound, form.get("name"), answer).await,
        Err(error) => Err(error),
    };
    match registered {
        Ok(_) => finish(&state, &admin, Redirect::to(&next).into_response()).await,
        Err(error) => passkey_enrolment_refused(&state, &admin, &next, error).await,
    }
}

/// `POST /console/sign-in/second-factor/passkey/options` — the second step with a passkey.
pub async fn step_options(State(state): State<AppState>, headers: HeaderMap) -> Response {
    options(
        async {
            let (admin, held) =
                pending_step(&state, &headers, Owed::Code).await.ok_or(ConsoleError::SignIn { next: None })?;
            passkeys::start_authentication(&state, &admin, &binding(&state, Purpose::SecondStep, &held))
                .await?
                .ok_or_else(|| ConsoleError::from(ApiError::NotFound("passkey")))
        }
        .await,
    )
}

/// `POST /console/sign-in/second-factor/passkey` — checks the answer and opens the session.
pub async fn step(State(state): State<AppState>, request: Request) -> Response {
    let Source(source) = Source::of(request.extensions(), request.headers(), &state.config.trusted_proxies);
    let Some((admin, held)) = pending_step(&state, request.headers(), Owed::Code).await else {
        return Redirect::to(SIGN_IN_PATH).into_response();
    };
    let form = match Fields::read(request, &state).await {
        Ok(form) => form,
        Err(error) => return error.into_response(),
    };
    let next = destination(Some(form.get("next"))).to_owned();
    let bound = binding(&state, Purpose::SecondStep, &held);
    let checked = match credential(&form) {
        Ok(answer) => passkeys::finish_authentication(&state, &admin, &bound, answer, source).await,
        Err(error) => Err(error),
    };
    match checked {
        Ok(()) => finish(&state, &admin, Redirect::to(&next).into_response()).await,
        Err(error) => {
            let (status, message, retry_after) = refusal(error);
            with_retry_after(code_page(&state, status, &next, &admin, StepError::Passkey(&message)).await, retry_after)
        }
    }
}

/// The sign-in form's fields once its token matched this browser's `tg_signin` cookie, and that token.
async fn sign_in_form(state: &AppState, request: Request) -> Result<(Fields, String), ConsoleError> {
    let expected = SIGN_IN_FORM.expected(request.headers());
    let form = Fields::read(request, state).await?;
    if !form_cookie::matches(&expected, form.get("csrf")) {
        return Err(ConsoleError::page(StatusCode::FORBIDDEN, "The sign-in form expired. Please try again."));
    }
    Ok((form, expected))
}

/// `POST /console/sign-in/passkey/options` — signing in with a passkey instead of the password:
/// the challenge allows the passkeys of the e-mail entered; an e-mail without any gets a decoy
/// challenge of the same shape, whose answer is refused and counted as a wrong guess.
pub async fn sign_in_options(State(state): State<AppState>, request: Request) -> Response {
    let Source(source) = Source::of(request.extensions(), request.headers(), &state.config.trusted_proxies);
    options(
        async {
            let (form, token) = sign_in_form(&state, request).await?;
            let email = Email::parse(form.get("email")).map_err(ApiError::from)?;
            if let Err(wait) = state.throttles.sign_ins.check(&email, source) {
                state.metrics.throttled(crate::metrics::ThrottleKind::SignIn);
                return Err(ApiError::Throttled { retry_after: retry_after_secs(wait) }.into());
            }
            let bound = binding(&state, Purpose::SignIn, &token);
            let started = match state.store.admin_by_email(&email).await.map_err(ApiError::from)? {
                Some(admin) => passkeys::start_authentication(&state, &admin, &bound).await?,
                None => None,
            };
            match started {
                Some(options) => Ok(options),
                None => Ok(passkeys::decoy_authentication(&state, &email)?),
            }
        }
        .await,
    )
}

/// `POST /console/sign-in/passkey` — checks the answer and opens the session: a passkey verifies
/// its user, so it is both factors and no second step follows.
pub async fn sign_in(State(state): State<AppState>, request: Request) -> Response {
    let Source(source) = Source::of(request.extensions(), request.headers(), &state.config.trusted_proxies);
    let (form, token) = match sign_in_form(&state, request).await {
        Ok(read) => read,
        Err(error) => return again(&state, error.status(), "", "", error.message(), None),
    };
    let next = destination(Some(form.get("next"))).to_owned();
    let email = form.get("email");
    let signed_in = async {
        let answer = credential(&form)?;
        let parsed = Email::parse(email)?;
        let Some(admin) = state.store.admin_by_email(&parsed).await? else {
            return Err(passkeys::refuse_for_nobody(&state, &parsed, source));
        };
        passkeys::finish_authentication(&state, &admin, &binding(&state, Purpose::SignIn, &token), answer, source)
            .await?;
        factors::signed_in(&state, &admin).await?;
        Ok::<_, ApiError>(session::start(&state, &admin, None).await?.0)
    };
    match signed_in.await {
        Ok(cookie) => {
            let mut response = Redirect::to(&next).into_response();
            response.headers_mut().append(axum::http::header::SET_COOKIE, cookie);
            SIGN_IN_FORM.spend(&state, response.headers_mut());
            response
        }
        Err(error) => {
            let (status, message, retry_after) = refusal(error);
            again(&state, status, &next, email, &message, retry_after)
        }
    }
}

/// The sign-in page again, with what went wrong with the passkey.
fn again(state: &AppState, status: StatusCode, next: &str, email: &str, message: &str, wait: Option<u64>) -> Response {
    let next = destination(Some(next));
    let page = sign_in_page_with(state, status, next, email, None, ProviderForm::default(), Some(message));
    with_retry_after(page, wait)
}
