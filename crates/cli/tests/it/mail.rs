//! Invitation e-mails delivered to a real SMTP server: Python's `aiosmtpd` (pinned, installed by
//! `.ci/aiosmtpd`), started here on a free port, writing what it receives into a Maildir that the
//! test reads; the test then follows the link in the message.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use trustgate_core::access::Access;
use trustgate_core::ids::CustomerId;
use trustgate_server::mail::{SmtpSecurity, SmtpSettings};
use trustgate_server::ServerConfig;

use crate::harness::{accept_invitation, skip, Backend, TempDir, TestApp};

struct SmtpSink {
    child: Child,
    port: u16,
    maildir: TempDir,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpSink {
    async fn start() -> Option<Self> {
        let Some(python) = std::env::var_os("TRUSTGATE_TEST_AIOSMTPD_PYTHON").map(PathBuf::from) else {
            skip("the SMTP sink: TRUSTGATE_TEST_AIOSMTPD_PYTHON not set (export TRUSTGATE_TEST_AIOSMTPD_PYTHON=$(.ci/aiosmtpd))");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let maildir = TempDir::new();
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            // A folder that does not exist yet: aiosmtpd's Maildir creates it with its subfolders.
            .arg(maildir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let sink = Self { child, port, maildir };
        let deadline = Instant::now() + Duration::from_secs(15);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start listening");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(sink)
    }

    /// The messages delivered so far, as raw text.
    fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.path().join("mail/new")) else { return Vec::new() };
        entries.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()).collect()
    }
}

/// Undoes quoted-printable (RFC 2045 §6.7): soft line breaks and `=XX` escapes.
fn unquote(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A SQLite node that sends its e-mail, without TLS, through the SMTP server on `port`.
async fn node_mailing_through(port: u16) -> TestApp {
    let smtp = SmtpSettings {
        host: "127.0.0.1".to_owned(),
        port,
        from: "Trustgate <trustgate@example.com>".parse().expect("a mailbox"),
        security: SmtpSecurity::None,
        credentials: None,
    };
    let config = ServerConfig { smtp: Some(smtp), ..ServerConfig::default() };
    TestApp::spawn_with(Backend::Sqlite, config).await.expect("a SQLite node")
}

/// Invites `email` as a local Full administrator through the Administrators API; the answer.
async fn invite(app: &TestApp, token: &str, customer: &CustomerId, email: &str) -> Value {
    let body = json!({ "accessType": "Full", "providerType": "CitrixSts", "type": "AdministratorUser",
                       "email": email });
    let (status, created) = app.call(Method::POST, "/administrators/$create", token, customer, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    created
}

#[tokio::test]
async fn an_invitation_is_emailed_and_its_link_lets_the_invitee_in() {
    let Some(sink) = SmtpSink::start().await else { return };
    let app = node_mailing_through(sink.port).await;
    let customer = app.customer().await;
    let admin = app.admin(&customer, Access::Full).await;
    let token = app.token(&app.client(&customer, &admin).await).await;
    let created = invite(&app, &token, &customer, "mailed@example.com").await;

    let deadline = Instant::now() + Duration::from_secs(10);
    let message = loop {
        if let Some(message) = sink.messages().pop() {
            break unquote(&message);
        }
        assert!(Instant::now() < deadline, "no message reached the SMTP server");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(message.contains("To: mailed@example.com"), "{message}");
    assert!(message.contains("Subject: Invitation to administer Acme"), "{message}");
    let start = message.find(&format!("{}/console/invitation?token=", app.url)).expect("the link in the message");
    let link = message[start..].split_whitespace().next().expect("the link");
    assert!(created.get("invitationUrl").is_none(), "the link reaches the mailbox only, never the inviter: {created}");

    let accepted = accept_invitation(&app, link, Some("a password from the e-mail")).await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    assert_eq!(accepted.headers()["location"], format!("/console/c/{customer}").as_str());
}

/// Issue #20: a mail server that does not take the message never makes the inviter the holder of
/// the link instead: the API's answer carries none, and the console says the e-mail was not sent.
#[tokio::test]
async fn a_mail_server_that_fails_never_hands_the_inviter_the_link() {
    // Nothing listens on port 1: every delivery fails at once.
    let app = node_mailing_through(1).await;
    let customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    let token = app.token(&app.client(&customer, &admin).await).await;
    let created = invite(&app, &token, &customer, "unmailed@example.com").await;
    assert_eq!(created["pending"], true);
    assert!(created.get("invitationUrl").is_none(), "{created}");

    let session = app.sign_in(&admin).await;
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let form = [
        ("csrf", session.csrf.as_str()),
        ("email", "unmailed.too@example.com"),
        ("access", "Custom"),
        ("permission", "notifications"),
    ];
    let added = no_redirects
        .post(app.url(&format!("/console/c/{customer}/administrators")))
        .header("cookie", &session.cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let dialog = added.headers()["location"].to_str().unwrap().to_owned();
    let page = app.console_get(&session, &dialog).await.text().await.unwrap();
    assert!(page.contains("could not be sent") && !page.contains("token=tgi_"), "{page}");
}
