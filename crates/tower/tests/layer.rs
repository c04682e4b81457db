//! A service behind `trustgate-tower`, against a real Trustgate server started in the test, called
//! with `trustgate-client`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../client/tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use support::{custom, Backend, Credentials, Server, AUDIENCE, ORDERS_CATALOG};
use time::OffsetDateTime;
use trustgate_client::{AuthScheme, Client, Error};
use trustgate_core::access::Access;
use trustgate_core::custody::KeyVault;
use trustgate_core::event::Actor;
use trustgate_core::ids::{AdminId, ClientId, CustomerId};
use trustgate_core::token::{Algorithm, Claims, Issuer, KeySet, SigningKey, TokenUse};
use trustgate_tower::{require, Caller, Trustgate};

async fn list_orders(caller: Caller) -> Json<Value> {
    Json(json!({
        "customer": caller.customer_id,
        "client": caller.client_id,
        "principal": caller.principal_id,
        "permissions": caller.permissions,
    }))
}

async fn create_order(caller: Caller) -> Json<Value> {
    Json(json!({ "createdBy": caller.client_id }))
}

/// The orders service behind the layer, on its own port: `GET /orders` needs `orders.read`,
/// `POST /orders` `orders.write`, `GET /whoami` only a caller.
async fn orders_service(trustgate: Trustgate) -> String {
    let app = Router::new()
        .route(
            "/orders",
            get(list_orders)
                .route_layer(require("orders.read"))
                .merge(post(create_order).route_layer(require("orders.write"))),
        )
        .route("/whoami", get(list_orders))
        .layer(trustgate.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn configured(server: &Server, ttl: Duration) -> trustgate_tower::TrustgateBuilder {
    static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let name = format!("orders{}", MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let (id, secret) = server.resource_server(&name).await;
    Trustgate::builder(&server.url).audience(AUDIENCE).resource_server(id, secret).decision_ttl(ttl)
}

/// A Trustgate with the orders catalog, and the orders service behind the layer.
async fn setup(ttl: Duration) -> (Server, String) {
    setup_on(Backend::Sqlite, ttl).await.expect("SQLite always starts")
}

/// [`setup`] on `backend`; `None` when the test skips (no PostgreSQL).
async fn setup_on(backend: Backend, ttl: Duration) -> Option<(Server, String)> {
    let server = Server::start_on(backend).await?;
    server.apply_catalog(ORDERS_CATALOG).await;
    let service = orders_service(configured(&server, ttl).await.build().unwrap()).await;
    Some((server, service))
}

fn caller_of(server: &Server, service: &str, credentials: &Credentials) -> Client {
    Client::builder(&server.url)
        .api_url(service)
        .credentials(&credentials.id, credentials.secret.clone())
        .customer(&credentials.customer)
        .build()
        .unwrap()
}

async fn raw_get(url: &str, authorization: Option<&str>) -> (u16, Option<String>, Value) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
    (status, challenge, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_caller_with_the_permission_is_served_and_one_without_it_is_refused_403() {
    let (server, service) = setup(Duration::from_secs(5)).await;
    let (customer, owner, reader) = server.customer_with_client(custom(&["orders.read"])).await;

    let client = caller_of(&server, &service, &reader);
    let orders: Value = client.get("/orders").await.unwrap();
    assert_eq!(orders["customer"], json!(customer.as_str()));
    assert_eq!(orders["client"], json!(reader.id));
    assert_eq!(orders["principal"], json!(owner.to_string()));
    assert_eq!(orders["permissions"], json!(["orders.read"]));

    let refused = client.call::<_, Value>(trustgate_client::Method::POST, "/orders", &[], Some(&json!({}))).await;
    let refused = refused.unwrap_err();
    assert!(refused.is_forbidden(), "{refused:?}");
    let problem = refused.problem().unwrap();
    assert_eq!((problem.kind(), problem.reason()), ("authorization", Some("missing permission orders.write")));

    // Plain `Bearer` works as well as `CwsAuth`.
    let bearer = Client::builder(&server.url)
        .api_url(&service)
        .credentials(&reader.id, reader.secret.clone())
        .customer(&reader.customer)
        .auth_scheme(AuthScheme::Bearer)
        .build()
        .unwrap();
    let _: Value = bearer.get("/orders").await.unwrap();

    // Without the permission: 403 with RFC 6750's challenge naming the scope.
    let (_, _, notifier) = server.customer_with_client(custom(&["notifications"])).await;
    let token = caller_of(&server, &service, &notifier).access_token().await.unwrap();
    let (status, challenge, body) =
        raw_get(&format!("{service}/orders"), Some(&format!("Bearer {}", expose(&token)))).await;
    assert_eq!(status, 403);
    assert_eq!(challenge.as_deref(), Some("Bearer error=\"insufficient_scope\", scope=\"orders.read\""));
    assert_eq!(body["type"], json!("https://errors-api.cloud.com/common/authorization"));
    // Any caller passes a route that requires nothing more.
    let me: Value = caller_of(&server, &service, &notifier).get("/whoami").await.unwrap();
    assert_eq!(me["permissions"], json!(["notifications"]));

    // Full access: every permission of the catalog.
    let (_, _, full) = server.customer_with_client(Access::Full).await;
    let full = caller_of(&server, &service, &full);
    let _: Value = full.get("/orders").await.unwrap();
    let _: Value = full.call(trustgate_client::Method::POST, "/orders", &[], Some(&json!({}))).await.unwrap();

    // No token, a malformed one, or another customer named in `Citrix-CustomerId`.
    let (status, challenge, _) = raw_get(&format!("{service}/orders"), None).await;
    assert_eq!((status, challenge.as_deref()), (401, Some("Bearer")));
    let (status, _, body) = raw_get(&format!("{service}/orders"), Some("Bearer not.a.token")).await;
    assert_eq!((status, body["type"].as_str()), (401, Some("https://errors-api.cloud.com/common/authentication")));
    let other = Client::builder(&server.url)
        .api_url(&service)
        .credentials(&reader.id, reader.secret.clone())
        .customer(server.customer().await.as_str())
        .build()
        .unwrap();
    assert!(other.get::<Value>("/orders").await.unwrap_err().is_forbidden());
}

fn expose(token: &trustgate_client::SecretString) -> &str {
    use trustgate_client::ExposeSecret;
    token.expose_secret()
}

#[tokio::test]
async fn r5_a_reduced_owners_client_is_refused_on_its_next_call_with_no_decision_cache() {
    r5_no_cache(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_r5_a_reduced_owners_client_is_refused_on_its_next_call_with_no_decision_cache() {
    r5_no_cache(Backend::Postgres).await;
}

async fn r5_no_cache(backend: Backend) {
    let Some((server, service)) = setup_on(backend, Duration::ZERO).await else { return };
    let (customer, owner, credentials) = server.customer_with_client(custom(&["orders.read"])).await;
    let client = caller_of(&server, &service, &credentials);
    let _: Value = client.get("/orders").await.unwrap();
    server.set_access(&customer, owner, custom(&["notifications"])).await;
    assert!(client.get::<Value>("/orders").await.unwrap_err().is_forbidden(), "the very next call");
    // Raised again: the client follows.
    server.set_access(&customer, owner, custom(&["orders.read"])).await;
    let _: Value = client.get("/orders").await.unwrap();
}

#[tokio::test]
async fn r5_a_reduced_owners_client_is_refused_within_the_decision_ttl() {
    r5_within_ttl(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_r5_a_reduced_owners_client_is_refused_within_the_decision_ttl() {
    r5_within_ttl(Backend::Postgres).await;
}

async fn r5_within_ttl(backend: Backend) {
    let ttl = Duration::from_secs(1);
    let Some((server, service)) = setup_on(backend, ttl).await else { return };
    let (customer, owner, credentials) = server.customer_with_client(custom(&["orders.read"])).await;
    let client = caller_of(&server, &service, &credentials);
    let _: Value = client.get("/orders").await.unwrap();
    server.set_access(&customer, owner, custom(&["notifications"])).await;
    let reduced = Instant::now();
    loop {
        match client.get::<Value>("/orders").await {
            Ok(_) => assert!(reduced.elapsed() < ttl, "still allowed {:?} after the reduction", reduced.elapsed()),
            Err(e) if e.is_forbidden() => break,
            Err(e) => panic!("{e:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reduced.elapsed() < ttl + Duration::from_millis(500), "refused within the bound");
}

#[tokio::test]
async fn a_removed_owners_or_deleted_clients_token_is_refused_401() {
    let (server, service) = setup(Duration::ZERO).await;
    let (customer, owner, credentials) = server.customer_with_client(custom(&["orders.read"])).await;
    let token = caller_of(&server, &service, &credentials).access_token().await.unwrap();
    let authorization = format!("CwsAuth Bearer={}", expose(&token));
    assert_eq!(raw_get(&format!("{service}/orders"), Some(&authorization)).await.0, 200);
    server.store.remove_member(&customer, owner, &Actor::System).await.unwrap();
    server.state.catch_up().await.unwrap();
    assert_eq!(raw_get(&format!("{service}/orders"), Some(&authorization)).await.0, 401, "owner removed (R6)");

    let (customer, owner, credentials) = server.customer_with_client(custom(&["orders.read"])).await;
    let token = caller_of(&server, &service, &credentials).access_token().await.unwrap();
    let authorization = format!("Bearer {}", expose(&token));
    assert_eq!(raw_get(&format!("{service}/orders"), Some(&authorization)).await.0, 200);
    let id = ClientId::parse(&credentials.id).unwrap();
    assert!(server.store.delete_client(&customer, owner, id, &Actor::System).await.unwrap());
    server.state.catch_up().await.unwrap();
    assert_eq!(raw_get(&format!("{service}/orders"), Some(&authorization)).await.0, 401, "client deleted");
}

/// The claims Trustgate would sign for `credentials`, issued `at`, as `issuer`.
fn claims_for(issuer: &Issuer, credentials: &Credentials, owner: AdminId, at: OffsetDateTime) -> Claims {
    let customer = CustomerId::parse(&credentials.customer).unwrap();
    Claims::new(issuer, ClientId::parse(&credentials.id).unwrap(), Some(owner), customer, at, TokenUse::Access)
}

async fn real_keys(server: &Server) -> KeySet {
    let vault = KeyVault::new(&server.key);
    let stored = server.store.signing_keys().await.unwrap();
    KeySet::new(stored.iter().map(|k| vault.open(k).unwrap()).collect()).unwrap()
}

#[tokio::test]
async fn a_token_signed_by_a_key_not_in_the_jwks_or_breaking_the_rules_is_refused_401() {
    let (server, service) = setup(Duration::from_secs(5)).await;
    let (_, owner, credentials) = server.customer_with_client(custom(&["orders.read"])).await;
    let issuer = server.state.config.issuer.clone();
    let now = OffsetDateTime::now_utc();
    let real = real_keys(&server).await;
    let genuine = real.sign(&claims_for(&issuer, &credentials, owner, now)).unwrap();
    let status = |token: String| {
        let service = service.clone();
        async move { raw_get(&format!("{service}/orders"), Some(&format!("Bearer {token}"))).await.0 }
    };
    assert_eq!(status(genuine).await, 200, "a token minted with the real key passes");

    let stranger = KeySet::new(vec![SigningKey::generate(Algorithm::Es256).unwrap()]).unwrap();
    let forged = stranger.sign(&claims_for(&issuer, &credentials, owner, now)).unwrap();
    assert_eq!(status(forged).await, 401, "a key the JWKS does not have");

    let impostor = SigningKey::generate(real.algorithm()).unwrap();
    let same_kid = SigningKey::from_stored(real.signing_kid().to_owned(), real.algorithm(), impostor.private_bytes());
    let same_kid = KeySet::new(vec![same_kid.unwrap()]).unwrap();
    let forged = same_kid.sign(&claims_for(&issuer, &credentials, owner, now)).unwrap();
    assert_eq!(status(forged).await, 401, "another key under a known key id");

    let elsewhere = Issuer { url: "https://elsewhere.example.com".to_owned(), ..issuer.clone() };
    assert_eq!(status(real.sign(&claims_for(&elsewhere, &credentials, owner, now)).unwrap()).await, 401, "issuer");
    let other_audience = Issuer { audience: "https://other.example.com".to_owned(), ..issuer.clone() };
    assert_eq!(status(real.sign(&claims_for(&other_audience, &credentials, owner, now)).unwrap()).await, 401);
    let expired = claims_for(&issuer, &credentials, owner, now - time::Duration::minutes(61));
    assert_eq!(status(real.sign(&expired).unwrap()).await, 401, "expired");
    let mut long = claims_for(&issuer, &credentials, owner, now);
    long.exp = long.iat + 2 * 3600;
    assert_eq!(status(real.sign(&long).unwrap()).await, 401, "a lifetime over one hour");
    let mut id_token = claims_for(&issuer, &credentials, owner, now);
    id_token.token_use = TokenUse::Id;
    assert_eq!(status(real.sign(&id_token).unwrap()).await, 401, "the legacy endpoint's openIdToken");
}

#[tokio::test]
async fn a_rotated_signing_key_is_fetched_on_its_first_token() {
    let (server, service) = setup(Duration::from_secs(5)).await;
    let (_, _, credentials) = server.customer_with_client(custom(&["orders.read"])).await;
    let _: Value = caller_of(&server, &service, &credentials).get("/orders").await.unwrap();

    let vault = KeyVault::new(&server.key);
    let rotated = trustgate_server::keys::rotate(server.store.as_ref(), &vault, None, false).await.unwrap();
    server.state.catch_up().await.unwrap();
    // A new client gets a token under the new key, which the layer has not seen yet.
    let client = caller_of(&server, &service, &credentials);
    let token = client.access_token().await.unwrap();
    let kid = jsonwebtoken::decode_header(expose(&token)).unwrap().kid;
    assert_eq!(kid.as_deref(), Some(rotated.kid()), "signed by the new key");
    let _: Value = client.get("/orders").await.unwrap();
}

#[tokio::test]
async fn tokens_naming_unknown_keys_fetch_the_key_set_at_most_once_per_interval() {
    let server = Server::start().await;
    server.apply_catalog(ORDERS_CATALOG).await;
    let interval = Duration::from_secs(2);
    let trustgate = configured(&server, Duration::from_secs(5)).await.jwks_refetch_interval(interval);
    let service = orders_service(trustgate.build().unwrap()).await;
    let (_, owner, credentials) = server.customer_with_client(custom(&["orders.read"])).await;
    let _: Value = caller_of(&server, &service, &credentials).get("/orders").await.unwrap();

    // A made-up key id spends the interval's fetch...
    let issuer = server.state.config.issuer.clone();
    let stranger = KeySet::new(vec![SigningKey::generate(Algorithm::Es256).unwrap()]).unwrap();
    let forged = stranger.sign(&claims_for(&issuer, &credentials, owner, OffsetDateTime::now_utc())).unwrap();
    assert_eq!(raw_get(&format!("{service}/orders"), Some(&format!("Bearer {forged}"))).await.0, 401);
    let fetched_at = Instant::now();

    // ...so a key rotated right after is not fetched until the interval has passed.
    let vault = KeyVault::new(&server.key);
    trustgate_server::keys::rotate(server.store.as_ref(), &vault, None, false).await.unwrap();
    server.state.catch_up().await.unwrap();
    let client = caller_of(&server, &service, &credentials);
    let token = client.access_token().await.unwrap();
    let authorization = format!("Bearer {}", expose(&token));
    // The fetch happened just before `fetched_at`: a margin keeps this check off the boundary.
    if fetched_at.elapsed() < interval / 2 {
        assert_eq!(raw_get(&format!("{service}/orders"), Some(&authorization)).await.0, 401, "within the interval");
    }
    tokio::time::sleep(interval.saturating_sub(fetched_at.elapsed())).await;
    assert_eq!(raw_get(&format!("{service}/orders"), Some(&authorization)).await.0, 200, "after it");
}

#[tokio::test]
async fn trustgate_unreachable_refuses_503_and_settings_are_checked() {
    let server = Server::start().await;
    server.apply_catalog(ORDERS_CATALOG).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let trustgate = configured(&server, Duration::from_secs(5)).await;
    let service =
        orders_service(trustgate.introspection_url(format!("{closed}/oauth2/introspect")).build().unwrap()).await;
    let (_, _, credentials) = server.customer_with_client(custom(&["orders.read"])).await;
    let refused = caller_of(&server, &service, &credentials).get::<Value>("/orders").await.unwrap_err();
    assert!(matches!(&refused, Error::Api { status: 503, retry_after: Some(_), .. }), "{refused:?}");

    let no_keys = configured(&server, Duration::from_secs(5)).await.jwks_url(format!("{closed}/.well-known/jwks.json"));
    let service = orders_service(no_keys.build().unwrap()).await;
    let refused = caller_of(&server, &service, &credentials).get::<Value>("/orders").await.unwrap_err();
    assert!(matches!(&refused, Error::Api { status: 503, .. }), "no key set: {refused:?}");

    let too_stale = configured(&server, Duration::from_secs(5)).await.decision_ttl(Duration::from_secs(61)).build();
    assert!(too_stale.is_err());
    let no_audience = Trustgate::builder(&server.url).resource_server("id", "secret".to_owned()).build();
    assert!(no_audience.is_err());
}
