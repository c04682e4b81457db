//! The SQL both backends share, split by domain. Queries use `$n` placeholders in order of first
//! use, which SQLite and PostgreSQL both understand, and only column types both have, so no query
//! branches on the backend.
//!
//! Each domain file holds its rows (plain Rust) and one `queries!` macro with its SQL;
//! [`store_impl!`] instantiates every domain once per backend, each in a module of its own inside
//! the backend's module, and implements [`crate::Store`] by calling them. Macros rather than
//! functions generic over `sqlx::Database`: a generic query needs a bound for every type it binds
//! or reads and for the executor, on every function, and those bounds would outweigh the SQL.
//! The domains name what they take from each other in `use super::…` lines. Rows are read by
//! column name into `sqlx::FromRow` structs, each turned into its model type by `TryFrom`; every
//! store call opens a `tracing` span named after it.
//!
//! | file | holds |
//! | --- | --- |
//! | `feed.rs` | the change-feed rows and the commit that publishes them |
//! | `customers.rs` | customers |
//! | `admins.rs` | administrators, memberships, authority checks |
//! | `invitations.rs` | pending memberships and their invitations |
//! | `clients.rs` | API clients, their secrets, service principals, grants |
//! | `keys.rs` | signing keys, the server key's rotation, token revocation |
//! | `sessions.rs` | console and API sessions |
//! | `system_log.rs` | the system log and notifications |
//! | `federation.rs` | SCIM provisioning, identity providers, OpenID Connect sign-in |
//! | `catalog.rs` | the permission catalog and resource servers |
//! | `webhooks.rs` | webhook endpoints, their cursors into the system log, their attempts |
//! | `siem.rs` | the SIEM streams' cursors into the whole system log, and their leases |
//! | `mfa.rs` | local administrators' second factor: TOTP secrets, recovery codes |
//! | `passkeys.rs` | local administrators' WebAuthn passkeys and the ceremonies under way |
//! | `groups.rs` | groups of administrators and what they give their members |

use time::OffsetDateTime;

use crate::error::{StoreError, StoreResult};

pub(crate) mod admins;
pub(crate) mod catalog;
pub(crate) mod clients;
pub(crate) mod customers;
pub(crate) mod federation;
pub(crate) mod feed;
pub(crate) mod groups;
pub(crate) mod invitations;
pub(crate) mod keys;
pub(crate) mod mfa;
pub(crate) mod passkeys;
pub(crate) mod sessions;
pub(crate) mod siem;
pub(crate) mod system_log;
pub(crate) mod webhooks;

pub(crate) fn ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub(crate) fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Internal(format!("a stored {what} is invalid"))
}

pub(crate) fn corrupt_id(what: &str) -> StoreError {
    corrupt(&format!("{what} id"))
}

/// Turns the rows a query read into the model's types, through each row's `TryFrom`.
pub(crate) trait Parsed<T> {
    fn parsed(self) -> StoreResult<T>;
}

impl<R, T: TryFrom<R, Error = StoreError>> Parsed<Option<T>> for Option<R> {
    fn parsed(self) -> StoreResult<Option<T>> {
        self.map(T::try_from).transpose()
    }
}

impl<R, T: TryFrom<R, Error = StoreError>> Parsed<Vec<T>> for Vec<R> {
    fn parsed(self) -> StoreResult<Vec<T>> {
        self.into_iter().map(T::try_from).collect()
    }
}

