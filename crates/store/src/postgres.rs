//! The scale-out store: any number of stateless nodes on one PostgreSQL.
//!
//! Each committing transaction also sends `NOTIFY trustgate_changes`, delivered on commit to every
//! node's listener. Notifications sent while a listener is disconnected are lost, so a node
//! flushes its cache whenever its listener connection drops and again once it is back.
//!
//! [`Store::catch_up`] sends a `sync:<token>` notification of its own and waits until this node's
//! listener receives it: PostgreSQL delivers notifications in commit order, so by then every change
//! committed before the call has been delivered here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{Pool, Postgres};
use time::OffsetDateTime;
use tokio::sync::{oneshot, watch};
use trustgate_core::ids::CustomerId;

use crate::changes::{lag_since, Change, ChangeListener, ListenerSlot};
use crate::error::{StoreError, StoreResult};
use crate::sql::{self, store_impl};

const CHANNEL: &str = "trustgate_changes";
/// NOTIFY payloads are capped at 8000 bytes; past this, nodes are told to flush instead.
const MAX_PAYLOAD: usize = 7000;
const FLUSH_PAYLOAD: &str = "flush";
/// How long a request waits for a connection before it is answered 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// Connections a node's pool opens at most unless told otherwise (`--database-pool-size`): four
/// per core the process may run on, as many queries as its cores keep waiting on the network, and
/// never more than ten, so that eight nodes straight on one PostgreSQL, each with its change feed's
/// LISTEN session beside, stay under PostgreSQL's default `max_connections` of 100 (8 × 11 = 88).
pub fn default_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    u32::try_from(cores.saturating_mul(4)).unwrap_or(u32::MAX).clamp(4, MAX_DEFAULT_POOL_SIZE)
}

const MAX_DEFAULT_POOL_SIZE: u32 = 10;

/// Where a node reaches PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresConfig {
    /// The queries' URL: PostgreSQL itself, or a PgBouncer in transaction mode in front of it.
    pub url: String,
    /// PostgreSQL itself, when `url` is a pooler: LISTEN and the migrations' session lock need a
    /// server connection of their own. `None`: `url` is direct.
    pub direct_url: Option<String>,
    /// The most connections the queries' pool opens; the direct session is one more.
    pub pool_size: u32,
}

impl PostgresConfig {
    pub fn new(url: &str) -> Self {
        Self { url: url.to_owned(), direct_url: None, pool_size: default_pool_size() }
    }
}

fn parse_url(url: &str) -> StoreResult<PgConnectOptions> {
    url.parse().map_err(|e| StoreError::Unavailable(format!("invalid PostgreSQL URL: {e}")))
}

fn connect_error(error: sqlx::Error) -> StoreError {
    match error.as_database_error().and_then(|db| db.code()) {
        // invalid_catalog_name: the database named in the URL does not exist.
        Some(code) if code == "3D000" => StoreError::NotFound("database"),
        _ => StoreError::from(error),
    }
}
const RECONNECT_DELAY: Duration = Duration::from_millis(500);
const CHANGE_RETENTION: time::Duration = time::Duration::minutes(10);
const SYNC_PREFIX: &str = "sync:";
/// Starts a change payload: `at:<unix ms>` of the write.
const AT_PREFIX: &str = "at:";
/// How long a catch-up waits for its own notification to come back.
const SYNC_TIMEOUT: Duration = Duration::from_secs(3);

/// Catch-ups waiting for their `sync:<token>` notification, by token. `None` until a listener watches.
type Waiting = Arc<Mutex<Option<HashMap<String, oneshot::Sender<()>>>>>;

type Tx = sqlx::Transaction<'static, Postgres>;

pub struct PostgresStore {
    pool: Pool<Postgres>,
    /// One connection straight to PostgreSQL: the change feed listens on it.
    session: Pool<Postgres>,
    listener: ListenerSlot,
    /// Dropping the store drops this sender, which stops the feed task.
    _stop: watch::Sender<()>,
    stopped: watch::Receiver<()>,
    waiting: Waiting,
    /// Whether the feed is listening now: a `sync:` notification sent before it is lost.
    listening: watch::Sender<bool>,
}

