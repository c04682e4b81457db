//! The embedded default: one SQLite file in WAL mode under the data directory.
//!
//! Writes run under `BEGIN IMMEDIATE`, so concurrent read-then-write transactions queue on the
//! busy timeout instead of failing at the lock upgrade. Changes committed by this process reach the
//! listener at once; a tailer reads those of other processes (the operator CLI) from the
//! `changes` table, every 200 ms or at once when [`Store::catch_up`] asks.

use std::path::Path;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Pool, Sqlite};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use trustgate_core::ids::CustomerId;

use crate::changes::{lag_since, Change, ChangeListener, ListenerSlot};
use crate::error::{StoreError, StoreResult};
use crate::files;
use crate::sql::{self, store_impl};

/// The database file in the data directory.
pub const SQLITE_FILE: &str = "trustgate.db";
/// How often the tailer looks for changes made by other processes.
const TAIL_INTERVAL: Duration = Duration::from_millis(200);
/// Changes older than this are pruned; every live node has read them long before.
const CHANGE_RETENTION: time::Duration = time::Duration::minutes(10);
/// Rows the tailer reads at a time.
const TAIL_BATCH: u16 = 1000;

/// Asks the tailer to read the feed now; answered once everything committed before has been delivered.
type CatchUp = oneshot::Sender<()>;

type Tx = sqlx::Transaction<'static, Sqlite>;

pub struct SqliteStore {
    pool: Pool<Sqlite>,
    listener: ListenerSlot,
    /// The tailer holds a `Weak` of this and stops once the store is dropped.
    alive: Arc<()>,
    /// Set once a listener watches; `None` means nothing is cached and there is nothing to catch up.
    catch_up: Mutex<Option<mpsc::UnboundedSender<CatchUp>>>,
}

/// How much of the database file each connection keeps in memory: a memory map shared through
/// the operating system's page cache, and SQLite's own page cache, private to the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteMemory {
    pub mmap_bytes: u64,
    pub cache_kib: u32,
}

impl SqliteMemory {
    /// SQLite's defaults: no memory map, about 2 MiB of page cache per connection.
    pub const SQLITE_DEFAULTS: Self = Self { mmap_bytes: 0, cache_kib: 2_000 };
    /// What a node runs with.
    pub const DEFAULT: Self = Self::SQLITE_DEFAULTS;
}

impl SqliteStore {
    /// Whether `data_dir` holds a store; operator commands refuse to create an empty one.
    pub fn exists(data_dir: &Path) -> bool {
        data_dir.join(SQLITE_FILE).is_file()
    }

    /// Opens (creating if needed) the store under `data_dir` and brings its schema up to date.
    pub async fn open(data_dir: &Path) -> StoreResult<Self> {
        Self::open_with(data_dir, SqliteMemory::DEFAULT).await
    }

