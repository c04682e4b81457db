//! `TestApp`: a real server on 127.0.0.1:0 over a fresh store in its own directory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use time::OffsetDateTime;
use tokio::sync::oneshot;
use trustgate_core::access::{Access, Permission};
use trustgate_core::admin::{Admin, AdminStatus, Email, Provider};
use trustgate_core::client::{ApiClient, ClientKind};
use trustgate_core::client_secrets::NewSecret;
use trustgate_core::custody::KeyVault;
use trustgate_core::customer::{Customer, DisabledOwnerPolicy};
use trustgate_core::event::Actor;
use trustgate_core::ids::{AdminId, ClientId, CustomerId};
use trustgate_core::secret::{random_token, ClientSecret, ServerKey};
use trustgate_core::token::{Issuer, KeySet};
use trustgate_server::{AppState, ServerConfig};
use trustgate_store::{PostgresStore, SqliteStore, Store};

/// The `orders` service most catalog tests apply: `orders.read` and `orders.write`, no routes. A
/// test that needs more writes `concat!(orders_service!(), "...")`, hence a macro, not a const.
macro_rules! orders_service {
    () => {
        r#"
[[service]]
name = "orders"
display_name = "Orders"

[[permission]]
service = "orders"
name = "read"
display_name = "Read orders"

[[permission]]
service = "orders"
name = "write"
display_name = "Write orders"
"#
    };
}

/// A directory removed when the test ends.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("trustgate-test-{}", &random_token()[..16]));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct TestApp {
    pub url: String,
    pub store: Arc<dyn Store>,
    pub server_key: ServerKey,
    pub http: reqwest::Client,
    pub dir: TempDir,
    pub state: AppState,
    database: Option<Arc<TestDatabase>>,
    shutdown: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

#[derive(Debug, Clone)]
pub struct TestAdmin {
    pub id: AdminId,
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone)]
pub struct TestClient {
    pub id: ClientId,
    pub secret: String,
    pub customer: CustomerId,
}

pub fn custom(permissions: &[Permission]) -> Access {
    Access::Custom(permissions.iter().cloned().collect())
}

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh PostgreSQL database for one test, dropped when the test ends.
pub struct TestDatabase {
    pub url: String,
    pub name: String,
    pub admin_url: String,
}