impl PostgresStore {
    /// Connects and brings the schema up to date. Migrations hold an advisory lock, so nodes
    /// starting together apply them once.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_to(&PostgresConfig::new(url)).await
    }

    /// Connects as `config` says: at most `pool_size` connections for queries through `url`, and
    /// one session on the direct URL for the change feed's LISTEN and the migrations' lock.
    pub async fn connect_to(config: &PostgresConfig) -> StoreResult<Self> {
        // PostgreSQL's NOTICEs (such as "relation _sqlx_migrations already exists, skipping", sent
        // by every start's migration check) are not for the operator: only warnings and errors are sent.
        let direct = parse_url(config.direct_url.as_deref().unwrap_or(&config.url))?
            .options([("client_min_messages", "warning")]);
        // PgBouncer refuses startup parameters it does not track: through a pooler, the queries'
        // connections send neither the notice level (the migrations, which cause the notices, run
        // on the direct session) nor `extra_float_digits` (values come back in binary, where it
        // has no effect).
        let queries = match config.direct_url {
            Some(_) => parse_url(&config.url)?.extra_float_digits(None),
            None => direct.clone(),
        };
        let pool = PgPoolOptions::new()
            .max_connections(config.pool_size.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // A broken connection fails its first query (answered 503) and is replaced; testing
            // every connection before use would add a round trip to every request.
            .test_before_acquire(false)
            .connect_with(queries)
            .await
            .map_err(connect_error)?;
        // The session PostgreSQL holds for LISTEN and for the migrations' advisory lock: both
        // belong to one server connection, which a transaction pooler does not keep for a client.
        let session = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(direct)
            .await
            .map_err(connect_error)?;
        sqlx::migrate!("migrations/postgres").run(&session).await?;
        let (stop, stopped) = watch::channel(());
        Ok(Self {
            pool,
            session,
            listener: ListenerSlot::default(),
            _stop: stop,
            stopped,
            waiting: Waiting::default(),
            listening: watch::Sender::new(false),
        })
    }

    async fn write_tx(&self) -> StoreResult<Tx> {
        Ok(self.pool.begin().await?)
    }

    /// Serialises catalog applies: each reads the stored catalog it replaces.
    async fn lock_catalog(tx: &mut Tx) -> StoreResult<()> {
        sqlx::query("LOCK TABLE catalog_services IN EXCLUSIVE MODE").execute(&mut **tx).await?;
        Ok(())
    }

    /// Keeps an apply out until this grant commits, and waits for one under way: ROW SHARE
    /// conflicts only with the apply's EXCLUSIVE lock, so grants do not wait for each other. Taken
    /// before any other lock of the transaction, so it cannot deadlock with an apply's updates.
    async fn share_catalog(tx: &mut Tx) -> StoreResult<()> {
        sqlx::query("LOCK TABLE catalog_services IN ROW SHARE MODE").execute(&mut **tx).await?;
        Ok(())
    }

    /// Serialises changes to one customer's memberships: under READ COMMITTED, two removals
    /// could otherwise each see the other Full administrator and leave none.
    async fn lock_customer(tx: &mut Tx, customer: &CustomerId) -> StoreResult<()> {
        sqlx::query("SELECT id FROM customers WHERE id = $1 FOR UPDATE")
            .bind(customer.as_str())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Nodes claiming webhook endpoints at once each take a different one.
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";

    /// The oldest transaction still running, as the statement reading the log sees it: every
    /// system-log record written by an older one is committed (or rolled back), and every record
    /// written from now on has a `tx` at least this, so the records below it are a set that no
    /// longer grows. Part of the read, rather than a query before it.
    const LOG_HORIZON: &'static str = "(SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint)";

    async fn announce(tx: &mut Tx, changes: &[Change], at: OffsetDateTime) -> StoreResult<()> {
        if changes.is_empty() {
            return Ok(());
        }
        // The write's time goes first, for the receivers' lag; a decoder skips it as an item of
        // no known kind.
        let written = std::iter::once(format!("{AT_PREFIX}{}", sql::ms(at)));
        let mut payload = written.chain(changes.iter().map(encode)).collect::<Vec<_>>().join(";");
        if payload.len() > MAX_PAYLOAD {
            payload = FLUSH_PAYLOAD.to_owned();
        }
        sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(&mut **tx).await?;
        Ok(())
    }

    fn watch(&self, listener: Arc<dyn ChangeListener>) {
        self.listener.set(listener.clone());
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.get_or_insert_with(HashMap::new);
        }
        tokio::spawn(follow_feed(
            self.pool.clone(),
            self.session.clone(),
            listener,
            self.stopped.clone(),
            self.waiting.clone(),
            self.listening.clone(),
        ));
    }

    async fn caught_up(&self) -> StoreResult<()> {
        let token = trustgate_core::ids::random_uuid();
        let (done, answered) = oneshot::channel();
        match self.waiting.lock().ok().as_deref_mut() {
            Some(Some(waiting)) => waiting.insert(token.clone(), done),
            _ => return Ok(()),
        };
        // A node just started, or whose feed is reconnecting, would not hear its own notification.
        let mut listening = self.listening.subscribe();
        if tokio::time::timeout(SYNC_TIMEOUT, listening.wait_for(|on| *on)).await.is_err() {
            forget(&self.waiting, &token);
            return Err(StoreError::Unavailable("the change feed is not listening".to_owned()));
        }
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(format!("{SYNC_PREFIX}{token}"))
            .execute(&self.pool)
            .await;
        let outcome = match sent {
            Ok(_) => tokio::time::timeout(SYNC_TIMEOUT, answered).await,
            Err(error) => {
                forget(&self.waiting, &token);
                return Err(error.into());
            }
        };
        forget(&self.waiting, &token);
        match outcome {
            Ok(Ok(())) => Ok(()),
            _ => Err(StoreError::Unavailable("the change feed did not confirm in time".to_owned())),
        }
    }

    /// The old row version of a key that was stored raw stays until PostgreSQL vacuums it, and
    /// in its write-ahead log and backups; nothing a client can do here erases those.
    /// docs/operations.md says to rotate with --revoke-previous after upgrading.
    async fn scrub(&self) -> StoreResult<()> {
        Ok(())
    }

    /// Until autovacuum first analyzes a table loaded in bulk, PostgreSQL guesses its statistics,
    /// and at a million secrets it planned the batched last-use update (`touch_clients`) as a
    /// hash join over a scan of the whole `client_secrets` table: 175 ms for 500 secrets where the
    /// primary key takes 4 ms. The bench's seeded store then spent its CPU on those scans for
    /// minutes after each figure.
    async fn analyze(&self) -> StoreResult<()> {
        sqlx::query("ANALYZE").execute(&self.pool).await?;
        Ok(())
    }

    /// The pool, for the SQLite → PostgreSQL copy.
    pub(crate) fn pool(&self) -> &Pool<Postgres> {
        &self.pool
    }
}

