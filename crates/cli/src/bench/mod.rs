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

mod measure;
mod peer;
mod scripts;
mod seed;
mod server;
mod wrk;

use self::measure::{ColdStart, Row};
use self::peer::{measure_peer, PEER_LABEL};

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
    memory.push((
        "SQLite",
        measure::run_store("SQLite", store, None, &sqlite_dir, &args, &mut rows, &mut cold_starts).await?,
    ));

    if let Some(admin_url) = &args.postgres {
        let name = format!("trustgate_bench_{}", random_token()[..10].to_lowercase().replace(['-', '_'], "x"));
        let url = trustgate_store::create_scratch_database(admin_url, &name).await?;
        let pg_dir = scratch.join("postgres");
        std::fs::create_dir_all(&pg_dir)?;
        let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url).await?);
        let measured =
            measure::run_store("PostgreSQL", store, Some(&url), &pg_dir, &args, &mut rows, &mut cold_starts).await;
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
