//! Invitations for local administrators (issue #12): a pending membership grants nothing until
//! the invitee accepts through the one-time link, which expires; Citrix's `pending`,
//! `invitationExpired`, `accessType: Reinvite` and `DELETE /administrators/invitations?email=`.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use trustgate_core::access::{Access, Permission};
use trustgate_core::event::Actor;
use trustgate_core::ids::{AdminId, CustomerId};
use trustgate_server::ServerConfig;
use trustgate_store::StoreError;

use crate::harness::{accept_invitation as accept, custom, open_invitation as open, TestAdmin, TestApp};

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn full_admin_token(app: &TestApp) -> (CustomerId, TestAdmin, String) {
    let customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    let token = app.token(&app.client(&customer, &admin).await).await;
    (customer, admin, token)
}

async fn invite(app: &TestApp, token: &str, customer: &CustomerId, email: &str, access: &str) -> Value {
    let mut body =
        json!({ "accessType": access, "providerType": "CitrixSts", "type": "AdministratorUser", "email": email });
    if access == "Custom" {
        body["policies"] =
            json!([{ "name": "notifications", "serviceName": "Platform", "checkable": { "value": true } }]);
    }
    let (status, created) = app.call(Method::POST, "/administrators/$create", token, customer, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    created
}

fn url(created: &Value) -> String {
    created["invitationUrl"].as_str().expect("an invitation link").to_owned()
}

fn id(created: &Value) -> AdminId {
    AdminId::parse(created["userId"].as_str().expect("userId")).expect("an admin id")
}

async fn listed(app: &TestApp, token: &str, customer: &CustomerId, id: AdminId) -> Value {
    let (status, page) = app.get(&format!("/administrators?id={id}"), token, customer).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"][0].clone()
}

#[tokio::test]
async fn an_invited_local_administrator_holds_nothing_until_they_accept() {
    let Some(app) = super::app().await else { return };
    let (customer, _, token) = full_admin_token(&app).await;
    let created = invite(&app, &token, &customer, "new.admin@example.com", "Custom").await;
    assert_eq!((created["pending"].clone(), created["invitationExpired"].clone()), (json!(true), json!(false)));
    let link = url(&created);
    assert!(link.starts_with(&format!("{}/console/invitation?token=tgi_", app.url)), "{link}");
    let invitee = id(&created);

    let shown = listed(&app, &token, &customer, invitee).await;
    assert_eq!(shown["pending"], true);
    assert!(shown.get("invitationUrl").is_none(), "the link is shown only once: {shown}");
    assert_eq!(app.store.standing(&customer, invitee).await.unwrap(), None, "no access while pending");
    assert!(app.store.memberships(invitee).await.unwrap().is_empty(), "no customer in the console while pending");
    let owner = app.store.admin(invitee).await.unwrap().unwrap();
    let refused = trustgate_server::ops::new_client(
        app.store.as_ref(),
        &app.server_key,
        &customer,
        &owner,
        "early",
        10,
        &Actor::System,
    )
    .await;
    assert!(refused.is_err(), "a pending invitee cannot own an API client");

    let accepted = accept(&app, &link, Some(NEW_PASSWORD)).await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    assert_eq!(accepted.headers()["location"], format!("/console/c/{customer}").as_str());
    let signed_in =
        accepted.headers().get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with("tg_session="));
    assert!(signed_in, "accepting signs the new administrator in");

    let shown = listed(&app, &token, &customer, invitee).await;
    assert_eq!((shown["pending"].clone(), shown["accessType"].clone()), (json!(false), json!("Custom")));
    let standing = app.store.standing(&customer, invitee).await.unwrap().expect("a member now");
    assert_eq!(standing.access, custom(&[Permission::NOTIFICATIONS]));
    let session = app
        .http
        .post(app.url("/api/v1/session"))
        .json(&json!({ "email": "new.admin@example.com", "password": NEW_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(session.status(), StatusCode::OK, "they sign in with the password they chose");

    let (status, page, _) = open(&app, &link).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("used already"), "a used link explains itself: {page}");

    let sent = app.log_of(&customer, "delegatedadministration:invitation/create").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].actor_type, "SecureClient");
    let accepted = app.log_of(&customer, "delegatedadministration:invitation/accept").await;
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].actor_id, Some(invitee.to_string()), "the invitee accepted");
}

#[tokio::test]
async fn a_new_federated_administrator_is_not_invited() {
    let Some(app) = super::app().await else { return };
    let (customer, _, token) = full_admin_token(&app).await;
    let body = json!({ "accessType": "Full", "providerType": "AzureAd", "type": "AdministratorUser",
                       "email": "fed@example.com", "externalUserId": "aad-1" });
    let (status, created) = app.call(Method::POST, "/administrators/$create", &token, &customer, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["pending"], false);
    assert!(created.get("invitationUrl").is_none());
}

#[tokio::test]
async fn a_pending_full_invitation_is_not_a_full_administrator() {
    let Some(app) = super::app().await else { return };
    let (customer, admin, token) = full_admin_token(&app).await;
    invite(&app, &token, &customer, "second.full@example.com", "Full").await;
    let refused = app.store.remove_member(&customer, admin.id, &Actor::System).await;
    assert!(
        matches!(refused, Err(StoreError::Refused(trustgate_core::lifecycle::Refusal::LastFullAdmin))),
        "the only Full administrator who holds it stays: {refused:?}"
    );
    let lowered = app.store.set_access(&customer, admin.id, custom(&[Permission::SYSTEM_LOG]), &Actor::System).await;
    assert!(lowered.is_err(), "nor is their access lowered");
}

