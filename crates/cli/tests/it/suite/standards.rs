//! OAuth standards beside Citrix's shapes: discovery (RFC 8414, OpenID Connect Discovery), the
//! issuer and audience of tokens, and revocation (RFC 7009).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};
use time::OffsetDateTime;
use trustgate_core::access::Access;
use trustgate_core::token::{Claims, Issuer, TokenUse};

use crate::harness::{claims_of, status_and_json, with_client, TestApp, TestClient, FORM};
use crate::observability::scrape;

async fn app_with_client() -> Option<(TestApp, TestClient)> {
    with_client(super::app().await).await
}

/// `POST /oauth2/revoke` with the client's credentials in the body.
async fn revoke(app: &TestApp, client: &TestClient, token: &str) -> (StatusCode, Value) {
    let form = [("token", token), ("token_type_hint", "access_token"), ("client_id", &client.id.to_string())];
    let body = format!("{}&client_secret={}", serde_urlencoded::to_string(form).unwrap(), client.secret);
    status_and_json(app.post_raw("/oauth2/revoke", FORM, body).await).await
}

/// A client of another owner in `client`'s customer.
async fn another_owners_client(app: &TestApp, client: &TestClient) -> TestClient {
    let owner = app.admin(&client.customer, Access::Full).await;
    app.client(&client.customer, &owner).await
}

async fn works(app: &TestApp, token: &str, client: &TestClient) -> StatusCode {
    app.get("/notifications/items", token, &client.customer).await.0
}

