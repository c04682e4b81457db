//! What webhook deliveries cost PostgreSQL, counted rather than timed (issue #24 item 4): a
//! measurement run by hand, whose figures BENCHMARKS.md quotes. Run alone, in a debug build:
//!
//! ```text
//! cargo test -p trustgate --test it -- --ignored --nocapture webhook_cost
//! ```
//!
//! Ten endpoints of one customer, one receiver answering at once; the customer's log gets 1,000
//! records in one burst, then 200 more at 20 a second (as `bench --webhooks` writes them). For each
//! phase it prints the transactions PostgreSQL committed for the test database
//! (`pg_stat_database.xact_commit`, less what the idle node commits in as long) and the statements
//! this process sent (sqlx's `sqlx::query` events, counted by a subscriber of this test's own), per
//! record delivered to an endpoint.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Connection;
use trustgate_core::access::Access;

use crate::harness::{Backend, TestApp};
use crate::webhook_receiver::Receiver;

const ENDPOINTS: usize = 10;
/// Long enough for every backend of the test database to have sent PostgreSQL its statistics
/// (an idle backend flushes them within 10 s).
const STATISTICS_SETTLE: Duration = Duration::from_secs(12);

/// Counts the statements sqlx runs (each logged as an event with target `sqlx::query`).
struct StatementCounter(Arc<AtomicU64>);

impl tracing::Subscriber for StatementCounter {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == "sqlx::query"
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

async fn commits(admin_url: &str, database: &str) -> i64 {
    let mut conn = sqlx::PgConnection::connect(admin_url).await.unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT xact_commit FROM pg_stat_database WHERE datname = $1")
        .bind(database)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let _ = conn.close().await;
    n
}

/// Writes `n` records of `customer` in one transaction.
async fn write_records(conn: &mut sqlx::PgConnection, customer: &str, n: i64) {
    sqlx::query(
        "INSERT INTO system_log (record_id, customer_id, at, event_type, actor_type, actor_name, target_type, \
         target_id, target_name, message) SELECT gen_random_uuid()::text, $1, $2, 'test:measure/write', 'System', \
         'test', 'Test', 'measure', 'measure', 'a record to deliver' FROM generate_series(1, $3)",
    )
    .bind(customer)
    .bind(time::OffsetDateTime::now_utc().unix_timestamp() * 1000)
    .bind(n)
    .execute(conn)
    .await
    .unwrap();
}

fn as_f64(n: impl TryInto<i32>) -> f64 {
    f64::from(n.try_into().unwrap_or(i32::MAX))
}

struct Phase {
    name: &'static str,
    deliveries: u64,
    commits: i64,
    statements: u64,
    statements_seconds: f64,
    seconds: f64,
}

#[tokio::test]
#[ignore = "a measurement, run by hand: see the module's comment"]
async fn webhook_cost_postgres_transactions_and_statements_per_delivery() {
    let statements = Arc::new(AtomicU64::new(0));
    if tracing::subscriber::set_global_default(StatementCounter(statements.clone())).is_err() {
        panic!("run this measurement alone: another subscriber is installed");
    }
    let config =
        trustgate_server::ServerConfig { webhooks_allow_private: true, ..trustgate_server::ServerConfig::default() };
    let Some(app) = TestApp::spawn_with(Backend::Postgres, config).await else { return };
    let database = app.database().unwrap();
    let (url, admin_url, name) = (database.url.clone(), database.admin_url.clone(), database.name.clone());
    let receiver = Receiver::start().await;
    let (customer, _, session) = app.customer_with_session(Access::Full).await;
    for n in 0..ENDPOINTS {
        let (status, created) = app
            .as_admin(
                &session,
                Method::POST,
                &format!("/api/v1/customers/{customer}/webhooks"),
                Some(json!({ "url": format!("{}?endpoint={n}", receiver.url) })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
    }
    let delivered = || u64::try_from(receiver.deliveries().len()).unwrap();
    let wait_for = |target: u64| async move {
        let start = Instant::now();
        while delivered() < target {
            assert!(start.elapsed() < Duration::from_secs(300), "delivered {} of {target}", delivered());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    // The endpoints' own creation records: the endpoints are caught up from here on.
    let created = u64::try_from(ENDPOINTS * (ENDPOINTS + 1) / 2).unwrap();
    wait_for(created).await;
    tokio::time::sleep(STATISTICS_SETTLE).await;

    // What the idle node commits and sends (its polls and other background work), to subtract.
    let (idle_start, idle_statements, idle_at) =
        (commits(&admin_url, &name).await, statements.load(Ordering::Relaxed), Instant::now());
    tokio::time::sleep(Duration::from_secs(20)).await;
    let idle_statements = statements.load(Ordering::Relaxed) - idle_statements;
    let idle_commits = commits(&admin_url, &name).await - idle_start;
    let idle_seconds = idle_at.elapsed().as_secs_f64();
    let idle = (as_f64(idle_commits) / idle_seconds, as_f64(idle_statements) / idle_seconds);

    let mut writer = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut phases = Vec::new();
    for (label, records, per_second) in [("burst of 1,000", 1000, None), ("200 at 20/s", 200, Some(20u64))] {
        let (before, statements_before, start) =
            (commits(&admin_url, &name).await, statements.load(Ordering::Relaxed), Instant::now());
        let target = delivered() + records * u64::try_from(ENDPOINTS).unwrap();
        // The writes' own transactions and statements are not the deliveries'.
        let (mut own_commits, mut own_statements) = (0, 0);
        let writes = if per_second.is_some() { records } else { 1 };
        for _ in 0..writes {
            let before = statements.load(Ordering::Relaxed);
            write_records(&mut writer, customer.as_str(), i64::try_from(records / writes).unwrap()).await;
            own_statements += statements.load(Ordering::Relaxed) - before;
            own_commits += 1;
            if let Some(rate) = per_second {
                tokio::time::sleep(Duration::from_millis(1000 / rate)).await;
            }
        }
        wait_for(target).await;
        let statements_after = statements.load(Ordering::Relaxed) - own_statements;
        let statements_seconds = start.elapsed().as_secs_f64();
        tokio::time::sleep(STATISTICS_SETTLE).await;
        let seconds = start.elapsed().as_secs_f64();
        phases.push(Phase {
            name: label,
            deliveries: records * u64::try_from(ENDPOINTS).unwrap(),
            commits: commits(&admin_url, &name).await - before - own_commits,
            statements: statements_after - statements_before,
            statements_seconds,
            seconds,
        });
    }
    let _ = writer.close().await;
    println!("idle node: {:.2} commits and {:.2} statements a second", idle.0, idle.1);
    for p in phases {
        let deliveries = as_f64(p.deliveries);
        let commits = as_f64(p.commits) - idle.0 * p.seconds;
        let statements = as_f64(p.statements) - idle.1 * p.statements_seconds;
        println!(
            "{}: {} deliveries in {:.1} s (statistics settling included); {} commits, {commits:.0} less idle = {:.3} \
             per delivery; {} statements, {statements:.0} less idle = {:.3} per delivery",
            p.name,
            p.deliveries,
            p.seconds,
            p.commits,
            commits / deliveries,
            p.statements,
            statements / deliveries,
        );
    }
}