/// Whether every test must run, as in CI (`TRUSTGATE_TEST_REQUIRE_ALL=1`): a missing service or
/// tool then fails the test instead of skipping it.
pub fn require_all() -> bool {
    std::env::var("TRUSTGATE_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// Skips what is left of the running test because `why` (what is missing, and how to get it), or
/// fails it when every test must run ([`require_all`]). The caller returns after.
///
/// A run that skipped anything ends with one line on stderr: how many tests skipped, and why.
/// libtest captures `eprintln!` per test and has no hook at the end of a run, so an `awk` started
/// at the first skip collects them and prints that line when the test process is gone, which
/// closes the pipe it reads (the pipe is close-on-exec: no other child holds it open).
pub fn skip(why: impl std::fmt::Display) {
    let why = why.to_string();
    assert!(!require_all(), "TRUSTGATE_TEST_REQUIRE_ALL=1 but {why}");
    eprintln!("SKIPPING: {why}");
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    static SKIPPED: std::sync::Mutex<Option<Skipped>> = std::sync::Mutex::new(None);
    let mut skipped = SKIPPED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let skipped = skipped.get_or_insert_with(Skipped::start);
    if !skipped.seen.insert((test.clone(), why.clone())) {
        return;
    }
    let line = format!("{test}\t{}\n", why.replace(['\t', '\n'], " "));
    let written = skipped.summary.as_mut().is_some_and(|summary| summary.write_all(line.as_bytes()).is_ok());
    if !written {
        // Without the summary, still past libtest's capture: straight to the process's stderr.
        let _ = std::io::stderr().write_all(format!("skipped {line}").as_bytes());
    }
}

/// Reads "test<TAB>reason" lines; at the end of its input, prints the count of distinct
/// tests, then each reason with its count of tests in brackets, in the order they came.
const SKIP_SUMMARY: &str = r#"
    !($1 in tests) { tests[$1]; total++ }
    !($2 in count) { order[++reasons] = $2 }
    { count[$2]++ }
    END {
        if (!total) exit
        line = "warning: " total (total == 1 ? " test" : " tests") " skipped:"
        for (i = 1; i <= reasons; i++) line = line (i > 1 ? ";" : "") " " order[i] " [" count[order[i]] "]"
        print line " (with TRUSTGATE_TEST_REQUIRE_ALL=1 a skip fails the test)"
    }"#;

struct Skipped {
    seen: std::collections::HashSet<(String, String)>,
    summary: Option<std::process::ChildStdin>,
}

impl Skipped {
    fn start() -> Self {
        let summary = std::process::Command::new("awk")
            .args(["-F", "\t", SKIP_SUMMARY])
            .stdin(std::process::Stdio::piped())
            .stdout(std::io::stderr())
            .spawn()
            .ok()
            .and_then(|mut awk| awk.stdin.take());
        Self { seen: std::collections::HashSet::new(), summary }
    }
}

#[test]
fn the_skip_summary_counts_each_test_once_and_each_reason_by_its_tests() {
    use std::process::{Command, Stdio};
    let mut awk = Command::new("awk")
        .args(["-F", "\t", SKIP_SUMMARY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("awk");
    let lines = "a\tno PostgreSQL\nb\tno PostgreSQL\nb\tno chromium\n";
    awk.stdin.take().expect("stdin").write_all(lines.as_bytes()).expect("write");
    let output = awk.wait_with_output().expect("awk runs");
    let expected = "warning: 2 tests skipped: no PostgreSQL [2]; no chromium [1] \
                    (with TRUSTGATE_TEST_REQUIRE_ALL=1 a skip fails the test)\n";
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
    let silent = Command::new("awk").args(["-F", "\t", SKIP_SUMMARY]).stdin(Stdio::null()).output().expect("awk");
    assert!(silent.stdout.is_empty(), "nothing skipped, nothing said");
}

impl TestDatabase {
    /// `None` when PostgreSQL is unreachable on a developer's machine (see [`skip`]).
    pub async fn create() -> Option<Self> {
        use sqlx::Connection;
        let admin_url = std::env::var("TRUSTGATE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let mut conn = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(conn) => conn,
            Err(e) => {
                skip(format_args!("PostgreSQL (TRUSTGATE_TEST_POSTGRES_URL) not reachable at {admin_url}: {e}"));
                return None;
            }
        };
        let name = format!("tg_test_{}", random_token()[..12].to_lowercase().replace(['-', '_'], "x"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create database");
        let _ = conn.close().await;
        let url = trustgate_store::sibling_database_url(&admin_url, &name).expect("a URL for the test database");
        Some(Self { url, name, admin_url })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime; the clean-up gets a runtime of its own.
        let _ = std::thread::spawn(move || {
            use sqlx::Connection;
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await;
                }
            });
        })
        .join();
    }
}

impl TestApp {
    pub async fn spawn_on(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, ServerConfig::default()).await
    }

    pub async fn spawn_with(backend: Backend, config: ServerConfig) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = TempDir::new();
                let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.expect("open store"));
                let key = trustgate::commands::server_key(dir.path()).expect("server key");
                Some(Self::start_with(store, key, dir, None, config, None).await)
            }
            Backend::Postgres => {
                let database = Arc::new(TestDatabase::create().await?);
                let store = PostgresStore::connect(&database.url).await.expect("connect to the test database");
                let dir = TempDir::new();
                let key = trustgate::commands::server_key(dir.path()).expect("server key");
                Some(Self::start_with(Arc::new(store), key, dir, Some(database), config, None).await)
            }
        }
    }

    /// A node on SQLite in `dir`, as `trustgate serve --data-dir dir` would run.
    pub async fn spawn_in(dir: TempDir) -> Self {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.expect("open store"));
        let server_key = trustgate::commands::server_key(dir.path()).expect("server key");
        Self::start(store, server_key, dir, None).await
    }

    /// The node's clock: a test moves it ahead rather than wait for a lockout to end or a secret
    /// or an invitation to expire.
    pub fn clock(&self) -> &trustgate_server::config::Clock {
        &self.state.config.clock
    }

    /// The PostgreSQL database of this node's deployment, kept while any node holds it.
    pub fn database(&self) -> Option<Arc<TestDatabase>> {
        self.database.clone()
    }

    pub fn database_url(&self) -> Option<String> {
        self.database.as_ref().map(|d| d.url.clone())
    }

    /// Another node of the same deployment as `self`: its PostgreSQL database, server key and issuer.
    pub async fn second_node(&self) -> Self {
        let database = self.database.clone().expect("a PostgreSQL node");
        let store = PostgresStore::connect(&database.url).await.expect("connect");
        let issuer = Some(self.state.config.issuer.clone());
        Self::start_as(Arc::new(store), self.server_key.clone(), TempDir::new(), Some(database), issuer).await
    }

    /// Another node of the same deployment as `self`, with `config`.
    pub async fn second_node_with(&self, config: ServerConfig) -> Self {
        let database = self.database.clone().expect("a PostgreSQL node");
        let store = PostgresStore::connect(&database.url).await.expect("connect");
        let issuer = Some(self.state.config.issuer.clone());
        Self::start_with(Arc::new(store), self.server_key.clone(), TempDir::new(), Some(database), config, issuer).await
    }

    pub async fn start(
        store: Arc<dyn Store>,
        server_key: ServerKey,
        dir: TempDir,
        database: Option<Arc<TestDatabase>>,
    ) -> Self {
        Self::start_with(store, server_key, dir, database, ServerConfig::default(), None).await
    }

    /// Starts a node that issues as `issuer` (the nodes of one deployment share it).
    pub async fn start_as(
        store: Arc<dyn Store>,
        server_key: ServerKey,
        dir: TempDir,
        database: Option<Arc<TestDatabase>>,
        issuer: Option<Issuer>,
    ) -> Self {
        Self::start_with(store, server_key, dir, database, ServerConfig::default(), issuer).await
    }

    /// Starts a node with `config`, issuing as `issuer` or, by default, as its own URL.
    pub async fn start_with(
        store: Arc<dyn Store>,
        server_key: ServerKey,
        dir: TempDir,
        database: Option<Arc<TestDatabase>>,
        config: ServerConfig,
        issuer: Option<Issuer>,
    ) -> Self {
        let (listener, url) = loopback("127.0.0.1").await;
        Self::serve_at(listener, url, store, server_key, dir, database, config, issuer).await
    }

    /// A node on SQLite whose public URL names `localhost` rather than 127.0.0.1, for passkeys:
    /// WebAuthn takes no IP address as a relying party's id, and a browser counts
    /// `http://localhost` as a secure context (W3C Secure Contexts §3.1), which WebAuthn needs.
    pub async fn spawn_on_localhost() -> Self {
        let dir = TempDir::new();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.expect("open store"));
        let server_key = trustgate::commands::server_key(dir.path()).expect("server key");
        let (listener, url) = loopback("localhost").await;
        Self::serve_at(listener, url, store, server_key, dir, None, ServerConfig::default(), None).await
    }

    /// Serves a node on `listener`, reached at `url`, issuing as `issuer` or, by default, as `url`.
    #[allow(clippy::too_many_arguments)]
    async fn serve_at(
        listener: tokio::net::TcpListener,
        url: String,
        store: Arc<dyn Store>,
        server_key: ServerKey,
        dir: TempDir,
        database: Option<Arc<TestDatabase>>,
        config: ServerConfig,
        issuer: Option<Issuer>,
    ) -> Self {
        let issuer =
            issuer.unwrap_or_else(|| Issuer { url: url.clone(), audience: "https://api.trustgate.test".to_owned() });
        let config = ServerConfig { issuer, ..config };
        let state = trustgate_server::start_node(store.clone(), server_key.clone(), config).await.expect("state");
        // The feed flushes every cache once it listens: a test must not race that first flush.
        state.catch_up().await.expect("the change feed listens");
        let (tx, rx) = oneshot::channel::<()>();
        let served = tokio::spawn(trustgate_server::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        let http = reqwest::Client::new();
        Self { url, store, server_key, http, dir, state, database, shutdown: Some(tx), served: Some(served) }
    }

    /// Shuts the server down gracefully, as Ctrl-C does, and waits until it has finished.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(served) = self.served.take() {
            served.await.expect("the server task").expect("the server stops cleanly");
        }
    }

    pub async fn customer(&self) -> CustomerId {
        let customer = Customer {
            id: CustomerId::generate(),
            name: "Acme".to_owned(),
            disabled_owner_policy: DisabledOwnerPolicy::KeepActive,
            require_local_mfa: false,
            lost_access_policy: trustgate_core::customer::LostAccessPolicy::RemoveFromCustomer,
            created_at: OffsetDateTime::now_utc(),
        };
        self.store.create_customer(&customer, &Actor::System).await.expect("create customer");
        customer.id
    }

    async fn create_admin(&self, provider: Provider, password: Option<&str>) -> TestAdmin {
        let id = AdminId::generate();
        let email = format!("{}@example.com", &id.to_string()[..8]);
        let hash = password.map(argon2_hash);
        let admin = Admin {
            id,
            email: Email::parse(&email).expect("email"),
            display_name: email.clone(),
            provider,
            external_id: provider.is_federated().then(|| format!("ext-{id}")),
            provider_id: None,
            status: AdminStatus::Active,
            created_at: OffsetDateTime::now_utc(),
        };
        self.store.create_admin(&admin, hash.as_deref()).await.expect("create admin");
        TestAdmin { id, email, password: password.unwrap_or_default().to_owned() }
    }

    /// A local administrator (no password) with `access` in `customer`.
    pub async fn admin(&self, customer: &CustomerId, access: Access) -> TestAdmin {
        let admin = self.create_admin(Provider::Local, None).await;
        self.join(customer, &admin, access).await;
        admin
    }

    /// A local administrator who can sign in with a password.
    pub async fn admin_with_password(&self, customer: &CustomerId, access: Access) -> TestAdmin {
        let admin = self.create_admin(Provider::Local, Some("correct horse battery staple")).await;
        self.join(customer, &admin, access).await;
        admin
    }

    pub async fn federated_admin(&self, customer: &CustomerId, access: Access) -> TestAdmin {
        let admin = self.create_admin(Provider::AzureAd, None).await;
        self.join(customer, &admin, access).await;
        admin
    }

    pub async fn join(&self, customer: &CustomerId, admin: &TestAdmin, access: Access) {
        self.store.add_member(customer, admin.id, access, &Actor::System).await.expect("add member");
    }

    pub async fn client(&self, customer: &CustomerId, owner: &TestAdmin) -> TestClient {
        let admin = self.store.admin(owner.id).await.expect("load").expect("admin exists");
        let (client, secret) = trustgate_server::actions::clients::new_client(
            self.store.as_ref(),
            &self.server_key,
            customer,
            &admin,
            // One owner's clients have distinct names (issue #21, item 11).
            &format!("test client {}", &random_token()[..8]),
            ServerConfig::default().max_clients_per_owner,
            &Actor::System,
        )
        .await
        .expect("create client");
        TestClient { id: client.id, secret: secret.expose().to_owned(), customer: customer.clone() }
    }

    /// A client of `kind` and its first secret as the store takes them, not yet stored, with the
    /// secret as a caller presents it: for tests that write through the store themselves (bulk
    /// seeding, an id probed before its client exists).
    pub fn client_to_store(
        &self,
        customer: &CustomerId,
        kind: ClientKind,
        at: OffsetDateTime,
        expires_at: Option<OffsetDateTime>,
    ) -> (ApiClient, NewSecret, String) {
        let client = ApiClient {
            id: ClientId::generate(),
            customer_id: customer.clone(),
            kind,
            name: "stored directly".to_owned(),
            created_at: at,
            last_used_at: None,
        };
        let (secret, presented) = self.secret_to_store(at, expires_at);
        (client, secret, presented)
    }

    /// A new secret as the store takes it, and as a caller presents it.
    pub fn secret_to_store(&self, at: OffsetDateTime, expires_at: Option<OffsetDateTime>) -> (NewSecret, String) {
        let secret = ClientSecret::generate();
        let stored = NewSecret {
            id: secret.id().expect("a new secret names its id"),
            verifier: self.server_key.verifier(&secret),
            created_at: at,
            expires_at,
        };
        (stored, secret.expose().to_owned())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Trades credentials for a token on the OAuth endpoint; returns status and body.
    pub async fn oauth(&self, path_customer: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url(&format!("/cctrustoauth2/{path_customer}/tokens/clients")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).expect("form"))
            .send()
            .await
            .expect("send");
        status_and_json(response).await
    }

    pub async fn token(&self, client: &TestClient) -> String {
        let id = client.id.to_string();
        let (status, body) = self
            .oauth(
                "root",
                &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &client.secret)],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "token request failed: {body}");
        body["access_token"].as_str().expect("access_token").to_owned()
    }

    /// Calls a platform API as Citrix scripts do: `CwsAuth Bearer=` and `Citrix-CustomerId`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        customer: &CustomerId,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, self.url(path))
            .header("authorization", format!("CwsAuth Bearer={token}"))
            .header("citrix-customerid", customer.as_str())
            .header("accept", "application/json");
        if let Some(body) = body {
            request = request.json(&body);
        }
        status_and_json(request.send().await.expect("send")).await
    }

    pub async fn get(&self, path: &str, token: &str, customer: &CustomerId) -> (StatusCode, Value) {
        self.call(Method::GET, path, token, customer, None).await
    }

    /// The body of `GET path` as the bytes a script parsing text would see.
    pub async fn get_text(&self, path: &str, token: &str, customer: &CustomerId) -> String {
        let response = self
            .http
            .get(self.url(path))
            .header("authorization", format!("CwsAuth Bearer={token}"))
            .header("citrix-customerid", customer.as_str())
            .send()
            .await
            .expect("the server answers");
        response.text().await.expect("a text body")
    }

    pub async fn post_notification(&self, token: &str, customer: &CustomerId) -> StatusCode {
        self.call(Method::POST, "/notifications/items", token, customer, Some(notification())).await.0
    }

    pub async fn sign_in(&self, admin: &TestAdmin) -> Session {
        let response = self
            .http
            .post(self.url("/api/v1/session"))
            .json(&json!({ "email": admin.email, "password": admin.password }))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("session cookie")
            .to_owned();
        let body: Value = response.json().await.expect("json");
        Session { cookie, csrf: body["csrfToken"].as_str().expect("csrf").to_owned() }
    }

    pub async fn as_admin(
        &self,
        session: &Session,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, self.url(path))
            .header("cookie", &session.cookie)
            .header("x-csrf-token", &session.csrf);
        if let Some(body) = body {
            request = request.json(&body);
        }
        status_and_json(request.send().await.expect("send")).await
    }

    /// The server's signing keys, opened with its server key, to mint tokens as only a holder of
    /// the real key could.
    pub async fn key_set(&self) -> KeySet {
        let vault = KeyVault::new(&self.server_key);
        let stored = self.store.signing_keys().await.expect("signing keys");
        KeySet::new(stored.iter().map(|k| vault.open(k).expect("the key opens")).collect()).expect("a signing key")
    }

    /// A session opened as sign-in opens one, for administrators who cannot sign in with a
    /// password (federated ones).
    pub async fn session_for(&self, admin: &TestAdmin) -> Session {
        let id = random_token();
        let csrf = random_token();
        let now = OffsetDateTime::now_utc();
        let session = trustgate_store::Session {
            admin_id: admin.id,
            csrf_token: csrf.clone(),
            expires_at: now + time::Duration::hours(1),
            customer_id: None,
        };
        self.store.create_session(&self.server_key.digest(&id), &session, now).await.expect("create session");
        Session { cookie: format!("tg_session={id}"), csrf }
    }

    /// Runs the `trustgate` binary with `--json` on this node's data directory (and database).
    /// The server runs on this test's thread: waiting for the command there would freeze a server
    /// task holding SQLite's write lock, and the command would wait for that lock until it failed.
    pub async fn cli(&self, args: &[&str]) -> Value {
        self.cli_with_input(args, None).await
    }

    /// Runs a `--json` command that must fail, as [`Self::cli`] runs one: its exit code and the
    /// JSON object it wrote on standard error (`error`, `message`, `exitCode`).
    pub async fn cli_fails(&self, args: &[&str]) -> (i32, Value) {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_trustgate"));
        command.arg("--data-dir").arg(self.dir.path()).arg("--json");
        if let Some(url) = self.database_url() {
            command.arg("--database").arg(url);
        }
        command.args(args).stdin(std::process::Stdio::null()).env_remove("TRUSTGATE_SERVER_KEY");
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("the command's thread")
            .expect("run trustgate");
        assert!(
            !output.status.success(),
            "trustgate {args:?} should fail: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let failure = serde_json::from_slice(&output.stderr).expect("one JSON object on stderr");
        (output.status.code().expect("an exit code"), failure)
    }

    /// [`Self::cli`] with `input` on the command's standard input.
    pub async fn cli_with_input(&self, args: &[&str], input: Option<&str>) -> Value {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_trustgate"));
        command.arg("--data-dir").arg(self.dir.path()).arg("--json");
        if let Some(url) = self.database_url() {
            command.arg("--database").arg(url);
        }
        command
            .args(args)
            .stdin(if input.is_some() { std::process::Stdio::piped() } else { std::process::Stdio::null() })
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .env_remove("TRUSTGATE_SERVER_KEY")
            .env("TRUSTGATE_ADMIN_PASSWORD", "another horse battery staple");
        let input = input.map(str::to_owned);
        let output = tokio::task::spawn_blocking(move || {
            let mut child = command.spawn()?;
            if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
                std::io::Write::write_all(&mut stdin, input.as_bytes())?;
            }
            child.wait_with_output()
        })
        .await
        .expect("the command's thread")
        .expect("run trustgate");
        assert!(output.status.success(), "trustgate {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).expect("JSON output")
    }

    /// Applies a permission catalog file (issue 10) the way an operator does: `trustgate catalog
    /// apply` on this node's store, with this node answering on its control socket so the CLI's
    /// catch-up reaches it before the command returns. Returns the command's JSON.
    pub async fn apply_catalog(&self, toml: &str) -> Value {
        self.catalog_command(toml, &[]).await
    }

    /// `trustgate catalog apply FILE` with `extra` options (`--dry-run`, `--force`).
    pub async fn catalog_command(&self, toml: &str, extra: &[&str]) -> Value {
        let file = self.dir.path().join(format!("catalog-{}.toml", &random_token()[..8]));
        std::fs::write(&file, toml).expect("write the catalog file");
        let _socket = trustgate_server::control_socket::ControlSocket::open(self.dir.path(), self.state.clone())
            .await
            .expect("socket");
        let mut args = vec!["catalog", "apply", file.to_str().expect("a UTF-8 path")];
        args.extend_from_slice(extra);
        self.cli(&args).await
    }

    /// Runs `sql` on this node's database behind the server's back: no change is announced, as
    /// when another node's write has committed but not yet reached this one.
    pub async fn behind_the_servers_back(&self, sql: &str) {
        use sqlx::Connection;
        match self.database_url() {
            Some(url) => {
                let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect to PostgreSQL");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut conn).await.expect("run the SQL");
            }
            None => {
                let options = sqlx::sqlite::SqliteConnectOptions::new().filename(self.dir.path().join("trustgate.db"));
                let mut conn = sqlx::SqliteConnection::connect_with(&options).await.expect("open the SQLite store");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut conn).await.expect("run the SQL");
            }
        }
    }

    /// System-log records of `customer`, read through the store.
    pub async fn log_types(&self, customer: &CustomerId) -> Vec<String> {
        self.log(customer).await.into_iter().map(|r| r.event_type).collect()
    }

    pub async fn log(&self, customer: &CustomerId) -> Vec<trustgate_store::LogRecord> {
        let query = trustgate_store::LogQuery {
            customer_id: customer.clone(),
            start: OffsetDateTime::UNIX_EPOCH,
            end: self.clock().now_utc() + time::Duration::minutes(1),
            after_seq: None,
            limit: 1000,
        };
        self.store.log_records(&query).await.expect("log")
    }

    /// Records of `event_type` in `customer`'s system log.
    pub async fn log_of(&self, customer: &CustomerId, event_type: &str) -> Vec<trustgate_store::LogRecord> {
        self.log(customer).await.into_iter().filter(|r| r.event_type == event_type).collect()
    }

    /// Every system-log record of every customer.
    pub async fn all_log_records(&self) -> usize {
        let mut total = 0;
        for customer in self.store.customers().await.expect("customers") {
            total += self.log(&customer.id).await.len();
        }
        total
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

pub fn notification() -> Value {
    json!({
        "destinationAdmin": "*",
        "component": "Citrix Cloud",
        "createdDate": "2018-04-22T21:11:25.006Z",
        "eventId": "8f4b1c4e-6d2a-4b8e-9a51-1d3c2b1a0f00",
        "severity": "Information",
        "priority": "Normal",
        "content": [{ "languageTag": "en-US", "title": "Hello", "description": "From a test" }]
    })
}

pub async fn status_and_json(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, body)
}

