//! Sessions end with the standing they were opened with (issue #8): changing an administrator's
//! password, disabling or deleting them ends their console and API sessions at once, as does
//! removing them from their last customer. Removed from one of several customers, their session
//! goes on without that customer.

use reqwest::{Method, StatusCode};
use trustgate_core::access::Access;
use trustgate_core::ids::CustomerId;

use crate::harness::{Session, TestApp};

/// What a session cookie gets now: the management API's status, and the console's status with
/// where it redirects.
async fn standing_of(app: &TestApp, session: &Session, customer: &CustomerId) -> (StatusCode, StatusCode, String) {
    let api = app.as_admin(session, Method::GET, "/api/v1/session", None).await.0;
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let console = no_redirects
        .get(app.url(&format!("/console/c/{customer}")))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    // Without the `?next=` back to the page, which the console tests check.
    let location = console.headers().get("location").map(|l| l.to_str().unwrap()).unwrap_or_default();
    let location = location.split('?').next().unwrap_or_default().to_owned();
    (api, console.status(), location)
}

fn signed_in() -> (StatusCode, StatusCode, String) {
    (StatusCode::OK, StatusCode::OK, String::new())
}

fn signed_out() -> (StatusCode, StatusCode, String) {
    (StatusCode::UNAUTHORIZED, StatusCode::SEE_OTHER, "/console/sign-in".to_owned())
}

#[tokio::test]
async fn changing_a_password_ends_that_administrators_sessions_at_once() {
    let Some(app) = super::app().await else { return };
    let (customer, admin, colleague) = app.customer_with_colleagues().await;
    let (first, second, theirs) = (app.sign_in(&admin).await, app.sign_in(&admin).await, app.sign_in(&colleague).await);
    assert_eq!(standing_of(&app, &first, &customer).await, signed_in());

    app.cli(&["admin", "set-password", "--admin", &admin.email]).await;
    assert_eq!(standing_of(&app, &first, &customer).await, signed_out());
    assert_eq!(standing_of(&app, &second, &customer).await, signed_out());
    assert_eq!(standing_of(&app, &theirs, &customer).await, signed_in(), "other administrators stay signed in");
    let renewed = crate::harness::TestAdmin { password: "another horse battery staple".to_owned(), ..admin };
    let again = app.sign_in(&renewed).await;
    assert_eq!(standing_of(&app, &again, &customer).await, signed_in(), "the new password signs in");
}

#[tokio::test]
async fn disabling_a_federated_administrator_ends_their_sessions_at_once() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let federated = app.federated_admin(&customer, Access::Full).await;
    app.admin(&customer, Access::Full).await;
    let session = app.session_for(&federated).await;
    assert_eq!(standing_of(&app, &session, &customer).await, signed_in());
    app.cli(&["admin", "disable", "--admin", &federated.email]).await;
    assert_eq!(standing_of(&app, &session, &customer).await, signed_out());
    app.cli(&["admin", "enable", "--admin", &federated.email]).await;
    assert_eq!(standing_of(&app, &session, &customer).await, signed_out(), "enabling again does not revive it");
}

#[tokio::test]
async fn removing_an_administrator_from_their_only_customer_over_the_api_ends_their_sessions() {
    let Some(app) = super::app().await else { return };
    let (customer, _, token) = app.customer_with_token(Access::Full).await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    let session = app.sign_in(&admin).await;
    assert_eq!(standing_of(&app, &session, &customer).await, signed_in());
    let (status, _) = app.call(Method::DELETE, &format!("/administrators/{}", admin.id), &token, &customer, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(standing_of(&app, &session, &customer).await, signed_out());
}

#[tokio::test]
async fn removed_from_one_of_several_customers_an_administrator_keeps_a_session_without_it() {
    let Some(app) = super::app().await else { return };
    let (a, b) = (app.customer_with_full_admin().await, app.customer_with_full_admin().await);
    let admin = app.admin_with_password(&a, Access::Full).await;
    app.join(&b, &admin, Access::Full).await;
    let session = app.sign_in(&admin).await;
    app.cli(&["admin", "remove", "--customer", a.as_str(), "--admin", &admin.email]).await;
    assert_eq!(standing_of(&app, &session, &b).await, signed_in());
    let (api, console, _) = standing_of(&app, &session, &a).await;
    assert_eq!((api, console), (StatusCode::OK, StatusCode::NOT_FOUND), "customer A is gone from the session");
    let (_, whoami) = app.as_admin(&session, Method::GET, "/api/v1/session", None).await;
    let customers: Vec<&str> =
        whoami["customers"].as_array().unwrap().iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(customers, vec![b.as_str()]);

    app.cli(&["admin", "remove", "--customer", b.as_str(), "--admin", &admin.email]).await;
    assert_eq!(standing_of(&app, &session, &b).await.0, StatusCode::UNAUTHORIZED, "the last customer ends it");
}

#[tokio::test]
async fn deleting_an_administrator_ends_their_sessions_at_once() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer_with_full_admin().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    let session = app.sign_in(&admin).await;
    app.cli(&["admin", "delete", "--admin", &admin.email]).await;
    assert_eq!(standing_of(&app, &session, &customer).await, signed_out());
}
