//! Metrics and logs as an operator meets them: scraped from `--metrics-listen` and checked with
//! Prometheus's own `promtool`, and the access log of `trustgate serve` read from its stderr.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::oneshot;
use trustgate_core::access::{Access, Permission};

use crate::harness::{custom, skip, Backend, TempDir, TestApp, TestDatabase};

/// One scrape of a node's metrics, served on a listener of its own as `--metrics-listen` does.
pub async fn scrape(app: &TestApp) -> Metrics {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(trustgate_server::serve_metrics(listener, app.state.clone(), async {
        let _ = stopped.await;
    }));
    let metrics = scrape_url(&url).await;
    let _ = stop.send(());
    served.await.unwrap().unwrap();
    metrics
}

pub async fn scrape_url(url: &str) -> Metrics {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(content_type, "text/plain; version=0.0.4", "the Prometheus text format");
    Metrics(response.text().await.unwrap())
}

/// A text exposition, read as Prometheus would.
pub struct Metrics(pub String);

impl Metrics {
    /// The sum of the samples of `name` whose labels include every one of `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.rsplit_once(' '))
            .filter(|(series, _)| {
                let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
                metric == name && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
            })
            .map(|(_, value)| value.parse::<f64>().unwrap())
            .sum()
    }

    /// Lints the exposition with `promtool check metrics` (Debian's `prometheus` package).
    pub fn check_with_promtool(&self) {
        let child = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => {
                skip(format_args!("the promtool check: promtool cannot run: {e} (apt-get install prometheus)"));
                return;
            }
        };
        child.stdin.take().unwrap().write_all(self.0.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "promtool check metrics failed:\n{}{}\n--- the exposition ---\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.0
        );
    }
}

/// Polls `check` every 20 ms for up to five seconds.
pub async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..250 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn a_lost_postgresql_feed_counts_as_a_reconnect() {
    use sqlx::Connection;
    let Some(app) = TestApp::spawn_on(Backend::Postgres).await else { return };
    let url = app.database_url().unwrap();
    let listening = || async { crate::harness::feed_listeners(&url).await == 1 };
    assert!(eventually(listening).await, "the node listens for changes");
    let reconnects = "trustgate_change_feed_reconnects_total";
    assert_eq!(scrape(&app).await.value(reconnects, &[]), 0.0);
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    assert!(eventually(|| async { scrape(&app).await.value(reconnects, &[]) >= 1.0 }).await, "the loss is counted");
    assert!(eventually(listening).await, "and the node listens again");
}

/// Eight nodes share one PostgreSQL: each must stay within its share of `max_connections`.
#[tokio::test]
async fn a_postgresql_node_opens_at_most_its_database_pool_size() {
    let Some(database) = TestDatabase::create().await else { return };
    let server =
        Server::start(&["--database", &database.url, "--database-pool-size", "3", "--metrics-listen", "127.0.0.1:0"]);
    let metrics = scrape_url(server.metrics_url.as_deref().expect("metrics url")).await;
    assert_eq!(metrics.value("trustgate_store_connections_max", &[]), 3.0, "{}", metrics.0);
    assert!(metrics.value("trustgate_store_connections", &[]) <= 3.0, "{}", metrics.0);
}

/// `trustgate serve` on a fresh SQLite data directory, its stderr (the log) in a file.
struct Server {
    child: Child,
    url: String,
    metrics_url: Option<String>,
    log: std::path::PathBuf,
    _dir: TempDir,
}

impl Server {
    fn start(args: &[&str]) -> Self {
        Self::start_with_env(args, &[])
    }

    fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = TempDir::new();
        let log = dir.path().join("serve.log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_trustgate"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("TRUSTGATE_SERVER_KEY")
            .env_remove("TRUSTGATE_LOG_FORMAT")
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        // The pipe is drained to its end, or the server's later `println!`s would fail.
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (lines_tx, lines_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        let (mut url, mut metrics_url) = (None, None);
        let wants_metrics = args.contains(&"--metrics-listen");
        while url.is_none() || (wants_metrics && metrics_url.is_none()) {
            let line = lines_rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| {
                panic!("the server did not start: {}", std::fs::read_to_string(&log).unwrap_or_default())
            });
            if let Some(rest) = line.strip_prefix("Trustgate is listening on ") {
                url = rest.split(' ').next().map(str::to_owned);
            }
            if let Some(rest) = line.strip_prefix("Prometheus metrics: ") {
                metrics_url = Some(rest.trim().to_owned());
            }
        }
        Self { child, url: url.unwrap(), metrics_url, log, _dir: dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    /// Waits until the log holds a line containing `needle`.
    async fn logged(&self, needle: &str) -> String {
        assert!(eventually(|| async { self.log().contains(needle) }).await, "not logged: {needle}\n{}", self.log());
        self.log()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn serve_with_json_logs_writes_one_parseable_access_line_per_request_with_its_transaction_id() {
    let server = Server::start_with_env(
        &["--log-format", "json", "--metrics-listen", "127.0.0.1:0"],
        &[("RUST_LOG", "info,trustgate_server=debug")],
    );
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{}/cctrustoauth2/root/tokens/clients", server.url))
        .form(&[("grant_type", "client_credentials"), ("client_id", "nobody"), ("client_secret", "obs-never-logged")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let transaction = response.headers()["x-cws-transactionid"].to_str().unwrap().to_owned();

    let log = server.logged(&transaction).await;
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
        .collect();
    let access = lines
        .iter()
        .find(|line| line["transaction_id"] == transaction.as_str())
        .unwrap_or_else(|| panic!("no access line carries {transaction}:\n{log}"));
    assert_eq!(access["target"], "trustgate::access");
    assert_eq!(access["method"], "POST");
    assert_eq!(access["route"], "/cctrustoauth2/{customer}/tokens/clients", "the template, not the raw path");
    assert_eq!(access["status"], 400);
    assert!(access["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{access}");
    assert!(!log.contains("obs-never-logged"), "the secret is never logged");
    let refused = lines.iter().find(|line| line["message"] == "token refused").expect("a refusal at debug level");
    assert_eq!(refused["reason"], "bad_credentials");
    let spans: Vec<&str> = refused["spans"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(spans, ["request", "grant"], "the grant runs in its own span within the request's: {refused}");

    let metrics = scrape_url(server.metrics_url.as_deref().unwrap()).await;
    let refused = [("route", "/cctrustoauth2/{customer}/tokens/clients"), ("status", "400")];
    assert_eq!(metrics.value("trustgate_http_requests_total", &refused), 1.0);
    assert_eq!(metrics.value("trustgate_token_refusals_total", &[("reason", "bad_credentials")]), 1.0);
    metrics.check_with_promtool();
    let api = reqwest::get(format!("{}/metrics", server.url)).await.unwrap();
    assert_eq!(api.status(), StatusCode::NOT_FOUND, "metrics stay off the API listener");
}

#[tokio::test]
async fn text_logs_to_a_pipe_carry_no_colour_codes() {
    let server = Server::start(&[]);
    let response = reqwest::Client::new()
        .get(format!("{}/healthz", server.url))
        .header("Citrix-TransactionId", "obs-text-log-check")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let log = server.logged("obs-text-log-check").await;
    assert!(!log.contains('\u{1b}'), "no ANSI escape codes in a log that is not a terminal:\n{log:?}");
    let access = log.lines().find(|line| line.contains("obs-text-log-check")).unwrap();
    for field in ["method=GET", "route=/healthz", "status=200", "latency_ms="] {
        assert!(access.contains(field), "{field} in {access}");
    }
}

/// A client whose owner may post notifications: a call the metrics can see.
pub async fn caller(app: &TestApp) -> (trustgate_core::ids::CustomerId, crate::harness::TestClient) {
    let customer = app.customer().await;
    app.admin(&customer, Access::Full).await;
    let owner = app.admin(&customer, custom(&[Permission::NOTIFICATIONS])).await;
    let client = app.client(&customer, &owner).await;
    (customer, client)
}
