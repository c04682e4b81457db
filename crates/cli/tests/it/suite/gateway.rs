//! The gateway decision endpoint at HTTP level, as each proxy asks it: nginx (`X-Original-*`),
//! Traefik and Caddy (`X-Forwarded-*`), Envoy (original path after `/gateway/envoy`).

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use trustgate_core::access::Access;
use trustgate_core::event::Actor;
use trustgate_core::ids::{ClientId, CustomerId};

use crate::gateway::{orders, ORDERS_CATALOG};
use crate::harness::{custom, status_and_json, TestApp, TestClient};

/// How nginx's `auth_request` asks, with the caller's own headers passed along.
fn nginx(app: &TestApp, token: &str, customer: &CustomerId, method: &str, uri: &str) -> RequestBuilder {
    let request = app.citrix_request(Method::GET, "/gateway/authorize", token, customer);
    request.header("x-original-method", method).header("x-original-uri", uri)
}

/// `GET path` with the token in the plain `Bearer` form, as Traefik, Caddy and Envoy pass it on.
fn bearer(app: &TestApp, path: &str, token: &str, customer: &CustomerId) -> RequestBuilder {
    app.http
        .get(app.url(path))
        .header("authorization", format!("Bearer {token}"))
        .header("citrix-customerid", customer.as_str())
}

fn identity(response: &reqwest::Response) -> [Option<String>; 4] {
    ["x-trustgate-client-id", "x-trustgate-customer-id", "x-trustgate-principal", "x-trustgate-permission"]
        .map(|name| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned()))
}

async fn denied(request: RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    assert_eq!(identity(&response), [None, None, None, None], "a refusal names no one");
    status_and_json(response).await
}

#[tokio::test]
async fn an_allowed_request_answers_200_with_who_calls_under_each_proxys_conventions() {
    let Some(app) = super::app().await else { return };
    app.apply_catalog(ORDERS_CATALOG).await;
    let (customer, owner, client) = app.customer_with_client(custom(&[orders("read")])).await;
    let token = app.token(&client).await;
    let expected = [
        Some(client.id.to_string()),
        Some(customer.to_string()),
        Some(owner.id.to_string()),
        Some("orders.read".to_owned()),
    ];

    let response = nginx(&app, &token, &customer, "GET", "/orders/42?full=1").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(identity(&response), expected, "nginx: X-Original-Method and X-Original-URI");

    // Citrix SDKs end paths with a slash, and HEAD follows GET (issue #22).
    for (method, uri) in [("GET", "/orders/42/"), ("HEAD", "/orders/42"), ("HEAD", "/orders/42/?full=1")] {
        let response = nginx(&app, &token, &customer, method, uri).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{method} {uri}");
        assert_eq!(identity(&response), expected, "{method} {uri}");
    }
    let (status, _) = denied(nginx(&app, &token, &customer, "GET", "/orders/42//")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "two trailing slashes are an empty segment");

    // Traefik and Caddy name the original request in X-Forwarded-*; Caddy asks with GET.
    let traefik = bearer(&app, "/gateway/authorize", &token, &customer).header("x-forwarded-method", "GET");
    let traefik = traefik.header("x-forwarded-uri", "/orders/42").header("x-forwarded-host", "orders.example.com");
    let response = traefik.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(identity(&response), expected, "Traefik and Caddy: X-Forwarded-Method and X-Forwarded-Uri");

    // Envoy appends the original path to the prefix and keeps the original method.
    let response = bearer(&app, "/gateway/envoy/orders/42?full=1", &token, &customer).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(identity(&response), expected, "Envoy: the path after /gateway/envoy");

    // A rule may take the customer from the path instead of the header.
    let path = format!("/customers/{customer}/orders");
    let response = app
        .http
        .post(app.url("/gateway/authorize"))
        .header("authorization", format!("Bearer {token}"))
        .header("x-original-method", "GET")
        .header("x-original-uri", path)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the customer from the path, no header needed");
}

