//! Calling platform APIs: the Authorization forms scripts send, and the 401/403 bodies they get.

use reqwest::{Method, StatusCode};
use serde_json::json;
use time::OffsetDateTime;
use trustgate_core::access::{Access, Permission};
use trustgate_core::token::{Algorithm, KeySet, SigningKey};

use crate::harness::{custom, status_and_json, TestApp};

/// `GET /notifications/items` with these `Authorization` and `Citrix-CustomerId` headers, as given.
async fn notifications_with(app: &TestApp, authorization: Option<&str>, customer: Option<&str>) -> reqwest::Response {
    let mut request = app.http.get(app.url("/notifications/items"));
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    if let Some(customer) = customer {
        request = request.header("citrix-customerid", customer);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn every_authorization_form_citrix_scripts_send_is_accepted() {
    let Some(app) = super::app().await else { return };
    let (customer, _, token) = app.customer_with_token(Access::Full).await;
    for header in [
        format!("CwsAuth Bearer={token}"),
        format!("CWSAuth bearer={token}"),
        format!("cwsauth Bearer= {token}"),
        format!("CwsAuth service=svc, bearer={token}"),
        format!("Bearer {token}"),
    ] {
        let response = notifications_with(&app, Some(&header), Some(customer.as_str())).await;
        assert_eq!(response.status(), StatusCode::OK, "{header}");
    }
}

#[tokio::test]
async fn missing_or_invalid_credentials_get_the_gateway_401() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let response = notifications_with(&app, None, Some(customer.as_str())).await;
    assert_eq!(response.headers()["www-authenticate"], "CwsAuth");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Byte for byte, in the gateway's field order: scripts match on the text.
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"type":"https://errors-api.cloud.com/common/authentication","detail":"Missing or invalid authentication details","parameters":[{"name":"reason","value":"missing"}]}"#
    );
    for header in ["CwsAuth Bearer=garbage", "Basic Zm9vOmJhcg==", "CwsAuth Bearer=", "CwsAuth"] {
        let (status, body) =
            status_and_json(notifications_with(&app, Some(header), Some(customer.as_str())).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{header}");
        assert_eq!(body["parameters"][0]["value"], "invalid");
    }
}

