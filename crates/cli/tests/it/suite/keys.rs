//! Key custody (issue #8): signing keys sealed under the server key, sealed on upgrade without
//! breaking issued tokens, revoked at once on a leak; and a lifetime cap at verification.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Connection;
use time::OffsetDateTime;
use trustgate_core::access::Access;
use trustgate_core::custody::{KeyVault, SEALED};
use trustgate_core::secret::ServerKey;
use trustgate_core::token::{Algorithm, KeySet, SigningKey};
use trustgate_store::SqliteStore;

use crate::harness::{header_of, TempDir, TestApp};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn a_copy_of_the_database_without_the_server_key_yields_no_usable_signing_key() {
    let Some(app) = super::app().await else { return };
    let (_, _, token) = app.customer_with_token(Access::Full).await;
    let stored = app.store.signing_keys().await.unwrap();
    assert!(!stored.is_empty());
    let vault = KeyVault::new(&app.server_key);
    for key in &stored {
        assert_eq!(key.format, SEALED);
        let private = vault.open(key).unwrap().private_bytes().to_vec();
        assert!(!contains(&key.bytes, &private), "the stored bytes are not the key");
        assert!(KeyVault::new(&ServerKey::generate()).open(key).is_err(), "another server key opens nothing");
    }
    assert!(
        app.key_set().await.verify(&token, OffsetDateTime::now_utc(), &app.state.config.issuer).is_ok(),
        "the sealed key is the signing key"
    );
}

/// Writes a key raw, as a release before sealing did (migration 0002 marked those `raw`) — or as
/// anyone who can write one row to the database could.
async fn store_raw_key(app: &TestApp, key: &SigningKey) {
    const INSERT: &str =
        "INSERT INTO signing_keys (kid, algorithm, format, private_key, created_at) VALUES ($1, $2, 'raw', $3, $4)";
    let (kid, algorithm, bytes) = (key.kid().to_owned(), key.algorithm().as_str(), key.private_bytes().to_vec());
    // Newer than every key there: before issue #21 it became the signer.
    let at = (OffsetDateTime::now_utc().unix_timestamp() + 60) * 1000;
    match app.database_url() {
        Some(url) => {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(INSERT).bind(kid).bind(algorithm).bind(bytes).bind(at).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
        }
        None => {
            let options = sqlx::sqlite::SqliteConnectOptions::new().filename(app.dir.path().join("trustgate.db"));
            let mut conn = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
            sqlx::query(INSERT).bind(kid).bind(algorithm).bind(bytes).bind(at).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
        }
    }
}

/// Issue #21: one INSERT of a raw key planted a signer (raw keys were loaded, newest first, and
/// sealed on the way). Now a raw key neither signs nor verifies on any node until the operator
/// seals it with `trustgate keys reseal`; from then on its tokens verify, and nothing of it is left
/// raw in the database or its write-ahead log.
#[tokio::test]
async fn a_key_stored_raw_is_never_used_until_the_operator_reseals_it() {
    let Some(app) = super::app().await else { return };
    let (customer, owner, client) = app.customer_with_client(Access::Full).await;
    let planted = SigningKey::generate(Algorithm::EdDsa).unwrap();
    store_raw_key(&app, &planted).await;
    // Another after it, so the first one's bytes sit mid-page, where only zeroing erases them.
    store_raw_key(&app, &SigningKey::generate(Algorithm::EdDsa).unwrap()).await;
    let claims = app.access_claims(&client, &owner, OffsetDateTime::now_utc());
    let forged =
        KeySet::new(vec![
            SigningKey::from_stored(planted.kid().to_owned(), Algorithm::EdDsa, planted.private_bytes()).unwrap()
        ])
        .unwrap()
        .sign(&claims)
        .unwrap();

    // A node starting on the store, and the running one once it catches up, ignore the raw keys.
    let restarted = match app.database_url() {
        Some(_) => app.second_node().await,
        None => {
            let store = SqliteStore::open(app.dir.path()).await.unwrap();
            let issuer = Some(app.state.config.issuer.clone());
            TestApp::start_as(Arc::new(store), app.server_key.clone(), TempDir::new(), None, issuer).await
        }
    };
    app.state.catch_up().await.unwrap();
    for node in [&app, &restarted] {
        assert_eq!(node.get("/notifications/items", &forged, &customer).await.0, StatusCode::UNAUTHORIZED);
        let token = node.token(&client).await;
        assert_ne!(token.split('.').next(), forged.split('.').next(), "the raw key does not sign");
        let jwks = node.jwks().await;
        assert!(!jwks.to_string().contains(planted.kid()), "nor is it published: {jwks}");
    }
    assert!(app.store.signing_keys().await.unwrap().iter().any(|k| k.kid == planted.kid() && k.format == "raw"));

    let sealed = app.cli(&["keys", "reseal"]).await;
    assert_eq!(sealed["sealed"].as_array().unwrap().len(), 2, "{sealed}");
    let stored = app.store.signing_keys().await.unwrap();
    assert!(stored.iter().all(|k| k.format == SEALED));
    let key = stored.iter().find(|k| k.kid == planted.kid()).expect("the key is kept");
    assert!(!contains(&key.bytes, planted.private_bytes()));
    app.state.catch_up().await.unwrap();
    assert_eq!(app.get("/notifications/items", &forged, &customer).await.0, StatusCode::OK, "adopted by the operator");
    if app.database_url().is_none() {
        for file in ["trustgate.db", "trustgate.db-wal"] {
            let bytes = std::fs::read(app.dir.path().join(file)).unwrap_or_default();
            assert!(!contains(&bytes, planted.private_bytes()), "{file} still holds the raw key");
        }
    }
    assert_eq!(app.cli(&["keys", "reseal"]).await["sealed"], serde_json::json!([]), "nothing left to seal");
}

