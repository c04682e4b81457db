//! The second step of a password sign-in, enrolling an authenticator app, and an administrator's
//! own sign-in security page (issue #25).
//!
//! Between a right password and the second step the browser holds no session: only a short-lived
//! cookie naming the administrator and the step they owe, with a MAC under the server key. It
//! opens nothing but that step's page, and is SameSite=Strict and scoped to the sign-in path, so
//! another site cannot post a code with it.

use askama::Template;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use trustgate_core::admin::Admin;
use trustgate_core::ids::AdminId;
use trustgate_core::mfa::{RecoveryCode, TotpSecret};

use super::error::{render, ConsoleError};
use super::extract::{Fields, Signed};
use super::layout::{when, Layout, Section};
use super::session_pages::{destination, Next};
use super::{PREFIX, SIGN_IN_PATH};
use crate::actions::second_factor::{self, SecondStep};
use crate::error::ApiError;
use crate::session::{self, cookie_value, AdminSession};
use crate::state::AppState;
use crate::throttle::Source;

/// The cookie of a sign-in that owes its second step.
pub(super) const PENDING: &str = "tg_mfa";
/// Long enough to fetch a phone and scan a code, short enough to be worthless when left behind.
const PENDING_LIFETIME: i64 = 10 * 60;
const CODE_PATH: &str = "/console/sign-in/second-factor";
const ENROL_PATH: &str = "/console/sign-in/enrol";
pub(super) const ACCOUNT_PATH: &str = "/console/account/second-factor";
/// Where the enrolment page's passkey form posts, before any session and once signed in.
const ENROL_PASSKEY_PATH: &str = "/console/sign-in/enrol/passkey";
const ACCOUNT_PASSKEY_PATH: &str = "/console/account/passkeys";
/// What the authenticator app shows as the account's issuer.
const ISSUER: &str = "Trustgate";

/// The second step a pending cookie is good for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owed {
    Code,
    Enrol,
}

impl Owed {
    fn as_str(self) -> &'static str {
        match self {
            Owed::Code => "code",
            Owed::Enrol => "enrol",
        }
    }
}

fn pending_mac(state: &AppState, payload: &str) -> Vec<[u8; 32]> {
    state.server_keys().ring.digests(&format!("console-second-step:{payload}"))
}

fn pending_cookie(state: &AppState, admin: AdminId, owed: Owed) -> Result<HeaderValue, ApiError> {
    let expires = OffsetDateTime::now_utc().unix_timestamp() + PENDING_LIFETIME;
    let payload = format!("{admin}.{}.{expires}", owed.as_str());
    let mac = URL_SAFE_NO_PAD.encode(state.server_key().digest(&format!("console-second-step:{payload}")));
    let value = format!("{payload}.{mac}");
    let lifetime = u64::try_from(PENDING_LIFETIME).unwrap_or_default();
    HeaderValue::from_str(&session::cookie(state, PENDING, &value, SIGN_IN_PATH, lifetime))
        .map_err(|_| ApiError::Internal)
}

fn clear_pending(state: &AppState) -> Option<HeaderValue> {
    HeaderValue::from_str(&session::cookie(state, PENDING, "", SIGN_IN_PATH, 0)).ok()
}

/// The administrator a live, untampered pending cookie names for `owed`.
pub(super) async fn pending(state: &AppState, headers: &HeaderMap, owed: Owed) -> Option<Admin> {
    let value = cookie_value(headers, PENDING)?;
    let (payload, mac) = value.rsplit_once('.')?;
    let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
    if !pending_mac(state, payload).iter().any(|m| bool::from(m.as_slice().ct_eq(&mac))) {
        return None;
    }
    let mut parts = payload.split('.');
    let (admin, what, expires) = (parts.next()?, parts.next()?, parts.next()?);
    let expires: i64 = expires.parse().ok()?;
    if what != owed.as_str() || expires <= OffsetDateTime::now_utc().unix_timestamp() {
        return None;
    }
    state.store.admin(AdminId::parse(admin).ok()?).await.ok().flatten()
}

/// What follows a right password (or an accepted invitation): a session at once, or the second
/// step the administrator owes, with `next` carried through. `log` writes the sign-in to the
/// system log when no step is owed.
pub(super) async fn proceed(state: &AppState, admin: &Admin, next: &str, log: bool) -> Result<Response, ApiError> {
    let owed = match second_factor::after_password(state, admin).await? {
        SecondStep::None => {
            if log {
                second_factor::signed_in(state, admin).await?;
            }
            let (cookie, _) = session::start(state, admin, None).await?;
            let mut response = Redirect::to(next).into_response();
            response.headers_mut().append(header::SET_COOKIE, cookie);
            return Ok(response);
        }
        SecondStep::Verify => Owed::Code,
        SecondStep::Enrol => Owed::Enrol,
    };
    let path = if owed == Owed::Code { CODE_PATH } else { ENROL_PATH };
    let mut response = Redirect::to(&format!("{path}?{}", super::next::query(next))).into_response();
    response.headers_mut().append(header::SET_COOKIE, pending_cookie(state, admin.id, owed)?);
    Ok(response)
}

