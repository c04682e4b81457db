//! The decision endpoint behind real nginx (`auth_request`) and Caddy (`forward_auth`), started on
//! ephemeral ports with the configurations docs/gateway.md shows, in front of an upstream owned by
//! the test that records every request it sees.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use trustgate_core::access::{Access, Permission};
use trustgate_core::event::Actor;
use trustgate_core::ids::CustomerId;

use crate::harness::{custom, skip, Backend, TempDir, TestApp};

/// The worked example of docs/gateway.md: an `orders` service with read and write permissions;
/// reads take the customer from `Citrix-CustomerId`, the per-customer listing from the path.
pub const ORDERS_CATALOG: &str = r#"
[[service]]
name = "orders"
display_name = "Orders"

[[permission]]
service = "orders"
name = "read"
display_name = "read"

[[permission]]
service = "orders"
name = "write"
display_name = "write"

[[route]]
method = "GET"
path = "/orders/*"
permission = "orders.read"

[[route]]
method = "POST"
path = "/orders"
permission = "orders.write"

[[route]]
method = "GET"
path = "/customers/{customer}/orders"
permission = "orders.read"
customer = "path:{customer}"
"#;

pub fn orders(name: &str) -> Permission {
    Permission::parse(&format!("orders.{name}")).unwrap()
}

/// What the upstream saw: method, path and query, and every header.
#[derive(Debug, Clone)]
struct Seen {
    uri: String,
    headers: reqwest::header::HeaderMap,
}

/// A service behind the proxy that knows nothing of Trustgate and records what reaches it.
struct Upstream {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    async fn start() -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let record = record.clone();
            async move {
                let headers = request.headers().clone();
                record.lock().unwrap().push(Seen { uri: request.uri().to_string(), headers });
                "from the upstream"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, seen, task }
    }

    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A proxy process, killed when the test ends.
struct Proxy {
    url: String,
    _child: tokio::process::Child,
}

fn binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The proxy's binary; `None` (see [`skip`]) when it is not installed.
fn installed(name: &str) -> Option<PathBuf> {
    let found = binary(name);
    if found.is_none() {
        skip(format_args!("{name} not installed (apt-get install -y nginx caddy)"));
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().trim_end_matches('/').parse().unwrap()
}

/// The part of nginx.conf that docs/gateway.md shows (inside `http { }`), for these addresses.
pub fn nginx_gateway(listen: &str, trustgate: &str, upstream: &str) -> String {
    format!(
        r#"    upstream trustgate {{
        server {trustgate};
        keepalive 32;
    }}
    upstream orders {{
        server {upstream};
        keepalive 32;
    }}
    server {{
        listen {listen};

        location / {{
            auth_request /_trustgate;
            auth_request_set $tg_client $upstream_http_x_trustgate_client_id;
            auth_request_set $tg_customer $upstream_http_x_trustgate_customer_id;
            auth_request_set $tg_principal $upstream_http_x_trustgate_principal;
            auth_request_set $tg_permission $upstream_http_x_trustgate_permission;
            # auth_request passes on only 401 and 403: any other refusal becomes a 500. Keep
            # Trustgate's 400 (a request it will not read, such as a path with '//') a 400.
            auth_request_set $tg_status $upstream_status;
            error_page 500 = @trustgate_error;
            # Overwrites whatever the client sent under these names.
            proxy_set_header X-Trustgate-Client-Id $tg_client;
            proxy_set_header X-Trustgate-Customer-Id $tg_customer;
            proxy_set_header X-Trustgate-Principal $tg_principal;
            proxy_set_header X-Trustgate-Permission $tg_permission;
            proxy_set_header Host $host;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://orders;
        }}

        location @trustgate_error {{
            if ($tg_status = 400) {{
                return 400;
            }}
            return 500;
        }}

        location = /_trustgate {{
            internal;
            proxy_pass http://trustgate/gateway/authorize;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Original-URI $request_uri;
            # The other proxies' names for the original request: never the client's.
            proxy_set_header X-Forwarded-Method "";
            proxy_set_header X-Forwarded-Uri "";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
"#
    )
}

/// The nginx server that docs/operations.md shows for Trustgate under the path `/tg`.
pub fn nginx_prefix_site(listen: &str, trustgate: &str) -> String {
    format!(
        r#"    server {{
        listen {listen};

        location /tg/ {{
            proxy_pass http://{trustgate}/;
            proxy_set_header Host $host;
        }}
        # RFC 8414 §3.1: the metadata of the issuer http://host/tg is at this path.
        location = /.well-known/oauth-authorization-server/tg {{
            proxy_pass http://{trustgate};
            proxy_set_header Host $host;
        }}
    }}
"#
    )
}

/// A whole nginx.conf for a test with `servers` inside `http { }`: everything nginx writes stays
/// in `dir`.
fn nginx_config(dir: &Path, servers: &str) -> String {
    let dir = dir.display();
    format!(
        r#"worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
{servers}}}
"#
    )
}

