//! Nodes behind a PgBouncer in transaction mode, as a managed PostgreSQL is usually run: the
//! queries go through the pooler, each node's LISTEN session and migrations straight to
//! PostgreSQL (`--database-direct-url`).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sqlx::postgres::PgConnectOptions;
use sqlx::Connection;
use trustgate_core::access::Permission;
use trustgate_core::event::Actor;
use trustgate_store::{PostgresConfig, PostgresStore};

use crate::harness::{custom, skip, TempDir, TestApp, TestDatabase};

/// Connections PgBouncer opens to PostgreSQL for the test database, whatever the nodes ask for.
const SERVER_POOL: u32 = 10;
/// Connections each node's pool opens to PgBouncer.
const NODE_POOL: u32 = 16;
const NODES: usize = 8;

/// A PgBouncer on an ephemeral port in front of the test database, in transaction mode.
struct PgBouncer {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl PgBouncer {
    /// `None` when TRUSTGATE_TEST_PGBOUNCER names no binary on a developer's machine (see [`skip`]).
    fn start(database: &TestDatabase) -> Option<Self> {
        let Some(binary) = std::env::var_os("TRUSTGATE_TEST_PGBOUNCER") else {
            skip("PgBouncer: TRUSTGATE_TEST_PGBOUNCER not set (.ci/pgbouncer builds one and prints its path)");
            return None;
        };
        let target: PgConnectOptions = database.url.parse().expect("the test database's URL");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let dir = TempDir::new();
        let user = target.get_username();
        let name = target.get_database().expect("a database name");
        std::fs::write(dir.path().join("users.txt"), format!("\"{user}\" \"\"\n")).expect("users file");
        // PgBouncer refuses to run as root; when the tests do, it drops to `nobody`, which must
        // be able to write its log in the directory.
        let as_root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        let drop_to = if as_root { "user = nobody\n" } else { "" };
        let config = format!(
            "[databases]\n{name} = host={host} port={pg_port} dbname={name}\n\
             [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
             auth_type = trust\nauth_file = {dir}/users.txt\npool_mode = transaction\n\
             max_prepared_statements = 200\ndefault_pool_size = {SERVER_POOL}\nmax_client_conn = 1000\n\
             logfile = {dir}/pgbouncer.log\n{drop_to}",
            host = target.get_host(),
            pg_port = target.get_port(),
            dir = dir.path().display(),
        );
        std::fs::write(dir.path().join("pgbouncer.ini"), config).expect("config");
        if as_root {
            let _ = Command::new("chmod").arg("777").arg(dir.path()).status();
        }
        let child = Command::new(binary)
            .arg(dir.path().join("pgbouncer.ini"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pgbouncer");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "PgBouncer did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Self { child, port, _dir: dir })
    }

    /// `url` with PgBouncer's address in place of PostgreSQL's.
    fn url_for(&self, url: &str) -> String {
        let target: PgConnectOptions = url.parse().expect("a URL");
        let name = target.get_database().expect("a database name");
        format!("postgres://{}@127.0.0.1:{}/{name}", target.get_username(), self.port)
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Server connections PostgreSQL holds for `database`, the pooler's and the direct sessions.
async fn connections_to(database: &TestDatabase) -> i64 {
    let mut conn = sqlx::PgConnection::connect(&database.url).await.expect("connect");
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        .fetch_one(&mut conn)
        .await
        .expect("count connections");
    let _ = conn.close().await;
    // This query's own connection.
    count - 1
}

#[tokio::test]
async fn eight_nodes_behind_pgbouncer_enforce_every_change_within_the_feeds_bound() {
    let Some(first) = TestApp::spawn_on(crate::harness::Backend::Postgres).await else { return };
    let database = first.database().expect("a PostgreSQL node");
    let Some(bouncer) = PgBouncer::start(&database) else { return };
    let config = PostgresConfig {
        url: bouncer.url_for(&database.url),
        direct_url: Some(database.url.clone()),
        pool_size: NODE_POOL,
    };
    let mut nodes = Vec::new();
    for _ in 1..NODES {
        let store = PostgresStore::connect_to(&config).await.expect("a node through PgBouncer");
        let issuer = Some(first.state.config.issuer.clone());
        nodes.push(
            TestApp::start_as(
                Arc::new(store),
                first.server_key.clone(),
                TempDir::new(),
                Some(database.clone()),
                issuer,
            )
            .await,
        );
    }
    let customer = first.customer().await;
    let owner = first.admin(&customer, custom(&[Permission::NOTIFICATIONS])).await;
    let client = first.client(&customer, &owner).await;
    let token = first.token(&client).await;
    for node in &nodes {
        assert_eq!(node.post_notification(&token, &customer).await, StatusCode::OK, "every node serves the client");
    }

    let changes: usize =
        std::env::var("TRUSTGATE_TEST_POOLER_CHANGES").ok().and_then(|n| n.parse().ok()).unwrap_or(200);
    let mut delays = Vec::with_capacity(changes * nodes.len());
    for i in 0..changes {
        for node in &nodes {
            assert!(node.state.client(client.id).await.expect("load the client").is_some());
        }
        let access = if i % 2 == 0 { custom(&[Permission::SYSTEM_LOG]) } else { custom(&[Permission::NOTIFICATIONS]) };
        first.store.set_access(&customer, owner.id, access, &Actor::System).await.expect("change the owner's access");
        let start = Instant::now();
        for node in &nodes {
            while node.state.cache.get(client.id).is_some() {
                assert!(start.elapsed() < Duration::from_secs(2), "change {i} did not reach every node within 2 s");
                tokio::task::yield_now().await;
            }
            delays.push(start.elapsed());
        }
    }
    delays.sort();
    let held = connections_to(&database).await;
    eprintln!(
        "propagation to {} nodes through PgBouncer over {changes} changes: median {:?}, p99 {:?}, worst {:?}; \
         {held} connections to PostgreSQL",
        nodes.len(),
        delays[delays.len() / 2],
        delays[delays.len() * 99 / 100],
        delays[delays.len() - 1]
    );

    // PgBouncer's server pool, every pooled node's LISTEN session, and the first node's own
    // pool and session (it connects directly).
    let bound = i64::from(SERVER_POOL) + nodes.len() as i64 + i64::from(trustgate_store::default_pool_size()) + 1;
    assert!(held <= bound, "{held} connections to PostgreSQL, more than the bound {bound}");
    let reduced = nodes[NODES - 2].post_notification(&token, &customer).await;
    let expected = if changes % 2 == 1 { StatusCode::FORBIDDEN } else { StatusCode::OK };
    assert_eq!(reduced, expected, "the last node answers with the owner's access now");
}

#[tokio::test]
async fn an_operator_command_through_pgbouncer_migrates_on_the_direct_url_and_writes_through_the_pooler() {
    let Some(database) = TestDatabase::create().await else { return };
    let Some(bouncer) = PgBouncer::start(&database) else { return };
    let dir = TempDir::new();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_trustgate"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--database", &bouncer.url_for(&database.url), "--database-direct-url", &database.url])
        .args(["--json", "customer", "create", "--name", "Acme", "--id", "acme"])
        .env_remove("TRUSTGATE_SERVER_KEY")
        .output()
        .await
        .expect("run trustgate");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut conn = sqlx::PgConnection::connect(&database.url).await.expect("connect");
    let (name,): (String,) = sqlx::query_as("SELECT name FROM customers WHERE id = 'acme'")
        .fetch_one(&mut conn)
        .await
        .expect("the customer");
    assert_eq!(name, "Acme");
    let _ = conn.close().await;
}