pub fn argon2_hash(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(b"0123456789abcdef").expect("salt");
    argon2::Argon2::default().hash_password(password.as_bytes(), &salt).expect("hash").to_string()
}

/// Asserts that the first occurrences of `"key":` in a raw JSON body come in this order: scripts
/// read Citrix's answers as text, so order is part of the contract and parsed JSON cannot see it.
pub fn assert_key_order(raw: &str, keys: &[&str]) {
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| raw.find(&format!("\"{k}\":")).unwrap_or_else(|| panic!("{k} missing from {raw}")))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "keys out of Citrix's order {keys:?} in {raw}");
}

/// What the invitee's browser gets from the link: status, page and the form cookie.
pub async fn open_invitation(app: &TestApp, link: &str) -> (StatusCode, String, Option<String>) {
    let response = app.http.get(link).send().await.expect("open the link");
    let status = response.status();
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tg_invitation="))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    (status, response.text().await.expect("page"), cookie)
}

fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no {name} in {page}")) + marker.len();
    page[start..].split('"').next().expect("value").to_owned()
}

/// Opens the link and posts its form as a browser would; returns the answer (not followed).
pub async fn accept_invitation(app: &TestApp, link: &str, password: Option<&str>) -> reqwest::Response {
    let (status, page, cookie) = open_invitation(app, link).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let mut form = vec![("csrf", hidden(&page, "csrf")), ("token", hidden(&page, "token"))];
    if let Some(password) = password {
        form.push(("password", password.to_owned()));
        form.push(("password_again", password.to_owned()));
    }
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    client
        .post(app.url("/console/invitation"))
        .header("cookie", cookie.expect("the form cookie"))
        .form(&form)
        .send()
        .await
        .expect("post the form")
}

