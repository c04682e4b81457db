//! Trustgate's storage. [`Store`] is what the server needs; [`SqliteStore`] is the embedded
//! default and [`PostgresStore`] the scale-out one. Every write that changes an authorization answer records a [`Change`] in the same
//! transaction and hands it to the [`ChangeListener`] once committed.

mod changes;
mod copy;
mod error;
pub mod files;
mod model;
mod postgres;
mod scratch;
mod sql;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;
use trustgate_core::access::Access;
use trustgate_core::admin::{Admin, AdminStatus, Email};
use trustgate_core::client::ApiClient;
use trustgate_core::custody::KeyAtRest;
use trustgate_core::customer::{Customer, DisabledOwnerPolicy};
use trustgate_core::event::{Actor, LogEntry};
use trustgate_core::ids::{AdminId, ClientId, CustomerId};
use trustgate_core::rights::Standing;
use trustgate_core::secret::SecretVerifier;

pub use changes::{Change, ChangeListener};
pub use copy::copy_sqlite_to_postgres;
pub use error::{StoreError, StoreResult};
pub use model::{ClientGrant, LogQuery, LogRecord, LogView, Member, Membership, Notification, PoolUse, Session};
pub use postgres::PostgresStore;
pub use scratch::{create_scratch_database, drop_scratch_database, sibling_database_url};
pub use sqlite::{SqliteStore, SQLITE_FILE};

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Delivers committed changes to `listener`, including those made by other processes.
    fn watch_changes(&self, listener: Arc<dyn ChangeListener>);
    /// Returns once every change committed (by any process) before the call has been delivered to
    /// the watching listener; at once when nothing watches. The operator CLI has the running server
    /// call this after each write, so the change holds on the very next request.
    async fn catch_up(&self) -> StoreResult<()>;
    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> StoreResult<()>;
    /// How many connections the pool holds now, and how many of them are idle.
    fn pool_use(&self) -> PoolUse;

    async fn create_customer(&self, customer: &Customer, actor: &Actor) -> StoreResult<()>;
    async fn customer(&self, id: &CustomerId) -> StoreResult<Option<Customer>>;
    async fn customers(&self) -> StoreResult<Vec<Customer>>;
    async fn set_disabled_owner_policy(
        &self,
        id: &CustomerId,
        policy: DisabledOwnerPolicy,
        actor: &Actor,
    ) -> StoreResult<()>;

    /// Creates an administrator who belongs to no customer yet.
    async fn create_admin(&self, admin: &Admin, password_hash: Option<&str>) -> StoreResult<()>;
    async fn admin(&self, id: AdminId) -> StoreResult<Option<Admin>>;
    /// The local administrator who signs in with this e-mail (federated ones are never found by e-mail).
    async fn admin_by_email(&self, email: &Email) -> StoreResult<Option<Admin>>;
    /// Every administrator, local or federated, with this e-mail: for the operator CLI.
    async fn admins_with_email(&self, email: &Email) -> StoreResult<Vec<Admin>>;
    async fn password_hash(&self, id: AdminId) -> StoreResult<Option<String>>;
    /// Ends the administrator's sessions in the same transaction.
    async fn set_password_hash(&self, id: AdminId, hash: &str) -> StoreResult<()>;
    /// R7: a status change never deletes clients; it is logged in each of the admin's customers.
    /// Refused for local administrators. Disabling ends the administrator's sessions in the same
    /// transaction.
    async fn set_admin_status(&self, id: AdminId, status: AdminStatus, actor: &Actor) -> StoreResult<()>;
    /// R6: deletes the administrator, all their memberships, clients and sessions, in one transaction.
    /// Returns how many clients were deleted.
    async fn delete_admin(&self, id: AdminId, actor: &Actor) -> StoreResult<usize>;

    /// Adds an existing administrator to `customer`. Like every membership change below, the
    /// actor's authority is read and checked (`trustgate_core::lifecycle`) inside the transaction.
    async fn add_member(&self, customer: &CustomerId, admin: AdminId, access: Access, actor: &Actor)
        -> StoreResult<()>;
    /// Adds the person `candidate` describes to `customer`: the one Trustgate already knows by the
    /// same identity (`lifecycle::Identity`), else `candidate` itself, created with `password_hash`.
    /// Returns the membership and whether the administrator was created.
    async fn add_admin(
        &self,
        customer: &CustomerId,
        candidate: &Admin,
        password_hash: Option<&str>,
        access: Access,
        actor: &Actor,
    ) -> StoreResult<(Member, bool)>;
    async fn member(&self, customer: &CustomerId, admin: AdminId) -> StoreResult<Option<Member>>;
    /// Members ordered by admin id, after `after` (exclusive).
    async fn members(&self, customer: &CustomerId, after: Option<AdminId>, limit: u32) -> StoreResult<Vec<Member>>;
    async fn memberships(&self, admin: AdminId) -> StoreResult<Vec<Membership>>;
    async fn standing(&self, customer: &CustomerId, admin: AdminId) -> StoreResult<Option<Standing>>;
    /// R5: returns the access held before. Refuses to leave a customer without a Full administrator.
    async fn set_access(
        &self,
        customer: &CustomerId,
        admin: AdminId,
        access: Access,
        actor: &Actor,
    ) -> StoreResult<Access>;
    /// R6: ends the membership and deletes the admin's clients in this customer, in one transaction.
    /// Returns how many clients were deleted. Refuses to remove the last Full administrator.
    /// Ends the administrator's sessions if this was their last customer.
    async fn remove_member(&self, customer: &CustomerId, admin: AdminId, actor: &Actor) -> StoreResult<usize>;

    /// Fails with `NotFound` unless the owner is a member of the client's customer (R1), and is
    /// refused when the owner already owns `cap` clients there.
    async fn create_client(
        &self,
        client: &ApiClient,
        verifier: &SecretVerifier,
        cap: u64,
        actor: &Actor,
    ) -> StoreResult<()>;
    async fn client_grant(&self, id: ClientId) -> StoreResult<Option<ClientGrant>>;

    // Bulk seeding (issue #13).
    /// Inserts many clients of existing owners in one transaction with multi-row inserts, for
    /// `trustgate bench`: no owner cap, no system-log record, no change (nothing caches a client
    /// that did not exist). Fails as a whole when an owner is not a member of the customer.
    async fn seed_clients(&self, clients: &[(ApiClient, SecretVerifier)]) -> StoreResult<()>;

    async fn clients_of(&self, customer: &CustomerId, owner: AdminId) -> StoreResult<Vec<ApiClient>>;
    /// Deletes a client only if `owner` owns it in `customer` (R3); false when there is no such client.
    async fn delete_client(
        &self,
        customer: &CustomerId,
        owner: AdminId,
        id: ClientId,
        actor: &Actor,
    ) -> StoreResult<bool>;
    /// Records when clients were last used, many in one transaction.
    async fn touch_clients(&self, uses: &[(ClientId, OffsetDateTime)]) -> StoreResult<()>;

    /// Signing keys as stored, newest first: sealed by the server, never in clear.
    async fn signing_keys(&self) -> StoreResult<Vec<KeyAtRest>>;
    /// Adds a key that signs from now on. Keys superseded for longer than a token's lifetime are
    /// dropped; with `revoke_previous`, every other key is dropped at once, and with it every
    /// token it signed.
    async fn add_signing_key(&self, key: &KeyAtRest, revoke_previous: bool) -> StoreResult<()>;
    /// Replaces the stored form of `key.kid` if it is still `from_format` (sealing a key stored
    /// raw); false when another node did it first.
    async fn reseal_signing_key(&self, key: &KeyAtRest, from_format: &str) -> StoreResult<bool>;

    /// Records that the token `jti` is refused until `expires_at`, when it would have expired
    /// anyway, and announces `Change::TokenRevoked`. Rows already past their expiry are deleted.
    async fn revoke_token(&self, jti: &str, expires_at: OffsetDateTime, now: OffsetDateTime) -> StoreResult<()>;
    /// Tokens revoked that have not expired yet, with their expiry.
    async fn revoked_tokens(&self, now: OffsetDateTime) -> StoreResult<Vec<(String, OffsetDateTime)>>;

    async fn create_session(&self, digest: &[u8], session: &Session, at: OffsetDateTime) -> StoreResult<()>;
    async fn session(&self, digest: &[u8], now: OffsetDateTime) -> StoreResult<Option<Session>>;
    async fn delete_session(&self, digest: &[u8]) -> StoreResult<()>;

    /// Stores a notification and announces `Change::NotificationsPosted` for list caches.
    async fn add_notification(&self, notification: &Notification) -> StoreResult<()>;
    async fn notifications(&self, customer: &CustomerId, limit: u32) -> StoreResult<Vec<Notification>>;

    /// For events that are not part of another write (sign-in and token failures).
    async fn append_log(&self, entry: &LogEntry) -> StoreResult<()>;
    async fn log_records(&self, query: &LogQuery) -> StoreResult<Vec<LogRecord>>;
    /// Deletes system-log records older than `before`, at most `limit` of them, taken from the
    /// oldest written: one short transaction whose cost does not grow with the log. Returns how
    /// many went; fewer than `limit` means nothing older is left at the head of the log.
    async fn prune_log(&self, before: OffsetDateTime, limit: u32) -> StoreResult<u64>;
    /// A page of the log as the console shows it: filtered, and newest first if asked.
    async fn log_view(&self, query: &LogQuery, view: &LogView) -> StoreResult<Vec<LogRecord>>;
}
