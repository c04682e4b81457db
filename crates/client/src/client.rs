//! The client: its configuration, the token it holds, and the authorized call every API goes through.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Mutex;

use crate::error::{api_error, Error};
use crate::token::{AuthScheme, CachedToken, TokenEndpoint, TokenRequest};

/// How long before its expiry a token is replaced, by default: a call never leaves with a token
/// that could expire on its way, and a slow token endpoint has time to answer.
pub const DEFAULT_RENEW_BEFORE: Duration = Duration::from_secs(300);

/// A client of a Trustgate-protected platform, acting as one API client (a secure client or a
/// service principal) of one customer.
///
/// Cheap to clone: clones share the HTTP connection pool and the token. The token is requested
/// on the first call, kept until [`ClientBuilder::renew_before`] its expiry, and requested again
/// once when an API answers 401 (the token was revoked, or the signing key retired).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    trustgate_url: String,
    api_url: String,
    path_customer: String,
    customer: String,
    client_id: String,
    client_secret: SecretString,
    endpoint: TokenEndpoint,
    scheme: AuthScheme,
    renew_before: Duration,
    // One token request at a time: concurrent calls that find the token stale wait for the one
    // renewal rather than each asking for a token.
    token: Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("trustgate_url", &self.inner.trustgate_url)
            .field("api_url", &self.inner.api_url)
            .field("customer", &self.inner.customer)
            .field("client_id", &self.inner.client_id)
            .field("client_secret", &self.inner.client_secret)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`]; see [`Client::builder`].
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    trustgate_url: String,
    api_url: Option<String>,
    customer: Option<String>,
    path_customer: Option<String>,
    credentials: Option<(String, SecretString)>,
    endpoint: TokenEndpoint,
    scheme: AuthScheme,
    renew_before: Duration,
    http: Option<reqwest::Client>,
    timeout: Duration,
}

impl Client {
    /// Starts a client of the Trustgate deployment at `trustgate_url` (its public URL, e.g.
    /// `https://trustgate.example.com`), which issues the tokens. API calls go to the same URL
    /// unless [`ClientBuilder::api_url`] names the platform's.
    pub fn builder(trustgate_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            trustgate_url: trustgate_url.into(),
            api_url: None,
            customer: None,
            path_customer: None,
            credentials: None,
            endpoint: TokenEndpoint::default(),
            scheme: AuthScheme::default(),
            renew_before: DEFAULT_RENEW_BEFORE,
            http: None,
            timeout: Duration::from_secs(30),
        }
    }

    /// The customer every call is for (`Citrix-CustomerId`).
    pub fn customer(&self) -> &str {
        &self.inner.customer
    }

    /// The current token, requested first if none is held or it is due for renewal.
    pub async fn access_token(&self) -> Result<SecretString, Error> {
        let mut held = self.inner.token.lock().await;
        if let Some(cached) = held.as_ref().filter(|c| Instant::now() < c.renew_at) {
            return Ok(cached.token.clone());
        }
        let fresh = self.token_request().fetch().await?;
        let token = fresh.token.clone();
        *held = Some(fresh);
        Ok(token)
    }

    /// Forgets the held token, so the next call requests another.
    pub async fn forget_token(&self) {
        *self.inner.token.lock().await = None;
    }

    /// Revokes the held token at Trustgate (RFC 7009 `POST /oauth2/revoke`) and forgets it: for
    /// a script that is done, so the token is useless to anyone who finds it later.
    pub async fn revoke_token(&self) -> Result<(), Error> {
        let Some(cached) = self.inner.token.lock().await.take() else { return Ok(()) };
        let form = [
            ("token", cached.token.expose_secret()),
            ("token_type_hint", "access_token"),
            ("client_id", self.inner.client_id.as_str()),
            ("client_secret", self.inner.client_secret.expose_secret()),
        ];
        let response =
            self.inner.http.post(format!("{}/oauth2/revoke", self.inner.trustgate_url)).form(&form).send().await?;
        let status = response.status().as_u16();
        if status == 200 {
            return Ok(());
        }
        let body = response.bytes().await?;
        Err(Error::Token(crate::error::TokenError::from_body(status, &body)))
    }

    fn token_request(&self) -> TokenRequest<'_> {
        let inner = &self.inner;
        TokenRequest {
            http: &inner.http,
            trustgate_url: &inner.trustgate_url,
            path_customer: &inner.path_customer,
            endpoint: inner.endpoint,
            client_id: &inner.client_id,
            client_secret: &inner.client_secret,
            renew_before: inner.renew_before,
        }
    }

    /// `GET path` on the platform (e.g. `/orders`), its JSON answer read as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.call(Method::GET, path, &[], None::<&()>).await
    }

    /// Any call on the platform, with `query` pairs and an optional JSON body; the JSON answer
    /// is read as `T` (use `serde_json::Value` for anything). The token goes with it in the
    /// configured scheme, the customer as `Citrix-CustomerId`; on 401 the token is renewed and
    /// the call sent once more.
    pub async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&B>,
    ) -> Result<T, Error> {
        let bytes = self.call_bytes(method, path, query, body).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::UnexpectedResponse { status: 200, detail: format!("the body does not parse: {e}") })
    }

    async fn call_bytes<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&B>,
    ) -> Result<bytes::Bytes, Error> {
        let mut renewed = false;
        loop {
            let token = self.access_token().await?;
            let mut request = self
                .inner
                .http
                .request(method.clone(), format!("{}{path}", self.inner.api_url))
                .header(AUTHORIZATION, self.inner.scheme.header(token.expose_secret()))
                .header("Citrix-CustomerId", &self.inner.customer)
                .header(ACCEPT, HeaderValue::from_static("application/json"));
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = response.bytes().await?;
            if (200..300).contains(&status) {
                return Ok(bytes);
            }
            if status == 401 && !renewed {
                renewed = true;
                self.forget_held(&token).await;
                continue;
            }
            return Err(api_error(status, &headers, &bytes));
        }
    }

    /// Forgets `token` unless another call has already replaced it.
    async fn forget_held(&self, token: &SecretString) {
        let mut held = self.inner.token.lock().await;
        if held.as_ref().is_some_and(|c| c.token.expose_secret() == token.expose_secret()) {
            *held = None;
        }
    }
}