#[tokio::test]
async fn both_discovery_documents_name_the_issuer_and_where_its_endpoints_are() {
    let Some(app) = super::app().await else { return };
    for path in ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
        let (status, doc) = status_and_json(app.http.get(app.url(path)).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(doc["issuer"], json!(app.url), "{path}: the issuer is the public URL");
        assert_eq!(doc["token_endpoint"], json!(app.url("/cctrustoauth2/root/tokens/clients")));
        assert_eq!(doc["revocation_endpoint"], json!(app.url("/oauth2/revoke")));
        assert_eq!(doc["grant_types_supported"], json!(["client_credentials"]));
        let methods = json!(["client_secret_basic", "client_secret_post"]);
        assert_eq!(doc["token_endpoint_auth_methods_supported"], methods);
        assert_eq!(doc["revocation_endpoint_auth_methods_supported"], methods);
        assert_eq!(doc["introspection_endpoint"], json!(app.url("/oauth2/introspect")));
        assert_eq!(doc["introspection_endpoint_auth_methods_supported"], methods);
        assert!(doc["response_types_supported"].is_array(), "OpenID Connect Discovery requires the field");
        assert_eq!(doc["subject_types_supported"], json!(["public"]));
        let jwks: Value = app.http.get(doc["jwks_uri"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
        let alg = &jwks["keys"][0]["alg"];
        assert_eq!(doc["id_token_signing_alg_values_supported"], json!([alg]), "the algorithm the keys sign with");
        assert_eq!(doc["token_endpoint_auth_signing_alg_values_supported"], json!([alg]));
    }
}

#[tokio::test]
async fn tokens_carry_the_issuer_and_audience_and_others_are_refused() {
    let Some((app, client)) = app_with_client().await else { return };
    let token = app.token(&client).await;
    let claims = claims_of(&token);
    assert_eq!((&claims["iss"], &claims["aud"]), (&json!(app.url), &json!("https://api.trustgate.test")));
    assert_eq!(works(&app, &token, &client).await, StatusCode::OK);

    // Signed with this server's own key, so only the issuer and audience are wrong.
    let keys = app.key_set().await;
    let owner = app.store.client_grant(client.id).await.unwrap().unwrap().client.owner();
    let elsewhere = |url: &str, audience: &str| {
        let issuer = Issuer { url: url.to_owned(), audience: audience.to_owned() };
        let now = OffsetDateTime::now_utc();
        keys.sign(&Claims::new(&issuer, client.id, owner, client.customer.clone(), now, TokenUse::Access)).unwrap()
    };
    let other_issuer = elsewhere("https://other.example.com", "https://api.trustgate.test");
    assert_eq!(works(&app, &other_issuer, &client).await, StatusCode::UNAUTHORIZED);
    let other_audience = elsewhere(&app.url, "https://another-api.example.com");
    assert_eq!(works(&app, &other_audience, &client).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_client_revokes_its_own_token_and_that_token_alone_is_refused_at_once() {
    let Some((app, client)) = app_with_client().await else { return };
    let revoked = app.token(&client).await;
    let kept = app.token(&client).await;
    assert_eq!(works(&app, &revoked, &client).await, StatusCode::OK, "verified, and remembered as verified");

    let response = revoke(&app, &client, &revoked).await;
    assert_eq!(response, (StatusCode::OK, Value::Null), "RFC 7009 §2.2: 200 with no body");
    assert_eq!(works(&app, &revoked, &client).await, StatusCode::UNAUTHORIZED);
    assert_eq!(works(&app, &kept, &client).await, StatusCode::OK, "the client's other tokens keep working");
    assert_eq!(revoke(&app, &client, &revoked).await.0, StatusCode::OK, "revoking twice is no error");
    assert_eq!(works(&app, &app.token(&client).await, &client).await, StatusCode::OK, "it simply asks again");
}

#[tokio::test]
async fn revocation_accepts_http_basic_client_authentication() {
    let Some((app, client)) = app_with_client().await else { return };
    let token = app.token(&client).await;
    let basic = STANDARD.encode(format!("{}:{}", client.id, client.secret));
    let form = serde_urlencoded::to_string([("token", token.as_str())]).unwrap();
    let request = app.http.post(app.url("/oauth2/revoke")).header("authorization", format!("Basic {basic}"));
    let response = request.header("content-type", "application/x-www-form-urlencoded; charset=utf-8").body(form);
    let response = response.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(works(&app, &token, &client).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_client_cannot_revoke_a_token_it_does_not_hold() {
    let Some((app, client)) = app_with_client().await else { return };
    let other = another_owners_client(&app, &client).await;
    let token = app.token(&client).await;

    let before = scrape(&app).await;
    assert_eq!(revoke(&app, &other, &token).await, (StatusCode::OK, Value::Null), "§2.2: 200, no effect");
    assert_eq!(works(&app, &token, &client).await, StatusCode::OK);
    // Issue #21, item 9: the answer stays RFC 7009's, but an operator can see it happen.
    let counted = |outcome: &'static str| {
        let before = &before;
        let app = &app;
        async move {
            let name = "trustgate_token_revocations_total";
            scrape(app).await.value(name, &[("outcome", outcome)]) - before.value(name, &[("outcome", outcome)])
        }
    };
    assert_eq!(counted("not_held").await, 1.0, "a revocation of another client's token is counted");
    assert_eq!(counted("revoked").await, 0.0);

    let wrong_secret = TestClient { secret: format!("{}x", client.secret), ..client.clone() };
    let (status, body) = revoke(&app, &wrong_secret, &token).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client")));
    assert_eq!(works(&app, &token, &client).await, StatusCode::OK);

    for garbage in ["", "not.a.token", "x"] {
        assert_eq!(revoke(&app, &client, garbage).await.0, StatusCode::OK, "{garbage:?}: no effect");
    }
    assert_eq!(counted("invalid").await, 3.0, "and so are tokens that are no valid token of ours");
    let no_token = format!("client_id={}&client_secret={}", client.id, client.secret);
    let response = app.post_raw("/oauth2/revoke", FORM, no_token).await;
    let (status, body) = status_and_json(response).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
}

#[tokio::test]
async fn a_node_started_after_a_revocation_refuses_the_token() {
    let Some((app, client)) = app_with_client().await else { return };
    let token = app.token(&client).await;
    assert_eq!(revoke(&app, &client, &token).await.0, StatusCode::OK);
    let restarted = trustgate_server::start_node(app.store.clone(), app.server_key.clone(), app.state.config.clone())
        .await
        .unwrap();
    assert!(restarted.verify_token(&app.token(&client).await).is_some(), "the node verifies tokens");
    assert!(restarted.verify_token(&token).is_none(), "and loads the revoked ones at start");
}

#[tokio::test]
async fn the_denylist_forgets_a_token_once_it_would_have_expired_anyway() {
    let Some(app) = super::app().await else { return };
    let now = OffsetDateTime::now_utc();
    let hour = time::Duration::hours(1);
    let (client, cap) = (trustgate_core::ids::ClientId::generate(), 100);
    app.store.revoke_token(client, "first", now + hour, now, cap).await.unwrap();
    let store = app.store.clone();
    let stored = |at| {
        let store = store.clone();
        async move {
            let mut jtis: Vec<String> = store.revoked_tokens(at).await.unwrap().into_iter().map(|(j, _)| j).collect();
            jtis.sort();
            jtis
        }
    };
    assert_eq!(stored(now).await, ["first"]);
    assert_eq!(stored(now + hour).await, Vec::<String>::new(), "not loaded once expired");
    let later = now + hour + time::Duration::seconds(1);
    app.store.revoke_token(client, "second", later + hour, later, cap).await.unwrap();
    assert_eq!(stored(OffsetDateTime::UNIX_EPOCH).await, ["second"], "the expired row is deleted");
}

/// Issue #21, item 9: one client granting and revoking in a loop grew the list without bound
/// (34,587 rows and 11.5 MB in 40 s, held in every node's memory). Past the per-client cap, a
/// revocation becomes a "not before" time for the client: its tokens issued at or before that
/// second are refused, its rows go, and the list holds at most the cap a client.
#[tokio::test]
async fn a_client_revoking_past_the_cap_gets_a_not_before_time_and_the_list_stays_bounded() {
    let Some((app, client)) = app_with_client().await else { return };
    let other = another_owners_client(&app, &client).await;
    let others_token = app.token(&other).await;
    let kept = app.token(&client).await;
    let cap = trustgate_server::REVOCATIONS_PER_CLIENT;
    for n in 0..cap + 50 {
        let token = app.token(&client).await;
        assert_eq!(revoke(&app, &client, &token).await.0, StatusCode::OK);
        assert_eq!(works(&app, &token, &client).await, StatusCode::UNAUTHORIZED, "revocation {n} holds at once");
    }
    let now = OffsetDateTime::now_utc();
    let listed = app.store.revoked_tokens(now).await.unwrap().len() as u64;
    assert!(listed < cap, "at most the cap of rows for one client: {listed}");
    let before = app.store.revoked_before(now).await.unwrap();
    assert_eq!(before.len(), 1, "one row for the client past the cap");
    assert_eq!(before[0].0, client.id);
    assert_eq!(works(&app, &kept, &client).await, StatusCode::UNAUTHORIZED, "its earlier tokens are refused too");
    assert_eq!(works(&app, &others_token, &other).await, StatusCode::OK, "another client's tokens are not");
    let restarted = trustgate_server::start_node(app.store.clone(), app.server_key.clone(), app.state.config.clone())
        .await
        .unwrap();
    assert!(restarted.verify_token(&kept).is_none(), "a node started now loads the time");
    assert!(restarted.verify_token(&others_token).is_some());
    // Tokens issued after that second are the client's again.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let fresh = app.token(&client).await;
    assert_eq!(works(&app, &fresh, &client).await, StatusCode::OK);
    assert!(app.state.revoked_len() as u64 <= cap + 1, "and memory holds no more: {}", app.state.revoked_len());
}
