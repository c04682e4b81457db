//! `serve --tls-cert --tls-key`: HTTPS from the server's own accept loop, with a certificate
//! made for the test, and the handshake bound by the header timeout and the connection cap.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::RootCertStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::harness::TempDir;
use crate::serving::{trustgate, Serving};

/// A self-signed certificate for localhost and 127.0.0.1, written as PEM files in `dir`.
fn certificate(dir: &Path) -> CertificateDer<'static> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let rcgen::CertifiedKey { cert, signing_key } = rcgen::generate_simple_self_signed(names).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), signing_key.serialize_pem()).unwrap();
    cert.der().clone()
}

fn connector(trusted: Option<CertificateDer<'static>>) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    if let Some(certificate) = trusted {
        roots.add(certificate).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// One HTTP/1.1 request over TLS; the whole response, or the error of the handshake.
async fn https(connector: &TlsConnector, addr: &str, request: &str) -> std::io::Result<String> {
    let tcp = TcpStream::connect(addr).await?;
    let mut tls = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await?;
    tls.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    tls.read_to_string(&mut response).await?;
    Ok(response)
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
}

fn serve_tls(dir: &TempDir, extra: &[&str]) -> Serving {
    let data = dir.path().join("data");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let args = [&["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()], extra].concat();
    Serving::start(&data, &args)
}

#[tokio::test]
async fn serve_with_a_certificate_speaks_https_to_clients_that_trust_it() {
    let dir = TempDir::new();
    let certificate = certificate(dir.path());
    let server = serve_tls(&dir, &[]);
    assert!(server.url.starts_with("https://127.0.0.1:"), "the server says it serves HTTPS: {}", server.url);
    let trusting = connector(Some(certificate));

    let health = https(&trusting, server.addr(), &get("/healthz")).await.unwrap();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with(r#"{"status":"ok"}"#), "{health}");
    let discovery = https(&trusting, server.addr(), &get("/.well-known/openid-configuration")).await.unwrap();
    assert!(discovery.contains(&format!(r#""issuer":"{}""#, server.url)), "tokens name the https URL: {discovery}");

    // Session cookies are Secure without --secure-cookies: the server knows it serves HTTPS. The
    // first customer requires a second factor (issue #25), which would answer this sign-in 403.
    let customer = server
        .banner
        .iter()
        .find_map(|l| l.strip_prefix("First start: created customer "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the first customer");
    let optional = ["customer", "set-mfa-policy", "--customer", customer, "--require-local-mfa", "false"];
    let set = trustgate(&dir.path().join("data"), &optional);
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    let line = server.banner.iter().find(|l| l.contains("and password")).expect("the first-start password");
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = |w: &str| words[words.iter().position(|x| *x == w).unwrap() + 1];
    let body = format!(r#"{{"email":"{}","password":"{}"}}"#, at("e-mail"), at("password"));
    let sign_in = format!(
        "POST /api/v1/session HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let signed_in = https(&trusting, server.addr(), &sign_in).await.unwrap();
    assert!(signed_in.starts_with("HTTP/1.1 200"), "{signed_in}");
    let cookie = signed_in.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie:")).unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");

    let refused = https(&connector(None), server.addr(), &get("/healthz")).await;
    assert!(refused.is_err(), "a client that does not trust the certificate gets no answer: {refused:?}");
    let mut plain = TcpStream::connect(server.addr()).await.unwrap();
    plain.write_all(get("/healthz").as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer).await;
    assert!(!String::from_utf8_lossy(&answer).contains("200"), "plain HTTP is not served on the TLS port");
}

#[tokio::test]
async fn an_unfinished_handshake_gives_its_slot_up_to_a_real_client_and_is_closed() {
    let dir = TempDir::new();
    let certificate = certificate(dir.path());
    let server = serve_tls(&dir, &["--header-timeout", "1s", "--max-connections", "1"]);
    let trusting = connector(Some(certificate));
    assert!(https(&trusting, server.addr(), &get("/healthz")).await.unwrap().starts_with("HTTP/1.1 200"));

    // The only slot goes to a stranger that starts a handshake and never finishes it.
    let started = Instant::now();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut stalled = socket.connect(server.addr().parse().unwrap()).await.unwrap();
    stalled.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // A real client waits for that slot, and gets it once the stalled connection, waiting longest
    // for a request, is closed to make room (issue #21) — before its header timeout.
    let answered = tokio::time::timeout(Duration::from_secs(5), https(&trusting, server.addr(), &get("/healthz")))
        .await
        .expect("the stalled handshake gave its slot up")
        .unwrap();
    let waited = started.elapsed();
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    assert!(waited < Duration::from_secs(1), "the stalled handshake made room ({waited:?})");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(1), stalled.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the stalled connection was closed by the server");
}

#[test]
fn serve_refuses_tls_settings_it_cannot_use() {
    let dir = TempDir::new();
    let data = dir.path().join("data");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let output = trustgate(&data, &["serve", "--listen", "127.0.0.1:0", "--tls-cert", cert]);
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && message.contains("--tls-key"), "a certificate needs its key: {message}");

    std::fs::write(dir.path().join("cert.pem"), "not a certificate").unwrap();
    std::fs::write(dir.path().join("key.pem"), "not a key").unwrap();
    let output = trustgate(&data, &["serve", "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key]);
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && message.contains("holds no certificate"), "{message}");
}
