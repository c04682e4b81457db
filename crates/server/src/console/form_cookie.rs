//! The cookie that ties a form posted before any session exists (signing in, accepting an
//! invitation) to the browser that loaded it: the page sets a random token as the cookie and as
//! the form's `csrf` field, and a post is taken only when the two match, so another site cannot
//! post the form in a victim's browser.

use axum::http::{header, HeaderMap, HeaderValue};
use subtle::ConstantTimeEq;

use crate::session::{self, cookie_value};
use crate::state::AppState;

pub struct FormCookie {
    pub name: &'static str,
    pub path: &'static str,
    /// Seconds the form may stay open before its post is refused.
    pub lifetime: u64,
}

impl FormCookie {
    /// The token the post's cookie holds; empty when it brought none.
    pub fn expected(&self, headers: &HeaderMap) -> String {
        cookie_value(headers, self.name).unwrap_or_default()
    }

    /// Sets `token` on the response that carries the form.
    pub fn set(&self, state: &AppState, headers: &mut HeaderMap, token: &str) {
        append(headers, &session::cookie(state, self.name, token, self.path, self.lifetime));
    }

    /// Clears the cookie once its form was accepted.
    pub fn spend(&self, state: &AppState, headers: &mut HeaderMap) {
        append(headers, &session::cookie(state, self.name, "", self.path, 0));
    }
}

/// Whether the form's `csrf` field is the cookie's token, compared in constant time; never when
/// the post brought no cookie.
pub fn matches(expected: &str, presented: &str) -> bool {
    !expected.is_empty() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

fn append(headers: &mut HeaderMap, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        headers.append(header::SET_COOKIE, value);
    }
}
