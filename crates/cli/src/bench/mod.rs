//! `trustgate bench`: seeds a scratch store, starts `trustgate serve` on it as a child process and
//! drives it with wrk over loopback. Every figure is reported with its ratio to a baseline (a trivial
//! endpoint of the same server) measured in the same run, because absolute numbers on a shared
//! machine mean little.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use trustgate_core::secret::random_token;
use trustgate_core::token::Algorithm;
use trustgate_store::{PostgresStore, SqliteStore, Store};

use trustgate_server::config::DEFAULT_SIGNING_ALGORITHM;

mod limit;
mod measure;
mod miss;
mod peer;
mod scripts;
mod seed;
mod server;
mod spread;
mod webhooks;
mod wrk;

use self::limit::Costs;
use self::measure::{ColdStart, Row, Startup};
use self::peer::{measure_peer, PEER_PREFIX};
use self::spread::{distinct, figures, Spread};

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
    /// Measure only whether webhook deliveries slow requests: token grants and authorized calls,
    /// alternately without and with 10 endpoints subscribed (8 quick receivers, a slow one, a down
    /// one), while the system log grows (BENCHMARKS.md, "Webhooks and the request path").
    #[arg(long)]
    pub webhooks: bool,
    /// Also run everything on PostgreSQL; the URL of a database to create scratch databases from.
    #[arg(long, env = "TRUSTGATE_BENCH_POSTGRES_URL")]
    pub postgres: Option<String>,
    /// How many times to run everything (seeding included, so each run starts cold); every figure
    /// is then the median of the runs, with the lowest and highest beside it.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub runs: u32,
    /// Where to write the Markdown table.
    #[arg(long, default_value = "bench-results.md")]
    pub out: PathBuf,
    /// Also send the hot token-grant load to a peer authorization server on this machine, each
    /// alone, and print Trustgate's grants as a multiple of the fastest (repeat the option; a peer
    /// whose runtime or package is missing is skipped, saying why).
    #[arg(long = "peer", value_enum)]
    pub peers: Vec<Peer>,
    /// Where the peers' npm packages are installed: a directory holding `node_modules/oidc-provider`
    /// and `node_modules/@node-oauth/oauth2-server` (`npm ci --prefix crates/cli/tests/it/js`
    /// installs the pinned ones there).
    #[arg(long, default_value = "crates/cli/tests/it/js")]
    pub peer_modules: PathBuf,
    /// A python that can import authlib, flask and gunicorn, for `--peer authlib`
    /// (`.ci/authlib-peer` makes a pinned venv and prints its python).
    #[arg(long, env = "TRUSTGATE_BENCH_PEER_PYTHON")]
    pub peer_python: Option<PathBuf>,
}

/// A well-known open-source authorization server to compare with, each run as its documentation
/// recommends for production (BENCHMARKS.md says how).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Peer {
    /// The npm `oidc-provider` package, a certified OpenID provider
    /// (`scripts/bench_peer_oidc_provider.mjs`).
    OidcProvider,
    /// The npm `@node-oauth/oauth2-server` package, the library Express and Koa OAuth servers use,
    /// with JWT access tokens (`scripts/bench_peer_node_oauth2_server.mjs`).
    NodeOauth2Server,
    /// Authlib's `AuthorizationServer` in Flask under gunicorn, one worker per core, with RFC 9068
    /// JWT access tokens (`scripts/bench_peer_authlib.py`; needs `--peer-python`).
    Authlib,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if Command::new("wrk").arg("--version").output().is_err() {
        bail!("trustgate bench drives the server with wrk; install it (Debian/Ubuntu: apt-get install wrk)");
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; run `cargo run --release -- bench` for meaningful figures");
    }
    if args.webhooks {
        return run_webhooks(&args).await;
    }
    let algorithms = distinct(args.algorithms.iter().copied().chain([DEFAULT_SIGNING_ALGORITHM]));
    eprintln!("timing the cryptography of the request path in process");
    let costs = Costs::measure(&algorithms)?;
    let mut runs = Vec::new();
    let mut memory = Vec::new();
    let mut startup = Startup::default();
    for n in 1..=args.runs {
        eprintln!("run {n} of {}", args.runs);
        runs.push(run_once(&args, &mut memory, &mut startup).await?);
    }
    let mut table = render(&runs, &costs, &memory, &startup.cold_starts, &args);
    table.push_str(&miss::render(&startup.misses));
    println!("{table}");
    std::fs::write(&args.out, &table).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!("written to {}", args.out.display());
    Ok(())
}

