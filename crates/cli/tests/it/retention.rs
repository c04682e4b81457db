//! System-log retention: records past `--systemlog-retention-days` are deleted in the
//! background, on both stores, in bounded batches; recent ones stay.

use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use trustgate_core::event::{Actor, LogEntry};
use trustgate_core::ids::CustomerId;
use trustgate_server::ServerConfig;
use trustgate_store::{LogQuery, PostgresStore, SqliteStore, Store};

use crate::harness::{Backend, TempDir, TestApp, TestDatabase};

fn entry(customer: &CustomerId, age: time::Duration, message: &str) -> LogEntry {
    LogEntry {
        customer_id: customer.clone(),
        at: OffsetDateTime::now_utc() - age,
        event_type: "platform:apiclient/create",
        actor: Actor::System,
        target_type: "ApiClient",
        target_id: "target".to_owned(),
        target_name: "target".to_owned(),
        message: message.to_owned(),
        before: None,
        after: None,
    }
}

/// The messages of every record of `customer` in the last few years.
async fn messages(store: &dyn Store, customer: &CustomerId) -> Vec<String> {
    let now = OffsetDateTime::now_utc();
    let query = LogQuery {
        customer_id: customer.clone(),
        start: now - time::Duration::days(3_650),
        end: now + time::Duration::days(1),
        after_seq: None,
        limit: 10_000,
    };
    store.log_records(&query).await.expect("log records").into_iter().map(|r| r.message).collect()
}

async fn old_records_go_and_recent_ones_stay(backend: Backend) {
    let config = ServerConfig {
        systemlog_retention: Duration::from_secs(30 * 86_400),
        systemlog_prune_interval: Duration::from_millis(100),
        ..ServerConfig::default()
    };
    let Some(app) = TestApp::spawn_with(backend, config).await else { return };
    let customer = app.customer().await;
    let other = app.customer().await;
    for (who, age, message) in [
        (&customer, time::Duration::days(400), "a year old"),
        (&customer, time::Duration::days(31), "31 days old"),
        (&other, time::Duration::days(31), "31 days old, other customer"),
        (&customer, time::Duration::days(29), "29 days old"),
        (&customer, time::Duration::ZERO, "new"),
    ] {
        app.store.append_log(&entry(who, age, message)).await.expect("append");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = messages(app.store.as_ref(), &customer).await;
        let other_left = messages(app.store.as_ref(), &other).await;
        if !left.iter().chain(&other_left).any(|m| m.contains("year") || m.starts_with("31 days")) {
            assert!(left.contains(&"29 days old".to_owned()), "a record inside the retention was deleted: {left:?}");
            assert!(left.contains(&"new".to_owned()), "a new record was deleted: {left:?}");
            assert!(
                other_left.iter().any(|m| m.contains("was created")),
                "the other customer's recent records stay: {other_left:?}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "records past the retention are still there: {left:?} {other_left:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn system_log_records_past_the_retention_are_deleted_on_sqlite() {
    old_records_go_and_recent_ones_stay(Backend::Sqlite).await;
}

#[tokio::test]
async fn system_log_records_past_the_retention_are_deleted_on_postgres() {
    old_records_go_and_recent_ones_stay(Backend::Postgres).await;
}

/// One deletion never takes more than its limit, so a huge backlog is worked off in short
/// transactions.
async fn pruning_is_bounded(store: Arc<dyn Store>) {
    let customer = CustomerId::generate();
    for n in 0..5 {
        store.append_log(&entry(&customer, time::Duration::days(100), &format!("old {n}"))).await.expect("append");
    }
    store.append_log(&entry(&customer, time::Duration::ZERO, "new")).await.expect("append");
    let cutoff = OffsetDateTime::now_utc() - time::Duration::days(90);
    let mut deleted = Vec::new();
    for _ in 0..4 {
        deleted.push(store.prune_log(cutoff, 2).await.expect("prune"));
    }
    assert_eq!(deleted, [2, 2, 1, 0]);
    assert_eq!(messages(store.as_ref(), &customer).await, ["new"]);
}

#[tokio::test]
async fn pruning_deletes_at_most_its_limit_on_sqlite() {
    let dir = TempDir::new();
    pruning_is_bounded(Arc::new(SqliteStore::open(dir.path()).await.expect("open"))).await;
}

#[tokio::test]
async fn pruning_deletes_at_most_its_limit_on_postgres() {
    let Some(database) = TestDatabase::create().await else { return };
    pruning_is_bounded(Arc::new(PostgresStore::connect(&database.url).await.expect("connect"))).await;
}