/// The Caddyfile site that docs/gateway.md shows, for these addresses.
pub fn caddy_gateway(site: &str, trustgate: &str, upstream: &str) -> String {
    format!(
        r#"{site} {{
    route {{
        # No client-sent identity header survives, whatever its spelling (a WSGI or CGI
        # upstream reads X_Trustgate_Principal as X-Trustgate-Principal), and no client names
        # the original request in nginx's headers (Caddy sets X-Forwarded-Method and -Uri).
        request_header -X-Trustgate*
        request_header -X_Trustgate*
        request_header -X-Original-*
        request_header -X_Original*
        forward_auth {trustgate} {{
            uri /gateway/authorize
            copy_headers X-Trustgate-Client-Id X-Trustgate-Customer-Id X-Trustgate-Principal X-Trustgate-Permission
        }}
        reverse_proxy {upstream}
    }}
}}
"#
    )
}

/// A whole Caddyfile for a test: no admin endpoint, no certificates, storage in `dir`.
fn caddy_config(dir: &Path, listen: u16, trustgate: u16, upstream: u16) -> String {
    let site = caddy_gateway(
        &format!("http://127.0.0.1:{listen}"),
        &format!("127.0.0.1:{trustgate}"),
        &format!("127.0.0.1:{upstream}"),
    );
    let dir = dir.display();
    format!(
        r#"{{
    admin off
    auto_https off
    storage file_system {dir}/caddy
}}

{site}"#
    )
}

impl Proxy {
    async fn nginx(dir: &Path, trustgate: u16, upstream: u16) -> Option<Self> {
        let nginx = installed("nginx")?;
        let listen = free_port();
        let [listen_at, trustgate, upstream] = [listen, trustgate, upstream].map(|port| format!("127.0.0.1:{port}"));
        let config = nginx_config(dir, &nginx_gateway(&listen_at, &trustgate, &upstream));
        Some(Self::run_nginx(nginx, dir, &config, listen).await)
    }