/// Polls for up to five seconds. The rotation is made by another process: on SQLite the server
/// reads such changes from its feed every 200 ms (until CLI writes reach a running server at once,
/// issue #8 item 8), and PostgreSQL's NOTIFY arrives asynchronously.
async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn kid_of(token: &str) -> String {
    header_of(token)["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn rotating_with_revoke_previous_refuses_the_old_keys_tokens_at_once_and_new_ones_work() {
    let Some(app) = super::app().await else { return };
    let (customer, _, client) = app.customer_with_client(Access::Full).await;
    let leaked = app.token(&client).await;
    assert_eq!(app.get("/notifications/items", &leaked, &customer).await.0, StatusCode::OK);

    let rotated = app.cli(&["keys", "rotate", "--revoke-previous"]).await;
    let new_kid = rotated["kid"].as_str().unwrap().to_owned();
    assert!(
        eventually(|| async {
            app.get("/notifications/items", &leaked, &customer).await.0 == StatusCode::UNAUTHORIZED
        })
        .await,
        "a token signed by the revoked key is refused"
    );
    let fresh = app.token(&client).await;
    assert_eq!(kid_of(&fresh), new_kid);
    assert_eq!(app.get("/notifications/items", &fresh, &customer).await.0, StatusCode::OK);
    let jwks = app.jwks().await;
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().filter_map(|k| k["kid"].as_str()).collect();
    assert_eq!(kids, vec![new_kid.as_str()], "only the new key is published");
}

#[tokio::test]
async fn rotating_refuses_a_server_key_that_does_not_open_the_stored_keys() {
    let Some(app) = super::app().await else { return };
    let before = app.store.signing_keys().await.unwrap();
    let wrong = KeyVault::new(&ServerKey::generate());
    assert!(trustgate_server::keys::rotate(app.store.as_ref(), &wrong, None, true).await.is_err());
    assert_eq!(app.store.signing_keys().await.unwrap(), before, "nothing was rotated");
}

#[tokio::test]
async fn a_token_signed_with_the_real_key_but_living_longer_than_issued_gets_401() {
    let Some(app) = super::app().await else { return };
    let (customer, owner, client) = app.customer_with_client(Access::Full).await;
    let keys = app.key_set().await;
    let now = OffsetDateTime::now_utc();
    let claims = |at| app.access_claims(&client, &owner, at);

    let as_issued = claims(now);
    assert_eq!(app.get("/notifications/items", &keys.sign(&as_issued).unwrap(), &customer).await.0, StatusCode::OK);
    let mut ten_years = claims(now);
    ten_years.exp = ten_years.iat + 10 * 365 * 24 * 3600;
    let (status, body) = app.get("/notifications/items", &keys.sign(&ten_years).unwrap(), &customer).await;
    assert_eq!((status, body["parameters"][0]["value"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid")));
    let from_the_future = claims(now + time::Duration::hours(2));
    assert_eq!(
        app.get("/notifications/items", &keys.sign(&from_the_future).unwrap(), &customer).await.0,
        StatusCode::UNAUTHORIZED
    );
}

/// Switching algorithm is a key rotation: for every algorithm, a deployment that switches to
/// another one keeps accepting the tokens already issued, publishes both keys each with its own
/// `alg`, and discovery lists both algorithms until the old key retires.
#[tokio::test]
async fn rotating_to_another_algorithm_keeps_the_old_tokens_valid() {
    for (from, to) in [
        (Algorithm::Es256, Algorithm::Rs256),
        (Algorithm::EdDsa, Algorithm::Es256),
        (Algorithm::Rs256, Algorithm::EdDsa),
    ] {
        let config = trustgate_server::ServerConfig { signing_algorithm: from, ..Default::default() };
        let Some(app) = super::app_with(config).await else { return };
        let (customer, _, client) = app.customer_with_client(Access::Full).await;
        let old = app.token(&client).await;
        assert_eq!(header_of(&old)["alg"], from.as_str());

        let rotated = app.cli(&["keys", "rotate", "--algorithm", to.as_str()]).await;
        assert_eq!(rotated["algorithm"], to.as_str());
        let new_kid = rotated["kid"].as_str().unwrap().to_owned();
        assert!(
            eventually(|| async { kid_of(&app.token(&client).await) == new_kid }).await,
            "{from} → {to}: new tokens are signed with the new key"
        );
        let fresh = app.token(&client).await;
        assert_eq!(header_of(&fresh)["alg"], to.as_str());
        assert_eq!(app.get("/notifications/items", &fresh, &customer).await.0, StatusCode::OK, "{from} → {to}");
        assert_eq!(app.get("/notifications/items", &old, &customer).await.0, StatusCode::OK, "{from} → {to}: old");

        let jwks = app.jwks().await;
        let published =
            |kid: String| jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).cloned();
        assert_eq!(published(kid_of(&old)).expect("the old key is published")["alg"], from.as_str());
        assert_eq!(published(new_kid).expect("the new key is published")["alg"], to.as_str());
        let doc: Value =
            app.http.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
        assert_eq!(doc["id_token_signing_alg_values_supported"], serde_json::json!([to.as_str(), from.as_str()]));
    }
}
