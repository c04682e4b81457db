//! The management API: sessions, CSRF, and the OpenAPI document that describes it.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use trustgate_core::access::Access;
use trustgate_core::event::Actor;

use crate::harness::status_and_json;

#[tokio::test]
async fn sign_in_sets_a_hardened_cookie_and_wrong_passwords_get_401() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    let response = app.session_attempt(&admin.email, &admin.password).await;
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["customers"][0]["id"], json!(customer.as_str()));
    for (email, password) in [(admin.email.as_str(), "wrong password!"), ("nobody@example.com", "whatever password")] {
        assert_eq!(app.session_attempt(email, password).await.status(), StatusCode::UNAUTHORIZED);
    }
    let response = app.post_json("/api/v1/session", &json!({"email": "x"})).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn state_changing_requests_need_the_csrf_token_and_sign_out_ends_the_session() {
    let Some(app) = super::app().await else { return };
    let (customer, admin, session) = app.customer_with_session(Access::Full).await;
    let path = format!("/api/v1/customers/{customer}/api-clients");
    let response = app
        .http
        .post(app.url(&path))
        .header("cookie", &session.cookie)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let (status, body) = app.as_admin(&session, Method::POST, &path, Some(json!({"name": ""}))).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (StatusCode::BAD_REQUEST, Some("https://errors-api.cloud.com/common/missing"))
    );
    let (status, _) = app.as_admin(&session, Method::POST, &path, Some(json!({"name": "n".repeat(101)}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(app.store.clients_of(&customer, admin.id).await.unwrap().is_empty(), "no partial writes");
    assert_eq!(app.as_admin(&session, Method::DELETE, "/api/v1/session", None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.as_admin(&session, Method::GET, "/api/v1/session", None).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_admin_removed_from_a_customer_loses_it_at_once() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer_with_full_admin().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    // Still an administrator elsewhere, so the session goes on (removal from the last customer ends it).
    app.join(&app.customer().await, &admin, Access::Full).await;
    let session = app.sign_in(&admin).await;
    let path = format!("/api/v1/customers/{customer}/api-clients");
    assert_eq!(app.as_admin(&session, Method::GET, &path, None).await.0, StatusCode::OK);
    app.store.remove_member(&customer, admin.id, &Actor::System).await.unwrap();
    assert_eq!(app.as_admin(&session, Method::GET, &path, None).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_route_in_the_openapi_document_is_served() {
    let Some(app) = super::app().await else { return };
    let spec: Value = app.http.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.len() >= 12, "the document lists the routes");
    for (path, operations) in paths {
        let concrete = path.replace("{customer}", "acme").replace("{id}", "6c1e2b8e-0000-4000-8000-000000000000");
        for method in operations.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (status, body) =
                status_and_json(app.http.request(method.clone(), app.url(&concrete)).send().await.unwrap()).await;
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            let unrouted = status == StatusCode::NOT_FOUND && body["detail"] == "The route was not found.";
            assert!(!unrouted, "{method} {path} is documented but not served");
        }
    }
}

/// The cap on API clients per owner and customer holds on every front door, with a machine-readable 409.
#[tokio::test]
async fn an_owner_holds_at_most_the_configured_number_of_clients_in_a_customer() {
    let Some(app) = super::app().await else { return };
    let cap = trustgate_server::ServerConfig::default().max_clients_per_owner;
    let customer = app.customer().await;
    let other_customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    app.join(&other_customer, &admin, Access::Full).await;
    for n in 1..cap {
        app.try_client(&customer, admin.id, &format!("script {n}"), cap).await.unwrap();
    }
    let session = app.sign_in(&admin).await;
    let create = |customer: String| {
        let session = &session;
        let app = &app;
        async move {
            app.as_admin(
                session,
                Method::POST,
                &format!("/api/v1/customers/{customer}/api-clients"),
                Some(json!({"name": "one more"})),
            )
            .await
        }
    };
    let (status, body) = create(customer.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "the {cap}th client is allowed: {body}");
    let (status, body) = create(customer.to_string()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["type"], "https://errors-api.cloud.com/common/refused");
    assert_eq!(body["parameters"][0], json!({"name": "reason", "value": "clientLimit"}));

    let form = [("name", "from the console"), ("csrf", session.csrf.as_str())];
    let response = app.console_post(&session, &format!("/console/c/{customer}/api-access"), &form).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(response.text().await.unwrap().contains(&format!("at most {cap} API clients")));

    let owned = app.store.clients_of(&customer, admin.id).await.unwrap().len();
    assert_eq!(owned as u64, cap);
    let (status, _) = create(other_customer.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "the cap counts per customer");
}

/// The console refuses a second client of a name its owner already holds in the customer, even
/// when the forms arrive at once (a double click, two tabs): the names are read under the
/// customer's lock in the transaction that creates the client, so exactly one is made.
#[tokio::test]
async fn console_creations_of_one_name_at_once_make_exactly_one_client() {
    let Some(app) = super::app().await else { return };
    let (customer, admin, session) = app.customer_with_session(Access::Full).await;
    // A browser's view: the redirect to the new secret is the answer, not followed.
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let create = |name: &'static str| {
        let form = serde_urlencoded::to_string([("name", name), ("csrf", session.csrf.as_str())]).unwrap();
        browser
            .post(app.url(&format!("/console/c/{customer}/api-access")))
            .header("cookie", &session.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
    };
    let answers = tokio::join!(create("Nightly"), create("nightly"), create("NIGHTLY"), create("Nightly"));
    let mut created = 0;
    for answer in [answers.0, answers.1, answers.2, answers.3] {
        let answer = answer.unwrap();
        match answer.status() {
            StatusCode::SEE_OTHER => created += 1,
            StatusCode::CONFLICT => {
                assert!(answer.text().await.unwrap().contains("You already have an API client named"));
            }
            other => panic!("neither created nor refused: {other}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(app.store.clients_of(&customer, admin.id).await.unwrap().len(), 1);
}

/// Issue #21: a request that has begun a write runs to completion and its answer says what it did.
/// With a write timeout far shorter than a write takes, each creation used to commit and still
/// answer 503, so a client existed whose secret nobody was ever shown.
#[tokio::test]
async fn a_write_slower_than_the_write_timeout_completes_and_answers_what_it_did() {
    let mut config = trustgate_server::ServerConfig::default();
    config.connections.write_timeout = std::time::Duration::from_millis(1);
    let Some(app) = super::app_with(config).await else { return };
    let customer = app.customer().await;
    let admin = app.admin(&customer, Access::Full).await;
    let session = app.session_for(&admin).await;
    let path = format!("/api/v1/customers/{customer}/api-clients");
    for n in 0..20 {
        let (status, body) =
            app.as_admin(&session, Method::POST, &path, Some(json!({ "name": format!("script {n}") }))).await;
        assert_eq!(status, StatusCode::CREATED, "creation {n}: {body}");
        assert!(body["secret"].is_string(), "{body}");
    }
    assert_eq!(app.store.clients_of(&customer, admin.id).await.unwrap().len(), 20);
}

/// Issue #21, item 11: the console refused a second client of one name for one owner, but the
/// management API answered 201 twice and the CLI created it twice. One rule (`lifecycle::
/// name_client`, case ignored), checked in the creating transaction, on every front door.
#[tokio::test]
async fn a_second_client_of_one_name_for_one_owner_is_refused_by_the_api_and_the_cli_too() {
    let Some(app) = super::app().await else { return };
    let (customer, admin, colleague) = app.customer_with_colleagues().await;
    let session = app.sign_in(&admin).await;
    let path = format!("/api/v1/customers/{customer}/api-clients");
    let create = |name: &str| app.as_admin(&session, Method::POST, &path, Some(json!({ "name": name })));
    let (status, body) = create("Nightly").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for again in ["Nightly", "NIGHTLY"] {
        let (status, body) = create(again).await;
        assert_eq!(status, StatusCode::CONFLICT, "{again}: {body}");
        assert_eq!(body["type"], "https://errors-api.cloud.com/common/refused");
        assert_eq!(body["parameters"][0], json!({"name": "reason", "value": "nameTaken"}));
        assert!(body["detail"].as_str().unwrap_or_default().contains("already has an API client named"), "{body}");
    }

    let by_cli = ["client", "create", "--customer", customer.as_str(), "--admin", admin.email.as_str()];
    let (code, failure) = app.cli_fails(&[&by_cli[..], &["--name", "nightly"]].concat()).await;
    assert_eq!((code, &failure["error"]), (3, &json!("invalid")), "{failure}");
    assert!(failure["message"].as_str().unwrap().contains("already has an API client named"), "{failure}");
    let created = app.cli(&[&by_cli[..], &["--name", "weekly"]].concat()).await;
    assert_eq!(created["name"], "weekly");
    let (code, _) = app.cli_fails(&[&by_cli[..], &["--name", "Weekly"]].concat()).await;
    assert_eq!(code, 3, "a name made by the CLI is refused to the CLI too");
    let (status, _) = create("weekly").await;
    assert_eq!(status, StatusCode::CONFLICT, "and to the API");

    let names: Vec<String> =
        app.store.clients_of(&customer, admin.id).await.unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // Another owner may use the name.
    let theirs = app.sign_in(&colleague).await;
    let (status, _) = app.as_admin(&theirs, Method::POST, &path, Some(json!({ "name": "Nightly" }))).await;
    assert_eq!(status, StatusCode::CREATED);
}