/// `--webhooks`: the comparison on each store, `--runs` times, each from a fresh seed.
async fn run_webhooks(args: &BenchArgs) -> anyhow::Result<()> {
    let (mut samples, mut received) = (Vec::new(), webhooks::Received::default());
    for n in 1..=args.runs {
        eprintln!("run {n} of {}", args.runs);
        let scratch = std::env::temp_dir().join(format!("trustgate-bench-{}", &random_token()[..10]));
        let sqlite_dir = scratch.join("sqlite");
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&sqlite_dir).await?);
        webhooks::run_store("SQLite", store, None, &sqlite_dir, args, &mut samples, &mut received).await?;
        if let Some(admin_url) = &args.postgres {
            let name = format!("trustgate_bench_{}", random_token()[..10].to_lowercase().replace(['-', '_'], "x"));
            let url = trustgate_store::create_scratch_database(admin_url, &name).await?;
            let pg_dir = scratch.join("postgres");
            std::fs::create_dir_all(&pg_dir)?;
            let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url).await?);
            let measured =
                webhooks::run_store("PostgreSQL", store, Some(&url), &pg_dir, args, &mut samples, &mut received).await;
            trustgate_store::drop_scratch_database(admin_url, &name).await?;
            measured?;
        }
        let _ = std::fs::remove_dir_all(&scratch);
    }
    let table = webhooks::render(&samples, &received, args, args.runs);
    println!("{table}");
    std::fs::write(&args.out, &table).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!("written to {}", args.out.display());
    Ok(())
}

