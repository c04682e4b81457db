//! R1–R10 of DESIGN.md, each over real HTTP.

use reqwest::{Method, StatusCode};
use serde_json::json;
use trustgate_core::access::{Access, Permission};
use trustgate_core::admin::AdminStatus;
use trustgate_core::customer::DisabledOwnerPolicy;
use trustgate_core::event::Actor;
use trustgate_core::ids::CustomerId;

use crate::harness::{custom, AdminKind, TestAdmin, TestApp};

fn access_body(access_type: &str, policies: &[&str]) -> serde_json::Value {
    let policies: Vec<_> = policies
        .iter()
        .map(|p| json!({"name": p, "serviceName": "Platform", "checkable": {"value": true, "canChangeValue": true}}))
        .collect();
    json!({ "accessType": access_type, "policies": policies })
}

/// An administrator with Full access in both `a` and `b`.
async fn full_in_both(app: &TestApp, a: &CustomerId, b: &CustomerId) -> TestAdmin {
    let owner = app.admin(a, Access::Full).await;
    app.join(b, &owner, Access::Full).await;
    owner
}

#[tokio::test]
async fn r1_a_client_belongs_to_one_owner_in_one_customer() {
    let Some(app) = super::app().await else { return };
    let (a, b) = (app.customer().await, app.customer().await);
    let owner = full_in_both(&app, &a, &b).await;
    let in_a = app.client(&a, &owner).await;
    let in_b = app.client(&b, &owner).await;
    let (token_a, token_b) = (app.token(&in_a).await, app.token(&in_b).await);
    assert_eq!(app.get("/notifications/items", &token_a, &a).await.0, StatusCode::OK);
    assert_eq!(app.get("/notifications/items", &token_a, &b).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/notifications/items", &token_b, &b).await.0, StatusCode::OK);
    // A client cannot be created where its owner is not an administrator.
    let stranger_customer = app.customer().await;
    let created = app.try_client(&stranger_customer, owner.id, "nope", 500).await;
    assert!(created.is_err());
}

#[tokio::test]
async fn r2_the_secret_is_shown_once_and_stored_only_as_a_verifier() {
    let Some(app) = super::app().await else { return };
    let (customer, _, session) = app.customer_with_session(Access::Full).await;
    let path = format!("/api/v1/customers/{customer}/api-clients");
    let (status, created) = app.as_admin(&session, Method::POST, &path, Some(json!({"name": "ci"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("tgs_") && secret.len() > 40);
    let (_, listed) = app.as_admin(&session, Method::GET, &path, None).await;
    assert!(!listed.to_string().contains(&secret), "the list never shows a secret");
    assert_eq!(listed["items"][0]["id"], created["id"]);
    // The database file holds neither the secret nor its random part.
    drop(app.store.ping().await);
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(app.dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap_or_default());
    }
    let haystack = String::from_utf8_lossy(&bytes);
    assert!(!haystack.contains(&secret[4..]), "the secret must not be stored");
    // And the secret it showed works.
    let client = crate::harness::TestClient {
        id: trustgate_core::ids::ClientId::parse(created["id"].as_str().unwrap()).unwrap(),
        secret,
        customer: customer.clone(),
    };
    app.token(&client).await;
}

#[tokio::test]
async fn r3_other_administrators_cannot_see_or_delete_a_client_even_with_full_access() {
    let Some(app) = super::app().await else { return };
    let (customer, owner, other) = app.customer_with_colleagues().await;
    let client = app.client(&customer, &owner).await;
    let session = app.sign_in(&other).await;
    let path = format!("/api/v1/customers/{customer}/api-clients");
    let (status, listed) = app.as_admin(&session, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["items"], json!([]));
    let (status, body) = app.as_admin(&session, Method::DELETE, &format!("{path}/{}", client.id), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    app.token(&client).await;
    // The owner can delete it, and then its token stops working at once.
    let token = app.token(&client).await;
    let owner_session = app.sign_in(&owner).await;
    let (status, _) = app.as_admin(&owner_session, Method::DELETE, &format!("{path}/{}", client.id), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/notifications/items", &token, &customer).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn r4_r5_reducing_the_owner_reduces_tokens_already_issued_and_raising_restores_them() {
    let Some(app) = super::app().await else { return };
    let (customer, _, boss_token) = app.customer_with_token(Access::Full).await;
    let owner = app.admin(&customer, custom(&[Permission::NOTIFICATIONS, Permission::SYSTEM_LOG])).await;
    let token = app.token(&app.client(&customer, &owner).await).await;
    assert_eq!(app.post_notification(&token, &customer).await, StatusCode::OK);

    let path = format!("/administrators/access?id={}", owner.id);
    let (status, body) =
        app.call(Method::PUT, &path, &boss_token, &customer, Some(access_body("Custom", &["systemLog"]))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        app.post_notification(&token, &customer).await,
        StatusCode::FORBIDDEN,
        "the same token is reduced at once"
    );
    assert_eq!(app.get("/systemlog/records", &token, &customer).await.0, StatusCode::OK);

    let (status, _) = app.call(Method::PUT, &path, &boss_token, &customer, Some(access_body("Full", &[]))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.post_notification(&token, &customer).await, StatusCode::OK, "raising the owner raises the client");
}

#[tokio::test]
async fn r6_removing_owner_deletes_their_clients_in_that_customer_only() {
    let Some(app) = super::app().await else { return };
    let (a, b) = (app.customer().await, app.customer().await);
    let boss = app.admin(&a, Access::Full).await;
    let boss_token = app.token(&app.client(&a, &boss).await).await;
    let owner = app.admin(&a, custom(&[Permission::NOTIFICATIONS])).await;
    app.join(&b, &owner, custom(&[Permission::NOTIFICATIONS])).await;
    let in_a = app.client(&a, &owner).await;
    let in_b = app.client(&b, &owner).await;
    let (token_a, token_b) = (app.token(&in_a).await, app.token(&in_b).await);
    assert_eq!(app.post_notification(&token_a, &a).await, StatusCode::OK);

    let (status, _) = app.call(Method::DELETE, &format!("/administrators/{}", owner.id), &boss_token, &a, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.post_notification(&token_a, &a).await, StatusCode::UNAUTHORIZED, "its token fails on the next call");
    let id = in_a.id.to_string();
    let (status, body) = app
        .oauth("root", &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &in_a.secret)])
        .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client")));
    assert!(app.store.clients_of(&a, owner.id).await.unwrap().is_empty());
    assert_eq!(
        app.post_notification(&token_b, &b).await,
        StatusCode::OK,
        "the client in the other customer keeps working"
    );
    app.token(&in_b).await;
}

#[tokio::test]
async fn r6_deleting_an_administrator_deletes_all_their_clients() {
    let Some(app) = super::app().await else { return };
    let (a, b) = (app.customer_with_full_admin().await, app.customer_with_full_admin().await);
    let owner = full_in_both(&app, &a, &b).await;
    let (in_a, in_b) = (app.client(&a, &owner).await, app.client(&b, &owner).await);
    let (token_a, token_b) = (app.token(&in_a).await, app.token(&in_b).await);
    let deleted = app.store.delete_admin(owner.id, &Actor::System).await.unwrap();
    assert_eq!(deleted, 2);
    assert_eq!(app.post_notification(&token_a, &a).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.post_notification(&token_b, &b).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn r7_a_disabled_federated_owners_clients_remain_active_unless_the_customer_suspends_them() {
    let Some(app) = super::app().await else { return };
    let (customer, owner, client) = app.customer_with_client_of(AdminKind::Federated, Access::Full).await;
    let token = app.token(&client).await;
    app.store.set_admin_status(owner.id, AdminStatus::Disabled, &Actor::System).await.unwrap();
    assert_eq!(app.post_notification(&token, &customer).await, StatusCode::OK, "Citrix behaviour: still active");
    app.token(&client).await;
    assert!(app.log_types(&customer).await.contains(&"delegatedadministration:administrator/disable".to_owned()));

    app.store.set_disabled_owner_policy(&customer, DisabledOwnerPolicy::SuspendClients, &Actor::System).await.unwrap();
    assert!(
        app.log_types(&customer).await.contains(&"platform:customer/update".to_owned()),
        "the policy change is logged (R10)"
    );
    assert_eq!(
        app.post_notification(&token, &customer).await,
        StatusCode::FORBIDDEN,
        "suspended by the stricter policy"
    );
    let (status, body) = app.grant(&client).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unauthorized_client")));

    app.store.set_admin_status(owner.id, AdminStatus::Active, &Actor::System).await.unwrap();
    assert_eq!(app.post_notification(&token, &customer).await, StatusCode::OK, "enabled again, the client works again");
}

#[tokio::test]
async fn r8_an_admin_without_the_api_clients_right_cannot_create_clients() {
    let Some(app) = super::app().await else { return };
    let (customer, _, session) = app.customer_with_session(custom(&[Permission::NOTIFICATIONS])).await;
    let path = format!("/api/v1/customers/{customer}/api-clients");
    let (status, body) = app.as_admin(&session, Method::POST, &path, Some(json!({"name": "ci"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["type"], "https://errors-api.cloud.com/common/authorization");
    assert_eq!(app.as_admin(&session, Method::GET, &path, None).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn r9_tokens_live_one_hour_without_refresh_tokens() {
    let Some(app) = super::app().await else { return };
    let (_, _, client) = app.customer_with_client(Access::Full).await;
    let body: serde_json::Value = app.legacy_token(&client).await.json().await.unwrap();
    assert_eq!(body["expiresIn"], 3600);
    assert!(body.get("refresh_token").is_none() && body.get("refreshToken").is_none());
}

#[tokio::test]
async fn r10_every_lifecycle_event_is_in_the_customers_system_log_with_its_actor() {
    let Some(app) = super::app().await else { return };
    let (customer, boss, boss_client) = app.customer_with_client_of(AdminKind::WithPassword, Access::Full).await;
    let boss_token = app.token(&boss_client).await;
    let owner = app.admin(&customer, custom(&[Permission::NOTIFICATIONS])).await;
    let client = app.client(&customer, &owner).await;
    let id = client.id.to_string();
    app.oauth("root", &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", "tgs_wrong")])
        .await;
    let path = format!("/administrators/access?id={}", owner.id);
    app.call(Method::PUT, &path, &boss_token, &customer, Some(access_body("Custom", &["systemLog"]))).await;
    app.call(Method::DELETE, &format!("/administrators/{}", owner.id), &boss_token, &customer, None).await;
    let wrong = crate::harness::TestAdmin { password: "wrong password here".to_owned(), ..boss.clone() };
    assert_eq!(app.session_attempt(&wrong.email, &wrong.password).await.status(), StatusCode::UNAUTHORIZED);

    let (status, page) = app.get("/systemlog/records?Limit=200", &boss_token, &customer).await;
    assert_eq!(status, StatusCode::OK);
    let records = page["items"].as_array().unwrap();
    let find = |event: &str| records.iter().filter(|r| r["eventType"] == event).cloned().collect::<Vec<_>>();
    assert_eq!(find("platform:secureclient/create").len(), 2);
    assert_eq!(find("delegatedadministration:administrator/create").len(), 2);
    assert_eq!(find("platform:token/failure").len(), 1);
    assert_eq!(find("platform:signin/failure").len(), 1);
    let changed = &find("delegatedadministration:administrator/update")[0];
    assert_eq!(changed["actorType"], "SecureClient");
    assert_eq!(changed["actorId"], json!(boss_client.id.to_string()));
    assert_eq!(changed["afterChanges"]["policies"], json!(["systemLog"]));
    let cascaded = &find("platform:secureclient/delete")[0];
    assert_eq!(cascaded["targetId"], json!(id));
    assert_eq!(cascaded["actorId"], json!(boss_client.id.to_string()));
    assert!(cascaded["message"]["en-US"].as_str().unwrap().contains("owner was removed"));
    assert_eq!(find("delegatedadministration:administrator/delete").len(), 1);
    assert!(!page.to_string().contains(&client.secret[4..]), "secrets never reach the system log");
}
