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
use trustgate_core::client_secrets::{NewSecret, SecretInfo};
use trustgate_core::custody::KeyAtRest;
use trustgate_core::customer::{Customer, DisabledOwnerPolicy, LostAccessPolicy};
use trustgate_core::event::{Actor, LogEntry};
use trustgate_core::federation::IdentityProvider;
use trustgate_core::ids::{AdminId, ClientId, CustomerId, PasskeyId, ProviderId, ScimTokenId};
use trustgate_core::provisioning::ScimToken;
use trustgate_core::rights::Standing;
use trustgate_core::secret::{SecretId, ServerKeyId};

pub use changes::{Change, ChangeListener};
pub use copy::{copy_sqlite_to_postgres, CopiedTable, NOT_COPIED as NOT_COPIED_TO_POSTGRES};
pub use error::{StoreError, StoreResult};
pub use model::{
    CatalogApplied, ClientGrant, DisabledOwner, ExpiringSecret, GroupFilter, GroupWrite, Invitation, InvitationTerms,
    LogQuery, LogRecord, LogView, Member, Membership, Notification, Pending, PendingSignIn, PoolUse, ScimFilter,
    ScimUser, ScimUserWrite, ServerKeyUse, Session, Stripped, TotpEnrolment,
};
pub use model::{Ceremony, StoredPasskey};
pub use postgres::{default_pool_size, PostgresConfig, PostgresStore};
pub use scratch::{create_scratch_database, drop_scratch_database, sibling_database_url};
pub use sql::siem::SiemClaim;
pub use sql::system_log::{LogPosition, PositionedRecord};
pub use sql::webhooks::{ResealedWebhook, WebhookAttempt, WebhookClaim, WebhookProgress};
pub use sqlite::{SqliteMemory, SqliteStore, SQLITE_FILE};

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

    /// Whether the customer's local administrators must hold a second factor (issue #25).
    async fn set_local_mfa_policy(&self, id: &CustomerId, required: bool, actor: &Actor) -> StoreResult<()>;

    /// What happens to a member whom a change to their groups leaves with no access (issue #25);
    /// a Full administrator's or the operator's choice, checked in the transaction.
    async fn set_lost_access_policy(&self, id: &CustomerId, policy: LostAccessPolicy, actor: &Actor)
        -> StoreResult<()>;

    // --- A second factor for administrators who sign in with a password (issue #25).
    /// The administrator's TOTP factor, confirmed or still being enrolled.
    async fn totp(&self, admin: AdminId) -> StoreResult<Option<TotpEnrolment>>;
    /// Starts (or starts over) an enrolment with a new sealed secret; false, and nothing written,
    /// when the administrator holds a confirmed factor (only a reset removes that).
    async fn begin_totp(&self, admin: AdminId, sealed: &[u8], at: OffsetDateTime) -> StoreResult<bool>;
    /// Confirms the enrolment of `sealed` with the time step of the code entered, replaces the
    /// recovery codes with `recovery` (keyed digests) and logs it in each of the admin's customers;
    /// false when that enrolment is no longer the one under way.
    async fn confirm_totp(
        &self,
        admin: &Admin,
        sealed: &[u8],
        step: i64,
        recovery: &[[u8; 32]],
        at: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Spends a code's time step: false when that step or a later one was used already (a replay).
    async fn spend_totp_step(&self, admin: AdminId, step: i64) -> StoreResult<bool>;
    /// Spends the unused recovery code stored under one of `digests` and logs it; how many remain,
    /// or `None` when none of them is an unused code of the administrator.
    async fn spend_recovery_code(
        &self,
        admin: &Admin,
        digests: &[[u8; 32]],
        at: OffsetDateTime,
    ) -> StoreResult<Option<u64>>;
    /// Another Full administrator of `customer` (or the operator) removes the second factor of
    /// its member `admin`, ending their sessions and logging it with the actor; false when they had none.
    async fn reset_second_factor(&self, customer: &CustomerId, admin: AdminId, actor: &Actor) -> StoreResult<bool>;
    /// Every administrator's sealed TOTP secret, for resealing under a new server key.
    async fn sealed_totp_secrets(&self) -> StoreResult<Vec<(AdminId, Vec<u8>)>>;
    /// Replaces each (admin, sealed, new sealed) secret that is still the one read; how many were.
    async fn reseal_totp_secrets(&self, resealed: &[(AdminId, Vec<u8>, Vec<u8>)]) -> StoreResult<u64>;

    // --- Passkeys (WebAuthn) of local administrators (issue #25).
    /// The administrator's passkeys, oldest first.
    async fn passkeys(&self, admin: AdminId) -> StoreResult<Vec<StoredPasskey>>;
    /// Adds a passkey and logs it in each of the admin's customers; false, and nothing written, when
    /// its credential id is registered already (to anyone).
    async fn add_passkey(&self, admin: &Admin, passkey: &StoredPasskey) -> StoreResult<bool>;
    /// Records a sign-in with the credential `credential_id` of `admin`: its new counter and state.
    /// False when it is not theirs, or its counter did not move on (both nonzero and not above the
    /// stored one), which may be a cloned authenticator or a replay.
    async fn use_passkey(
        &self,
        admin: AdminId,
        credential_id: &[u8],
        sign_count: i64,
        passkey: &str,
        at: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Deletes one of the administrator's own passkeys and logs it; false when they hold no such one.
    async fn delete_passkey(&self, admin: &Admin, id: PasskeyId, at: OffsetDateTime) -> StoreResult<bool>;
    /// Keeps a WebAuthn ceremony's state under `binding` until `expires_at`, replacing one under
    /// way there; expired ceremonies are dropped on the way.
    async fn put_ceremony(
        &self,
        binding: &[u8],
        admin: Option<AdminId>,
        state: &str,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Takes the ceremony under `binding`, once: it is deleted as it is read; `None` when there is
    /// none or it expired before `now`.
    async fn take_ceremony(&self, binding: &[u8], now: OffsetDateTime) -> StoreResult<Option<Ceremony>>;

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
    /// With `invite`, a person `lifecycle::needs_invitation` names joins as a pending member
    /// (issue #12) instead, unless created here with `password_hash` (the operator vouches for a new
    /// account and chose its password): a local account that exists already is always invited, as it
    /// joins only by signing in as itself (issue #20). Returns the membership and whether the
    /// administrator was created.
    async fn add_admin(
        &self,
        customer: &CustomerId,
        candidate: &Admin,
        password_hash: Option<&str>,
        access: Access,
        invite: Option<&InvitationTerms>,
        actor: &Actor,
    ) -> StoreResult<(Member, bool)>;
    async fn member(&self, customer: &CustomerId, admin: AdminId) -> StoreResult<Option<Member>>;
    /// Members ordered by admin id, after `after` (exclusive).
    async fn members(&self, customer: &CustomerId, after: Option<AdminId>, limit: u32) -> StoreResult<Vec<Member>>;
    async fn memberships(&self, admin: AdminId) -> StoreResult<Vec<Membership>>;
    async fn standing(&self, customer: &CustomerId, admin: AdminId) -> StoreResult<Option<Standing>>;
    /// R5: returns the access held before. On a pending member, changes what the invitation offers. Refuses to leave a customer without a Full administrator.
    async fn set_access(
        &self,
        customer: &CustomerId,
        admin: AdminId,
        access: Access,
        actor: &Actor,
    ) -> StoreResult<Access>;
    /// R6: ends the membership and deletes the admin's clients in this customer, in one transaction.
    /// Returns how many clients were deleted. Refuses to remove the last Full administrator.
    /// Ends the administrator's sessions if this was their last customer. On a pending member, cancels
    /// the invitation.
    async fn remove_member(&self, customer: &CustomerId, admin: AdminId, actor: &Actor) -> StoreResult<usize>;

    // Invitations for local administrators (issue #12). A pending membership grants nothing:
    // `standing`, `memberships`, `client_grant` and every authority check skip it.

    /// Replaces a pending member's invitation link (the previous one stops working) and its expiry.
    async fn resend_invitation(
        &self,
        customer: &CustomerId,
        admin: AdminId,
        terms: &InvitationTerms,
        actor: &Actor,
    ) -> StoreResult<Member>;
    /// Cancels the pending invitation of the member `customer` knows by `email`; false when there is none.
    async fn cancel_invitation(&self, customer: &CustomerId, email: &Email, actor: &Actor) -> StoreResult<bool>;
    /// The invitation whose token has `verifier`, expired or not; `None` once accepted, cancelled
    /// or replaced.
    async fn invitation(&self, verifier: &[u8; 32]) -> StoreResult<Option<Invitation>>;
    /// Accepts the invitation: from now the membership grants its access. `password_hash` becomes
    /// the password of an invitee who has none (and is required then). For an invitee who has one,
    /// pass `None`, having checked that password first (issue #20: an existing account joins only by
    /// signing in as itself); a hash given for such an invitee is refused, never stored.
    async fn accept_invitation(
        &self,
        verifier: &[u8; 32],
        password_hash: Option<&str>,
        now: OffsetDateTime,
    ) -> StoreResult<Invitation>;
    /// Writes each invitation that expired unaccepted to its customer's system log, once. Returns how many.
    async fn log_expired_invitations(&self, now: OffsetDateTime) -> StoreResult<u64>;

    /// Fails with `NotFound` unless the owner is a member of the client's customer (R1), and is
    /// refused when the owner already owns `cap` clients there, or one of the same name (ignoring
    /// case, `lifecycle::name_client`). The client is created with `secret`, its first.
    async fn create_client(&self, client: &ApiClient, secret: &NewSecret, cap: u64, actor: &Actor) -> StoreResult<()>;
    async fn client_grant(&self, id: ClientId) -> StoreResult<Option<ClientGrant>>;

    // Bulk seeding (issue #13).
    /// Inserts many clients of existing owners in one transaction with multi-row inserts, for
    /// `trustgate bench`: no owner cap, no system-log record, no change (nothing caches a client
    /// that did not exist). Fails as a whole when an owner is not a member of the customer.
    async fn seed_clients(&self, clients: &[(ApiClient, NewSecret)]) -> StoreResult<()>;
    /// Brings the query planner's statistics up to date, after a bulk load (seeding, a copy).
    async fn refresh_statistics(&self) -> StoreResult<()>;

    async fn clients_of(&self, customer: &CustomerId, owner: AdminId) -> StoreResult<Vec<ApiClient>>;
    /// Deletes a client only if `owner` owns it in `customer` (R3); false when there is no such client.
    async fn delete_client(
        &self,
        customer: &CustomerId,
        owner: AdminId,
        id: ClientId,
        actor: &Actor,
    ) -> StoreResult<bool>;
    /// Records when clients were last used, and with which secret, many in one transaction.
    async fn touch_clients(&self, uses: &[(ClientId, SecretId, OffsetDateTime)]) -> StoreResult<()>;

    // ---- Client secrets (issue #11: several per client, expiry, rotation) ----
    // Each call reads the actor's standing in the transaction that acts, and asks
    // `client_secrets::may_manage`: a client the actor may not manage is `NotFound` (R3).

    /// The client's secrets, oldest first.
    async fn client_secrets(
        &self,
        customer: &CustomerId,
        client: ClientId,
        actor: &Actor,
    ) -> StoreResult<Vec<SecretInfo>>;
    /// Adds a secret (at most `client_secrets::MAX_SECRETS_PER_CLIENT`); announces
    /// `Change::SecretsChanged`.
    async fn add_client_secret(
        &self,
        customer: &CustomerId,
        client: ClientId,
        secret: &NewSecret,
        actor: &Actor,
    ) -> StoreResult<SecretInfo>;
    /// Deletes a secret: it can no longer grant, on any node, from the commit on. Refused for the
    /// client's last secret. Tokens already issued with it stay valid until they expire.
    async fn delete_client_secret(
        &self,
        customer: &CustomerId,
        client: ClientId,
        secret: SecretId,
        actor: &Actor,
    ) -> StoreResult<()>;
    /// Secrets, not yet warned about, that expire after `now` and by `by`; at most `limit`.
    async fn expiring_secrets(
        &self,
        now: OffsetDateTime,
        by: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ExpiringSecret>>;
    /// Secrets expired by `now` whose expiry is not logged yet; at most `limit`.
    async fn expired_secrets(&self, now: OffsetDateTime, limit: u32) -> StoreResult<Vec<ExpiringSecret>>;
    /// Stores the expiry warning of a secret (its notifications and system-log record) unless one
    /// was stored already, by this node or another: true when this call stored it.
    async fn warn_secret_expiry(
        &self,
        client: ClientId,
        secret: SecretId,
        notifications: &[Notification],
        at: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Logs a secret's expiry (R10) unless it is logged already: true when this call logged it.
    async fn log_secret_expired(&self, client: ClientId, secret: SecretId, at: OffsetDateTime) -> StoreResult<bool>;
    // ---- end of client secrets ----

    // --- Service principals (issue #11): API clients that belong to their customer and no
    // administrator (SP1). Every rule is decided in `trustgate_core::lifecycle`, with the actor's
    // authority read in the transaction that applies it.

    /// Creates a service principal (`principal.kind` is `ServicePrincipal`): only a Full
    /// administrator or the operator may (SP3), with access within their own (SP2), up to
    /// `PRINCIPALS_PER_CUSTOMER_MAX` per customer.
    async fn create_principal(&self, principal: &ApiClient, secret: &NewSecret, actor: &Actor) -> StoreResult<()>;
    /// The customer's service principals ordered by id, after `after` (exclusive): all of them,
    /// to any Full administrator (SP3).
    async fn principals(
        &self,
        customer: &CustomerId,
        after: Option<ClientId>,
        limit: u32,
        actor: &Actor,
    ) -> StoreResult<Vec<ApiClient>>;
    /// One service principal, to a Full administrator; `None` when `id` is none of the customer's.
    async fn principal(&self, customer: &CustomerId, id: ClientId, actor: &Actor) -> StoreResult<Option<ApiClient>>;
    /// SP2, SP4: returns the access held before; tokens already issued follow on their next call.
    async fn set_principal_access(
        &self,
        customer: &CustomerId,
        id: ClientId,
        access: Access,
        actor: &Actor,
    ) -> StoreResult<Access>;
    /// SP4: its tokens fail at once. False when `id` is none of the customer's principals.
    async fn delete_principal(&self, customer: &CustomerId, id: ClientId, actor: &Actor) -> StoreResult<bool>;
    /// SP7: turns the secure client `id` into a service principal holding its owner's access as it
    /// is now, keeping its id and secret. Its owner or a Full administrator may; to anyone else
    /// the client does not exist (R3).
    async fn convert_to_principal(&self, customer: &CustomerId, id: ClientId, actor: &Actor) -> StoreResult<ApiClient>;

    /// Signing keys as stored, newest first: sealed by the server, never in clear.
    async fn signing_keys(&self) -> StoreResult<Vec<KeyAtRest>>;
    /// Adds a key that signs from now on. Keys superseded for longer than a token's lifetime are
    /// dropped; with `revoke_previous`, every other key is dropped at once, and with it every
    /// token it signed.
    async fn add_signing_key(&self, key: &KeyAtRest, revoke_previous: bool) -> StoreResult<()>;
    /// Replaces the stored form of `key.kid` if it is still `from_format` (sealing a key stored
    /// raw); false when another node did it first.
    async fn reseal_signing_key(&self, key: &KeyAtRest, from_format: &str) -> StoreResult<bool>;

    // --- The server key's rotation ---
    /// Records `key` as the server key of every client secret, resource-server secret and SCIM
    /// token stored before records named their key; how many were stamped.
    async fn stamp_server_key(&self, key: &ServerKeyId) -> StoreResult<u64>;
    /// How many records depend on each server key (`None`: made before records named their key).
    async fn server_key_use(&self) -> StoreResult<Vec<ServerKeyUse>>;
    /// In one transaction: replaces the sealed form of each signing key and each identity
    /// provider's client secret (resealed under the new server key), ends every console session
    /// (their ids are digested under the old key), and writes `entries` to the system log;
    /// announces `Change::KeysChanged`. Returns how many sessions ended.
    async fn reseal_under_server_key(
        &self,
        keys: &[KeyAtRest],
        providers: &[(ProviderId, Vec<u8>)],
        entries: &[LogEntry],
    ) -> StoreResult<u64>;

    /// Records that `client`'s token `jti` is refused until `expires_at`, when it would have expired
    /// anyway, and announces `Change::TokenRevoked`; rows already past their expiry are deleted.
    /// Once the client has `cap` revoked tokens that have not expired, the revocation becomes a
    /// "not before" time for the client instead (every token of the client issued at or before
    /// `now`'s second is refused) and the client's rows go, so the list stays bounded: at most
    /// `cap` rows a client.
    async fn revoke_token(
        &self,
        client: ClientId,
        jti: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
        cap: u64,
    ) -> StoreResult<()>;
    /// Tokens revoked that have not expired yet, with their expiry.
    async fn revoked_tokens(&self, now: OffsetDateTime) -> StoreResult<Vec<(String, OffsetDateTime)>>;
    /// Clients whose tokens issued at or before a unix second are revoked, while such tokens can
    /// still be alive: (client, that second, until when).
    async fn revoked_before(&self, now: OffsetDateTime) -> StoreResult<Vec<(ClientId, i64, OffsetDateTime)>>;

    async fn create_session(&self, digest: &[u8], session: &Session, at: OffsetDateTime) -> StoreResult<()>;
    async fn session(&self, digest: &[u8], now: OffsetDateTime) -> StoreResult<Option<Session>>;
    async fn delete_session(&self, digest: &[u8]) -> StoreResult<()>;

    /// Stores a notification and announces `Change::NotificationsPosted` for list caches.
    async fn add_notification(&self, notification: &Notification) -> StoreResult<()>;
    async fn notifications(&self, customer: &CustomerId, limit: u32) -> StoreResult<Vec<Notification>>;

    /// For events that are not part of another write (sign-in and token failures).
    async fn append_log(&self, entry: &LogEntry) -> StoreResult<()>;
    async fn log_records(&self, query: &LogQuery) -> StoreResult<Vec<LogRecord>>;
    /// The records after `after` in (tx, seq) order, of `customer` or of every customer: only
    /// those whose transactions are over, so no record can later appear before one returned.
    /// What webhooks and SIEM streams read the log as an outbox with.
    async fn log_after(
        &self,
        customer: Option<&CustomerId>,
        after: LogPosition,
        limit: u32,
    ) -> StoreResult<Vec<PositionedRecord>>;
    /// Deletes system-log records older than `before`, at most `limit` of them, taken from the
    /// oldest written: one short transaction whose cost does not grow with the log. Returns how
    /// many went; fewer than `limit` means nothing older is left at the head of the log.
    async fn prune_log(&self, before: OffsetDateTime, limit: u32) -> StoreResult<u64>;
    /// A page of the log as the console shows it: filtered, and newest first if asked.
    async fn log_view(&self, query: &LogQuery, view: &LogView) -> StoreResult<Vec<LogRecord>>;

    // --- SCIM provisioning and the R7 warning (issue 12) ---
    /// Stores a customer's provisioning token by the keyed digest of its clear text.
    async fn create_scim_token(
        &self,
        token: &ScimToken,
        digest: &[u8],
        server_key: &ServerKeyId,
        actor: &Actor,
    ) -> StoreResult<()>;
    async fn scim_tokens(&self, customer: &CustomerId) -> StoreResult<Vec<ScimToken>>;
    /// The token with this digest; read on every SCIM request, so a revocation holds at once on every node.
    async fn scim_token(&self, digest: &[u8]) -> StoreResult<Option<ScimToken>>;
    /// False when the customer has no such token.
    async fn revoke_scim_token(&self, customer: &CustomerId, id: ScimTokenId, actor: &Actor) -> StoreResult<bool>;
    /// How many provisioned administrators match, and the page of them from `offset` (0-based).
    async fn scim_users(
        &self,
        customer: &CustomerId,
        filter: &ScimFilter,
        offset: u64,
        limit: u32,
    ) -> StoreResult<(u64, Vec<ScimUser>)>;
    async fn scim_user(&self, customer: &CustomerId, admin: AdminId) -> StoreResult<Option<ScimUser>>;
    /// Creates `candidate` (federated from the token's provider) and makes them a member of
    /// `customer` with no access (`provisioning::provisioned_access`); refused when the provider's
    /// subject (`externalId`) or the e-mail is already known.
    async fn provision_user(
        &self,
        customer: &CustomerId,
        candidate: &Admin,
        write: &ScimUserWrite,
        actor: &Actor,
    ) -> StoreResult<ScimUser>;
    /// Replaces what the provider said; a change of `active` disables or enables the administrator
    /// (R7, as `set_admin_status`). With `if_version`, refused with `Stale` unless it is current.
    async fn update_scim_user(
        &self,
        customer: &CustomerId,
        admin: AdminId,
        write: &ScimUserWrite,
        if_version: Option<&str>,
        actor: &Actor,
    ) -> StoreResult<ScimUser>;
    /// Removes the administrator from `customer` (R6: their clients there are deleted at once),
    /// and deletes them altogether if it was their last customer. Returns the clients deleted.
    async fn deprovision_user(
        &self,
        customer: &CustomerId,
        admin: AdminId,
        if_version: Option<&str>,
        actor: &Actor,
    ) -> StoreResult<usize>;
    /// Disabled administrators of `customer` whose API clients are active under its policy (R7),
    /// with how many clients each; empty when the customer suspends such clients.
    async fn disabled_owners(&self, customer: &CustomerId) -> StoreResult<Vec<DisabledOwner>>;
    // --- Groups of administrators (issue #25). Their members are members of the customer; a
    // member holds their own access joined with their groups' (`access::joined`), and every
    // change to a group rewrites, in its transaction, what each member affected holds, applies
    // what it means to their clients (`group::member_outcome`: R5, or R6 when they lost their
    // last access, with their removal from the customer unless it keeps them: `LostAccessPolicy`)
    // and announces `Change::MembershipChanged` for each. Only Full administrators,
    // the operator and the customer's identity provider change groups; only the first two their
    // access.

    /// Creates `group` with its members (each a member of its customer, else `NotFound`).
    async fn create_group(
        &self,
        group: &trustgate_core::group::AdminGroup,
        actor: &Actor,
    ) -> StoreResult<trustgate_core::group::AdminGroup>;
    async fn group(
        &self,
        customer: &CustomerId,
        id: trustgate_core::ids::GroupId,
    ) -> StoreResult<Option<trustgate_core::group::AdminGroup>>;
    /// How many groups match, and the page of them from `offset` (0-based), oldest first.
    async fn groups(
        &self,
        customer: &CustomerId,
        filter: &GroupFilter,
        offset: u64,
        limit: u32,
    ) -> StoreResult<(u64, Vec<trustgate_core::group::AdminGroup>)>;
    /// Replaces the group's name, external id, members and SCIM document. With `if_version`,
    /// refused with `Stale` unless it is current.
    async fn replace_group(
        &self,
        customer: &CustomerId,
        id: trustgate_core::ids::GroupId,
        write: &GroupWrite,
        if_version: Option<&str>,
        actor: &Actor,
    ) -> StoreResult<trustgate_core::group::AdminGroup>;
    /// False when the customer has no such group.
    async fn delete_group(
        &self,
        customer: &CustomerId,
        id: trustgate_core::ids::GroupId,
        if_version: Option<&str>,
        actor: &Actor,
    ) -> StoreResult<bool>;
    /// Returns the access the group held before.
    async fn set_group_access(
        &self,
        customer: &CustomerId,
        id: trustgate_core::ids::GroupId,
        access: Access,
        actor: &Actor,
    ) -> StoreResult<Access>;
    /// Makes `admin` a member of exactly the customer's groups that `claimed` names (a sign-in's
    /// `groups` claim): by external id, else by display name regardless of case. False when that
    /// left them no access and the customer removed them for it (`LostAccessPolicy`).
    async fn sync_claimed_groups(
        &self,
        customer: &CustomerId,
        admin: AdminId,
        claimed: &[String],
        actor: &Actor,
    ) -> StoreResult<bool>;
    // --- end of groups ---

    // --- OpenID Connect sign-in (issue #12) ---
    /// Connects a customer to an OpenID provider; Full administrators (or the operator) only, read
    /// in the transaction. One connection per issuer and customer (`Conflict` otherwise).
    async fn connect_provider(&self, provider: &IdentityProvider, actor: &Actor) -> StoreResult<()>;
    /// Removes the connection and ends the sessions opened through the customer's providers;
    /// false when the customer has no such connection.
    async fn disconnect_provider(&self, customer: &CustomerId, id: ProviderId, actor: &Actor) -> StoreResult<bool>;
    async fn identity_provider(&self, id: ProviderId) -> StoreResult<Option<IdentityProvider>>;
    /// The customer's connections, oldest first.
    async fn identity_providers(&self, customer: &CustomerId) -> StoreResult<Vec<IdentityProvider>>;
    /// The connections of every customer where a federated administrator of the connection's
    /// type has this e-mail, for the sign-in page to offer.
    async fn providers_for_email(&self, email: &Email) -> StoreResult<Vec<IdentityProvider>>;
    /// Records a sign-in sent to a provider, under the keyed digest of its `state`; expired ones
    /// are deleted on the way.
    async fn begin_sign_in(&self, state_digest: &[u8], pending: &PendingSignIn, now: OffsetDateTime)
        -> StoreResult<()>;
    /// Takes (and deletes) the sign-in of this `state`: each is answered once.
    async fn take_sign_in(&self, state_digest: &[u8], now: OffsetDateTime) -> StoreResult<Option<PendingSignIn>>;
    /// The administrator of `provider`'s customer whom the provider vouched for as `subject`: the
    /// one linked to (issuer, subject), else — linked now, in the same transaction — the only
    /// administrator there of the provider's type with that subject as external id, else the only
    /// one of that type with no external id yet whose e-mail in this customer is `verified_email`
    /// (who then gets `subject` as external id). `None` when nobody matches, or the person linked
    /// is not an administrator of this customer.
    async fn federated_admin(
        &self,
        provider: &IdentityProvider,
        subject: &str,
        verified_email: Option<&Email>,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Admin>>;
    // --- end of OpenID Connect sign-in ---

    // --- Resource servers (issue #10): deployment-level credentials for token introspection.
    // Read on every introspection rather than cached, so a deletion or rotation holds at once on
    // every node without a change on the feed.

    /// Stores a resource server with the verifier of its secret; `Conflict` when the name is taken.
    async fn create_resource_server(
        &self,
        server: &trustgate_core::resource_server::ResourceServer,
        verifier: &trustgate_core::secret::SecretVerifier,
    ) -> StoreResult<()>;
    /// Every resource server, by name.
    async fn resource_servers(&self) -> StoreResult<Vec<trustgate_core::resource_server::ResourceServer>>;
    /// The resource server `id` with the verifier of its secret.
    async fn resource_server(
        &self,
        id: trustgate_core::ids::ResourceServerId,
    ) -> StoreResult<Option<(trustgate_core::resource_server::ResourceServer, trustgate_core::secret::SecretVerifier)>>;
    /// Replaces the secret of the resource server named `name` (the previous one stops working);
    /// `None` when there is no such resource server.
    async fn rotate_resource_server(
        &self,
        name: &str,
        verifier: &trustgate_core::secret::SecretVerifier,
    ) -> StoreResult<Option<trustgate_core::resource_server::ResourceServer>>;
    /// False when there is no resource server named `name`.
    async fn delete_resource_server(&self, name: &str) -> StoreResult<bool>;
    // --- end of resource servers ---

    // --- The permission catalog (issue 10) ---
    /// The operator's catalog as last applied; `Catalog::builtin()` before the first apply.
    async fn catalog(&self) -> StoreResult<trustgate_core::catalog::Catalog>;
    /// Replaces the stored catalog with `catalog` in one transaction and announces
    /// `Change::CatalogChanged`; writes nothing when it is already the stored one. Removing a
    /// permission that a membership, invitation or service principal holds is refused (`Conflict`,
    /// naming it and its holders) unless `force`, which strips it from them in the same
    /// transaction, logging each change to its customer's system log with `actor`.
    async fn apply_catalog(
        &self,
        catalog: &trustgate_core::catalog::Catalog,
        force: bool,
        actor: &Actor,
    ) -> StoreResult<CatalogApplied>;
    /// What `apply_catalog` with the same arguments would do, refusals included, with nothing
    /// written: the same checks run in a transaction that is rolled back (`catalog apply --dry-run`).
    async fn preview_catalog(
        &self,
        catalog: &trustgate_core::catalog::Catalog,
        force: bool,
        actor: &Actor,
    ) -> StoreResult<CatalogApplied>;
    // --- end of the permission catalog ---

    // --- Webhooks: the system log is the outbox (`sql/webhooks.rs`). Managing endpoints takes
    // a Full administrator or the operator, read in the transaction (`lifecycle::manage_webhooks`).

    /// Subscribes `endpoint`: its cursor is set just before the record of its creation, written
    /// in the same transaction, so it is sent every record from that one on. At most
    /// `webhook::MAX_ENDPOINTS_PER_CUSTOMER` per customer.
    async fn create_webhook(&self, endpoint: &trustgate_core::webhook::Endpoint, actor: &Actor) -> StoreResult<()>;
    /// The customer's endpoints, oldest first.
    async fn webhooks(
        &self,
        customer: &CustomerId,
        actor: &Actor,
    ) -> StoreResult<Vec<trustgate_core::webhook::Endpoint>>;
    async fn webhook(
        &self,
        customer: &CustomerId,
        id: trustgate_core::ids::WebhookId,
        actor: &Actor,
    ) -> StoreResult<Option<trustgate_core::webhook::Endpoint>>;
    /// False when the customer has no such endpoint. Its attempts go with it.
    async fn delete_webhook(
        &self,
        customer: &CustomerId,
        id: trustgate_core::ids::WebhookId,
        actor: &Actor,
    ) -> StoreResult<bool>;
    /// Replaces the signing secret; the one it replaces signs too for `webhook::ROTATION_OVERLAP`.
    async fn rotate_webhook_secret(
        &self,
        customer: &CustomerId,
        id: trustgate_core::ids::WebhookId,
        sealed_secret: &[u8],
        now: OffsetDateTime,
        actor: &Actor,
    ) -> StoreResult<bool>;
    /// Moves the cursor back to just before the customer's record `from_seq` (every record from
    /// it on is sent again, with the same `webhook-id`s) and enables the endpoint.
    async fn replay_webhook(
        &self,
        customer: &CustomerId,
        id: trustgate_core::ids::WebhookId,
        from_seq: i64,
        now: OffsetDateTime,
        actor: &Actor,
    ) -> StoreResult<bool>;
    /// Enables a disabled endpoint where it stopped: its cursor is kept, so it is sent every
    /// record after the last one delivered. `None` when there is no such endpoint; an enabled one
    /// is left as it is (no record written).
    async fn enable_webhook(
        &self,
        customer: &CustomerId,
        id: trustgate_core::ids::WebhookId,
        now: OffsetDateTime,
        actor: &Actor,
    ) -> StoreResult<Option<trustgate_core::webhook::Endpoint>>;
    /// The endpoint's latest `limit` attempts, newest first; `None` when there is no such endpoint.
    async fn webhook_attempts(
        &self,
        customer: &CustomerId,
        id: trustgate_core::ids::WebhookId,
        limit: u32,
        actor: &Actor,
    ) -> StoreResult<Option<Vec<WebhookAttempt>>>;
    /// Takes, for `lease_for`, up to `limit` enabled endpoints that are due and that no node
    /// holds, due longest ago first; on PostgreSQL nodes claiming at once skip each other's rows
    /// (`FOR UPDATE SKIP LOCKED`).
    async fn claim_webhooks(
        &self,
        now: OffsetDateTime,
        lease_for: time::Duration,
        limit: u32,
    ) -> StoreResult<Vec<WebhookClaim>>;
    /// Records a run of attempts, in order, and advances the cursor (or schedules the retry, or
    /// disables the endpoint with its system-log record, or lets go of it) in one transaction, if
    /// this node still holds the endpoint under `lease`: false, with nothing written, otherwise.
    async fn record_webhook_attempts(
        &self,
        id: trustgate_core::ids::WebhookId,
        lease: &str,
        attempts: &[WebhookAttempt],
        progress: &WebhookProgress,
    ) -> StoreResult<bool>;
    /// Lets another node (or this one) claim the endpoint at once.
    async fn release_webhook(&self, id: trustgate_core::ids::WebhookId, lease: &str) -> StoreResult<()>;
    /// The time of the oldest record an enabled endpoint may still have to be sent, which
    /// system-log retention keeps.
    async fn webhook_backlog_start(&self) -> StoreResult<Option<OffsetDateTime>>;
    /// Deletes delivery attempts older than `before`, at most `limit`; how many went.
    async fn prune_webhook_attempts(&self, before: OffsetDateTime, limit: u32) -> StoreResult<u64>;
    /// Stores endpoints' secrets and headers sealed again under a rotated server key, each only
    /// if its secret is still the one read; how many were replaced.
    async fn reseal_webhooks(&self, resealed: &[ResealedWebhook]) -> StoreResult<u64>;
    // --- end of webhooks ---
    // --- SIEM streams: every customer's system log to the operator's collector (`sql/siem.rs`).
    /// Takes the stream `name` for `lease_for` unless another node holds it; a new stream starts
    /// at the beginning of the log.
    async fn claim_siem(
        &self,
        name: &str,
        now: OffsetDateTime,
        lease_for: time::Duration,
    ) -> StoreResult<Option<SiemClaim>>;
    /// Moves the stream's cursor and extends its lease, if this node still holds it under
    /// `lease`: false, with nothing written, otherwise.
    async fn advance_siem(
        &self,
        name: &str,
        lease: &str,
        cursor: LogPosition,
        lease_until: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Lets another node (or this one) claim the stream at once.
    async fn release_siem(&self, name: &str, lease: &str) -> StoreResult<()>;
    /// Moves the stream to just after the record whose `seq` is `after` (`None`: the start of the
    /// log), for the operator re-sending to a new collector, and takes the stream from the node
    /// streaming it, which stops at its next write; the new position. `NotFound` when the log has
    /// no such record.
    async fn reset_siem(&self, name: &str, after: Option<i64>) -> StoreResult<LogPosition>;
    /// The time of the oldest record the stream has still to send, which system-log retention keeps:
    /// for a stream not yet claimed, the oldest record of the log.
    async fn siem_backlog_start(&self, name: &str) -> StoreResult<Option<OffsetDateTime>>;
    // --- end of SIEM streams ---
}
