//! Strangers get no leverage from failing: refusals are counted in the system log rather than
//! written once each (R10 stays), and repeated failures lock the key out with 429 + Retry-After.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use trustgate_core::access::Access;
use trustgate_core::ids::ClientId;
use trustgate_server::ServerConfig;

use crate::harness::{status_and_json, TestApp, TestClient};
use crate::observability::{scrape, Metrics};

const TOKEN_FAILURE: &str = "platform:token/failure";
const SIGN_IN_FAILURE: &str = "platform:signin/failure";

/// Throttling that never gets in the way, for tests about the log alone.
fn lenient() -> ServerConfig {
    let mut config = ServerConfig::default();
    config.client_throttle.failures = std::num::NonZeroU32::MAX;
    config.sign_in_throttle.failures = std::num::NonZeroU32::MAX;
    config
}

/// How many requests a lockout of kind `throttle` refused since `before`, as `/metrics` counts them.
async fn throttled_since(app: &TestApp, before: &Metrics, throttle: &str) -> f64 {
    let labels = [("throttle", throttle)];
    let name = "trustgate_throttled_requests_total";
    scrape(app).await.value(name, &labels) - before.value(name, &labels)
}

async fn wrong_secret(app: &TestApp, id: &str) -> reqwest::Response {
    app.http
        .post(app.url("/cctrustoauth2/root/tokens/clients"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=client_credentials&client_id={id}&client_secret=tgs_wrong"))
        .send()
        .await
        .unwrap()
}

async fn grant(app: &TestApp, client: &TestClient) -> reqwest::Response {
    app.http
        .post(app.url("/cctrustoauth2/root/tokens/clients"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=client_credentials&client_id={}&client_secret={}", client.id, client.secret))
        .send()
        .await
        .unwrap()
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.http
        .post(app.url("/api/v1/session"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers().get("retry-after").expect("Retry-After").to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn wrong_secrets_are_logged_once_at_once_then_as_one_count_with_their_source() {
    let Some(mut app) = super::app_with(lenient()).await else { return };
    let customer = app.customer().await;
    let owner = app.admin(&customer, Access::Full).await;
    let client = app.client(&customer, &owner).await;
    for _ in 0..25 {
        assert_eq!(wrong_secret(&app, &client.id.to_string()).await.status(), StatusCode::BAD_REQUEST);
    }
    let first = app.log_of(&customer, TOKEN_FAILURE).await;
    assert_eq!(first.len(), 1, "the first refusal is written at once, the others are only counted");
    assert!(first[0].message.contains("wrong client secret"), "{}", first[0].message);
    assert_eq!(first[0].after, Some(json!({ "sourceAddress": "127.0.0.1" })));

    app.stop().await;
    let records = app.log_of(&customer, TOKEN_FAILURE).await;
    assert_eq!(records.len(), 2, "a graceful shutdown writes the count it holds");
    let count = &records[1];
    assert_eq!(count.target_id, client.id.to_string());
    assert_eq!(count.after.as_ref().unwrap()["refusals"], 24);
    assert_eq!(count.after.as_ref().unwrap()["sourceAddresses"], json!(["127.0.0.1"]));
    assert!(count.message.starts_with("24 further token requests for API client"), "{}", count.message);
}

/// Issue #21, item 5: the lockout must not tell a stranger which client ids exist. A well-formed
/// unknown id is answered 429 on the same try as a real one, and still writes nothing.
#[tokio::test]
async fn unknown_client_ids_write_nothing_and_are_locked_out_on_the_same_try_as_real_ones() {
    let Some(mut app) = super::app().await else { return };
    let customer = app.customer().await;
    let owner = app.admin(&customer, Access::Full).await;
    let real = app.client(&customer, &owner).await;
    let limit = ServerConfig::default().client_throttle.failures.get();
    let before = app.all_log_records().await;
    let unknown = ClientId::generate().to_string();
    for id in [unknown.as_str(), &real.id.to_string()] {
        let statuses: Vec<StatusCode> = wrong_secrets(&app, id, limit + 2).await;
        let first_429 = statuses.iter().position(|s| *s == StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(first_429, Some(limit as usize + 1), "{id}: {statuses:?}");
    }
    // What is not an id at all tells nothing (the format is public): refused, never tracked.
    for _ in 0..limit + 2 {
        let (status, body) = status_and_json(wrong_secret(&app, "not-a-client-id").await).await;
        assert_eq!((status, &body["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_client")));
    }
    app.stop().await;
    let of_the_real_client = app.log_of(&customer, TOKEN_FAILURE).await;
    assert!(of_the_real_client.iter().all(|r| r.target_id == real.id.to_string()));
    let written = app.all_log_records().await - before;
    assert_eq!(
        written,
        of_the_real_client.len(),
        "only the real client's refusals were logged; the unknown id wrote nothing"
    );
}

/// The statuses of `tries` wrong secrets for `id`, one after the other.
async fn wrong_secrets(app: &TestApp, id: &str, tries: u32) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for _ in 0..tries {
        statuses.push(wrong_secret(app, id).await.status());
    }
    statuses
}

async fn grant_via(app: &TestApp, forwarded_for: &str, id: &str, secret: &str) -> StatusCode {
    app.http
        .post(app.url("/cctrustoauth2/root/tokens/clients"))
        .header("x-forwarded-for", forwarded_for)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=client_credentials&client_id={id}&client_secret={secret}"))
        .send()
        .await
        .unwrap()
        .status()
}

async fn legacy_grant_via(app: &TestApp, forwarded_for: &str, client: &TestClient) -> StatusCode {
    app.http
        .post(app.url("/root/tokens/clients"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({ "clientId": client.id.to_string(), "clientSecret": client.secret }))
        .send()
        .await
        .unwrap()
        .status()
}

/// Issue #21, item 5, as measured: 400 wrong secrets from one address, then the holder's right
/// secret from another address. Before, the holder got 429 on 20 of 20 tries.
#[tokio::test]
async fn a_stranger_who_knows_a_client_id_cannot_lock_out_the_holder_of_its_secret() {
    let config = ServerConfig { trusted_proxies: vec!["127.0.0.1".parse().unwrap()], ..ServerConfig::default() };
    let Some(app) = super::app_with(config).await else { return };
    let customer = app.customer().await;
    let owner = app.admin(&customer, Access::Full).await;
    let client = app.client(&customer, &owner).await;
    let id = client.id.to_string();
    let mut refused = 0;
    for _ in 0..400 {
        match grant_via(&app, "203.0.113.9", &id, "tgs_wrong").await {
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            status => assert_eq!(status, StatusCode::BAD_REQUEST),
        }
    }
    assert!(refused >= 380, "the stranger's address is locked: {refused} of 400 refused");
    for _ in 0..20 {
        assert_eq!(grant_via(&app, "198.51.100.7", &id, &client.secret).await, StatusCode::OK, "the holder is served");
        assert_eq!(legacy_grant_via(&app, "198.51.100.7", &client).await, StatusCode::OK, "on both endpoints");
    }
    // The stranger's own address stays locked, whatever it sends.
    assert_eq!(grant_via(&app, "203.0.113.9", &id, &client.secret).await, StatusCode::TOO_MANY_REQUESTS);
}

/// A guesser spread over many addresses meets the ceiling per client: past it, each further
/// address is locked on its first failure; the right secret from an address without failures is
/// still served.
#[tokio::test]
async fn past_the_ceiling_over_all_addresses_each_new_address_is_locked_on_its_first_failure() {
    let mut config = ServerConfig { trusted_proxies: vec!["127.0.0.1".parse().unwrap()], ..ServerConfig::default() };
    config.client_throttle.failures = std::num::NonZeroU32::new(2).unwrap();
    config.client_throttle.refill = std::time::Duration::from_secs(3600);
    config.sign_in_throttle = config.client_throttle;
    let Some(app) = super::app_with(config).await else { return };
    let customer = app.customer().await;
    let owner = app.admin_with_password(&customer, Access::Full).await;
    let client = app.client(&customer, &owner).await;
    let id = client.id.to_string();
    let ceiling = 2 * trustgate_server::THROTTLE_CEILING_FACTOR.get();
    // Under the ceiling, an address has its own allowance of two failures.
    for n in 1..=ceiling / 2 {
        for _ in 0..2 {
            assert_eq!(grant_via(&app, &format!("203.0.113.{n}"), &id, "tgs_wrong").await, StatusCode::BAD_REQUEST);
            let status = sign_in_via(&app, &format!("203.0.113.{n}"), &owner.email, "a wrong password!").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
    }
    assert_eq!(grant_via(&app, "203.0.113.200", &id, "tgs_wrong").await, StatusCode::BAD_REQUEST);
    assert_eq!(grant_via(&app, "203.0.113.200", &id, "tgs_wrong").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(grant_via(&app, "198.51.100.7", &id, &client.secret).await, StatusCode::OK);
    // The same for console sign-in, per e-mail.
    let status = sign_in_via(&app, "203.0.113.200", &owner.email, "a wrong password!").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let status = sign_in_via(&app, "203.0.113.200", &owner.email, &owner.password).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(sign_in_via(&app, "198.51.100.7", &owner.email, &owner.password).await, StatusCode::OK);
}

#[tokio::test]
async fn a_client_under_attack_is_locked_out_while_another_client_of_the_customer_keeps_working() {
    let Some(app) = super::app().await else { return };
    let (customer, owner, attacked) = app.customer_with_client(Access::Full).await;
    let colleague = app.admin(&customer, Access::Full).await;
    let others = [app.client(&customer, &owner).await, app.client(&customer, &colleague).await];
    let limit = ServerConfig::default().client_throttle.failures.get();
    let before = scrape(&app).await;

    for _ in 0..limit {
        assert_eq!(wrong_secret(&app, &attacked.id.to_string()).await.status(), StatusCode::BAD_REQUEST);
    }
    // One failure past the allowance locks the client; that try is still answered as a failure.
    assert_eq!(wrong_secret(&app, &attacked.id.to_string()).await.status(), StatusCode::BAD_REQUEST);
    let locked = wrong_secret(&app, &attacked.id.to_string()).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=30).contains(&retry_after(&locked)), "the first lockout lasts at most 30 s");
    assert_eq!(locked.headers()["cache-control"], "no-store");
    let (_, body) = status_and_json(locked).await;
    assert_eq!(body["error"], "slow_down");

    // The lockout refuses the right secret too from the address that failed, on both endpoints.
    let right = grant(&app, &attacked).await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&right) >= 1);
    let legacy = app.legacy_token(&attacked).await;
    assert_eq!(legacy.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&legacy) >= 1);
    assert_eq!(legacy.headers()["cache-control"], "no-store");
    let (_, body) = status_and_json(legacy).await;
    assert_eq!(body["message"], "Too many requests.");
    assert!(body["modelState"]["credentials"][0].as_str().unwrap().contains("retry after"), "{body}");
    // Each of the three 429s counts as a throttled request, so an operator sees the attack.
    assert_eq!(throttled_since(&app, &before, "client").await, 3.0);

    for other in &others {
        let response = grant(&app, other).await;
        assert_eq!(response.status(), StatusCode::OK, "other clients of the customer are unaffected");
        let (_, body) = status_and_json(response).await;
        let token = body["access_token"].as_str().unwrap();
        assert_eq!(app.call(Method::GET, "/notifications/items", token, &customer, None).await.0, StatusCode::OK);
    }
}

fn sign_in_limit(failures: u32) -> ServerConfig {
    let mut config = ServerConfig::default();
    config.sign_in_throttle.failures = std::num::NonZeroU32::new(failures).unwrap();
    config
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_e_mail_and_counted_once_per_customer() {
    let Some(mut app) = super::app_with(sign_in_limit(3)).await else { return };
    let (first, second) = (app.customer().await, app.customer().await);
    let admin = app.admin_with_password(&first, Access::Full).await;
    app.join(&second, &admin, Access::Full).await;
    let before = scrape(&app).await;

    for _ in 0..2 {
        app.sign_in(&admin).await;
    }
    for customer in [&first, &second] {
        assert_eq!(app.log_of(customer, "platform:signin/success").await.len(), 2, "every success is logged");
    }
    for _ in 0..4 {
        assert_eq!(sign_in(&app, &admin.email, "a wrong password!").await.status(), StatusCode::UNAUTHORIZED);
    }
    let locked = sign_in(&app, &admin.email, &admin.password).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS, "the right password is refused while locked");
    assert!(retry_after(&locked) >= 1);
    let (_, body) = status_and_json(locked).await;
    assert_eq!(body["type"], "https://errors-api.cloud.com/common/tooManyRequests");
    // An unknown e-mail is throttled alike, so a 429 does not tell that an account exists.
    for _ in 0..4 {
        assert_eq!(sign_in(&app, "nobody@example.com", "a wrong password!").await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(sign_in(&app, "nobody@example.com", "a wrong password!").await.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled_since(&app, &before, "sign_in").await, 2.0, "both 429s are counted");

    for customer in [&first, &second] {
        assert_eq!(app.log_of(customer, SIGN_IN_FAILURE).await.len(), 1, "one record per customer at once");
    }
    app.stop().await;
    for customer in [&first, &second] {
        let records = app.log_of(customer, SIGN_IN_FAILURE).await;
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].after.as_ref().unwrap()["refusals"], 3);
        assert_eq!(records[1].target_id, admin.id.to_string());
    }
}

#[tokio::test]
async fn a_basic_authentication_failure_is_a_401_with_a_basic_challenge() {
    use base64::Engine;
    let Some(app) = super::app().await else { return };
    let (_, _, client) = app.customer_with_client(Access::Full).await;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:tgs_wrong", client.id));
    let response = app
        .http
        .post(app.url("/cctrustoauth2/root/tokens/clients"))
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic "));
    let (_, body): (_, Value) = status_and_json(response).await;
    assert_eq!(body["error"], "invalid_client");

    let legacy = app.legacy_token(&client).await;
    assert_eq!(legacy.status(), StatusCode::OK);
    assert_eq!(legacy.headers()["cache-control"], "no-store");
}

async fn sign_in_via(app: &TestApp, forwarded_for: &str, email: &str, password: &str) -> StatusCode {
    app.http
        .post(app.url("/api/v1/session"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn behind_a_trusted_proxy_sign_ins_are_throttled_per_forwarded_address() {
    let mut config = sign_in_limit(1);
    config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let Some(app) = super::app_with(config).await else { return };
    let customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    for _ in 0..2 {
        let status = sign_in_via(&app, "203.0.113.9, 198.51.100.1", &admin.email, "a wrong password!").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let locked = sign_in_via(&app, "203.0.113.9, 198.51.100.1", &admin.email, &admin.password).await;
    assert_eq!(locked, StatusCode::TOO_MANY_REQUESTS, "the address the proxy saw is locked");
    // The client may write anything left of what the proxy appended: only the last hop counts.
    let spoofed = sign_in_via(&app, "198.51.100.1, 198.51.100.1", &admin.email, &admin.password).await;
    assert_eq!(spoofed, StatusCode::TOO_MANY_REQUESTS);
    let elsewhere = sign_in_via(&app, "198.51.100.7", &admin.email, &admin.password).await;
    assert_eq!(elsewhere, StatusCode::OK, "the same account from another address is not locked");
    let first = &app.log_of(&customer, SIGN_IN_FAILURE).await[0];
    assert_eq!(first.after, Some(json!({ "sourceAddress": "198.51.100.1" })));
}

#[tokio::test]
async fn without_a_trusted_proxy_x_forwarded_for_is_ignored() {
    let Some(app) = super::app_with(sign_in_limit(1)).await else { return };
    let customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    for forwarded in ["203.0.113.1", "203.0.113.2"] {
        assert_eq!(sign_in_via(&app, forwarded, &admin.email, "a wrong password!").await, StatusCode::UNAUTHORIZED);
    }
    let locked = sign_in_via(&app, "203.0.113.3", &admin.email, &admin.password).await;
    assert_eq!(locked, StatusCode::TOO_MANY_REQUESTS, "every try came from 127.0.0.1, whatever the header says");
}
