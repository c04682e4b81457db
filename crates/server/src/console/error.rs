//! How the console shows a failure: an HTML page with the status of the one error mapping
//! ([`ApiError`]) and a message written for a person, or a trip to the sign-in page that comes
//! back afterwards. For a signed-in administrator, [`in_layout`] then puts that page inside the
//! console's layout, with the menu and a way back to where they came from.

use askama::Template;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::extract::InCustomer;
use super::layout::{Layout, Section};
use crate::error::ApiError;
use crate::session::AdminSession;
use crate::state::AppState;

#[derive(Debug)]
pub enum ConsoleError {
    /// No live session: sign in first, then return to `next` (a local console path).
    SignIn {
        next: Option<String>,
    },
    Page {
        status: StatusCode,
        message: String,
    },
}

impl ConsoleError {
    pub fn page(status: StatusCode, message: impl Into<String>) -> Self {
        ConsoleError::Page { status, message: message.into() }
    }

    /// The form did not carry this session's CSRF token.
    pub fn stale_form() -> Self {
        Self::page(
            StatusCode::FORBIDDEN,
            "This form has expired or did not come from the console. Go back, reload the page and try again.",
        )
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ConsoleError::SignIn { .. } => StatusCode::SEE_OTHER,
            ConsoleError::Page { status, .. } => *status,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            ConsoleError::SignIn { .. } => "Please sign in.",
            ConsoleError::Page { message, .. } => message,
        }
    }
}

/// A sentence for a person, from an error whose status [`ApiError`] decides.
fn explain(error: &ApiError) -> String {
    match error {
        ApiError::Unauthenticated { detail, .. } => (*detail).to_owned(),
        ApiError::Forbidden(why) => {
            format!("You are not allowed to do this ({why}). Ask an administrator of this customer for more rights.")
        }
        ApiError::NotFound(what) => format!("The {what} was not found."),
        ApiError::Invalid(e) => sentence(&e.detail),
        ApiError::Conflict(why) | ApiError::Refused { detail: why, .. } => sentence(why),
        ApiError::Unavailable => "The service cannot reach its database; try again in a moment.".to_owned(),
        ApiError::Throttled { retry_after } => {
            format!("Too many failed sign-ins. Wait {retry_after} seconds, then try again.")
        }
        ApiError::RetryLater { .. } => "The service is busy right now; wait a moment and try again.".to_owned(),
        ApiError::Internal => "Something went wrong on our side; it has been logged. Try again.".to_owned(),
        other => sentence(&other.to_string()),
    }
}

/// Capitalised and closed with a full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.trim().trim_end_matches('.').chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

impl From<ApiError> for ConsoleError {
    fn from(error: ApiError) -> Self {
        let message = explain(&error);
        let status = error.into_response().status();
        ConsoleError::Page { status, message }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: &'a str,
}

/// What failed, left on the response for [`in_layout`] to show inside the layout.
#[derive(Clone)]
pub struct Failure {
    status: StatusCode,
    message: String,
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match self {
            ConsoleError::SignIn { next } => {
                let target = match next.as_deref().and_then(super::next::local_path) {
                    Some(next) if next.trim_end_matches('/') != super::PREFIX => {
                        format!("{}?{}", super::SIGN_IN_PATH, super::next::query(next))
                    }
                    _ => super::SIGN_IN_PATH.to_owned(),
                };
                Redirect::to(&target).into_response()
            }
            ConsoleError::Page { status, message } => {
                let page = ErrorPage {
                    status: status.as_u16(),
                    reason: status.canonical_reason().unwrap_or("Error"),
                    message: &message,
                };
                let mut response = match page.render() {
                    Ok(html) => (status, Html(html)).into_response(),
                    Err(error) => {
                        tracing::error!(%error, "rendering the console's error page failed");
                        return (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response();
                    }
                };
                response.extensions_mut().insert(Failure { status, message });
                response
            }
        }
    }
}

#[derive(Template)]
#[template(path = "failure.html")]
struct FailurePage<'a> {
    layout: Layout,
    status: u16,
    reason: &'a str,
    message: &'a str,
    back: String,
    back_label: &'static str,
}

/// Where "back" leads from a failed page: the list the page belongs to, or the customer's home
/// page when the list itself failed, or the console's start when the customer did.
fn way_back(path: &str, in_customer: bool) -> (String, &'static str) {
    let rest = path.strip_prefix(super::PREFIX).unwrap_or_default();
    let mut parts = rest.trim_start_matches('/').split('/').filter(|s| !s.is_empty());
    let (c, customer, section, deeper) = (parts.next(), parts.next(), parts.next(), parts.next().is_some());
    let list = match section {
        Some("api-access") => Some("Back to API Access"),
        Some("administrators") => Some("Back to Administrators"),
        Some("system-log") => Some("Back to the System log"),
        Some("notifications") => Some("Back to Notifications"),
        _ => None,
    };
    match (c, customer, list) {
        (Some("c"), Some(customer), Some(label)) if in_customer && deeper => {
            (format!("{}/c/{customer}/{}", super::PREFIX, section.unwrap_or_default()), label)
        }
        (Some("c"), Some(customer), _) if in_customer => (format!("{}/c/{customer}", super::PREFIX), "Back to Home"),
        _ => (super::PREFIX.to_owned(), "Back to the console"),
    }
}

/// Puts every failure page of a signed-in administrator inside the console's layout (with the
/// menu of the customer in the path, when they are a member of it) and a way back. Signed-out
/// visitors keep the plain page, which links to the sign-in.
pub async fn in_layout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let Some(failure) = response.extensions().get::<Failure>().cloned() else {
        return response;
    };
    let Ok(session) = AdminSession::from_cookie(&headers, &state).await else {
        return response;
    };
    let customer = path
        .strip_prefix(super::PREFIX)
        .and_then(|rest| rest.strip_prefix("/c/"))
        .map(|rest| rest.split('/').next().unwrap_or_default().to_owned());
    let outside = Layout::outside(failure.reason(), session.admin.email.as_str(), &session.session.csrf_token);
    let (layout, in_customer) = match customer {
        Some(raw) => match InCustomer::load(session, &raw, &state).await {
            Ok(ctx) => (ctx.layout(failure.reason(), Section::None), true),
            Err(_) => (outside, false),
        },
        None => (outside, false),
    };
    let (back, back_label) = way_back(&path, in_customer);
    let page = FailurePage {
        layout,
        status: failure.status.as_u16(),
        reason: failure.reason(),
        message: &failure.message,
        back,
        back_label,
    };
    match page.render() {
        Ok(html) => {
            let (mut parts, _) = response.into_parts();
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(html))
        }
        Err(error) => {
            tracing::error!(%error, "rendering a console failure inside the layout failed");
            response
        }
    }
}

impl Failure {
    fn reason(&self) -> &'static str {
        self.status.canonical_reason().unwrap_or("Error")
    }
}

/// Renders a page, or the error page if the template fails.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering a console page failed");
            ConsoleError::from(ApiError::Internal).into_response()
        }
    }
}