impl ClientBuilder {
    /// The API client's ID and secret, as Trustgate showed them once at creation.
    pub fn credentials(mut self, client_id: impl Into<String>, client_secret: impl Into<SecretString>) -> Self {
        self.credentials = Some((client_id.into(), client_secret.into()));
        self
    }

    /// The customer the client belongs to, sent as `Citrix-CustomerId` on every call. Required.
    pub fn customer(mut self, customer: impl Into<String>) -> Self {
        self.customer = Some(customer.into());
        self
    }

    /// Where the platform's APIs are, when not at the Trustgate URL.
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = Some(url.into());
        self
    }

    /// The token endpoint and request shape; [`TokenEndpoint::OAuthForm`] by default.
    pub fn token_endpoint(mut self, endpoint: TokenEndpoint) -> Self {
        self.endpoint = endpoint;
        self
    }

    /// The customer in the token endpoint's path: `root` (which takes any client) by default,
    /// or the customer's id as Citrix's documentation writes it.
    pub fn token_path_customer(mut self, customer: impl Into<String>) -> Self {
        self.path_customer = Some(customer.into());
        self
    }

    /// How the token travels; [`AuthScheme::CwsAuth`] by default.
    pub fn auth_scheme(mut self, scheme: AuthScheme) -> Self {
        self.scheme = scheme;
        self
    }

    /// How long before its expiry a token is replaced; [`DEFAULT_RENEW_BEFORE`] by default.
    /// A value of an hour or more requests a token for every call.
    pub fn renew_before(mut self, margin: Duration) -> Self {
        self.renew_before = margin;
        self
    }

    /// The whole-request timeout of the default HTTP client (30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// An HTTP client of your own (proxies, roots, timeouts, a TLS provider); it replaces the
    /// default one and [`Self::timeout`].
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The client; it asks for no token until the first call.
    pub fn build(self) -> Result<Client, Error> {
        let (client_id, client_secret) = self
            .credentials
            .ok_or_else(|| Error::Config("credentials(client_id, client_secret) is required".into()))?;
        let customer = self.customer.ok_or_else(|| Error::Config("customer(…) is required".into()))?;
        let trustgate_url = base_url("the Trustgate URL", &self.trustgate_url)?;
        let api_url = match self.api_url {
            Some(url) => base_url("the API URL", &url)?,
            None => trustgate_url.clone(),
        };
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .timeout(self.timeout)
                .user_agent(concat!("trustgate-client/", env!("CARGO_PKG_VERSION")))
                .build()?,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                trustgate_url,
                api_url,
                path_customer: self.path_customer.unwrap_or_else(|| "root".to_owned()),
                customer,
                client_id,
                client_secret,
                endpoint: self.endpoint,
                scheme: self.scheme,
                renew_before: self.renew_before,
                token: Mutex::new(None),
            }),
        })
    }
}

/// `url` without its trailing slash, if it is an HTTP(S) URL.
fn base_url(what: &str, url: &str) -> Result<String, Error> {
    let url = url.trim().trim_end_matches('/');
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(Error::Config(format!("{what} must start with https:// (or http://), not {url:?}")));
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_never_printed() {
        let client = Client::builder("https://tg.example.com/")
            .credentials("id", "s3cr3t-value".to_owned())
            .customer("acme")
            .build()
            .map_err(|e| e.to_string());
        let printed = format!("{client:?}");
        assert!(printed.contains("https://tg.example.com\"") && !printed.contains("s3cr3t"), "{printed}");
    }

    #[test]
    fn credentials_customer_and_an_http_url_are_required() {
        let missing = Client::builder("https://tg.example.com").customer("acme").build();
        assert!(matches!(missing, Err(Error::Config(_))));
        let no_customer = Client::builder("https://tg.example.com").credentials("id", "s".to_owned()).build();
        assert!(matches!(no_customer, Err(Error::Config(_))));
        let bad = Client::builder("tg.example.com").credentials("id", "s".to_owned()).customer("acme").build();
        assert!(matches!(bad, Err(Error::Config(_))));
    }
}