/// The link `trustgate admin invite` prints for a pending invitation: issue #20 hands links only to
/// the invitee's mailbox and to the operator on the server, so tests without a mail server take
/// the operator's (which replaces the previous link, as the CLI does).
pub async fn operator_invitation_link(app: &TestApp, customer: &CustomerId, admin: AdminId) -> String {
    let config = &app.state.config;
    let (token, terms) = trustgate_server::actions::invitations::new_invitation(
        &app.server_key,
        config.invitation_lifetime,
        config.clock.now_utc(),
    );
    app.store.resend_invitation(customer, admin, &terms, &Actor::System).await.expect("a pending invitation");
    trustgate_server::actions::invitations::invitation_url(&app.url, &token)
}

/// Waits until `done` holds, looking every few milliseconds; fails the test when it still does not
/// after ten seconds, saying that `what` did not happen.
pub async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{what} did not happen within 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Stops a whole process group when the test ends, so what a script left running in the background
/// goes with it.
pub struct ProcessGroup(pub std::process::Child);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill").args(["-TERM", "--", &format!("-{}", self.0.id())]).status();
        let _ = self.0.wait();
    }
}

/// A shell script from the docs, as a reader runs it: bash in `dir` under `timeout`, the
/// `trustgate` this test run built first on PATH, none of the test's Trustgate settings, its output
/// in `dir/out.log` and `dir/err.log` ([`script_output`]), in a process group of its own so what it
/// leaves running in the background stops with [`ProcessGroup`].
pub fn docs_script(dir: &Path, seconds: u32, script: &str) -> std::process::Command {
    use std::os::unix::process::CommandExt;
    let bin = Path::new(env!("CARGO_BIN_EXE_trustgate")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut command = std::process::Command::new("timeout");
    command
        .args([&seconds.to_string(), "bash", "-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("TRUSTGATE_PUBLIC_URL")
        .env_remove("TRUSTGATE_SERVER_KEY")
        .env_remove("TRUSTGATE_DATA_DIR")
        .env_remove("TRUSTGATE_DATABASE_URL")
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(dir.join("out.log")).unwrap())
        .stderr(std::fs::File::create(dir.join("err.log")).unwrap())
        .process_group(0);
    command
}

/// What a [`docs_script`] printed: standard output, then standard error.
pub fn script_output(dir: &Path) -> (String, String) {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    (read("out.log"), read("err.log"))
}

// Set-ups most tests start from.

/// How a test's administrator signs in: [`TestApp::admin`], [`TestApp::admin_with_password`],
/// [`TestApp::federated_admin`].
#[derive(Debug, Clone, Copy)]
pub enum AdminKind {
    Local,
    WithPassword,
    Federated,
}

impl TestApp {
    /// A new customer with a Full administrator in it, so that whoever a test removes or disables
    /// there is never the last one.
    pub async fn customer_with_full_admin(&self) -> CustomerId {
        let customer = self.customer().await;
        self.admin(&customer, Access::Full).await;
        customer
    }

    /// A new customer with two Full administrators who sign in with passwords: the one a test
    /// acts as, and a colleague.
    pub async fn customer_with_colleagues(&self) -> (CustomerId, TestAdmin, TestAdmin) {
        let customer = self.customer().await;
        let admin = self.admin_with_password(&customer, Access::Full).await;
        let colleague = self.admin_with_password(&customer, Access::Full).await;
        (customer, admin, colleague)
    }

    /// A new customer and an administrator with `access` in it, signed in to the management API.
    pub async fn customer_with_session(&self, access: Access) -> (CustomerId, TestAdmin, Session) {
        let customer = self.customer().await;
        let admin = self.admin_with_password(&customer, access).await;
        let session = self.sign_in(&admin).await;
        (customer, admin, session)
    }

    /// A new customer, an administrator with `access` in it, and the token of a client they own.
    pub async fn customer_with_token(&self, access: Access) -> (CustomerId, TestAdmin, String) {
        let customer = self.customer().await;
        let owner = self.admin(&customer, access).await;
        let token = self.token(&self.client(&customer, &owner).await).await;
        (customer, owner, token)
    }

    /// A new customer, a local administrator with `access` in it, and a client they own.
    pub async fn customer_with_client(&self, access: Access) -> (CustomerId, TestAdmin, TestClient) {
        self.customer_with_client_of(AdminKind::Local, access).await
    }

    /// A new customer, an administrator of `kind` with `access` in it, and a client they own.
    pub async fn customer_with_client_of(
        &self,
        kind: AdminKind,
        access: Access,
    ) -> (CustomerId, TestAdmin, TestClient) {
        let customer = self.customer().await;
        let owner = match kind {
            AdminKind::Local => self.admin(&customer, access).await,
            AdminKind::WithPassword => self.admin_with_password(&customer, access).await,
            AdminKind::Federated => self.federated_admin(&customer, access).await,
        };
        let client = self.client(&customer, &owner).await;
        (customer, owner, client)
    }

    /// Creates a client named `name` for `owner` in `customer` as the API does, under a cap of
    /// `cap` clients an owner; a refusal as it comes.
    pub async fn try_client(
        &self,
        customer: &CustomerId,
        owner: AdminId,
        name: &str,
        cap: u64,
    ) -> Result<(ApiClient, ClientSecret), trustgate_server::ApiError> {
        let owner = self.store.admin(owner).await.expect("load").expect("the owner exists");
        let (store, key) = (self.store.as_ref(), &self.server_key);
        trustgate_server::actions::clients::new_client(store, key, customer, &owner, name, cap, &Actor::System).await
    }

    /// The claims of an access token this server would issue at `at` to `client` of `owner`.
    pub fn access_claims(
        &self,
        client: &TestClient,
        owner: &TestAdmin,
        at: OffsetDateTime,
    ) -> trustgate_core::token::Claims {
        let issuer = &self.state.config.issuer;
        let (customer, access) = (client.customer.clone(), trustgate_core::token::TokenUse::Access);
        trustgate_core::token::Claims::new(issuer, client.id, Some(owner.id), customer, at, access)
    }
}

/// `app` (when its store is there) with a customer, a Full administrator and a client of theirs.
pub async fn with_client(app: Option<TestApp>) -> Option<(TestApp, TestClient)> {
    let app = app?;
    let (_, _, client) = app.customer_with_client(Access::Full).await;
    Some((app, client))
}

// Requests a test shapes itself, for what the typed helpers above do not send: raw bodies, other
// headers, answers read as they come.

/// The content type of an HTML form and of the OAuth endpoints' requests.
pub const FORM: &str = "application/x-www-form-urlencoded";

impl TestApp {
    /// `POST path` with `body` as `content_type`; the answer as it comes.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.http.post(self.url(path)).header("content-type", content_type).body(body).send().await.expect("send")
    }

    /// `POST path` with `form` URL-encoded, as an OAuth client posts one; the answer as it comes.
    pub async fn post_form<F: serde::Serialize + ?Sized>(&self, path: &str, form: &F) -> reqwest::Response {
        let body = serde_urlencoded::to_string(form).expect("form");
        self.post_raw(path, FORM, body).await
    }

    /// `POST path` with `body` as JSON and no credentials; the answer as it comes.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http.post(self.url(path)).json(body).send().await.expect("send")
    }

    /// `POST /api/v1/session` with `email` and `password`; the answer as it comes.
    pub async fn session_attempt(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_json("/api/v1/session", &json!({ "email": email, "password": password })).await
    }

    /// `POST /root/tokens/clients` with `client`'s credentials in the legacy JSON body; the answer
    /// as it comes.
    pub async fn legacy_token(&self, client: &TestClient) -> reqwest::Response {
        let body = json!({ "clientId": client.id.to_string(), "clientSecret": client.secret });
        self.post_json("/root/tokens/clients", &body).await
    }

    /// The OAuth endpoint's answer to `client`'s credentials, on the `root` path.
    pub async fn grant(&self, client: &TestClient) -> (StatusCode, Value) {
        let id = client.id.to_string();
        self.oauth(
            "root",
            &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &client.secret)],
        )
        .await
    }

    /// A request as Citrix scripts send one, `CwsAuth Bearer=` and `Citrix-CustomerId`, for the
    /// test to finish with its own headers or body.
    pub fn citrix_request(
        &self,
        method: Method,
        path: &str,
        token: &str,
        customer: &CustomerId,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("authorization", format!("CwsAuth Bearer={token}"))
            .header("citrix-customerid", customer.as_str())
    }

    /// `POST path` as a Citrix script with `body` as `content_type`; the answer as it comes.
    pub async fn citrix_post_raw(
        &self,
        path: &str,
        token: &str,
        customer: &CustomerId,
        content_type: &str,
        body: &'static str,
    ) -> reqwest::Response {
        let request = self.citrix_request(Method::POST, path, token, customer);
        request.header("content-type", content_type).body(body).send().await.expect("send")
    }

    /// The gateway's decision on `GET uri` for a `CwsAuth` token, asked as nginx's `auth_request`
    /// asks (`X-Original-Method`, `X-Original-URI`).
    pub async fn nginx_decision(&self, token: &str, customer: &CustomerId, uri: &str) -> StatusCode {
        let request = self.citrix_request(Method::GET, "/gateway/authorize", token, customer);
        let response = request.header("x-original-method", "GET").header("x-original-uri", uri).send().await;
        response.expect("send").status()
    }

    /// `GET path` with `session`'s cookie; the answer as it comes.
    pub async fn console_get(&self, session: &Session, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).header("cookie", &session.cookie).send().await.expect("send")
    }

    /// `POST path` with `form` URL-encoded and `session`'s cookie, as the console's forms post.
    pub async fn console_post<F: serde::Serialize + ?Sized>(
        &self,
        session: &Session,
        path: &str,
        form: &F,
    ) -> reqwest::Response {
        let body = serde_urlencoded::to_string(form).expect("form");
        let request = self.http.post(self.url(path)).header("cookie", &session.cookie);
        request.header("content-type", FORM).body(body).send().await.expect("send")
    }

    /// The published signing keys, `/.well-known/jwks.json`.
    pub async fn jwks(&self) -> Value {
        self.http.get(self.url("/.well-known/jwks.json")).send().await.expect("send").json().await.expect("JSON")
    }
}

