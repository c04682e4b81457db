//! Webhook endpoints, their cursors into the system log, and their delivery attempts.
//!
//! The system log is the outbox: a change writes its records in its own transaction, and an
//! endpoint is sent the records after its cursor, read by `system_log::log_after` (in (`tx`,
//! `seq`) order, below the backend's horizon). A node claims endpoints for a lease, sends a run of
//! records, and advances the cursor in the transaction that records the run's attempts, fenced by
//! the lease, so a node whose lease ran out cannot move the cursor of the node that took over.

use time::OffsetDateTime;
use trustgate_core::event::LogEntry;
use trustgate_core::ids::{CustomerId, WebhookId};
use trustgate_core::webhook::{Endpoint, EndpointState, Style};

use crate::error::{StoreError, StoreResult};
use crate::sql::system_log::LogPosition;
use crate::sql::{corrupt, from_ms};

/// An endpoint this node holds until `lease` runs out, and where its deliveries stand.
#[derive(Debug, Clone)]
pub struct WebhookClaim {
    pub endpoint: Endpoint,
    pub cursor: LogPosition,
    pub lease: String,
}

/// One try at delivering one record to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAttempt {
    /// The `webhook-id` sent: the same for every try of the same record to the same endpoint.
    pub webhook_id: String,
    pub record_seq: i64,
    pub event_type: String,
    pub at: OffsetDateTime,
    /// The receiver's status; `None` when it gave none (refused, unreachable, timed out).
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// What an attempt (or records passed over) changes in the endpoint.
#[derive(Debug, Clone)]
pub struct WebhookProgress {
    /// The new cursor, when records were delivered or passed over.
    pub cursor: Option<LogPosition>,
    pub failures: u32,
    pub failing_since: Option<OffsetDateTime>,
    pub next_attempt_at: OffsetDateTime,
    /// Disables the endpoint, writing this record to its customer's system log.
    pub disable: Option<LogEntry>,
    /// Extends the lease (each write proves the node holding it is alive); `None` lets go of
    /// the endpoint, for any node to claim when it is due.
    pub lease_until: Option<OffsetDateTime>,
}

/// An endpoint's sealed values, sealed again under the current server key.
#[derive(Debug, Clone)]
pub struct ResealedWebhook {
    pub id: WebhookId,
    /// The sealed secret read, which this replaces only if it is still the stored one.
    pub replaces: Vec<u8>,
    pub sealed_secret: Vec<u8>,
    pub sealed_previous_secret: Option<Vec<u8>>,
    pub sealed_auth_headers: Option<Vec<u8>>,
}

/// The columns of an [`EndpointRow`], as a literal for `concat!`.
macro_rules! endpoint_columns {
    () => {
        "id, customer_id, url, description, event_types, style, citrix_event_type, citrix_change_type, \
         sealed_secret, sealed_previous_secret, previous_until, sealed_auth_headers, created_by, created_at, \
         cursor_tx, cursor_seq, state, failing_since, next_attempt_at, failures"
    };
}
pub(crate) use endpoint_columns;

/// The `SELECT … FROM webhook_endpoints` of an [`EndpointRow`], as a literal for `concat!`.
macro_rules! endpoint_select {
    () => {
        concat!("SELECT ", crate::sql::webhooks::endpoint_columns!(), " FROM webhook_endpoints ")
    };
}
pub(crate) use endpoint_select;

/// The endpoints a node may claim at `$1`: enabled, due, held by no node, and with a record
/// after their cursor.
macro_rules! due {
    () => {
        "WHERE state = 'enabled' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1) \
         AND EXISTS (SELECT 1 FROM system_log s WHERE s.customer_id = webhook_endpoints.customer_id \
         AND (s.tx > webhook_endpoints.cursor_tx OR (s.tx = webhook_endpoints.cursor_tx AND s.seq > webhook_endpoints.cursor_seq)))"
    };
}
pub(crate) use due;

