//! Several stateless nodes on one PostgreSQL: cross-node consistency through LISTEN/NOTIFY, a lost
//! feed, concurrent writers, a database outage, and the move from SQLite.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Connection;
use tokio::net::{TcpListener, TcpStream};
use trustgate_core::access::{Access, Permission};
use trustgate_core::event::Actor;
use trustgate_core::ids::CustomerId;
use trustgate_store::PostgresStore;

use crate::harness::{custom, status_and_json, Backend, TempDir, TestAdmin, TestApp, TestClient, TestDatabase};

async fn eventually<F, Fut>(within: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < within {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

/// Asserts that `check` holds within two seconds: a change made through one node reaches the
/// others by then.
async fn assert_within_the_feeds_latency<F, Fut>(check: F, what: &str)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    assert!(eventually(Duration::from_secs(2), check).await.is_some(), "{what}");
}

/// A customer with a Full administrator (whose client token is returned) on node `app`.
async fn customer_with_boss(app: &TestApp) -> (CustomerId, String) {
    let customer = app.customer().await;
    let boss = app.admin(&customer, Access::Full).await;
    let token = app.token(&app.client(&customer, &boss).await).await;
    (customer, token)
}

/// Node B beside `a`, and through `a` a customer with a Full administrator, where an owner who may
/// post notifications holds a client.
async fn b_and_a_notifiers_client(a: &TestApp) -> (TestApp, CustomerId, TestAdmin, TestClient) {
    let (b, customer) = (a.second_node().await, a.customer().await);
    a.admin(&customer, Access::Full).await;
    let owner = a.admin(&customer, custom(&[Permission::NOTIFICATIONS])).await;
    let client = a.client(&customer, &owner).await;
    (b, customer, owner, client)
}

#[tokio::test]
async fn changes_through_one_node_are_enforced_by_the_other() {
    let Some(a) = TestApp::spawn_on(Backend::Postgres).await else { return };
    let b = a.second_node().await;
    let (customer, boss_token) = customer_with_boss(&a).await;
    let owner = a.admin(&customer, custom(&[Permission::NOTIFICATIONS])).await;
    let client = a.client(&customer, &owner).await;
    let token = a.token(&client).await;
    assert_eq!(a.get("/notifications/items", &token, &customer).await.1["items"], json!([]));
    assert_eq!(b.post_notification(&token, &customer).await, StatusCode::OK, "a token of node A works on node B");
    assert_within_the_feeds_latency(
        || async {
            a.get("/notifications/items", &token, &customer).await.1["items"].as_array().is_some_and(|i| i.len() == 1)
        },
        "node A's cached list learns of a notification posted through node B",
    )
    .await;

    let reduce = json!({"accessType": "Custom", "policies": [{"name": "systemLog"}]});
    let path = format!("/administrators/access?id={}", owner.id);
    assert_eq!(a.call(Method::PUT, &path, &boss_token, &customer, Some(reduce)).await.0, StatusCode::OK);
    assert_within_the_feeds_latency(
        || async { b.post_notification(&token, &customer).await == StatusCode::FORBIDDEN },
        "node B enforces a reduction made through node A",
    )
    .await;

    let removed = b.call(Method::DELETE, &format!("/administrators/{}", owner.id), &boss_token, &customer, None).await;
    assert_eq!(removed.0, StatusCode::OK);
    let rejected = || async { a.get("/systemlog/records", &token, &customer).await.0 == StatusCode::UNAUTHORIZED };
    assert_within_the_feeds_latency(rejected, "node A rejects the token of a client deleted through node B").await;
}

/// Issue #13: both nodes remember an id they were asked for as unknown; a client created with
/// that id through node A is announced on the feed: node A grants it a token at once, node B
/// within the feed's latency.
#[tokio::test]
async fn a_client_created_through_one_node_works_on_the_other_that_had_found_its_id_unknown() {
    use trustgate_core::client::ClientKind;

    let Some(a) = TestApp::spawn_on(Backend::Postgres).await else { return };
    let (b, customer) = (a.second_node().await, a.customer().await);
    let owner = a.admin(&customer, custom(&[Permission::NOTIFICATIONS])).await;
    let now = time::OffsetDateTime::now_utc();
    let (client, stored, secret) =
        a.client_to_store(&customer, ClientKind::SecureClient { owner: owner.id }, now, None);
    let id = client.id.to_string();
    let form = [("grant_type", "client_credentials"), ("client_id", id.as_str()), ("client_secret", secret.as_str())];
    for node in [&a, &b] {
        // The set-up's changes reach each node's feed a moment later, and an eviction makes a load
        // under way forget what it read: let them arrive first.
        node.state.catch_up().await.expect("the feed is up to date");
        assert_eq!(node.oauth("root", &form).await.0, StatusCode::BAD_REQUEST, "no such client yet");
        assert!(node.state.cache.is_unknown(client.id), "each node holds the id as unknown");
    }

    let cap = trustgate_server::ServerConfig::default().max_clients_per_owner;
    a.store.create_client(&client, &stored, cap, &Actor::System).await.expect("create the client through node A");
    assert_eq!(a.oauth("root", &form).await.0, StatusCode::OK, "at once on the node that created it");
    let granted =
        eventually(Duration::from_secs(2), || async { b.oauth("root", &form).await.0 == StatusCode::OK }).await;
    assert!(granted.is_some(), "node B grants the new client once the feed delivers its creation");
}

#[tokio::test]
async fn cross_node_propagation_delay_over_a_hundred_changes() {
    let Some(a) = TestApp::spawn_on(Backend::Postgres).await else { return };
    let (b, customer, owner, client) = b_and_a_notifiers_client(&a).await;
    let mut delays = Vec::new();
    for i in 0..100 {
        assert!(b.state.client(client.id).await.unwrap().is_some());
        let access = if i % 2 == 0 { custom(&[Permission::SYSTEM_LOG]) } else { custom(&[Permission::NOTIFICATIONS]) };
        a.store.set_access(&customer, owner.id, access, &Actor::System).await.unwrap();
        let start = Instant::now();
        while b.state.cache.get(client.id).is_some() {
            assert!(start.elapsed() < Duration::from_secs(2), "change {i} did not reach node B");
            tokio::task::yield_now().await;
        }
        delays.push(start.elapsed());
    }
    delays.sort();
    eprintln!(
        "cross-node propagation over {} changes: median {:?}, p90 {:?}, worst {:?}",
        delays.len(),
        delays[delays.len() / 2],
        delays[delays.len() * 9 / 10],
        delays[delays.len() - 1]
    );
}

#[tokio::test]
async fn a_node_that_loses_its_feed_flushes_its_cache_and_reconnects() {
    let Some(a) = TestApp::spawn_on(Backend::Postgres).await else { return };
    let (b, customer, owner, client) = b_and_a_notifiers_client(&a).await;
    let token = a.token(&client).await;
    let url = a.database_url().unwrap();
    let listeners = |url: String| async move { crate::harness::feed_listeners(&url).await };
    assert!(eventually(Duration::from_secs(5), || {
        let url = url.clone();
        async move { listeners(url).await == 2 }
    })
    .await
    .is_some());

    assert_eq!(b.post_notification(&token, &customer).await, StatusCode::OK);
    let flushes = b.state.cache.flushes();
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'")
        .execute(&mut conn)
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(5), || async { b.state.cache.flushes() > flushes }).await.is_some(),
        "node B flushed its cache"
    );
    assert!(
        eventually(Duration::from_secs(5), || {
            let url = url.clone();
            async move { listeners(url).await == 2 }
        })
        .await
        .is_some(),
        "both nodes listen again"
    );

    // Node B caches the owner again; only a notification over the new connection can evict it.
    assert_eq!(b.post_notification(&token, &customer).await, StatusCode::OK);
    a.store.set_access(&customer, owner.id, custom(&[Permission::SYSTEM_LOG]), &Actor::System).await.unwrap();
    assert_within_the_feeds_latency(
        || async { b.post_notification(&token, &customer).await == StatusCode::FORBIDDEN },
        "changes reach node B over its new feed connection",
    )
    .await;
}