/// The session, once the second step is done; the pending cookie goes.
pub(super) async fn finish(state: &AppState, admin: &Admin, mut response: Response) -> Response {
    let started = async {
        second_factor::signed_in(state, admin).await?;
        session::start(state, admin, None).await
    };
    match started.await {
        Ok((cookie, _)) => {
            let headers = response.headers_mut();
            headers.append(header::SET_COOKIE, cookie);
            if let Some(clear) = clear_pending(state) {
                headers.append(header::SET_COOKIE, clear);
            }
            response
        }
        Err(error) => ConsoleError::from(error).into_response(),
    }
}

#[derive(Template)]
#[template(path = "second_factor.html")]
struct CodePage<'a> {
    next: &'a str,
    email: &'a str,
    /// Which factors the administrator holds: the page offers each.
    totp: bool,
    passkey: bool,
    error: Option<&'a str>,
    passkey_error: Option<&'a str>,
}

/// What went wrong on the second step, and with which of its forms.
#[derive(Clone, Copy)]
pub(super) enum StepError<'a> {
    None,
    Code(&'a str),
    Passkey(&'a str),
}

/// The second step's page, offering the factors `admin` holds.
pub(super) async fn code_page(
    state: &AppState,
    status: StatusCode,
    next: &str,
    admin: &Admin,
    error: StepError<'_>,
) -> Response {
    let held = async {
        let totp = second_factor::has_totp(state, admin).await?;
        let passkey = !state.store.passkeys(admin.id).await?.is_empty();
        Ok::<_, ApiError>((totp, passkey))
    };
    let (totp, passkey) = match held.await {
        Ok(held) => held,
        Err(error) => return ConsoleError::from(error).into_response(),
    };
    let (error, passkey_error) = match error {
        StepError::None => (None, None),
        StepError::Code(message) => (Some(message), None),
        StepError::Passkey(message) => (None, Some(message)),
    };
    render(status, &CodePage { next, email: admin.email.as_str(), totp, passkey, error, passkey_error })
}

/// `GET /console/sign-in/second-factor?next=`
pub async fn code_form(State(state): State<AppState>, headers: HeaderMap, Query(next): Query<Next>) -> Response {
    let next = destination(next.next.as_deref());
    match pending(&state, &headers, Owed::Code).await {
        Some(admin) => code_page(&state, StatusCode::OK, next, &admin, StepError::None).await,
        None => Redirect::to(SIGN_IN_PATH).into_response(),
    }
}

/// `POST /console/sign-in/second-factor`
pub async fn check_code(State(state): State<AppState>, request: Request) -> Response {
    let Source(source) = Source::of(request.extensions(), request.headers(), &state.config.trusted_proxies);
    let Some(admin) = pending(&state, request.headers(), Owed::Code).await else {
        return Redirect::to(SIGN_IN_PATH).into_response();
    };
    let form = match Fields::read(request, &state).await {
        Ok(form) => form,
        Err(error) => return code_page(&state, error.status(), PREFIX, &admin, StepError::Code(error.message())).await,
    };
    let next = destination(Some(form.get("next"))).to_owned();
    match second_factor::check_code(&state, &admin, form.get("code"), source).await {
        Ok(()) => finish(&state, &admin, Redirect::to(&next).into_response()).await,
        Err(error) => {
            let (status, message, retry_after) = refusal(error);
            with_retry_after(code_page(&state, status, &next, &admin, StepError::Code(&message)).await, retry_after)
        }
    }
}

/// The page again with what went wrong, and `Retry-After` when throttled.
pub(super) fn refused(error: ApiError, page: impl FnOnce(StatusCode, &str) -> Response) -> Response {
    let (status, message, retry_after) = refusal(error);
    with_retry_after(page(status, &message), retry_after)
}

/// The status and sentence of a refusal, and the seconds to wait when throttled.
pub(super) fn refusal(error: ApiError) -> (StatusCode, String, Option<u64>) {
    let retry_after = match error {
        ApiError::Throttled { retry_after } => Some(retry_after),
        _ => None,
    };
    let error = ConsoleError::from(error);
    (error.status(), error.message().to_owned(), retry_after)
}

pub(super) fn with_retry_after(mut response: Response, retry_after: Option<u64>) -> Response {
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

#[derive(Template)]
#[template(path = "enrol.html")]
struct EnrolPage<'a> {
    /// Where the form posts: the sign-in's enrolment, or the signed-in administrator's page.
    action: &'a str,
    /// The session's CSRF token when signed in; the pending cookie stands for it otherwise.
    csrf: Option<&'a str>,
    next: &'a str,
    email: &'a str,
    /// Set when a customer requires it: the administrator can do nothing else until done.
    required: bool,
    secret: String,
    uri: String,
    qr_svg: String,
    error: Option<&'a str>,
    /// Where the passkey form posts (its challenge comes from there + `/options`).
    passkey_action: &'a str,
    passkey_error: Option<&'a str>,
}

/// The `otpauth://` URI as a QR code, in SVG drawn with `fill` attributes only (the console's
/// content-security policy allows no inline style).
fn qr_svg(uri: &str) -> String {
    let Ok(code) = qrcode::QrCode::new(uri.as_bytes()) else { return String::new() };
    let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build();
    svg.find("<svg").map(|start| svg[start..].to_owned()).unwrap_or_default()
}

pub(super) struct Enrolling<'a> {
    action: &'a str,
    csrf: Option<&'a str>,
    next: &'a str,
    required: bool,
}