/// An endpoint as stored; also what `trustgate copy-to-postgres` carries over.
#[derive(sqlx::FromRow)]
pub(crate) struct EndpointRow {
    pub(crate) id: String,
    pub(crate) customer_id: String,
    pub(crate) url: String,
    pub(crate) description: String,
    pub(crate) event_types: String,
    pub(crate) style: String,
    pub(crate) citrix_event_type: Option<String>,
    pub(crate) citrix_change_type: Option<String>,
    pub(crate) sealed_secret: Vec<u8>,
    pub(crate) sealed_previous_secret: Option<Vec<u8>>,
    pub(crate) previous_until: Option<i64>,
    pub(crate) sealed_auth_headers: Option<Vec<u8>>,
    pub(crate) created_by: String,
    pub(crate) created_at: i64,
    pub(crate) cursor_tx: i64,
    pub(crate) cursor_seq: i64,
    pub(crate) state: String,
    pub(crate) failing_since: Option<i64>,
    pub(crate) next_attempt_at: i64,
    pub(crate) failures: i32,
}

impl TryFrom<EndpointRow> for Endpoint {
    type Error = StoreError;

    fn try_from(row: EndpointRow) -> StoreResult<Endpoint> {
        let style = match (row.style.as_str(), row.citrix_event_type, row.citrix_change_type) {
            ("standard", _, _) => Style::Standard,
            ("citrix", Some(event_type), Some(change_type)) => Style::Citrix { event_type, change_type },
            _ => return Err(corrupt("webhook style")),
        };
        Ok(Endpoint {
            id: WebhookId::parse(&row.id).map_err(|_| corrupt("webhook id"))?,
            customer_id: CustomerId::parse(&row.customer_id)?,
            url: row.url,
            description: row.description,
            event_types: serde_json::from_str(&row.event_types).map_err(|_| corrupt("webhook event types"))?,
            style,
            sealed_secret: row.sealed_secret,
            sealed_previous_secret: row.sealed_previous_secret,
            previous_until: row.previous_until.map(from_ms),
            sealed_auth_headers: row.sealed_auth_headers,
            created_by: row.created_by,
            created_at: from_ms(row.created_at),
            state: EndpointState::parse(&row.state).ok_or_else(|| corrupt("webhook state"))?,
            failing_since: row.failing_since.map(from_ms),
            next_attempt_at: from_ms(row.next_attempt_at),
            failures: u32::try_from(row.failures).unwrap_or(0),
            delivered_seq: row.cursor_seq,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AttemptRow {
    webhook_id: String,
    record_seq: i64,
    event_type: String,
    at: i64,
    status: Option<i32>,
    error: Option<String>,
    duration_ms: i64,
}

impl TryFrom<AttemptRow> for WebhookAttempt {
    type Error = StoreError;

    fn try_from(row: AttemptRow) -> StoreResult<WebhookAttempt> {
        Ok(WebhookAttempt {
            webhook_id: row.webhook_id,
            record_seq: row.record_seq,
            event_type: row.event_type,
            at: from_ms(row.at),
            status: row.status.and_then(|s| u16::try_from(s).ok()),
            error: row.error,
            duration_ms: u64::try_from(row.duration_ms).unwrap_or(0),
        })
    }
}

/// This domain's SQL, instantiated once per backend by [`crate::sql::store_impl!`] in a module
/// of the same name inside the backend's module.
macro_rules! queries {
    ($store:ty, $db:ty) => {
        use crate::error::{StoreError, StoreResult};
        use crate::sql::webhooks::{
            AttemptRow, EndpointRow, ResealedWebhook, WebhookAttempt, WebhookClaim, WebhookProgress,
        };
        use crate::sql::system_log::LogPosition;
        use crate::sql::{from_ms, ms, Parsed};
        use time::OffsetDateTime;
        use trustgate_core::event::Actor;
        use trustgate_core::ids::{CustomerId, WebhookId};
        use trustgate_core::lifecycle;
        use trustgate_core::webhook::{self, Endpoint, Style};

        use super::admins::authority;
        use super::customers::ensure_customer;
        use super::system_log::insert_log;
        use super::Tx;

        /// The customer's endpoint `id`, with its cursor, read in `tx`.
        async fn endpoint_in_tx(
            tx: &mut Tx,
            customer: &CustomerId,
            id: WebhookId,
        ) -> StoreResult<Option<(Endpoint, LogPosition)>> {
            let row = sqlx::query_as::<_, EndpointRow>(concat!(
                crate::sql::webhooks::endpoint_select!(),
                "WHERE customer_id = $1 AND id = $2"
            ))
            .bind(customer.as_str())
            .bind(id.to_string())
            .fetch_optional(&mut **tx)
            .await?;
            match row {
                None => Ok(None),
                Some(row) => {
                    let cursor = LogPosition { tx: row.cursor_tx, seq: row.cursor_seq };
                    Ok(Some((Endpoint::try_from(row)?, cursor)))
                }
            }
        }

        /// Reads the actor's authority in `tx` and refuses all but a Full administrator (or the operator).
        async fn may_manage(tx: &mut Tx, customer: &CustomerId, actor: &Actor) -> StoreResult<()> {
            ensure_customer(tx, customer).await?;
            lifecycle::manage_webhooks(&authority(tx, customer, actor).await?)?;
            Ok(())
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn create_webhook(store: &$store, endpoint: &Endpoint, actor: &Actor) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
            <$store>::lock_customer(&mut tx, &endpoint.customer_id).await?;
            may_manage(&mut tx, &endpoint.customer_id, actor).await?;
            let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM webhook_endpoints WHERE customer_id = $1")
                .bind(endpoint.customer_id.as_str())
                .fetch_one(&mut *tx)
                .await?;
            if u64::try_from(count).unwrap_or(0) >= webhook::MAX_ENDPOINTS_PER_CUSTOMER {
                return Err(lifecycle::Refusal::WebhookLimit(webhook::MAX_ENDPOINTS_PER_CUSTOMER).into());
            }
            // The endpoint's first delivery is the record of its own creation: the cursor is set
            // just before it, so every change committed after this one follows it.
            insert_log(&mut tx, &webhook::created(endpoint, actor)).await?;
            let (created_tx, created_seq): (i64, i64) = sqlx::query_as(
                "SELECT tx, seq FROM system_log WHERE customer_id = $1 AND event_type = $2 AND target_id = $3 \
                 ORDER BY seq DESC LIMIT 1",
            )
            .bind(endpoint.customer_id.as_str())
            .bind(webhook::CREATED)
            .bind(endpoint.id.to_string())
            .fetch_one(&mut *tx)
            .await?;
            let (style, citrix_event_type, citrix_change_type) = match &endpoint.style {
                Style::Standard => ("standard", None, None),
                Style::Citrix { event_type, change_type } => ("citrix", Some(event_type), Some(change_type)),
            };
            let event_types = serde_json::to_string(&endpoint.event_types)
                .map_err(|e| StoreError::Internal(format!("event types: {e}")))?;
            sqlx::query(
                "INSERT INTO webhook_endpoints (id, customer_id, url, description, event_types, style, \
                 citrix_event_type, citrix_change_type, sealed_secret, sealed_previous_secret, previous_until, \
                 sealed_auth_headers, created_by, created_at, cursor_tx, cursor_seq, state, \
                 failing_since, next_attempt_at, failures) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL, $10, $11, $12, $13, $14, 'enabled', \
                 NULL, $12, 0)",
            )
            .bind(endpoint.id.to_string())
            .bind(endpoint.customer_id.as_str())
            .bind(&endpoint.url)
            .bind(&endpoint.description)
            .bind(event_types)
            .bind(style)
            .bind(citrix_event_type)
            .bind(citrix_change_type)
            .bind(&endpoint.sealed_secret)
            .bind(&endpoint.sealed_auth_headers)
            .bind(&endpoint.created_by)
            .bind(ms(endpoint.created_at))
            .bind(created_tx)
            .bind(created_seq - 1)
            .execute(&mut *tx)
            .await?;
            store.commit(tx, &[]).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn webhooks(store: &$store, customer: &CustomerId, actor: &Actor) -> StoreResult<Vec<Endpoint>> {
            let mut tx = store.pool.begin().await?;
            may_manage(&mut tx, customer, actor).await?;
            let rows = sqlx::query_as::<_, EndpointRow>(concat!(
                crate::sql::webhooks::endpoint_select!(),
                "WHERE customer_id = $1 ORDER BY created_at, id"
            ))
            .bind(customer.as_str())
            .fetch_all(&mut *tx)
            .await?;
            tx.rollback().await?;
            rows.parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn webhook(
            store: &$store,
            customer: &CustomerId,
            id: WebhookId,
            actor: &Actor,
        ) -> StoreResult<Option<Endpoint>> {
            let mut tx = store.pool.begin().await?;
            may_manage(&mut tx, customer, actor).await?;
            let found = endpoint_in_tx(&mut tx, customer, id).await?;
            tx.rollback().await?;
            Ok(found.map(|(endpoint, _)| endpoint))
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn delete_webhook(
            store: &$store,
            customer: &CustomerId,
            id: WebhookId,
            actor: &Actor,
        ) -> StoreResult<bool> {
            let mut tx = store.write_tx().await?;
            may_manage(&mut tx, customer, actor).await?;
            let Some((endpoint, _)) = endpoint_in_tx(&mut tx, customer, id).await? else {
                return Ok(false);
            };
            sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await?;
            insert_log(&mut tx, &webhook::deleted(&endpoint, OffsetDateTime::now_utc(), actor)).await?;
            store.commit(tx, &[]).await?;
            Ok(true)
        }

        /// The current secret becomes the previous one, signing too for `ROTATION_OVERLAP`.
        #[tracing::instrument(skip_all)]
        pub(super) async fn rotate_webhook_secret(
            store: &$store,
            customer: &CustomerId,
            id: WebhookId,
            sealed_secret: &[u8],
            now: OffsetDateTime,
            actor: &Actor,
        ) -> StoreResult<bool> {
            let mut tx = store.write_tx().await?;
            may_manage(&mut tx, customer, actor).await?;
            let Some((endpoint, _)) = endpoint_in_tx(&mut tx, customer, id).await? else {
                return Ok(false);
            };
            sqlx::query(
                "UPDATE webhook_endpoints SET sealed_previous_secret = sealed_secret, previous_until = $1, \
                 sealed_secret = $2 WHERE id = $3",
            )
            .bind(ms(now + webhook::ROTATION_OVERLAP))
            .bind(sealed_secret)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            insert_log(&mut tx, &webhook::secret_rotated(&endpoint, now, actor)).await?;
            store.commit(tx, &[]).await?;
            Ok(true)
        }

        /// Sends again every record of the customer from `from_seq` on, enabling the endpoint if
        /// it was disabled. `NotFound("record")` when the customer's log has no record `from_seq`.
        #[tracing::instrument(skip_all)]
        pub(super) async fn replay_webhook(
            store: &$store,
            customer: &CustomerId,
            id: WebhookId,
            from_seq: i64,
            now: OffsetDateTime,
            actor: &Actor,
        ) -> StoreResult<bool> {
            let mut tx = store.write_tx().await?;
            may_manage(&mut tx, customer, actor).await?;
            let Some((endpoint, _)) = endpoint_in_tx(&mut tx, customer, id).await? else {
                return Ok(false);
            };
            let from: Option<(i64,)> =
                sqlx::query_as("SELECT tx FROM system_log WHERE customer_id = $1 AND seq = $2")
                    .bind(customer.as_str())
                    .bind(from_seq)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some((from_tx,)) = from else {
                return Err(StoreError::NotFound("system-log record"));
            };
            sqlx::query(
                "UPDATE webhook_endpoints SET cursor_tx = $1, cursor_seq = $2, state = 'enabled', \
                 failing_since = NULL, failures = 0, next_attempt_at = $3, lease = NULL, lease_until = NULL WHERE id = $4",
            )
            .bind(from_tx)
            .bind(from_seq - 1)
            .bind(ms(now))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            insert_log(&mut tx, &webhook::replayed(&endpoint, from_seq, now, actor)).await?;
            store.commit(tx, &[]).await?;
            Ok(true)
        }

        /// Enables a disabled endpoint with its cursor kept: what failed is sent first, at once.
        #[tracing::instrument(skip_all)]
        pub(super) async fn enable_webhook(
            store: &$store,
            customer: &CustomerId,
            id: WebhookId,
            now: OffsetDateTime,
            actor: &Actor,
        ) -> StoreResult<Option<Endpoint>> {
            let mut tx = store.write_tx().await?;
            may_manage(&mut tx, customer, actor).await?;
            let Some((mut endpoint, _)) = endpoint_in_tx(&mut tx, customer, id).await? else {
                return Ok(None);
            };
            if endpoint.state == webhook::EndpointState::Enabled {
                tx.rollback().await?;
                return Ok(Some(endpoint));
            }
            sqlx::query(
                "UPDATE webhook_endpoints SET state = 'enabled', failing_since = NULL, failures = 0, \
                 next_attempt_at = $1, lease = NULL, lease_until = NULL WHERE id = $2",
            )
            .bind(ms(now))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            insert_log(&mut tx, &webhook::enabled(&endpoint, now, actor)).await?;
            store.commit(tx, &[]).await?;
            endpoint.state = webhook::EndpointState::Enabled;
            endpoint.failing_since = None;
            endpoint.failures = 0;
            endpoint.next_attempt_at = now;
            Ok(Some(endpoint))
        }

        /// The endpoint's latest attempts, newest first; `None` when the customer has no such endpoint.
        #[tracing::instrument(skip_all)]
        pub(super) async fn webhook_attempts(
            store: &$store,
            customer: &CustomerId,
            id: WebhookId,
            limit: u32,
            actor: &Actor,
        ) -> StoreResult<Option<Vec<WebhookAttempt>>> {
            let mut tx = store.pool.begin().await?;
            may_manage(&mut tx, customer, actor).await?;
            if endpoint_in_tx(&mut tx, customer, id).await?.is_none() {
                return Ok(None);
            }
            let rows = sqlx::query_as::<_, AttemptRow>(
                "SELECT webhook_id, record_seq, event_type, at, status, error, duration_ms FROM webhook_attempts \
                 WHERE endpoint_id = $1 ORDER BY seq DESC LIMIT $2",
            )
            .bind(id.to_string())
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
            tx.rollback().await?;
            Ok(Some(rows.parsed()?))
        }

        /// Takes, for `lease_for`, up to `limit` enabled endpoints that are due and that no node
        /// holds, due longest ago first, under one lease token, in one transaction.
        #[tracing::instrument(skip_all)]
        pub(super) async fn claim_webhooks(
            store: &$store,
            now: OffsetDateTime,
            lease_for: time::Duration,
            limit: u32,
        ) -> StoreResult<Vec<WebhookClaim>> {
            if limit == 0 {
                return Ok(Vec::new());
            }
            // Most polls find nothing to send: they read, and take no write lock.
            let due: Option<(String,)> =
                sqlx::query_as(concat!("SELECT id FROM webhook_endpoints ", crate::sql::webhooks::due!(), " LIMIT 1"))
                    .bind(ms(now))
                    .fetch_optional(&store.pool)
                    .await?;
            if due.is_none() {
                return Ok(Vec::new());
            }
            let lease = trustgate_core::ids::random_uuid();
            let mut tx = store.write_tx().await?;
            let query = format!(
                "UPDATE webhook_endpoints SET lease = $2, lease_until = $3 WHERE id IN (SELECT id FROM webhook_endpoints {} \
                 ORDER BY next_attempt_at LIMIT $4{}) RETURNING {}",
                crate::sql::webhooks::due!(),
                <$store>::SKIP_LOCKED,
                crate::sql::webhooks::endpoint_columns!(),
            );
            let rows = sqlx::query_as::<_, EndpointRow>(sqlx::AssertSqlSafe(query))
                .bind(ms(now))
                .bind(&lease)
                .bind(ms(now + lease_for))
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
            store.commit(tx, &[]).await?;
            let mut claims = rows
                .into_iter()
                .map(|row| {
                    let cursor = LogPosition { tx: row.cursor_tx, seq: row.cursor_seq };
                    Ok(WebhookClaim { endpoint: Endpoint::try_from(row)?, cursor, lease: lease.clone() })
                })
                .collect::<StoreResult<Vec<_>>>()?;
            claims.sort_by_key(|claim| claim.endpoint.next_attempt_at);
            Ok(claims)
        }

        /// Records a run of attempts and what they change, in one transaction: one statement
        /// fenced by the lease moves the endpoint on, one more inserts every attempt. False (and
        /// nothing written) when this node no longer holds the endpoint under `lease`.
        #[tracing::instrument(skip_all)]
        pub(super) async fn record_webhook_attempts(
            store: &$store,
            id: WebhookId,
            lease: &str,
            attempts: &[WebhookAttempt],
            progress: &WebhookProgress,
        ) -> StoreResult<bool> {
            let mut tx = store.write_tx().await?;
            let state = if progress.disable.is_some() { "disabled" } else { "enabled" };
            let held = sqlx::query(
                "UPDATE webhook_endpoints SET cursor_tx = COALESCE($1, cursor_tx), cursor_seq = COALESCE($2, cursor_seq), \
                 failures = $3, failing_since = $4, next_attempt_at = $5, state = $6, lease = $7, lease_until = $8 \
                 WHERE id = $9 AND lease = $10",
            )
            .bind(progress.cursor.map(|c| c.tx))
            .bind(progress.cursor.map(|c| c.seq))
            .bind(i32::try_from(progress.failures).unwrap_or(i32::MAX))
            .bind(progress.failing_since.map(ms))
            .bind(ms(progress.next_attempt_at))
            .bind(state)
            .bind(progress.lease_until.map(|_| lease))
            .bind(progress.lease_until.map(ms))
            .bind(id.to_string())
            .bind(lease)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if held == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            if !attempts.is_empty() {
                let mut insert = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO webhook_attempts (endpoint_id, webhook_id, record_seq, event_type, at, status, error, duration_ms) ",
                );
                insert.push_values(attempts, |mut row, a| {
                    row.push_bind(id.to_string())
                        .push_bind(a.webhook_id.clone())
                        .push_bind(a.record_seq)
                        .push_bind(a.event_type.clone())
                        .push_bind(ms(a.at))
                        .push_bind(a.status.map(i32::from))
                        .push_bind(a.error.clone())
                        .push_bind(i64::try_from(a.duration_ms).unwrap_or(i64::MAX));
                });
                insert.build().execute(&mut *tx).await?;
            }
            if let Some(entry) = &progress.disable {
                insert_log(&mut tx, entry).await?;
            }
            store.commit(tx, &[]).await?;
            Ok(true)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn release_webhook(store: &$store, id: WebhookId, lease: &str) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
            sqlx::query("UPDATE webhook_endpoints SET lease = NULL, lease_until = NULL WHERE id = $1 AND lease = $2")
                .bind(id.to_string())
                .bind(lease)
                .execute(&mut *tx)
                .await?;
            store.commit(tx, &[]).await
        }

        /// The time of the oldest record an enabled endpoint has still to be sent: a caught-up
        /// endpoint holds nothing back, however old its last record.
        #[tracing::instrument(skip_all)]
        pub(super) async fn webhook_backlog_start(store: &$store) -> StoreResult<Option<OffsetDateTime>> {
            let (oldest,): (Option<i64>,) = sqlx::query_as(
                "SELECT MIN(s.at) FROM webhook_endpoints e JOIN system_log s ON s.customer_id = e.customer_id \
                 AND (s.tx > e.cursor_tx OR (s.tx = e.cursor_tx AND s.seq > e.cursor_seq)) WHERE e.state = 'enabled'",
            )
            .fetch_one(&store.pool)
            .await?;
            Ok(oldest.map(from_ms))
        }

        /// Replaces each endpoint's sealed values with those sealed under the current server key,
        /// unless they changed since they were read (a rotation of the endpoint's own secret
        /// meanwhile): how many were replaced.
        #[tracing::instrument(skip_all)]
        pub(super) async fn reseal_webhooks(store: &$store, resealed: &[ResealedWebhook]) -> StoreResult<u64> {
            let mut tx = store.write_tx().await?;
            let mut replaced = 0;
            for r in resealed {
                replaced += sqlx::query(
                    "UPDATE webhook_endpoints SET sealed_secret = $1, sealed_previous_secret = $2, sealed_auth_headers = $3 \
                     WHERE id = $4 AND sealed_secret = $5",
                )
                .bind(&r.sealed_secret)
                .bind(&r.sealed_previous_secret)
                .bind(&r.sealed_auth_headers)
                .bind(r.id.to_string())
                .bind(&r.replaces)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            store.commit(tx, &[]).await?;
            Ok(replaced)
        }

        /// Deletes attempts older than `before`, at most `limit`; how many went.
        #[tracing::instrument(skip_all)]
        pub(super) async fn prune_webhook_attempts(
            store: &$store,
            before: OffsetDateTime,
            limit: u32,
        ) -> StoreResult<u64> {
            let mut tx = store.write_tx().await?;
            let deleted = sqlx::query(
                "DELETE FROM webhook_attempts WHERE at < $1 AND seq IN \
                 (SELECT seq FROM webhook_attempts ORDER BY seq LIMIT $2)",
            )
            .bind(ms(before))
            .bind(i64::from(limit))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            store.commit(tx, &[]).await?;
            Ok(deleted)
        }
    };
}
pub(crate) use queries;
