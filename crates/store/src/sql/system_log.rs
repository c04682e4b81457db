//! The system log and the notifications posted to administrators.

use trustgate_core::ids::CustomerId;

use crate::error::{StoreError, StoreResult};
use crate::model::{LogRecord, Notification};
use crate::sql::{corrupt, from_ms};

/// The `SELECT … FROM system_log` of a [`LogRow`], as a literal for `concat!`.
macro_rules! log_select {
    () => {
        "SELECT seq, record_id, customer_id, at, event_type, actor_type, actor_id, actor_name, \
         target_type, target_id, target_name, message, before_json, after_json FROM system_log "
    };
}
pub(crate) use log_select;

#[derive(sqlx::FromRow)]
pub(crate) struct LogRow {
    seq: i64,
    record_id: String,
    customer_id: String,
    at: i64,
    event_type: String,
    actor_type: String,
    actor_id: Option<String>,
    actor_name: String,
    target_type: String,
    target_id: String,
    target_name: String,
    message: String,
    before_json: Option<String>,
    after_json: Option<String>,
}

impl TryFrom<LogRow> for LogRecord {
    type Error = StoreError;

    fn try_from(row: LogRow) -> StoreResult<LogRecord> {
        let json = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
        Ok(LogRecord {
            seq: row.seq,
            record_id: row.record_id,
            customer_id: CustomerId::parse(&row.customer_id)?,
            at: from_ms(row.at),
            event_type: row.event_type,
            actor_type: row.actor_type,
            actor_id: row.actor_id,
            actor_name: row.actor_name,
            target_type: row.target_type,
            target_id: row.target_id,
            target_name: row.target_name,
            message: row.message,
            before: json(row.before_json),
            after: json(row.after_json),
        })
    }
}

/// A position in the system log, in the order its readers (webhooks, SIEM streams) are sent it:
/// (`tx`, `seq`). `seq` alone is not commit order on PostgreSQL (see migration 0021).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct LogPosition {
    pub tx: i64,
    pub seq: i64,
}

/// A system-log record with its position.
#[derive(Debug, Clone)]
pub struct PositionedRecord {
    pub position: LogPosition,
    pub record: LogRecord,
}

#[derive(sqlx::FromRow)]
pub(crate) struct PositionedRow {
    tx: i64,
    #[sqlx(flatten)]
    row: LogRow,
}

impl TryFrom<PositionedRow> for PositionedRecord {
    type Error = StoreError;