    /// Runs `nginx` with `config`, in `dir`, until it listens on `listen`.
    async fn run_nginx(nginx: PathBuf, dir: &Path, config: &str, listen: u16) -> Self {
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, config).unwrap();
        let mut command = tokio::process::Command::new(nginx);
        command.arg("-p").arg(dir).arg("-e").arg(dir.join("error.log")).arg("-c").arg(&conf);
        command.args(["-g", "daemon off;"]);
        Self::spawn(command, listen, &dir.join("error.log")).await
    }

    /// nginx publishing Trustgate under a path prefix, as `--public-url http://host/tg` says: `/tg/…`
    /// goes to Trustgate without the prefix, and the RFC 8414 §3.1 well-known paths, which sit
    /// before the prefix, go to it as they are.
    async fn nginx_prefix(dir: &Path, listen: u16, trustgate: u16) -> Option<Self> {
        let nginx = installed("nginx")?;
        let site = nginx_prefix_site(&format!("127.0.0.1:{listen}"), &format!("127.0.0.1:{trustgate}"));
        Some(Self::run_nginx(nginx, dir, &nginx_config(dir, &site), listen).await)
    }

    async fn caddy(dir: &Path, trustgate: u16, upstream: u16) -> Option<Self> {
        let caddy = installed("caddy")?;
        let listen = free_port();
        let conf = dir.join("Caddyfile");
        std::fs::write(&conf, caddy_config(dir, listen, trustgate, upstream)).unwrap();
        let mut command = tokio::process::Command::new(caddy);
        command.arg("run").arg("--config").arg(&conf).args(["--adapter", "caddyfile"]);
        command.env("HOME", dir).env("XDG_DATA_HOME", dir).env("XDG_CONFIG_HOME", dir);
        Some(Self::spawn(command, listen, &dir.join("caddy.log")).await)
    }

    /// A request through the proxy as Citrix scripts send one, with `app`'s HTTP client.
    fn citrix_request(
        &self,
        app: &TestApp,
        method: reqwest::Method,
        path: &str,
        token: &str,
        customer: &CustomerId,
    ) -> reqwest::RequestBuilder {
        app.http
            .request(method, format!("{}{path}", self.url))
            .header("authorization", format!("CwsAuth Bearer={token}"))
            .header("citrix-customerid", customer.as_str())
    }

    async fn spawn(mut command: tokio::process::Command, listen: u16, log: &Path) -> Self {
        let log_file = std::fs::File::create(log.with_extension("out")).unwrap();
        command.stdout(log_file.try_clone().unwrap()).stderr(log_file).kill_on_drop(true);
        let mut child = command.spawn().unwrap();
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", listen)).await.is_ok() {
                return Self { url: format!("http://127.0.0.1:{listen}"), _child: child };
            }
            if let Ok(Some(status)) = child.try_wait() {
                let out = std::fs::read_to_string(log.with_extension("out")).unwrap_or_default();
                let err = std::fs::read_to_string(log).unwrap_or_default();
                panic!("the proxy exited ({status}) before listening:\n{out}\n{err}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the proxy did not listen on {listen} within 10 s");
    }
}

/// Allowed, missing permission, spoofed identity, owner reduced, owner removed — through `proxy`.
async fn walk(app: &TestApp, proxy: &Proxy, upstream: &Upstream) {
    let customer = app.customer().await;
    let boss = app.admin(&customer, Access::Full).await;
    let owner = app.admin(&customer, custom(&[orders("read")])).await;
    let client = app.client(&customer, &owner).await;
    let token = app.token(&client).await;
    let call = |method: reqwest::Method, path: &str| proxy.citrix_request(app, method, path, &token, &customer);

    // Allowed: the upstream sees the call with who made it, and the client's forgeries are gone.
    let response = call(reqwest::Method::GET, "/orders/42?full=1")
        .header("x-trustgate-client-id", "forged")
        .header("x-trustgate-principal", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "from the upstream");
    let seen = upstream.take();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].uri, "/orders/42?full=1");
    let header =
        |name: &str| -> Vec<&str> { seen[0].headers.get_all(name).iter().map(|v| v.to_str().unwrap()).collect() };
    assert_eq!(header("x-trustgate-client-id"), [client.id.to_string()], "one value, Trustgate's");
    assert_eq!(header("x-trustgate-customer-id"), [customer.to_string()]);
    assert_eq!(header("x-trustgate-principal"), [owner.id.to_string()], "the owner a secure client acts for");
    assert_eq!(header("x-trustgate-permission"), ["orders.read"]);

    // A Citrix SDK's trailing slash, and HEAD, pass as the GET rule (issue #22).
    for (method, path) in [(reqwest::Method::GET, "/orders/42/"), (reqwest::Method::HEAD, "/orders/42")] {
        let response = call(method.clone(), path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{method} {path}");
    }
    assert_eq!(upstream.take().len(), 2);
    // A request Trustgate will not read is a 400 at the client too, not the proxy's 500.
    let response = call(reqwest::Method::GET, "/orders//42").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(upstream.take().is_empty());

    // Missing permission: refused, and the upstream never hears of it.
    let response = call(reqwest::Method::POST, "/orders").body("{}").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // No rule for the path: closed by default.
    let response = call(reqwest::Method::GET, "/billing/1").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // No token at all.
    let response = app.http.get(format!("{}/orders/1", proxy.url)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(upstream.take().is_empty(), "refused calls never reach the upstream");

    // R5: the owner loses orders.read; the next proxied call with the same token is refused.
    app.store.set_access(&customer, owner.id, custom(&[orders("write")]), &Actor::System).await.unwrap();
    let response = call(reqwest::Method::GET, "/orders/42").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "reduced at once");
    let response = call(reqwest::Method::POST, "/orders").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "and what the owner holds now passes");
    assert_eq!(upstream.take().len(), 1);

    // R6: the owner leaves the customer; the same token no longer authenticates.
    app.store.remove_member(&customer, owner.id, &Actor::System).await.unwrap();
    let response = call(reqwest::Method::POST, "/orders").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(upstream.take().is_empty());
    drop(boss);
}