    /// [`open`](Self::open), each connection keeping `memory` of the file: the bench compares
    /// settings with it.
    pub async fn open_with(data_dir: &Path, memory: SqliteMemory) -> StoreResult<Self> {
        files::create_private_dir(data_dir).map_err(|e| {
            StoreError::Unavailable(format!("cannot create the data directory {}: {e}", data_dir.display()))
        })?;
        let db = data_dir.join(SQLITE_FILE);
        // SQLite gives its -wal and -shm files the database file's mode, so creating that one
        // private first makes all three private.
        files::create_private_file(&db)
            .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", db.display())))?;
        for suffix in ["", "-wal", "-shm"] {
            let path = data_dir.join(format!("{SQLITE_FILE}{suffix}"));
            files::restrict_to_owner(&path)
                .map_err(|e| StoreError::Unavailable(format!("cannot make {} private: {e}", path.display())))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(db)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Deleted and overwritten content (a key stored raw before it was sealed) is zeroed
            // rather than left in the page, wherever that costs no extra I/O.
            .pragma("secure_delete", "FAST")
            // Writers queue here (BEGIN IMMEDIATE). An operator command shares the file with a
            // running server, whose writers a starved CPU can hold past 5 s: wait, rather than fail.
            .busy_timeout(Duration::from_secs(30))
            .pragma("mmap_size", memory.mmap_bytes.to_string())
            // Negative: in KiB rather than pages.
            .pragma("cache_size", format!("-{}", memory.cache_kib));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // sqlx would ping each connection as it leaves the pool: on SQLite a round trip to the
            // connection's worker thread, two context switches that doubled the cost of a
            // one-statement read (issue #26), to learn what a file that cannot hang up never says.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(Self { pool, listener: ListenerSlot::default(), alive: Arc::new(()), catch_up: Mutex::new(None) })
    }

    async fn write_tx(&self) -> StoreResult<Tx> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// `BEGIN IMMEDIATE` already serialises catalog applies.
    async fn lock_catalog(_tx: &mut Tx) -> StoreResult<()> {
        Ok(())
    }

    /// `BEGIN IMMEDIATE` already serialises a grant with an apply.
    async fn share_catalog(_tx: &mut Tx) -> StoreResult<()> {
        Ok(())
    }

    /// `BEGIN IMMEDIATE` already serialises every write.
    async fn lock_customer(_tx: &mut Tx, _customer: &CustomerId) -> StoreResult<()> {
        Ok(())
    }

    /// Claims hold the write lock (`BEGIN IMMEDIATE`): there is no row lock to skip.
    const SKIP_LOCKED: &'static str = "";

    /// One writer at a time: every record visible is committed, in `seq` order, and `tx` is 0.
    const LOG_HORIZON: &'static str = "9223372036854775807";

    /// SQLite has no server to notify: other processes find the rows through their tailers.
    async fn announce(_tx: &mut Tx, _changes: &[Change], _at: OffsetDateTime) -> StoreResult<()> {
        Ok(())
    }

    /// SQLite's own advice for a long-lived connection: analyzes what the planner would use and
    /// has changed much, within a bounded effort.
    async fn analyze(&self) -> StoreResult<()> {
        sqlx::query("PRAGMA optimize").execute(&self.pool).await?;
        Ok(())
    }

    /// After a key stored raw was sealed: the WAL still holds earlier page images; checkpoint it
    /// into the database (where `secure_delete` zeroed the old bytes) and truncate it.
    async fn scrub(&self) -> StoreResult<()> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await?;
        Ok(())
    }

    /// Writes a consistent copy of the whole database to `target`, a new file (mode 0600),
    /// while other connections and processes keep reading and writing. `VACUUM INTO` reads
    /// one snapshot (WAL mode lets writers go on meanwhile) and writes a compact database with no
    /// write-ahead log to replay. The copy is made under a temporary name, checked, synced and
    /// only then linked as `target` (never replacing a file there), so `target` is either
    /// complete or absent.
    pub async fn backup_to(&self, target: &Path) -> StoreResult<()> {
        // The target file, not the database: a failure to write it is the command's (exit 1).
        let unavailable = |what: &str, e: std::io::Error| StoreError::Internal(format!("{what}: {e}"));
        let file_name = target
            .file_name()
            .ok_or_else(|| StoreError::Unavailable(format!("{} is not a file name", target.display())))?;
        let mut partial_name = file_name.to_os_string();
        partial_name.push(".partial");
        let partial = target.with_file_name(partial_name);
        // SQLite writes into an existing empty file and keeps its mode: created private here.
        files::create_new_private_file(&partial)
            .map_err(|e| unavailable(&format!("cannot create {}", partial.display()), e))?;
        let copied = self.vacuum_into(&partial).await;
        let finished = copied.and_then(|()| {
            std::fs::File::open(&partial)
                .and_then(|file| file.sync_all())
                .and_then(|()| std::fs::hard_link(&partial, target))
                .map_err(|e| unavailable(&format!("cannot create {}", target.display()), e))
        });
        let _ = std::fs::remove_file(&partial);
        finished
    }

    async fn vacuum_into(&self, partial: &Path) -> StoreResult<()> {
        let path = partial
            .to_str()
            .ok_or_else(|| StoreError::Unavailable(format!("{} is not a UTF-8 path", partial.display())))?;
        sqlx::query("VACUUM INTO $1").bind(path).execute(&self.pool).await?;
        let copy = SqliteConnectOptions::new().filename(partial).read_only(true);
        let mut connection = SqliteConnection::connect_with(&copy).await?;
        let (verdict,): (String,) = sqlx::query_as("PRAGMA quick_check").fetch_one(&mut connection).await?;
        connection.close().await?;
        if verdict != "ok" {
            return Err(StoreError::Internal(format!("the copy failed its integrity check: {verdict}")));
        }
        Ok(())
    }

