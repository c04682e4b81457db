//! The HTTP client `openidconnect` calls for discovery, keys and the code exchange: hyper (already
//! the server's) over rustls with Mozilla's roots, one connection per request, bounded in time and
//! size, no redirects followed. Plain HTTP only when the operator allows it (a provider on the
//! loopback interface, as in tests).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderValue, HOST};
use hyper_util::rt::TokioIo;
use openidconnect::{HttpRequest, HttpResponse};
use tokio::net::TcpStream;

/// A provider that takes longer is treated as down: the person is waiting in a browser.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Discovery documents and key sets are a few KiB; this bounds what a hostile issuer can send.
const MAX_BODY: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("the identity provider did not answer within {0:?}")]
    Timeout(Duration),
    #[error("plain-HTTP issuers are refused (serve with --allow-http-issuers for a provider on this machine)")]
    PlainHttp,
    #[error("the identity provider's URL is not usable: {0}")]
    Url(String),
    #[error("cannot reach the identity provider: {0}")]
    Connect(String),
    #[error("the identity provider's answer is larger than {MAX_BODY} bytes or broken: {0}")]
    Body(String),
}

/// Sends requests to identity providers.
#[derive(Clone)]
pub struct Client {
    tls: tokio_rustls::TlsConnector,
    allow_http: bool,
}

impl Client {
    pub fn new(allow_http: bool) -> Result<Self, rustls::Error> {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
        Ok(Self { tls: tokio_rustls::TlsConnector::from(Arc::new(config)), allow_http })
    }

    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        tokio::time::timeout(TIMEOUT, self.exchange(request)).await.map_err(|_| HttpError::Timeout(TIMEOUT))?
    }

    async fn exchange(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (mut parts, body) = request.into_parts();
        let uri = parts.uri.clone();
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") if self.allow_http => false,
            Some("http") => return Err(HttpError::PlainHttp),
            _ => return Err(HttpError::Url(uri.to_string())),
        };
        let authority = uri.authority().ok_or_else(|| HttpError::Url(uri.to_string()))?.clone();
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        parts
            .headers
            .insert(HOST, HeaderValue::from_str(authority.as_str()).map_err(|e| HttpError::Url(e.to_string()))?);
        parts.uri =
            uri.path_and_query().map_or("/", |p| p.as_str()).parse().map_err(|_| HttpError::Url(uri.to_string()))?;
        let request = hyper::Request::from_parts(parts, Full::new(Bytes::from(body)));
        let tcp = TcpStream::connect((host.as_str(), port)).await.map_err(|e| HttpError::Connect(e.to_string()))?;
        if https {
            let name = rustls::pki_types::ServerName::try_from(host).map_err(|e| HttpError::Url(e.to_string()))?;
            let tls = self.tls.connect(name, tcp).await.map_err(|e| HttpError::Connect(e.to_string()))?;
            round_trip(TokioIo::new(tls), request).await
        } else {
            round_trip(TokioIo::new(tcp), request).await
        }
    }
}

async fn round_trip<I>(io: I, request: hyper::Request<Full<Bytes>>) -> Result<HttpResponse, HttpError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.map_err(connect_error)?;
    let driver = tokio::spawn(connection);
    let result = async {
        let response = sender.send_request(request).await.map_err(connect_error)?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_BODY).collect().await.map_err(|e| HttpError::Body(e.to_string()))?;
        Ok(HttpResponse::from_parts(parts, body.to_bytes().to_vec()))
    }
    .await;
    driver.abort();
    result
}

fn connect_error(error: hyper::Error) -> HttpError {
    match std::error::Error::source(&error) {
        Some(cause) => HttpError::Connect(format!("{error}: {cause}")),
        None => HttpError::Connect(error.to_string()),
    }
}
