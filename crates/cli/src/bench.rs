//! `trustgate bench`: seeds a scratch store, starts `trustgate serve` on it as a child process and
//! drives it with wrk over loopback. Every figure is reported with its ratio to a baseline (a trivial
//! endpoint of the same server) measured in the same run, because absolute numbers on a shared
//! machine mean little.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use axum::body::Body;
use axum::http::{header, Request};
use clap::{Args, ValueEnum};
use serde::Deserialize;
use time::OffsetDateTime;
use trustgate_core::access::{Access, Permission};
use trustgate_core::admin::{Admin, AdminStatus, Email, Provider};
use trustgate_core::client::{ApiClient, ClientKind};
use trustgate_core::client_secrets::NewSecret;
use trustgate_core::custody::KeyVault;
use trustgate_core::customer::{Customer, DisabledOwnerPolicy};
use trustgate_core::event::Actor;
use trustgate_core::ids::{AdminId, ClientId, CustomerId};
use trustgate_core::secret::{random_token, ClientSecret, SecretId};
use trustgate_core::token::Algorithm;
use trustgate_store::{PostgresStore, SqliteStore, Store};

use trustgate_server::config::DEFAULT_SIGNING_ALGORITHM;
use trustgate_server::keys::server_key_file;
use trustgate_server::{actions, keys};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// API clients to seed (spread evenly over the administrators).
    #[arg(long, default_value_t = 10_000)]
    pub clients: u32,
    /// Customers to seed.
    #[arg(long, default_value_t = 100)]
    pub customers: u32,
    /// Administrators to seed, spread evenly over the customers (the first of each has Full
    /// access, the others Custom access and own the clients).
    #[arg(long, default_value_t = 1_000)]
    pub admins: u32,
    /// Seconds each measurement runs.
    #[arg(long, default_value_t = 10)]
    pub duration: u32,
    /// Concurrent connections of the main measurements.
    #[arg(long, default_value_t = 64)]
    pub connections: u32,
    /// Also measure token grants and calls at 1, 16, 64 and 256 connections.
    #[arg(long)]
    pub sweep: bool,
    /// Signing algorithms to measure token grants and calls with, one after another, each by a key
    /// rotation on the running server (repeat the option; default: all three).
    #[arg(long = "algorithm", default_values_t = Algorithm::ALL)]
    pub algorithms: Vec<Algorithm>,
    /// Also measure the gateway decision endpoint (`/gateway/authorize`, as nginx's `auth_request`
    /// asks it) with the hot set's tokens, next to the authorized call.
    #[arg(long)]
    pub gateway: bool,
    /// Also run everything on PostgreSQL; the URL of a database to create scratch databases from.
    #[arg(long, env = "TRUSTGATE_BENCH_POSTGRES_URL")]
    pub postgres: Option<String>,
    /// Where to write the Markdown table.
    #[arg(long, default_value = "bench-results.md")]
    pub out: PathBuf,
    /// Also send the hot token-grant load to a peer authorization server on this machine, and
    /// print Trustgate's grants as a multiple of its own (skipped, saying why, when its runtime or
    /// package is missing).
    #[arg(long, value_enum)]
    pub peer: Option<Peer>,
    /// Where the peer's npm package is installed: a directory holding `node_modules/oidc-provider`
    /// (`npm ci --prefix crates/cli/tests/it/js` installs the pinned one there).
    #[arg(long, default_value = "crates/cli/tests/it/js")]
    pub peer_modules: PathBuf,
}

/// A well-known open-source authorization server to compare with (issue #13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Peer {
    /// The npm `oidc-provider` package (run by `scripts/bench_peer_oidc_provider.mjs`, configured
    /// as BENCHMARKS.md describes).
    OidcProvider,
}

/// wrk's summary, printed as JSON by the Lua `done` hook.
#[derive(Debug, Clone, Copy, Deserialize)]
struct Run {
    requests: u64,
    duration_us: u64,
    p50_us: u64,
    p99_us: u64,
    errors: u64,
    non2xx: u64,
}

impl Run {
    fn rate(&self) -> f64 {
        self.requests as f64 / (self.duration_us.max(1) as f64 / 1e6)
    }
}

struct Row {
    store: &'static str,
    scenario: String,
    clients: u32,
    connections: u32,
    run: Run,
    baseline: f64,
    /// Hit ratio of each cache looked up during the run.
    hits: String,
}

/// From spawning `trustgate serve` to its first answers.
struct ColdStart {
    store: &'static str,
    clients: u32,
    ready: Duration,
    first_grant: Duration,
}

const DONE_HOOK: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"errors":%d,"non2xx":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"#;