#[tokio::test]
async fn a_missing_permission_another_customer_or_no_matching_rule_is_403_closed_by_default() {
    let Some(app) = super::app().await else { return };
    app.apply_catalog(ORDERS_CATALOG).await;
    let (customer, other) = (app.customer().await, app.customer().await);
    let owner = app.admin(&customer, custom(&[orders("read")])).await;
    app.join(&other, &owner, Access::Full).await;
    let token = app.token(&app.client(&customer, &owner).await).await;

    let (status, body) = denied(nginx(&app, &token, &customer, "POST", "/orders")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "orders.write is not held");
    assert_eq!(body["type"], "https://errors-api.cloud.com/common/authorization");
    let (status, _) = denied(nginx(&app, &token, &other, "GET", "/orders/1")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the token was issued in another customer");
    for (method, uri) in [("GET", "/billing/1"), ("DELETE", "/orders/1"), ("PATCH", "/orders/1")] {
        let (status, body) = denied(nginx(&app, &token, &customer, method, uri)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {uri}: no rule matches: {body}");
    }
    // With no route rules at all, nothing is proxied.
    app.catalog_command("", &["--force"]).await;
    let (status, _) = denied(nginx(&app, &token, &customer, "GET", "/orders/1")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn no_or_a_bad_token_is_401_with_a_challenge_and_a_proxy_that_names_no_request_is_400() {
    let Some(app) = super::app().await else { return };
    app.apply_catalog(ORDERS_CATALOG).await;
    let customer = app.customer().await;
    for authorization in [None, Some("Bearer not-a-token"), Some("Basic abc")] {
        let mut request = app
            .http
            .get(app.url("/gateway/authorize"))
            .header("citrix-customerid", customer.as_str())
            .header("x-original-method", "GET")
            .header("x-original-uri", "/orders/1");
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(response.headers()["www-authenticate"], "CwsAuth");
        let (_, body) = status_and_json(response).await;
        assert_eq!(body["type"], "https://errors-api.cloud.com/common/authentication");
    }
    let owner = app.admin(&customer, Access::Full).await;
    let token = app.token(&app.client(&customer, &owner).await).await;
    let (status, body) =
        status_and_json(bearer(&app, "/gateway/authorize", &token, &customer).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["parameters"], json!([{"name": "name", "value": "X-Original-URI"}]));
}

#[tokio::test]
async fn the_owners_live_rights_decide_reduced_is_403_and_removed_is_401() {
    let Some(app) = super::app().await else { return };
    app.apply_catalog(ORDERS_CATALOG).await;
    let customer = app.customer_with_full_admin().await;
    let owner = app.admin(&customer, custom(&[orders("read"), orders("write")])).await;
    let token = app.token(&app.client(&customer, &owner).await).await;
    let read = || async { nginx(&app, &token, &customer, "GET", "/orders/7").send().await.unwrap().status() };
    assert_eq!(nginx(&app, &token, &customer, "POST", "/orders").send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(read().await, StatusCode::OK);

    app.store.set_access(&customer, owner.id, custom(&[orders("write")]), &Actor::System).await.unwrap();
    assert_eq!(read().await, StatusCode::FORBIDDEN, "R5: the same token is reduced at once");
    app.store.set_access(&customer, owner.id, Access::Full, &Actor::System).await.unwrap();
    assert_eq!(read().await, StatusCode::OK, "Full holds every service's permissions");

    app.store.remove_member(&customer, owner.id, &Actor::System).await.unwrap();
    assert_eq!(read().await, StatusCode::UNAUTHORIZED, "R6: the client is gone with its owner");
}

#[tokio::test]
async fn a_service_principal_is_its_own_principal() {
    let Some(app) = super::app().await else { return };
    app.apply_catalog(ORDERS_CATALOG).await;
    let (customer, _, session) = app.customer_with_session(Access::Full).await;
    let path = format!("/api/v1/customers/{customer}/service-principals");
    let body = json!({"name": "orders sync", "accessType": "Full", "policies": []});
    let (status, created) = app.as_admin(&session, Method::POST, &path, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let principal = TestClient {
        id: ClientId::parse(created["id"].as_str().unwrap()).unwrap(),
        secret: created["secret"].as_str().unwrap().to_owned(),
        customer: customer.clone(),
    };
    let token = app.token(&principal).await;
    let response = nginx(&app, &token, &customer, "GET", "/orders/1").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let [client, _, who, _] = identity(&response);
    assert_eq!((client.clone(), who), (Some(principal.id.to_string()), client), "no administrator behind it");
}

/// Issue #20: the decision endpoint refuses what a proxy and its backend could read differently —
/// both proxies' names for the original request, one name twice, two customers, and request
/// targets whose dot segments hide behind encodings, `;` parameters or fragments.
#[tokio::test]
async fn ambiguous_requests_and_paths_that_backends_normalise_differently_are_refused_with_400() {
    let Some(app) = super::app().await else { return };
    app.apply_catalog(&format!(
        "{ORDERS_CATALOG}\n[[route]]\nmethod = \"GET\"\npath = \"/files/*\"\npermission = \"orders.read\"\n"
    ))
    .await;
    let (customer, _, token) = app.customer_with_token(custom(&[orders("read")])).await;
    assert_eq!(
        nginx(&app, &token, &customer, "GET", "/files/report.pdf").send().await.unwrap().status(),
        StatusCode::OK
    );

    let both = nginx(&app, &token, &customer, "DELETE", "/orders/1")
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-uri", "/orders/1");
    let (status, body) = denied(both).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let twice = nginx(&app, &token, &customer, "GET", "/orders/1").header("x-original-uri", "/orders/2");
    assert_eq!(denied(twice).await.0, StatusCode::BAD_REQUEST);
    let two_customers = nginx(&app, &token, &customer, "GET", "/orders/1").header("citrix-customerid", "other");
    assert_eq!(denied(two_customers).await.0, StatusCode::BAD_REQUEST);

    for target in [
        "/files/..;/admin/users",
        "/files/%252e%252e/admin/users",
        "/files/%c0%ae%c0%ae/admin/users",
        "/files/%ef%bc%8e%ef%bc%8e/admin/users",
        "/files/x#/../../admin/users",
        "/files/%2e%2e/admin/users",
        "/files//admin",
    ] {
        let (status, body) = denied(nginx(&app, &token, &customer, "GET", target)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{target}: {body}");
        if target.contains('#') {
            continue; // an HTTP client never sends a fragment; Envoy's route has none to read
        }
        let envoy = bearer(&app, &format!("/gateway/envoy{target}"), &token, &customer);
        let (status, body) = denied(envoy).await;
        // The HTTP client resolves some of these itself; whatever reaches Envoy's route is refused.
        assert_ne!(status, StatusCode::OK, "envoy {target}: {body}");
    }
}