fn enrol_page(
    status: StatusCode,
    how: &Enrolling<'_>,
    admin: &Admin,
    secret: &TotpSecret,
    error: StepError<'_>,
) -> Response {
    let (error, passkey_error) = match error {
        StepError::None => (None, None),
        StepError::Code(message) => (Some(message), None),
        StepError::Passkey(message) => (None, Some(message)),
    };
    let passkey_action = if how.csrf.is_some() { ACCOUNT_PASSKEY_PATH } else { ENROL_PASSKEY_PATH };
    let uri = secret.uri(ISSUER, admin.email.as_str());
    let page = EnrolPage {
        action: how.action,
        csrf: how.csrf,
        next: how.next,
        email: admin.email.as_str(),
        required: how.required,
        secret: secret.base32(),
        qr_svg: qr_svg(&uri),
        uri,
        error,
        passkey_action,
        passkey_error,
    };
    render(status, &page)
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryCodesPage<'a> {
    codes: Vec<&'a str>,
    next: &'a str,
}

fn recovery_codes_page(codes: &[RecoveryCode], next: &str) -> Response {
    let mut response =
        render(StatusCode::OK, &RecoveryCodesPage { codes: codes.iter().map(RecoveryCode::expose).collect(), next });
    // Shown once: never kept by a cache or the back button's copy.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /console/sign-in/enrol?next=` — each visit starts over with a new secret, so a secret
/// started by anyone else who knew the password is never the one confirmed.
pub async fn enrol_form(State(state): State<AppState>, headers: HeaderMap, Query(next): Query<Next>) -> Response {
    let next = destination(next.next.as_deref());
    let Some(admin) = pending(&state, &headers, Owed::Enrol).await else {
        return Redirect::to(SIGN_IN_PATH).into_response();
    };
    let how = Enrolling { action: ENROL_PATH, csrf: None, next, required: true };
    match second_factor::enrolment(&state, &admin, true).await {
        Ok(secret) => enrol_page(StatusCode::OK, &how, &admin, &secret, StepError::None),
        Err(error) => ConsoleError::from(error).into_response(),
    }
}

/// `POST /console/sign-in/enrol` — confirms with a code, shows the recovery codes once, and
/// opens the session.
pub async fn enrol(State(state): State<AppState>, request: Request) -> Response {
    let Source(source) = Source::of(request.extensions(), request.headers(), &state.config.trusted_proxies);
    let Some(admin) = pending(&state, request.headers(), Owed::Enrol).await else {
        return Redirect::to(SIGN_IN_PATH).into_response();
    };
    let form = match Fields::read(request, &state).await {
        Ok(form) => form,
        Err(error) => return error.into_response(),
    };
    let next = destination(Some(form.get("next"))).to_owned();
    let how = Enrolling { action: ENROL_PATH, csrf: None, next: &next, required: true };
    match second_factor::confirm(&state, &admin, form.get("code"), source).await {
        Ok(codes) => finish(&state, &admin, recovery_codes_page(&codes, &next)).await,
        Err(error) => enrolment_refused(&state, &admin, &how, error, false).await,
    }
}

/// The enrolment page again, with the secret still under way, and what went wrong (with the
/// passkey form when `passkey`).
async fn enrolment_refused(
    state: &AppState,
    admin: &Admin,
    how: &Enrolling<'_>,
    error: ApiError,
    passkey: bool,
) -> Response {
    match second_factor::enrolment(state, admin, false).await {
        Ok(secret) => refused(error, |status, message| {
            let error = if passkey { StepError::Passkey(message) } else { StepError::Code(message) };
            enrol_page(status, how, admin, &secret, error)
        }),
        Err(other) => ConsoleError::from(other).into_response(),
    }
}

/// The enrolment page of an administrator who owes one at sign-in, again with what went wrong
/// with their passkey.
pub(super) async fn passkey_enrolment_refused(
    state: &AppState,
    admin: &Admin,
    next: &str,
    error: ApiError,
) -> Response {
    let how = Enrolling { action: ENROL_PATH, csrf: None, next, required: true };
    enrolment_refused(state, admin, &how, error, true).await
}

/// A passkey as the sign-in security page lists it.
struct PasskeyRow {
    id: String,
    name: String,
    created: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "sign_in_security.html")]