#[tokio::test]
async fn reinvite_replaces_the_link_and_deleting_the_invitation_cancels_it() {
    let Some(app) = super::app().await else { return };
    let (customer, admin, token) = full_admin_token(&app).await;
    let created = invite(&app, &token, &customer, "later@example.com", "Custom").await;
    let (first, invitee) = (url(&created), id(&created));

    let body = json!({ "accessType": "Reinvite" });
    let (status, again) = app
        .call(Method::PUT, &format!("/administrators/access?id={invitee}"), &token, &customer, Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["accessType"], "Custom");
    let second = url(&again);
    assert_ne!(first, second);
    assert_eq!(open(&app, &first).await.0, StatusCode::NOT_FOUND, "the previous link stops working");
    assert_eq!(open(&app, &second).await.0, StatusCode::OK);

    let session = app.sign_in(&admin).await;
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let resent = no_redirects
        .post(app.url(&format!("/console/c/{customer}/administrators/{invitee}/reinvite")))
        .header("cookie", &session.cookie)
        .form(&[("csrf", session.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resent.status(), StatusCode::SEE_OTHER, "the console re-invites too");
    let dialog = resent.headers()["location"].to_str().unwrap().to_owned();
    let page =
        app.http.get(app.url(&dialog)).header("cookie", &session.cookie).send().await.unwrap().text().await.unwrap();
    let marker = "id=\"invitation-link\" aria-labelledby=\"link-label\">";
    let start = page.find(marker).expect("the link dialog") + marker.len();
    let third = page[start..].split('<').next().unwrap().to_owned();
    assert_eq!(open(&app, &second).await.0, StatusCode::NOT_FOUND, "replaced again");
    let second = third;
    assert_eq!(open(&app, &second).await.0, StatusCode::OK, "the console's new link works: {second}");

    let (status, refused) =
        app.call(Method::PUT, &format!("/administrators/access?id={}", admin.id), &token, &customer, Some(body)).await;
    assert_eq!(status, StatusCode::CONFLICT, "only a pending administrator is re-invited: {refused}");

    let (status, deleted) =
        app.call(Method::DELETE, "/administrators/invitations?email=Later@example.com", &token, &customer, None).await;
    assert_eq!((status, deleted), (StatusCode::OK, json!(true)));
    let (_, page) = app.get(&format!("/administrators?id={invitee}"), &token, &customer).await;
    assert_eq!(page["items"], json!([]));
    assert_eq!(open(&app, &second).await.0, StatusCode::NOT_FOUND, "a cancelled invitation's link is dead");
    assert!(app.store.admin(invitee).await.unwrap().is_none(), "an invitee who never accepted is forgotten");
    let (status, _) =
        app.call(Method::DELETE, "/administrators/invitations?email=later@example.com", &token, &customer, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let types = app.log_types(&customer).await;
    for event in ["invitation/create", "invitation/resend", "invitation/delete"] {
        assert!(types.iter().any(|t| t.ends_with(event)), "{event} in {types:?}");
    }
}

#[tokio::test]
async fn an_expired_invitation_explains_itself_and_its_expiry_is_logged_once() {
    let config = ServerConfig { invitation_lifetime: Duration::from_secs(1), ..ServerConfig::default() };
    let Some(app) = super::app_with(config).await else { return };
    let (customer, _, token) = full_admin_token(&app).await;
    let created = invite(&app, &token, &customer, "slow@example.com", "Custom").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let shown = listed(&app, &token, &customer, id(&created)).await;
    assert_eq!((shown["pending"].clone(), shown["invitationExpired"].clone()), (json!(true), json!(true)));
    for _ in 0..2 {
        let (status, page, _) = open(&app, &url(&created)).await;
        assert_eq!(status, StatusCode::GONE);
        assert!(page.contains("expired") && page.contains("Trustgate"), "explained in the console's page: {page}");
    }
    let expired = app.log_of(&customer, "delegatedadministration:invitation/expire").await;
    assert_eq!(expired.len(), 1, "logged once");
    assert_eq!(expired[0].actor_type, "System");
}

#[tokio::test]
async fn an_administrator_of_another_customer_accepts_without_a_new_password() {
    let Some(app) = super::app().await else { return };
    let elsewhere = app.customer().await;
    let known = app.admin_with_password(&elsewhere, custom(&[Permission::SYSTEM_LOG])).await;
    let (customer, _, token) = full_admin_token(&app).await;
    let created = invite(&app, &token, &customer, &known.email, "Custom").await;
    assert_eq!(created["pending"], true);
    assert_eq!(id(&created), known.id, "the same person");
    assert_eq!(app.store.memberships(known.id).await.unwrap().len(), 1, "not in the new customer yet");

    let session = app.sign_in(&known).await;
    let console = format!("/console/c/{customer}");
    let early = app.http.get(app.url(&console)).header("cookie", &session.cookie).send().await.unwrap();
    assert_eq!(early.status(), StatusCode::NOT_FOUND, "the customer is not theirs to see before they accept");

    let (_, page, _) = open(&app, &url(&created)).await;
    assert!(!page.contains("name=\"password\""), "no password to choose: {page}");
    let accepted = accept(&app, &url(&created), Some("an attempt to reset it")).await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    assert_eq!(accepted.headers()["location"], format!("/console/sign-in?next=/console/c/{customer}").as_str());

    let session = app.sign_in(&known).await;
    let home = app.http.get(app.url(&console)).header("cookie", &session.cookie).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK, "their own password still works, and the customer is theirs");
    assert_eq!(app.store.memberships(known.id).await.unwrap().len(), 2);
}
