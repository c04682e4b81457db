//! The server under test: a `trustgate serve` child process, and the HTTP calls the bench makes to it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use axum::body::Body;
use axum::http::{header, Request};
use trustgate_core::ids::CustomerId;

pub(super) struct Server {
    pub(super) child: Child,
    pub(super) addr: String,
    pub(super) url: String,
    /// Where the server's Prometheus metrics are, for the cache hit ratios.
    pub(super) metrics: String,
    pub(super) started: Instant,
}

/// How the server under test logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Logging {
    /// As `trustgate serve` logs by default (info, an access line a request), into a file, as an
    /// operator collects it: what users run.
    AsUsersRun,
    /// Warnings only (`RUST_LOG=warn`), to see what the default logging costs beside it.
    WarningsOnly,
}

impl Server {
    pub(super) fn start(data_dir: &Path, database: Option<&str>, port: u16, logging: Logging) -> anyhow::Result<Self> {
        Self::start_with(data_dir, database, port, logging, &[])
    }

    /// [`Server::start`], with more arguments to `serve`.
    pub(super) fn start_with(
        data_dir: &Path,
        database: Option<&str>,
        port: u16,
        logging: Logging,
        serve_args: &[&str],
    ) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let mut command = Command::new(exe);
        let metrics = format!("127.0.0.1:{}", free_port()?);
        command.arg("--data-dir").arg(data_dir).args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
        command.args(["--metrics-listen", &metrics]);
        // The sign-in flood stands for attackers on many addresses, which the per-address
        // throttle does not stop: only the hashing bound is between them and the server's memory.
        command.args(["--sign-in-failure-limit", "1000000000"]);
        command.args(serve_args);
        if let Some(url) = database {
            command.arg("--database").arg(url);
        }
        let started = Instant::now();
        command.stdout(Stdio::null());
        match logging {
            Logging::AsUsersRun => {
                let log = std::fs::File::create(data_dir.join("server.log")).context("creating server.log")?;
                command.env_remove("RUST_LOG").stderr(Stdio::from(log));
            }
            Logging::WarningsOnly => {
                command.env("RUST_LOG", "warn").stderr(Stdio::inherit());
            }
        }
        let child = command.spawn()?;
        let addr = format!("127.0.0.1:{port}");
        Ok(Self { child, url: format!("http://{addr}"), addr, metrics, started })
    }

    pub(super) fn rss_mib(&self) -> Option<f64> {
        resident_mib(self.child.id())
    }
}

pub(super) fn resident_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One HTTP/1.1 exchange over a fresh connection; enough for set-up requests, not for load.
pub(super) async fn http(addr: &str, request: Request<Body>) -> anyhow::Result<(u16, String)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(Body::new(response.into_body()), usize::MAX).await?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

pub(super) fn post(addr: &str, path: &str, content_type: &str, body: String) -> anyhow::Result<Request<Body>> {
    Ok(Request::post(path)
        .header(header::HOST, addr)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))?)
}

pub(super) async fn wait_ready(addr: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let request = Request::get("/readyz").header(header::HOST, addr).body(Body::empty())?;
        if matches!(http(addr, request).await, Ok((200, _))) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bail!("the server did not become ready at {addr}")
}

/// Asks the decision endpoint once, as the gateway figure will, and stops the bench unless it
/// allows: a figure of refusals would say nothing about the gateway.
pub(super) async fn gateway_allows(addr: &str, customer: &CustomerId, token: &str) -> anyhow::Result<()> {
    let request = Request::get("/gateway/authorize")
        .header(header::HOST, addr)
        .header(header::AUTHORIZATION, format!("CwsAuth Bearer={token}"))
        .header("Citrix-CustomerId", customer.as_str())
        .header("X-Original-Method", "GET")
        .header("X-Original-URI", "/notifications/items")
        .body(Body::empty())?;
    let (status, body) = http(addr, request).await?;
    if status != 200 {
        bail!("the gateway decision for GET /notifications/items answered {status}, not 200, before measuring: {body}");
    }
    Ok(())
}

