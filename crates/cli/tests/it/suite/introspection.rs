//! RFC 7662 token introspection for resource servers (issue #10 §3): a resource server the
//! operator created asks whether a token is active, and learns what it may do now (R4–R7).

use reqwest::StatusCode;
use serde_json::{json, Value};
use time::OffsetDateTime;
use trustgate_core::access::{Access, Permission};
use trustgate_core::admin::AdminStatus;
use trustgate_core::customer::DisabledOwnerPolicy;
use trustgate_core::event::Actor;
use trustgate_core::ids::CustomerId;
use trustgate_core::token::{Claims, TokenUse};

use crate::harness::{custom, status_and_json, TestAdmin, TestApp, TestClient};

/// A resource server as `trustgate resource-server create` prints it.
struct ResourceServer {
    id: String,
    secret: String,
}

async fn resource_server(app: &TestApp, name: &str) -> ResourceServer {
    let created = app.cli(&["resource-server", "create", "--name", name]).await;
    assert_eq!(created["name"], json!(name));
    let field = |key: &str| created[key].as_str().expect(key).to_owned();
    ResourceServer { id: field("id"), secret: field("secret") }
}

/// `POST /oauth2/introspect`, the resource server authenticating with HTTP Basic.
async fn introspect(app: &TestApp, server: &ResourceServer, token: &str) -> Value {
    let response = app
        .http
        .post(app.url("/oauth2/introspect"))
        .basic_auth(&server.id, Some(&server.secret))
        .form(&[("token", token), ("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The resource server's credentials in the form instead (RFC 6749 §2.3.1 `client_secret_post`).
async fn introspect_in_form(app: &TestApp, id: &str, secret: &str, token: &str) -> reqwest::Response {
    let form = [("token", token), ("client_id", id), ("client_secret", secret)];
    app.http.post(app.url("/oauth2/introspect")).form(&form).send().await.unwrap()
}

fn permissions(body: &Value) -> Vec<&str> {
    body["permissions"].as_array().expect("permissions").iter().map(|p| p.as_str().expect("a string")).collect()
}

/// What most tests here start from: the `orders` resource server, and a new customer with a client
/// of an administrator with `access` in it, and a token of that client to ask about.
async fn server_and_token(
    app: &TestApp,
    access: Access,
) -> (ResourceServer, CustomerId, TestAdmin, TestClient, String) {
    let server = resource_server(app, "orders").await;
    let (customer, owner, client) = app.customer_with_client(access).await;
    let token = app.token(&client).await;
    (server, customer, owner, client, token)
}

const INACTIVE: fn() -> Value = || json!({ "active": false });

#[tokio::test]
async fn an_active_token_is_described_with_its_client_customer_owner_and_permissions_now() {
    let Some(app) = super::app().await else { return };
    let (server, customer, owner, client, token) = server_and_token(&app, custom(&[Permission::NOTIFICATIONS])).await;

    let body = introspect(&app, &server, &token).await;
    let issuer = &app.state.config.issuer;
    assert_eq!(body["active"], json!(true));
    assert_eq!(body["client_id"], json!(client.id.to_string()));
    assert_eq!(body["sub"], json!(client.id.to_string()));
    assert_eq!(body["token_type"], json!("Bearer"));
    assert_eq!(
        (body["iss"].as_str(), body["aud"].as_str()),
        (Some(issuer.url.as_str()), Some(issuer.audience.as_str()))
    );
    assert_eq!(body["exp"].as_i64().unwrap() - body["iat"].as_i64().unwrap(), 3600);
    assert!(body["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert_eq!(body["customer_id"], json!(customer.as_str()));
    assert_eq!(body["principal"], json!({ "id": owner.id.to_string(), "kind": "administrator" }));
    assert_eq!(body["access_type"], json!("Custom"));
    assert_eq!(permissions(&body), ["notifications"]);

    // Full access: every permission the catalog offers, the operator's included.
    app.apply_catalog(orders_service!()).await;
    let full_owner = app.admin(&customer, Access::Full).await;
    let full = app.token(&app.client(&customer, &full_owner).await).await;
    let body = introspect(&app, &server, &full).await;
    assert_eq!(body["access_type"], json!("Full"));
    let offered: Vec<String> = app.state.catalog().entries().map(|e| e.permission.to_string()).collect();
    assert_eq!(permissions(&body), offered);
    assert!(offered.contains(&"administrators".to_owned()) && offered.contains(&"orders.read".to_owned()));

    // The credentials may come in the form too.
    let response = introspect_in_form(&app, &server.id, &server.secret, &token).await;
    assert_eq!(status_and_json(response).await.1["active"], json!(true));
}

#[tokio::test]
async fn malformed_forged_expired_revoked_and_other_customers_tokens_are_inactive_and_say_nothing_else() {
    let Some(app) = super::app().await else { return };
    let (server, customer, owner, client, token) = server_and_token(&app, Access::Full).await;
    for garbage in ["", "garbage", "a.b.c"] {
        assert_eq!(introspect(&app, &server, garbage).await, INACTIVE(), "{garbage:?}");
    }
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].chars().rev().collect();
    assert_eq!(introspect(&app, &server, &parts.join(".")).await, INACTIVE(), "bad signature");

    let keys = app.key_set().await;
    let issued_at =
        |at, customer| Claims::new(&app.state.config.issuer, client.id, Some(owner.id), customer, at, TokenUse::Access);
    let expired =
        keys.sign(&issued_at(OffsetDateTime::now_utc() - time::Duration::minutes(61), customer.clone())).unwrap();
    assert_eq!(introspect(&app, &server, &expired).await, INACTIVE(), "expired");
    let elsewhere = app.customer().await;
    let other_customer = keys.sign(&issued_at(OffsetDateTime::now_utc(), elsewhere)).unwrap();
    assert_eq!(introspect(&app, &server, &other_customer).await, INACTIVE(), "names a customer the client is not in");

    let revoked = app.token(&client).await;
    let form = [("token", revoked.as_str()), ("client_id", &client.id.to_string()), ("client_secret", &client.secret)];
    let response = app.http.post(app.url("/oauth2/revoke")).form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(introspect(&app, &server, &revoked).await, INACTIVE(), "revoked");
    assert_eq!(
        introspect(&app, &server, &token).await["active"],
        json!(true),
        "another token of the client stays active"
    );
}

#[tokio::test]
async fn a_deleted_clients_or_removed_owners_tokens_are_inactive_at_once() {
    let Some(app) = super::app().await else { return };
    let (server, customer, owner, deleted, token) = server_and_token(&app, Access::Full).await;
    assert_eq!(introspect(&app, &server, &token).await["active"], json!(true), "and remembered as verified");
    assert!(app.store.delete_client(&customer, owner.id, deleted.id, &Actor::System).await.unwrap());
    assert_eq!(introspect(&app, &server, &token).await, INACTIVE(), "deleted client");

    let leaving = app.admin(&customer, Access::Full).await;
    let token = app.token(&app.client(&customer, &leaving).await).await;
    assert_eq!(introspect(&app, &server, &token).await["active"], json!(true));
    app.store.remove_member(&customer, leaving.id, &Actor::System).await.unwrap();
    assert_eq!(introspect(&app, &server, &token).await, INACTIVE(), "owner removed (R6)");
}

#[tokio::test]
async fn r7_a_suspended_clients_tokens_are_inactive_while_its_owner_is_disabled() {
    let Some(app) = super::app().await else { return };
    let server = resource_server(&app, "orders").await;
    let customer = app.customer().await;
    let owner = app.federated_admin(&customer, Access::Full).await;
    let token = app.token(&app.client(&customer, &owner).await).await;
    app.store.set_disabled_owner_policy(&customer, DisabledOwnerPolicy::SuspendClients, &Actor::System).await.unwrap();
    app.store.set_admin_status(owner.id, AdminStatus::Disabled, &Actor::System).await.unwrap();
    assert_eq!(introspect(&app, &server, &token).await, INACTIVE(), "suspended with its owner");
    app.store.set_admin_status(owner.id, AdminStatus::Active, &Actor::System).await.unwrap();
    assert_eq!(introspect(&app, &server, &token).await["active"], json!(true), "active again once the owner is");
}

#[tokio::test]
async fn r5_a_reduced_owners_client_shows_the_reduced_permissions_on_the_next_introspection() {
    let Some(app) = super::app().await else { return };
    let server = resource_server(&app, "orders").await;
    let customer = app.customer_with_full_admin().await;
    let owner = app.admin(&customer, custom(&[Permission::NOTIFICATIONS, Permission::SYSTEM_LOG])).await;
    let token = app.token(&app.client(&customer, &owner).await).await;
    assert_eq!(permissions(&introspect(&app, &server, &token).await), ["notifications", "systemLog"]);
    app.store.set_access(&customer, owner.id, custom(&[Permission::SYSTEM_LOG]), &Actor::System).await.unwrap();
    assert_eq!(permissions(&introspect(&app, &server, &token).await), ["systemLog"]);
}

/// The answer to a resource server whose credentials are wrong: 401 and a Basic challenge.
async fn assert_refused(response: reqwest::Response, case: &str) {
    let challenge = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (status, body) = status_and_json(response).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "{case}");
    assert!(challenge.is_some_and(|c| c.starts_with("Basic")), "{case}");
}

#[tokio::test]
async fn a_resource_server_with_a_wrong_secret_or_none_is_refused_401_and_a_deleted_one_at_once() {
    let Some(app) = super::app().await else { return };
    let (server, _, _, client, token) = server_and_token(&app, Access::Full).await;
    let wrong = resource_server(&app, "billing").await.secret;
    let post = || app.http.post(app.url("/oauth2/introspect"));
    let basic = post().basic_auth(&server.id, Some(&wrong)).form(&[("token", &token)]).send().await.unwrap();
    assert_refused(basic, "another resource server's secret, as Basic").await;
    assert_refused(introspect_in_form(&app, &server.id, "tgs_nope", &token).await, "a wrong secret in the form").await;
    let unknown = trustgate_core::ids::ResourceServerId::generate().to_string();
    assert_refused(introspect_in_form(&app, &unknown, &server.secret, &token).await, "an unknown id").await;
    assert_refused(post().form(&[("token", &token)]).send().await.unwrap(), "no credentials").await;
    let id = client.id.to_string();
    assert_refused(introspect_in_form(&app, &id, &client.secret, &token).await, "an API client is no resource server")
        .await;

    assert_eq!(introspect(&app, &server, &token).await["active"], json!(true));
    let deleted = app.cli(&["resource-server", "delete", "--name", "orders"]).await;
    assert_eq!(deleted["deleted"], json!(true));
    let after = post().basic_auth(&server.id, Some(&server.secret)).form(&[("token", &token)]).send().await.unwrap();
    assert_refused(after, "deleted, on the very next request").await;
}

#[tokio::test]
async fn resource_servers_are_listed_without_secrets_names_are_unique_and_a_rotated_secret_replaces_the_old() {
    let Some(app) = super::app().await else { return };
    let server = resource_server(&app, "orders").await;
    let listed = app.cli(&["resource-server", "list"]).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["items"][0]["id"], json!(server.id));
    assert!(!listed.to_string().contains(&server.secret), "never the secret");
    assert_eq!(app.store.resource_servers().await.unwrap().len(), 1);
    let taken = app.store.resource_servers().await.unwrap().remove(0);
    let duplicate = trustgate_core::resource_server::ResourceServer {
        id: trustgate_core::ids::ResourceServerId::generate(),
        ..taken
    };
    let verifier = app.server_key.verifier(&trustgate_core::secret::ClientSecret::generate());
    assert!(matches!(
        app.store.create_resource_server(&duplicate, &verifier).await,
        Err(trustgate_store::StoreError::Conflict(_))
    ));

    let customer = app.customer().await;
    let owner = app.admin(&customer, Access::Full).await;
    let token = app.token(&app.client(&customer, &owner).await).await;
    let rotated = app.cli(&["resource-server", "rotate", "--name", "orders"]).await;
    let fresh = ResourceServer { id: server.id.clone(), secret: rotated["secret"].as_str().unwrap().to_owned() };
    assert_eq!(introspect(&app, &fresh, &token).await["active"], json!(true));
    assert_refused(introspect_in_form(&app, &server.id, &server.secret, &token).await, "the secret before rotation")
        .await;
}
