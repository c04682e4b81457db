//! Rotating the server key: what was made under the old key keeps working while that key is in the
//! ring as retired, what is new is made under the new key, what is sealed is resealed, sessions end,
//! and dropping the retired key fails exactly the records made under it.

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use time::OffsetDateTime;
use trustgate_core::access::Access;
use trustgate_core::admin::Provider;
use trustgate_core::custody::KeyVault;
use trustgate_core::event::Actor;
use trustgate_core::federation::{IdentityProvider, SecretVault, DEFAULT_EMAIL_CLAIM};
use trustgate_core::ids::ProviderId;
use trustgate_server::control_socket::{reload_server_keys, ControlSocket};

use crate::harness::{AdminKind, TestApp, TestClient};

async fn grant(app: &TestApp, client: &TestClient, secret: &str) -> (StatusCode, Value) {
    let id = client.id.to_string();
    app.oauth("root", &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", secret)]).await
}

fn secrets_path(client: &TestClient) -> String {
    format!("/api/v1/customers/{}/api-clients/{}/secrets", client.customer, client.id)
}

/// `keys rotate-server-key` as an operator runs it beside the running server, which answers on
/// its control socket.
async fn rotate(app: &TestApp) -> Value {
    let _socket = ControlSocket::open(app.dir.path(), app.state.clone()).await.expect("socket");
    let rotated = app.cli(&["keys", "rotate-server-key"]).await;
    app.state.catch_up().await.expect("catch up");
    rotated
}

/// Adds a secret with the CLI (made with the key the CLI reads: the new current one).
async fn add_secret(app: &TestApp, client: &TestClient) -> String {
    let (customer, id) = (client.customer.to_string(), client.id.to_string());
    let added = app.cli(&["client", "secret", "add", "--customer", &customer, "--id", &id]).await;
    app.state.catch_up().await.expect("catch up");
    added["secret"].as_str().expect("secret").to_owned()
}

#[tokio::test]
async fn after_rotating_the_server_key_old_secrets_grant_new_ones_use_the_new_key_and_sessions_end() {
    let Some(app) = super::app().await else { return };
    let (customer, owner, client) = app.customer_with_client_of(AdminKind::WithPassword, Access::Full).await;
    let token_before = app.token(&client).await;
    let session = app.sign_in(&owner).await;
    assert_eq!(app.as_admin(&session, Method::GET, &secrets_path(&client), None).await.0, StatusCode::OK);
    let old = app.server_key.clone();

    let rotated = rotate(&app).await;
    let new_id = rotated["serverKey"].as_str().expect("the new key's id").to_owned();
    assert_ne!(new_id, old.id().as_str(), "{rotated}");
    assert_eq!(rotated["retiredServerKeys"], serde_json::json!([old.id().as_str()]), "{rotated}");
    assert_eq!(app.state.server_key().id().as_str(), new_id, "the running server took up the new key");

    assert_eq!(
        app.as_admin(&session, Method::GET, &secrets_path(&client), None).await.0,
        StatusCode::UNAUTHORIZED,
        "every console session ended"
    );
    assert!(rotated["endedSessions"].as_u64().is_some_and(|n| n >= 1), "{rotated}");
    assert_eq!(grant(&app, &client, &client.secret).await.0, StatusCode::OK, "the old secret still grants");
    assert_eq!(
        app.get("/notifications/items", &token_before, &customer).await.0,
        StatusCode::OK,
        "a token signed before still verifies"
    );
    let token_after = app.token(&client).await;
    assert_eq!(app.get("/notifications/items", &token_after, &customer).await.0, StatusCode::OK, "keys still sign");

    let new_secret = add_secret(&app, &client).await;
    assert_eq!(grant(&app, &client, &new_secret).await.0, StatusCode::OK);
    let listed =
        app.cli(&["client", "secret", "list", "--customer", customer.as_str(), "--id", &client.id.to_string()]).await;
    let items = listed["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{listed}");
    assert_eq!(items[0]["serverKey"], old.id().as_str(), "{listed}");
    assert_eq!(items[0]["retiredServerKey"], true, "the old secret depends on a retired key: {listed}");
    assert_eq!(items[1]["serverKey"], new_id.as_str(), "{listed}");
    assert_eq!(items[1]["retiredServerKey"], false, "{listed}");

    let session = app.sign_in(&owner).await;
    let (status, api) = app.as_admin(&session, Method::GET, &secrets_path(&client), None).await;
    assert_eq!(status, StatusCode::OK, "{api}");
    assert_eq!(api["items"][0]["retiredServerKey"], true, "{api}");
    assert_eq!(api["items"][1]["retiredServerKey"], false, "{api}");
    let page = app.console_get(&session, &format!("/console/c/{customer}/api-access/{}/secrets", client.id)).await;
    let page = page.text().await.expect("its page");
    assert_eq!(page.matches("data-retired-server-key").count(), 1, "the old secret only is marked: {page}");

    let status = app.cli(&["keys", "server-key-status"]).await;
    let retired = status["items"].as_array().and_then(|items| items.iter().find(|i| i["current"] == false));
    let retired = retired.expect("the retired key is listed");
    assert_eq!(retired["serverKey"], old.id().as_str(), "{status}");
    assert_eq!(retired["clientSecrets"].as_u64(), Some(1), "{status}");
    assert_eq!(retired["signingKeys"].as_u64(), Some(0), "every signing key is resealed: {status}");
    assert_eq!(retired["canBeDropped"], false, "{status}");
    assert!(app.log_types(&customer).await.iter().any(|t| t == "platform:serverkey/rotate"));
}

/// A secret stored before records named their server key (the column NULL, as migration 0020 leaves
/// every existing row) is recorded under the key in use when the server key is rotated: it keeps
/// granting, and is marked as depending on the retired key.
#[tokio::test]
async fn a_secret_from_before_key_ids_is_marked_as_made_under_the_retired_key_after_rotation() {
    let Some(app) = super::app().await else { return };
    let (customer, _, client) = app.customer_with_client(Access::Full).await;
    app.behind_the_servers_back("UPDATE client_secrets SET server_key = NULL").await;
    rotate(&app).await;
    assert_eq!(grant(&app, &client, &client.secret).await.0, StatusCode::OK);
    let listed =
        app.cli(&["client", "secret", "list", "--customer", customer.as_str(), "--id", &client.id.to_string()]).await;
    assert_eq!(listed["items"][0]["serverKey"], app.server_key.id().as_str(), "{listed}");
    assert_eq!(listed["items"][0]["retiredServerKey"], true, "{listed}");
}

#[tokio::test]
async fn a_copy_of_the_database_and_the_old_server_key_alone_open_no_resealed_signing_key_or_provider_secret() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let owner = app.admin(&customer, Access::Full).await;
    app.token(&app.client(&customer, &owner).await).await;
    let id = ProviderId::generate();
    let provider = IdentityProvider {
        id,
        customer_id: customer.clone(),
        provider_type: Provider::Okta,
        issuer: "https://idp.example.com".to_owned(),
        client_id: "trustgate".to_owned(),
        sealed_secret: SecretVault::new(&app.server_key).seal(id, &SecretString::from("idp-secret".to_owned())),
        email_claim: DEFAULT_EMAIL_CLAIM.to_owned(),
        created_at: OffsetDateTime::now_utc(),
    };
    app.store.connect_provider(&provider, &Actor::System).await.expect("connect the provider");
    rotate(&app).await;
    let stored = app.store.signing_keys().await.expect("signing keys");
    assert!(!stored.is_empty());
    let new = app.state.server_key();
    for key in &stored {
        assert!(KeyVault::new(&app.server_key).open(key).is_err(), "the old key opens nothing resealed");
        assert!(KeyVault::new(&new).open(key).is_ok(), "the new key alone opens it");
    }
    let resealed = app.store.identity_provider(id).await.expect("read").expect("the provider");
    assert!(SecretVault::new(&app.server_key).open(&resealed).is_err(), "the old key opens no provider secret");
    let opened = SecretVault::new(&new).open(&resealed).expect("the new key opens it");
    assert_eq!(opened.expose_secret(), "idp-secret");
}

