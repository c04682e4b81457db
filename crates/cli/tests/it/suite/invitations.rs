//! Invitations for local administrators (issue #12): a pending membership grants nothing until
//! the invitee accepts through the one-time link, which expires; Citrix's `pending`,
//! `invitationExpired`, `accessType: Reinvite` and `DELETE /administrators/invitations?email=`.
//! Issue #20: nobody joins a customer without proving control of the identity. The link goes to
//! the invitee's mailbox (or, without a mail server, through the operator: these tests take the
//! operator's link, `operator_invitation_link`), never to the inviter; an existing account joins
//! only by signing in as itself; the page is the same for a known and an unknown e-mail.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use trustgate_core::access::{Access, Permission};
use trustgate_core::event::Actor;
use trustgate_core::ids::{AdminId, CustomerId};
use trustgate_store::StoreError;

use crate::harness::{
    accept_invitation as accept, custom, open_invitation as open, operator_invitation_link, TestAdmin, TestApp,
};

const NEW_PASSWORD: &str = "a brand new passphrase";
const ATTACKER_PASSWORD: &str = "chosen by the other customer";

async fn full_admin_token(app: &TestApp) -> (CustomerId, TestAdmin, String) {
    let customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    let token = app.token(&app.client(&customer, &admin).await).await;
    (customer, admin, token)
}

/// An administrator with `access` in a customer of their own, who signs in with a password.
async fn known_elsewhere(app: &TestApp, access: Access) -> TestAdmin {
    let elsewhere = app.customer().await;
    app.admin_with_password(&elsewhere, access).await
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

/// Customer A's Full administrator invites customer B's Full administrator, who has a password;
/// answers A, B, the invitee and the link, as A came by it: from the API's answer, or else as the
/// operator prints it.
async fn a_invites_bs_full_admin(app: &TestApp) -> (CustomerId, CustomerId, TestAdmin, String) {
    let b = app.customer().await;
    let boss = app.admin_with_password(&b, Access::Full).await;
    let (a, _, token) = full_admin_token(app).await;
    let created = invite(app, &token, &a, &boss.email, "Full").await;
    let link = match created.get("invitationUrl").and_then(Value::as_str) {
        Some(handed) => handed.to_owned(),
        None => link(app, &a, boss.id).await,
    };
    (a, b, boss, link)
}

/// The link to the invitation of `invitee`, as the operator passes it on (the API never answers it).
async fn link(app: &TestApp, customer: &CustomerId, invitee: AdminId) -> String {
    operator_invitation_link(app, customer, invitee).await
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
    assert!(created.get("invitationUrl").is_none(), "the link goes to the mailbox only: {created}");
    let invitee = id(&created);
    let link = link(&app, &customer, invitee).await;
    assert!(link.starts_with(&format!("{}/console/invitation?token=tgi_", app.url)), "{link}");

    let shown = listed(&app, &token, &customer, invitee).await;
    assert_eq!(shown["pending"], true);
    assert!(shown.get("invitationUrl").is_none(), "the link is never listed: {shown}");
    assert_eq!(app.store.standing(&customer, invitee).await.unwrap(), None, "no access while pending");
    assert!(app.store.memberships(invitee).await.unwrap().is_empty(), "no customer in the console while pending");
    let refused = app.try_client(&customer, invitee, "early", 10).await;
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
    let session = app.session_attempt("new.admin@example.com", NEW_PASSWORD).await;
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
    let invitee = id(&created);
    let first = link(&app, &customer, invitee).await;

    let body = json!({ "accessType": "Reinvite" });
    let (status, again) = app
        .call(Method::PUT, &format!("/administrators/access?id={invitee}"), &token, &customer, Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["accessType"], "Custom");
    assert!(again.get("invitationUrl").is_none(), "the new link goes to the mailbox only: {again}");
    assert_eq!(open(&app, &first).await.0, StatusCode::NOT_FOUND, "the previous link stops working");
    let second = link(&app, &customer, invitee).await;
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
    let page = app.console_get(&session, &dialog).await.text().await.unwrap();
    assert!(page.contains("id=\"invitation-delivery\"") && page.contains("sends no e-mail"), "{page}");
    assert!(!page.contains("token=tgi_"), "the console never shows the link: {page}");
    assert_eq!(open(&app, &second).await.0, StatusCode::NOT_FOUND, "replaced again");
    let second = link(&app, &customer, invitee).await;
    assert_eq!(open(&app, &second).await.0, StatusCode::OK, "the operator's new link works: {second}");

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
    let Some(app) = super::app().await else { return };
    let (customer, _, token) = full_admin_token(&app).await;
    let created = invite(&app, &token, &customer, "slow@example.com", "Custom").await;
    let expiring = link(&app, &customer, id(&created)).await;
    app.clock().advance(app.state.config.invitation_lifetime + Duration::from_secs(1));

    let shown = listed(&app, &token, &customer, id(&created)).await;
    assert_eq!((shown["pending"].clone(), shown["invitationExpired"].clone()), (json!(true), json!(true)));
    for _ in 0..2 {
        let (status, page, _) = open(&app, &expiring).await;
        assert_eq!(status, StatusCode::GONE);
        assert!(page.contains("expired") && page.contains("Trustgate"), "explained in the console's page: {page}");
    }
    let expired = app.log_of(&customer, "delegatedadministration:invitation/expire").await;
    assert_eq!(expired.len(), 1, "logged once");
    assert_eq!(expired[0].actor_type, "System");
}

/// Issue #20: someone who already has an account (an administrator of another customer) gets the
/// same page as a new invitee and joins only by giving the account's own password: a wrong one is
/// refused as a failed sign-in and leaves them out; the right one signs them in to the customer.
#[tokio::test]
async fn an_existing_account_joins_only_by_signing_in_as_itself() {
    let Some(app) = super::app().await else { return };
    let known = known_elsewhere(&app, custom(&[Permission::SYSTEM_LOG])).await;
    let (customer, _, token) = full_admin_token(&app).await;
    let created = invite(&app, &token, &customer, &known.email, "Custom").await;
    assert_eq!(created["pending"], true);
    assert_eq!(id(&created), known.id, "the same person");
    assert_eq!(app.store.memberships(known.id).await.unwrap().len(), 1, "not in the new customer yet");

    let session = app.sign_in(&known).await;
    let console = format!("/console/c/{customer}");
    let early = app.console_get(&session, &console).await;
    assert_eq!(early.status(), StatusCode::NOT_FOUND, "the customer is not theirs to see before they accept");

    let link = link(&app, &customer, known.id).await;
    let refused = accept(&app, &link, Some("an attempt to reset it")).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "a wrong password is a failed sign-in");
    assert_eq!(app.store.standing(&customer, known.id).await.unwrap(), None, "still not a member");
    assert_eq!(app.store.memberships(known.id).await.unwrap().len(), 1);

    let accepted = accept(&app, &link, Some(&known.password)).await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    assert_eq!(accepted.headers()["location"], console.as_str());
    let signed_in =
        accepted.headers().get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with("tg_session="));
    assert!(signed_in, "accepting with the account's password signs it in");

    let session = app.sign_in(&known).await;
    let home = app.console_get(&session, &console).await;
    assert_eq!(home.status(), StatusCode::OK, "their own password still works, and the customer is theirs");
    assert_eq!(app.store.memberships(known.id).await.unwrap().len(), 2);
}

