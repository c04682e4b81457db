//! The SQL both backends share, split by domain. Queries use `$n` placeholders in order of first
//! use, which SQLite and PostgreSQL both understand, and only column types both have, so no query
//! branches on the backend.
//!
//! Each domain file holds its rows (plain Rust) and one `queries!` macro with its SQL;
//! [`store_impl!`] instantiates every domain once per backend, each in a module of its own inside
//! the backend's module, and implements [`crate::Store`] by calling them. Macros rather than
//! functions generic over `sqlx::Database`: a generic query needs a bound for every type it binds
//! or reads and for the executor, on every function, and those bounds would outweigh the SQL.
//! The domains name what they take from each other in `use super::…` lines.
//!
//! | file | holds |
//! | --- | --- |
//! | `feed.rs` | the change-feed rows and the commit that publishes them |
//! | `customers.rs` | customers |
//! | `admins.rs` | administrators, memberships, invitations, authority checks |
//! | `clients.rs` | API clients, their secrets, service principals, grants |
//! | `keys.rs` | signing keys, the server key's rotation, token revocation |
//! | `sessions.rs` | console and API sessions |
//! | `system_log.rs` | the system log and notifications |
//! | `federation.rs` | SCIM provisioning, identity providers, OpenID Connect sign-in |
//! | `catalog.rs` | the permission catalog and resource servers |

use time::OffsetDateTime;

use crate::error::StoreError;

pub(crate) mod admins;
pub(crate) mod catalog;
pub(crate) mod clients;
pub(crate) mod customers;
pub(crate) mod federation;
pub(crate) mod feed;
pub(crate) mod keys;
pub(crate) mod sessions;
pub(crate) mod system_log;

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

