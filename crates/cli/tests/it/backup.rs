//! `trustgate backup`: a consistent copy of a live SQLite store, and a server restored from it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{wait_until, TempDir};
use crate::serving::{trustgate, trustgate_json, Serving};

const PUBLIC_URL: &str = "https://id.trustgate.test";

async fn token(http: &reqwest::Client, url: &str, id: &str, secret: &str) -> (StatusCode, Value) {
    let response = crate::harness::grant_at(http, url, id, secret).await;
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn notifications(http: &reqwest::Client, url: &str, token: &str) -> StatusCode {
    http.get(format!("{url}/notifications/items"))
        .header("authorization", format!("CwsAuth Bearer={token}"))
        .header("citrix-customerid", "acme")
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_to_a_server_where_secrets_and_tokens_keep_working() {
    use std::os::unix::fs::PermissionsExt;
    let live = TempDir::new();
    let server = Serving::start(live.path(), &["--public-url", PUBLIC_URL]);
    trustgate_json(live.path(), &["customer", "create", "--name", "Acme", "--id", "acme"]);
    trustgate_json(
        live.path(),
        &["admin", "add", "--customer", "acme", "--email", "boss@acme.test", "--access", "full"],
    );
    let client = trustgate_json(
        live.path(),
        &["client", "create", "--customer", "acme", "--admin", "boss@acme.test", "--name", "nightly"],
    );
    let (id, secret) = (client["id"].as_str().unwrap().to_owned(), client["secret"].as_str().unwrap().to_owned());
    let http = reqwest::Client::new();
    let (status, body) = token(&http, &server.url, &id, &secret).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let issued_before = body["access_token"].as_str().unwrap().to_owned();

    // Grants keep being served (each recording the client's use) while the backup is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let load = {
        let (stop, served, failed, http, url) =
            (stop.clone(), served.clone(), failed.clone(), http.clone(), server.url.clone());
        let (id, secret) = (id.clone(), secret.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let counter =
                    if token(&http, &url, &id, &secret).await.0 == StatusCode::OK { &served } else { &failed };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let tried = || served.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed);
    wait_until("grants before the backup", || tried() >= 4).await;
    let restored = TempDir::new();
    let copy = restored.path().join("trustgate.db");
    let backup = tokio::task::spawn_blocking({
        let (dir, copy) = (live.path().to_owned(), copy.clone());
        move || trustgate_json(&dir, &["backup", "--to", copy.to_str().unwrap()])
    })
    .await
    .unwrap();
    let after_backup = tried() + 4;
    wait_until("grants after the backup", || tried() >= after_backup).await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    assert_eq!(backup["serverKeyIncluded"], false);
    assert_eq!(failed.load(Ordering::Relaxed), 0, "every grant during the backup was served");
    assert!(served.load(Ordering::Relaxed) > 0);
    let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the backup is readable by its owner only");

    // A client created after the backup is not in it: the copy is a snapshot.
    let later = trustgate_json(
        live.path(),
        &["client", "create", "--customer", "acme", "--admin", "boss@acme.test", "--name", "later"],
    );
    drop(server);

    // Restore: the copy as the store of a fresh data directory, with the same server key.
    std::fs::copy(live.path().join("server.key"), restored.path().join("server.key")).unwrap();
    let server = Serving::start(restored.path(), &["--public-url", PUBLIC_URL]);
    assert!(
        !server.banner.iter().any(|l| l.starts_with("First start")),
        "the restored store is not empty: {:?}",
        server.banner
    );
    assert_eq!(
        notifications(&http, &server.url, &issued_before).await,
        StatusCode::OK,
        "a token issued before the backup is accepted by the restored server"
    );
    let (status, body) = token(&http, &server.url, &id, &secret).await;
    assert_eq!(status, StatusCode::OK, "the client's secret still verifies: {body}");
    assert_eq!(notifications(&http, &server.url, body["access_token"].as_str().unwrap()).await, StatusCode::OK);
    let (status, body) =
        token(&http, &server.url, later["id"].as_str().unwrap(), later["secret"].as_str().unwrap()).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &Value::from("invalid_client")),
        "a client created after the backup is not in it: {body}"
    );
}

#[tokio::test]
async fn backup_refuses_postgresql_an_existing_file_and_a_missing_store() {
    let dir = TempDir::new();
    let target = dir.path().join("copy.db");
    let output = trustgate(
        dir.path(),
        &["--database", "postgres://postgres@127.0.0.1:5432/test", "backup", "--to", target.to_str().unwrap()],
    );
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && message.contains("pg_dump"), "PostgreSQL points at pg_dump: {message}");
    assert!(!target.exists());

    let missing = dir.path().join("no-store-here");
    let output = trustgate(&missing, &["backup", "--to", target.to_str().unwrap()]);
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && message.contains("there is no Trustgate store"), "{message}");
    assert!(!missing.exists(), "a missing store is not created by backing it up");

    drop(trustgate_store::SqliteStore::open(dir.path()).await.unwrap());
    std::fs::write(&target, "keep me").unwrap();
    let output = trustgate(dir.path(), &["backup", "--to", target.to_str().unwrap()]);
    assert!(!output.status.success(), "an existing file is not overwritten");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    // Issue #22, item 8: said in plain words, as a refused value (exit 3), not as an unreachable database.
    let message = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{message}");
    assert!(message.contains("exists: a backup is written to a new file only"), "{message}");
    assert!(!message.contains("database is unavailable"), "{message}");

    let nowhere = dir.path().join("no-such-dir").join("copy.db");
    let output = trustgate(dir.path(), &["backup", "--to", nowhere.to_str().unwrap()]);
    let message = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{message}");
    assert!(message.contains("there is no directory"), "{message}");
    assert!(!message.contains("database is unavailable"), "{message}");
}