#[tokio::test]
async fn tampered_expired_and_foreign_key_tokens_get_401() {
    let Some(app) = super::app().await else { return };
    let (customer, owner, client) = app.customer_with_client(Access::Full).await;
    let token = app.token(&client).await;

    // Tampered: another payload under the same signature.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].chars().rev().collect();
    assert_eq!(app.get("/notifications/items", &parts.join("."), &customer).await.0, StatusCode::UNAUTHORIZED);

    // Expired: signed with the server's own key, issued more than an hour ago.
    let keys = app.key_set().await;
    let old = app.access_claims(&client, &owner, OffsetDateTime::now_utc() - time::Duration::minutes(61));
    let (status, body) = app.get("/notifications/items", &keys.sign(&old).unwrap(), &customer).await;
    assert_eq!((status, body["parameters"][0]["value"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid")));

    // Foreign key: well-formed and unexpired, but not signed by this server.
    let foreign = KeySet::new(vec![SigningKey::generate(Algorithm::EdDsa).unwrap()]).unwrap();
    let fresh = app.access_claims(&client, &owner, OffsetDateTime::now_utc());
    assert_eq!(
        app.get("/notifications/items", &foreign.sign(&fresh).unwrap(), &customer).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_token_used_against_another_customer_is_refused() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let other = app.customer().await;
    let owner = app.admin(&customer, Access::Full).await;
    app.join(&other, &owner, Access::Full).await;
    let token = app.token(&app.client(&customer, &owner).await).await;
    let (status, body) = app.get("/notifications/items", &token, &other).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["type"], "https://errors-api.cloud.com/common/authorization");
    // Legacy-style routes take the customer from the path.
    let (status, _) = app.get(&format!("/{other}/notifications/items"), &token, &customer).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.get(&format!("/{customer}/notifications/items"), &token, &other).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_missing_or_malformed_customer_header_is_a_400() {
    let Some(app) = super::app().await else { return };
    let (customer, _, token) = app.customer_with_token(Access::Full).await;
    let bearer = format!("CwsAuth Bearer={token}");
    let (status, body) = status_and_json(notifications_with(&app, Some(&bearer), None).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["type"], "https://errors-api.cloud.com/common/missing");
    let response = notifications_with(&app, Some(&bearer), Some("NOT A CUSTOMER")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // A zero-width space dragged along by copy and paste is forgiven.
    let response = notifications_with(&app, Some(&bearer), Some(&format!("{customer}\u{200B}"))).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_call_without_the_routes_permission_gets_the_gateway_403() {
    let Some(app) = super::app().await else { return };
    let (customer, _, token) = app.customer_with_token(custom(&[Permission::NOTIFICATIONS])).await;
    let response = app.citrix_request(Method::GET, "/systemlog/records", &token, &customer).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let raw = response.text().await.unwrap();
    let gateway =
        r#"{"type":"https://errors-api.cloud.com/common/authorization","detail":"Access denied","parameters":["#;
    assert!(raw.starts_with(gateway), "the gateway's 403 in its field order: {raw}");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let Some(app) = super::app().await else { return };
    let (status, body) = status_and_json(app.http.get(app.url("/no/such/route/here")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["type"], "https://errors-api.cloud.com/common/notFound");
    let (status, body) =
        status_and_json(app.http.get(app.url("/cctrustoauth2/root/tokens/clients")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["type"], "https://errors-api.cloud.com/common/methodNotAllowed");
}

#[tokio::test]
async fn a_path_segment_that_is_not_utf8_gets_a_json_400_not_plain_text() {
    let Some(app) = super::app().await else { return };
    let (customer, _, token) = app.customer_with_token(Access::Full).await;
    let invalid = json!({
        "type": "https://errors-api.cloud.com/common/invalidString",
        "detail": "the path is not valid UTF-8 text",
        "parameters": [{ "name": "name", "value": "path" }],
    });
    for (method, path) in [(Method::GET, "/administrators/%FF/access"), (Method::DELETE, "/administrators/%FF")] {
        let answer = app.call(method.clone(), path, &token, &customer, None).await;
        assert_eq!(answer, (StatusCode::BAD_REQUEST, invalid.clone()), "{method} {path}");
    }
}

/// Every answer (found or not) carries one transaction id in both Citrix headers: the caller's
/// `Citrix-TransactionId` when it is a plausible id, a fresh UUID otherwise, never an id the
/// caller put in `X-Cws-TransactionId`.
#[tokio::test]
async fn every_answer_carries_a_transaction_id_and_the_baseline_headers() {
    let Some(app) = super::app().await else { return };
    let call = |path: &'static str, headers: &'static [(&'static str, &'static str)]| {
        let mut request = app.http.get(app.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    let echoed = call("/healthz", &[("citrix-transactionid", "1b2c-77")]).await.unwrap();
    assert_eq!(echoed.headers()["x-cws-transactionid"], "1b2c-77");
    assert_eq!(echoed.headers()["citrix-transactionid"], "1b2c-77");
    assert_eq!(echoed.headers()["access-control-expose-headers"], "X-Cws-TransactionId, Citrix-TransactionId");
    assert_eq!(echoed.headers()["x-content-type-options"], "nosniff");

    const JUNK: &[(&str, &str)] =
        &[("citrix-transactionid", "<script>"), ("x-cws-transactionid", "chosen-by-the-caller")];
    for response in [call("/healthz", JUNK).await.unwrap(), call("/no/such/route", JUNK).await.unwrap()] {
        let id = response.headers()["x-cws-transactionid"].to_str().unwrap().to_owned();
        assert_eq!(response.headers()["citrix-transactionid"], id.as_str());
        let id = uuid::Uuid::parse_str(&id).unwrap_or_else(|_| panic!("{id} is not a fresh UUID"));
        assert_eq!(id.get_version(), Some(uuid::Version::Random));
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    }
    let first = call("/healthz", &[]).await.unwrap().headers()["x-cws-transactionid"].clone();
    let second = call("/healthz", &[]).await.unwrap().headers()["x-cws-transactionid"].clone();
    assert_ne!(first, second);
}
