//! The measurements, one store at a time: each figure beside the baseline measured in the same run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use trustgate_core::custody::KeyVault;
use trustgate_core::event::Actor;
use trustgate_core::token::Algorithm;
use trustgate_store::Store;

use trustgate_server::keys;
use trustgate_server::keys::server_key_file;

use super::miss::{self, MissCost};
use super::scripts::{
    CALL_SCRIPT, DONE_HOOK, GATEWAY_SCRIPT, RANDOM_ID_SCRIPT, TOKEN_SCRIPT, UNIFORM_CALL_SCRIPT, UNIFORM_SEED,
    UNIFORM_TOKEN_SCRIPT, WRONG_SECRET_SCRIPT,
};
use super::seed::{fresh_creds, owner_access, seed, Seeded, UNKNOWN_IDS};
use super::server::{
    cache_lookups, fetch_all_tokens, fetch_tokens, free_port, gateway_allows, http, post, resident_mib, wait_ready,
    Logging, Server,
};
use super::wrk::{run_wrk, wrk, Run};
use super::BenchArgs;

pub(super) struct Row {
    pub(super) store: &'static str,
    pub(super) scenario: String,
    pub(super) clients: u32,
    pub(super) connections: u32,
    pub(super) run: Run,
    pub(super) baseline: f64,
    /// Hit ratio of each cache looked up during the run.
    pub(super) hits: String,
}

/// From spawning `trustgate serve` to its first answers.
pub(super) struct ColdStart {
    pub(super) store: &'static str,
    pub(super) clients: u32,
    pub(super) ready: Duration,
    pub(super) first_grant: Duration,
}

/// Runs `measurement` and says what share of each cache's look-ups meanwhile were hits.
pub(super) async fn with_hit_ratios(
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

/// What each store's run finds before and as its server starts, over every run of the bench.
#[derive(Default)]
pub(super) struct Startup {
    pub(super) cold_starts: Vec<ColdStart>,
    pub(super) misses: Vec<MissCost>,
}

pub(super) async fn run_store(
    label: &'static str,
    store: Arc<dyn Store>,
    database: Option<&str>,
    data_dir: &Path,
    args: &BenchArgs,
    rows: &mut Vec<Row>,
    startup: &mut Startup,
) -> anyhow::Result<Option<f64>> {
    eprintln!("[{label}] seeding {} customers, {} admins, {} clients", args.customers, args.admins, args.clients);
    let scratch = data_dir.join("bench");
    std::fs::create_dir_all(&scratch)?;
    let seeded = seed(store.as_ref(), data_dir, &scratch, args).await?;
    eprintln!("[{label}] timing the cost of a cache miss");
    match database {
        None => miss::sqlite(data_dir, &seeded.all_creds, &mut startup.misses).await?,
        Some(_) => miss::postgres(store.as_ref(), &seeded.all_creds, &mut startup.misses).await?,
    }
    let server = Server::start(data_dir, database, free_port()?, Logging::AsUsersRun)?;
    wait_ready(&server.addr).await?;
    let ready = server.started.elapsed();
    fetch_tokens(&server.addr, &seeded.creds, 1).await?;
    let first_grant = server.started.elapsed();
    eprintln!(
        "[{label}] cold start: /readyz answered 200 after {:.2} s, the first token grant after {:.2} s",
        ready.as_secs_f64(),
        first_grant.as_secs_f64()
    );
    startup.cold_starts.push(ColdStart { store: label, clients: args.clients, ready, first_grant });
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
    // A hot set is one the caches hold: its first grants (5,000 cache misses) are not the figure.
    wrk(&url, "/", &token_lua, conns, 2, &env)?;
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
    let rss = server.rss_mib();
    // One server at a time on the data directory (its control socket is the node's).
    drop(server);
    let logged = std::fs::metadata(data_dir.join("server.log")).map_or(0, |m| m.len());
    eprintln!("[{label}] the server logged {:.1} MiB as users run it", logged as f64 / 1_048_576.0);
    // The same three figures with warnings only, on a server of their own: what the default logging costs.
    let quiet = Server::start(data_dir, database, free_port()?, Logging::WarningsOnly)?;
    wait_ready(&quiet.addr).await?;
    let quiet_url = quiet.url.clone();
    wrk(&quiet_url, "/healthz", &base, conns, 2, &env)?;
    wrk(&quiet_url, "/", &token_lua, conns, 2, &env)?;
    let quiet_floor = wrk(&quiet_url, "/healthz", &base, conns, secs, &env)?;
    let quiet_base = quiet_floor.rate();
    push(
        "baseline: GET /healthz, server logging warnings only".to_owned(),
        conns,
        quiet_floor,
        quiet_base,
        String::new(),
    );
    let (run, hits) = with_hit_ratios(&quiet.metrics, || wrk(&quiet_url, "/", &token_lua, conns, secs, &env)).await?;
    push("token grant, hot set, server logging warnings only".to_owned(), conns, run, quiet_base, hits);
    // Tokens of the signing key now current: the ones fetched at first may be signed by a revoked key.
    let fresh = fetch_tokens(&quiet.addr, &seeded.creds, 2_000).await?;
    let fresh = write("quiet-tokens.txt", fresh.iter().map(|(c, t)| format!("{c} {t}\n")).collect())?;
    let fresh_env: [(&str, &Path); 2] = [("TG_BENCH_CREDS", &creds), ("TG_BENCH_TOKENS", &fresh)];
    let (run, hits) =
        with_hit_ratios(&quiet.metrics, || wrk(&quiet_url, "/", &call_lua, conns, secs, &fresh_env)).await?;
    push("authorized call, hot set, server logging warnings only".to_owned(), conns, run, quiet_base, hits);
    drop(quiet);

    Ok(rss)
}

/// Token grants, then calls with the tokens granted, once the server signs with a key of
/// `algorithm`: rotated in as `trustgate keys rotate --algorithm` does, which the server picks up
/// from the store's change feed.
pub(super) async fn measure_algorithm(
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
pub(super) fn signed_by(token: &str, kid: &str) -> bool {
    use base64::Engine;
    let header = token.split('.').next().and_then(|h| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(h).ok());
    header.and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok()).is_some_and(|h| h["kid"] == kid)
}

/// Grants of every sampled client but one, while the one receives wrong secrets on half as many
/// connections again: the attacked client is locked out (429) and the others keep their latency.
pub(super) fn grants_under_attack(
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

/// Concurrent attackers guessing an administrator's password in the flood scenario.
pub(super) const SIGN_IN_FLOOD: usize = 256;

pub(super) struct Flood {
    pub(super) refused: u64,
    pub(super) busy: u64,
    pub(super) other: u64,
    pub(super) peak_rss_mib: f64,
}

/// Token grants measured while [`SIGN_IN_FLOOD`] connections keep sending wrong passwords for a
/// known administrator, with the server's resident memory sampled throughout.
pub(super) async fn grants_under_sign_in_flood(
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