struct SecurityPage<'a> {
    layout: Layout,
    federated: bool,
    enrolled: bool,
    email: &'a str,
    passkeys: Vec<PasskeyRow>,
    passkey_error: Option<&'a str>,
}

/// The signed-in administrator's sign-in security: their identity provider's business when
/// federated; the enrolment page while they hold no factor (or when `app` asks for the
/// authenticator app); else their factors, with their passkeys listed. `error` is what went wrong
/// with a form of the page; `restart` starts an authenticator app's enrolment over.
pub(super) async fn account_page(
    state: &AppState,
    session: &AdminSession,
    status: StatusCode,
    app: bool,
    error: StepError<'_>,
) -> Result<Response, ConsoleError> {
    let admin = &session.admin;
    let federated = admin.provider.is_federated() || session.session.customer_id.is_some();
    let enrolled = second_factor::has_totp(state, admin).await?;
    let passkeys = if federated { Vec::new() } else { state.store.passkeys(admin.id).await.map_err(ApiError::from)? };
    if !federated && !enrolled && (passkeys.is_empty() || app) {
        let restart = matches!(error, StepError::None);
        let secret = second_factor::enrolment(state, admin, restart).await?;
        let how =
            Enrolling { action: ACCOUNT_PATH, csrf: Some(&session.session.csrf_token), next: PREFIX, required: false };
        return Ok(enrol_page(status, &how, admin, &secret, error));
    }
    let passkey_error = match error {
        StepError::Passkey(message) | StepError::Code(message) => Some(message),
        StepError::None => None,
    };
    let passkeys = passkeys
        .into_iter()
        .map(|p| PasskeyRow {
            id: p.id.to_string(),
            name: p.name,
            created: when(p.created_at),
            last_used: p.last_used_at.map_or_else(|| "never".to_owned(), when),
        })
        .collect();
    let layout = Layout::outside("Sign-in security", admin.email.as_str(), &session.session.csrf_token);
    let page = SecurityPage { layout, federated, enrolled, email: admin.email.as_str(), passkeys, passkey_error };
    Ok(render(status, &page))
}

/// `GET /console/account/second-factor` — the signed-in administrator's second factors.
pub async fn account(State(state): State<AppState>, Signed(session): Signed) -> Result<Response, ConsoleError> {
    account_page(&state, &session, StatusCode::OK, false, StepError::None).await
}

/// `GET /console/account/second-factor/app` — enrolling an authenticator app beside passkeys.
pub async fn account_app(State(state): State<AppState>, Signed(session): Signed) -> Result<Response, ConsoleError> {
    account_page(&state, &session, StatusCode::OK, true, StepError::None).await
}

/// `POST /console/account/second-factor` — confirms the enrolment of a signed-in administrator.
pub async fn enrol_signed_in(State(state): State<AppState>, request: Request) -> Result<Response, ConsoleError> {
    let Source(source) = Source::of(request.extensions(), request.headers(), &state.config.trusted_proxies);
    let (mut parts, body) = request.into_parts();
    let Signed(session) =
        <Signed as axum::extract::FromRequestParts<AppState>>::from_request_parts(&mut parts, &state).await?;
    let form = Fields::read(Request::from_parts(parts, body), &state).await?;
    if !session.csrf_matches(form.get("csrf")) {
        return Err(ConsoleError::stale_form());
    }
    let how =
        Enrolling { action: ACCOUNT_PATH, csrf: Some(&session.session.csrf_token), next: PREFIX, required: false };
    Ok(match second_factor::confirm(&state, &session.admin, form.get("code"), source).await {
        Ok(codes) => recovery_codes_page(&codes, PREFIX),
        Err(error) => enrolment_refused(&state, &session.admin, &how, error, false).await,
    })
}