#[tokio::test]
async fn behind_nginx_auth_request_calls_pass_by_the_owners_live_rights() {
    let Some(app) = TestApp::spawn_on(Backend::Sqlite).await else { return };
    app.apply_catalog(ORDERS_CATALOG).await;
    let upstream = Upstream::start().await;
    let dir = TempDir::new();
    let Some(proxy) = Proxy::nginx(dir.path(), port_of(&app.url), upstream.addr.port()).await else { return };
    walk(&app, &proxy, &upstream).await;
}

#[tokio::test]
async fn behind_caddy_forward_auth_calls_pass_by_the_owners_live_rights() {
    let Some(app) = TestApp::spawn_on(Backend::Sqlite).await else { return };
    app.apply_catalog(ORDERS_CATALOG).await;
    let upstream = Upstream::start().await;
    let dir = TempDir::new();
    let Some(proxy) = Proxy::caddy(dir.path(), port_of(&app.url), upstream.addr.port()).await else { return };
    walk(&app, &proxy, &upstream).await;
}

/// Issue #20: a client with `orders.read` sends every header that names the original request or
/// an identity — in each proxy's convention and in underscore spellings — to pass a `DELETE` off as
/// a `GET` or to speak for someone else. Nothing it sends is what Trustgate checks or what the
/// upstream reads as Trustgate's.
async fn smuggle(app: &TestApp, proxy: &Proxy, upstream: &Upstream) {
    let (customer, owner, client) = app.customer_with_client(custom(&[orders("read")])).await;
    let token = app.token(&client).await;
    let forged = [
        ("x-original-method", "GET"),
        ("x-original-uri", "/orders/1"),
        ("x-forwarded-method", "GET"),
        ("x-forwarded-uri", "/orders/1"),
        ("x_original_method", "GET"),
        ("x_original_uri", "/orders/1"),
        ("x_trustgate_principal", "forged"),
        ("x_trustgate_permission", "orders.write"),
        ("x-trustgate_client_id", "forged"),
        ("x_trustgate-customer-id", "forged"),
    ];
    let call = |method: reqwest::Method, path: &str| {
        let mut request = proxy.citrix_request(app, method, path, &token, &customer);
        for (name, value) in forged {
            request = request.header(name, value);
        }
        request
    };

    for method in [reqwest::Method::DELETE, reqwest::Method::POST, reqwest::Method::PUT] {
        let response = call(method.clone(), "/orders/1").send().await.unwrap();
        assert_ne!(response.status(), StatusCode::OK, "{method} passed as the client's own GET");
        assert!(response.status().is_client_error() || response.status().is_server_error());
    }
    assert!(upstream.take().is_empty(), "no smuggled write reaches the upstream");

    let response = call(reqwest::Method::GET, "/orders/1").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the client's real GET still passes");
    let seen = upstream.take();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let identity: Vec<(String, String)> = seen[0]
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().replace('_', "-"), value.to_str().unwrap().to_owned()))
        .filter(|(name, _)| name.starts_with("x-trustgate"))
        .collect();
    let mut expected = vec![
        ("x-trustgate-client-id".to_owned(), client.id.to_string()),
        ("x-trustgate-customer-id".to_owned(), customer.to_string()),
        ("x-trustgate-principal".to_owned(), owner.id.to_string()),
        ("x-trustgate-permission".to_owned(), "orders.read".to_owned()),
    ];
    let mut identity = identity;
    identity.sort();
    expected.sort();
    assert_eq!(identity, expected, "read as a WSGI upstream reads names, only Trustgate's values");
}

