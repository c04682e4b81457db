//! Migrations on stores written by earlier versions: what was issued keeps working (R2).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use reqwest::StatusCode;
use sqlx::migrate::Migrator;
use trustgate_core::client_secrets::SecretInfo;
use trustgate_core::event::Actor;
use trustgate_core::ids::{AdminId, ClientId, CustomerId};
use trustgate_core::secret::{ClientSecret, ServerKey};
use trustgate_store::{PostgresStore, SqliteStore, Store};

use crate::harness::{TempDir, TestApp, TestDatabase};

/// The migrations of `backend` numbered below `before`, copied apart: a store as an earlier version
/// left it.
fn migrations_before(backend: &str, before: &str) -> TempDir {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../store/migrations").join(backend);
    let dir = TempDir::new();
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.as_str() < before {
            std::fs::copy(&path, dir.path().join(&name)).unwrap();
        }
    }
    dir
}

/// A customer, its administrator and one client holding a secret in the first format, written
/// as version 0008 of the schema stores them; returns the client and its secret.
fn rows_before_0010(key: &ServerKey, verifier_literal: impl Fn(&str) -> String) -> (String, ClientId, String) {
    let legacy = format!("tgs_{}", &ClientSecret::generate().expose()[21..]);
    let verifier = key.verifier(&ClientSecret::from_presented(&legacy).unwrap());
    let hex: String = verifier.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let (customer, admin, client) = (CustomerId::generate(), AdminId::generate(), ClientId::generate());
    let sql = format!(
        "INSERT INTO customers (id, name, disabled_owner_policy, created_at) VALUES ('{customer}', 'Acme', 'keep-active', 1);
         INSERT INTO admins (id, email, display_name, provider, external_id, status, password_hash, created_at)
             VALUES ('{admin}', 'ops@example.com', 'Ops', 'CitrixSts', NULL, 'active', NULL, 1);
         INSERT INTO memberships (customer_id, admin_id, access_type, permissions, created_at, updated_at, email, display_name)
             VALUES ('{customer}', '{admin}', 'Full', '', 1, 1, 'ops@example.com', 'Ops');
         INSERT INTO api_clients (id, customer_id, owner_id, name, verifier, created_at, last_used_at)
             VALUES ('{client}', '{customer}', '{admin}', 'nightly', {}, 1, NULL);",
        verifier_literal(&hex)
    );
    (sql, client, legacy)
}

async fn grants_after_migration(app: &TestApp, client: ClientId, legacy: &str) -> Vec<SecretInfo> {
    let id = client.to_string();
    let form = [("grant_type", "client_credentials"), ("client_id", id.as_str()), ("client_secret", legacy)];
    let (status, body) = app.oauth("root", &form).await;
    assert_eq!(status, StatusCode::OK, "a secret issued before migration 0010 still grants: {body}");
    let customer = app.store.customers().await.unwrap().remove(0).id;
    app.store.client_secrets(&customer, client, &Actor::System).await.unwrap()
}

fn assert_migrated(secrets: &[SecretInfo]) {
    assert_eq!(secrets.len(), 1);
    assert!(secrets[0].legacy && secrets[0].expires_at.is_none(), "{secrets:?}");
}

#[tokio::test]
async fn migration_0010_keeps_every_sqlite_clients_secret_granting() {
    use sqlx::ConnectOptions;
    let dir = TempDir::new();
    let key = trustgate::commands::server_key(dir.path()).unwrap();
    let old = migrations_before("sqlite", "0010");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join(trustgate_store::SQLITE_FILE))
        .create_if_missing(true);
    let mut conn = options.connect().await.unwrap();
    Migrator::new(Path::new(old.path())).await.unwrap().run(&mut conn).await.unwrap();
    let (sql, client, legacy) = rows_before_0010(&key, |hex| format!("X'{hex}'"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
    drop(conn);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let app = TestApp::start(store, key, dir, None).await;
    assert_migrated(&grants_after_migration(&app, client, &legacy).await);
}

#[tokio::test]
async fn migration_0010_keeps_every_postgres_clients_secret_granting() {
    use sqlx::Connection;
    let Some(database) = TestDatabase::create().await else { return };
    let dir = TempDir::new();
    let key = trustgate::commands::server_key(dir.path()).unwrap();
    let old = migrations_before("postgres", "0010");
    let mut conn = sqlx::PgConnection::connect(&database.url).await.unwrap();
    Migrator::new(Path::new(old.path())).await.unwrap().run(&mut conn).await.unwrap();
    let (sql, client, legacy) = rows_before_0010(&key, |hex| format!("'\\x{hex}'::bytea"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
    let _ = conn.close().await;
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&database.url).await.unwrap());
    let app = TestApp::start(store, key, dir, Some(Arc::new(database))).await;
    assert_migrated(&grants_after_migration(&app, client, &legacy).await);
}