    fn try_from(row: PositionedRow) -> StoreResult<PositionedRecord> {
        let record = LogRecord::try_from(row.row)?;
        Ok(PositionedRecord { position: LogPosition { tx: row.tx, seq: record.seq }, record })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct NotificationRow {
    id: String,
    customer_id: String,
    destination_admin: String,
    body: String,
    created_at: i64,
}

impl TryFrom<NotificationRow> for Notification {
    type Error = StoreError;

    fn try_from(row: NotificationRow) -> StoreResult<Notification> {
        Ok(Notification {
            id: row.id,
            customer_id: CustomerId::parse(&row.customer_id)?,
            destination_admin: row.destination_admin,
            body: serde_json::from_str(&row.body).map_err(|_| corrupt("notification"))?,
            created_at: from_ms(row.created_at),
        })
    }
}

/// This domain's SQL, instantiated once per backend by [`crate::sql::store_impl!`] in a module
/// of the same name inside the backend's module.
macro_rules! queries {
    ($store:ty, $db:ty) => {
        use time::OffsetDateTime;
        use trustgate_core::event::LogEntry;
        use trustgate_core::ids::CustomerId;

        use crate::changes::Change;
        use crate::error::StoreResult;
        use crate::model::{LogQuery, LogRecord, LogView, Notification};
        use crate::sql::system_log::{LogPosition, LogRow, NotificationRow, PositionedRecord, PositionedRow};
        use crate::sql::{ms, Parsed};

        use super::feed::insert_changes;
        use super::Tx;

        pub(super) async fn insert_log(tx: &mut Tx, entry: &LogEntry) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO system_log (record_id, customer_id, at, event_type, actor_type, actor_id, actor_name, \
                 target_type, target_id, target_name, message, before_json, after_json) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(trustgate_core::ids::random_uuid())
            .bind(entry.customer_id.as_str())
            .bind(ms(entry.at))
            .bind(entry.event_type)
            .bind(entry.actor.actor_type())
            .bind(entry.actor.id())
            .bind(entry.actor.display_name())
            .bind(entry.target_type)
            .bind(&entry.target_id)
            .bind(&entry.target_name)
            .bind(&entry.message)
            .bind(entry.before.as_ref().map(|v| v.to_string()))
            .bind(entry.after.as_ref().map(|v| v.to_string()))
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        pub(super) async fn insert_notification(tx: &mut Tx, n: &Notification) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO notifications (id, customer_id, destination_admin, body, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&n.id)
            .bind(n.customer_id.as_str())
            .bind(&n.destination_admin)
            .bind(n.body.to_string())
            .bind(ms(n.created_at))
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn add_notification(store: &$store, n: &Notification) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
            insert_notification(&mut tx, n).await?;
            let changes = [Change::NotificationsPosted(n.customer_id.clone())];
            insert_changes(&mut tx, &changes, n.created_at).await?;
            store.commit(tx, &changes).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn notifications(
            store: &$store,
            customer: &CustomerId,
            limit: u32,
        ) -> StoreResult<Vec<Notification>> {
            sqlx::query_as::<_, NotificationRow>(
                "SELECT id, customer_id, destination_admin, body, created_at FROM notifications \
                 WHERE customer_id = $1 ORDER BY created_at DESC, id LIMIT $2",
            )
            .bind(customer.as_str())
            .bind(i64::from(limit))
            .fetch_all(&store.pool)
            .await?
            .parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn append_log(store: &$store, entry: &LogEntry) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
            insert_log(&mut tx, entry).await?;
            store.commit(tx, &[]).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn log_records(store: &$store, q: &LogQuery) -> StoreResult<Vec<LogRecord>> {
            sqlx::query_as::<_, LogRow>(concat!(
                crate::sql::system_log::log_select!(),
                "WHERE customer_id = $1 AND at >= $2 AND at < $3 AND seq > $4 ORDER BY seq LIMIT $5"
            ))
            .bind(q.customer_id.as_str())
            .bind(ms(q.start))
            .bind(ms(q.end))
            .bind(q.after_seq.unwrap_or(0))
            .bind(i64::from(q.limit))
            .fetch_all(&store.pool)
            .await?
            .parsed()
        }

        /// The records after `after` in (tx, seq) order, of one customer or of all, read only
        /// below the backend's horizon (`LOG_HORIZON`): every record under it is committed and no
        /// new one can appear there, so a reader that moves its cursor past what it read never
        /// skips a record committed late. The one reader of the log as an outbox.
        #[tracing::instrument(skip_all)]
        pub(super) async fn log_after(
            store: &$store,
            customer: Option<&CustomerId>,
            after: LogPosition,
            limit: u32,
        ) -> StoreResult<Vec<PositionedRecord>> {
            let filter = if customer.is_some() { "customer_id = $4 AND " } else { "" };
            let query = format!(
                "SELECT tx, seq, record_id, customer_id, at, event_type, actor_type, actor_id, actor_name, \
                 target_type, target_id, target_name, message, before_json, after_json FROM system_log \
                 WHERE {filter}(tx > $1 OR (tx = $1 AND seq > $2)) AND tx < {} ORDER BY tx, seq LIMIT $3",
                <$store>::LOG_HORIZON
            );
            let mut query = sqlx::query_as::<_, PositionedRow>(sqlx::AssertSqlSafe(query))
                .bind(after.tx)
                .bind(after.seq)
                .bind(i64::from(limit));
            if let Some(customer) = customer {
                query = query.bind(customer.as_str());
            }
            query
                .fetch_all(&store.pool)
                .await?
                .parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn prune_log(store: &$store, before: OffsetDateTime, limit: u32) -> StoreResult<u64> {
            // The head of the log by primary key, not a search by time: the only index on
            // `at` leads with the customer. Records are written in time order, so the old
            // ones are at the head.
            let mut tx = store.write_tx().await?;
            let deleted = sqlx::query(
                "DELETE FROM system_log WHERE at < $1 AND seq IN \
                 (SELECT seq FROM system_log ORDER BY seq LIMIT $2)",
            )
            .bind(ms(before))
            .bind(i64::from(limit))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            store.commit(tx, &[]).await?;
            Ok(deleted)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn log_view(store: &$store, q: &LogQuery, view: &LogView) -> StoreResult<Vec<LogRecord>> {
            let (text, after) = if view.newest_first {
                (
                    concat!(
                        crate::sql::system_log::log_select!(),
                        "WHERE customer_id = $1 AND at >= $2 AND at < $3 AND seq < $4 \
                         AND LOWER(event_type) LIKE $5 ESCAPE '\\' AND LOWER(actor_name) LIKE $6 ESCAPE '\\' \
                         ORDER BY seq DESC LIMIT $7"
                    ),
                    q.after_seq.unwrap_or(i64::MAX),
                )
            } else {
                (
                    concat!(
                        crate::sql::system_log::log_select!(),
                        "WHERE customer_id = $1 AND at >= $2 AND at < $3 AND seq > $4 \
                         AND LOWER(event_type) LIKE $5 ESCAPE '\\' AND LOWER(actor_name) LIKE $6 ESCAPE '\\' \
                         ORDER BY seq LIMIT $7"
                    ),
                    q.after_seq.unwrap_or(0),
                )
            };
            sqlx::query_as::<_, LogRow>(text)
                .bind(q.customer_id.as_str())
                .bind(ms(q.start))
                .bind(ms(q.end))
                .bind(after)
                .bind(LogView::pattern(view.event_type.as_deref()))
                .bind(LogView::pattern(view.actor.as_deref()))
                .bind(i64::from(q.limit))
                .fetch_all(&store.pool)
                .await?
                .parsed()
        }
    };
}
pub(crate) use queries;