#[tokio::test]
async fn concurrent_writes_from_two_nodes_leave_no_orphan_clients() {
    let Some(a) = TestApp::spawn_on(Backend::Postgres).await else { return };
    let (b, customer) = (a.second_node().await, a.customer().await);
    a.admin(&customer, Access::Full).await;
    let owners = [a.admin(&customer, Access::Full).await, a.admin(&customer, custom(&[Permission::API_CLIENTS])).await];
    let mut tasks = Vec::new();
    for round in 0..12 {
        for (n, node) in [&a, &b].into_iter().enumerate() {
            let store = node.store.clone();
            let key = node.server_key.clone();
            let customer = customer.clone();
            let owner = owners[(round + n) % 2].clone();
            tasks.push(tokio::spawn(async move {
                match round % 4 {
                    0 | 1 => {
                        if let Some(admin) = store.admin(owner.id).await.unwrap() {
                            let _ = trustgate_server::actions::clients::new_client(
                                store.as_ref(),
                                &key,
                                &customer,
                                &admin,
                                &format!("c{round}"),
                                u64::MAX,
                                &Actor::System,
                            )
                            .await;
                        }
                    }
                    2 => {
                        let _ = store.remove_member(&customer, owner.id, &Actor::System).await;
                    }
                    _ => {
                        let _ = store.add_member(&customer, owner.id, Access::Full, &Actor::System).await;
                        let _ = store
                            .set_access(&customer, owner.id, custom(&[Permission::API_CLIENTS]), &Actor::System)
                            .await;
                    }
                }
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mut conn = sqlx::PgConnection::connect(&a.database_url().unwrap()).await.unwrap();
    let (orphans,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM api_clients k LEFT JOIN memberships m ON m.customer_id = k.customer_id AND m.admin_id = k.owner_id WHERE m.admin_id IS NULL",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(orphans, 0);
    let (full,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE access_type = 'Full'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(full >= 1, "the customer kept a Full administrator");
}

/// A TCP relay to PostgreSQL that can be cut, standing in for a database outage.
struct Relay {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Relay {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (up2, links2) = (up.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue;
                }
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                links2.lock().unwrap().push(link.abort_handle());
            }
        });
        Self { addr, up, links }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn with_the_database_down_nodes_answer_503_and_recover_by_themselves() {
    let Some(database) = TestDatabase::create().await else { return };
    let options: sqlx::postgres::PgConnectOptions = database.url.parse().unwrap();
    let relay = Relay::start(format!("{}:{}", options.get_host(), options.get_port())).await;
    let relayed =
        database.url.replacen(&format!("{}:{}", options.get_host(), options.get_port()), &relay.addr.to_string(), 1);
    let store = PostgresStore::connect(&relayed).await.unwrap();
    let dir = TempDir::new();
    let key = trustgate::commands::server_key(dir.path()).unwrap();
    let app = TestApp::start(Arc::new(store), key, dir, Some(Arc::new(database))).await;
    let (customer, _) = customer_with_boss(&app).await;
    let owner = app.admin(&customer, Access::Full).await;
    let client = app.client(&customer, &owner).await;
    let form_id = client.id.to_string();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", form_id.as_str()),
        ("client_secret", client.secret.as_str()),
    ];

    relay.cut();
    let started = Instant::now();
    let (status, body) = app.oauth("root", &form).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");
    let (status, body) = status_and_json(app.http.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["type"], "https://errors-api.cloud.com/common/serviceUnavailable");
    assert!(started.elapsed() < Duration::from_secs(10), "answered promptly, not hung: {:?}", started.elapsed());
    assert_eq!(
        app.http.get(app.url("/healthz")).send().await.unwrap().status(),
        StatusCode::OK,
        "the process stays up"
    );

    relay.restore();
    let recovered =
        eventually(Duration::from_secs(15), || async { app.oauth("root", &form).await.0 == StatusCode::OK }).await;
    assert!(recovered.is_some(), "the node recovers when the database returns");
}

#[tokio::test]
async fn copying_sqlite_into_postgres_keeps_secrets_keys_and_tokens_working() {
    let Some(database) = TestDatabase::create().await else { return };
    let sqlite = TestApp::spawn_on(Backend::Sqlite).await.unwrap();
    let (customer, _, client) = sqlite.customer_with_client(Access::Full).await;
    let old_token = sqlite.token(&client).await;
    sqlite.post_notification(&old_token, &customer).await;

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_trustgate"))
        .arg("--data-dir")
        .arg(sqlite.dir.path())
        .args(["--json", "copy-to-postgres", "--to", &database.url])
        .env_remove("TRUSTGATE_SERVER_KEY")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["copied"]["api_clients"], 1);

    let store = PostgresStore::connect(&database.url).await.unwrap();
    let (key, issuer) = (sqlite.server_key.clone(), Some(sqlite.state.config.issuer.clone()));
    let node = TestApp::start_as(Arc::new(store), key, TempDir::new(), Some(Arc::new(database)), issuer).await;
    assert_eq!(
        node.post_notification(&old_token, &customer).await,
        StatusCode::OK,
        "tokens signed before the move verify"
    );
    let moved = TestClient { customer: customer.clone(), ..client };
    let new_token = node.token(&moved).await;
    let (status, log) = node.get("/systemlog/records?Limit=200", &new_token, &customer).await;
    assert_eq!(status, StatusCode::OK);
    assert!(log["items"].as_array().unwrap().len() >= 3, "the system log came along");

    let again = std::process::Command::new(env!("CARGO_BIN_EXE_trustgate"))
        .arg("--data-dir")
        .arg(sqlite.dir.path())
        .args(["copy-to-postgres", "--to", &node.database_url().unwrap()])
        .output()
        .unwrap();
    assert!(!again.status.success(), "a second copy into a non-empty database is refused");
}

/// `trustgate --json copy-to-postgres` from `sqlite`'s data directory into `url`.
async fn copy_to_postgres(sqlite: &TestApp, url: &str) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_trustgate"));
    command.arg("--data-dir").arg(sqlite.dir.path()).args(["--json", "copy-to-postgres", "--to", url]);
    command.env_remove("TRUSTGATE_SERVER_KEY");
    tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap()
}

/// Issue #21, item 10: after `catalog apply` on SQLite and a copy, the target had 0 rows in
/// `catalog_services` (and no revocations, resource servers or invitations). The test enumerates the
/// source schema's tables, so a table added later cannot be forgotten: each one is copied with
/// every row, or is one of the few the copy names as not carried over. A table the copy does not
/// know refuses the whole copy, and nothing is committed.
#[tokio::test]
async fn copy_to_postgres_carries_every_table_of_the_sqlite_store_or_refuses() {
    use sqlx::Row;
    let Some(database) = TestDatabase::create().await else { return };
    let sqlite = TestApp::spawn_on(Backend::Sqlite).await.unwrap();
    let (customer, owner, client) = sqlite.customer_with_client(Access::Full).await;
    sqlite.apply_catalog(ORDERS_BY_ID).await;
    // Issue #25: a group with a member, and what it gives them kept on their membership.
    let now = time::OffsetDateTime::now_utc();
    let group = trustgate_core::group::AdminGroup {
        id: trustgate_core::ids::GroupId::generate(),
        customer_id: customer.clone(),
        display_name: "Operators".to_owned(),
        external_id: Some("oid-operators".to_owned()),
        access: custom(&[Permission::NOTIFICATIONS]),
        members: vec![owner.id],
        document: json!({ "displayName": "Operators" }),
        version: String::new(),
        created_at: now,
        updated_at: now,
    };
    sqlite.store.create_group(&group, &Actor::System).await.unwrap();
    let revoked = sqlite.token(&client).await;
    let form = [("token", revoked.as_str()), ("client_id", &client.id.to_string()), ("client_secret", &client.secret)];
    let response = sqlite.http.post(sqlite.url("/oauth2/revoke")).form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    sqlite.cli(&["resource-server", "create", "--name", "orders"]).await;
    // A SIEM stream's cursor, as a node streaming JSON lines leaves it (and its lease, which stays behind).
    let now = time::OffsetDateTime::now_utc();
    let claim = sqlite.store.claim_siem("jsonl", now, time::Duration::minutes(1)).await.unwrap().unwrap();
    let cursor = trustgate_store::LogPosition { tx: 0, seq: 3 };
    assert!(sqlite.store.advance_siem("jsonl", &claim.lease, cursor, now + time::Duration::minutes(1)).await.unwrap());

    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(sqlite.dir.path().join("trustgate.db"));
    let mut source = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
    // A table the copy does not know (as a later migration might add) refuses the copy.
    sqlx::query("CREATE TABLE added_later (id TEXT PRIMARY KEY)").execute(&mut source).await.unwrap();
    let refused = copy_to_postgres(&sqlite, &database.url).await;
    assert!(!refused.status.success(), "a table the copy does not know refuses it");
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("added_later"), "{message}");
    let mut target = sqlx::PgConnection::connect(&database.url).await.unwrap();
    let (customers,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM customers").fetch_one(&mut target).await.unwrap();
    assert_eq!(customers, 0, "nothing was committed");
    sqlx::query("DROP TABLE added_later").execute(&mut source).await.unwrap();

    let output = copy_to_postgres(&sqlite, &database.url).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let tables: Vec<String> =
        sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .fetch_all(&mut source)
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
    assert!(tables.len() >= 20, "{tables:?}");
    let not_copied: Vec<&str> = trustgate_store::NOT_COPIED_TO_POSTGRES.iter().map(|(table, _)| *table).collect();
    let mut copied = Vec::new();
    for table in &tables {
        if not_copied.contains(&table.as_str()) {
            assert!(report["copied"].get(table).is_none(), "{table} is named as not copied");
            continue;
        }
        let count = format!("SELECT COUNT(*) FROM {table}");
        let (in_sqlite,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(count.clone())).fetch_one(&mut source).await.unwrap();
        let (in_postgres,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(count)).fetch_one(&mut target).await.unwrap();
        assert_eq!(report["copied"][table], json!(in_sqlite), "{table}: the report counts every row of the source");
        assert_eq!(in_postgres, in_sqlite, "{table}: every row reached PostgreSQL");
        let compared = report["compared"].as_array().unwrap().iter().find(|t| t["table"] == json!(table));
        assert_eq!(compared.unwrap()["postgres"], json!(in_sqlite), "{table}: compared and printed");
        copied.push((table.clone(), in_sqlite));
    }
    for seeded in [
        "catalog_services",
        "catalog_permissions",
        "catalog_routes",
        "revoked_tokens",
        "resource_servers",
        "siem_streams",
        "admin_groups",
        "admin_group_members",
    ] {
        let rows = copied.iter().find(|(table, _)| table == seeded).map(|(_, rows)| *rows);
        assert!(rows.unwrap_or(0) > 0, "{seeded} was seeded and copied: {rows:?}");
    }

    // The copied revocation holds on a node of the new deployment.
    let store = PostgresStore::connect(&database.url).await.unwrap();
    let (key, issuer) = (sqlite.server_key.clone(), Some(sqlite.state.config.issuer.clone()));
    let node = TestApp::start_as(Arc::new(store), key, TempDir::new(), Some(Arc::new(database)), issuer).await;
    assert_eq!(node.post_notification(&revoked, &customer).await, StatusCode::UNAUTHORIZED);
    // The stream resumes where it stood, claimable at once: the SQLite node's lease was not carried.
    let resumed = node.store.claim_siem("jsonl", now, time::Duration::minutes(1)).await.unwrap();
    assert_eq!(resumed.map(|claim| claim.cursor), Some(cursor));
}

/// Lockouts are per node (documented in docs/security.md): a client locked on node A still gets
/// tokens from node B, so N nodes allow an attacker N allowances, and no more.
#[tokio::test]
async fn lockouts_are_per_node_and_each_node_enforces_its_own() {
    let Some(a) = TestApp::spawn_on(Backend::Postgres).await else { return };
    let b = a.second_node().await;
    let (_, _, client) = a.customer_with_client(Access::Full).await;
    let id = client.id.to_string();
    let wrong = [("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", "tgs_wrong")];
    let right = [("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &client.secret)];
    let limit = trustgate_server::ServerConfig::default().client_throttle.failures.get();
    for _ in 0..=limit {
        assert_eq!(a.oauth("root", &wrong).await.0, StatusCode::BAD_REQUEST);
    }
    assert_eq!(a.oauth("root", &right).await.0, StatusCode::TOO_MANY_REQUESTS, "node A locked the client");
    assert_eq!(b.oauth("root", &right).await.0, StatusCode::OK, "node B keeps its own count");
    for _ in 0..=limit {
        assert_eq!(b.oauth("root", &wrong).await.0, StatusCode::BAD_REQUEST);
    }
    assert_eq!(b.oauth("root", &right).await.0, StatusCode::TOO_MANY_REQUESTS, "and locks after its own allowance");
}

#[tokio::test]
async fn a_token_revoked_through_one_node_is_refused_by_the_other() {
    let Some(a) = TestApp::spawn_on(Backend::Postgres).await else { return };
    let (b, customer) = (a.second_node().await, a.customer().await);
    let owner = a.admin(&customer, custom(&[Permission::NOTIFICATIONS])).await;
    let client = a.client(&customer, &owner).await;
    let token = a.token(&client).await;
    let kept = a.token(&client).await;
    assert_eq!(b.get("/notifications/items", &token, &customer).await.0, StatusCode::OK, "B has verified it");

    let form = serde_urlencoded::to_string([
        ("token", token.as_str()),
        ("client_id", &client.id.to_string()),
        ("client_secret", &client.secret),
    ])
    .unwrap();
    let response = a
        .http
        .post(a.url("/oauth2/revoke"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(a.get("/notifications/items", &token, &customer).await.0, StatusCode::UNAUTHORIZED);
    assert_within_the_feeds_latency(
        || async { b.get("/notifications/items", &token, &customer).await.0 == StatusCode::UNAUTHORIZED },
        "node B refuses a token revoked through node A",
    )
    .await;
    assert_eq!(b.get("/notifications/items", &kept, &customer).await.0, StatusCode::OK);
    let c = a.second_node().await;
    assert_eq!(c.get("/notifications/items", &token, &customer).await.0, StatusCode::UNAUTHORIZED, "nor a new node");
}

// ---- The permission catalog across nodes (issue #10) ----

const ORDERS_BY_ID: &str = concat!(
    orders_service!(),
    r#"
[[route]]
method = "GET"
path = "/orders/{id}"
permission = "orders.read"
"#
);

/// The gateway's answer on `node` for `GET uri`, asked as nginx's `auth_request` asks.
async fn gateway_decision(node: &TestApp, token: &str, customer: &CustomerId, uri: &str) -> StatusCode {
    let response = node
        .http
        .get(node.url("/gateway/authorize"))
        .header("authorization", format!("CwsAuth Bearer={token}"))
        .header("citrix-customerid", customer.as_str())
        .header("x-original-method", "GET")
        .header("x-original-uri", uri)
        .send()
        .await
        .unwrap();
    response.status()
}

/// A catalog applied through node A (`trustgate catalog apply` on A's data directory, which tells
/// only A over its control socket) reaches node B through PostgreSQL's LISTEN/NOTIFY, which B reads
/// asynchronously: hence `eventually`, bounded as for every other change. Once B shows it on
/// `/api/v1/catalog`, B's gateway decides with it on the very next request.
#[tokio::test]
async fn a_catalog_applied_through_one_node_is_what_the_other_shows_and_decides_with() {
    let Some(a) = TestApp::spawn_on(Backend::Postgres).await else { return };
    let b = a.second_node().await;
    a.apply_catalog(ORDERS_BY_ID).await;
    let customer = a.customer().await;
    let read = Permission::parse("orders.read").unwrap();
    let owner = a.admin_with_password(&customer, custom(&[read])).await;
    let token = a.token(&a.client(&customer, &owner).await).await;
    let session = b.sign_in(&owner).await;
    let routes_on_b = || async {
        let (status, body) = b.as_admin(&session, Method::GET, "/api/v1/catalog", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["routes"].clone()
    };
    let first = json!([{"method": "GET", "path": "/orders/{id}", "permission": "orders.read", "customer": "header"}]);
    assert!(eventually(Duration::from_secs(2), || async { routes_on_b().await == first }).await.is_some());
    assert_eq!(gateway_decision(&b, &token, &customer, "/orders/42").await, StatusCode::OK);
    assert_eq!(gateway_decision(&b, &token, &customer, "/orders/42/lines").await, StatusCode::FORBIDDEN);

    let moved = ORDERS_BY_ID.replace("path = \"/orders/{id}\"", "path = \"/orders/{id}/lines\"");
    a.apply_catalog(&moved).await;
    let second =
        json!([{"method": "GET", "path": "/orders/{id}/lines", "permission": "orders.read", "customer": "header"}]);
    let shown = eventually(Duration::from_secs(2), || async { routes_on_b().await == second }).await;
    assert!(shown.is_some(), "node B shows the catalog applied through node A");
    assert_eq!(gateway_decision(&b, &token, &customer, "/orders/42/lines").await, StatusCode::OK, "newly declared");
    assert_eq!(gateway_decision(&b, &token, &customer, "/orders/42").await, StatusCode::FORBIDDEN, "removed");
}

#[tokio::test]
async fn a_secret_deleted_through_one_node_grants_on_no_other() {
    let Some(a) = TestApp::spawn_on(Backend::Postgres).await else { return };
    let b = a.second_node().await;
    let (customer, _, client) = a.customer_with_client(Access::Full).await;
    let (_, second) = trustgate_server::actions::clients::add_secret(
        a.store.as_ref(),
        &a.server_key,
        &customer,
        client.id,
        None,
        &Actor::System,
    )
    .await
    .unwrap();
    // Node B holds the client, with both secrets, in its cache (once its feed is up: connecting
    // flushes the cache).
    b.store.catch_up().await.unwrap();
    b.token(&client).await;
    let first = trustgate_core::secret::SecretId::parse(&client.secret[4..20]).unwrap();
    a.store.delete_client_secret(&customer, client.id, first, &Actor::System).await.unwrap();
    let id = client.id.to_string();
    let refused = eventually(Duration::from_secs(2), || async {
        let form =
            [("grant_type", "client_credentials"), ("client_id", id.as_str()), ("client_secret", &client.secret)];
        b.oauth("root", &form).await.0 == StatusCode::BAD_REQUEST
    })
    .await;
    assert!(refused.is_some(), "node B refuses a secret deleted through node A");
    b.token(&TestClient { secret: second.expose().to_owned(), ..client.clone() }).await;
}

/// An apply under way holds the catalog: a grant of a permission it removes waits for it and is
/// then refused, so no holder can slip in between the apply reading the holders and committing.
#[tokio::test]
async fn a_grant_during_an_apply_waits_for_it_and_then_finds_the_permission_gone() {
    let Some(app) = TestApp::spawn_on(Backend::Postgres).await else { return };
    app.apply_catalog(orders_service!()).await;
    let customer = app.customer().await;
    let admin = app.admin(&customer, custom(&[Permission::NOTIFICATIONS])).await;
    let url = app.database_url().expect("a PostgreSQL node");
    let mut apply = sqlx::PgConnection::connect(&url).await.expect("connect");
    let mut under_way = apply.begin().await.expect("begin");
    sqlx::query("LOCK TABLE catalog_services IN EXCLUSIVE MODE").execute(&mut *under_way).await.expect("lock");
    sqlx::query("DELETE FROM catalog_permissions WHERE service = 'orders' AND name = 'read'")
        .execute(&mut *under_way)
        .await
        .expect("remove orders.read");

    let store = app.store.clone();
    let (customer_id, admin_id) = (customer.clone(), admin.id);
    let grant = tokio::spawn(async move {
        let read = Permission::parse("orders.read").unwrap();
        store.set_access(&customer_id, admin_id, custom(&[read]), &Actor::System).await
    });
    // Held back, not merely slow: PostgreSQL shows the grant waiting for a lock.
    let mut watch = sqlx::PgConnection::connect(&url).await.expect("connect");
    let waiting =
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'";
    let deadline = Instant::now() + Duration::from_secs(10);
    while sqlx::query_scalar::<_, i64>(waiting).fetch_one(&mut watch).await.expect("pg_stat_activity") == 0 {
        assert!(!grant.is_finished() && Instant::now() < deadline, "the grant did not wait for the apply under way");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!grant.is_finished(), "the grant did not wait for the apply under way");
    under_way.commit().await.expect("commit the apply");
    let granted = grant.await.expect("the grant task");
    assert!(
        matches!(&granted, Err(trustgate_store::StoreError::Conflict(m)) if m.contains("no longer in the catalog")),
        "{granted:?}"
    );
    let member = app.store.member(&customer, admin.id).await.unwrap().expect("still a member");
    assert_eq!(member.access, custom(&[Permission::NOTIFICATIONS]));
}

#[tokio::test]
async fn after_a_bulk_load_postgresql_plans_with_statistics_of_the_client_tables() {
    use trustgate_store::Store;
    let Some(database) = TestDatabase::create().await else { return };
    let store = PostgresStore::connect(&database.url).await.unwrap();
    store.refresh_statistics().await.unwrap();
    let mut conn = sqlx::PgConnection::connect(&database.url).await.unwrap();
    let analyzed: Vec<(String,)> = sqlx::query_as(
        "SELECT relname::text FROM pg_stat_user_tables \
         WHERE last_analyze IS NOT NULL AND relname IN ('api_clients', 'client_secrets') ORDER BY relname",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(analyzed, [("api_clients".to_owned(),), ("client_secrets".to_owned(),)]);
    let _ = conn.close().await;
}

/// Issue #24: two nodes deliver a customer's webhooks together, each event once in the normal
/// case (a node claims an endpoint with `FOR UPDATE SKIP LOCKED` and a lease), while both write
/// changes.
#[tokio::test]
async fn two_nodes_deliver_each_webhook_event_once() {
    let config = || trustgate_server::ServerConfig {
        webhooks_allow_private: true,
        webhook_poll_interval: Duration::from_millis(20),
        ..trustgate_server::ServerConfig::default()
    };
    let Some(a) = TestApp::spawn_with(Backend::Postgres, config()).await else { return };
    let store = PostgresStore::connect(&a.database_url().unwrap()).await.unwrap();
    let b = TestApp::start_with(Arc::new(store), a.server_key.clone(), TempDir::new(), None, config(), None).await;
    let receiver = crate::webhook_receiver::Receiver::start().await;
    let customer = a.customer().await;
    let boss = a.admin_with_password(&customer, Access::Full).await;
    let session = a.sign_in(&boss).await;
    let (status, created) = a
        .as_admin(
            &session,
            Method::POST,
            &format!("/api/v1/customers/{customer}/webhooks"),
            Some(json!({ "url": receiver.url })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let first = a.log_of(&customer, "platform:webhook/create").await[0].seq;
    let writers: Vec<_> = [a.store.clone(), b.store.clone()]
        .into_iter()
        .map(|store| {
            let customer = customer.clone();
            tokio::spawn(async move {
                for n in 0..50 {
                    let policy = if n % 2 == 0 {
                        trustgate_core::customer::DisabledOwnerPolicy::SuspendClients
                    } else {
                        trustgate_core::customer::DisabledOwnerPolicy::KeepActive
                    };
                    store.set_disabled_owner_policy(&customer, policy, &Actor::System).await.unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let expected: Vec<i64> = a.log(&customer).await.iter().map(|r| r.seq).filter(|s| *s >= first).collect();
    assert_eq!(expected.len(), 101);
    let delivered = eventually(Duration::from_secs(30), || async { receiver.seqs().len() >= expected.len() }).await;
    assert!(delivered.is_some(), "delivered {} of {}", receiver.seqs().len(), expected.len());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // In the order of the transactions that wrote them: two writers at once may commit in
    // another order than they drew `seq` (docs/webhooks.md), so only the set is compared.
    let mut got = receiver.seqs();
    got.sort_unstable();
    assert_eq!(got, expected, "each event once");
}

/// Issue #24: on PostgreSQL a transaction can write a system-log record (drawing the lower `seq`)
/// and commit after a later change has committed. The later record must wait for it: delivered
/// first, the cursor would move past the late one, which would never be sent.
#[tokio::test]
async fn a_webhook_record_committed_late_is_sent_and_nothing_overtakes_it() {
    let config = trustgate_server::ServerConfig {
        webhooks_allow_private: true,
        webhook_poll_interval: Duration::from_millis(20),
        ..trustgate_server::ServerConfig::default()
    };
    let Some(a) = TestApp::spawn_with(Backend::Postgres, config).await else { return };
    let receiver = crate::webhook_receiver::Receiver::start().await;
    let customer = a.customer().await;
    let boss = a.admin_with_password(&customer, Access::Full).await;
    let session = a.sign_in(&boss).await;
    let (status, created) = a
        .as_admin(
            &session,
            Method::POST,
            &format!("/api/v1/customers/{customer}/webhooks"),
            Some(json!({ "url": receiver.url })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(eventually(Duration::from_secs(10), || async { receiver.deliveries().len() == 1 }).await.is_some());

    let mut connection = sqlx::PgConnection::connect(&a.database_url().unwrap()).await.unwrap();
    let mut late = connection.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO system_log (record_id, customer_id, at, event_type, actor_type, actor_name, target_type, \
         target_id, target_name, message) VALUES ($1, $2, $3, 'test:late/write', 'System', 'test', 'Test', 'late', \
         'late', 'written by a transaction that commits late')",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(customer.as_str())
    .bind(time::OffsetDateTime::now_utc().unix_timestamp() * 1000)
    .execute(&mut *late)
    .await
    .unwrap();
    a.store
        .set_disabled_owner_policy(
            &customer,
            trustgate_core::customer::DisabledOwnerPolicy::SuspendClients,
            &Actor::System,
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.deliveries().len(), 1, "the later change waits while the earlier transaction is open");

    late.commit().await.unwrap();
    assert!(eventually(Duration::from_secs(10), || async { receiver.deliveries().len() >= 3 }).await.is_some());
    let types: Vec<String> =
        receiver.deliveries().iter().map(|d| d.json()["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(types[1], "test:late/write", "{types:?}");
    assert_eq!(types.len(), 3, "{types:?}");
    let seqs = receiver.seqs();
    assert!(seqs[1] < seqs[2], "the late record drew the lower seq: {seqs:?}");
}
