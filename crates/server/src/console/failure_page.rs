//! A failure page of a signed-in administrator, inside the console's layout: with the menu of the
//! customer in the path and a way back to where they came from.

use askama::Template;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

use super::error::Failure;
use super::extract::InCustomer;
use super::layout::{Layout, Section};
use crate::session::AdminSession;
use crate::state::AppState;

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
