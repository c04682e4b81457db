//! `trustgate bench --webhooks` (issue #24 item 4): whether webhook deliveries slow requests.
//!
//! Token grants and authorized calls are measured in alternation without and with ten endpoints
//! subscribed to one customer — eight quick receivers, one answering after a second, one down
//! (connection refused) — while that customer's system log grows at a steady rate in both
//! phases, so the only difference between them is the deliveries. Each phase subscribes its
//! endpoints afresh and deletes them after, so none carries a backlog into the next.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use time::OffsetDateTime;
use trustgate_core::event::Actor;
use trustgate_core::ids::{CustomerId, WebhookId};
use trustgate_core::webhook::{self, Endpoint, EndpointState, Style, WebhookVault};
use trustgate_store::Store;

use trustgate_server::keys::server_key_file;

use super::scripts::{CALL_SCRIPT, DONE_HOOK, TOKEN_SCRIPT};
use super::seed::{owner_access, seed};
use super::server::{fetch_tokens, free_port, wait_ready, Logging, Server};
use super::spread::Spread;
use super::wrk::{wrk, Run};
use super::BenchArgs;

/// Endpoints subscribed in the "with" phases: this many quick receivers, plus a slow and a down one.
const QUICK_RECEIVERS: usize = 8;
/// How long the slow receiver takes to answer.
const SLOW_ANSWER: Duration = Duration::from_secs(1);
/// System-log records written each second in both phases (an owner's access changed, each a record).
const CHANGES_PER_SECOND: u64 = 20;
/// Phases without and with endpoints, alternating, in each run.
const ROUNDS: usize = 2;

/// One measurement: which request, whether endpoints were subscribed, and what wrk saw.
pub(super) struct Sample {
    pub(super) store: &'static str,
    pub(super) request: &'static str,
    pub(super) with_endpoints: bool,
    pub(super) run: Run,
}

/// What the receivers got while endpoints were subscribed, over a whole run.
#[derive(Default)]
pub(super) struct Received {
    pub(super) quick: u64,
    pub(super) slow: u64,
    pub(super) changes: u64,
}

