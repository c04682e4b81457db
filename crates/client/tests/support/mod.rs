//! A real Trustgate server in the test's process, on SQLite in a temporary directory or on a fresh
//! PostgreSQL database, and the seeding the SDK tests need (after the integration tests' harness,
//! `crates/cli/tests/it`). Shared by the tests of `trustgate-client` and `trustgate-tower`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;

use time::OffsetDateTime;
use tokio::sync::oneshot;
use trustgate_core::access::{Access, Permission};
use trustgate_core::admin::{Admin, AdminStatus, Email, Provider};
use trustgate_core::customer::{Customer, DisabledOwnerPolicy};
use trustgate_core::event::Actor;
use trustgate_core::ids::{AdminId, CustomerId, ResourceServerId};
use trustgate_core::resource_server::ResourceServer;
use trustgate_core::secret::{random_token, ClientSecret, ServerKey};
use trustgate_core::token::Issuer;
use trustgate_server::{AppState, ServerConfig};
use trustgate_store::{PostgresStore, SqliteStore, Store};

pub const AUDIENCE: &str = "https://api.trustgate.test";

/// The `orders` service of the tower tests: `orders.read` and `orders.write`.
pub const ORDERS_CATALOG: &str = r#"
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
"#;

pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("trustgate-sdk-test-{}", &random_token()[..16]));
        std::fs::create_dir_all(&path).expect("a temporary directory");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Whether every test must run, as in CI (`TRUSTGATE_TEST_REQUIRE_ALL=1`): a missing PostgreSQL
/// then fails the test instead of skipping it.
fn require_all() -> bool {
    std::env::var("TRUSTGATE_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// Skips the rest of the running test because `why`, or fails it when every test must run.
fn skip(why: impl std::fmt::Display) {
    assert!(!require_all(), "TRUSTGATE_TEST_REQUIRE_ALL=1 but {why}");
    eprintln!("SKIPPING: {why}");
}

/// A fresh PostgreSQL database for one test, dropped when the test ends.
struct TestDatabase {
    url: String,
    name: String,
    admin_url: String,
}

impl TestDatabase {
    async fn create() -> Option<Self> {
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
        let name = format!("tg_sdk_{}", random_token()[..12].to_lowercase().replace(['-', '_'], "x"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create the database");
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

pub struct Server {
    pub url: String,
    pub store: Arc<dyn Store>,
    pub key: ServerKey,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    _dir: TempDir,
    // Dropped last: the server stops before its database goes.
    _database: Option<TestDatabase>,
}

/// An API client as Trustgate showed it once.
#[derive(Clone)]
pub struct Credentials {
    pub id: String,
    pub secret: String,
    pub customer: String,
}

impl Server {
    /// A server on SQLite.
    pub async fn start() -> Self {
        let dir = TempDir::new();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.0).await.expect("open the store"));
        Self::start_with(store, dir, None).await
    }

    /// A server on `backend`; `None` when PostgreSQL is unreachable and the test may skip.
    pub async fn start_on(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self::start().await),
            Backend::Postgres => {
                let database = TestDatabase::create().await?;
                let store = PostgresStore::connect(&database.url).await.expect("connect to the test database");
                Some(Self::start_with(Arc::new(store), TempDir::new(), Some(database)).await)
            }
        }
    }

    async fn start_with(store: Arc<dyn Store>, dir: TempDir, database: Option<TestDatabase>) -> Self {
        let key = ServerKey::generate();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let config = ServerConfig {
            issuer: Issuer { url: url.clone(), audience: AUDIENCE.to_owned() },
            ..ServerConfig::default()
        };
        let state = trustgate_server::start_node(store.clone(), key.clone(), config).await.expect("the node starts");
        // The feed flushes every cache once it listens: the test must not race that first flush.
        state.catch_up().await.expect("the change feed listens");
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(trustgate_server::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        Self { url, store, key, state, shutdown: Some(tx), _dir: dir, _database: database }
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
        self.store.create_customer(&customer, &Actor::System).await.expect("create the customer");
        customer.id
    }

    /// A local administrator with `access` in `customer`.
    pub async fn admin(&self, customer: &CustomerId, access: Access) -> AdminId {
        let id = AdminId::generate();
        let email = format!("{}@example.com", &id.to_string()[..8]);
        let admin = Admin {
            id,
            email: Email::parse(&email).expect("an e-mail"),
            display_name: email.clone(),
            provider: Provider::Local,
            external_id: None,
            provider_id: None,
            status: AdminStatus::Active,
            created_at: OffsetDateTime::now_utc(),
        };
        self.store.create_admin(&admin, None).await.expect("create the administrator");
        self.store.add_member(customer, id, access, &Actor::System).await.expect("add the member");
        id
    }

    /// A secure client of `owner`, created as the console creates one.
    pub async fn client(&self, customer: &CustomerId, owner: AdminId) -> Credentials {
        let admin = self.store.admin(owner).await.expect("load").expect("the administrator exists");
        let (client, secret) = trustgate_server::actions::clients::new_client(
            self.store.as_ref(),
            &self.key,
            customer,
            &admin,
            &format!("sdk test client {}", &random_token()[..8]),
            ServerConfig::default().max_clients_per_owner,
            &Actor::System,
        )
        .await
        .expect("create the client");
        Credentials { id: client.id.to_string(), secret: secret.expose().to_owned(), customer: customer.to_string() }
    }

    /// A customer, an administrator with `access` in it, and a client of theirs.
    pub async fn customer_with_client(&self, access: Access) -> (CustomerId, AdminId, Credentials) {
        let customer = self.customer().await;
        let owner = self.admin(&customer, access).await;
        let client = self.client(&customer, owner).await;
        (customer, owner, client)
    }

    /// A resource server, as `trustgate resource-server create` makes one: its id and secret.
    pub async fn resource_server(&self, name: &str) -> (String, String) {
        let server = ResourceServer {
            id: ResourceServerId::generate(),
            name: name.to_owned(),
            created_at: OffsetDateTime::now_utc(),
        };
        let secret = ClientSecret::generate();
        self.store.create_resource_server(&server, &self.key.verifier(&secret)).await.expect("create it");
        (server.id.to_string(), secret.expose().to_owned())
    }

    /// Applies a permission catalog file, as `trustgate catalog apply` does.
    pub async fn apply_catalog(&self, toml: &str) {
        let catalog = trustgate_server::gateway::catalog_file::parse(toml).expect("a valid catalog");
        self.store.apply_catalog(&catalog, false, &Actor::System).await.expect("apply the catalog");
        self.state.catch_up().await.expect("the node has the catalog");
    }

    pub async fn set_access(&self, customer: &CustomerId, admin: AdminId, access: Access) {
        self.store.set_access(customer, admin, access, &Actor::System).await.expect("set the access");
        self.state.catch_up().await.expect("the node has the change");
    }
}

pub fn custom(permissions: &[&str]) -> Access {
    Access::Custom(permissions.iter().map(|p| Permission::parse(p).expect("a permission")).collect())
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