    /// The pool, for the SQLite → PostgreSQL copy.
    pub(crate) fn pool(&self) -> &Pool<Sqlite> {
        &self.pool
    }

    fn watch(&self, listener: Arc<dyn ChangeListener>) {
        self.listener.set(listener.clone());
        let (requests, received) = mpsc::unbounded_channel();
        if let Ok(mut slot) = self.catch_up.lock() {
            *slot = Some(requests);
        }
        tokio::spawn(tail_changes(self.pool.clone(), listener, Arc::downgrade(&self.alive), received));
    }

    async fn caught_up(&self) -> StoreResult<()> {
        let Some(requests) = self.catch_up.lock().ok().and_then(|slot| slot.clone()) else { return Ok(()) };
        let (done, answered) = oneshot::channel();
        requests.send(done).map_err(|_| StoreError::Unavailable("the change feed tailer stopped".to_owned()))?;
        answered.await.map_err(|_| StoreError::Unavailable("the change feed could not be read".to_owned()))
    }
}

async fn tail_changes(
    pool: Pool<Sqlite>,
    listener: Arc<dyn ChangeListener>,
    alive: Weak<()>,
    mut requests: mpsc::UnboundedReceiver<CatchUp>,
) {
    let mut last_seq = match sqlx::query_as::<_, (Option<i64>,)>("SELECT MAX(seq) FROM changes").fetch_one(&pool).await
    {
        Ok((seq,)) => seq.unwrap_or(0),
        Err(_) => 0,
    };
    let mut ticks: u32 = 0;
    while alive.upgrade().is_some() {
        let mut waiting = Vec::new();
        tokio::select! {
            _ = tokio::time::sleep(TAIL_INTERVAL) => {}
            Some(first) = requests.recv() => waiting.push(first),
        }
        while let Ok(more) = requests.try_recv() {
            waiting.push(more);
        }
        // A waiter is answered only once the feed is read to its end, or not at all when reading
        // fails: its caller must not report the change as enforced.
        if read_feed(&pool, listener.as_ref(), &mut last_seq).await {
            for done in waiting {
                let _ = done.send(());
            }
        }
        ticks = ticks.wrapping_add(1);
        if ticks.is_multiple_of(300) {
            let cutoff = sql::ms(OffsetDateTime::now_utc() - CHANGE_RETENTION);
            if let Err(error) = sqlx::query("DELETE FROM changes WHERE at < $1").bind(cutoff).execute(&pool).await {
                tracing::warn!(%error, "pruning the change feed failed");
            }
        }
    }
}

/// A row of the change feed; `at` is the write's time in unix ms.
#[derive(sqlx::FromRow)]
struct FeedRow {
    seq: i64,
    kind: String,
    customer_id: Option<String>,
    admin_id: Option<String>,
    client_id: Option<String>,
    at: i64,
}

/// Delivers every change after `last_seq`; false (after flushing the listener) when reading fails.
async fn read_feed(pool: &Pool<Sqlite>, listener: &dyn ChangeListener, last_seq: &mut i64) -> bool {
    loop {
        let rows = sqlx::query_as::<_, FeedRow>(
            "SELECT seq, kind, customer_id, admin_id, client_id, at FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(*last_seq)
        .bind(i64::from(TAIL_BATCH))
        .fetch_all(pool)
        .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "reading the change feed failed; flushing the authorization cache");
                listener.lost();
                listener.flush();
                return false;
            }
        };
        if let Some(last) = rows.last() {
            *last_seq = last.seq;
        }
        let changes: Vec<Change> = rows
            .iter()
            .filter_map(|row| {
                Change::from_columns(
                    &row.kind,
                    row.customer_id.as_deref(),
                    row.admin_id.as_deref(),
                    row.client_id.as_deref(),
                )
            })
            .collect();
        if !changes.is_empty() {
            listener.changed(&changes);
        }
        if let Some(last) = rows.last() {
            listener.delivered(lag_since(last.at));
        }
        if rows.len() < usize::from(TAIL_BATCH) {
            return true;
        }
    }
}

store_impl!(crate::sqlite::SqliteStore, sqlx::Sqlite);