/// Everything once, from a fresh seed: the rows in the order measured.
async fn run_once(
    args: &BenchArgs,
    memory: &mut Vec<(&'static str, Option<f64>)>,
    startup: &mut Startup,
) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let scratch = std::env::temp_dir().join(format!("trustgate-bench-{}", &random_token()[..10]));
    let sqlite_dir = scratch.join("sqlite");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&sqlite_dir).await?);
    memory.push(("SQLite", measure::run_store("SQLite", store, None, &sqlite_dir, args, &mut rows, startup).await?));

    if let Some(admin_url) = &args.postgres {
        let name = format!("trustgate_bench_{}", random_token()[..10].to_lowercase().replace(['-', '_'], "x"));
        let url = trustgate_store::create_scratch_database(admin_url, &name).await?;
        let pg_dir = scratch.join("postgres");
        std::fs::create_dir_all(&pg_dir)?;
        let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url).await?);
        let measured = measure::run_store("PostgreSQL", store, Some(&url), &pg_dir, args, &mut rows, startup).await;
        trustgate_store::drop_scratch_database(admin_url, &name).await?;
        match measured {
            Ok(rss) => memory.push(("PostgreSQL", rss)),
            // Keep the SQLite figures; say why PostgreSQL has none.
            Err(error) => eprintln!("the PostgreSQL run failed: {error:#}"),
        }
    }
    let baseline = rows.iter().find(|r| r.store == "SQLite" && r.scenario.starts_with("baseline"));
    let baseline = baseline.map_or(0.0, |r| r.run.rate());
    for &peer in &args.peers {
        if let Some(row) = measure_peer(peer, args, &scratch, baseline).await? {
            rows.push(row);
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(rows)
}

fn render(
    runs: &[Vec<Row>],
    costs: &Costs,
    memory: &[(&str, Option<f64>)],
    cold_starts: &[ColdStart],
    args: &BenchArgs,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Seeded: {} customers, {} administrators, {} API clients; wrk -t2, {} s per figure; {} cores. Each figure is \
         the median of {} run(s), lowest–highest in brackets; each run seeds afresh.\n",
        args.customers,
        args.admins,
        args.clients,
        args.duration,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        runs.len(),
    );
    let _ = writeln!(
        out,
        "Timed in process on this machine: {}. A figure's limit is what the cores allow when each request costs the \
         baseline's CPU per request plus that cryptography (a grant signs a token and checks a secret; a call \
         verifies the tokens the verified-token cache misses).\n",
        costs.describe()
    );
    let _ = writeln!(
        out,
        "| store | scenario | clients | connections | req/s | p50 | p99 | ratio to baseline | of the limit | non-2xx | \
         cache hits |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let figures = figures(runs, |row| costs.share(row, DEFAULT_SIGNING_ALGORITHM));
    for f in &figures {
        let r = f.typical;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.store,
            r.scenario,
            r.clients,
            r.connections,
            f.rate.show(0, ""),
            f.p50_ms.show(2, " ms"),
            f.p99_ms.show(2, " ms"),
            f.ratio.show(0, "%"),
            f.of_limit.map_or_else(|| "—".to_owned(), |s| s.show(0, "%")),
            r.run.non2xx + r.run.errors,
            r.hits,
        );
    }
    // The multiple is taken run by run (each run's grants against the fastest peer of that run),
    // then reduced.
    let multiples: Vec<_> = runs
        .iter()
        .filter_map(|rows| {
            let grants = rows.iter().find(|r| r.store == "SQLite" && r.scenario.starts_with("token grant, hot set"))?;
            let fastest = rows
                .iter()
                .filter(|r| r.store.starts_with(PEER_PREFIX))
                .max_by(|a, b| a.run.rate().total_cmp(&b.run.rate()))?;
            let faster_p99 = grants.run.p99_us < fastest.run.p99_us;
            Some((grants.run.rate(), fastest.run.rate(), grants.run.rate() / fastest.run.rate().max(1.0), faster_p99))
        })
        .collect();
    if let (Some(grants), Some(peer), Some(multiple)) = (
        Spread::of(multiples.iter().map(|m| m.0)),
        Spread::of(multiples.iter().map(|m| m.1)),
        Spread::of(multiples.iter().map(|m| m.2)),
    ) {
        let lower_p99 = multiples.iter().filter(|m| m.3).count();
        let _ = writeln!(
            out,
            "\nTrustgate's token grants (SQLite, hot set, {DEFAULT_SIGNING_ALGORITHM}): {}/s, **{}** the {}/s of the \
             fastest peer (same wrk load, each peer alone on the machine); a lower p99 than it in {lower_p99} of {} \
             run(s).",
            grants.show(0, ""),
            multiple.show(1, "×"),
            peer.show(0, ""),
            multiples.len(),
        );
    }
    for (store, clients) in distinct(cold_starts.iter().map(|c| (c.store, c.clients))) {
        let starts: Vec<_> = cold_starts.iter().filter(|c| c.store == store && c.clients == clients).collect();
        if let (Some(ready), Some(first_grant)) = (
            Spread::of(starts.iter().map(|c| c.ready.as_secs_f64())),
            Spread::of(starts.iter().map(|c| c.first_grant.as_secs_f64())),
        ) {
            let _ = writeln!(
                out,
                "\nCold start on {store} at {clients} clients: /readyz answered 200 {} after `serve` was spawned, the \
                 first token grant {} after.",
                ready.show(2, " s"),
                first_grant.show(2, " s"),
            );
        }
    }
    for store in distinct(memory.iter().map(|(store, _)| *store)) {
        let rss = memory.iter().filter(|(s, _)| *s == store).filter_map(|(_, rss)| *rss);
        if let Some(rss) = Spread::of(rss) {
            let _ = writeln!(out, "\nServer resident memory after the {store} run: {}.", rss.show(0, " MiB"));
        }
    }
    out
}
