//! How the console shows a failure: an HTML page with the status of the one error mapping
//! ([`ApiError`]) and a message written for a person, or a trip to the sign-in page that comes
//! back afterwards. For a signed-in administrator, the failure layout (`failure_page.rs`) then puts
//! that page inside the console's layout, with the menu and a way back to where they came from.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::error::ApiError;

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

/// What failed, left on the response for the failure layout (`failure_page.rs`) to show inside the
/// layout.
#[derive(Clone)]
pub struct Failure {
    pub(super) status: StatusCode,
    pub(super) message: String,
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