fn forget(waiting: &Waiting, token: &str) {
    if let Ok(mut waiting) = waiting.lock() {
        if let Some(waiting) = waiting.as_mut() {
            waiting.remove(token);
        }
    }
}

/// Answers the catch-up waiting for `token`, if it is this node's.
fn answer(waiting: &Waiting, token: &str) {
    let done = waiting.lock().ok().and_then(|mut w| w.as_mut().and_then(|w| w.remove(token)));
    if let Some(done) = done {
        let _ = done.send(());
    }
}

fn encode(change: &Change) -> String {
    let (customer, admin, client) = change.columns();
    format!(
        "{}|{}|{}|{}",
        change.kind(),
        customer.unwrap_or_default(),
        admin.unwrap_or_default(),
        client.unwrap_or_default()
    )
}

/// The unix milliseconds a change payload was written at, when it says.
fn written_at(payload: &str) -> Option<i64> {
    payload.split(';').next()?.strip_prefix(AT_PREFIX)?.parse().ok()
}

fn decode(payload: &str) -> Option<Vec<Change>> {
    if payload == FLUSH_PAYLOAD {
        return None;
    }
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Some(
        payload
            .split(';')
            .filter_map(|item| {
                let mut parts = item.split('|');
                let kind = parts.next()?;
                let (c, a, k) = (some(parts.next()?), some(parts.next()?), some(parts.next()?));
                Change::from_columns(kind, c.as_deref(), a.as_deref(), k.as_deref())
            })
            .collect(),
    )
}