impl TestClient {
    /// The client-credentials form for this client, as the OAuth endpoint takes it.
    pub fn credentials(&self) -> [(&'static str, String); 3] {
        [
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", self.id.to_string()),
            ("client_secret", self.secret.clone()),
        ]
    }
}

/// `POST {url}/cctrustoauth2/root/tokens/clients` with client credentials, for a server a test
/// runs as a process; the answer as it comes.
pub async fn grant_at(http: &reqwest::Client, url: &str, id: &str, secret: &str) -> reqwest::Response {
    let form = [("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)];
    let body = serde_urlencoded::to_string(form).expect("form");
    let request = http.post(format!("{url}/cctrustoauth2/root/tokens/clients")).header("content-type", FORM);
    request.body(body).send().await.expect("send")
}

/// The claims of a JWT, read without verifying it.
pub fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("payload");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("b64");
    serde_json::from_slice(&json).expect("json")
}

/// The header of a JWT, read without verifying it.
pub fn header_of(token: &str) -> Value {
    use base64::Engine;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').next().expect("a header"));
    serde_json::from_slice(&header.expect("b64")).expect("json")
}

/// [`assert_key_order`] for keys written as one list, separated by white space.
pub fn assert_keys_in_order(raw: &str, keys: &str) {
    assert_key_order(raw, &keys.split_whitespace().collect::<Vec<_>>());
}

/// How many connections to the PostgreSQL database at `url` listen for changes (one a node).
pub async fn feed_listeners(url: &str) -> i64 {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect to PostgreSQL");
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("count the listeners");
    n
}

/// A listener on a free port of 127.0.0.1, and its URL naming `host`.
async fn loopback(host: &str) -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{host}:{}", listener.local_addr().expect("addr").port());
    (listener, url)
}