macro_rules! store_impl {
    ($store:ty, $db:ty) => {
        mod feed {
            crate::sql::feed::queries!($store, $db);
        }
        mod customers {
            crate::sql::customers::queries!($store, $db);
        }
        mod admins {
            crate::sql::admins::queries!($store, $db);
        }
        mod clients {
            crate::sql::clients::queries!($store, $db);
        }
        mod keys {
            crate::sql::keys::queries!($store, $db);
        }
        mod sessions {
            crate::sql::sessions::queries!($store, $db);
        }
        mod system_log {
            crate::sql::system_log::queries!($store, $db);
        }
        mod federation {
            crate::sql::federation::queries!($store, $db);
        }
        mod catalog {
            crate::sql::catalog::queries!($store, $db);
        }

        mod store {
            use crate::changes::ChangeListener;
            use crate::error::StoreResult;
            use crate::model::{
                ClientGrant, DisabledOwner, ExpiringSecret, Invitation, InvitationTerms, LogQuery, LogRecord, LogView,
                Member, Membership, Notification, PendingSignIn, PoolUse, ScimFilter, ScimUser, ScimUserWrite,
                ServerKeyUse, Session,
            };
            use crate::Store;
            use async_trait::async_trait;
            use std::sync::Arc;
            use time::OffsetDateTime;
            use trustgate_core::access::Access;
            use trustgate_core::admin::{Admin, AdminStatus, Email};
            use trustgate_core::client::ApiClient;
            use trustgate_core::client_secrets::{NewSecret, SecretInfo};
            use trustgate_core::custody::KeyAtRest;
            use trustgate_core::customer::{Customer, DisabledOwnerPolicy};
            use trustgate_core::event::{Actor, LogEntry};
            use trustgate_core::federation::IdentityProvider;
            use trustgate_core::ids::{AdminId, ClientId, CustomerId, ProviderId, ScimTokenId};
            use trustgate_core::provisioning::ScimToken;
            use trustgate_core::rights::Standing;
            use trustgate_core::secret::{SecretId, ServerKeyId};

            use super::{admins, catalog, clients, customers, federation, keys, sessions, system_log};

            #[async_trait]
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

                async fn create_customer(&self, customer: &Customer, actor: &Actor) -> StoreResult<()> {
                    customers::create_customer(self, customer, actor).await
                }

                async fn customer(&self, id: &CustomerId) -> StoreResult<Option<Customer>> {
                    customers::customer(self, id).await
                }

                async fn customers(&self) -> StoreResult<Vec<Customer>> {
                    customers::customers(self).await
                }

                async fn set_disabled_owner_policy(
                    &self,
                    id: &CustomerId,
                    policy: DisabledOwnerPolicy,
                    actor: &Actor,
                ) -> StoreResult<()> {
                    customers::set_disabled_owner_policy(self, id, policy, actor).await
                }

                async fn create_admin(&self, admin: &Admin, password_hash: Option<&str>) -> StoreResult<()> {
                    admins::create_admin(self, admin, password_hash).await
                }

                async fn admin(&self, id: AdminId) -> StoreResult<Option<Admin>> {
                    admins::admin(self, id).await
                }

                async fn admin_by_email(&self, email: &Email) -> StoreResult<Option<Admin>> {
                    admins::admin_by_email(self, email).await
                }

                async fn admins_with_email(&self, email: &Email) -> StoreResult<Vec<Admin>> {
                    admins::admins_with_email(self, email).await
                }

                async fn password_hash(&self, id: AdminId) -> StoreResult<Option<String>> {
                    admins::password_hash(self, id).await
                }

                async fn set_password_hash(&self, id: AdminId, hash: &str) -> StoreResult<()> {
                    admins::set_password_hash(self, id, hash).await
                }

                async fn set_admin_status(&self, id: AdminId, status: AdminStatus, actor: &Actor) -> StoreResult<()> {
                    admins::set_admin_status(self, id, status, actor).await
                }

                async fn delete_admin(&self, id: AdminId, actor: &Actor) -> StoreResult<usize> {
                    admins::delete_admin(self, id, actor).await
                }

                async fn add_member(
                    &self,
                    customer: &CustomerId,
                    admin: AdminId,
                    access: Access,
                    actor: &Actor,
                ) -> StoreResult<()> {
                    admins::add_member(self, customer, admin, access, actor).await
                }

                async fn add_admin(
                    &self,
                    customer: &CustomerId,
                    candidate: &Admin,
                    password_hash: Option<&str>,
                    access: Access,
                    invite: Option<&InvitationTerms>,
                    actor: &Actor,
                ) -> StoreResult<(Member, bool)> {
                    admins::add_admin(self, customer, candidate, password_hash, access, invite, actor).await
                }

                async fn member(&self, customer: &CustomerId, admin: AdminId) -> StoreResult<Option<Member>> {
                    admins::member(self, customer, admin).await
                }

                async fn members(
                    &self,
                    customer: &CustomerId,
                    after: Option<AdminId>,
                    limit: u32,
                ) -> StoreResult<Vec<Member>> {
                    admins::members(self, customer, after, limit).await
                }

                async fn memberships(&self, admin: AdminId) -> StoreResult<Vec<Membership>> {
                    admins::memberships(self, admin).await
                }

                async fn standing(&self, customer: &CustomerId, admin: AdminId) -> StoreResult<Option<Standing>> {
                    admins::standing(self, customer, admin).await
                }

                async fn set_access(
                    &self,
                    customer: &CustomerId,
                    admin: AdminId,
                    access: Access,
                    actor: &Actor,
                ) -> StoreResult<Access> {
                    admins::set_access(self, customer, admin, access, actor).await
                }

                async fn remove_member(
                    &self,
                    customer: &CustomerId,
                    admin: AdminId,
                    actor: &Actor,
                ) -> StoreResult<usize> {
                    admins::remove_member(self, customer, admin, actor).await
                }

                async fn resend_invitation(
                    &self,
                    customer: &CustomerId,
                    admin: AdminId,
                    terms: &InvitationTerms,
                    actor: &Actor,
                ) -> StoreResult<Member> {
                    admins::resend_invitation(self, customer, admin, terms, actor).await
                }

                async fn cancel_invitation(
                    &self,
                    customer: &CustomerId,
                    email: &Email,
                    actor: &Actor,
                ) -> StoreResult<bool> {
                    admins::cancel_invitation(self, customer, email, actor).await
                }

                async fn invitation(&self, verifier: &[u8; 32]) -> StoreResult<Option<Invitation>> {
                    admins::invitation(self, verifier).await
                }

                async fn accept_invitation(
                    &self,
                    verifier: &[u8; 32],
                    password_hash: Option<&str>,
                    now: OffsetDateTime,
                ) -> StoreResult<Invitation> {
                    admins::accept_invitation(self, verifier, password_hash, now).await
                }

                async fn log_expired_invitations(&self, now: OffsetDateTime) -> StoreResult<u64> {
                    admins::log_expired_invitations(self, now).await
                }

                async fn create_client(
                    &self,
                    client: &ApiClient,
                    secret: &NewSecret,
                    cap: u64,
                    actor: &Actor,
                ) -> StoreResult<()> {
                    clients::create_client(self, client, secret, cap, actor).await
                }

                async fn seed_clients(&self, clients: &[(ApiClient, NewSecret)]) -> StoreResult<()> {
                    clients::seed_clients(self, clients).await
                }

                async fn refresh_statistics(&self) -> StoreResult<()> {
                    clients::refresh_statistics(self).await
                }

                async fn client_grant(&self, id: ClientId) -> StoreResult<Option<ClientGrant>> {
                    clients::client_grant(self, id).await
                }

                async fn clients_of(&self, customer: &CustomerId, owner: AdminId) -> StoreResult<Vec<ApiClient>> {
                    clients::clients_of(self, customer, owner).await
                }

                async fn delete_client(
                    &self,
                    customer: &CustomerId,
                    owner: AdminId,
                    id: ClientId,
                    actor: &Actor,
                ) -> StoreResult<bool> {
                    clients::delete_client(self, customer, owner, id, actor).await
                }

                async fn touch_clients(&self, uses: &[(ClientId, SecretId, OffsetDateTime)]) -> StoreResult<()> {
                    clients::touch_clients(self, uses).await
                }

                async fn create_principal(
                    &self,
                    principal: &ApiClient,
                    secret: &NewSecret,
                    actor: &Actor,
                ) -> StoreResult<()> {
                    clients::create_principal(self, principal, secret, actor).await
                }

                async fn principals(
                    &self,
                    customer: &CustomerId,
                    after: Option<ClientId>,
                    limit: u32,
                    actor: &Actor,
                ) -> StoreResult<Vec<ApiClient>> {
                    clients::principals(self, customer, after, limit, actor).await
                }

                async fn principal(
                    &self,
                    customer: &CustomerId,
                    id: ClientId,
                    actor: &Actor,
                ) -> StoreResult<Option<ApiClient>> {
                    clients::principal(self, customer, id, actor).await
                }

                async fn set_principal_access(
                    &self,
                    customer: &CustomerId,
                    id: ClientId,
                    access: Access,
                    actor: &Actor,
                ) -> StoreResult<Access> {
                    clients::set_principal_access(self, customer, id, access, actor).await
                }

                async fn delete_principal(
                    &self,
                    customer: &CustomerId,
                    id: ClientId,
                    actor: &Actor,
                ) -> StoreResult<bool> {
                    clients::delete_principal(self, customer, id, actor).await
                }

                async fn client_secrets(
                    &self,
                    customer: &CustomerId,
                    client: ClientId,
                    actor: &Actor,
                ) -> StoreResult<Vec<SecretInfo>> {
                    clients::client_secrets(self, customer, client, actor).await
                }

                async fn add_client_secret(
                    &self,
                    customer: &CustomerId,
                    client: ClientId,
                    secret: &NewSecret,
                    actor: &Actor,
                ) -> StoreResult<SecretInfo> {
                    clients::add_client_secret(self, customer, client, secret, actor).await
                }

                async fn delete_client_secret(
                    &self,
                    customer: &CustomerId,
                    client: ClientId,
                    secret: SecretId,
                    actor: &Actor,
                ) -> StoreResult<()> {
                    clients::delete_client_secret(self, customer, client, secret, actor).await
                }

                async fn expiring_secrets(
                    &self,
                    now: OffsetDateTime,
                    by: OffsetDateTime,
                    limit: u32,
                ) -> StoreResult<Vec<ExpiringSecret>> {
                    clients::expiring_secrets(self, now, by, limit).await
                }

                async fn expired_secrets(&self, now: OffsetDateTime, limit: u32) -> StoreResult<Vec<ExpiringSecret>> {
                    clients::expired_secrets(self, now, limit).await
                }

                async fn warn_secret_expiry(
                    &self,
                    client: ClientId,
                    secret: SecretId,
                    notifications: &[Notification],
                    at: OffsetDateTime,
                ) -> StoreResult<bool> {
                    clients::warn_secret_expiry(self, client, secret, notifications, at).await
                }

                async fn convert_to_principal(
                    &self,
                    customer: &CustomerId,
                    id: ClientId,
                    actor: &Actor,
                ) -> StoreResult<ApiClient> {
                    clients::convert_to_principal(self, customer, id, actor).await
                }

                async fn log_secret_expired(
                    &self,
                    client: ClientId,
                    secret: SecretId,
                    at: OffsetDateTime,
                ) -> StoreResult<bool> {
                    clients::log_secret_expired(self, client, secret, at).await
                }

                async fn signing_keys(&self) -> StoreResult<Vec<KeyAtRest>> {
                    keys::signing_keys(self).await
                }

                async fn add_signing_key(&self, key: &KeyAtRest, revoke_previous: bool) -> StoreResult<()> {
                    keys::add_signing_key(self, key, revoke_previous).await
                }

                async fn reseal_signing_key(&self, key: &KeyAtRest, from_format: &str) -> StoreResult<bool> {
                    keys::reseal_signing_key(self, key, from_format).await
                }

                async fn stamp_server_key(&self, key: &ServerKeyId) -> StoreResult<u64> {
                    keys::stamp_server_key(self, key).await
                }

                async fn server_key_use(&self) -> StoreResult<Vec<ServerKeyUse>> {
                    keys::server_key_use(self).await
                }

                async fn reseal_under_server_key(
                    &self,
                    keys: &[KeyAtRest],
                    providers: &[(ProviderId, Vec<u8>)],
                    entries: &[LogEntry],
                ) -> StoreResult<u64> {
                    keys::reseal_under_server_key(self, keys, providers, entries).await
                }

                async fn revoke_token(
                    &self,
                    client: ClientId,
                    jti: &str,
                    expires_at: OffsetDateTime,
                    now: OffsetDateTime,
                    cap: u64,
                ) -> StoreResult<()> {
                    keys::revoke_token(self, client, jti, expires_at, now, cap).await
                }

                async fn revoked_before(
                    &self,
                    now: OffsetDateTime,
                ) -> StoreResult<Vec<(ClientId, i64, OffsetDateTime)>> {
                    keys::revoked_before(self, now).await
                }

                async fn revoked_tokens(&self, now: OffsetDateTime) -> StoreResult<Vec<(String, OffsetDateTime)>> {
                    keys::revoked_tokens(self, now).await
                }

                async fn create_session(
                    &self,
                    digest: &[u8],
                    session: &Session,
                    at: OffsetDateTime,
                ) -> StoreResult<()> {
                    sessions::create_session(self, digest, session, at).await
                }

                async fn session(&self, digest: &[u8], now: OffsetDateTime) -> StoreResult<Option<Session>> {
                    sessions::session(self, digest, now).await
                }

                async fn delete_session(&self, digest: &[u8]) -> StoreResult<()> {
                    sessions::delete_session(self, digest).await
                }

                async fn add_notification(&self, n: &Notification) -> StoreResult<()> {
                    system_log::add_notification(self, n).await
                }

                async fn notifications(&self, customer: &CustomerId, limit: u32) -> StoreResult<Vec<Notification>> {
                    system_log::notifications(self, customer, limit).await
                }

                async fn append_log(&self, entry: &LogEntry) -> StoreResult<()> {
                    system_log::append_log(self, entry).await
                }

                async fn log_records(&self, q: &LogQuery) -> StoreResult<Vec<LogRecord>> {
                    system_log::log_records(self, q).await
                }

                async fn prune_log(&self, before: OffsetDateTime, limit: u32) -> StoreResult<u64> {
                    system_log::prune_log(self, before, limit).await
                }

                async fn log_view(&self, q: &LogQuery, view: &LogView) -> StoreResult<Vec<LogRecord>> {
                    system_log::log_view(self, q, view).await
                }

                async fn create_scim_token(
                    &self,
                    token: &ScimToken,
                    digest: &[u8],
                    server_key: &ServerKeyId,
                    actor: &Actor,
                ) -> StoreResult<()> {
                    federation::create_scim_token(self, token, digest, server_key, actor).await
                }

                async fn scim_tokens(&self, customer: &CustomerId) -> StoreResult<Vec<ScimToken>> {
                    federation::scim_tokens(self, customer).await
                }

                async fn scim_token(&self, digest: &[u8]) -> StoreResult<Option<ScimToken>> {
                    federation::scim_token(self, digest).await
                }

                async fn revoke_scim_token(
                    &self,
                    customer: &CustomerId,
                    id: ScimTokenId,
                    actor: &Actor,
                ) -> StoreResult<bool> {
                    federation::revoke_scim_token(self, customer, id, actor).await
                }

                async fn scim_users(
                    &self,
                    customer: &CustomerId,
                    filter: &ScimFilter,
                    offset: u64,
                    limit: u32,
                ) -> StoreResult<(u64, Vec<ScimUser>)> {
                    federation::scim_users(self, customer, filter, offset, limit).await
                }

                async fn scim_user(&self, customer: &CustomerId, admin: AdminId) -> StoreResult<Option<ScimUser>> {
                    federation::scim_user(self, customer, admin).await
                }

                async fn provision_user(
                    &self,
                    customer: &CustomerId,
                    candidate: &Admin,
                    write: &ScimUserWrite,
                    actor: &Actor,
                ) -> StoreResult<ScimUser> {
                    federation::provision_user(self, customer, candidate, write, actor).await
                }

                async fn update_scim_user(
                    &self,
                    customer: &CustomerId,
                    admin: AdminId,
                    write: &ScimUserWrite,
                    if_version: Option<&str>,
                    actor: &Actor,
                ) -> StoreResult<ScimUser> {
                    federation::update_scim_user(self, customer, admin, write, if_version, actor).await
                }

                async fn deprovision_user(
                    &self,
                    customer: &CustomerId,
                    admin: AdminId,
                    if_version: Option<&str>,
                    actor: &Actor,
                ) -> StoreResult<usize> {
                    federation::deprovision_user(self, customer, admin, if_version, actor).await
                }

                async fn disabled_owners(&self, customer: &CustomerId) -> StoreResult<Vec<DisabledOwner>> {
                    admins::disabled_owners(self, customer).await
                }

                async fn connect_provider(&self, provider: &IdentityProvider, actor: &Actor) -> StoreResult<()> {
                    federation::connect_provider(self, provider, actor).await
                }

                async fn disconnect_provider(
                    &self,
                    customer: &CustomerId,
                    id: ProviderId,
                    actor: &Actor,
                ) -> StoreResult<bool> {
                    federation::disconnect_provider(self, customer, id, actor).await
                }

                async fn identity_provider(&self, id: ProviderId) -> StoreResult<Option<IdentityProvider>> {
                    federation::identity_provider(self, id).await
                }

                async fn identity_providers(&self, customer: &CustomerId) -> StoreResult<Vec<IdentityProvider>> {
                    federation::identity_providers(self, customer).await
                }

                async fn providers_for_email(&self, email: &Email) -> StoreResult<Vec<IdentityProvider>> {
                    federation::providers_for_email(self, email).await
                }

                async fn begin_sign_in(
                    &self,
                    state_digest: &[u8],
                    pending: &PendingSignIn,
                    now: OffsetDateTime,
                ) -> StoreResult<()> {
                    federation::begin_sign_in(self, state_digest, pending, now).await
                }

                async fn take_sign_in(
                    &self,
                    state_digest: &[u8],
                    now: OffsetDateTime,
                ) -> StoreResult<Option<PendingSignIn>> {
                    federation::take_sign_in(self, state_digest, now).await
                }

                async fn federated_admin(
                    &self,
                    provider: &IdentityProvider,
                    subject: &str,
                    verified_email: Option<&Email>,
                    now: OffsetDateTime,
                ) -> StoreResult<Option<Admin>> {
                    federation::federated_admin(self, provider, subject, verified_email, now).await
                }

                async fn create_resource_server(
                    &self,
                    server: &trustgate_core::resource_server::ResourceServer,
                    verifier: &trustgate_core::secret::SecretVerifier,
                ) -> StoreResult<()> {
                    catalog::create_resource_server(self, server, verifier).await
                }

                async fn resource_servers(&self) -> StoreResult<Vec<trustgate_core::resource_server::ResourceServer>> {
                    catalog::resource_servers(self).await
                }

                async fn resource_server(
                    &self,
                    id: trustgate_core::ids::ResourceServerId,
                ) -> StoreResult<
                    Option<(trustgate_core::resource_server::ResourceServer, trustgate_core::secret::SecretVerifier)>,
                > {
                    catalog::resource_server(self, id).await
                }

                async fn rotate_resource_server(
                    &self,
                    name: &str,
                    verifier: &trustgate_core::secret::SecretVerifier,
                ) -> StoreResult<Option<trustgate_core::resource_server::ResourceServer>> {
                    catalog::rotate_resource_server(self, name, verifier).await
                }

                async fn delete_resource_server(&self, name: &str) -> StoreResult<bool> {
                    catalog::delete_resource_server(self, name).await
                }

                async fn catalog(&self) -> StoreResult<trustgate_core::catalog::Catalog> {
                    catalog::catalog(self).await
                }

                async fn apply_catalog(
                    &self,
                    catalog: &trustgate_core::catalog::Catalog,
                    force: bool,
                    actor: &Actor,
                ) -> StoreResult<crate::model::CatalogApplied> {
                    catalog::apply_catalog(self, catalog, force, actor).await
                }

                async fn preview_catalog(
                    &self,
                    catalog: &trustgate_core::catalog::Catalog,
                    force: bool,
                    actor: &Actor,
                ) -> StoreResult<crate::model::CatalogApplied> {
                    catalog::preview_catalog(self, catalog, force, actor).await
                }
            }
        }
    };
}
pub(crate) use store_impl;