async fn follow_feed(
    pool: Pool<Postgres>,
    session: Pool<Postgres>,
    listener: Arc<dyn ChangeListener>,
    mut stopped: watch::Receiver<()>,
    waiting: Waiting,
    listening: watch::Sender<bool>,
) {
    let mut last_prune = OffsetDateTime::now_utc();
    loop {
        let connected = async {
            let mut feed = PgListener::connect_with(&session).await?;
            feed.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(feed)
        };
        let mut feed = tokio::select! {
            _ = stopped.changed() => return,
            connected = connected => match connected {
                Ok(feed) => feed,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for changes; flushing the authorization cache and retrying");
                    listener.flush();
                    tokio::select! {
                        _ = stopped.changed() => return,
                        _ = tokio::time::sleep(RECONNECT_DELAY) => continue,
                    }
                }
            },
        };
        // Whatever happened before LISTEN took effect may have been missed.
        listener.flush();
        listening.send_replace(true);
        loop {
            let next = tokio::select! {
                _ = stopped.changed() => return,
                next = feed.try_recv() => next,
            };
            match next {
                Ok(Some(notification)) => match notification.payload().strip_prefix(SYNC_PREFIX) {
                    Some(token) => answer(&waiting, token),
                    None => {
                        match decode(notification.payload()) {
                            Some(changes) => listener.changed(&changes),
                            None => listener.flush(),
                        }
                        if let Some(at) = written_at(notification.payload()) {
                            listener.delivered(lag_since(at));
                        }
                    }
                },
                // The connection dropped: notifications may be lost. Listening again from the top
                // flushes once more after LISTEN, so nothing committed in the gap is missed.
                Ok(None) => {
                    listening.send_replace(false);
                    tracing::warn!("the change feed connection was lost; flushing the authorization cache");
                    listener.lost();
                    listener.flush();
                    break;
                }
                Err(error) => {
                    listening.send_replace(false);
                    tracing::warn!(%error, "the change feed failed; flushing the authorization cache and reconnecting");
                    listener.lost();
                    listener.flush();
                    break;
                }
            }
            let now = OffsetDateTime::now_utc();
            if now - last_prune > CHANGE_RETENTION {
                last_prune = now;
                let cutoff = sql::ms(now - CHANGE_RETENTION);
                if let Err(error) = sqlx::query("DELETE FROM changes WHERE at < $1").bind(cutoff).execute(&pool).await {
                    tracing::warn!(%error, "pruning the change feed failed");
                }
            }
        }
        tokio::select! {
            _ = stopped.changed() => return,
            _ = tokio::time::sleep(RECONNECT_DELAY) => {}
        }
    }
}

store_impl!(crate::postgres::PostgresStore, sqlx::Postgres);

#[cfg(test)]
mod tests {
    use trustgate_core::ids::{AdminId, ClientId};

    use super::*;

    /// PostgreSQL's default `max_connections`.
    const POSTGRESQL_MAX_CONNECTIONS: u32 = 100;

    #[test]
    fn eight_nodes_with_the_default_pool_and_their_feeds_fit_postgresqls_default_connections() {
        let per_node = default_pool_size() + 1;
        assert!(8 * per_node < POSTGRESQL_MAX_CONNECTIONS, "8 nodes × {per_node} connections");
        assert!(default_pool_size() >= 4, "a pool too small to overlap a node's queries");
    }

    #[test]
    fn change_payloads_round_trip() {
        let changes = vec![
            Change::ClientDeleted(ClientId::generate()),
            Change::ClientChanged(ClientId::generate()),
            Change::MembershipChanged(CustomerId::generate(), AdminId::generate()),
            Change::AdminChanged(AdminId::generate()),
            Change::CustomerChanged(CustomerId::generate()),
            Change::KeysChanged,
            Change::NotificationsPosted(CustomerId::generate()),
            Change::TokenRevoked("Jti-_0".to_owned()),
            Change::ClientCreated(ClientId::generate()),
            Change::ClientsSeeded,
            Change::CatalogChanged,
            Change::TokensRevokedBefore(ClientId::generate(), 1_700_000_000),
        ];
        let payload = changes.iter().map(encode).collect::<Vec<_>>().join(";");
        assert_eq!(decode(&payload), Some(changes.clone()));
        assert_eq!(decode(FLUSH_PAYLOAD), None);
        let stamped = format!("{AT_PREFIX}1700000000123;{payload}");
        assert_eq!(decode(&stamped), Some(changes), "the write's time is not taken for a change");
        assert_eq!(written_at(&stamped), Some(1_700_000_000_123));
        assert_eq!(written_at(&payload), None);
    }
}