#[tokio::test]
async fn dropping_the_retired_server_key_refuses_exactly_the_secrets_made_under_it() {
    let Some(app) = super::app().await else { return };
    let (customer, owner, client) = app.customer_with_client(Access::Full).await;
    let untouched = app.client(&customer, &owner).await;
    rotate(&app).await;
    let new_secret = add_secret(&app, &client).await;

    // The operator drops the retired key: server.key keeps its first line only.
    let file = app.dir.path().join("server.key");
    let text = std::fs::read_to_string(&file).expect("server.key");
    assert_eq!(text.lines().count(), 2, "the current key, then the retired one");
    let current = text.lines().next().expect("the current key").to_owned();
    std::fs::write(&file, format!("{current}\n")).expect("write server.key");
    let _socket = ControlSocket::open(app.dir.path(), app.state.clone()).await.expect("socket");
    reload_server_keys(app.dir.path()).await.expect("the server reads its keys again");

    let (status, body) = grant(&app, &client, &client.secret).await;
    assert_ne!(status, StatusCode::OK, "{body}");
    assert_eq!(body["error"], "invalid_client", "{body}");
    assert_eq!(grant(&app, &client, &new_secret).await.0, StatusCode::OK, "a secret made after rotation works");
    assert_eq!(grant(&app, &untouched, &untouched.secret).await.1["error"], "invalid_client", "made under it too");
    let token = app.token(&client_with(&client, &new_secret)).await;
    assert_eq!(app.get("/notifications/items", &token, &customer).await.0, StatusCode::OK, "keys still sign");
}

fn client_with(client: &TestClient, secret: &str) -> TestClient {
    TestClient { id: client.id, secret: secret.to_owned(), customer: client.customer.clone() }
}

#[tokio::test]
async fn a_malformed_retired_server_key_in_the_environment_is_refused_with_exit_code_3() {
    let Some(app) = super::app().await else { return };
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_trustgate"))
        .arg("--data-dir")
        .arg(app.dir.path())
        .args(app.database_url().map(|url| vec!["--database".to_owned(), url]).unwrap_or_default())
        .args(["--json", "keys", "server-key-status"])
        .env("TRUSTGATE_SERVER_KEY", app.server_key.encode())
        .env(
            "TRUSTGATE_RETIRED_SERVER_KEYS",
            format!("{},short", trustgate_core::secret::ServerKey::generate().encode()),
        )
        .output()
        .expect("run trustgate");
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    let failure: Value = serde_json::from_slice(&output.stderr).expect("one JSON object on stderr");
    let message = failure["message"].as_str().unwrap_or_default();
    assert!(message.contains("key 2 of TRUSTGATE_RETIRED_SERVER_KEYS"), "{failure}");
}

#[tokio::test]
async fn a_malformed_retired_server_key_is_refused_with_exit_code_3() {
    let Some(app) = super::app().await else { return };
    let file = app.dir.path().join("server.key");
    let text = std::fs::read_to_string(&file).expect("server.key");
    std::fs::write(&file, format!("{text}not-a-key\n")).expect("write server.key");
    let (code, failure) = app.cli_fails(&["keys", "server-key-status"]).await;
    assert_eq!(code, 3, "{failure}");
    assert!(failure["message"].as_str().is_some_and(|m| m.contains("line 2")), "{failure}");
}