/// Implements [`crate::Store`] for `$store`: the calls written out in the braces, then each call
/// listed after them handed to the function of the same name in its domain's module, as
/// `domain::call(arguments) -> what it returns;`.
macro_rules! delegate {
    (
        impl Store for $store:ty { $($own:tt)* }
        $($domain:ident::$name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*
    ) => {
        #[async_trait::async_trait]
        impl crate::Store for $store {
            $($own)*

            $(
                async fn $name(&self, $($arg: $ty),*) -> crate::error::StoreResult<$ret> {
                    $domain::$name(self, $($arg),*).await
                }
            )*
        }
    };
}
pub(crate) use delegate;

/// Implements [`crate::Store`] for `$store`, a backend on `$db` with the fields `pool` and
/// `listener` and the inherent functions `write_tx`, `lock_customer`, `lock_catalog`,
/// `share_catalog`, `announce`, `analyze`, `scrub`, `watch` and `caught_up`; its module defines `Tx`.
macro_rules! store_impl {
    ($store:ty, $db:ty) => {
        crate::sql::store_impl!(@domains $store, $db, [
            feed, customers, admins, invitations, clients, keys, sessions, system_log, federation, catalog, webhooks, siem,
            mfa, passkeys, groups
        ]);

        mod store {
            use std::sync::Arc;

            use time::OffsetDateTime;
            use trustgate_core::access::Access;
            use trustgate_core::admin::{Admin, AdminStatus, Email};
            use trustgate_core::catalog::Catalog;
            use trustgate_core::client::ApiClient;
            use trustgate_core::client_secrets::{NewSecret, SecretInfo};
            use trustgate_core::custody::KeyAtRest;
            use trustgate_core::customer::{Customer, DisabledOwnerPolicy, LostAccessPolicy};
            use trustgate_core::event::{Actor, LogEntry};
            use trustgate_core::federation::IdentityProvider;
            use trustgate_core::group::AdminGroup;
            use trustgate_core::ids::{
                AdminId, ClientId, CustomerId, GroupId, PasskeyId, ProviderId, ResourceServerId, ScimTokenId, WebhookId,
            };
            use trustgate_core::provisioning::ScimToken;
            use trustgate_core::resource_server::ResourceServer;
            use trustgate_core::rights::Standing;
            use trustgate_core::secret::{SecretId, SecretVerifier, ServerKeyId};
            use trustgate_core::webhook::Endpoint;

            use crate::changes::ChangeListener;
            use crate::error::StoreResult;
            use crate::model::{
                CatalogApplied, ClientGrant, DisabledOwner, ExpiringSecret, GroupFilter, GroupWrite, Invitation, InvitationTerms, LogQuery,
                LogRecord, LogView, Member, Membership, Notification, PendingSignIn, PoolUse, ScimFilter, ScimUser,
                ScimUserWrite, ServerKeyUse, Session, TotpEnrolment,
            };
            use crate::model::{Ceremony, StoredPasskey};
            use crate::sql::siem::SiemClaim;
            use crate::sql::system_log::{LogPosition, PositionedRecord};
            use crate::sql::webhooks::{ResealedWebhook, WebhookAttempt, WebhookClaim, WebhookProgress};

            use super::{
                admins, catalog, clients, customers, federation, groups, invitations, keys, mfa, passkeys, sessions, siem, system_log,
                webhooks,
            };

            crate::sql::delegate! {
                impl Store for $store {
                    fn watch_changes(&self, listener: Arc<dyn ChangeListener>) {
                        self.watch(listener);
                    }

                    async fn catch_up(&self) -> StoreResult<()> {
                        self.caught_up().await
                    }

                    async fn ping(&self) -> StoreResult<()> {
                        sqlx::query("SELECT 1").execute(&self.pool).await?;
                        Ok(())
                    }

                    fn pool_use(&self) -> PoolUse {
                        PoolUse {
                            open: self.pool.size(),
                            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
                            max: self.pool.options().get_max_connections(),
                        }
                    }
                }
                customers::create_customer(customer: &Customer, actor: &Actor) -> ();
                customers::customer(id: &CustomerId) -> Option<Customer>;
                customers::customers() -> Vec<Customer>;
                customers::set_disabled_owner_policy(id: &CustomerId, policy: DisabledOwnerPolicy, actor: &Actor) -> ();
                customers::set_local_mfa_policy(id: &CustomerId, required: bool, actor: &Actor) -> ();
                customers::set_lost_access_policy(id: &CustomerId, policy: LostAccessPolicy, actor: &Actor) -> ();
                mfa::totp(admin: AdminId) -> Option<TotpEnrolment>;
                mfa::begin_totp(admin: AdminId, sealed: &[u8], at: OffsetDateTime) -> bool;
                mfa::confirm_totp(admin: &Admin, sealed: &[u8], step: i64, recovery: &[[u8; 32]], at: OffsetDateTime) -> bool;
                mfa::spend_totp_step(admin: AdminId, step: i64) -> bool;
                mfa::spend_recovery_code(admin: &Admin, digests: &[[u8; 32]], at: OffsetDateTime) -> Option<u64>;
                mfa::reset_second_factor(customer: &CustomerId, admin: AdminId, actor: &Actor) -> bool;
                mfa::sealed_totp_secrets() -> Vec<(AdminId, Vec<u8>)>;
                mfa::reseal_totp_secrets(resealed: &[(AdminId, Vec<u8>, Vec<u8>)]) -> u64;
                passkeys::passkeys(admin: AdminId) -> Vec<StoredPasskey>;
                passkeys::add_passkey(admin: &Admin, passkey: &StoredPasskey) -> bool;
                passkeys::use_passkey(admin: AdminId, credential_id: &[u8], sign_count: i64, passkey: &str, at: OffsetDateTime) -> bool;
                passkeys::delete_passkey(admin: &Admin, id: PasskeyId, at: OffsetDateTime) -> bool;
                passkeys::put_ceremony(binding: &[u8], admin: Option<AdminId>, state: &str, expires_at: OffsetDateTime) -> ();
                passkeys::take_ceremony(binding: &[u8], now: OffsetDateTime) -> Option<Ceremony>;
                admins::create_admin(admin: &Admin, password_hash: Option<&str>) -> ();
                admins::admin(id: AdminId) -> Option<Admin>;
                admins::admin_by_email(email: &Email) -> Option<Admin>;
                admins::admins_with_email(email: &Email) -> Vec<Admin>;
                admins::password_hash(id: AdminId) -> Option<String>;
                admins::set_password_hash(id: AdminId, hash: &str) -> ();
                admins::set_admin_status(id: AdminId, status: AdminStatus, actor: &Actor) -> ();
                admins::delete_admin(id: AdminId, actor: &Actor) -> usize;
                admins::add_member(customer: &CustomerId, admin: AdminId, access: Access, actor: &Actor) -> ();
                admins::add_admin(customer: &CustomerId, candidate: &Admin, password_hash: Option<&str>, access: Access, invite: Option<&InvitationTerms>, actor: &Actor) -> (Member, bool);
                admins::member(customer: &CustomerId, admin: AdminId) -> Option<Member>;
                admins::members(customer: &CustomerId, after: Option<AdminId>, limit: u32) -> Vec<Member>;
                admins::memberships(admin: AdminId) -> Vec<Membership>;
                admins::standing(customer: &CustomerId, admin: AdminId) -> Option<Standing>;
                admins::set_access(customer: &CustomerId, admin: AdminId, access: Access, actor: &Actor) -> Access;
                admins::remove_member(customer: &CustomerId, admin: AdminId, actor: &Actor) -> usize;
                invitations::resend_invitation(customer: &CustomerId, admin: AdminId, terms: &InvitationTerms, actor: &Actor) -> Member;
                invitations::cancel_invitation(customer: &CustomerId, email: &Email, actor: &Actor) -> bool;
                invitations::invitation(verifier: &[u8; 32]) -> Option<Invitation>;
                invitations::accept_invitation(verifier: &[u8; 32], password_hash: Option<&str>, now: OffsetDateTime) -> Invitation;
                invitations::log_expired_invitations(now: OffsetDateTime) -> u64;
                clients::create_client(client: &ApiClient, secret: &NewSecret, cap: u64, actor: &Actor) -> ();
                clients::seed_clients(clients: &[(ApiClient, NewSecret)]) -> ();
                clients::refresh_statistics() -> ();
                clients::client_grant(id: ClientId) -> Option<ClientGrant>;
                clients::clients_of(customer: &CustomerId, owner: AdminId) -> Vec<ApiClient>;
                clients::delete_client(customer: &CustomerId, owner: AdminId, id: ClientId, actor: &Actor) -> bool;
                clients::touch_clients(uses: &[(ClientId, SecretId, OffsetDateTime)]) -> ();
                clients::create_principal(principal: &ApiClient, secret: &NewSecret, actor: &Actor) -> ();
                clients::principals(customer: &CustomerId, after: Option<ClientId>, limit: u32, actor: &Actor) -> Vec<ApiClient>;
                clients::principal(customer: &CustomerId, id: ClientId, actor: &Actor) -> Option<ApiClient>;
                clients::set_principal_access(customer: &CustomerId, id: ClientId, access: Access, actor: &Actor) -> Access;
                clients::delete_principal(customer: &CustomerId, id: ClientId, actor: &Actor) -> bool;
                clients::client_secrets(customer: &CustomerId, client: ClientId, actor: &Actor) -> Vec<SecretInfo>;
                clients::add_client_secret(customer: &CustomerId, client: ClientId, secret: &NewSecret, actor: &Actor) -> SecretInfo;
                clients::delete_client_secret(customer: &CustomerId, client: ClientId, secret: SecretId, actor: &Actor) -> ();
                clients::expiring_secrets(now: OffsetDateTime, by: OffsetDateTime, limit: u32) -> Vec<ExpiringSecret>;
                clients::expired_secrets(now: OffsetDateTime, limit: u32) -> Vec<ExpiringSecret>;
                clients::warn_secret_expiry(client: ClientId, secret: SecretId, notifications: &[Notification], at: OffsetDateTime) -> bool;
                clients::convert_to_principal(customer: &CustomerId, id: ClientId, actor: &Actor) -> ApiClient;
                clients::log_secret_expired(client: ClientId, secret: SecretId, at: OffsetDateTime) -> bool;
                keys::signing_keys() -> Vec<KeyAtRest>;
                keys::add_signing_key(key: &KeyAtRest, revoke_previous: bool) -> ();
                keys::reseal_signing_key(key: &KeyAtRest, from_format: &str) -> bool;
                keys::stamp_server_key(key: &ServerKeyId) -> u64;
                keys::server_key_use() -> Vec<ServerKeyUse>;
                keys::reseal_under_server_key(keys: &[KeyAtRest], providers: &[(ProviderId, Vec<u8>)], entries: &[LogEntry]) -> u64;
                keys::revoke_token(client: ClientId, jti: &str, expires_at: OffsetDateTime, now: OffsetDateTime, cap: u64) -> ();
                keys::revoked_before(now: OffsetDateTime) -> Vec<(ClientId, i64, OffsetDateTime)>;
                keys::revoked_tokens(now: OffsetDateTime) -> Vec<(String, OffsetDateTime)>;
                sessions::create_session(digest: &[u8], session: &Session, at: OffsetDateTime) -> ();
                sessions::session(digest: &[u8], now: OffsetDateTime) -> Option<Session>;
                sessions::delete_session(digest: &[u8]) -> ();
                system_log::add_notification(n: &Notification) -> ();
                system_log::notifications(customer: &CustomerId, limit: u32) -> Vec<Notification>;
                system_log::append_log(entry: &LogEntry) -> ();
                system_log::log_records(q: &LogQuery) -> Vec<LogRecord>;
                system_log::log_after(customer: Option<&CustomerId>, after: LogPosition, limit: u32) -> Vec<PositionedRecord>;
                system_log::prune_log(before: OffsetDateTime, limit: u32) -> u64;
                system_log::log_view(q: &LogQuery, view: &LogView) -> Vec<LogRecord>;
                federation::create_scim_token(token: &ScimToken, digest: &[u8], server_key: &ServerKeyId, actor: &Actor) -> ();
                federation::scim_tokens(customer: &CustomerId) -> Vec<ScimToken>;
                federation::scim_token(digest: &[u8]) -> Option<ScimToken>;
                federation::revoke_scim_token(customer: &CustomerId, id: ScimTokenId, actor: &Actor) -> bool;
                federation::scim_users(customer: &CustomerId, filter: &ScimFilter, offset: u64, limit: u32) -> (u64, Vec<ScimUser>);
                federation::scim_user(customer: &CustomerId, admin: AdminId) -> Option<ScimUser>;
                federation::provision_user(customer: &CustomerId, candidate: &Admin, write: &ScimUserWrite, actor: &Actor) -> ScimUser;
                federation::update_scim_user(customer: &CustomerId, admin: AdminId, write: &ScimUserWrite, if_version: Option<&str>, actor: &Actor) -> ScimUser;
                federation::deprovision_user(customer: &CustomerId, admin: AdminId, if_version: Option<&str>, actor: &Actor) -> usize;
                admins::disabled_owners(customer: &CustomerId) -> Vec<DisabledOwner>;
                groups::create_group(group: &AdminGroup, actor: &Actor) -> AdminGroup;
                groups::group(customer: &CustomerId, id: GroupId) -> Option<AdminGroup>;
                groups::groups(customer: &CustomerId, filter: &GroupFilter, offset: u64, limit: u32) -> (u64, Vec<AdminGroup>);
                groups::replace_group(customer: &CustomerId, id: GroupId, write: &GroupWrite, if_version: Option<&str>, actor: &Actor) -> AdminGroup;
                groups::delete_group(customer: &CustomerId, id: GroupId, if_version: Option<&str>, actor: &Actor) -> bool;
                groups::set_group_access(customer: &CustomerId, id: GroupId, access: Access, actor: &Actor) -> Access;
                groups::sync_claimed_groups(customer: &CustomerId, admin: AdminId, claimed: &[String], actor: &Actor) -> bool;
                federation::connect_provider(provider: &IdentityProvider, actor: &Actor) -> ();
                federation::disconnect_provider(customer: &CustomerId, id: ProviderId, actor: &Actor) -> bool;
                federation::identity_provider(id: ProviderId) -> Option<IdentityProvider>;
                federation::identity_providers(customer: &CustomerId) -> Vec<IdentityProvider>;
                federation::providers_for_email(email: &Email) -> Vec<IdentityProvider>;
                federation::begin_sign_in(state_digest: &[u8], pending: &PendingSignIn, now: OffsetDateTime) -> ();
                federation::take_sign_in(state_digest: &[u8], now: OffsetDateTime) -> Option<PendingSignIn>;
                federation::federated_admin(provider: &IdentityProvider, subject: &str, verified_email: Option<&Email>, now: OffsetDateTime) -> Option<Admin>;
                catalog::create_resource_server(server: &ResourceServer, verifier: &SecretVerifier) -> ();
                catalog::resource_servers() -> Vec<ResourceServer>;
                catalog::resource_server(id: ResourceServerId) -> Option<(ResourceServer, SecretVerifier)>;
                catalog::rotate_resource_server(name: &str, verifier: &SecretVerifier) -> Option<ResourceServer>;
                catalog::delete_resource_server(name: &str) -> bool;
                catalog::catalog() -> Catalog;
                catalog::apply_catalog(catalog: &Catalog, force: bool, actor: &Actor) -> CatalogApplied;
                catalog::preview_catalog(catalog: &Catalog, force: bool, actor: &Actor) -> CatalogApplied;
                webhooks::create_webhook(endpoint: &Endpoint, actor: &Actor) -> ();
                webhooks::webhooks(customer: &CustomerId, actor: &Actor) -> Vec<Endpoint>;
                webhooks::webhook(customer: &CustomerId, id: WebhookId, actor: &Actor) -> Option<Endpoint>;
                webhooks::delete_webhook(customer: &CustomerId, id: WebhookId, actor: &Actor) -> bool;
                webhooks::rotate_webhook_secret(customer: &CustomerId, id: WebhookId, sealed_secret: &[u8], now: OffsetDateTime, actor: &Actor) -> bool;
                webhooks::replay_webhook(customer: &CustomerId, id: WebhookId, from_seq: i64, now: OffsetDateTime, actor: &Actor) -> bool;
                webhooks::enable_webhook(customer: &CustomerId, id: WebhookId, now: OffsetDateTime, actor: &Actor) -> Option<Endpoint>;
                webhooks::webhook_attempts(customer: &CustomerId, id: WebhookId, limit: u32, actor: &Actor) -> Option<Vec<WebhookAttempt>>;
                webhooks::claim_webhooks(now: OffsetDateTime, lease_for: time::Duration, limit: u32) -> Vec<WebhookClaim>;
                webhooks::record_webhook_attempts(id: WebhookId, lease: &str, attempts: &[WebhookAttempt], progress: &WebhookProgress) -> bool;
                webhooks::release_webhook(id: WebhookId, lease: &str) -> ();
                webhooks::webhook_backlog_start() -> Option<OffsetDateTime>;
                webhooks::prune_webhook_attempts(before: OffsetDateTime, limit: u32) -> u64;
                webhooks::reseal_webhooks(resealed: &[ResealedWebhook]) -> u64;
                siem::claim_siem(name: &str, now: OffsetDateTime, lease_for: time::Duration) -> Option<SiemClaim>;
                siem::advance_siem(name: &str, lease: &str, cursor: LogPosition, lease_until: OffsetDateTime) -> bool;
                siem::release_siem(name: &str, lease: &str) -> ();
                siem::reset_siem(name: &str, after: Option<i64>) -> LogPosition;
                siem::siem_backlog_start(name: &str) -> Option<OffsetDateTime>;
            }
        }
    };
    // Each domain's queries in a module of the same name.
    (@domains $store:ty, $db:ty, [$($domain:ident),*]) => {
        $(
            mod $domain {
                crate::sql::$domain::queries!($store, $db);
            }
        )*
    };
}
pub(crate) use store_impl;