/// Issue #20, item 1 (account pre-hijack): A's Full administrator invites an address at B's
/// domain, then B invites the same person, who accepts. Whatever A's side did with the answer,
/// a password A's side chose never signs in, let alone into B.
#[tokio::test]
async fn pre_hijack_a_password_chosen_by_another_customers_inviter_never_grants_access() {
    let Some(app) = super::app().await else { return };
    let (attacker_co, _, attacker) = full_admin_token(&app).await;
    let (victim_co, _, victim) = full_admin_token(&app).await;
    let email = "newhire@b.example";
    let created = invite(&app, &attacker, &attacker_co, email, "Full").await;
    // Before issue #20 the answer carried the link, and its holder chose the account's password.
    let handed = created.get("invitationUrl").and_then(Value::as_str).map(str::to_owned);
    if let Some(link) = &handed {
        accept(&app, link, Some(ATTACKER_PASSWORD)).await;
    }

    let real = invite(&app, &victim, &victim_co, email, "Full").await;
    assert_eq!(real["pending"], true);
    let mailed = link(&app, &victim_co, id(&real)).await;
    let accepted = accept(&app, &mailed, Some(NEW_PASSWORD)).await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER, "the real person accepts B's invitation");

    let attempt = app.session_attempt(email, ATTACKER_PASSWORD).await;
    assert_eq!(attempt.status(), StatusCode::UNAUTHORIZED, "the other customer's password opens nothing");
    assert_eq!(app.session_attempt(email, NEW_PASSWORD).await.status(), StatusCode::OK, "the real person's does");
    assert!(handed.is_none(), "the inviter is never handed a usable link: {created}");
}

/// Issue #20, item 4: the inviter who got hold of the link (forwarded, or from an operator) cannot
/// accept for an existing account: without its password the form refuses, and the person is not
/// a member of the inviter's customer.
#[tokio::test]
async fn an_inviter_cannot_accept_on_someones_behalf() {
    let Some(app) = super::app().await else { return };
    let (a, _, boss, link) = a_invites_bs_full_admin(&app).await;
    let without = accept(&app, &link, None).await;
    assert_ne!(without.status(), StatusCode::SEE_OTHER, "no password, no acceptance");
    assert_eq!(without.status(), StatusCode::BAD_REQUEST);
    let guessed = accept(&app, &link, Some("a guess at the password")).await;
    assert_eq!(guessed.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.store.standing(&a, boss.id).await.unwrap(), None, "boss is not a member of A");
    assert_eq!(app.store.memberships(boss.id).await.unwrap().len(), 1, "only of B");
    assert!(app.log_of(&a, "delegatedadministration:invitation/accept").await.is_empty());
}

