//! Webhooks (docs/webhooks.md): every system-log record of the customer reaches a subscribed
//! receiver, in order, signed so that the Standard Webhooks reference library (PyPI
//! `standardwebhooks`, pinned by `.ci/standardwebhooks`) verifies it; a receiver that fails is
//! retried on the test clock and then gets everything in order; one failing past the window is
//! disabled; URLs that reach private ranges are refused; only a Full administrator manages them.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use time::OffsetDateTime;
use trustgate_core::access::{Access, Permission};
use trustgate_core::event::Actor;
use trustgate_core::ids::{CustomerId, WebhookId};
use trustgate_core::webhook::{self, Endpoint, EndpointState, Style, WebhookVault};
use trustgate_server::ServerConfig;

use crate::harness::{custom, skip, wait_until, Session, TestAdmin, TestApp};
use crate::webhook_receiver::{Delivery, Receiver};

pub fn config() -> ServerConfig {
    ServerConfig {
        webhooks_allow_private: true,
        webhook_poll_interval: Duration::from_millis(50),
        ..ServerConfig::default()
    }
}

pub fn path(customer: &CustomerId) -> String {
    format!("/api/v1/customers/{customer}/webhooks")
}

/// Subscribes `url` for every event, as `admin`; the endpoint as created, secret included.
pub async fn subscribe(app: &TestApp, session: &Session, customer: &CustomerId, url: &str) -> Value {
    let (status, created) =
        app.as_admin(session, Method::POST, &path(customer), Some(json!({ "url": url, "description": "test" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

/// The `seq`s of the customer's records from the one with `first` on.
async fn seqs_from(app: &TestApp, customer: &CustomerId, first: i64) -> Vec<i64> {
    app.log(customer).await.iter().map(|r| r.seq).filter(|s| *s >= first).collect()
}

/// A handful of changes, each writing system-log records.
async fn changes(app: &TestApp, customer: &CustomerId, owner: &TestAdmin) {
    for _ in 0..3 {
        app.client(customer, owner).await;
    }
    let colleague = app.admin(customer, custom(&[Permission::NOTIFICATIONS])).await;
    app.store.remove_member(customer, colleague.id, &Actor::System).await.expect("remove the colleague");
}

/// The standardwebhooks venv's python, as `.ci/standardwebhooks` prints it; `None` after [`skip`].
fn standardwebhooks_python() -> Option<std::path::PathBuf> {
    let python = std::env::var_os("TRUSTGATE_TEST_STANDARDWEBHOOKS_PYTHON").map(std::path::PathBuf::from);
    match &python {
        None => skip(
            "TRUSTGATE_TEST_STANDARDWEBHOOKS_PYTHON not set (export TRUSTGATE_TEST_STANDARDWEBHOOKS_PYTHON=$(.ci/standardwebhooks))",
        ),
        Some(p) if !p.exists() => skip(format!("{} does not exist (run .ci/standardwebhooks)", p.display())),
        Some(_) => return python,
    }
    None
}

/// Verifies every delivery with the `standardwebhooks` library; the number verified.
pub async fn verified_by_standardwebhooks(secret: &str, deliveries: &[Delivery]) -> Option<usize> {
    let python = standardwebhooks_python()?;
    let list: Vec<Value> = deliveries
        .iter()
        .map(|d| json!({ "id": d.id, "timestamp": d.timestamp, "signature": d.signature, "body": d.body }))
        .collect();
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
given = json.load(sys.stdin)
hook = Webhook(given["secret"])
for d in given["deliveries"]:
    hook.verify(d["body"], {"webhook-id": d["id"], "webhook-timestamp": d["timestamp"], "webhook-signature": d["signature"]})
print(len(given["deliveries"]))
"#;
    let input = json!({ "secret": secret, "deliveries": list }).to_string();
    let output = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new(python)
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run python");
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "standardwebhooks refused a delivery: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8_lossy(&output.stdout).trim().parse().unwrap())
}

#[tokio::test]
async fn a_receiver_gets_every_record_in_order_signed_per_standard_webhooks() {
    let Some(app) = super::app_with(config()).await else { return };
    let receiver = Receiver::start().await;
    let (customer, admin, session) = app.customer_with_session(Access::Full).await;
    let created = subscribe(&app, &session, &customer, &receiver.url).await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let first = app.log_of(&customer, "platform:webhook/create").await[0].seq;
    changes(&app, &customer, &admin).await;

    let expected = seqs_from(&app, &customer, first).await;
    assert!(expected.len() >= 6, "{expected:?}");
    wait_until("every record delivered", || receiver.seqs().len() >= expected.len()).await;
    assert_eq!(receiver.seqs(), expected, "each record once, in the log's order");
    let deliveries = receiver.deliveries();
    let body = deliveries[0].json();
    assert_eq!(body["type"], "platform:webhook/create", "the first record is the subscription's own");
    assert_eq!(body["data"]["customerId"], customer.as_str());
    assert!(deliveries.iter().all(|d| d.id.starts_with("msg_") && d.signature.starts_with("v1,")));
    if let Some(verified) = verified_by_standardwebhooks(&secret, &deliveries).await {
        assert_eq!(verified, deliveries.len());
    }

    // A rotation: both signatures for a day, each verified by the library with its own secret.
    let id = created["id"].as_str().unwrap();
    let (status, rotated) =
        app.as_admin(&session, Method::POST, &format!("{}/{id}/rotate-secret", path(&customer)), None).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    wait_until("the rotation's record delivered", || {
        receiver.deliveries().last().is_some_and(|d| d.json()["type"] == "platform:webhook/rotatesecret")
    })
    .await;
    let last = receiver.deliveries().last().cloned().unwrap();
    assert_eq!(last.signature.split(' ').count(), 2, "{}", last.signature);
    for secret in [&secret, &new_secret] {
        if let Some(verified) = verified_by_standardwebhooks(secret, std::slice::from_ref(&last)).await {
            assert_eq!(verified, 1);
        }
    }
    assert!(!app.log(&customer).await.iter().any(|r| r.to_string_lossy().contains("whsec_")), "no secret in the log");
}

trait Lossy {
    fn to_string_lossy(&self) -> String;
}

impl Lossy for trustgate_store::LogRecord {
    fn to_string_lossy(&self) -> String {
        format!("{} {:?} {:?}", self.message, self.before, self.after)
    }
}

/// Attempts of the endpoint, newest first.
async fn attempts(app: &TestApp, session: &Session, customer: &CustomerId, id: &str) -> Vec<Value> {
    let (status, list) =
        app.as_admin(session, Method::GET, &format!("{}/{id}/attempts?limit=200", path(customer)), None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_receiver_failing_for_ten_minutes_gets_everything_afterwards_in_order() {
    let Some(app) = super::app_with(config()).await else { return };
    let receiver = Receiver::start().await;
    receiver.answer(500);
    let (customer, admin, session) = app.customer_with_session(Access::Full).await;
    let created = subscribe(&app, &session, &customer, &receiver.url).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let first = app.log_of(&customer, "platform:webhook/create").await[0].seq;
    changes(&app, &customer, &admin).await;

    // Ten minutes of the test clock, ten seconds at a time: every retry that falls due fails,
    // each after a longer wait (5 s, 10 s, 20 s …, with jitter).
    wait_until("a first failed attempt", || !receiver.deliveries().is_empty()).await;
    for _ in 0..60 {
        app.clock().advance(Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    wait_until("the retries due", || receiver.deliveries().len() >= 6).await;
    let failed = receiver.deliveries();
    assert!(failed.len() <= 12, "backed off: {} tries in ten minutes", failed.len());
    assert!(failed.iter().all(|d| d.id == failed[0].id), "the same record, with the same webhook-id, on every retry");
    let tries = attempts(&app, &session, &customer, &id).await;
    assert!(tries.iter().all(|a| a["status"] == 500 && a["webhookId"] == failed[0].id.as_str()));
    let (_, endpoint) = app.as_admin(&session, Method::GET, &format!("{}/{id}", path(&customer)), None).await;
    assert_eq!(endpoint["state"], "enabled");
    assert_eq!(endpoint["failures"].as_u64().unwrap(), u64::try_from(failed.len()).unwrap(), "{endpoint}");

    receiver.answer(200);
    app.clock().advance(Duration::from_secs(3600));
    let expected = seqs_from(&app, &customer, first).await;
    let delivered = |r: &Receiver| r.seqs().split_off(failed.len());
    wait_until("everything delivered", || delivered(&receiver).len() >= expected.len()).await;
    assert_eq!(delivered(&receiver), expected, "everything, once, in order, after the outage");
    assert_eq!(receiver.deliveries()[failed.len()].id, failed[0].id, "the retried record keeps its webhook-id");
    let (_, endpoint) = app.as_admin(&session, Method::GET, &format!("{}/{id}", path(&customer)), None).await;
    assert_eq!(endpoint["failures"], 0, "{endpoint}");
    assert!(endpoint["failingSince"].is_null());
}

#[tokio::test]
async fn an_endpoint_failing_past_the_window_is_disabled_and_a_replay_sends_again() {
    let Some(app) = super::app_with(config()).await else { return };
    let receiver = Receiver::start().await;
    receiver.answer(503);
    let (customer, _admin, session) = app.customer_with_session(Access::Full).await;
    let created = subscribe(&app, &session, &customer, &receiver.url).await;
    let id = created["id"].as_str().unwrap().to_owned();
    wait_until("a first failed attempt", || !receiver.deliveries().is_empty()).await;

    // Failing still after the retry window: the next retry that fails disables the endpoint.
    let before = receiver.deliveries().len();
    app.clock().advance(Duration::from_secs(24 * 3600));
    wait_until("a retry a day later", || receiver.deliveries().len() > before).await;
    let (_, endpoint) = app.as_admin(&session, Method::GET, &format!("{}/{id}", path(&customer)), None).await;
    assert_eq!(endpoint["state"], "enabled", "within the window: {endpoint}");
    let before = receiver.deliveries().len();
    app.clock().advance(Duration::from_secs(2 * 24 * 3600));
    wait_until("a retry past the window", || receiver.deliveries().len() > before).await;
    let mut endpoint = Value::Null;
    for _ in 0..100 {
        endpoint = app.as_admin(&session, Method::GET, &format!("{}/{id}", path(&customer)), None).await.1;
        if endpoint["state"] == "disabled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(endpoint["state"], "disabled", "{endpoint}");
    let disabled = app.log_of(&customer, "platform:webhook/disable").await;
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0].actor_type, "System");
    let tries = receiver.deliveries().len();
    app.clock().advance(Duration::from_secs(3600));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.deliveries().len(), tries, "nothing is sent to a disabled endpoint");

    // A replay from the subscription's record enables it and sends everything from there.
    receiver.answer(200);
    let first = app.log_of(&customer, "platform:webhook/create").await[0].seq;
    let (status, replayed) = app
        .as_admin(
            &session,
            Method::POST,
            &format!("{}/{id}/replay", path(&customer)),
            Some(json!({ "fromSeq": first })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{replayed}");
    assert_eq!(replayed["state"], "enabled");
    let expected = seqs_from(&app, &customer, first).await;
    wait_until("the replay", || receiver.seqs().len() >= tries + expected.len()).await;
    assert_eq!(receiver.seqs().split_off(tries), expected);
    let (status, _) = app
        .as_admin(&session, Method::POST, &format!("{}/{id}/replay", path(&customer)), Some(json!({ "fromSeq": 0 })))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no record 0");
}

#[tokio::test]
async fn urls_that_reach_private_ranges_or_plain_http_are_refused() {
    let Some(app) = super::app().await else { return };
    let (customer, _admin, session) = app.customer_with_session(Access::Full).await;
    for url in [
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:192.168.0.1]/hook",
        "https://0.0.0.0/hook",
        "https://localhost/hook",
        "http://example.com/hook",
        "https://user:pass@example.com/hook",
        "ftp://example.com/hook",
        "not a url",
    ] {
        let (status, refused) =
            app.as_admin(&session, Method::POST, &path(&customer), Some(json!({ "url": url }))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {refused}");
    }
    let (_, listed) = app.as_admin(&session, Method::GET, &path(&customer), None).await;
    assert_eq!(listed["items"], json!([]));

    // At connect time too: an endpoint stored with a loopback URL (as by a server that allowed
    // private addresses, or before its name resolved there) is never reached.
    let receiver = Receiver::start().await;
    let url = receiver.url.replace("http://", "https://");
    let id = WebhookId::generate();
    let now = OffsetDateTime::now_utc();
    let vault = WebhookVault::for_ring(&app.server_key.clone().into());
    let endpoint = Endpoint {
        id,
        customer_id: customer.clone(),
        url,
        description: String::new(),
        event_types: Vec::new(),
        style: Style::Standard,
        sealed_secret: vault.seal(id, "secret", &webhook::new_secret()),
        sealed_previous_secret: None,
        previous_until: None,
        sealed_auth_headers: None,
        created_by: "test".to_owned(),
        created_at: now,
        state: EndpointState::Enabled,
        failing_since: None,
        next_attempt_at: now,
        failures: 0,
        delivered_seq: 0,
    };
    app.store.create_webhook(&endpoint, &Actor::System).await.unwrap();
    let mut error = None;
    for _ in 0..100 {
        let tries = attempts(&app, &session, &customer, &id.to_string()).await;
        error = tries.first().and_then(|a| a["error"].as_str().map(str::to_owned));
        if error.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(error.as_deref().is_some_and(|e| e.contains("private")), "{error:?}");
    assert!(receiver.deliveries().is_empty(), "the loopback receiver got nothing");
}

#[tokio::test]
async fn only_a_full_administrator_manages_endpoints_and_never_another_customers() {
    let Some(app) = super::app_with(config()).await else { return };
    let receiver = Receiver::start().await;
    let (acme, _full, full) = app.customer_with_session(Access::Full).await;
    let limited = app.admin_with_password(&acme, custom(&[Permission::ADMINISTRATORS])).await;
    let limited = app.sign_in(&limited).await;
    let (status, _) = app.as_admin(&limited, Method::POST, &path(&acme), Some(json!({ "url": receiver.url }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "Custom access does not subscribe");
    let (status, _) = app.as_admin(&limited, Method::GET, &path(&acme), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let created = subscribe(&app, &full, &acme, &receiver.url).await;
    let id = created["id"].as_str().unwrap();
    for (method, suffix) in [
        (Method::GET, String::new()),
        (Method::DELETE, String::new()),
        (Method::POST, "/rotate-secret".to_owned()),
        (Method::GET, "/attempts".to_owned()),
    ] {
        let (status, _) = app.as_admin(&limited, method, &format!("{}/{id}{suffix}", path(&acme)), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    // A Full administrator of another customer: Acme does not exist for them, and their own
    // customer has no such endpoint.
    let (other, _, stranger) = app.customer_with_session(Access::Full).await;
    let (status, _) = app.as_admin(&stranger, Method::GET, &path(&acme), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for method in [Method::GET, Method::DELETE] {
        let (status, _) = app.as_admin(&stranger, method, &format!("{}/{id}", path(&other)), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, _) = app.as_admin(&full, Method::GET, &format!("{}/{id}", path(&acme)), None).await;
    assert_eq!(status, StatusCode::OK, "untouched");
    let (status, listed) = app.as_admin(&full, Method::GET, &path(&acme), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains("whsec_"), "the secret is shown once");
    let (status, _) = app.as_admin(&full, Method::DELETE, &format!("{}/{id}", path(&acme)), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.log_of(&acme, "platform:webhook/delete").await.len(), 1);
}

#[tokio::test]
async fn citrix_style_subscriptions_get_citrix_callbacks_of_the_events_they_chose() {
    let Some(app) = super::app_with(config()).await else { return };
    let receiver = Receiver::start().await;
    let (customer, owner, token) = app.customer_with_token(Access::Full).await;
    let path = format!("/{customer}/subscriptions");
    let body = json!({
        "customerId": customer.as_str(), "description": "secure clients", "url": receiver.url,
        "authHeaders": { "X-Api-Key": "key-for-the-receiver" },
        "changeType": "Create", "eventType": "ClientAdministrator",
    });
    let delegate = app.admin(&customer, custom(&[Permission::ADMINISTRATORS])).await;
    let limited = app.token(&app.client(&customer, &delegate).await).await;
    let (status, _) = app.call(Method::POST, &path, &limited, &customer, Some(body.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a client of a Custom administrator");
    let (_, _, stranger) = app.customer_with_token(Access::Full).await;
    let (status, _) = app.call(Method::POST, &path, &stranger, &customer, Some(body.clone())).await;
    assert!(status.is_client_error() && status != StatusCode::BAD_REQUEST, "another customer's client: {status}");
    let (status, created) = app.call(Method::POST, &path, &token, &customer, Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["eventType"], "ClientAdministrator");
    assert!(created["signingSecret"].as_str().unwrap().starts_with("whsec_"));
    let mut wrong = body.clone();
    wrong["eventType"] = json!("Billing");
    let (status, _) = app.call(Method::POST, &path, &token, &customer, Some(wrong)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let client = app.client(&customer, &owner).await;
    wait_until("the creation's callback", || !receiver.deliveries().is_empty()).await;
    let delivery = receiver.deliveries()[0].clone();
    let callback = delivery.json();
    assert_eq!(callback["CustomerId"], customer.as_str());
    assert_eq!(callback["Type"], "ClientAdministrator");
    assert_eq!(callback["ChangeType"], "Create");
    assert_eq!(callback["Identity"], client.id.to_string());
    for field in ["TransactionId", "BeforeChange", "AfterChange", "TimeStamp"] {
        assert!(callback.get(field).is_some(), "{field} in {callback}");
    }
    assert!(delivery.headers.contains(&("x-api-key".to_owned(), "key-for-the-receiver".to_owned())));
    if let Some(verified) = verified_by_standardwebhooks(created["signingSecret"].as_str().unwrap(), &[delivery]).await
    {
        assert_eq!(verified, 1);
    }
    let (status, listed) = app.call(Method::GET, &path, &token, &customer, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["items"][0]["id"], created["id"]);
    assert!(listed["items"][0].get("signingSecret").is_none(), "shown once");
    let id = created["id"].as_str().unwrap();
    let (status, _) = app.call(Method::DELETE, &format!("{path}/{id}"), &token, &customer, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(receiver.deliveries().len(), 1, "only Create events of secure clients");
}

#[tokio::test]
async fn retention_keeps_what_an_enabled_endpoint_has_still_to_be_sent() {
    let Some(app) = super::app_with(config()).await else { return };
    let receiver = Receiver::start().await;
    receiver.answer(500);
    let (customer, _admin, session) = app.customer_with_session(Access::Full).await;
    assert_eq!(app.store.webhook_backlog_start().await.unwrap(), None, "no endpoint, nothing held back");
    let created = subscribe(&app, &session, &customer, &receiver.url).await;
    let first = app.log_of(&customer, "platform:webhook/create").await[0].clone();
    wait_until("a failed attempt", || !receiver.deliveries().is_empty()).await;
    let held = app.store.webhook_backlog_start().await.unwrap();
    assert_eq!(held.map(|t| t.unix_timestamp()), Some(first.at.unix_timestamp()), "the first record not sent");

    receiver.answer(200);
    app.clock().advance(Duration::from_secs(3600));
    let mut held = app.store.webhook_backlog_start().await.unwrap();
    for _ in 0..100 {
        if held.is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        held = app.store.webhook_backlog_start().await.unwrap();
    }
    assert_eq!(held, None, "a caught-up endpoint holds nothing back");
    let id = created["id"].as_str().unwrap();
    let (status, _) = app.as_admin(&session, Method::DELETE, &format!("{}/{id}", path(&customer)), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn rotating_the_server_key_reseals_webhook_secrets_and_deliveries_still_verify() {
    let Some(app) = super::app_with(config()).await else { return };
    let receiver = Receiver::start().await;
    let (customer, owner, session) = app.customer_with_session(Access::Full).await;
    let created = subscribe(&app, &session, &customer, &receiver.url).await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    let before = app.store.webhooks(&customer, &Actor::System).await.unwrap()[0].sealed_secret.clone();

    let _socket = trustgate_server::control_socket::ControlSocket::open(app.dir.path(), app.state.clone())
        .await
        .expect("the control socket");
    let rotated = app.cli(&["keys", "rotate-server-key"]).await;
    app.state.catch_up().await.unwrap();
    assert_eq!(rotated["resealedWebhooks"], 1, "{rotated}");
    let after = app.store.webhooks(&customer, &Actor::System).await.unwrap()[0].sealed_secret.clone();
    assert_ne!(before, after, "sealed again");

    let client = app.client(&customer, &owner).await;
    wait_until("the client's record delivered", || {
        receiver.deliveries().iter().any(|d| d.json()["data"]["targetId"] == client.id.to_string())
    })
    .await;
    let last = receiver.deliveries().last().cloned().unwrap();
    assert_eq!(last.signature.split(' ').count(), 1);
    if let Some(verified) = verified_by_standardwebhooks(&secret, &[last]).await {
        assert_eq!(verified, 1, "signed with the same secret, opened under the new server key");
    }
}
