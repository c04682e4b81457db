//! SIEM streams: each kind of stream (`syslog`, `jsonl`) has one cursor into the whole system log
//! (every customer's), read by `system_log::log_after`, and one lease, so that of several nodes
//! sharing a PostgreSQL database exactly one streams at a time. The cursor moves only to records
//! the receiver is known to have, fenced by the lease: a node whose lease ran out cannot move the
//! cursor of the node that took over.

/// A stream this node holds until `lease` runs out, and the last record its receiver has.
#[derive(Debug, Clone)]
pub struct SiemClaim {
    pub cursor: crate::sql::system_log::LogPosition,
    pub lease: String,
}

/// This domain's SQL, instantiated once per backend by [`crate::sql::store_impl!`] in a module
/// of the same name inside the backend's module.
macro_rules! queries {
    ($store:ty, $db:ty) => {
        use time::OffsetDateTime;

        use crate::error::StoreResult;
        use crate::sql::siem::SiemClaim;
        use crate::sql::system_log::LogPosition;
        use crate::sql::{from_ms, ms};

        /// Takes the stream `name` for `lease_for` unless another node holds it. A stream seen
        /// for the first time starts at the beginning of the log: every record still kept.
        #[tracing::instrument(skip_all)]
        pub(super) async fn claim_siem(
            store: &$store,
            name: &str,
            now: OffsetDateTime,
            lease_for: time::Duration,
        ) -> StoreResult<Option<SiemClaim>> {
            let mut tx = store.write_tx().await?;
            sqlx::query(
                "INSERT INTO siem_streams (name, cursor_tx, cursor_seq) VALUES ($1, 0, 0) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .execute(&mut *tx)
            .await?;
            let lease = trustgate_core::ids::random_uuid();
            // On PostgreSQL two nodes updating at once queue on the row's lock; the second
            // finds the lease taken when it reads the row again, and updates nothing.
            let taken = sqlx::query(
                "UPDATE siem_streams SET lease = $1, lease_until = $2 WHERE name = $3 \
                 AND (lease_until IS NULL OR lease_until <= $4)",
            )
            .bind(&lease)
            .bind(ms(now + lease_for))
            .bind(name)
            .bind(ms(now))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if taken != 1 {
                tx.rollback().await?;
                return Ok(None);
            }
            let (cursor_tx, cursor_seq): (i64, i64) =
                sqlx::query_as("SELECT cursor_tx, cursor_seq FROM siem_streams WHERE name = $1")
                    .bind(name)
                    .fetch_one(&mut *tx)
                    .await?;
            store.commit(tx, &[]).await?;
            Ok(Some(SiemClaim { cursor: LogPosition { tx: cursor_tx, seq: cursor_seq }, lease }))
        }

        /// Moves the stream's cursor to `cursor` and extends its lease to `lease_until`, if this
        /// node still holds it under `lease`: false, with nothing written, otherwise.
        #[tracing::instrument(skip_all)]
        pub(super) async fn advance_siem(
            store: &$store,
            name: &str,
            lease: &str,
            cursor: LogPosition,
            lease_until: OffsetDateTime,
        ) -> StoreResult<bool> {
            let mut tx = store.write_tx().await?;
            let updated = sqlx::query(
                "UPDATE siem_streams SET cursor_tx = $1, cursor_seq = $2, lease_until = $3 WHERE name = $4 AND lease = $5",
            )
            .bind(cursor.tx)
            .bind(cursor.seq)
            .bind(ms(lease_until))
            .bind(name)
            .bind(lease)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            store.commit(tx, &[]).await?;
            Ok(updated == 1)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn release_siem(store: &$store, name: &str, lease: &str) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
            sqlx::query("UPDATE siem_streams SET lease = NULL, lease_until = NULL WHERE name = $1 AND lease = $2")
                .bind(name)
                .bind(lease)
                .execute(&mut *tx)
                .await?;
            store.commit(tx, &[]).await
        }

        /// Moves the stream `name` to just after the record `after` (`None`: to the start of the
        /// log) and lets go of it: a node streaming it stops at its next write, fenced by the
        /// lease, and the next claim resumes from here. `NotFound` when the log has no record
        /// `after` (pruned, or never written).
        #[tracing::instrument(skip_all)]
        pub(super) async fn reset_siem(store: &$store, name: &str, after: Option<i64>) -> StoreResult<LogPosition> {
            let mut tx = store.write_tx().await?;
            let cursor = match after {
                None => LogPosition::default(),
                Some(seq) => {
                    let found: Option<(i64,)> = sqlx::query_as("SELECT tx FROM system_log WHERE seq = $1")
                        .bind(seq)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let Some((record_tx,)) = found else {
                        return Err(crate::error::StoreError::NotFound("system-log record"));
                    };
                    LogPosition { tx: record_tx, seq }
                }
            };
            sqlx::query(
                "INSERT INTO siem_streams (name, cursor_tx, cursor_seq) VALUES ($1, $2, $3) ON CONFLICT (name) \
                 DO UPDATE SET cursor_tx = excluded.cursor_tx, cursor_seq = excluded.cursor_seq, lease = NULL, \
                 lease_until = NULL",
            )
            .bind(name)
            .bind(cursor.tx)
            .bind(cursor.seq)
            .execute(&mut *tx)
            .await?;
            store.commit(tx, &[]).await?;
            Ok(cursor)
        }

        /// The time of the oldest record the stream `name` has still to send.
        #[tracing::instrument(skip_all)]
        pub(super) async fn siem_backlog_start(store: &$store, name: &str) -> StoreResult<Option<OffsetDateTime>> {
            // A stream not yet claimed has no row, and will start at the oldest record kept: until
            // its first claim, the whole log is its backlog.
            let (oldest,): (Option<i64>,) = sqlx::query_as(
                "SELECT CASE WHEN EXISTS (SELECT 1 FROM siem_streams WHERE name = $1) \
                 THEN (SELECT MIN(s.at) FROM siem_streams c JOIN system_log s \
                       ON s.tx > c.cursor_tx OR (s.tx = c.cursor_tx AND s.seq > c.cursor_seq) WHERE c.name = $2) \
                 ELSE (SELECT MIN(at) FROM system_log) END",
            )
            .bind(name)
            .bind(name)
            .fetch_one(&store.pool)
            .await?;
            Ok(oldest.map(from_ms))
        }
    };
}
pub(crate) use queries;
