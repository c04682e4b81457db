//! The administrator console: server-rendered HTML over the domain and store layers (never the
//! REST API), with a little progressive-enhancement JavaScript and no front-end build step.
//!
//! Every console response carries a strict Content-Security-Policy (no inline script or style;
//! the CSS and JavaScript are compiled into the binary and served from `/console/static/`), and
//! every state-changing form carries the session's CSRF token, checked before the handler runs.

mod activity;
mod administrators;
mod api_access;
mod confirm;
mod error;
mod extract;
mod failure_page;
mod federation;
mod form_cookie;
mod groups;
mod identity_providers;
mod invitation;
mod layout;
mod lists;
mod next;
mod passkeys;
mod principals;
mod second_factor;
mod session_pages;
mod usage;
mod webhooks;

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use tower::layer::util::{Identity, Stack};
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::state::AppState;

pub use error::ConsoleError;

/// Where the console is mounted.
pub const PREFIX: &str = "/console";
const SIGN_IN_PATH: &str = "/console/sign-in";

const CSS: &str = include_str!("static/console.css");
const JS: &str = include_str!("static/console.js");
const PASSKEYS_JS: &str = include_str!("static/passkeys.js");
const ICON: &str = include_str!("static/icon.svg");

/// The policy every console page is served with: only this origin's own script, style and images.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router(state: AppState) -> Router<AppState> {
    let console = Router::new()
        .route("/", get(session_pages::start))
        .route("/sign-in", get(session_pages::sign_in_page).post(session_pages::sign_in))
        .route("/sign-in/second-factor", get(second_factor::code_form).post(second_factor::check_code))
        .route("/sign-in/enrol", get(second_factor::enrol_form).post(second_factor::enrol))
        .route("/sign-in/second-factor/passkey", axum::routing::post(passkeys::step))
        .route("/sign-in/second-factor/passkey/options", axum::routing::post(passkeys::step_options))
        .route("/sign-in/enrol/passkey", axum::routing::post(passkeys::enrol))
        .route("/sign-in/enrol/passkey/options", axum::routing::post(passkeys::enrol_options))
        .route("/sign-in/passkey", axum::routing::post(passkeys::sign_in))
        .route("/sign-in/passkey/options", axum::routing::post(passkeys::sign_in_options))
        .route("/account/second-factor", get(second_factor::account).post(second_factor::enrol_signed_in))
        .route("/account/second-factor/app", get(second_factor::account_app))
        .route("/account/passkeys", axum::routing::post(passkeys::register))
        .route("/account/passkeys/options", axum::routing::post(passkeys::register_options))
        .route("/account/passkeys/{id}/delete", axum::routing::post(passkeys::delete))
        .route("/sign-in/provider", axum::routing::post(federation::start))
        .route("/sign-in/callback", get(federation::callback))
        .route("/sign-out", axum::routing::post(session_pages::sign_out))
        .route("/c/{customer}", get(session_pages::home))
        .route("/c/{customer}/api-access", get(api_access::page).post(api_access::create))
        .route("/c/{customer}/api-access/{id}/delete", get(api_access::confirm_delete).post(api_access::delete))
        .route("/c/{customer}/service-principals", get(principals::page).post(principals::create))
        .route("/c/{customer}/service-principals/{id}/delete", get(principals::confirm_delete).post(principals::delete))
        .route(
            "/c/{customer}/administrators/{id}/convert-clients",
            axum::routing::post(administrators::convert_clients),
        )
        .route("/c/{customer}/api-access/{id}/secrets", get(api_access::secrets).post(api_access::add_secret))
        .route(
            "/c/{customer}/api-access/{id}/secrets/{secret}/delete",
            get(api_access::confirm_delete_secret).post(api_access::delete_secret),
        )
        .route("/c/{customer}/administrators", get(administrators::page).post(administrators::add))
        .route("/c/{customer}/administrators/{id}", get(administrators::edit).post(administrators::change_access))
        .route(
            "/c/{customer}/administrators/{id}/remove",
            get(administrators::confirm_remove).post(administrators::remove),
        )
        .route("/c/{customer}/administrators/{id}/reinvite", axum::routing::post(administrators::reinvite))
        .route("/c/{customer}/groups", get(groups::page))
        .route("/c/{customer}/groups/{id}", get(groups::edit).post(groups::change_access))
        .route("/invitation", get(invitation::page).post(invitation::accept))
        .route("/c/{customer}/suspend-disabled-owners", axum::routing::post(administrators::suspend_disabled_owners))
        .route("/c/{customer}/mfa-policy", axum::routing::post(administrators::set_mfa_policy))
        .route("/c/{customer}/lost-access-policy", axum::routing::post(administrators::set_lost_access_policy))
        .route(
            "/c/{customer}/administrators/{id}/reset-second-factor",
            axum::routing::post(administrators::reset_second_factor),
        )
        .route("/c/{customer}/identity-providers", get(identity_providers::list).post(identity_providers::connect))
        .route("/c/{customer}/identity-providers/{id}/disconnect", axum::routing::post(identity_providers::disconnect))
        .route("/c/{customer}/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/c/{customer}/webhooks/{id}", get(webhooks::show))
        .route("/c/{customer}/webhooks/{id}/rotate-secret", axum::routing::post(webhooks::rotate_secret))
        .route("/c/{customer}/webhooks/{id}/replay", axum::routing::post(webhooks::replay))
        .route("/c/{customer}/webhooks/{id}/enable", axum::routing::post(webhooks::enable))
        .route("/c/{customer}/webhooks/{id}/delete", get(webhooks::confirm_delete).post(webhooks::delete))
        .route("/c/{customer}/notifications", get(activity::notifications))
        .route("/c/{customer}/system-log", get(activity::system_log))
        .route("/static/console.css", get(|| asset("text/css; charset=utf-8", CSS)))
        .route("/static/console.js", get(|| asset("text/javascript; charset=utf-8", JS)))
        .route("/static/passkeys.js", get(|| asset("text/javascript; charset=utf-8", PASSKEYS_JS)))
        .route("/static/icon.svg", get(|| asset("image/svg+xml", ICON)))
        .fallback(not_found);
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .nest(PREFIX, console)
        .layer(axum::middleware::from_fn_with_state(state, failure_page::in_layout))
        .layer(security_headers())
}

/// The headers of every console response.
fn security_headers() -> ServiceBuilder<SecurityHeaders> {
    let always = |name, value| SetHeader::overriding(name, HeaderValue::from_static(value));
    ServiceBuilder::new()
        .layer(always(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .layer(always(header::X_FRAME_OPTIONS, "DENY"))
        .layer(always(header::REFERRER_POLICY, "same-origin"))
        .layer(always(HeaderName::from_static("cross-origin-opener-policy"), "same-origin"))
        // Pages hold customer data (and once, a secret): never cached, never restored from history.
        .layer(SetHeader::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
}

type SetHeader = SetResponseHeaderLayer<HeaderValue>;
type SecurityHeaders =
    Stack<SetHeader, Stack<SetHeader, Stack<SetHeader, Stack<SetHeader, Stack<SetHeader, Identity>>>>>;

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    // Revalidated on every use, so an upgraded binary's assets are picked up at once.
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

async fn not_found() -> ConsoleError {
    ConsoleError::page(StatusCode::NOT_FOUND, "There is no such page in the console.")
}
