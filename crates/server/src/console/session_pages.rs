//! Signing in and out, picking a customer, and the customer's home page.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use trustgate_core::secret::random_token;
use trustgate_store::Membership;

use super::error::{render, ConsoleError};
use super::extract::{Fields, InCustomer, Signed, SignedPost};
use super::form_cookie::{self, FormCookie};
use super::layout::{describe, Layout, Section};
use super::{next, second_factor, PREFIX, SIGN_IN_PATH};
use crate::error::ApiError;
use crate::session::{self, AdminSession};
use crate::state::AppState;
use crate::throttle::Source;
use crate::{actions, password};

/// Ties the sign-in form to the browser that loaded it (there is no session yet to hold a CSRF
/// token), so another site cannot sign a victim in to the attacker's account.
pub(super) const SIGN_IN_FORM: FormCookie = FormCookie { name: "tg_signin", path: SIGN_IN_PATH, lifetime: 30 * 60 };

/// A provider the sign-in page offers for what the person entered.
pub(super) struct ProviderChoice {
    pub id: String,
    pub label: String,
}

/// The identity-provider half of the sign-in page.
#[derive(Default)]
pub(super) struct ProviderForm<'a> {
    /// The e-mail or customer id entered.
    pub who: &'a str,
    pub choices: Vec<ProviderChoice>,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    token: &'a str,
    /// The local console page to return to, carried through the form.
    next: &'a str,
    email: &'a str,
    error: Option<&'a str>,
    password_max: usize,
    provider: ProviderForm<'a>,
    /// What went wrong signing in with a passkey.
    passkey_error: Option<&'a str>,
}

/// The sign-in form with a fresh form token, in the page and in a cookie scoped to the form.
fn sign_in_form(state: &AppState, status: StatusCode, next: &str, email: &str, error: Option<&str>) -> Response {
    sign_in_page_with(state, status, next, email, error, ProviderForm::default(), None)
}

/// The sign-in page, with the identity-provider form as given.
pub(super) fn sign_in_page_with(
    state: &AppState,
    status: StatusCode,
    next: &str,
    email: &str,
    error: Option<&str>,
    provider: ProviderForm<'_>,
    passkey_error: Option<&str>,
) -> Response {
    let token = random_token();
    let password_max = password::MAX_PASSWORD_LEN;
    let page = SignInPage { token: &token, next, email, error, password_max, provider, passkey_error };
    let mut response = render(status, &page);
    SIGN_IN_FORM.set(state, response.headers_mut(), &token);
    response
}

#[derive(Deserialize)]
pub struct Next {
    pub(super) next: Option<String>,
}

/// Where to go once signed in: `next` if it is a local console page, else the console's start.
pub(super) fn destination(next: Option<&str>) -> &str {
    next.and_then(next::local_path).unwrap_or(PREFIX)
}

/// `GET /console/sign-in?next=`
pub async fn sign_in_page(State(state): State<AppState>, headers: HeaderMap, Query(next): Query<Next>) -> Response {
    let next = destination(next.next.as_deref());
    if AdminSession::from_cookie(&headers, &state).await.is_ok() {
        return Redirect::to(next).into_response();
    }
    sign_in_form(&state, StatusCode::OK, next, "", None)
}

/// `POST /console/sign-in`
pub async fn sign_in(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let expected = SIGN_IN_FORM.expected(request.headers());
    let Source(source) = Source::of(request.extensions(), request.headers(), &state.config.trusted_proxies);
    let form = match Fields::read(request, &state).await {
        Ok(form) => form,
        Err(error) => return sign_in_form(&state, error.status(), PREFIX, "", Some(error.message())),
    };
    let next = destination(Some(form.get("next")));
    let email = form.get("email");
    let presented = form.get("csrf");
    if !form_cookie::matches(&expected, presented) {
        let error = "The sign-in form expired. Please try again.";
        return sign_in_form(&state, StatusCode::FORBIDDEN, next, email, Some(error));
    }
    if form.get("password").is_empty() {
        return sign_in_form(&state, StatusCode::BAD_REQUEST, next, email, Some("Enter your password."));
    }
    let admin = match actions::sign_in::authenticate(&state, email, form.get("password").to_owned(), source).await {
        Ok(admin) => admin,
        Err(error) => {
            let retry_after = match error {
                ApiError::Throttled { retry_after } => Some(retry_after),
                _ => None,
            };
            let error = ConsoleError::from(error);
            let mut page = sign_in_form(&state, error.status(), next, email, Some(error.message()));
            if let Some(seconds) = retry_after {
                page.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            return page;
        }
    };
    match second_factor::proceed(&state, &admin, next, true).await {
        Ok(mut response) => {
            SIGN_IN_FORM.spend(&state, response.headers_mut());
            response
        }
        Err(error) => ConsoleError::from(error).into_response(),
    }
}

/// `POST /console/sign-out`
pub async fn sign_out(State(state): State<AppState>, SignedPost(session): SignedPost) -> Response {
    match session::end(&state, &session).await {
        Ok(expired) => {
            let mut response = Redirect::to(SIGN_IN_PATH).into_response();
            response.headers_mut().append(header::SET_COOKIE, expired);
            response
        }
        Err(error) => ConsoleError::from(error).into_response(),
    }
}

#[derive(Template)]
#[template(path = "picker.html")]
struct PickerPage {
    layout: Layout,
    memberships: Vec<Membership>,
}

/// `GET /console` — straight into the customer when there is one, else a choice.
pub async fn start(State(state): State<AppState>, Signed(session): Signed) -> Result<Response, ConsoleError> {
    let mut memberships = state.store.memberships(session.admin.id).await.map_err(ApiError::from)?;
    memberships.retain(|m| session.reaches(&m.customer.id));
    if let [only] = memberships.as_slice() {
        return Ok(Redirect::to(&format!("/console/c/{}", only.customer.id)).into_response());
    }
    let title = if memberships.is_empty() { "No customer" } else { "Choose a customer" };
    let layout = Layout::outside(title, session.admin.email.as_str(), &session.session.csrf_token);
    Ok(render(StatusCode::OK, &PickerPage { layout, memberships }))
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    base: String,
    access: String,
    /// Full administrators also manage the customer's identity providers and webhooks.
    full: bool,
    /// Webhook endpoints disabled after failing (Full administrators only): the banner.
    disabled: Vec<super::webhooks::EndpointRow>,
}

/// `GET /console/c/{customer}`
pub async fn home(State(state): State<AppState>, ctx: InCustomer) -> Result<Response, ConsoleError> {
    let full = ctx.access() == trustgate_core::access::Access::Full;
    let page = HomePage {
        layout: ctx.layout("Home", Section::Home),
        base: ctx.base(),
        access: describe(&ctx.access(), &state.catalog()),
        full,
        disabled: super::webhooks::disabled_endpoints(&state, &ctx).await?,
    };
    Ok(render(StatusCode::OK, &page))
}
