//! A client's secrets (issue #11, SP6): several at once, optional expiry, rotation without a
//! failed call, first-format secrets still granting, expiry warnings once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use time::OffsetDateTime;
use trustgate_core::access::{Access, Permission};
use trustgate_core::secret::ClientSecret;

use crate::harness::{custom, wait_until, Session, TestAdmin, TestApp, TestClient};

const WRONG_SECRET: &str = r#"{"error":"invalid_client","error_description":"Invalid client id or client secret."}"#;

fn secrets_path(client: &TestClient) -> String {
    format!("/api/v1/customers/{}/api-clients/{}/secrets", client.customer, client.id)
}

async fn grant(app: &TestApp, client: &TestClient, secret: &str) -> (StatusCode, Value) {
    let id = client.id.to_string();
    app.oauth("root", &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", secret)]).await
}

/// An owner who can sign in, a client of theirs, and their session.
async fn owner_with_client(app: &TestApp) -> (TestAdmin, TestClient, Session) {
    let customer = app.customer().await;
    let owner = app.admin_with_password(&customer, Access::Full).await;
    let client = app.client(&customer, &owner).await;
    let session = app.sign_in(&owner).await;
    (owner, client, session)
}

async fn add_secret(app: &TestApp, session: &Session, client: &TestClient, body: Value) -> (StatusCode, Value) {
    app.as_admin(session, Method::POST, &secrets_path(client), Some(body)).await
}

#[tokio::test]
async fn rotating_to_a_second_secret_fails_no_grant_while_scripts_keep_granting() {
    let Some(app) = super::app().await else { return };
    let app = Arc::new(app);
    let (_, client, session) = owner_with_client(&app).await;
    let (_, listed) = app.as_admin(&session, Method::GET, &secrets_path(&client), None).await;
    let first = listed["items"][0]["id"].as_str().expect("the first secret's id").to_owned();
    let before_rotation = app.token(&client).await;

    // Scripts grant continuously, with whichever secret they were last given.
    let current = Arc::new(RwLock::new(client.secret.clone()));
    let (granted, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut scripts = Vec::new();
    for _ in 0..4 {
        let (app, client, current) = (app.clone(), client.clone(), current.clone());
        let (granted, failed, running) = (granted.clone(), failed.clone(), running.clone());
        scripts.push(tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                let secret = current.read().expect("secret").clone();
                let (status, body) = grant(&app, &client, &secret).await;
                if status == StatusCode::OK {
                    granted.fetch_add(1, Ordering::Relaxed);
                } else {
                    eprintln!("a grant failed during the rotation: {status} {body}");
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    // Each step waits until the scripts have tried a few more grants.
    let settle = || {
        let (granted, failed) = (granted.clone(), failed.clone());
        let tried = move || granted.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed);
        let target = tried() + 4;
        wait_until("four more grants by the scripts", move || tried() >= target)
    };
    settle().await;
    let (status, added) = add_secret(&app, &session, &client, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let second = added["secret"].as_str().expect("the new secret").to_owned();
    assert!(second.starts_with(&format!("tgs_{}_", added["id"].as_str().expect("id"))), "the secret names its id");
    settle().await;
    *current.write().expect("secret") = second.clone();
    settle().await;
    let path = format!("{}/{first}", secrets_path(&client));
    let (status, body) = app.as_admin(&session, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    settle().await;
    running.store(false, Ordering::Relaxed);
    for script in scripts {
        script.await.expect("a script");
    }
    assert_eq!(failed.load(Ordering::Relaxed), 0, "no grant may fail during a rotation");
    assert!(granted.load(Ordering::Relaxed) >= 8, "the scripts granted throughout");

    // The deleted secret grants nothing from then on; the token it got earlier still works.
    let (status, body) = grant(&app, &client, &client.secret).await;
    assert_eq!((status, body.to_string()), (StatusCode::BAD_REQUEST, WRONG_SECRET.to_owned()));
    assert_eq!(app.get("/notifications/items", &before_rotation, &client.customer).await.0, StatusCode::OK);
    let types = app.log_types(&client.customer).await;
    assert!(types.iter().any(|t| t == "platform:secureclient/secret/create"), "{types:?}");
    assert!(types.iter().any(|t| t == "platform:secureclient/secret/delete"), "{types:?}");
}

#[tokio::test]
async fn an_expired_secret_is_refused_as_a_wrong_one_and_logged_once() {
    let Some(app) = super::app().await else { return };
    let (_, client, session) = owner_with_client(&app).await;
    let soon = app.clock().now_utc() + time::Duration::seconds(2);
    let at = soon.format(&time::format_description::well_known::Rfc3339).expect("format");
    let (status, added) = add_secret(&app, &session, &client, json!({ "expiresAt": at })).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let expiring = added["secret"].as_str().expect("secret").to_owned();
    // A second one that nobody presents after it expires.
    assert_eq!(add_secret(&app, &session, &client, json!({ "expiresAt": at })).await.0, StatusCode::CREATED);
    assert_eq!(grant(&app, &client, &expiring).await.0, StatusCode::OK, "it grants until it expires");
    app.clock().advance(Duration::from_secs(3));
    for _ in 0..3 {
        let (status, body) = grant(&app, &client, &expiring).await;
        assert_eq!((status, body.to_string()), (StatusCode::BAD_REQUEST, WRONG_SECRET.to_owned()));
    }
    assert_eq!(
        app.log_of(&client.customer, "platform:secureclient/secret/expire").await.len(),
        1,
        "the expiry is logged once, not once per try"
    );
    // The expiry check logs the other one's expiry, and that one's no more.
    let (_, expired) =
        trustgate_server::jobs::secret_expiry::check(app.store.as_ref(), Duration::ZERO, app.clock().now_utc())
            .await
            .expect("check");
    assert_eq!(expired, 1, "the expiry of a secret nobody presents is logged by the check");
    assert_eq!(app.log_of(&client.customer, "platform:secureclient/secret/expire").await.len(), 2);
    // The client's other secret is untouched.
    assert_eq!(grant(&app, &client, &client.secret).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_client_holds_at_most_three_secrets_and_keeps_its_last() {
    let Some(app) = super::app().await else { return };
    let (_, client, session) = owner_with_client(&app).await;
    for _ in 0..2 {
        assert_eq!(add_secret(&app, &session, &client, json!({})).await.0, StatusCode::CREATED);
    }
    let (status, body) = add_secret(&app, &session, &client, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.to_string().contains("secretLimit"), "{body}");
    let (_, listed) = app.as_admin(&session, Method::GET, &secrets_path(&client), None).await;
    let ids: Vec<String> =
        listed["items"].as_array().expect("items").iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 3);
    assert!(!listed.to_string().contains(&client.secret[4..]), "a list never shows a secret");
    for id in &ids[..2] {
        let path = format!("{}/{id}", secrets_path(&client));
        assert_eq!(app.as_admin(&session, Method::DELETE, &path, None).await.0, StatusCode::NO_CONTENT);
    }
    let path = format!("{}/{}", secrets_path(&client), ids[2]);
    let (status, body) = app.as_admin(&session, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.to_string().contains("lastSecret"), "{body}");
}

#[tokio::test]
async fn only_the_owner_sees_or_changes_a_clients_secrets() {
    let Some(app) = super::app().await else { return };
    let (_, client, _) = owner_with_client(&app).await;
    let other = app.admin_with_password(&client.customer, Access::Full).await;
    let session = app.sign_in(&other).await;
    assert_eq!(app.as_admin(&session, Method::GET, &secrets_path(&client), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(add_secret(&app, &session, &client, json!({})).await.0, StatusCode::NOT_FOUND);
    let secret_id = &client.secret[4..20];
    let path = format!("{}/{secret_id}", secrets_path(&client));
    assert_eq!(app.as_admin(&session, Method::DELETE, &path, None).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_expiry_must_lie_ahead_and_within_730_days() {
    let Some(app) = super::app().await else { return };
    let (_, client, session) = owner_with_client(&app).await;
    let format = |at: OffsetDateTime| at.format(&time::format_description::well_known::Rfc3339).expect("format");
    let now = OffsetDateTime::now_utc();
    for at in [now - time::Duration::minutes(1), now + time::Duration::days(731)] {
        let (status, body) = add_secret(&app, &session, &client, json!({ "expiresAt": format(at) })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.to_string().contains("expiresAt"), "{body}");
    }
    let (status, body) = add_secret(&app, &session, &client, json!({ "expiresAt": "tomorrow" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(app.log_of(&client.customer, "platform:secureclient/secret/create").await.len(), 0, "no partial write");
}

/// Turns a client's one secret into one issued before secrets had ids, as migration 0010 left
/// every existing client's secret: `legacy`, its clear text naming no id.
async fn make_first_format(app: &TestApp, client: &TestClient) -> String {
    let legacy = format!("tgs_{}", &ClientSecret::generate().expose()[21..]);
    let secret = ClientSecret::from_presented(&legacy).expect("the first format");
    let hex: String = app.server_key.verifier(&secret).as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let client_id = client.id.to_string();
    match app.database_url() {
        Some(url) => {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
            let sql = format!(
                "UPDATE client_secrets SET legacy = 1, verifier = '\\x{hex}'::bytea WHERE client_id = '{client_id}'"
            );
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.expect("update");
        }
        None => {
            use sqlx::Connection;
            let path = app.dir.path().join(trustgate_store::SQLITE_FILE);
            let mut conn =
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.expect("open");
            let sql =
                format!("UPDATE client_secrets SET legacy = 1, verifier = X'{hex}' WHERE client_id = '{client_id}'");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.expect("update");
        }
    }
    legacy
}

#[tokio::test]
async fn a_secret_in_the_first_format_still_grants_next_to_new_ones() {
    let Some(app) = super::app().await else { return };
    let (_, client, session) = owner_with_client(&app).await;
    let legacy = make_first_format(&app, &client).await;
    assert_eq!(legacy.len(), 47);
    assert_eq!(grant(&app, &client, &legacy).await.0, StatusCode::OK, "R2: a secret already issued keeps working");
    let (status, added) = add_secret(&app, &session, &client, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(grant(&app, &client, added["secret"].as_str().expect("secret")).await.0, StatusCode::OK);
    assert_eq!(grant(&app, &client, &legacy).await.0, StatusCode::OK);
    let (_, listed) = app.as_admin(&session, Method::GET, &secrets_path(&client), None).await;
    assert_eq!(listed["items"][0]["legacy"], true, "{listed}");
    assert_eq!(listed["items"][0]["expiresAt"], Value::Null, "{listed}");
}

#[tokio::test]
async fn full_administrators_are_warned_once_before_a_secret_expires() {
    let Some(app) = super::app().await else { return };
    let (owner, client, session) = owner_with_client(&app).await;
    let other_full = app.admin(&client.customer, Access::Full).await;
    app.admin(&client.customer, custom(&[Permission::NOTIFICATIONS])).await;
    let in_three_days = OffsetDateTime::now_utc() + time::Duration::days(3);
    let at = in_three_days.format(&time::format_description::well_known::Rfc3339).expect("format");
    assert_eq!(add_secret(&app, &session, &client, json!({ "expiresAt": at })).await.0, StatusCode::CREATED);
    let far = OffsetDateTime::now_utc() + time::Duration::days(60);
    let at = far.format(&time::format_description::well_known::Rfc3339).expect("format");
    assert_eq!(add_secret(&app, &session, &client, json!({ "expiresAt": at })).await.0, StatusCode::CREATED);

    let warning = Duration::from_secs(14 * 86_400);
    let check = || trustgate_server::jobs::secret_expiry::check(app.store.as_ref(), warning, app.clock().now_utc());
    assert_eq!(check().await.expect("check"), (1, 0), "the secret expiring within 14 days");
    // Another pass, or another node's, warns no one again: not even one that listed the secret
    // before this node claimed it.
    assert_eq!(check().await.expect("check"), (0, 0));
    let (_, listed) = app.as_admin(&session, Method::GET, &secrets_path(&client), None).await;
    let warned = trustgate_core::secret::SecretId::parse(listed["items"][1]["id"].as_str().expect("id")).expect("id");
    let late = app.store.warn_secret_expiry(client.id, warned, &[], OffsetDateTime::now_utc()).await.expect("warn");
    assert!(!late, "a secret is warned about once");
    let notifications = app.store.notifications(&client.customer, 100).await.expect("notifications");
    let mut destinations: Vec<_> = notifications.iter().map(|n| n.destination_admin.clone()).collect();
    destinations.sort();
    let mut full = vec![owner.email.clone(), other_full.email.clone()];
    full.sort();
    assert_eq!(destinations, full, "one notification to each Full administrator");
    assert_eq!(notifications[0].body["severity"], "Warning");
    assert_eq!(app.log_of(&client.customer, "platform:secureclient/secret/expiring").await.len(), 1);
}

#[tokio::test]
async fn the_cli_adds_lists_and_deletes_secrets() {
    let Some(app) = super::app().await else { return };
    let (_, client, _) = owner_with_client(&app).await;
    let (customer, id) = (client.customer.to_string(), client.id.to_string());
    let added =
        app.cli(&["client", "secret", "add", "--customer", &customer, "--id", &id, "--expires-in-days", "30"]).await;
    let secret = added["secret"].as_str().expect("secret").to_owned();
    assert!(added["expiresAt"].is_string(), "{added}");
    let listed = app.cli(&["client", "secret", "list", "--customer", &customer, "--id", &id]).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(2), "{listed}");
    let first = listed["items"][0]["id"].as_str().expect("id").to_owned();
    app.cli(&["client", "secret", "delete", "--customer", &customer, "--id", &id, "--secret", &first]).await;
    // What a running server does when the command tells it of the change (see `control`).
    app.store.catch_up().await.expect("catch up");
    assert_eq!(grant(&app, &client, &client.secret).await.0, StatusCode::BAD_REQUEST, "deleted: refused at once");
    assert_eq!(grant(&app, &client, &secret).await.0, StatusCode::OK);
}