/// Issue #20, item 4 (existence oracle): the page behind the link is byte for byte the same for an
/// e-mail that already has an account and one that is new, but for the e-mail, the link's token,
/// the form's token and the expiry shown.
#[tokio::test]
async fn the_invitation_page_is_the_same_whether_or_not_the_email_is_known() {
    let Some(app) = super::app().await else { return };
    let known = known_elsewhere(&app, Access::Full).await;
    let (customer, _, token) = full_admin_token(&app).await;
    let mut pages = Vec::new();
    for email in [known.email.as_str(), "nobody.yet@example.com"] {
        let created = invite(&app, &token, &customer, email, "Custom").await;
        let (status, page, cookie) = open(&app, &link(&app, &customer, id(&created)).await).await;
        assert_eq!(status, StatusCode::OK);
        assert!(cookie.is_some());
        pages.push(normalised(&page, email));
    }
    assert_eq!(pages[0], pages[1], "the page tells nobody whether the e-mail has an account");
    assert!(pages[0].contains("name=\"password_again\""), "{}", pages[0]);
}

/// `page` with the parts that differ between any two invitations replaced by placeholders.
fn normalised(page: &str, email: &str) -> String {
    let mut text = page.replace(email, "<email>");
    for (marker, end) in [("name=\"csrf\" value=\"", "\""), ("name=\"token\" value=\"", "\""), ("until ", ".<")] {
        if let Some(start) = text.find(marker).map(|i| i + marker.len()) {
            let stop = text[start..].find(end).map_or(text.len(), |i| start + i);
            text.replace_range(start..stop, "<varies>");
        }
    }
    text
}

/// Issue #20, item 4: customer A invites B's administrator. Whatever A does with the invitation,
/// A's system log receives nothing of what the person does elsewhere: no sign-in, successful or
/// failed, and no act of theirs in B. It holds A's own act of inviting, and nothing more.
#[tokio::test]
async fn a_customers_system_log_holds_nothing_of_an_invitees_activity_elsewhere() {
    let Some(app) = super::app().await else { return };
    let (a, b, boss, link) = a_invites_bs_full_admin(&app).await;
    accept(&app, &link, None).await;
    accept(&app, &link, Some("a guess at the password")).await;

    app.sign_in(&boss).await;
    let failed = app.session_attempt(&boss.email, "not the password").await;
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    app.client(&b, &boss).await;
    app.state.flush_refusals().await;

    let boss_id = boss.id.to_string();
    let about_boss: Vec<String> = app
        .log(&a)
        .await
        .into_iter()
        .filter(|r| r.actor_id.as_deref() == Some(boss_id.as_str()) || r.target_id == boss_id)
        .map(|r| r.event_type)
        .collect();
    assert!(
        about_boss.iter().all(|t| t.starts_with("delegatedadministration:invitation/")),
        "A's log holds only A's own invitation of them: {about_boss:?}"
    );
    let in_b = app.log_types(&b).await;
    assert!(in_b.iter().any(|t| t == "platform:signin/success"), "B, where they are a member, does: {in_b:?}");
}

/// Issue #20, in the store, under the customer's lock: a link never sets a password on an account
/// that has one (whatever the caller passes), and the operator's direct add never joins an existing
/// account without an invitation.
#[tokio::test]
async fn the_store_never_lets_a_link_or_a_direct_add_take_over_an_existing_account() {
    let Some(app) = super::app().await else { return };
    let known = known_elsewhere(&app, Access::Full).await;
    let (customer, _, token) = full_admin_token(&app).await;
    invite(&app, &token, &customer, &known.email, "Full").await;
    let link = link(&app, &customer, known.id).await;
    let token = link.split("token=").nth(1).expect("a token");
    let verifier = trustgate_server::actions::invitations::invitation_verifier(&app.state, token).expect("a verifier");
    let hash = crate::harness::argon2_hash(ATTACKER_PASSWORD);
    let now = time::OffsetDateTime::now_utc();
    let taken = app.store.accept_invitation(&verifier, Some(&hash), now).await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
    assert_eq!(app.store.standing(&customer, known.id).await.unwrap(), None);
    app.sign_in(&known).await;

    let other = app.customer().await;
    let mut candidate = app.store.admin(known.id).await.unwrap().expect("the account");
    candidate.id = AdminId::generate();
    let added = app.store.add_admin(&other, &candidate, Some(&hash), Access::Full, None, &Actor::System).await;
    assert!(matches!(added, Err(StoreError::Conflict(_))), "{added:?}");
    assert_eq!(app.store.standing(&other, known.id).await.unwrap(), None);
    app.sign_in(&known).await;
}
