//! Signing in to the console through the customer's OpenID provider (issue #12): the sign-in
//! page offers the providers for the e-mail or customer entered, sends the browser there, and
//! takes it back at the callback. A failed or cancelled sign-in is explained on the sign-in page.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use cookie::{Cookie, SameSite};
use serde::Deserialize;
use trustgate_core::admin::Email;
use trustgate_core::federation::IdentityProvider;
use trustgate_core::ids::{CustomerId, ProviderId};

use super::error::render;
use super::extract::Fields;
use super::form_cookie;
use super::session_pages::{destination, sign_in_page_with, ProviderChoice, ProviderForm, SIGN_IN_FORM};
use super::PREFIX;
use crate::oidc::{self, SignInError, CALLBACK_PATH};
use crate::session::{self, cookie_value};
use crate::state::AppState;

/// Binds a sign-in under way to the browser that started it. SameSite=Lax, unlike the other
/// console cookies: the provider's redirect back is a cross-site navigation, and a Strict cookie
/// would not come with it.
const STATE_COOKIE: &str = "tg_oidc_state";

fn state_cookie(state: &AppState, value: &str, max_age: i64) -> Option<HeaderValue> {
    let cookie = Cookie::build((STATE_COOKIE, value))
        .path(CALLBACK_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(time::Duration::seconds(max_age))
        .secure(state.config.secure_cookies)
        .build();
    HeaderValue::from_str(&cookie.to_string()).ok()
}

fn label(provider: &IdentityProvider) -> String {
    let kind = match provider.provider_type {
        trustgate_core::admin::Provider::AzureAd => "Entra ID",
        trustgate_core::admin::Provider::Okta => "Okta",
        _ => "Google",
    };
    let host = provider.issuer.split("://").nth(1).and_then(|rest| rest.split('/').next()).unwrap_or_default();
    format!("{kind} ({host}) for customer {}", provider.customer_id)
}

/// The providers for an e-mail (those of the customers where a federated administrator of the
/// provider's type has it) or for a customer id.
async fn providers_for(state: &AppState, who: &str) -> Result<Vec<IdentityProvider>, String> {
    let found = if who.contains('@') {
        let email = Email::parse(who).map_err(|e| e.to_string())?;
        state.store.providers_for_email(&email).await
    } else {
        let customer = CustomerId::parse(who).map_err(|e| e.to_string())?;
        state.store.identity_providers(&customer).await
    };
    found.map_err(|e| e.to_string())
}

/// `POST /console/sign-in/provider`
pub async fn start(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let expected = SIGN_IN_FORM.expected(request.headers());
    let source = crate::throttle::Source::of(request.extensions(), request.headers(), &state.config.trusted_proxies);
    let form = match Fields::read(request, &state).await {
        Ok(form) => form,
        Err(error) => return fail(&state, error.status(), PREFIX, "", error.message()),
    };
    let next = destination(Some(form.get("next")));
    let who = form.get("who").trim();
    if !form_cookie::matches(&expected, form.get("csrf")) {
        return fail(&state, StatusCode::FORBIDDEN, next, who, "The sign-in form expired. Please try again.");
    }
    let providers = match providers_for(&state, who).await {
        Ok(providers) => providers,
        Err(message) => return fail(&state, StatusCode::BAD_REQUEST, next, who, &message),
    };
    let chosen = match form.get("provider") {
        "" => match providers.as_slice() {
            [only] => only,
            [] => {
                let message = "No identity provider is connected for that e-mail or customer. Sign in with your password, or ask a Full administrator to connect one.";
                return fail(&state, StatusCode::NOT_FOUND, next, who, message);
            }
            several => {
                let choices =
                    several.iter().map(|p| ProviderChoice { id: p.id.to_string(), label: label(p) }).collect();
                let form = ProviderForm { who, choices, error: None };
                return sign_in_page_with(&state, StatusCode::OK, next, "", None, form, None);
            }
        },
        id => match ProviderId::parse(id).ok().and_then(|id| providers.iter().find(|p| p.id == id)) {
            Some(provider) => provider,
            None => return fail(&state, StatusCode::BAD_REQUEST, next, who, "Choose one of the providers offered."),
        },
    };
    if let Err(retry_after) = state.sign_in_starts.spend(source.0, std::time::Instant::now()) {
        let message = format!(
            "Too many sign-ins were started from your address; try again in {} seconds.",
            retry_after.as_secs()
        );
        let mut response = fail(&state, StatusCode::TOO_MANY_REQUESTS, next, who, &message);
        if let Ok(value) = header::HeaderValue::from_str(&retry_after.as_secs().to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    match oidc::begin(&state, chosen, next).await {
        Ok((url, sign_in_state)) => {
            let mut response = render(StatusCode::OK, &ToProviderPage { url: &url });
            if let Some(cookie) = state_cookie(&state, &sign_in_state, oidc::PENDING_LIFETIME_SECS) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(error) => fail(&state, status_of(&error), next, who, &error.to_string()),
    }
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    #[serde(default)]
    state: String,
    code: Option<String>,
    error: Option<String>,
}

/// `GET /console/sign-in/callback` — where the provider sends the browser back.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let browser_state = cookie_value(&headers, STATE_COOKIE).unwrap_or_default();
    let finished = oidc::finish(
        &state,
        oidc::Callback {
            state: &query.state,
            code: query.code.as_deref(),
            error: query.error.as_deref(),
            browser_state: &browser_state,
        },
    )
    .await;
    let mut response = match finished {
        Ok((admin, provider, next)) => match session::start(&state, &admin, Some(&provider.customer_id)).await {
            Ok((cookie, _)) => {
                let next = if next == PREFIX { format!("{PREFIX}/c/{}", provider.customer_id) } else { next };
                let mut response = continue_page(&next);
                response.headers_mut().append(header::SET_COOKIE, cookie);
                response
            }
            Err(error) => {
                tracing::warn!(%error, "starting a session after an OpenID sign-in failed");
                let error = SignInError::Store(error.to_string());
                fail(&state, status_of(&error), PREFIX, "", &error.to_string())
            }
        },
        Err(error) => {
            tracing::info!(%error, detail = ?error, "an OpenID sign-in was refused");
            fail(&state, status_of(&error), PREFIX, "", &error.to_string())
        }
    };
    if let Some(spent) = state_cookie(&state, "", 0) {
        response.headers_mut().append(header::SET_COOKIE, spent);
    }
    response
}

/// The callback's answer once signed in: the session cookie is SameSite=Strict and this response
/// ends a navigation another site started, so the browser moves on from here, a same-site page.
fn continue_page(next: &str) -> Response {
    render(StatusCode::OK, &SignedInPage { next })
}

/// On the way to the provider: a page that moves on by itself rather than a redirect, since the
/// console's `form-action 'self'` policy stops a form whose answer redirects to another origin.
#[derive(Template)]
#[template(path = "to_provider.html")]
struct ToProviderPage<'a> {
    url: &'a str,
}

#[derive(Template)]
#[template(path = "signed_in.html")]
struct SignedInPage<'a> {
    next: &'a str,
}

fn status_of(error: &SignInError) -> StatusCode {
    match error {
        SignInError::Provider(_) | SignInError::State | SignInError::Token(_) => StatusCode::BAD_REQUEST,
        SignInError::Unknown | SignInError::Disabled | SignInError::NoAccessLeft => StatusCode::FORBIDDEN,
        SignInError::Disconnected => StatusCode::NOT_FOUND,
        SignInError::Unavailable(_) => StatusCode::BAD_GATEWAY,
        SignInError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn fail(state: &AppState, status: StatusCode, next: &str, who: &str, message: &str) -> Response {
    let form = ProviderForm { who, choices: Vec::new(), error: Some(message) };
    sign_in_page_with(state, status, next, "", None, form, None)
}
