//! The invitee's side of an invitation (issue #12): the one-time link opens a page that says who
//! invites them to what. The page is the same whether or not the e-mail already has an account
//! (issue #20: it must not tell whoever sees it that the person administers a customer elsewhere):
//! a password, twice. A new administrator chooses it there; one who already has an account gives
//! its password, which is checked as a sign-in, so holding the link never makes an account join.
//! Either way they are signed in. Opening the link changes nothing (mail scanners fetch links);
//! only the form accepts. A used, cancelled, replaced or expired link explains itself.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use trustgate_core::secret::random_token;
use trustgate_store::Invitation;

use super::error::{render, ConsoleError};
use super::extract::Fields;
use super::form_cookie::{self, FormCookie};
use super::layout::describe;
use crate::error::ApiError;
use crate::state::AppState;
use crate::throttle::Source;
use crate::{actions, password};

/// Ties the form to the browser that loaded it, as the sign-in form is (there is no session yet).
const FORM: FormCookie = FormCookie { name: "tg_invitation", path: "/console/invitation", lifetime: 30 * 60 };

#[derive(Template)]
#[template(path = "invitation.html")]
struct InvitationPage<'a> {
    form_token: &'a str,
    token: &'a str,
    customer_name: &'a str,
    email: &'a str,
    access: String,
    expires: String,
    error: Option<&'a str>,
    password_min: usize,
    password_max: usize,
}

fn form(state: &AppState, status: StatusCode, token: &str, found: &Invitation, error: Option<&str>) -> Response {
    let form_token = random_token();
    let page = InvitationPage {
        form_token: &form_token,
        token,
        customer_name: &found.customer.name,
        email: found.admin.email.as_str(),
        access: describe(&found.access, &state.catalog()),
        expires: super::layout::when_exactly(found.expires_at),
        error,
        password_min: password::MIN_PASSWORD_LEN,
        password_max: password::MAX_PASSWORD_LEN,
    };
    let mut response = render(status, &page);
    FORM.set(state, response.headers_mut(), &form_token);
    response
}

/// Why a link no longer works, in the console's own error page.
fn explain(error: ApiError) -> ConsoleError {
    match error {
        ApiError::NotFound(_) => ConsoleError::page(
            StatusCode::NOT_FOUND,
            "This invitation link does not work (any more): it was used already, or the invitation was cancelled \
             or replaced by a newer one. If you accepted it, sign in; otherwise ask an administrator of the customer \
             to invite you again.",
        ),
        ApiError::Refused { reason: "invitationExpired", .. } => ConsoleError::page(
            StatusCode::GONE,
            "This invitation has expired. Ask an administrator of the customer to send you a new one.",
        ),
        other => other.into(),
    }
}

#[derive(Deserialize)]
pub struct Link {
    token: Option<String>,
}

/// `GET /console/invitation?token=`
pub async fn page(State(state): State<AppState>, Query(link): Query<Link>) -> Response {
    let token = link.token.unwrap_or_default();
    match actions::invitations::invitation(&state, &token).await {
        Ok(found) => form(&state, StatusCode::OK, &token, &found, None),
        Err(error) => explain(error).into_response(),
    }
}

/// `POST /console/invitation`
pub async fn accept(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let expected = FORM.expected(request.headers());
    let Source(source) = Source::of(request.extensions(), request.headers(), &state.config.trusted_proxies);
    let form_fields = match Fields::read(request, &state).await {
        Ok(fields) => fields,
        Err(error) => return error.into_response(),
    };
    let token = form_fields.get("token").to_owned();
    let found = match actions::invitations::invitation(&state, &token).await {
        Ok(found) => found,
        Err(error) => return explain(error).into_response(),
    };
    let presented = form_fields.get("csrf");
    if !form_cookie::matches(&expected, presented) {
        let error = "The form expired. Please try again.";
        return form(&state, StatusCode::FORBIDDEN, &token, &found, Some(error));
    }
    let (chosen, again) = (form_fields.get("password"), form_fields.get("password_again"));
    if chosen != again {
        return form(&state, StatusCode::BAD_REQUEST, &token, &found, Some("The two passwords differ."));
    }
    let (accepted, admin) =
        match actions::invitations::accept_invitation(&state, &token, chosen.to_owned(), source).await {
            Ok(accepted) => accepted,
            Err(error @ (ApiError::Invalid(_) | ApiError::Unauthenticated { .. } | ApiError::Throttled { .. })) => {
                let retry_after = match error {
                    ApiError::Throttled { retry_after } => Some(retry_after),
                    _ => None,
                };
                let error = ConsoleError::from(error);
                let mut page = form(&state, error.status(), &token, &found, Some(error.message()));
                if let Some(seconds) = retry_after {
                    page.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                }
                return page;
            }
            Err(error) => return explain(error).into_response(),
        };
    // Accepting is signing in with a password: a second factor the administrator holds, or one a
    // customer of theirs requires, is owed before any session (issue #25).
    let next = format!("/console/c/{}", accepted.customer.id);
    let mut response = match super::second_factor::proceed(&state, &admin, &next, false).await {
        Ok(response) => response,
        Err(error) => return ConsoleError::from(error).into_response(),
    };
    FORM.spend(&state, response.headers_mut());
    response
}
