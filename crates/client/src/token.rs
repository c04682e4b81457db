//! Client credentials for a token, and the token kept until shortly before it expires.

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::error::{Error, TokenError};

/// Which token endpoint, and which of its request shapes, the client uses. Every one issues the
/// same one-hour token; they differ only in what a script written for Citrix Cloud sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenEndpoint {
    /// `POST /cctrustoauth2/{customer}/tokens/clients` with the RFC 6749 form
    /// (`grant_type=client_credentials&client_id=…&client_secret=…`). What standard OAuth
    /// libraries send; the default.
    #[default]
    OAuthForm,
    /// The same path with Citrix's JSON body `{"clientId", "clientSecret"}`, as Citrix's
    /// published PowerShell modules send it.
    CitrixJson,
    /// The legacy trust service, `POST /{customer}/tokens/clients` with JSON
    /// `{"clientId", "clientSecret"}`, answering `token` and a numeric `expiresIn`.
    Legacy,
}

/// How the token travels on each API call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthScheme {
    /// `Authorization: CwsAuth Bearer=<token>`, as Citrix Cloud's APIs document it; the default.
    #[default]
    CwsAuth,
    /// `Authorization: Bearer <token>` (RFC 6750).
    Bearer,
}

impl AuthScheme {
    pub(crate) fn header(self, token: &str) -> String {
        match self {
            AuthScheme::CwsAuth => format!("CwsAuth Bearer={token}"),
            AuthScheme::Bearer => format!("Bearer {token}"),
        }
    }
}

/// A token and when this client stops using it.
pub(crate) struct CachedToken {
    pub(crate) token: SecretString,
    pub(crate) renew_at: Instant,
}

/// Either endpoint's answer: the OAuth one says `access_token` and `expires_in` as a string
/// ("3600"); the legacy one `token` and `expiresIn` as a number.
#[derive(Deserialize)]
struct TokenBody {
    access_token: Option<SecretString>,
    token: Option<SecretString>,
    expires_in: Option<serde_json::Value>,
    #[serde(rename = "expiresIn")]
    expires_in_legacy: Option<serde_json::Value>,
}

/// What a token request needs, cloned out of the client's configuration.
pub(crate) struct TokenRequest<'a> {
    pub(crate) http: &'a reqwest::Client,
    pub(crate) trustgate_url: &'a str,
    pub(crate) path_customer: &'a str,
    pub(crate) endpoint: TokenEndpoint,
    pub(crate) client_id: &'a str,
    pub(crate) client_secret: &'a SecretString,
    pub(crate) renew_before: Duration,
}

impl TokenRequest<'_> {
    pub(crate) async fn fetch(&self) -> Result<CachedToken, Error> {
        let requested = Instant::now();
        let secret = self.client_secret.expose_secret();
        let request = match self.endpoint {
            TokenEndpoint::OAuthForm => self
                .http
                .post(format!("{}/cctrustoauth2/{}/tokens/clients", self.trustgate_url, self.path_customer))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", self.client_id),
                    ("client_secret", secret),
                ]),
            TokenEndpoint::CitrixJson => self
                .http
                .post(format!("{}/cctrustoauth2/{}/tokens/clients", self.trustgate_url, self.path_customer))
                .json(&serde_json::json!({ "clientId": self.client_id, "clientSecret": secret })),
            TokenEndpoint::Legacy => self
                .http
                .post(format!("{}/{}/tokens/clients", self.trustgate_url, self.path_customer))
                .json(&serde_json::json!({ "clientId": self.client_id, "clientSecret": secret })),
        };
        let response = request.header(reqwest::header::ACCEPT, "application/json").send().await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?;
        if status != 200 {
            return Err(Error::Token(TokenError::from_body(status, &body)));
        }
        let unexpected = |detail: &str| Error::UnexpectedResponse { status, detail: detail.to_owned() };
        let parsed: TokenBody = serde_json::from_slice(&body).map_err(|_| unexpected("not a token response"))?;
        let token = parsed.access_token.or(parsed.token).ok_or_else(|| unexpected("no token in the response"))?;
        let lifetime = parsed
            .expires_in
            .or(parsed.expires_in_legacy)
            .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())))
            .ok_or_else(|| unexpected("no expiry in the token response"))?;
        // Counted from when the request left, so the server's own delay never makes the client
        // keep a token past its expiry.
        let renew_at = requested + Duration::from_secs(lifetime).saturating_sub(self.renew_before);
        Ok(CachedToken { token, renew_at })
    }
}
