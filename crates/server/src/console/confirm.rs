//! The page that asks before something is removed, with another way out where there is one.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use trustgate_core::client::ApiClient;

use super::error::render;
use super::extract::InCustomer;
use super::layout::{Layout, Section};

/// Another way out, offered before the confirmation: what it does, its form's action and its
/// button's label.
pub struct Alternative {
    pub note: String,
    pub action: String,
    pub label: &'static str,
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage {
    layout: Layout,
    heading: String,
    lines: Vec<String>,
    warning: Option<String>,
    alternative: Option<Alternative>,
    action: String,
    confirm_label: String,
    cancel: String,
    cancel_label: &'static str,
}

/// What the page asks: the question, with its confirming button's label (which titles the page
/// too), where the confirmation posts and where the way back leads.
pub struct Confirmation(ConfirmPage);

impl Confirmation {
    pub fn new(
        ctx: &InCustomer,
        section: Section,
        label: &str,
        heading: String,
        action: String,
        cancel: String,
    ) -> Self {
        Self(ConfirmPage {
            layout: ctx.layout(label, section),
            heading,
            lines: Vec::new(),
            warning: None,
            alternative: None,
            action,
            confirm_label: label.to_owned(),
            cancel,
            cancel_label: "Cancel",
        })
    }

    pub fn line(mut self, line: String) -> Self {
        self.0.lines.push(line);
        self
    }

    pub fn warning(mut self, warning: impl Into<String>) -> Self {
        self.0.warning = Some(warning.into());
        self
    }

    pub fn alternative(mut self, alternative: Option<Alternative>) -> Self {
        self.0.alternative = alternative;
        self
    }

    /// Where the confirmation's own label says cancel already, the way back says something else.
    pub fn cancel_label(mut self, label: &'static str) -> Self {
        self.0.cancel_label = label;
        self
    }
}

impl IntoResponse for Confirmation {
    fn into_response(self) -> Response {
        render(StatusCode::OK, &self.0)
    }
}

/// The confirmation before deleting an API client or a service principal (`what`), from the list
/// at `list` below the customer's pages.
pub fn client_deletion(ctx: &InCustomer, client: &ApiClient, what: &str, list: &str, warning: &str) -> Response {
    let list = format!("{}/{list}", ctx.base());
    let action = format!("{list}/{}/delete", client.id);
    let heading = format!("Delete the {what} “{}”?", client.name);
    Confirmation::new(ctx, Section::ApiAccess, &format!("Delete {what}"), heading, action, list)
        .line(format!("ID: {}", client.id))
        .warning(warning)
        .into_response()
}