/// Fetches one token per sampled client, for the call measurements.
pub(super) async fn fetch_tokens(
    addr: &str,
    creds: &[(CustomerId, String, String)],
    limit: usize,
) -> anyhow::Result<Vec<(CustomerId, String)>> {
    let mut tokens = Vec::new();
    for (customer, id, secret) in creds.iter().take(limit) {
        let form = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
        let request = post(addr, "/cctrustoauth2/root/tokens/clients", "application/x-www-form-urlencoded", form)?;
        let (status, body) = http(addr, request).await?;
        if status != 200 {
            bail!("a token request failed with {status}: {body}");
        }
        let body: serde_json::Value = serde_json::from_str(&body).context("a token response was not JSON")?;
        let token = body["access_token"].as_str().context("no access_token")?;
        tokens.push((customer.clone(), token.to_owned()));
    }
    Ok(tokens)
}

/// Fetches a token for every client in `creds` (`customer id secret` lines) over `workers`
/// kept-alive connections, and writes `customer token` lines to `out`: the uniform call set.
pub(super) async fn fetch_all_tokens(addr: &str, creds: &Path, out: &Path, workers: usize) -> anyhow::Result<usize> {
    let text = std::fs::read_to_string(creds)?;
    let lines: Arc<Vec<String>> = Arc::new(text.lines().map(str::to_owned).collect());
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (lines, next, addr) = (lines.clone(), next.clone(), addr.to_owned());
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(&addr).await?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
            tokio::spawn(connection);
            let mut tokens = Vec::new();
            loop {
                let i = usize::try_from(next.fetch_add(1, Ordering::Relaxed))?;
                let Some(line) = lines.get(i) else { break };
                let mut fields = line.split(' ');
                let (Some(customer), Some(id), Some(secret)) = (fields.next(), fields.next(), fields.next()) else {
                    bail!("a malformed credentials line");
                };
                let form = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
                let request =
                    post(&addr, "/cctrustoauth2/root/tokens/clients", "application/x-www-form-urlencoded", form)?;
                sender.ready().await?;
                let response = sender.send_request(request).await?;
                let status = response.status().as_u16();
                let body = axum::body::to_bytes(Body::new(response.into_body()), usize::MAX).await?;
                if status != 200 {
                    bail!("a token request failed with {status}: {}", String::from_utf8_lossy(&body));
                }
                let body: serde_json::Value = serde_json::from_slice(&body).context("a token response was not JSON")?;
                let token = body["access_token"].as_str().context("no access_token")?;
                tokens.push(format!("{customer} {token}\n"));
            }
            anyhow::Ok(tokens)
        }));
    }
    let mut all = String::new();
    for task in tasks {
        all.extend(task.await??);
    }
    std::fs::write(out, all)?;
    Ok(lines.len())
}

/// Cache look-ups so far, by cache: (hits, misses), read from the server's Prometheus metrics.
pub(super) async fn cache_lookups(metrics: &str) -> anyhow::Result<std::collections::BTreeMap<String, (u64, u64)>> {
    let request = Request::get("/metrics").header(header::HOST, metrics).body(Body::empty())?;
    let (_, text) = http(metrics, request).await?;
    let mut lookups = std::collections::BTreeMap::<String, (u64, u64)>::new();
    for line in text.lines() {
        let (hit, cache, count) = if let Some(rest) = line.strip_prefix("trustgate_cache_hits_total{cache=\"") {
            let Some((cache, count)) = rest.split_once("\"} ") else { continue };
            (true, cache, count)
        } else if let Some(rest) = line.strip_prefix("trustgate_cache_misses_total{cache=\"") {
            let Some((cache, count)) = rest.split_once("\"} ") else { continue };
            (false, cache, count)
        } else {
            continue;
        };
        let count: u64 = count.trim().parse().unwrap_or(0);
        let entry = lookups.entry(cache.to_owned()).or_default();
        if hit {
            entry.0 = count;
        } else {
            entry.1 = count;
        }
    }
    Ok(lookups)
}