#[tokio::test]
async fn behind_nginx_a_client_cannot_choose_what_is_checked_or_who_it_is() {
    let Some(app) = TestApp::spawn_on(Backend::Sqlite).await else { return };
    app.apply_catalog(ORDERS_CATALOG).await;
    let upstream = Upstream::start().await;
    let dir = TempDir::new();
    let Some(proxy) = Proxy::nginx(dir.path(), port_of(&app.url), upstream.addr.port()).await else { return };
    smuggle(&app, &proxy, &upstream).await;
}

#[tokio::test]
async fn behind_caddy_a_client_cannot_choose_what_is_checked_or_who_it_is() {
    let Some(app) = TestApp::spawn_on(Backend::Sqlite).await else { return };
    app.apply_catalog(ORDERS_CATALOG).await;
    let upstream = Upstream::start().await;
    let dir = TempDir::new();
    let Some(proxy) = Proxy::caddy(dir.path(), port_of(&app.url), upstream.addr.port()).await else { return };
    smuggle(&app, &proxy, &upstream).await;
}

#[test]
fn docs_operations_md_shows_the_path_prefix_site_the_discovery_test_runs() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/operations.md")).unwrap();
    let site = nginx_prefix_site("443 ssl", "127.0.0.1:8080");
    assert!(docs.contains(&site), "docs/operations.md must show:\n{site}");
}

#[test]
fn docs_gateway_md_shows_the_nginx_and_caddy_configurations_these_tests_run() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/gateway.md")).unwrap();
    let nginx = nginx_gateway("80", "trustgate:8080", "orders:9000");
    assert!(docs.contains(&nginx), "docs/gateway.md must show, inside http {{ }}:\n{nginx}");
    let caddy = caddy_gateway("orders.example.com", "trustgate:8080", "orders:9000");
    assert!(docs.contains(&caddy), "docs/gateway.md must show:\n{caddy}");
}

/// openid-client discovers an issuer with a path both ways, RFC 8414's (the well-known segment
/// inserted before the path, §3.1) and OpenID's (appended), through nginx publishing Trustgate
/// under `/tg`, and gets a token from the endpoint the metadata names (issue #22).
#[tokio::test]
async fn openid_client_discovers_an_issuer_with_a_path_behind_a_prefix_proxy_both_ways() {
    let Some(js) = crate::openid_client::js_dir() else { return };
    let listen = free_port();
    let dir = TempDir::new();
    let store = std::sync::Arc::new(trustgate_store::SqliteStore::open(dir.path()).await.unwrap());
    let key = trustgate::commands::server_key(dir.path()).unwrap();
    let issuer = format!("http://127.0.0.1:{listen}/tg");
    let config = trustgate_core::token::Issuer { url: issuer.clone(), audience: "https://api.trustgate.test".into() };
    let app = TestApp::start_as(store, key, dir, None, Some(config)).await;
    let (_, _, client) = app.customer_with_client(Access::Full).await;
    let proxy_dir = TempDir::new();
    let Some(proxy) = Proxy::nginx_prefix(proxy_dir.path(), listen, port_of(&app.url)).await else { return };

    let inserted = app.http.get(format!("{}/.well-known/oauth-authorization-server/tg", proxy.url)).send().await;
    let metadata: serde_json::Value = inserted.unwrap().json().await.unwrap();
    assert_eq!(metadata["issuer"], issuer.as_str());
    let elsewhere = app.http.get(app.url("/.well-known/oauth-authorization-server/other")).send().await.unwrap();
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND, "only the issuer's own path");

    for algorithm in ["oauth2", "oidc"] {
        let args = [issuer.clone(), client.id.to_string(), client.secret.clone(), algorithm.to_owned()];
        let cwd = js.clone();
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new("node").arg("client_credentials.mjs").args(&args).current_dir(cwd).output()
        })
        .await
        .unwrap()
        .expect("run node");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "openid-client ({algorithm}) failed:\n{stdout}\n{stderr}");
        for line in stdout.lines() {
            let result: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(result["issuer"], issuer.as_str(), "{algorithm}");
            assert_eq!(result["token_endpoint"], format!("{issuer}/cctrustoauth2/root/tokens/clients"));
            assert_eq!(result["token_type"], "bearer", "{algorithm}: a token through the proxy");
        }
    }
}
