//! The HTTP client webhook deliveries go out through: hyper over rustls with Mozilla's roots, as
//! the identity providers' client (`client.rs`), and guarded against server-side request forgery.
//!
//! An endpoint's URL is checked when it is subscribed and again at every connection: HTTPS only,
//! no credentials in the URL, and no address in a private range (`webhook::private_address`:
//! loopback, link-local, private, unspecified …) unless the operator serves with
//! `--webhooks-allow-private`, which also allows plain HTTP to the loopback interface. The host
//! is resolved once per delivery and the connection goes to an address that passed the check, so
//! a DNS answer that changes between the check and the connection (rebinding) changes nothing.
//! Each delivery is bounded in time and in what is read back; redirects are not followed (a 3xx
//! is a failed delivery).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST, USER_AGENT};
use hyper::Uri;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use trustgate_core::webhook::{private_address, MAX_URL_LEN};

/// A receiver that takes longer has failed this attempt; it is retried later.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// What is read of a receiver's answer: only its status matters.
const MAX_ANSWER: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefused {
    #[error("the URL is not an absolute https:// URL of at most {MAX_URL_LEN} characters")]
    Malformed,
    #[error("the URL must use https (plain http only to this machine's loopback, when the operator allows private addresses)")]
    NotHttps,
    #[error("the URL must not carry credentials; use authHeaders")]
    Credentials,
    #[error(
        "the URL's host {0} is a loopback, link-local, private or unspecified address, which webhooks do not reach"
    )]
    Private(String),
    #[error("the URL's host {0} cannot be resolved")]
    Unresolved(String),
}

/// Where a delivery goes, from a URL that passed [`parse_url`].
#[derive(Debug, Clone)]
pub struct Target {
    https: bool,
    host: String,
    port: u16,
    authority: String,
    path: String,
}

fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Checks the URL's form and, when its host is an IP address, the address.
pub fn parse_url(text: &str, allow_private: bool) -> Result<Target, UrlRefused> {
    if text.len() > MAX_URL_LEN {
        return Err(UrlRefused::Malformed);
    }
    let uri: Uri = text.trim().parse().map_err(|_| UrlRefused::Malformed)?;
    let authority = uri.authority().ok_or(UrlRefused::Malformed)?.clone();
    if authority.as_str().contains('@') {
        return Err(UrlRefused::Credentials);
    }
    let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
    if host.is_empty() {
        return Err(UrlRefused::Malformed);
    }
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") if allow_private && is_loopback_host(&host) => false,
        Some("http") => return Err(UrlRefused::NotHttps),
        _ => return Err(UrlRefused::Malformed),
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        if private_address(ip) && !allow_private {
            return Err(UrlRefused::Private(host));
        }
    }
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    Ok(Target { https, host, port, authority: authority.as_str().to_owned(), path })
}

/// The target's addresses, every one of them allowed; refused if any is not (a name that
/// resolves to both a public and a private address is refused rather than raced).
pub async fn resolve(target: &Target, allow_private: bool) -> Result<Vec<SocketAddr>, UrlRefused> {
    let addresses: Vec<SocketAddr> =
        tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((target.host.as_str(), target.port)))
            .await
            .map_err(|_| UrlRefused::Unresolved(target.host.clone()))?
            .map_err(|_| UrlRefused::Unresolved(target.host.clone()))?
            .collect();
    if addresses.is_empty() {
        return Err(UrlRefused::Unresolved(target.host.clone()));
    }
    if !allow_private && addresses.iter().any(|a| private_address(a.ip())) {
        return Err(UrlRefused::Private(target.host.clone()));
    }
    Ok(addresses)
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Refused(#[from] UrlRefused),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(String),
}

/// Posts webhook deliveries.
#[derive(Clone)]
pub struct WebhookClient {
    tls: tokio_rustls::TlsConnector,
    allow_private: bool,
}

impl WebhookClient {
    pub fn new(allow_private: bool) -> Result<Self, rustls::Error> {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
        Ok(Self { tls: tokio_rustls::TlsConnector::from(Arc::new(config)), allow_private })
    }

    /// Posts `body` to `url` with `headers`; the receiver's status.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<u16, DeliveryError> {
        tokio::time::timeout(TIMEOUT, self.exchange(url, headers, body))
            .await
            .map_err(|_| DeliveryError::Timeout(TIMEOUT))?
    }

    async fn exchange(
        &self,
        url: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<u16, DeliveryError> {
        let target = parse_url(url, self.allow_private)?;
        let addresses = resolve(&target, self.allow_private).await?;
        let mut request = hyper::Request::post(target.path.as_str())
            .header(HOST, target.authority.as_str())
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("Trustgate-Webhooks/", env!("CARGO_PKG_VERSION")))
            .body(Full::new(body))
            .map_err(|e| DeliveryError::Connect(e.to_string()))?;
        for (name, value) in headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        let mut last = String::from("no address");
        for address in addresses {
            let tcp = match TcpStream::connect(address).await {
                Ok(tcp) => tcp,
                Err(error) => {
                    last = error.to_string();
                    continue;
                }
            };
            return if target.https {
                let name = rustls::pki_types::ServerName::try_from(target.host.clone())
                    .map_err(|e| DeliveryError::Connect(e.to_string()))?;
                let tls = self.tls.connect(name, tcp).await.map_err(|e| DeliveryError::Connect(e.to_string()))?;
                round_trip(TokioIo::new(tls), request).await
            } else {
                round_trip(TokioIo::new(tcp), request).await
            };
        }
        Err(DeliveryError::Connect(last))
    }
}

async fn round_trip<I>(io: I, request: hyper::Request<Full<Bytes>>) -> Result<u16, DeliveryError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(io).await.map_err(|e| DeliveryError::Connect(e.to_string()))?;
    let driver = tokio::spawn(connection);
    let result = async {
        let response = sender.send_request(request).await.map_err(|e| DeliveryError::Connect(e.to_string()))?;
        let status = response.status().as_u16();
        // Read (a bounded part of) the answer so the receiver is not cut off mid-write; what it
        // says is not used.
        let _ = Limited::new(response.into_body(), MAX_ANSWER).collect().await;
        Ok(status)
    }
    .await;
    driver.abort();
    result
}
