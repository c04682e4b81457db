//! Errors, typed from the bodies Trustgate (and Citrix Cloud) answer with.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// Everything a call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token endpoint refused to issue a token (wrong credentials, a deleted client, a
    /// throttled source, …).
    #[error("the token endpoint refused: {0}")]
    Token(TokenError),
    /// A platform API refused the call, with the problem body it sent.
    #[error("HTTP {status}: {problem}")]
    Api {
        /// The HTTP status code.
        status: u16,
        /// The body, in the Citrix gateway's problem shape.
        problem: Problem,
        /// `Retry-After`, when the server sent one (429, 503).
        retry_after: Option<Duration>,
    },
    /// The request did not reach the server, or its answer could not be read.
    #[error("HTTP transport: {0}")]
    Transport(#[from] reqwest::Error),
    /// The server answered with a body this client does not understand.
    #[error("unexpected response (HTTP {status}): {detail}")]
    UnexpectedResponse {
        /// The HTTP status code.
        status: u16,
        /// What was wrong with it.
        detail: String,
    },
    /// The client was built with an invalid setting.
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl Error {
    /// The HTTP status of a refusal, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Token(e) => Some(e.status),
            Error::Api { status, .. } | Error::UnexpectedResponse { status, .. } => Some(*status),
            Error::Transport(e) => e.status().map(|s| s.as_u16()),
            Error::Config(_) => None,
        }
    }

    /// The problem body of a refused API call.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Api { problem, .. } => Some(problem),
            _ => None,
        }
    }

    /// 401 from an API even after a fresh token, or credentials the token endpoint refused.
    pub fn is_unauthenticated(&self) -> bool {
        match self {
            Error::Token(e) => e.error == "invalid_client",
            _ => self.status() == Some(401),
        }
    }

    /// 403: the token is valid, but its owner's access does not allow the call (now).
    pub fn is_forbidden(&self) -> bool {
        self.status() == Some(403)
    }
}

/// The Citrix gateway's problem body:
/// `{"type": "https://errors-api.cloud.com/common/authorization", "detail": …, "parameters": […]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Problem {
    /// The problem type URI.
    #[serde(rename = "type", default)]
    pub type_uri: String,
    /// A sentence for a person.
    #[serde(default)]
    pub detail: String,
    /// Named details: `reason` (why access was denied), `name` (the invalid field), `retryAfter`.
    #[serde(default)]
    pub parameters: Vec<ProblemParameter>,
}

/// One named detail of a [`Problem`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ProblemParameter {
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its value.
    #[serde(default)]
    pub value: String,
}

impl Problem {
    /// The last segment of the type URI: `authentication`, `authorization`, `notFound`,
    /// `conflict`, `refused`, `tooManyRequests`, `serviceUnavailable`, or an input error's kind.
    pub fn kind(&self) -> &str {
        self.type_uri.rsplit('/').next().unwrap_or_default()
    }

    /// The value of the parameter `name`.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters.iter().find(|p| p.name == name).map(|p| p.value.as_str())
    }

    /// Why access was denied or a change refused (the `reason` parameter).
    pub fn reason(&self) -> Option<&str> {
        self.parameter("reason")
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind(), self.detail)?;
        if let Some(reason) = self.reason() {
            write!(f, " ({reason})")?;
        }
        Ok(())
    }
}

/// A token endpoint's refusal: RFC 6749 §5.2 (`error`, `error_description`), or the legacy trust
/// service's `{"message", "modelState"}` read into the same fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenError {
    /// The HTTP status code.
    pub status: u16,
    /// `invalid_client`, `invalid_request`, `slow_down`, `temporarily_unavailable`, … (`invalid`
    /// for the legacy endpoint's refusals).
    pub error: String,
    /// The server's explanation.
    pub description: String,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.error)?;
        if !self.description.is_empty() {
            write!(f, " ({})", self.description)?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct OAuthBody {
    error: String,
    #[serde(default)]
    error_description: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyBody {
    message: String,
    #[serde(default)]
    model_state: serde_json::Value,
}

impl TokenError {
    pub(crate) fn from_body(status: u16, body: &[u8]) -> Self {
        if let Ok(oauth) = serde_json::from_slice::<OAuthBody>(body) {
            return Self { status, error: oauth.error, description: oauth.error_description };
        }
        if let Ok(legacy) = serde_json::from_slice::<LegacyBody>(body) {
            let detail = legacy.model_state["credentials"][0].as_str().map(str::to_owned);
            return Self { status, error: "invalid".to_owned(), description: detail.unwrap_or(legacy.message) };
        }
        Self { status, error: "unexpected_response".to_owned(), description: String::from_utf8_lossy(body).into() }
    }
}

pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The error for a refused API call: the problem body if it is one, else what came.
pub(crate) fn api_error(status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Error {
    match serde_json::from_slice::<Problem>(body) {
        Ok(problem) if !problem.type_uri.is_empty() => {
            Error::Api { status, problem, retry_after: retry_after(headers) }
        }
        _ => Error::UnexpectedResponse { status, detail: String::from_utf8_lossy(body).chars().take(500).collect() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_body_is_read_with_its_kind_and_reason() {
        let body = br#"{"type":"https://errors-api.cloud.com/common/authorization","detail":"Access denied","parameters":[{"name":"reason","value":"missing permission notifications"}]}"#;
        let error = api_error(403, &reqwest::header::HeaderMap::new(), body);
        let problem = error.problem().cloned().unwrap_or_default();
        assert_eq!(problem.kind(), "authorization");
        assert_eq!(problem.reason(), Some("missing permission notifications"));
        assert!(error.is_forbidden());
    }

    #[test]
    fn oauth_and_legacy_refusals_read_alike() {
        let oauth = TokenError::from_body(401, br#"{"error":"invalid_client","error_description":"no"}"#);
        assert_eq!((oauth.error.as_str(), oauth.description.as_str()), ("invalid_client", "no"));
        let legacy = TokenError::from_body(400, br#"{"message":"m","modelState":{"credentials":["bad"]}}"#);
        assert_eq!((legacy.error.as_str(), legacy.description.as_str()), ("invalid", "bad"));
    }
}