/// Receivers on loopback, on a runtime of their own so that the bench's waiting on wrk never
/// delays an answer: `QUICK_RECEIVERS` quick ones, then the slow one; and a port nothing listens on.
struct Receivers {
    urls: Vec<String>,
    down: String,
    quick: Arc<AtomicU64>,
    slow: Arc<AtomicU64>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receivers {
    fn start() -> anyhow::Result<Self> {
        let (quick, slow) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let mut listeners = Vec::new();
        for _ in 0..=QUICK_RECEIVERS {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            listener.set_nonblocking(true)?;
            listeners.push(listener);
        }
        let urls = listeners
            .iter()
            .map(|l| -> anyhow::Result<String> { Ok(format!("http://{}/hook", l.local_addr()?)) })
            .collect::<anyhow::Result<Vec<_>>>()?;
        // A port bound and released: connecting to it is refused.
        let down = format!("http://127.0.0.1:{}/hook", free_port()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let thread = std::thread::spawn({
            let (quick, slow) = (quick.clone(), slow.clone());
            move || {
                runtime.block_on(async move {
                    for (i, listener) in listeners.into_iter().enumerate() {
                        let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { continue };
                        let (count, delay) = if i < QUICK_RECEIVERS {
                            (quick.clone(), Duration::ZERO)
                        } else {
                            (slow.clone(), SLOW_ANSWER)
                        };
                        let app = axum::Router::new().route(
                            "/hook",
                            axum::routing::post(move || {
                                let count = count.clone();
                                async move {
                                    tokio::time::sleep(delay).await;
                                    count.fetch_add(1, Ordering::Relaxed);
                                    axum::http::StatusCode::NO_CONTENT
                                }
                            }),
                        );
                        tokio::spawn(async move { axum::serve(listener, app).await });
                    }
                    let _ = stopped.await;
                });
            }
        });
        Ok(Self { urls, down, quick, slow, stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for Receivers {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Subscribes the receivers (and the down URL) to `customer`'s system log, as `trustgate
/// webhook create --allow-private` does.
async fn subscribe(
    store: &dyn Store,
    vault: &WebhookVault,
    customer: &CustomerId,
    urls: &[String],
) -> anyhow::Result<Vec<WebhookId>> {
    let mut ids = Vec::new();
    for url in urls {
        let (id, secret, now) = (WebhookId::generate(), webhook::new_secret(), OffsetDateTime::now_utc());
        let endpoint = Endpoint {
            id,
            customer_id: customer.clone(),
            url: url.clone(),
            description: "bench".to_owned(),
            event_types: Vec::new(),
            style: Style::Standard,
            sealed_secret: vault.seal(id, "secret", &secret),
            sealed_previous_secret: None,
            previous_until: None,
            sealed_auth_headers: None,
            created_by: "operator".to_owned(),
            created_at: now,
            state: EndpointState::Enabled,
            failing_since: None,
            next_attempt_at: now,
            failures: 0,
            delivered_seq: 0,
        };
        store.create_webhook(&endpoint, &Actor::System).await?;
        ids.push(id);
    }
    Ok(ids)
}

/// Runs wrk off the runtime, which keeps writing the system log meanwhile.
async fn measure(
    url: &str,
    script: &Path,
    env: &[(&'static str, &Path)],
    conns: u32,
    secs: u32,
) -> anyhow::Result<Run> {
    let (url, script) = (url.to_owned(), script.to_owned());
    let env: Vec<(&'static str, std::path::PathBuf)> = env.iter().map(|(k, v)| (*k, v.to_path_buf())).collect();
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &Path)> = env.iter().map(|(k, v)| (*k, v.as_path())).collect();
        wrk(&url, "/", &script, conns, secs, &env)
    })
    .await?
}

/// The comparison on one store, from a fresh seed: `ROUNDS` × (without, with) endpoints.
pub(super) async fn run_store(
    label: &'static str,
    store: Arc<dyn Store>,
    database: Option<&str>,
    data_dir: &Path,
    args: &BenchArgs,
    samples: &mut Vec<Sample>,
    received: &mut Received,
) -> anyhow::Result<()> {
    eprintln!("[{label}] seeding {} customers, {} admins, {} clients", args.customers, args.admins, args.clients);
    let scratch = data_dir.join("bench");
    std::fs::create_dir_all(&scratch)?;
    let seeded = seed(store.as_ref(), data_dir, &scratch, args).await?;
    let receivers = Receivers::start()?;
    let server =
        Server::start_with(data_dir, database, free_port()?, Logging::AsUsersRun, &["--webhooks-allow-private"])?;
    wait_ready(&server.addr).await?;
    let vault = WebhookVault::for_ring(&server_key_file::load_ring(data_dir)?);
    let write = |name: &str, text: String| -> anyhow::Result<std::path::PathBuf> {
        let path = scratch.join(name);
        std::fs::write(&path, text)?;
        Ok(path)
    };
    let token_lua = write("token.lua", format!("{TOKEN_SCRIPT}{DONE_HOOK}"))?;
    let call_lua = write("call.lua", format!("{CALL_SCRIPT}{DONE_HOOK}"))?;
    let creds = write("creds.txt", seeded.creds.iter().map(|(_, id, s)| format!("{id} {s}\n")).collect())?;
    eprintln!("[{label}] fetching tokens");
    let hot = fetch_tokens(&server.addr, &seeded.creds, 2_000).await?;
    let tokens = write("tokens.txt", hot.iter().map(|(c, t)| format!("{c} {t}\n")).collect())?;
    let env: [(&'static str, &Path); 2] = [("TG_BENCH_CREDS", &creds), ("TG_BENCH_TOKENS", &tokens)];

    // The subscribed customer's owners change access at a steady rate in both phases: each change
    // is a system-log record, sent to every endpoint in the "with" phases.
    let (customer, _) = seeded.owners.first().context("no owner was seeded")?.clone();
    let owners: Vec<_> = seeded.owners.iter().filter(|(c, _)| *c == customer).map(|(_, a)| *a).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let changes = Arc::new(AtomicU64::new(0));
    let writer = {
        let (store, stop, changes, customer) = (store.clone(), stop.clone(), changes.clone(), customer.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(1000 / CHANGES_PER_SECOND));
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let wide = (i / owners.len().max(1)) % 2 == 1;
                if let Some(admin) = owners.get(i % owners.len().max(1)) {
                    if store.set_access(&customer, *admin, owner_access(wide), &Actor::System).await.is_ok() {
                        changes.fetch_add(1, Ordering::Relaxed);
                    }
                }
                i += 1;
            }
        })
    };

    eprintln!("[{label}] warming up");
    measure(&server.url, &token_lua, &env, args.connections, 2).await?;
    measure(&server.url, &call_lua, &env, args.connections, 2).await?;
    let mut urls = receivers.urls.clone();
    urls.push(receivers.down.clone());
    for round in 1..=ROUNDS {
        for with_endpoints in [false, true] {
            let subscribed =
                if with_endpoints { subscribe(store.as_ref(), &vault, &customer, &urls).await? } else { Vec::new() };
            let (quick, slow, before) = (
                receivers.quick.load(Ordering::Relaxed),
                receivers.slow.load(Ordering::Relaxed),
                changes.load(Ordering::Relaxed),
            );
            for (request, script) in [("token grant", &token_lua), ("authorized call", &call_lua)] {
                let run = measure(&server.url, script, &env, args.connections, args.duration).await?;
                eprintln!(
                    "[{label}] round {round}, {} endpoints: {request}: {:.0} req/s, p50 {} µs, p99 {} µs, {} non-2xx",
                    subscribed.len(),
                    run.rate(),
                    run.p50_us,
                    run.p99_us,
                    run.non2xx + run.errors
                );
                samples.push(Sample { store: label, request, with_endpoints, run });
            }
            if with_endpoints {
                received.quick += receivers.quick.load(Ordering::Relaxed) - quick;
                received.slow += receivers.slow.load(Ordering::Relaxed) - slow;
                received.changes += changes.load(Ordering::Relaxed) - before;
                for id in subscribed {
                    store.delete_webhook(&customer, id, &Actor::System).await?;
                }
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.await?;
    drop(server);
    Ok(())
}

/// The report: per store and request, the rate and p99 without and with endpoints (medians of
/// every phase of every run, lowest–highest in brackets) and the ratio of the medians.
pub(super) fn render(samples: &[Sample], received: &Received, args: &BenchArgs, runs: u32) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Webhooks and the request path: {} customers, {} administrators, {} API clients; wrk -t2 -c{}, {} s per \
         figure; {} cores; {runs} run(s) of {ROUNDS} rounds, each round without then with {} endpoints subscribed to \
         one customer ({QUICK_RECEIVERS} quick receivers, one answering after {} s, one refusing connections), while \
         that customer's system log grows by {CHANGES_PER_SECOND} records/s in both phases. Each figure is the median \
         of its phases, lowest–highest in brackets.\n",
        args.customers,
        args.admins,
        args.clients,
        args.connections,
        args.duration,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        QUICK_RECEIVERS + 2,
        SLOW_ANSWER.as_secs(),
    );
    let _ =
        writeln!(out, "| store | request | req/s without | req/s with | ratio | p99 without | p99 with | non-2xx |");
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|");
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for key in samples.iter().map(|s| (s.store, s.request)) {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    for (store, request) in keys {
        let of = |with: bool| {
            samples.iter().filter(move |s| s.store == store && s.request == request && s.with_endpoints == with)
        };
        let (Some(rate0), Some(rate1), Some(p99_0), Some(p99_1)) = (
            Spread::of(of(false).map(|s| s.run.rate())),
            Spread::of(of(true).map(|s| s.run.rate())),
            Spread::of(of(false).map(|s| s.run.p99_us as f64 / 1000.0)),
            Spread::of(of(true).map(|s| s.run.p99_us as f64 / 1000.0)),
        ) else {
            continue;
        };
        let failed: u64 = of(false).chain(of(true)).map(|s| s.run.non2xx + s.run.errors).sum();
        let _ = writeln!(
            out,
            "| {store} | {request} | {} | {} | {:.1}% | {} | {} | {failed} |",
            rate0.show(0, ""),
            rate1.show(0, ""),
            100.0 * rate1.median / rate0.median.max(1.0),
            p99_0.show(2, " ms"),
            p99_1.show(2, " ms"),
        );
    }
    let _ = writeln!(
        out,
        "\nWhile endpoints were subscribed, the customer's owners changed {} times (a record each, besides the \
         endpoints' own); the {QUICK_RECEIVERS} quick receivers got {} deliveries between them, the slow one {}.",
        received.changes, received.quick, received.slow,
    );
    out
}