const TOKEN_SCRIPT: &str = r#"
local creds = {}
for line in io.lines(os.getenv("TG_BENCH_CREDS")) do
  local id, secret = line:match("([^ ]+) ([^ ]+)")
  creds[#creds + 1] = "grant_type=client_credentials&client_id=" .. id .. "&client_secret=" .. secret
end
local i = math.random(#creds)
request = function()
  i = i % #creds + 1
  return wrk.format("POST", "/cctrustoauth2/root/tokens/clients",
    {["Content-Type"] = "application/x-www-form-urlencoded"}, creds[i])
end
"#;

/// One client id, always with a wrong secret: an attacker guessing.
const WRONG_SECRET_SCRIPT: &str = r#"
local body = "grant_type=client_credentials&client_id=" .. os.getenv("TG_BENCH_ATTACKED") .. "&client_secret=tgs_wrong"
request = function()
  return wrk.format("POST", "/cctrustoauth2/root/tokens/clients",
    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
"#;

/// Token requests naming a fresh random client id each time (an attacker spraying made-up ids),
/// with the well-formed secret of the first line of `TG_BENCH_CREDS`.
const RANDOM_ID_SCRIPT: &str = r#"
local secret = io.lines(os.getenv("TG_BENCH_CREDS"))():match("[^ ]+ ([^ ]+)")
local function hex(n) return string.format("%04x", math.random(0, 65535)) end
request = function()
  local id = hex() .. hex() .. "-" .. hex() .. "-4" .. hex():sub(2) .. "-a" .. hex():sub(2) .. "-" .. hex() .. hex() .. hex()
  return wrk.format("POST", "/cctrustoauth2/root/tokens/clients",
    {["Content-Type"] = "application/x-www-form-urlencoded"},
    "grant_type=client_credentials&client_id=" .. id .. "&client_secret=" .. secret)
end
"#;

/// Each wrk thread seeds its own generator (a table's address differs per Lua state), so the
/// threads do not send the same sequence.
const UNIFORM_SEED: &str = r#"
math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000003)
"#;

/// Grants of clients drawn uniformly from every seeded client: a working set that can miss.
const UNIFORM_TOKEN_SCRIPT: &str = r#"
local bodies = {}
for line in io.lines(os.getenv("TG_BENCH_ALL")) do
  local id, secret = line:match("[^ ]+ ([^ ]+) ([^ ]+)")
  bodies[#bodies + 1] = "grant_type=client_credentials&client_id=" .. id .. "&client_secret=" .. secret
end
request = function()
  return wrk.format("POST", "/cctrustoauth2/root/tokens/clients",
    {["Content-Type"] = "application/x-www-form-urlencoded"}, bodies[math.random(#bodies)])
end
"#;

/// Calls with tokens drawn uniformly from one token per seeded client.
const UNIFORM_CALL_SCRIPT: &str = r#"
local calls = {}
for line in io.lines(os.getenv("TG_BENCH_ALL")) do
  local customer, token = line:match("([^ ]+) ([^ ]+)")
  calls[#calls + 1] = {["Authorization"] = "CwsAuth Bearer=" .. token, ["Citrix-CustomerId"] = customer}
end
request = function()
  return wrk.format("GET", "/notifications/items", calls[math.random(#calls)])
end
"#;

const CALL_SCRIPT: &str = r#"
local calls = {}
for line in io.lines(os.getenv("TG_BENCH_TOKENS")) do
  local customer, token = line:match("([^ ]+) ([^ ]+)")
  calls[#calls + 1] = {["Authorization"] = "CwsAuth Bearer=" .. token, ["Citrix-CustomerId"] = customer}
end
local i = math.random(#calls)
request = function()
  i = i % #calls + 1
  return wrk.format("GET", "/notifications/items", calls[i])
end
"#;

/// The decision endpoint asked as nginx's `auth_request` does, for the call of [`CALL_SCRIPT`]:
/// the rule of [`BENCH_CATALOG`] matches it, so each decision reads the owner's rights.
const GATEWAY_SCRIPT: &str = r#"
local calls = {}
for line in io.lines(os.getenv("TG_BENCH_TOKENS")) do
  local customer, token = line:match("([^ ]+) ([^ ]+)")
  calls[#calls + 1] = {["Authorization"] = "CwsAuth Bearer=" .. token, ["Citrix-CustomerId"] = customer,
    ["X-Original-Method"] = "GET", ["X-Original-URI"] = "/notifications/items"}
end
local i = math.random(#calls)
request = function()
  i = i % #calls + 1
  return wrk.format("GET", "/gateway/authorize", calls[i])
end
"#;

/// The catalog the seed applies with `--gateway`: without a rule for the path the gateway figure
/// asks about, every decision would be the closed-by-default 403 and the figure would measure
/// refusals. The rule needs `notifications`, which every owner of the hot set holds.
const BENCH_CATALOG: &str = r#"
[[route]]
method = "GET"
path = "/notifications/items"
permission = "notifications"
"#;

struct Seeded {
    /// (customer, admin) of every owner, for access changes under load.
    owners: Vec<(CustomerId, AdminId)>,
    /// The hot set: a spread of up to 5,000 clients of Custom-access owners.
    creds: Vec<(CustomerId, String, String)>,
    /// The same for service principals, whose grants are measured next to the clients'.
    principal_creds: Vec<(CustomerId, String, String)>,
    /// `customer id secret` lines of every client but the one the attack scenario locks out: the
    /// uniform working set.
    all_creds: PathBuf,
}

/// Service principals seeded in each customer (a few: automation identities, not one per person).
const PRINCIPALS_PER_CUSTOMER: u32 = 4;

/// Owners hold Custom access, so every call evaluates a permission set live.
fn owner_access(wide: bool) -> Access {
    let base = [Permission::NOTIFICATIONS, Permission::API_CLIENTS];
    if wide {
        Access::Custom(base.into_iter().chain([Permission::SYSTEM_LOG]).collect())
    } else {
        Access::Custom(base.into_iter().collect())
    }
}

/// Unknown client ids the bench repeats, and clients the peer is given.
const UNKNOWN_IDS: usize = 1_000;
const PEER_CLIENTS: usize = 1_000;

/// `id secret` lines of `count` made-up clients, in Trustgate's formats.
fn fresh_creds(count: usize) -> String {
    (0..count).map(|_| format!("{} {}\n", ClientId::generate(), ClientSecret::generate().expose())).collect()
}

/// Clients per bulk insert: one transaction each, so progress shows and memory stays small.
const SEED_BATCH: usize = 20_000;

async fn seed(store: &dyn Store, data_dir: &Path, scratch: &Path, args: &BenchArgs) -> anyhow::Result<Seeded> {
    use std::io::Write as _;
    let key = server_key_file::load_ring(data_dir)?.current().clone();
    let now = OffsetDateTime::now_utc();
    let per_admin = args.clients.div_ceil(args.admins.max(1));
    let sample_every = (args.clients / 5_000).max(1);
    let (mut owners, mut creds, mut principal_creds) = (Vec::new(), Vec::new(), Vec::new());
    if args.gateway {
        // As `trustgate catalog apply` does: the file's checks, then the store's one transaction.
        let catalog = trustgate_server::gateway::catalog_file::parse(BENCH_CATALOG)?;
        store.apply_catalog(&catalog, false, &Actor::System).await?;
    }
    let all_creds = scratch.join("all-creds.txt");
    let mut all = std::io::BufWriter::new(std::fs::File::create(&all_creds)?);
    let mut batch = Vec::with_capacity(SEED_BATCH);
    let started = Instant::now();
    let mut made = 0u32;
    for c in 0..args.customers {
        let customer = Customer {
            id: CustomerId::parse(&format!("bench{c:05}"))?,
            name: format!("Bench customer {c}"),
            disabled_owner_policy: DisabledOwnerPolicy::KeepActive,
            created_at: now,
        };
        store.create_customer(&customer, &Actor::System).await?;
        for _ in 0..PRINCIPALS_PER_CUSTOMER {
            let (principal, secret) = actions::clients::new_principal(
                store,
                &key,
                &customer.id,
                "bench",
                owner_access(true),
                None,
                &Actor::System,
            )
            .await?;
            principal_creds.push((customer.id.clone(), principal.id.to_string(), secret.expose().to_owned()));
        }
        for a in 0..(args.admins / args.customers.max(1)) {
            let admin = Admin {
                id: AdminId::generate(),
                email: Email::parse(&format!("admin{a}@{}.bench.test", customer.id))?,
                display_name: format!("Bench admin {a}"),
                provider: Provider::Local,
                external_id: None,
                provider_id: None,
                status: AdminStatus::Active,
                created_at: now,
            };
            store.create_admin(&admin, None).await?;
            let access = if a == 0 { Access::Full } else { owner_access(true) };
            store.add_member(&customer.id, admin.id, access, &Actor::System).await?;
            if a != 0 {
                owners.push((customer.id.clone(), admin.id));
            }
            for _ in 0..per_admin {
                if made >= args.clients {
                    break;
                }
                let client = ApiClient {
                    id: ClientId::generate(),
                    customer_id: customer.id.clone(),
                    kind: ClientKind::SecureClient { owner: admin.id },
                    name: "bench".to_owned(),
                    created_at: now,
                    last_used_at: None,
                };
                let secret_id = SecretId::generate();
                let secret = ClientSecret::generate_as(secret_id);
                let sampled = made.is_multiple_of(sample_every) && a != 0;
                // The first sampled client is the one the attack scenario locks out.
                if !(sampled && creds.is_empty()) {
                    writeln!(all, "{} {} {}", customer.id, client.id, secret.expose())?;
                }
                if sampled {
                    creds.push((customer.id.clone(), client.id.to_string(), secret.expose().to_owned()));
                }
                batch.push((
                    client,
                    NewSecret { id: secret_id, verifier: key.verifier(&secret), created_at: now, expires_at: None },
                ));
                if batch.len() == SEED_BATCH {
                    store.seed_clients(&batch).await?;
                    batch.clear();
                }
                made += 1;
                if made.is_multiple_of(100_000) {
                    eprintln!("  seeded {made} clients ({:.0}/s)", f64::from(made) / started.elapsed().as_secs_f64());
                }
            }
        }
    }
    store.seed_clients(&batch).await?;
    store.refresh_statistics().await?;
    all.flush()?;
    eprintln!("  seeded {made} clients in {:.1}s", started.elapsed().as_secs_f64());
    Ok(Seeded { owners, creds, principal_creds, all_creds })
}

struct Server {
    child: Child,
    addr: String,
    url: String,
    /// Where the server's Prometheus metrics are, for the cache hit ratios.
    metrics: String,
    started: Instant,
}

impl Server {
    fn start(data_dir: &Path, database: Option<&str>, port: u16) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let mut command = Command::new(exe);
        let metrics = format!("127.0.0.1:{}", free_port()?);
        command.arg("--data-dir").arg(data_dir).args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
        command.args(["--metrics-listen", &metrics]);
        // The sign-in flood stands for attackers on many addresses, which the per-address
        // throttle does not stop: only the hashing bound is between them and the server's memory.
        command.args(["--sign-in-failure-limit", "1000000000"]);
        if let Some(url) = database {
            command.arg("--database").arg(url);
        }
        let started = Instant::now();
        let child = command.env("RUST_LOG", "warn").stdout(Stdio::null()).stderr(Stdio::inherit()).spawn()?;
        let addr = format!("127.0.0.1:{port}");
        Ok(Self { child, url: format!("http://{addr}"), addr, metrics, started })
    }

    fn rss_mib(&self) -> Option<f64> {
        resident_mib(self.child.id())
    }
}

fn resident_mib(pid: u32) -> Option<f64> {
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

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One HTTP/1.1 exchange over a fresh connection; enough for set-up requests, not for load.
async fn http(addr: &str, request: Request<Body>) -> anyhow::Result<(u16, String)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(Body::new(response.into_body()), usize::MAX).await?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn post(addr: &str, path: &str, content_type: &str, body: String) -> anyhow::Result<Request<Body>> {
    Ok(Request::post(path)
        .header(header::HOST, addr)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))?)
}

async fn wait_ready(addr: &str) -> anyhow::Result<()> {
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

fn wrk(
    url: &str,
    path: &str,
    script: &Path,
    connections: u32,
    seconds: u32,
    env: &[(&str, &Path)],
) -> anyhow::Result<Run> {
    let mut command = Command::new("wrk");
    command
        .args([&format!("-t{}", connections.min(2)), &format!("-c{connections}"), &format!("-d{seconds}s")])
        .args(["--timeout", "5s", "-s"])
        .arg(script)
        .arg(format!("{url}{path}"));
    for (k, v) in env {
        command.env(k, v);
    }
    run_wrk(command)
}

fn run_wrk(mut command: Command) -> anyhow::Result<Run> {
    let output = command.output().context("running wrk (install it: apt-get install wrk)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(json) = stdout.lines().rev().find(|l| l.starts_with('{')) else {
        bail!("wrk printed no summary: {}{}", stdout.trim(), String::from_utf8_lossy(&output.stderr).trim());
    };
    Ok(serde_json::from_str(json)?)
}

/// Asks the decision endpoint once, as the gateway figure will, and stops the bench unless it
/// allows: a figure of refusals would say nothing about the gateway.
async fn gateway_allows(addr: &str, customer: &CustomerId, token: &str) -> anyhow::Result<()> {
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
async fn fetch_tokens(
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
async fn fetch_all_tokens(addr: &str, creds: &Path, out: &Path, workers: usize) -> anyhow::Result<usize> {
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
async fn cache_lookups(metrics: &str) -> anyhow::Result<std::collections::BTreeMap<String, (u64, u64)>> {
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

/// Runs `measurement` and says what share of each cache's look-ups meanwhile were hits.
async fn with_hit_ratios(
    metrics: &str,
    measurement: impl FnOnce() -> anyhow::Result<Run>,
) -> anyhow::Result<(Run, String)> {
    let before = cache_lookups(metrics).await?;
    let run = measurement()?;
    let after = cache_lookups(metrics).await?;
    let mut ratios = Vec::new();
    for (cache, (hits, misses)) in &after {
        let (hits0, misses0) = before.get(cache).copied().unwrap_or_default();
        let (h, m) = (hits.saturating_sub(hits0), misses.saturating_sub(misses0));
        if h + m > 0 {
            ratios.push(format!("{cache} {:.1}%", 100.0 * h as f64 / (h + m) as f64));
        }
    }
    Ok((run, ratios.join(", ")))
}

async fn measure(
    label: &'static str,
    store: Arc<dyn Store>,
    database: Option<&str>,
    data_dir: &Path,
    args: &BenchArgs,
    rows: &mut Vec<Row>,
    cold_starts: &mut Vec<ColdStart>,
) -> anyhow::Result<Option<f64>> {
    eprintln!("[{label}] seeding {} customers, {} admins, {} clients", args.customers, args.admins, args.clients);
    let scratch = data_dir.join("bench");
    std::fs::create_dir_all(&scratch)?;
    let seeded = seed(store.as_ref(), data_dir, &scratch, args).await?;
    let server = Server::start(data_dir, database, free_port()?)?;
    wait_ready(&server.addr).await?;
    let ready = server.started.elapsed();
    fetch_tokens(&server.addr, &seeded.creds, 1).await?;
    let first_grant = server.started.elapsed();
    eprintln!(
        "[{label}] cold start: /readyz answered 200 after {:.2} s, the first token grant after {:.2} s",
        ready.as_secs_f64(),
        first_grant.as_secs_f64()
    );
    cold_starts.push(ColdStart { store: label, clients: args.clients, ready, first_grant });
    let write = |name: &str, text: String| -> anyhow::Result<PathBuf> {
        let path = scratch.join(name);
        std::fs::write(&path, text)?;
        Ok(path)
    };
    let base = write("baseline.lua", DONE_HOOK.to_owned())?;
    let token_lua = write("token.lua", format!("{TOKEN_SCRIPT}{DONE_HOOK}"))?;
    let call_lua = write("call.lua", format!("{CALL_SCRIPT}{DONE_HOOK}"))?;
    let uniform_token_lua = write("uniform-token.lua", format!("{UNIFORM_SEED}{UNIFORM_TOKEN_SCRIPT}{DONE_HOOK}"))?;
    let uniform_call_lua = write("uniform-call.lua", format!("{UNIFORM_SEED}{UNIFORM_CALL_SCRIPT}{DONE_HOOK}"))?;
    let random_id_lua = write("random-id.lua", format!("{UNIFORM_SEED}{RANDOM_ID_SCRIPT}{DONE_HOOK}"))?;
    let creds = write("creds.txt", seeded.creds.iter().map(|(_, id, s)| format!("{id} {s}\n")).collect())?;
    eprintln!("[{label}] fetching tokens");
    let hot = fetch_tokens(&server.addr, &seeded.creds, 2_000).await?;
    let tokens = write("tokens.txt", hot.iter().map(|(c, t)| format!("{c} {t}\n")).collect())?;
    let (secs, conns) = (args.duration, args.connections);
    let env: [(&str, &Path); 2] = [("TG_BENCH_CREDS", &creds), ("TG_BENCH_TOKENS", &tokens)];
    let url = server.url.clone();
    let mut push = |scenario: String, connections: u32, run: Run, baseline: f64, hits: String| {
        eprintln!(
            "[{label}] {scenario} @{connections}: {:.0} req/s, p50 {} µs, p99 {} µs{}",
            run.rate(),
            run.p50_us,
            run.p99_us,
            if hits.is_empty() { String::new() } else { format!(", hits: {hits}") }
        );
        rows.push(Row { store: label, scenario, clients: args.clients, connections, run, baseline, hits });
    };

    eprintln!("[{label}] warming up");
    wrk(&url, "/healthz", &base, conns, 2, &env)?;
    wrk(&url, "/", &call_lua, conns, 2, &env)?;
    let baseline = wrk(&url, "/healthz", &base, conns, secs, &env)?;
    let floor = baseline.rate();
    push("baseline: GET /healthz".to_owned(), conns, baseline, floor, String::new());
    let (undisturbed, hits) =
        with_hit_ratios(&server.metrics, || wrk(&url, "/", &token_lua, conns, secs, &env)).await?;
    push("token grant, hot set (up to 5,000 clients)".to_owned(), conns, undisturbed, floor, hits);
    let uniform_env: [(&str, &Path); 1] = [("TG_BENCH_ALL", &seeded.all_creds)];
    let (run, hits) =
        with_hit_ratios(&server.metrics, || wrk(&url, "/", &uniform_token_lua, conns, secs, &uniform_env)).await?;
    push(format!("token grant, uniform over all {} clients", args.clients), conns, run, floor, hits);
    let principal_creds =
        write("principal-creds.txt", seeded.principal_creds.iter().map(|(_, id, s)| format!("{id} {s}\n")).collect())?;
    let principal_env: [(&str, &Path); 1] = [("TG_BENCH_CREDS", &principal_creds)];
    let (principals, hits) =
        with_hit_ratios(&server.metrics, || wrk(&url, "/", &token_lua, conns, secs, &principal_env)).await?;
    push("token grant, service principals (client credentials)".to_owned(), conns, principals, floor, hits);
    let (attack, under_attack) = grants_under_attack(&url, &scratch, &seeded, conns, secs)?;
    push(
        format!(
            "wrong secrets for one client id as fast as wrk sends ({:.0} req/s, {} answered non-2xx)",
            attack.rate(),
            attack.non2xx
        ),
        conns / 2,
        attack,
        floor,
        String::new(),
    );
    push(
        format!(
            "token grant of the other clients meanwhile (p99 {:.2}× the undisturbed grant's)",
            under_attack.p99_us as f64 / undisturbed.p99_us.max(1) as f64
        ),
        conns,
        under_attack,
        floor,
        String::new(),
    );
    // Client ids no client has, each with a well-formed secret (so each pays the decoy HMAC).
    let unknown = write("unknown-creds.txt", fresh_creds(UNKNOWN_IDS))?;
    let unknown_env: [(&str, &Path); 1] = [("TG_BENCH_CREDS", &unknown)];
    let (run, hits) =
        with_hit_ratios(&server.metrics, || wrk(&url, "/", &token_lua, conns, secs, &unknown_env)).await?;
    push(
        format!("unknown client id: {UNKNOWN_IDS} ids no client has, each repeated (all refused)"),
        conns,
        run,
        floor,
        hits,
    );
    let (run, hits) =
        with_hit_ratios(&server.metrics, || wrk(&url, "/", &random_id_lua, conns, secs, &unknown_env)).await?;
    push("unknown client id: a new random id each request (all refused)".to_owned(), conns, run, floor, hits);
    let (run, hits) = with_hit_ratios(&server.metrics, || wrk(&url, "/", &call_lua, conns, secs, &env)).await?;
    push("authorized call, hot set (2,000 tokens): GET /notifications/items".to_owned(), conns, run, floor, hits);
    if args.gateway {
        let (customer, token) = hot.first().context("no token of the hot set was fetched")?;
        gateway_allows(&server.addr, customer, token).await?;
        let gateway_lua = write("gateway.lua", format!("{GATEWAY_SCRIPT}{DONE_HOOK}"))?;
        let (run, hits) = with_hit_ratios(&server.metrics, || wrk(&url, "/", &gateway_lua, conns, secs, &env)).await?;
        push("gateway decision, hot set (2,000 tokens): nginx auth_request form".to_owned(), conns, run, floor, hits);
    }
    eprintln!("[{label}] fetching a token for each of the {} clients", args.clients);
    let fetching = Instant::now();
    let all_tokens = scratch.join("all-tokens.txt");
    let fetched = fetch_all_tokens(&server.addr, &seeded.all_creds, &all_tokens, 32).await?;
    eprintln!("  {fetched} tokens in {:.1}s", fetching.elapsed().as_secs_f64());
    let all_env: [(&str, &Path); 1] = [("TG_BENCH_ALL", &all_tokens)];
    let (run, hits) =
        with_hit_ratios(&server.metrics, || wrk(&url, "/", &uniform_call_lua, conns, secs, &all_env)).await?;
    push(
        format!("authorized call, uniform over all {} clients' tokens (each reused)", args.clients),
        conns,
        run,
        floor,
        hits,
    );

    // Owners' access flips while the calls run: every flip evicts that owner's standing.
    let stop = Arc::new(AtomicBool::new(false));
    let flips = Arc::new(AtomicU64::new(0));
    let flipper = {
        let (store, stop, flips, owners) = (store.clone(), stop.clone(), flips.clone(), seeded.owners.clone());
        tokio::spawn(async move {
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let (customer, admin) = &owners[i % owners.len()];
                let wide = (i / owners.len()) % 2 == 1;
                if store.set_access(customer, *admin, owner_access(wide), &Actor::System).await.is_ok() {
                    flips.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let under_change = tokio::task::spawn_blocking({
        let (url, call_lua, creds, tokens) = (url.clone(), call_lua.clone(), creds.clone(), tokens.clone());
        move || wrk(&url, "/", &call_lua, conns, secs, &[("TG_BENCH_CREDS", &creds), ("TG_BENCH_TOKENS", &tokens)])
    })
    .await??;
    stop.store(true, Ordering::Relaxed);
    flipper.await?;
    let rate = f64::from(u32::try_from(flips.load(Ordering::Relaxed)).unwrap_or(u32::MAX)) / f64::from(secs);
    push(
        format!("authorized call while owners' access changes ({rate:.0} changes/s)"),
        conns,
        under_change,
        floor,
        String::new(),
    );

    let (run, flood) = grants_under_sign_in_flood(&server, &token_lua, conns, secs, &env).await?;
    let ratio = run.p99_us as f64 / undisturbed.p99_us.max(1) as f64;
    push(
        format!(
            "token grant while {SIGN_IN_FLOOD} concurrent wrong sign-ins run (p99 {ratio:.1}× the grant p99 alone; \
             server RSS peaked at {:.0} MiB; sign-ins answered {} × 401, {} × 503, {} otherwise)",
            flood.peak_rss_mib, flood.refused, flood.busy, flood.other
        ),
        conns,
        run,
        floor,
        String::new(),
    );

    for &algorithm in &args.algorithms {
        for (scenario, run, hits) in
            measure_algorithm(&server, store.as_ref(), data_dir, &seeded, algorithm, &scratch, args).await?
        {
            push(scenario, conns, run, floor, hits);
        }
    }

    if args.sweep {
        for c in [1, 16, 64, 256] {
            let short = secs.min(5);
            let b = wrk(&url, "/healthz", &base, c, short, &env)?;
            push("baseline: GET /healthz".to_owned(), c, b, b.rate(), String::new());
            let (run, hits) = with_hit_ratios(&server.metrics, || wrk(&url, "/", &token_lua, c, short, &env)).await?;
            push("token grant, hot set".to_owned(), c, run, b.rate(), hits);
            let (run, hits) = with_hit_ratios(&server.metrics, || wrk(&url, "/", &call_lua, c, short, &env)).await?;
            push("authorized call, hot set".to_owned(), c, run, b.rate(), hits);
        }
    }
    Ok(server.rss_mib())
}

/// Token grants, then calls with the tokens granted, once the server signs with a key of
/// `algorithm`: rotated in as `trustgate keys rotate --algorithm` does, which the server picks up
/// from the store's change feed.
async fn measure_algorithm(
    server: &Server,
    store: &dyn Store,
    data_dir: &Path,
    seeded: &Seeded,
    algorithm: Algorithm,
    scratch: &Path,
    args: &BenchArgs,
) -> anyhow::Result<Vec<(String, Run, String)>> {
    let vault = KeyVault::new(server_key_file::load_ring(data_dir)?.current());
    let kid = keys::rotate(store, &vault, Some(algorithm), false).await?.kid().to_owned();
    // The first client is the one the attack scenario locked out.
    let unattacked = seeded.creds.get(1..).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let token = fetch_tokens(&server.addr, unattacked, 1).await?;
        if token.first().is_some_and(|(_, t)| signed_by(t, &kid)) {
            break;
        }
        if Instant::now() > deadline {
            bail!("the server did not start signing with the new {algorithm} key");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let name = algorithm.as_str();
    let tokens = fetch_tokens(&server.addr, unattacked, 2_000).await?;
    let tokens_path = scratch.join(format!("tokens-{name}.txt"));
    std::fs::write(&tokens_path, tokens.iter().map(|(c, t)| format!("{c} {t}\n")).collect::<String>())?;
    // `others.txt`: every sampled client but the locked-out one (written by the attack scenario).
    let env: [(&str, &Path); 2] = [("TG_BENCH_CREDS", &scratch.join("others.txt")), ("TG_BENCH_TOKENS", &tokens_path)];
    let (secs, conns) = (args.duration, args.connections);
    let (url, metrics) = (&server.url, &server.metrics);
    let (grant, grant_hits) =
        with_hit_ratios(metrics, || wrk(url, "/", &scratch.join("token.lua"), conns, secs, &env)).await?;
    let uniform_env: [(&str, &Path); 1] = [("TG_BENCH_ALL", &seeded.all_creds)];
    let (uniform, uniform_hits) =
        with_hit_ratios(metrics, || wrk(url, "/", &scratch.join("uniform-token.lua"), conns, secs, &uniform_env))
            .await?;
    let (call, call_hits) =
        with_hit_ratios(metrics, || wrk(url, "/", &scratch.join("call.lua"), conns, secs, &env)).await?;
    Ok(vec![
        (format!("token grant, hot set, {algorithm} keys"), grant, grant_hits),
        (format!("token grant, uniform over all {} clients, {algorithm} keys", args.clients), uniform, uniform_hits),
        (format!("authorized call, hot set, {algorithm} tokens"), call, call_hits),
    ])
}

/// Whether a token's header names `kid`; the bench reads it without verifying.
fn signed_by(token: &str, kid: &str) -> bool {
    use base64::Engine;
    let header = token.split('.').next().and_then(|h| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(h).ok());
    header.and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok()).is_some_and(|h| h["kid"] == kid)
}

/// Grants of every sampled client but one, while the one receives wrong secrets on half as many
/// connections again: the attacked client is locked out (429) and the others keep their latency.
fn grants_under_attack(
    url: &str,
    scratch: &Path,
    seeded: &Seeded,
    conns: u32,
    secs: u32,
) -> anyhow::Result<(Run, Run)> {
    let Some(((_, attacked, _), others)) = seeded.creds.split_first() else { bail!("no client was seeded") };
    if others.is_empty() {
        bail!("the attack scenario needs at least two seeded clients");
    }
    let write = |name: &str, text: String| -> anyhow::Result<PathBuf> {
        let path = scratch.join(name);
        std::fs::write(&path, text)?;
        Ok(path)
    };
    let attack_lua = write("attack.lua", format!("{WRONG_SECRET_SCRIPT}{DONE_HOOK}"))?;
    let others = write("others.txt", others.iter().map(|(_, id, s)| format!("{id} {s}\n")).collect())?;
    let token_lua = scratch.join("token.lua");
    let attacker = std::thread::spawn({
        let (url, attacked) = (url.to_owned(), attacked.clone());
        move || {
            let mut command = Command::new("wrk");
            command
                .args(["-t1".to_owned(), format!("-c{}", (conns / 2).max(1)), format!("-d{secs}s")])
                .args(["--timeout", "5s", "-s"])
                .arg(&attack_lua)
                .arg(format!("{url}/"))
                .env("TG_BENCH_ATTACKED", attacked);
            run_wrk(command)
        }
    });
    let grants = wrk(url, "/", &token_lua, conns, secs, &[("TG_BENCH_CREDS", &others)])?;
    let attack = attacker.join().map_err(|_| anyhow::anyhow!("the attacking wrk thread failed"))??;
    Ok((attack, grants))
}

const PEER_LABEL: &str = "peer: oidc-provider";
/// Run by node; it imports the package from `--peer-modules`, so it can be written anywhere.
const PEER_SCRIPT: &str = include_str!("../../../scripts/bench_peer_oidc_provider.mjs");

/// `--peer oidc-provider`: the hot token-grant load (the same wrk script, connections and
/// duration) against the npm package's client credentials grant, signing with Trustgate's default
/// algorithm, on this machine while no Trustgate server runs. None, with a line saying why, when
/// node or the package is missing.
async fn measure_peer(args: &BenchArgs, scratch: &Path, baseline: f64) -> anyhow::Result<Option<Row>> {
    let Some(node) = Command::new("node").arg("--version").output().ok().filter(|o| o.status.success()) else {
        eprintln!("skipping --peer oidc-provider: node is not installed (Debian: apt-get install nodejs npm)");
        return Ok(None);
    };
    let package = args.peer_modules.join("node_modules/oidc-provider/package.json");
    if !package.is_file() {
        eprintln!(
            "skipping --peer oidc-provider: {} is missing (install it: npm ci --prefix {})",
            package.display(),
            args.peer_modules.display()
        );
        return Ok(None);
    }
    let version = String::from_utf8_lossy(&node.stdout).trim().to_owned();
    let script = scratch.join("peer-oidc-provider.mjs");
    std::fs::write(&script, PEER_SCRIPT)?;
    let clients = scratch.join("peer-clients.txt");
    std::fs::write(&clients, fresh_creds(PEER_CLIENTS))?;
    let token_lua = scratch.join("peer-token.lua");
    std::fs::write(&token_lua, format!("{TOKEN_SCRIPT}{DONE_HOOK}"))?;
    let algorithm = DEFAULT_SIGNING_ALGORITHM;
    eprintln!("[peer] starting oidc-provider (node {version}) with {PEER_CLIENTS} clients, {algorithm}");
    let mut peer = PeerProcess(
        Command::new("node")
            .arg(&script)
            .arg(&args.peer_modules)
            .arg(&clients)
            .arg(algorithm.as_str())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting node")?,
    );
    let url = peer.url(Duration::from_secs(60))?;
    let addr = url.strip_prefix("http://").context("the peer printed no http:// URL")?.to_owned();
    let first = std::fs::read_to_string(&clients)?;
    let (id, secret) = first.lines().next().and_then(|l| l.split_once(' ')).context("no peer client")?;
    let form = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
    let (status, body) =
        http(&addr, post(&addr, "/cctrustoauth2/root/tokens/clients", "application/x-www-form-urlencoded", form)?)
            .await?;
    if status != 200 {
        bail!("the peer refused a grant ({status}): {body}");
    }
    let env: [(&str, &Path); 1] = [("TG_BENCH_CREDS", &clients)];
    wrk(&url, "/", &token_lua, args.connections, 2, &env)?;
    let run = wrk(&url, "/", &token_lua, args.connections, args.duration, &env)?;
    eprintln!(
        "[peer] token grant @{}: {:.0} req/s, p50 {} µs, p99 {} µs",
        args.connections,
        run.rate(),
        run.p50_us,
        run.p99_us
    );
    Ok(Some(Row {
        store: PEER_LABEL,
        scenario: format!(
            "token grant, {PEER_CLIENTS} clients, {algorithm} JWT access tokens (node {version}, one worker per core)"
        ),
        clients: u32::try_from(PEER_CLIENTS).unwrap_or(u32::MAX),
        connections: args.connections,
        run,
        baseline,
        hits: String::new(),
    }))
}

/// The peer's node process: stopped when dropped.
struct PeerProcess(Child);

impl PeerProcess {
    /// The URL the peer prints once it serves.
    fn url(&mut self, within: Duration) -> anyhow::Result<String> {
        use std::io::BufRead as _;
        let stdout = self.0.stdout.take().context("the peer's output")?;
        let (sent, received) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = sent.send(std::io::BufReader::new(stdout).read_line(&mut line).map(|_| line));
        });
        match received.recv_timeout(within) {
            Ok(Ok(line)) if line.starts_with("http://") => Ok(line.trim().to_owned()),
            Ok(_) => {
                bail!("the peer exited before serving (run scripts/bench_peer_oidc_provider.mjs by hand to see why)")
            }
            Err(_) => bail!("the peer did not start within {} s", within.as_secs()),
        }
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        // Its workers follow: a cluster worker exits when its channel to the primary closes.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Concurrent attackers guessing an administrator's password in the flood scenario.
const SIGN_IN_FLOOD: usize = 256;

struct Flood {
    refused: u64,
    busy: u64,
    other: u64,
    peak_rss_mib: f64,
}

/// Token grants measured while [`SIGN_IN_FLOOD`] connections keep sending wrong passwords for a
/// known administrator, with the server's resident memory sampled throughout.
async fn grants_under_sign_in_flood(
    server: &Server,
    token_lua: &Path,
    connections: u32,
    seconds: u32,
    env: &[(&str, &Path); 2],
) -> anyhow::Result<(Run, Flood)> {
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
    let email = "admin0@bench00000.bench.test";
    let body = format!(r#"{{"email":"{email}","password":"not the password of this administrator"}}"#);
    let attackers: Vec<_> = (0..SIGN_IN_FLOOD)
        .map(|_| {
            let (stop, counts, addr, body) = (stop.clone(), counts.clone(), server.addr.clone(), body.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let request = post(&addr, "/api/v1/session", "application/json", body.clone());
                    let answer = match request {
                        Ok(request) => http(&addr, request).await,
                        Err(e) => Err(e),
                    };
                    let slot = match answer {
                        Ok((401, _)) => 0,
                        Ok((503, _)) => 1,
                        _ => 2,
                    };
                    counts[slot].fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let sampler = {
        let (stop, pid) = (stop.clone(), server.child.id());
        tokio::spawn(async move {
            let mut peak = 0f64;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(resident_mib(pid).unwrap_or(0.0));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            peak
        })
    };
    // Let the flood build up before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let run = tokio::task::spawn_blocking({
        let (url, script) = (server.url.clone(), token_lua.to_owned());
        let (creds, tokens) = (env[0].1.to_owned(), env[1].1.to_owned());
        move || {
            wrk(&url, "/", &script, connections, seconds, &[("TG_BENCH_CREDS", &creds), ("TG_BENCH_TOKENS", &tokens)])
        }
    })
    .await??;
    stop.store(true, Ordering::Relaxed);
    for attacker in attackers {
        attacker.await?;
    }
    let [refused, busy, other] = counts.as_ref();
    let flood = Flood {
        refused: refused.load(Ordering::Relaxed),
        busy: busy.load(Ordering::Relaxed),
        other: other.load(Ordering::Relaxed),
        peak_rss_mib: sampler.await?,
    };
    Ok((run, flood))
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if Command::new("wrk").arg("--version").output().is_err() {
        bail!("trustgate bench drives the server with wrk; install it (Debian/Ubuntu: apt-get install wrk)");
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; run `cargo run --release -- bench` for meaningful figures");
    }
    let mut rows = Vec::new();
    let mut memory = Vec::new();
    let mut cold_starts = Vec::new();
    let scratch = std::env::temp_dir().join(format!("trustgate-bench-{}", &random_token()[..10]));
    let sqlite_dir = scratch.join("sqlite");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&sqlite_dir).await?);
    memory.push(("SQLite", measure("SQLite", store, None, &sqlite_dir, &args, &mut rows, &mut cold_starts).await?));

    if let Some(admin_url) = &args.postgres {
        let name = format!("trustgate_bench_{}", random_token()[..10].to_lowercase().replace(['-', '_'], "x"));
        let url = trustgate_store::create_scratch_database(admin_url, &name).await?;
        let pg_dir = scratch.join("postgres");
        std::fs::create_dir_all(&pg_dir)?;
        let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url).await?);
        let measured = measure("PostgreSQL", store, Some(&url), &pg_dir, &args, &mut rows, &mut cold_starts).await;
        trustgate_store::drop_scratch_database(admin_url, &name).await?;
        match measured {
            Ok(rss) => memory.push(("PostgreSQL", rss)),
            // Keep the SQLite figures; say why PostgreSQL has none.
            Err(error) => eprintln!("the PostgreSQL run failed: {error:#}"),
        }
    }
    if args.peer == Some(Peer::OidcProvider) {
        let baseline = rows.iter().find(|r| r.store == "SQLite" && r.scenario.starts_with("baseline"));
        let baseline = baseline.map_or(0.0, |r| r.run.rate());
        if let Some(row) = measure_peer(&args, &scratch, baseline).await? {
            rows.push(row);
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);

    let table = render(&rows, &memory, &cold_starts, &args);
    println!("{table}");
    std::fs::write(&args.out, &table).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!("written to {}", args.out.display());
    Ok(())
}

fn render(rows: &[Row], memory: &[(&str, Option<f64>)], cold_starts: &[ColdStart], args: &BenchArgs) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Seeded: {} customers, {} administrators, {} API clients; wrk -t2, {} s per figure; {} cores.\n",
        args.customers,
        args.admins,
        args.clients,
        args.duration,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let _ = writeln!(
        out,
        "| store | scenario | clients | connections | req/s | p50 | p99 | ratio to baseline | non-2xx | cache hits |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.0} | {:.2} ms | {:.2} ms | {:.0}% | {} | {} |",
            r.store,
            r.scenario,
            r.clients,
            r.connections,
            r.run.rate(),
            r.run.p50_us as f64 / 1000.0,
            r.run.p99_us as f64 / 1000.0,
            100.0 * r.run.rate() / r.baseline.max(1.0),
            r.run.non2xx + r.run.errors,
            r.hits,
        );
    }
    let grants = rows.iter().find(|r| r.store == "SQLite" && r.scenario.starts_with("token grant, hot set"));
    if let (Some(grants), Some(peer)) = (grants, rows.iter().find(|r| r.store == PEER_LABEL)) {
        let _ = writeln!(
            out,
            "\nTrustgate's token grants (SQLite, hot set, {DEFAULT_SIGNING_ALGORITHM}): {:.0}/s, **{:.1}×** the {:.0}/s of \
             the peer (npm oidc-provider, same wrk load, the peer alone on the machine).",
            grants.run.rate(),
            grants.run.rate() / peer.run.rate().max(1.0),
            peer.run.rate()
        );
    }
    for c in cold_starts {
        let _ = writeln!(
            out,
            "\nCold start on {} at {} clients: /readyz answered 200 {:.2} s after `serve` was spawned, the first token \
             grant {:.2} s after.",
            c.store,
            c.clients,
            c.ready.as_secs_f64(),
            c.first_grant.as_secs_f64()
        );
    }
    for (store, rss) in memory {
        if let Some(rss) = rss {
            let _ = writeln!(out, "\nServer resident memory after the {store} run: {rss:.0} MiB.");
        }
    }
    out
}
