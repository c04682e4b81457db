//! The SQL both backends share. Queries use `$n` placeholders in order of first use, which SQLite
//! and PostgreSQL both understand, and only column types both have; the [`store_impl!`] macro
//! instantiates the one implementation per backend, so no query branches on the backend.

use time::OffsetDateTime;
use trustgate_core::access::{Access, PermissionSet};
use trustgate_core::admin::{Admin, AdminStatus, Email, Provider};
use trustgate_core::client::{ApiClient, ClientKind};
use trustgate_core::client_secrets::{GrantSecret, SecretInfo};
use trustgate_core::customer::{Customer, DisabledOwnerPolicy};
use trustgate_core::federation::IdentityProvider;
use trustgate_core::ids::{AdminId, ClientId, CustomerId, ProviderId, ScimTokenId};
use trustgate_core::provisioning::ScimToken;
use trustgate_core::rights::Standing;
use trustgate_core::secret::{SecretId, SecretVerifier, ServerKeyId};

use crate::error::{StoreError, StoreResult};
use crate::model::{ClientGrant, LogRecord, Member, Notification, ScimUser};

pub(crate) fn ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub(crate) fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Internal(format!("a stored {what} is invalid"))
}

// ---- The permission catalog (issue 10): rows as stored, in the operator's order ----
pub(crate) type CatalogServiceRow = (String, String, Option<String>);
pub(crate) type CatalogPermissionRow = (String, String, String, Option<String>);
pub(crate) type CatalogRouteRow = (String, String, String, String);

/// How many holders a refused catalog apply names (the rest are counted).
pub(crate) const HOLDERS_NAMED: usize = 5;

/// Rebuilds the catalog from its rows, with every check `Catalog::new` makes.
pub(crate) fn catalog(
    services: Vec<CatalogServiceRow>,
    permissions: Vec<CatalogPermissionRow>,
    routes: Vec<CatalogRouteRow>,
) -> StoreResult<trustgate_core::catalog::Catalog> {
    use trustgate_core::access::{Permission, PolicyName};
    use trustgate_core::catalog::{
        Catalog, CustomerPlace, MethodRule, PathPattern, PermissionEntry, RouteRule, Service,
    };
    let services = services
        .into_iter()
        .map(|(name, display_name, description)| {
            Ok(Service { name: PolicyName::parse("service", &name)?, display_name, description })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let permissions = permissions
        .into_iter()
        .map(|(service, name, display_name, description)| {
            Ok(PermissionEntry { permission: Permission::of(&service, &name)?, display_name, description })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let routes = routes
        .into_iter()
        .map(|(method, path, permission, customer)| {
            Ok(RouteRule {
                method: MethodRule::parse(&method)?,
                pattern: PathPattern::parse(&path)?,
                permission: Permission::parse(&permission)?,
                customer: CustomerPlace::parse(&customer)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Catalog::new(services, permissions, routes).map_err(|_| corrupt("permission catalog"))
}
pub(crate) fn corrupt_id(what: &str) -> StoreError {
    corrupt(&format!("{what} id"))
}
// ---- end of the permission catalog ----

pub(crate) type CustomerRow = (String, String, String, i64);
pub(crate) fn customer((id, name, policy, created_at): CustomerRow) -> StoreResult<Customer> {
    Ok(Customer {
        id: CustomerId::parse(&id)?,
        name,
        disabled_owner_policy: DisabledOwnerPolicy::parse(&policy)?,
        created_at: from_ms(created_at),
    })
}

pub(crate) type AdminRow = (String, String, String, String, Option<String>, Option<String>, String, i64);

pub(crate) fn admin(
    (id, email, display_name, provider, external_id, provider_id, status, created_at): AdminRow,
) -> StoreResult<Admin> {
    Ok(Admin {
        id: AdminId::parse(&id)?,
        email: Email::parse(&email)?,
        display_name,
        provider: Provider::parse(&provider)?,
        external_id,
        provider_id,
        status: AdminStatus::parse(&status).ok_or_else(|| corrupt("admin status"))?,
        created_at: from_ms(created_at),
    })
}

pub(crate) fn access(access_type: &str, permissions: &str) -> StoreResult<Access> {
    Ok(Access::from_parts(access_type, PermissionSet::parse_list(permissions)?)?)
}

pub(crate) fn access_columns(access: &Access) -> (&'static str, String) {
    let permissions = match access {
        Access::Full => String::new(),
        Access::Custom(set) => set.to_list(),
    };
    (access.access_type(), permissions)
}

pub(crate) type MemberRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    String,
    String,
    i64,
    i64,
    Option<i64>,
);

/// The columns of a [`MemberRow`], from `memberships m JOIN admins a` + [`pending_join!`]. These
/// are macros, not constants, so `concat!` builds each query as one static string.
macro_rules! member_columns {
    () => {
        "a.id, m.email, m.display_name, a.provider, a.external_id, a.provider_id, a.status, a.created_at, \
         m.access_type, m.permissions, m.created_at, m.updated_at, i.expires_at"
    };
}

/// Joins a membership `m` to its invitation `i`, if it is pending.
macro_rules! pending_join {
    () => {
        " LEFT JOIN invitations i ON i.customer_id = m.customer_id AND i.admin_id = m.admin_id "
    };
}

/// A condition on a membership `m`: it is not pending (issue #12: an invitation grants nothing).
macro_rules! accepted {
    () => {
        " NOT EXISTS (SELECT 1 FROM invitations p WHERE p.customer_id = m.customer_id AND p.admin_id = m.admin_id) "
    };
}

pub(crate) use {accepted, member_columns, pending_join};

pub(crate) fn member(row: MemberRow) -> StoreResult<Member> {
    let (
        id,
        email,
        display_name,
        provider,
        external_id,
        provider_id,
        status,
        created,
        access_type,
        permissions,
        since,
        updated,
        until,
    ) = row;
    Ok(Member {
        admin: admin((id, email, display_name, provider, external_id, provider_id, status, created))?,
        access: access(&access_type, &permissions)?,
        created_at: from_ms(since),
        updated_at: from_ms(updated),
        pending: until.map(|at| crate::model::Pending { expires_at: from_ms(at) }),
    })
}

/// The columns of `api_clients` (as `k`) every read takes, in [`ClientRow`]'s order; a macro so
/// queries stay static strings.
macro_rules! client_columns {
    () => {
        "k.id, k.customer_id, k.owner_id, k.name, k.created_at, k.last_used_at, k.access_type, k.permissions"
    };
}
pub(crate) use client_columns;

pub(crate) type ClientRow = (String, String, Option<String>, String, i64, Option<i64>, Option<String>, Option<String>);

pub(crate) fn client(
    (id, customer_id, owner_id, name, created_at, last_used_at, access_type, permissions): ClientRow,
) -> StoreResult<ApiClient> {
    let kind = match (owner_id, access_type, permissions) {
        (Some(owner), None, None) => ClientKind::SecureClient { owner: AdminId::parse(&owner)? },
        (None, Some(access_type), Some(permissions)) => {
            ClientKind::ServicePrincipal { access: access(&access_type, &permissions)? }
        }
        _ => return Err(corrupt("API client kind")),
    };
    Ok(ApiClient {
        id: ClientId::parse(&id)?,
        customer_id: CustomerId::parse(&customer_id)?,
        kind,
        name,
        created_at: from_ms(created_at),
        last_used_at: last_used_at.map(from_ms),
    })
}

/// A client row's columns and its owner's e-mail, access, status and customer
/// policy (all NULL for a service principal).
pub(crate) type GrantRow = (
    String,
    String,
    Option<String>,
    String,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub(crate) fn grant(row: GrantRow, secrets: Vec<GrantSecret>) -> StoreResult<ClientGrant> {
    let (
        id,
        customer,
        owner,
        name,
        created,
        used,
        own_type,
        own_permissions,
        owner_email,
        access_type,
        permissions,
        status,
        policy,
    ) = row;
    let client = client((id, customer, owner, name, created, used, own_type, own_permissions))?;
    let standing = match (&client.kind, access_type, permissions, status, policy) {
        (ClientKind::ServicePrincipal { access }, ..) => Standing::of_principal(access.clone()),
        (ClientKind::SecureClient { .. }, Some(access_type), Some(permissions), Some(status), Some(policy)) => {
            Standing {
                access: access(&access_type, &permissions)?,
                status: AdminStatus::parse(&status).ok_or_else(|| corrupt("admin status"))?,
                policy: DisabledOwnerPolicy::parse(&policy)?,
            }
        }
        _ => return Err(corrupt("API client owner")),
    };
    Ok(ClientGrant { client, secrets, owner_email, standing })
}

pub(crate) type GrantSecretRow = (String, i64, Vec<u8>, Option<i64>, Option<i64>, Option<i64>, Option<String>);

/// The server key id stored beside a record; `None` (made before keys had ids) stays `None`.
pub(crate) fn server_key_id(stored: Option<String>) -> StoreResult<Option<ServerKeyId>> {
    stored.map(|id| ServerKeyId::parse(&id).ok_or_else(|| corrupt("server key id"))).transpose()
}

pub(crate) fn grant_secret(
    (id, legacy, verifier, expires_at, expiry_logged_at, last_used_at, server_key): GrantSecretRow,
) -> StoreResult<GrantSecret> {
    Ok(GrantSecret {
        id: SecretId::parse(&id)?,
        legacy: legacy != 0,
        verifier: SecretVerifier::from_stored(&verifier, server_key_id(server_key)?)
            .ok_or_else(|| corrupt("secret verifier"))?,
        expires_at: expires_at.map(from_ms),
        expiry_logged: expiry_logged_at.is_some(),
        last_used_at: last_used_at.map(from_ms),
    })
}

pub(crate) type SecretInfoRow = (String, i64, i64, String, Option<i64>, Option<i64>, Option<String>);

pub(crate) fn secret_info(
    (id, legacy, created_at, created_by, expires_at, last_used_at, server_key): SecretInfoRow,
) -> StoreResult<SecretInfo> {
    Ok(SecretInfo {
        id: SecretId::parse(&id)?,
        legacy: legacy != 0,
        created_at: from_ms(created_at),
        created_by,
        expires_at: expires_at.map(from_ms),
        last_used_at: last_used_at.map(from_ms),
        server_key: server_key_id(server_key)?,
    })
}

pub(crate) type LogRow = (
    i64,
    String,
    String,
    i64,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

pub(crate) fn log_record(row: LogRow) -> StoreResult<LogRecord> {
    let (
        seq,
        record_id,
        customer_id,
        at,
        event_type,
        actor_type,
        actor_id,
        actor_name,
        target_type,
        target_id,
        target_name,
        message,
        before,
        after,
    ) = row;
    let json = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
    Ok(LogRecord {
        seq,
        record_id,
        customer_id: CustomerId::parse(&customer_id)?,
        at: from_ms(at),
        event_type,
        actor_type,
        actor_id,
        actor_name,
        target_type,
        target_id,
        target_name,
        message,
        before: json(before),
        after: json(after),
    })
}

pub(crate) type NotificationRow = (String, String, String, String, i64);

pub(crate) fn notification(
    (id, customer_id, destination_admin, body, created_at): NotificationRow,
) -> StoreResult<Notification> {
    Ok(Notification {
        id,
        customer_id: CustomerId::parse(&customer_id)?,
        destination_admin,
        body: serde_json::from_str(&body).map_err(|_| corrupt("notification"))?,
        created_at: from_ms(created_at),
    })
}

pub(crate) type ScimTokenRow = (String, String, String, String, Option<String>, String, i64);

pub(crate) fn scim_token(
    (id, customer_id, name, provider, provider_id, created_by, created_at): ScimTokenRow,
) -> StoreResult<ScimToken> {
    Ok(ScimToken {
        id: ScimTokenId::parse(&id)?,
        customer_id: CustomerId::parse(&customer_id)?,
        name,
        provider: Provider::parse(&provider)?,
        provider_id,
        created_by,
        created_at: from_ms(created_at),
    })
}

pub(crate) type ResourceServerRow = (String, String, Vec<u8>, i64, Option<String>);

pub(crate) fn resource_server(
    (id, name, verifier, created_at, server_key): ResourceServerRow,
) -> StoreResult<(trustgate_core::resource_server::ResourceServer, SecretVerifier)> {
    let server = trustgate_core::resource_server::ResourceServer {
        id: trustgate_core::ids::ResourceServerId::parse(&id)?,
        name,
        created_at: from_ms(created_at),
    };
    let verifier = SecretVerifier::from_stored(&verifier, server_key_id(server_key)?)
        .ok_or_else(|| corrupt("resource server verifier"))?;
    Ok((server, verifier))
}

pub(crate) type ProviderRow = (String, String, String, String, String, Vec<u8>, String, i64);

pub(crate) fn identity_provider(
    (id, customer_id, provider_type, issuer, client_id, sealed_secret, email_claim, created_at): ProviderRow,
) -> StoreResult<IdentityProvider> {
    Ok(IdentityProvider {
        id: ProviderId::parse(&id)?,
        customer_id: CustomerId::parse(&customer_id)?,
        provider_type: Provider::parse(&provider_type)?,
        issuer,
        client_id,
        sealed_secret,
        email_claim,
        created_at: from_ms(created_at),
    })
}

/// The columns of a [`ScimUserRow`] and the joins that read them, as a literal for `concat!`.
macro_rules! scim_user_select {
    () => {
        "SELECT a.id, m.email, m.display_name, a.provider, a.external_id, a.provider_id, a.status, a.created_at, s.user_name, \
         s.external_id, s.document, s.version, s.created_at, s.updated_at \
         FROM scim_users s JOIN memberships m ON m.customer_id = s.customer_id AND m.admin_id = s.admin_id \
         JOIN admins a ON a.id = s.admin_id"
    };
}
pub(crate) use scim_user_select;

pub(crate) type ScimUserRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    String,
    Option<String>,
    String,
    i64,
    i64,
    i64,
);

pub(crate) fn scim_user(row: ScimUserRow) -> StoreResult<ScimUser> {
    let (
        id,
        email,
        display_name,
        provider,
        subject,
        provider_id,
        status,
        created,
        user_name,
        external_id,
        document,
        version,
        since,
        updated,
    ) = row;
    let admin = admin((id, email, display_name, provider, subject, provider_id, status, created))?;
    // The status is part of the version: a disable by the CLI or another customer's provider
    // changes the resource as much as a SCIM write does.
    let version = format!("{version}{}", if admin.status == AdminStatus::Active { 'a' } else { 'd' });
    Ok(ScimUser {
        admin,
        user_name,
        external_id,
        document: serde_json::from_str(&document).map_err(|_| corrupt("SCIM resource"))?,
        version,
        created_at: from_ms(since),
        updated_at: from_ms(updated),
    })
}

/// Implements [`crate::Store`] for a backend struct with the fields `pool: sqlx::Pool<$db>` and
/// `listener: ListenerSlot`, and the inherent methods `write_tx`, `lock_customer`, `watch`,
/// `caught_up` and `announce`.
macro_rules! store_impl {
    ($store:ty, $db:ty) => {
        use std::sync::Arc;

        use async_trait::async_trait;
        use time::OffsetDateTime;
        use trustgate_core::access::Access;
        use trustgate_core::admin::{Admin, AdminStatus, Email};
        use trustgate_core::client::{ApiClient, ClientKind, PRINCIPALS_PER_CUSTOMER_MAX};
        use trustgate_core::custody::KeyAtRest;
        use trustgate_core::customer::{Customer, DisabledOwnerPolicy};
        use trustgate_core::event::{self, Actor, DeletionCause, InvitationEvent, LogEntry};
        use trustgate_core::federation::IdentityProvider;
        use trustgate_core::ids::{AdminId, ClientId, CustomerId, ProviderId, ScimTokenId};
        use trustgate_core::lifecycle::{self, Authority, Identity};
        use trustgate_core::provisioning::{self, ScimToken};
        use trustgate_core::rights::{PrincipalKind, Standing};
        use trustgate_core::client_secrets::{self, Manager, NewSecret, SecretInfo};
        use trustgate_core::event::SecretEvent;
        use trustgate_core::secret::{SecretId, ServerKeyId};
        use trustgate_core::token::{UnknownAlgorithm, ALLOWED_SKEW_SECS, TOKEN_LIFETIME_SECS};

        use crate::changes::{Change, ChangeListener};
        use crate::error::{StoreError, StoreResult};
        use crate::model::{
            ClientGrant, DisabledOwner, ExpiringSecret, Invitation, InvitationTerms, LogQuery, LogRecord, LogView, Member,
            Membership, Notification, PendingSignIn, PoolUse, ScimFilter, ScimUser, ScimUserWrite, ServerKeyUse, Session,
        };
        use crate::sql::{self, ms};
        use crate::Store;

        type Tx = sqlx::Transaction<'static, $db>;

        async fn insert_log(tx: &mut Tx, entry: &LogEntry) -> StoreResult<()> {
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

        async fn insert_changes(tx: &mut Tx, changes: &[Change], at: OffsetDateTime) -> StoreResult<()> {
            for change in changes {
                let (customer, admin, client) = change.columns();
                sqlx::query("INSERT INTO changes (kind, customer_id, admin_id, client_id, at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(change.kind())
                    .bind(customer)
                    .bind(admin)
                    .bind(client)
                    .bind(ms(at))
                    .execute(&mut **tx)
                    .await?;
            }
            <$store>::announce(tx, changes, at).await
        }

        /// A grant names only permissions the stored catalog declares: the node's copy of the
        /// catalog may be a moment old, and an apply that removed one may have committed since
        /// (issue #10). Callers take `share_catalog` first, so no apply runs until they commit.
        async fn ensure_declared(tx: &mut Tx, access: &Access) -> StoreResult<()> {
            let Access::Custom(set) = access else { return Ok(()) };
            for permission in set.iter() {
                let trustgate_core::access::Permission::Service { service, name } = permission else { continue };
                let declared: Option<(i64,)> =
                    sqlx::query_as("SELECT ordinal FROM catalog_permissions WHERE service = $1 AND name = $2")
                        .bind(service.as_str())
                        .bind(name.as_str())
                        .fetch_optional(&mut **tx)
                        .await?;
                if declared.is_none() {
                    return Err(StoreError::Conflict(format!("the permission {permission} is no longer in the catalog")));
                }
            }
            Ok(())
        }

        async fn load_member(tx: &mut Tx, customer: &CustomerId, admin: AdminId) -> StoreResult<Option<Member>> {
            sqlx::query_as::<_, sql::MemberRow>(concat!("SELECT ", crate::sql::member_columns!(), " FROM memberships m JOIN admins a ON a.id = m.admin_id ", crate::sql::pending_join!(), " \
                 WHERE m.customer_id = $1 AND m.admin_id = $2"))
            .bind(customer.as_str())
            .bind(admin.to_string())
            .fetch_optional(&mut **tx)
            .await?
            .map(sql::member)
            .transpose()
        }

        /// How many administrators of `customer` hold Full access; read under the customer's lock.
        async fn full_admins(tx: &mut Tx, customer: &CustomerId) -> StoreResult<u64> {
            let (full,): (i64,) =
                sqlx::query_as(concat!("SELECT COUNT(*) FROM memberships m WHERE m.customer_id = $1 AND m.access_type = 'Full' AND ", crate::sql::accepted!()))
                    .bind(customer.as_str())
                    .fetch_one(&mut **tx)
                    .await?;
            Ok(u64::try_from(full).unwrap_or(0))
        }

        fn standing_row((access_type, permissions, status, policy): (String, String, String, String)) -> StoreResult<Standing> {
            Ok(Standing {
                access: sql::access(&access_type, &permissions)?,
                status: AdminStatus::parse(&status)
                    .ok_or_else(|| StoreError::Internal("a stored admin status is invalid".to_owned()))?,
                policy: DisabledOwnerPolicy::parse(&policy)?,
            })
        }

        /// What `actor` holds in `customer` now, read in the transaction about to act on it: an
        /// administrator's own membership, an API client's owner's (R4), or a service principal's
        /// own access (SP2).
        async fn authority(tx: &mut Tx, customer: &CustomerId, actor: &Actor) -> StoreResult<Authority> {
            if let Actor::ServicePrincipal { id, .. } = actor {
                return match principal_in_tx(tx, customer, *id).await?.map(|p| p.kind) {
                    Some(ClientKind::ServicePrincipal { access }) => Ok(Authority::Holds(access)),
                    _ => Err(lifecycle::Refusal::NotAMember.into()),
                };
            }
            let (kind, row) = match actor {
                // A provider's token was made by a Full administrator; what it may do at all (add
                // with no access, disable, enable, remove) is fixed by the SCIM front door.
                Actor::System | Actor::Provider { .. } => return Ok(Authority::Operator),
                Actor::ServicePrincipal { .. } => return Err(lifecycle::Refusal::NotAMember.into()),
                Actor::Admin { id, .. } => (
                    PrincipalKind::Admin,
                    sqlx::query_as(concat!("SELECT m.access_type, m.permissions, a.status, c.disabled_owner_policy \
                         FROM memberships m JOIN admins a ON a.id = m.admin_id JOIN customers c ON c.id = m.customer_id \
                         WHERE m.customer_id = $1 AND m.admin_id = $2 AND ", crate::sql::accepted!()))
                        .bind(customer.as_str())
                        .bind(id.to_string())
                        .fetch_optional(&mut **tx)
                        .await?,
                ),
                Actor::ApiClient { id, .. } => (
                    PrincipalKind::ApiClient,
                    sqlx::query_as(concat!("SELECT m.access_type, m.permissions, a.status, c.disabled_owner_policy \
                         FROM memberships m JOIN admins a ON a.id = m.admin_id JOIN customers c ON c.id = m.customer_id \
                         JOIN api_clients k ON k.customer_id = m.customer_id AND k.owner_id = m.admin_id \
                         WHERE m.customer_id = $1 AND k.id = $2 AND ", crate::sql::accepted!()))
                    .bind(customer.as_str())
                    .bind(id.to_string())
                    .fetch_optional(&mut **tx)
                    .await?,
                ),
            };
            Ok(Authority::of(kind, row.map(standing_row).transpose()?)?)
        }

        async fn clients_in_tx(tx: &mut Tx, customer: &CustomerId, owner: AdminId) -> StoreResult<Vec<ApiClient>> {
            sqlx::query_as::<_, sql::ClientRow>(concat!("SELECT ", sql::client_columns!(), " FROM api_clients k WHERE k.customer_id = $1 AND k.owner_id = $2 ORDER BY k.created_at, k.id"))
            .bind(customer.as_str())
            .bind(owner.to_string())
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .map(sql::client)
            .collect()
        }

        /// The customer's service principal `id`, if it is one.
        async fn principal_in_tx(tx: &mut Tx, customer: &CustomerId, id: ClientId) -> StoreResult<Option<ApiClient>> {
            sqlx::query_as::<_, sql::ClientRow>(concat!("SELECT ", sql::client_columns!(), " FROM api_clients k WHERE k.id = $1 AND k.customer_id = $2 AND k.owner_id IS NULL"))
            .bind(id.to_string())
            .bind(customer.as_str())
            .fetch_optional(&mut **tx)
            .await?
            .map(sql::client)
            .transpose()
        }

        /// R6 in one place: ends a membership and deletes the member's clients there, logging each.
        async fn end_membership(
            tx: &mut Tx,
            customer: &CustomerId,
            member: &Member,
            cause: DeletionCause,
            actor: &Actor,
            now: OffsetDateTime,
            changes: &mut Vec<Change>,
        ) -> StoreResult<usize> {
            let clients = clients_in_tx(tx, customer, member.admin.id).await?;
            sqlx::query("DELETE FROM api_clients WHERE customer_id = $1 AND owner_id = $2")
                .bind(customer.as_str())
                .bind(member.admin.id.to_string())
                .execute(&mut **tx)
                .await?;
            sqlx::query("DELETE FROM memberships WHERE customer_id = $1 AND admin_id = $2")
                .bind(customer.as_str())
                .bind(member.admin.id.to_string())
                .execute(&mut **tx)
                .await?;
            for client in &clients {
                insert_log(tx, &event::client_deleted(client, cause, now, actor)).await?;
                changes.push(Change::ClientDeleted(client.id));
            }
            insert_log(tx, &event::admin_removed(customer, &member.admin, clients.len(), now, actor)).await?;
            changes.push(Change::MembershipChanged(customer.clone(), member.admin.id));
            Ok(clients.len())
        }

        /// Ends every console and API session of `admin`, in the transaction of the change that
        /// calls for it (issue #8): a session must not outlive the standing it was opened with.
        async fn end_sessions(tx: &mut Tx, admin: AdminId) -> StoreResult<()> {
            sqlx::query("DELETE FROM sessions WHERE admin_id = $1").bind(admin.to_string()).execute(&mut **tx).await?;
            Ok(())
        }

        // ---- Client secrets (issue #11) ----

        async fn insert_secret(tx: &mut Tx, client: ClientId, secret: &NewSecret, actor: &Actor) -> StoreResult<SecretInfo> {
            sqlx::query(
                "INSERT INTO client_secrets (client_id, id, legacy, verifier, created_at, created_by, expires_at, server_key) \
                 VALUES ($1, $2, 0, $3, $4, $5, $6, $7)",
            )
            .bind(client.to_string())
            .bind(secret.id.as_str())
            .bind(secret.verifier.as_bytes().to_vec())
            .bind(ms(secret.created_at))
            .bind(actor.display_name())
            .bind(secret.expires_at.map(ms))
            .bind(secret.verifier.key().map(ServerKeyId::as_str))
            .execute(&mut **tx)
            .await?;
            Ok(SecretInfo {
                id: secret.id,
                legacy: false,
                created_at: secret.created_at,
                created_by: actor.display_name().to_owned(),
                expires_at: secret.expires_at,
                last_used_at: None,
                server_key: secret.verifier.key().cloned(),
            })
        }

        async fn load_client(tx: &mut Tx, id: ClientId) -> StoreResult<Option<ApiClient>> {
            sqlx::query_as::<_, sql::ClientRow>(concat!("SELECT ", sql::client_columns!(), " FROM api_clients k WHERE k.id = $1"))
            .bind(id.to_string())
            .fetch_optional(&mut **tx)
            .await?
            .map(sql::client)
            .transpose()
        }

        /// The client, if `actor` may manage its secrets (`client_secrets::may_manage`, read in
        /// this transaction); else `NotFound`, as if it did not exist (R3).
        async fn managed_client(tx: &mut Tx, customer: &CustomerId, id: ClientId, actor: &Actor) -> StoreResult<ApiClient> {
            let not_found = StoreError::NotFound("API client");
            let client = load_client(tx, id).await?.filter(|c| c.customer_id == *customer).ok_or(not_found)?;
            let manager = match actor {
                Actor::System => Manager::Operator,
                Actor::Admin { id, .. } => match authority(tx, customer, actor).await? {
                    Authority::Holds(access) => Manager::Admin(*id, access),
                    Authority::Operator => Manager::Operator,
                },
                // Tokens and identity providers never manage an API client's secrets.
                Actor::ApiClient { .. } | Actor::ServicePrincipal { .. } | Actor::Provider { .. } => Manager::Other,
            };
            if client_secrets::may_manage(client.owner(), &manager) {
                Ok(client)
            } else {
                Err(StoreError::NotFound("API client"))
            }
        }

        async fn secrets_of(tx: &mut Tx, client: ClientId) -> StoreResult<Vec<SecretInfo>> {
            sqlx::query_as::<_, sql::SecretInfoRow>(
                "SELECT id, legacy, created_at, created_by, expires_at, last_used_at, server_key FROM client_secrets \
                 WHERE client_id = $1 ORDER BY created_at, id",
            )
            .bind(client.to_string())
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .map(sql::secret_info)
            .collect()
        }

        /// Secrets with their clients, from a query selecting the client's columns then the secret's.
        fn expiring_rows(
            rows: Vec<(
                String,
                String,
                Option<String>,
                String,
                i64,
                Option<i64>,
                Option<String>,
                Option<String>,
                String,
                i64,
                i64,
                String,
                Option<i64>,
                Option<i64>,
                Option<String>,
            )>,
        ) -> StoreResult<Vec<ExpiringSecret>> {
            rows.into_iter()
                .map(|(id, customer, owner, name, created, used, own_type, own_permissions, s_id, legacy, s_created, by, expires, s_used, s_key)| {
                    Ok(ExpiringSecret {
                        client: sql::client((id, customer, owner, name, created, used, own_type, own_permissions))?,
                        secret: sql::secret_info((s_id, legacy, s_created, by, expires, s_used, s_key))?,
                    })
                })
                .collect()
        }


        // ---- end of client secrets ----

        async fn insert_admin(tx: &mut Tx, admin: &Admin, password_hash: Option<&str>) -> StoreResult<()> {
            let inserted = sqlx::query(
                "INSERT INTO admins (id, email, display_name, provider, external_id, status, password_hash, created_at, provider_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
            )
            .bind(admin.id.to_string())
            .bind(admin.email.as_str())
            .bind(&admin.display_name)
            .bind(admin.provider.wire_name())
            .bind(admin.external_id.as_deref())
            .bind(admin.status.as_str())
            .bind(password_hash)
            .bind(ms(admin.created_at))
            .bind(admin.provider_id.as_deref())
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                return Err(StoreError::Conflict(format!("an administrator with e-mail {} already exists", admin.email)));
            }
            Ok(())
        }

        /// Makes `admin` a member of `customer` with `access`, logged and announced; the caller has
        /// locked the customer and checked the actor's authority. The e-mail and display name of
        /// `admin` become this customer's own profile of them. Returns the changes to publish.
        async fn join(
            tx: &mut Tx,
            customer: &CustomerId,
            admin: &Admin,
            access: Access,
            invite: Option<&InvitationTerms>,
            actor: &Actor,
        ) -> StoreResult<Vec<Change>> {
            let exists: Option<(String,)> =
                sqlx::query_as("SELECT id FROM customers WHERE id = $1").bind(customer.as_str()).fetch_optional(&mut **tx).await?;
            if exists.is_none() {
                return Err(StoreError::NotFound("customer"));
            }
            ensure_declared(tx, &access).await?;
            let now = OffsetDateTime::now_utc();
            let (access_type, permissions) = sql::access_columns(&access);
            let inserted = sqlx::query(
                "INSERT INTO memberships (customer_id, admin_id, access_type, permissions, created_at, updated_at, \
                 email, display_name) VALUES ($1, $2, $3, $4, $5, $5, $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(customer.as_str())
            .bind(admin.id.to_string())
            .bind(access_type)
            .bind(permissions)
            .bind(ms(now))
            .bind(admin.email.as_str())
            .bind(&admin.display_name)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                return Err(StoreError::Conflict(format!("{} is already an administrator of customer {customer}", admin.email)));
            }
            match invite {
                Some(terms) => {
                    sqlx::query(
                        "INSERT INTO invitations (customer_id, admin_id, verifier, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(customer.as_str())
                    .bind(admin.id.to_string())
                    .bind(terms.verifier.to_vec())
                    .bind(ms(now))
                    .bind(ms(terms.expires_at))
                    .execute(&mut **tx)
                    .await?;
                    insert_log(tx, &event::invitation(customer, admin, &access, InvitationEvent::Sent, now, actor)).await?;
                }
                None => insert_log(tx, &event::admin_added(customer, admin, &access, now, actor)).await?,
            }
            let changes = vec![Change::MembershipChanged(customer.clone(), admin.id)];
            insert_changes(tx, &changes, now).await?;
            Ok(changes)
        }

        async fn admin_customers(tx: &mut Tx, admin: AdminId) -> StoreResult<Vec<CustomerId>> {
            sqlx::query_as::<_, (String,)>("SELECT customer_id FROM memberships WHERE admin_id = $1 ORDER BY customer_id")
                .bind(admin.to_string())
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(|(c,)| CustomerId::parse(&c).map_err(StoreError::from))
                .collect()
        }

        /// Ends a pending membership (its invitation goes with it), logged as a cancellation, and
        /// forgets an invitee who never accepted anything: no password and no other customer.
        async fn withdraw(tx: &mut Tx, customer: &CustomerId, member: &Member, actor: &Actor) -> StoreResult<Vec<Change>> {
            let now = OffsetDateTime::now_utc();
            sqlx::query("DELETE FROM memberships WHERE customer_id = $1 AND admin_id = $2")
                .bind(customer.as_str())
                .bind(member.admin.id.to_string())
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "DELETE FROM admins WHERE id = $1 AND password_hash IS NULL AND provider = $2 \
                 AND NOT EXISTS (SELECT 1 FROM memberships WHERE admin_id = $1)",
            )
            .bind(member.admin.id.to_string())
            .bind(trustgate_core::admin::Provider::Local.wire_name())
            .execute(&mut **tx)
            .await?;
            insert_log(tx, &event::invitation(customer, &member.admin, &member.access, InvitationEvent::Cancelled, now, actor))
                .await?;
            let changes = vec![Change::MembershipChanged(customer.clone(), member.admin.id)];
            insert_changes(tx, &changes, now).await?;
            Ok(changes)
        }

        /// R7 in one place: sets a federated administrator's status, ends their sessions when
        /// disabled, and logs it in each of their customers. Their clients are left as they are.
        async fn apply_status(
            tx: &mut Tx,
            id: AdminId,
            status: AdminStatus,
            actor: &Actor,
            now: OffsetDateTime,
        ) -> StoreResult<Vec<Change>> {
            let provider: Option<(String,)> = sqlx::query_as("SELECT provider FROM admins WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&mut **tx)
                .await?;
            let (provider,) = provider.ok_or(StoreError::NotFound("administrator"))?;
            lifecycle::change_status(trustgate_core::admin::Provider::parse(&provider)?)?;
            sqlx::query("UPDATE admins SET status = $1 WHERE id = $2")
                .bind(status.as_str())
                .bind(id.to_string())
                .execute(&mut **tx)
                .await?;
            if status == AdminStatus::Disabled {
                end_sessions(tx, id).await?;
            }
            for customer in admin_customers(tx, id).await? {
                let Some(member) = load_member(tx, &customer, id).await? else { continue };
                let clients = clients_in_tx(tx, &customer, id).await?.len();
                insert_log(tx, &event::admin_status_changed(&customer, &member.admin, status, clients, now, actor)).await?;
            }
            let changes = vec![Change::AdminChanged(id)];
            insert_changes(tx, &changes, now).await?;
            Ok(changes)
        }

        /// The invitation whose token has `verifier`, read in `tx`.
        async fn find_invitation(tx: &mut Tx, verifier: &[u8; 32]) -> StoreResult<Option<Invitation>> {
            let row: Option<(String, String, i64)> =
                sqlx::query_as("SELECT customer_id, admin_id, expires_at FROM invitations WHERE verifier = $1")
                    .bind(verifier.to_vec())
                    .fetch_optional(&mut **tx)
                    .await?;
            let Some((customer, admin, expires_at)) = row else { return Ok(None) };
            let customer = CustomerId::parse(&customer)?;
            let member = load_member(tx, &customer, AdminId::parse(&admin)?).await?.ok_or(StoreError::NotFound("invitation"))?;
            let customer = sqlx::query_as::<_, sql::CustomerRow>(
                "SELECT id, name, disabled_owner_policy, created_at FROM customers WHERE id = $1",
            )
            .bind(customer.as_str())
            .fetch_one(&mut **tx)
            .await
            .map_err(StoreError::from)
            .and_then(sql::customer)?;
            let (hash,): (Option<String>,) = sqlx::query_as("SELECT password_hash FROM admins WHERE id = $1")
                .bind(member.admin.id.to_string())
                .fetch_one(&mut **tx)
                .await?;
            Ok(Some(Invitation {
                customer,
                admin: member.admin,
                access: member.access,
                expires_at: sql::from_ms(expires_at),
                has_password: hash.is_some(),
            }))
        }

        async fn load_scim_user(tx: &mut Tx, customer: &CustomerId, admin: AdminId) -> StoreResult<Option<ScimUser>> {
            sqlx::query_as::<_, sql::ScimUserRow>(concat!(
                crate::sql::scim_user_select!(),
                " WHERE s.customer_id = $1 AND s.admin_id = $2"
            ))
            .bind(customer.as_str())
            .bind(admin.to_string())
            .fetch_optional(&mut **tx)
            .await?
            .map(sql::scim_user)
            .transpose()
        }

        /// Refuses a `userName` another provisioned administrator of the customer has (any case).
        async fn user_name_free(tx: &mut Tx, customer: &CustomerId, key: &str, except: Option<AdminId>) -> StoreResult<()> {
            let taken: Option<(String,)> = sqlx::query_as(
                "SELECT admin_id FROM scim_users WHERE customer_id = $1 AND user_name_key = $2 AND admin_id <> $3",
            )
            .bind(customer.as_str())
            .bind(key)
            .bind(except.map(|a| a.to_string()).unwrap_or_default())
            .fetch_optional(&mut **tx)
            .await?;
            match taken {
                Some(_) => Err(StoreError::Conflict("userName is already provisioned in this customer".to_owned())),
                None => Ok(()),
            }
        }

        /// Refuses a provider subject that already names another administrator of `customer`.
        /// Only this customer's administrators are looked at: a federated identity belongs to the
        /// customer that named it (issue #20), and whether another customer knows a subject is
        /// none of this one's business.
        async fn subject_free(
            tx: &mut Tx,
            customer: &CustomerId,
            provider: trustgate_core::admin::Provider,
            subject: Option<&str>,
            except: Option<AdminId>,
        ) -> StoreResult<()> {
            let Some(subject) = subject else { return Ok(()) };
            let taken: Option<(String,)> = sqlx::query_as(
                "SELECT a.id FROM admins a JOIN memberships m ON m.admin_id = a.id \
                 WHERE m.customer_id = $1 AND a.provider = $2 AND a.external_id = $3 AND a.id <> $4",
            )
            .bind(customer.as_str())
            .bind(provider.wire_name())
            .bind(subject)
            .bind(except.map(|a| a.to_string()).unwrap_or_default())
            .fetch_optional(&mut **tx)
            .await?;
            match taken {
                Some(_) => Err(StoreError::Conflict(
                    "externalId already names an administrator of this customer".to_owned(),
                )),
                None => Ok(()),
            }
        }

        /// Refuses a change to who a person is (their subject, their status) by a customer that
        /// shares them with another: one customer's provider does not speak for another's
        /// administrators. Only identities from before issue #20 are shared.
        async fn not_shared(tx: &mut Tx, customer: &CustomerId, admin: AdminId) -> StoreResult<()> {
            if admin_customers(tx, admin).await?.iter().any(|c| c != customer) {
                return Err(StoreError::Conflict(
                    "this administrator also administers another customer: their identity and status are not \
                     this provider's to change"
                        .to_owned(),
                ));
            }
            Ok(())
        }

        fn version_holds(current: &ScimUser, if_version: Option<&str>) -> StoreResult<()> {
            match if_version {
                Some(wanted) if wanted != current.version => Err(StoreError::Stale),
                _ => Ok(()),
            }
        }

        // --- The permission catalog (issue 10) ---
        async fn read_catalog(tx: &mut Tx) -> StoreResult<trustgate_core::catalog::Catalog> {
            let services: Vec<sql::CatalogServiceRow> =
                sqlx::query_as("SELECT name, display_name, description FROM catalog_services ORDER BY ordinal")
                    .fetch_all(&mut **tx)
                    .await?;
            let permissions: Vec<sql::CatalogPermissionRow> = sqlx::query_as(
                "SELECT service, name, display_name, description FROM catalog_permissions ORDER BY ordinal",
            )
            .fetch_all(&mut **tx)
            .await?;
            let routes: Vec<sql::CatalogRouteRow> =
                sqlx::query_as("SELECT method, path, permission, customer FROM catalog_routes ORDER BY ordinal")
                    .fetch_all(&mut **tx)
                    .await?;
            sql::catalog(services, permissions, routes)
        }

        /// Takes the `removed` permissions away from every membership (accepted or pending) and
        /// service principal holding them, or refuses when any does and `force` is not given.
        /// Stages `catalog` inside `tx` under the catalog lock: reads the stored one and strips what
        /// the new one removes from its holders, or refuses. The apply goes on to write and commit,
        /// the dry run rolls back, so the two cannot differ. `None` when nothing changes.
        async fn stage_catalog(
            tx: &mut Tx,
            catalog: &trustgate_core::catalog::Catalog,
            force: bool,
            actor: &Actor,
            now: OffsetDateTime,
        ) -> StoreResult<Option<(crate::model::CatalogApplied, Vec<Change>)>> {
            <$store>::lock_catalog(tx).await?;
            let before = read_catalog(tx).await?;
            if before == *catalog {
                return Ok(None);
            }
            let removed = before.removed_by(catalog);
            let (stripped, changes) = strip_removed(tx, &removed, force, actor, now).await?;
            Ok(Some((crate::model::CatalogApplied { before, stripped }, changes)))
        }

        async fn strip_removed(
            tx: &mut Tx,
            removed: &[trustgate_core::access::Permission],
            force: bool,
            actor: &Actor,
            now: OffsetDateTime,
        ) -> StoreResult<(Vec<crate::model::Stripped>, Vec<Change>)> {
            let mut stripped = Vec::new();
            // Who each stripped holder is, as a refusal names them to the operator.
            let mut names = Vec::new();
            let mut changes = Vec::new();
            if removed.is_empty() {
                return Ok((stripped, changes));
            }
            let without = |access: &Access| match access {
                Access::Custom(set) if removed.iter().any(|p| set.contains(p)) => {
                    Some(Access::Custom(removed.iter().fold(set.clone(), |kept, p| kept.without(p))))
                }
                _ => None,
            };
            let members: Vec<(String, String)> = sqlx::query_as(
                "SELECT customer_id, admin_id FROM memberships WHERE access_type = 'Custom' AND permissions <> '' \
                 ORDER BY customer_id, admin_id",
            )
            .fetch_all(&mut **tx)
            .await?;
            for (customer, admin) in members {
                let customer = CustomerId::parse(&customer).map_err(|_| sql::corrupt_id("customer"))?;
                let admin = AdminId::parse(&admin).map_err(|_| sql::corrupt_id("administrator"))?;
                let Some(member) = load_member(tx, &customer, admin).await? else { continue };
                let Some(after) = without(&member.access) else { continue };
                let holder = if member.pending.is_some() { "invitation" } else { "administrator" };
                let of = if member.pending.is_some() { "invitation of " } else { "administrator " };
                names.push(format!("{of}{} in customer {customer}", member.admin.email));
                stripped.push(crate::model::Stripped {
                    customer,
                    holder: (holder, admin.to_string()),
                    before: member.access.clone(),
                    after,
                });
            }
            let principals: Vec<sql::ClientRow> = sqlx::query_as(concat!(
                "SELECT ",
                sql::client_columns!(),
                " FROM api_clients k WHERE k.owner_id IS NULL AND k.access_type = 'Custom' AND k.permissions <> '' ORDER BY k.id"
            ))
            .fetch_all(&mut **tx)
            .await?;
            let mut principal_of = std::collections::HashMap::new();
            for row in principals {
                let principal = sql::client(row)?;
                let ClientKind::ServicePrincipal { access } = &principal.kind else { continue };
                let Some(after) = without(access) else { continue };
                names.push(format!("service principal {} ({}) in customer {}", principal.name, principal.id, principal.customer_id));
                stripped.push(crate::model::Stripped {
                    customer: principal.customer_id.clone(),
                    holder: ("servicePrincipal", principal.id.to_string()),
                    before: access.clone(),
                    after,
                });
                principal_of.insert(principal.id.to_string(), principal);
            }
            if stripped.is_empty() {
                return Ok((stripped, changes));
            }
            if !force {
                let held: Vec<String> = removed
                    .iter()
                    .map(|p| {
                        let holders: Vec<_> = stripped
                            .iter()
                            .filter(|s| matches!(&s.before, Access::Custom(set) if set.contains(p)))
                            .collect();
                        let mut customers: Vec<_> = holders.iter().map(|s| &s.customer).collect();
                        customers.sort();
                        customers.dedup();
                        (p, holders.len(), customers.len())
                    })
                    .filter(|(_, holders, _)| *holders > 0)
                    .map(|(p, holders, customers)| {
                        format!(
                            "{p} is held by {} in {}",
                            event::counted(u64::try_from(holders).unwrap_or(u64::MAX), "holder", "holders"),
                            event::counted(u64::try_from(customers).unwrap_or(u64::MAX), "customer", "customers")
                        )
                    })
                    .collect();
                // A few holders by name say whom the change would hit; the counts above say how many.
                let mut named = names.iter().take(sql::HOLDERS_NAMED).cloned().collect::<Vec<_>>().join(", ");
                if names.len() > sql::HOLDERS_NAMED {
                    named.push_str(&format!(", and {} more", names.len() - sql::HOLDERS_NAMED));
                }
                return Err(StoreError::Conflict(format!(
                    "the catalog removes permissions that are still held: {}; holders: {named}",
                    held.join("; ")
                )));
            }
            for change in &stripped {
                let (access_type, permissions) = sql::access_columns(&change.after);
                if change.holder.0 == "servicePrincipal" {
                    let Some(principal) = principal_of.get(&change.holder.1) else { continue };
                    sqlx::query("UPDATE api_clients SET access_type = $1, permissions = $2 WHERE id = $3")
                        .bind(access_type)
                        .bind(permissions)
                        .bind(principal.id.to_string())
                        .execute(&mut **tx)
                        .await?;
                    insert_log(tx, &event::principal_access_changed(principal, &change.before, &change.after, now, actor))
                        .await?;
                    changes.push(Change::ClientChanged(principal.id));
                } else {
                    let admin = AdminId::parse(&change.holder.1).map_err(|_| sql::corrupt_id("administrator"))?;
                    let Some(member) = load_member(tx, &change.customer, admin).await? else { continue };
                    sqlx::query(
                        "UPDATE memberships SET access_type = $1, permissions = $2, updated_at = $3 \
                         WHERE customer_id = $4 AND admin_id = $5",
                    )
                    .bind(access_type)
                    .bind(permissions)
                    .bind(ms(now))
                    .bind(change.customer.as_str())
                    .bind(admin.to_string())
                    .execute(&mut **tx)
                    .await?;
                    insert_log(
                        tx,
                        &event::access_changed(&change.customer, &member.admin, &change.before, &change.after, now, actor),
                    )
                    .await?;
                    changes.push(Change::MembershipChanged(change.customer.clone(), admin));
                }
            }
            Ok((stripped, changes))
        }
        // --- end of the permission catalog ---

        impl $store {
            async fn commit(&self, tx: Tx, changes: &[Change]) -> StoreResult<()> {
                tx.commit().await?;
                self.listener.publish(changes);
                Ok(())
            }
        }

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
                let mut tx = self.write_tx().await?;
                let inserted = sqlx::query(
                    "INSERT INTO customers (id, name, disabled_owner_policy, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(customer.id.as_str())
                .bind(&customer.name)
                .bind(customer.disabled_owner_policy.as_str())
                .bind(ms(customer.created_at))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 0 {
                    return Err(StoreError::Conflict(format!("customer {} already exists", customer.id)));
                }
                insert_log(&mut tx, &event::customer_created(&customer.id, &customer.name, customer.created_at, actor))
                    .await?;
                self.commit(tx, &[]).await
            }

            async fn customer(&self, id: &CustomerId) -> StoreResult<Option<Customer>> {
                sqlx::query_as::<_, sql::CustomerRow>(
                    "SELECT id, name, disabled_owner_policy, created_at FROM customers WHERE id = $1",
                )
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?
                .map(sql::customer)
                .transpose()
            }

            async fn customers(&self) -> StoreResult<Vec<Customer>> {
                sqlx::query_as::<_, sql::CustomerRow>(
                    "SELECT id, name, disabled_owner_policy, created_at FROM customers ORDER BY created_at, id",
                )
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(sql::customer)
                .collect()
            }

            async fn set_disabled_owner_policy(
                &self,
                id: &CustomerId,
                policy: DisabledOwnerPolicy,
                actor: &Actor,
            ) -> StoreResult<()> {
                let mut tx = self.write_tx().await?;
                let updated = sqlx::query("UPDATE customers SET disabled_owner_policy = $1 WHERE id = $2")
                    .bind(policy.as_str())
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if updated == 0 {
                    return Err(StoreError::NotFound("customer"));
                }
                let now = OffsetDateTime::now_utc();
                insert_log(&mut tx, &event::policy_changed(id, policy, now, actor)).await?;
                let changes = [Change::CustomerChanged(id.clone())];
                insert_changes(&mut tx, &changes, now).await?;
                self.commit(tx, &changes).await
            }

            async fn create_admin(&self, admin: &Admin, password_hash: Option<&str>) -> StoreResult<()> {
                let mut tx = self.write_tx().await?;
                insert_admin(&mut tx, admin, password_hash).await?;
                self.commit(tx, &[]).await
            }

            async fn admin(&self, id: AdminId) -> StoreResult<Option<Admin>> {
                sqlx::query_as::<_, sql::AdminRow>(
                    "SELECT id, email, display_name, provider, external_id, provider_id, status, created_at FROM admins WHERE id = $1",
                )
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?
                .map(sql::admin)
                .transpose()
            }

            async fn admin_by_email(&self, email: &Email) -> StoreResult<Option<Admin>> {
                sqlx::query_as::<_, sql::AdminRow>(
                    "SELECT id, email, display_name, provider, external_id, provider_id, status, created_at FROM admins \
                     WHERE email = $1 AND provider = $2",
                )
                .bind(email.as_str())
                .bind(trustgate_core::admin::Provider::Local.wire_name())
                .fetch_optional(&self.pool)
                .await?
                .map(sql::admin)
                .transpose()
            }

            async fn admins_with_email(&self, email: &Email) -> StoreResult<Vec<Admin>> {
                sqlx::query_as::<_, sql::AdminRow>(
                    "SELECT id, email, display_name, provider, external_id, provider_id, status, created_at FROM admins \
                     WHERE email = $1 ORDER BY created_at, id",
                )
                .bind(email.as_str())
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(sql::admin)
                .collect()
            }

            async fn password_hash(&self, id: AdminId) -> StoreResult<Option<String>> {
                let row: Option<(Option<String>,)> = sqlx::query_as("SELECT password_hash FROM admins WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.and_then(|(hash,)| hash))
            }

            async fn set_password_hash(&self, id: AdminId, hash: &str) -> StoreResult<()> {
                let mut tx = self.write_tx().await?;
                let updated = sqlx::query("UPDATE admins SET password_hash = $1 WHERE id = $2")
                    .bind(hash)
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if updated == 0 {
                    return Err(StoreError::NotFound("administrator"));
                }
                end_sessions(&mut tx, id).await?;
                self.commit(tx, &[]).await
            }

            async fn set_admin_status(&self, id: AdminId, status: AdminStatus, actor: &Actor) -> StoreResult<()> {
                let mut tx = self.write_tx().await?;
                let now = OffsetDateTime::now_utc();
                let changes = apply_status(&mut tx, id, status, actor, now).await?;
                self.commit(tx, &changes).await
            }

            async fn delete_admin(&self, id: AdminId, actor: &Actor) -> StoreResult<usize> {
                let mut tx = self.write_tx().await?;
                let now = OffsetDateTime::now_utc();
                let mut changes = vec![Change::AdminChanged(id)];
                let mut deleted = 0;
                let customers = admin_customers(&mut tx, id).await?;
                for customer in &customers {
                    <$store>::lock_customer(&mut tx, customer).await?;
                    let Some(member) = load_member(&mut tx, customer, id).await? else { continue };
                    if member.pending.is_none() {
                        lifecycle::delete(&member.access, full_admins(&mut tx, customer).await?)?;
                    }
                    deleted += end_membership(&mut tx, customer, &member, DeletionCause::OwnerDeleted, actor, now, &mut changes)
                        .await?;
                }
                let removed = sqlx::query("DELETE FROM admins WHERE id = $1")
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if removed == 0 {
                    return Err(StoreError::NotFound("administrator"));
                }
                insert_changes(&mut tx, &changes, now).await?;
                self.commit(tx, &changes).await?;
                Ok(deleted)
            }

            async fn add_member(
                &self,
                customer: &CustomerId,
                admin: AdminId,
                access: Access,
                actor: &Actor,
            ) -> StoreResult<()> {
                let mut tx = self.write_tx().await?;
                <$store>::share_catalog(&mut tx).await?;
                <$store>::lock_customer(&mut tx, customer).await?;
                lifecycle::add(&authority(&mut tx, customer, actor).await?, &access)?;
                let admin = sqlx::query_as::<_, sql::AdminRow>(
                    "SELECT id, email, display_name, provider, external_id, provider_id, status, created_at FROM admins WHERE id = $1",
                )
                .bind(admin.to_string())
                .fetch_optional(&mut *tx)
                .await?
                .map(sql::admin)
                .transpose()?
                .ok_or(StoreError::NotFound("administrator"))?;
                let changes = join(&mut tx, customer, &admin, access, None, actor).await?;
                self.commit(tx, &changes).await
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
                let mut tx = self.write_tx().await?;
                <$store>::share_catalog(&mut tx).await?;
                <$store>::lock_customer(&mut tx, customer).await?;
                lifecycle::add(&authority(&mut tx, customer, actor).await?, &access)?;
                let identity = Identity::of(candidate.provider, &candidate.email, candidate.external_id.as_deref());
                let known = match &identity {
                    Identity::Local(email) => {
                        sqlx::query_as::<_, sql::AdminRow>(
                            "SELECT id, email, display_name, provider, external_id, provider_id, status, created_at FROM admins \
                             WHERE email = $1 AND provider = $2",
                        )
                        .bind(email.as_str())
                        .bind(trustgate_core::admin::Provider::Local.wire_name())
                        .fetch_optional(&mut *tx)
                        .await?
                    }
                    // Only among this customer's administrators: a federated identity belongs to the
                    // customer that named it (issue #20), so another customer naming the same
                    // subject adds a person of its own, whom nothing done elsewhere reaches.
                    Identity::Federated { provider, subject } => {
                        sqlx::query_as::<_, sql::AdminRow>(
                            "SELECT a.id, a.email, a.display_name, a.provider, a.external_id, a.provider_id, a.status, a.created_at \
                             FROM admins a JOIN memberships m ON m.admin_id = a.id \
                             WHERE m.customer_id = $1 AND a.provider = $2 AND a.external_id = $3",
                        )
                        .bind(customer.as_str())
                        .bind(provider.wire_name())
                        .bind(subject)
                        .fetch_optional(&mut *tx)
                        .await?
                    }
                    Identity::Unbound => None,
                };
                // A person already known keeps their identity, but this customer sees only what its
                // caller said about them: nothing another customer entered reaches it.
                let (admin, created) = match known {
                    Some(row) => {
                        let known = sql::admin(row)?;
                        let profile = Admin {
                            email: candidate.email.clone(),
                            display_name: candidate.display_name.clone(),
                            ..known
                        };
                        (profile, false)
                    }
                    None => {
                        insert_admin(&mut tx, candidate, password_hash).await?;
                        (candidate.clone(), true)
                    }
                };
                // Issue #20: an account that exists already joins only by accepting (signing in as
                // itself), whoever adds it; one the operator creates here with its password joins at once.
                if !created && password_hash.is_some() && invite.is_none() && lifecycle::needs_invitation(admin.provider) {
                    return Err(StoreError::Conflict(format!(
                        "{} already has a Trustgate account: it joins a customer only by accepting an invitation",
                        admin.email
                    )));
                }
                let vouched = created && password_hash.is_some();
                let invite = invite.filter(|_| lifecycle::needs_invitation(admin.provider) && !vouched);
                let changes = join(&mut tx, customer, &admin, access, invite, actor).await?;
                let member = load_member(&mut tx, customer, admin.id).await?.ok_or(StoreError::NotFound("administrator"))?;
                self.commit(tx, &changes).await?;
                Ok((member, created))
            }

            async fn member(&self, customer: &CustomerId, admin: AdminId) -> StoreResult<Option<Member>> {
                let mut tx = self.pool.begin().await?;
                let member = load_member(&mut tx, customer, admin).await?;
                tx.rollback().await?;
                Ok(member)
            }

            async fn members(&self, customer: &CustomerId, after: Option<AdminId>, limit: u32) -> StoreResult<Vec<Member>> {
                sqlx::query_as::<_, sql::MemberRow>(concat!("SELECT ", crate::sql::member_columns!(), " FROM memberships m JOIN admins a ON a.id = m.admin_id ", crate::sql::pending_join!(), " \
                     WHERE m.customer_id = $1 AND a.id > $2 ORDER BY a.id LIMIT $3"))
                .bind(customer.as_str())
                .bind(after.map(|a| a.to_string()).unwrap_or_default())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(sql::member)
                .collect()
            }

            async fn memberships(&self, admin: AdminId) -> StoreResult<Vec<Membership>> {
                sqlx::query_as::<_, (String, String, String, i64, String, String)>(
                    concat!("SELECT c.id, c.name, c.disabled_owner_policy, c.created_at, m.access_type, m.permissions \
                         FROM memberships m JOIN customers c ON c.id = m.customer_id WHERE m.admin_id = $1 AND ", crate::sql::accepted!(), " \
                         ORDER BY c.name, c.id"),
                )
                .bind(admin.to_string())
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(|(id, name, policy, created, access_type, permissions)| {
                    Ok(Membership {
                        customer: sql::customer((id, name, policy, created))?,
                        access: sql::access(&access_type, &permissions)?,
                    })
                })
                .collect()
            }

            async fn standing(&self, customer: &CustomerId, admin: AdminId) -> StoreResult<Option<Standing>> {
                let row: Option<(String, String, String, String)> = sqlx::query_as(concat!("SELECT m.access_type, m.permissions, a.status, c.disabled_owner_policy \
                     FROM memberships m JOIN admins a ON a.id = m.admin_id JOIN customers c ON c.id = m.customer_id \
                     WHERE m.customer_id = $1 AND m.admin_id = $2 AND ", crate::sql::accepted!()))
                .bind(customer.as_str())
                .bind(admin.to_string())
                .fetch_optional(&self.pool)
                .await?;
                row.map(|(access_type, permissions, status, policy)| {
                    Ok(Standing {
                        access: sql::access(&access_type, &permissions)?,
                        status: AdminStatus::parse(&status)
                            .ok_or_else(|| StoreError::Internal("a stored admin status is invalid".to_owned()))?,
                        policy: DisabledOwnerPolicy::parse(&policy)?,
                    })
                })
                .transpose()
            }

            async fn set_access(
                &self,
                customer: &CustomerId,
                admin: AdminId,
                access: Access,
                actor: &Actor,
            ) -> StoreResult<Access> {
                let mut tx = self.write_tx().await?;
                <$store>::share_catalog(&mut tx).await?;
                <$store>::lock_customer(&mut tx, customer).await?;
                let authority = authority(&mut tx, customer, actor).await?;
                let member = load_member(&mut tx, customer, admin).await?.ok_or(StoreError::NotFound("administrator"))?;
                if member.pending.is_some() {
                    lifecycle::change_invited_access(&authority, &member.access, &access)?;
                } else {
                    lifecycle::change_access(&authority, &member.access, &access, full_admins(&mut tx, customer).await?)?;
                }
                ensure_declared(&mut tx, &access).await?;
                let now = OffsetDateTime::now_utc();
                let (access_type, permissions) = sql::access_columns(&access);
                sqlx::query(
                    "UPDATE memberships SET access_type = $1, permissions = $2, updated_at = $3 \
                     WHERE customer_id = $4 AND admin_id = $5",
                )
                .bind(access_type)
                .bind(permissions)
                .bind(ms(now))
                .bind(customer.as_str())
                .bind(admin.to_string())
                .execute(&mut *tx)
                .await?;
                insert_log(&mut tx, &event::access_changed(customer, &member.admin, &member.access, &access, now, actor)).await?;
                let changes = [Change::MembershipChanged(customer.clone(), admin)];
                insert_changes(&mut tx, &changes, now).await?;
                self.commit(tx, &changes).await?;
                Ok(member.access)
            }

            async fn remove_member(&self, customer: &CustomerId, admin: AdminId, actor: &Actor) -> StoreResult<usize> {
                let mut tx = self.write_tx().await?;
                <$store>::lock_customer(&mut tx, customer).await?;
                let authority = authority(&mut tx, customer, actor).await?;
                let member = load_member(&mut tx, customer, admin).await?.ok_or(StoreError::NotFound("administrator"))?;
                if member.pending.is_some() {
                    lifecycle::withdraw_or_resend(&authority, &member.access)?;
                    let changes = withdraw(&mut tx, customer, &member, actor).await?;
                    self.commit(tx, &changes).await?;
                    return Ok(0);
                }
                lifecycle::remove(&authority, &member.access, full_admins(&mut tx, customer).await?)?;
                let now = OffsetDateTime::now_utc();
                let mut changes = Vec::new();
                let deleted =
                    end_membership(&mut tx, customer, &member, DeletionCause::OwnerRemovedFromCustomer, actor, now, &mut changes)
                        .await?;
                // Sessions are not tied to one customer: they go with the last membership, and until
                // then lose this customer at once, since every request reads membership live.
                if admin_customers(&mut tx, admin).await?.is_empty() {
                    end_sessions(&mut tx, admin).await?;
                }
                insert_changes(&mut tx, &changes, now).await?;
                self.commit(tx, &changes).await?;
                Ok(deleted)
            }

            // Invitations for local administrators (issue #12).

            async fn resend_invitation(
                &self,
                customer: &CustomerId,
                admin: AdminId,
                terms: &InvitationTerms,
                actor: &Actor,
            ) -> StoreResult<Member> {
                let mut tx = self.write_tx().await?;
                <$store>::lock_customer(&mut tx, customer).await?;
                let authority = authority(&mut tx, customer, actor).await?;
                let member = load_member(&mut tx, customer, admin).await?.ok_or(StoreError::NotFound("administrator"))?;
                if member.pending.is_none() {
                    return Err(lifecycle::Refusal::NotPending.into());
                }
                lifecycle::withdraw_or_resend(&authority, &member.access)?;
                let now = OffsetDateTime::now_utc();
                sqlx::query(
                    "UPDATE invitations SET verifier = $1, created_at = $2, expires_at = $3, expiry_logged = 0 \
                     WHERE customer_id = $4 AND admin_id = $5",
                )
                .bind(terms.verifier.to_vec())
                .bind(ms(now))
                .bind(ms(terms.expires_at))
                .bind(customer.as_str())
                .bind(admin.to_string())
                .execute(&mut *tx)
                .await?;
                insert_log(&mut tx, &event::invitation(customer, &member.admin, &member.access, InvitationEvent::Resent, now, actor))
                    .await?;
                let member = load_member(&mut tx, customer, admin).await?.ok_or(StoreError::NotFound("administrator"))?;
                self.commit(tx, &[]).await?;
                Ok(member)
            }

            async fn cancel_invitation(&self, customer: &CustomerId, email: &Email, actor: &Actor) -> StoreResult<bool> {
                let mut tx = self.write_tx().await?;
                <$store>::lock_customer(&mut tx, customer).await?;
                let authority = authority(&mut tx, customer, actor).await?;
                let found: Option<(String,)> = sqlx::query_as(
                    "SELECT m.admin_id FROM memberships m JOIN invitations i \
                     ON i.customer_id = m.customer_id AND i.admin_id = m.admin_id \
                     WHERE m.customer_id = $1 AND m.email = $2",
                )
                .bind(customer.as_str())
                .bind(email.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                let Some((admin,)) = found else { return Ok(false) };
                let member =
                    load_member(&mut tx, customer, AdminId::parse(&admin)?).await?.ok_or(StoreError::NotFound("administrator"))?;
                lifecycle::withdraw_or_resend(&authority, &member.access)?;
                let changes = withdraw(&mut tx, customer, &member, actor).await?;
                self.commit(tx, &changes).await?;
                Ok(true)
            }

            async fn invitation(&self, verifier: &[u8; 32]) -> StoreResult<Option<Invitation>> {
                let mut tx = self.pool.begin().await?;
                let found = find_invitation(&mut tx, verifier).await?;
                tx.rollback().await?;
                Ok(found)
            }

            async fn accept_invitation(
                &self,
                verifier: &[u8; 32],
                password_hash: Option<&str>,
                now: OffsetDateTime,
            ) -> StoreResult<Invitation> {
                let mut tx = self.write_tx().await?;
                let Some(found) = find_invitation(&mut tx, verifier).await? else {
                    return Err(StoreError::NotFound("invitation"));
                };
                <$store>::lock_customer(&mut tx, &found.customer.id).await?;
                // Read again under the customer's lock: a cancellation or a second acceptance may have won.
                let Some(invitation) = find_invitation(&mut tx, verifier).await? else {
                    return Err(StoreError::NotFound("invitation"));
                };
                if invitation.expires_at <= now {
                    return Err(lifecycle::Refusal::InvitationExpired.into());
                }
                // Issue #20: the proof the caller brought must fit the account as it is now, under the
                // lock. A new password is set only on an account that has none (the link proved the
                // e-mail); an account that has one joins only after its password was checked, which
                // the caller says by passing none. The link never sets or changes an existing password.
                match (invitation.has_password, password_hash) {
                    (false, Some(hash)) => {
                        // Another customer's invitation of the same new account may have set one since
                        // (its lock is not this customer's): then this one needs that password.
                        let set = sqlx::query("UPDATE admins SET password_hash = $1 WHERE id = $2 AND password_hash IS NULL")
                            .bind(hash)
                            .bind(invitation.admin.id.to_string())
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                        if set != 1 {
                            return Err(StoreError::Conflict(
                                "the account has a password now: open the invitation again and sign in with it".to_owned(),
                            ));
                        }
                    }
                    (true, None) => {}
                    (false, None) => return Err(StoreError::Conflict("a password must be chosen".to_owned())),
                    (true, Some(_)) => {
                        return Err(StoreError::Conflict(
                            "the account has a password now: open the invitation again and sign in with it".to_owned(),
                        ))
                    }
                }
                sqlx::query("DELETE FROM invitations WHERE verifier = $1").bind(verifier.to_vec()).execute(&mut *tx).await?;
                sqlx::query("UPDATE memberships SET updated_at = $1 WHERE customer_id = $2 AND admin_id = $3")
                    .bind(ms(now))
                    .bind(invitation.customer.id.as_str())
                    .bind(invitation.admin.id.to_string())
                    .execute(&mut *tx)
                    .await?;
                let actor = Actor::Admin { id: invitation.admin.id, name: invitation.admin.email.to_string() };
                let entry = event::invitation(
                    &invitation.customer.id,
                    &invitation.admin,
                    &invitation.access,
                    InvitationEvent::Accepted,
                    now,
                    &actor,
                );
                insert_log(&mut tx, &entry).await?;
                let changes = [Change::MembershipChanged(invitation.customer.id.clone(), invitation.admin.id)];
                insert_changes(&mut tx, &changes, now).await?;
                self.commit(tx, &changes).await?;
                Ok(invitation)
            }

            async fn log_expired_invitations(&self, now: OffsetDateTime) -> StoreResult<u64> {
                let mut tx = self.write_tx().await?;
                let due: Vec<(String, String)> = sqlx::query_as(
                    "SELECT customer_id, admin_id FROM invitations WHERE expires_at <= $1 AND expiry_logged = 0 \
                     ORDER BY expires_at LIMIT 1000",
                )
                .bind(ms(now))
                .fetch_all(&mut *tx)
                .await?;
                for (customer, admin) in &due {
                    let customer = CustomerId::parse(customer)?;
                    let Some(member) = load_member(&mut tx, &customer, AdminId::parse(admin)?).await? else { continue };
                    let entry = event::invitation(&customer, &member.admin, &member.access, InvitationEvent::Expired, now, &Actor::System);
                    insert_log(&mut tx, &entry).await?;
                    sqlx::query("UPDATE invitations SET expiry_logged = 1 WHERE customer_id = $1 AND admin_id = $2")
                        .bind(customer.as_str())
                        .bind(admin)
                        .execute(&mut *tx)
                        .await?;
                }
                self.commit(tx, &[]).await?;
                Ok(due.len() as u64)
            }

            async fn create_client(
                &self,
                client: &ApiClient,
                secret: &NewSecret,
                cap: u64,
                actor: &Actor,
            ) -> StoreResult<()> {
                let mut tx = self.write_tx().await?;
                <$store>::lock_customer(&mut tx, &client.customer_id).await?;
                let ClientKind::SecureClient { owner } = client.kind else {
                    return Err(StoreError::Internal("a service principal is created as one".to_owned()));
                };
                let owner = load_member(&mut tx, &client.customer_id, owner)
                    .await?
                    .filter(|owner| owner.pending.is_none())
                    .ok_or(StoreError::NotFound("membership"))?;
                // Read under the customer's lock, so two creations at once cannot both pass.
                let owned: Vec<(String,)> =
                    sqlx::query_as("SELECT name FROM api_clients WHERE customer_id = $1 AND owner_id = $2")
                        .bind(client.customer_id.as_str())
                        .bind(owner.admin.id.to_string())
                        .fetch_all(&mut *tx)
                        .await?;
                let authority = authority(&mut tx, &client.customer_id, actor).await?;
                lifecycle::add_client(&authority, u64::try_from(owned.len()).unwrap_or(u64::MAX), cap)?;
                lifecycle::name_client(&client.name, owned.iter().map(|(name,)| name.as_str()))?;
                sqlx::query(
                    "INSERT INTO api_clients (id, customer_id, owner_id, name, created_at, last_used_at) \
                     VALUES ($1, $2, $3, $4, $5, NULL)",
                )
                .bind(client.id.to_string())
                .bind(client.customer_id.as_str())
                .bind(owner.admin.id.to_string())
                .bind(&client.name)
                .bind(ms(client.created_at))
                .execute(&mut *tx)
                .await?;
                insert_secret(&mut tx, client.id, secret, actor).await?;
                insert_log(&mut tx, &event::client_created(client, &owner.admin, actor)).await?;
                // Nodes may hold its id as unknown (someone tried it before it existed).
                let changes = [Change::ClientCreated(client.id)];
                insert_changes(&mut tx, &changes, OffsetDateTime::now_utc()).await?;
                self.commit(tx, &changes).await
            }

            // Bulk seeding (issue #13).
            async fn seed_clients(&self, clients: &[(ApiClient, NewSecret)]) -> StoreResult<()> {
                // 7 parameters a row: 7,000 a statement, under SQLite's 32,766 and PostgreSQL's 65,535.
                const ROWS_PER_STATEMENT: usize = 1_000;
                let mut tx = self.write_tx().await?;
                for chunk in clients.chunks(ROWS_PER_STATEMENT) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO api_clients (id, customer_id, owner_id, name, created_at, last_used_at) ",
                    );
                    insert.push_values(chunk, |mut row, (client, _)| {
                        row.push_bind(client.id.to_string())
                            .push_bind(client.customer_id.as_str().to_owned())
                            .push_bind(client.owner().map(|owner| owner.to_string()))
                            .push_bind(client.name.clone())
                            .push_bind(ms(client.created_at))
                            .push_bind(None::<i64>);
                    });
                    insert.build().execute(&mut *tx).await?;
                    let mut secrets = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO client_secrets (client_id, id, legacy, verifier, created_at, created_by, expires_at, server_key) ",
                    );
                    secrets.push_values(chunk, |mut row, (client, secret)| {
                        row.push_bind(client.id.to_string())
                            .push_bind(secret.id.as_str().to_owned())
                            .push_bind(0_i64)
                            .push_bind(secret.verifier.as_bytes().to_vec())
                            .push_bind(ms(secret.created_at))
                            .push_bind(Actor::System.display_name().to_owned())
                            .push_bind(secret.expires_at.map(ms))
                            .push_bind(secret.verifier.key().map(|key| key.as_str().to_owned()));
                    });
                    secrets.build().execute(&mut *tx).await?;
                }
                // One change for the whole batch: nodes forget every id they hold as unknown.
                let changes = [Change::ClientsSeeded];
                insert_changes(&mut tx, &changes, OffsetDateTime::now_utc()).await?;
                self.commit(tx, &changes).await
            }

            async fn refresh_statistics(&self) -> StoreResult<()> {
                self.analyze().await
            }

            async fn client_grant(&self, id: ClientId) -> StoreResult<Option<ClientGrant>> {
                use sqlx::Row as _;
                // One statement, a row per secret: one snapshot, so the secrets belong to the client
                // read, and one round trip (to SQLite's worker thread or PostgreSQL), where a
                // transaction of two reads took four. A service principal has no owner: the owner's
                // columns come back NULL.
                let rows = sqlx::query(concat!("SELECT ", sql::client_columns!(), ", m.email, m.access_type, m.permissions, a.status, c.disabled_owner_policy, \
                     s.id, s.legacy, s.verifier, s.expires_at, s.expiry_logged_at, s.last_used_at, s.server_key \
                     FROM api_clients k \
                     LEFT JOIN memberships m ON m.customer_id = k.customer_id AND m.admin_id = k.owner_id \
                     LEFT JOIN admins a ON a.id = k.owner_id LEFT JOIN customers c ON c.id = k.customer_id \
                     LEFT JOIN client_secrets s ON s.client_id = k.id \
                     WHERE k.id = $1 AND NOT EXISTS (SELECT 1 FROM invitations p \
                     WHERE p.customer_id = k.customer_id AND p.admin_id = k.owner_id)"))
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
                let Some(first) = rows.first() else { return Ok(None) };
                let client: sql::GrantRow = (
                    first.try_get(0)?,
                    first.try_get(1)?,
                    first.try_get(2)?,
                    first.try_get(3)?,
                    first.try_get(4)?,
                    first.try_get(5)?,
                    first.try_get(6)?,
                    first.try_get(7)?,
                    first.try_get(8)?,
                    first.try_get(9)?,
                    first.try_get(10)?,
                    first.try_get(11)?,
                    first.try_get(12)?,
                );
                let mut secrets = Vec::with_capacity(rows.len());
                for row in &rows {
                    // A client without a secret comes back as one row of NULL secret columns.
                    let Some(secret) = row.try_get::<Option<String>, _>(13)? else { continue };
                    secrets.push(sql::grant_secret((
                        secret,
                        row.try_get(14)?,
                        row.try_get(15)?,
                        row.try_get(16)?,
                        row.try_get(17)?,
                        row.try_get(18)?,
                        row.try_get(19)?,
                    ))?);
                }
                sql::grant(client, secrets).map(Some)
            }

            async fn clients_of(&self, customer: &CustomerId, owner: AdminId) -> StoreResult<Vec<ApiClient>> {
                let mut tx = self.pool.begin().await?;
                let clients = clients_in_tx(&mut tx, customer, owner).await?;
                tx.rollback().await?;
                Ok(clients)
            }

            async fn delete_client(
                &self,
                customer: &CustomerId,
                owner: AdminId,
                id: ClientId,
                actor: &Actor,
            ) -> StoreResult<bool> {
                let mut tx = self.write_tx().await?;
                let Some(row) = sqlx::query_as::<_, sql::ClientRow>(concat!("SELECT ", sql::client_columns!(), " FROM api_clients k WHERE k.id = $1 AND k.customer_id = $2 AND k.owner_id = $3"))
                .bind(id.to_string())
                .bind(customer.as_str())
                .bind(owner.to_string())
                .fetch_optional(&mut *tx)
                .await?
                else {
                    return Ok(false);
                };
                let client = sql::client(row)?;
                sqlx::query("DELETE FROM api_clients WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await?;
                let now = OffsetDateTime::now_utc();
                insert_log(&mut tx, &event::client_deleted(&client, DeletionCause::ByOwner, now, actor)).await?;
                let changes = [Change::ClientDeleted(id)];
                insert_changes(&mut tx, &changes, now).await?;
                self.commit(tx, &changes).await?;
                Ok(true)
            }

            async fn touch_clients(&self, uses: &[(ClientId, SecretId, OffsetDateTime)]) -> StoreResult<()> {
                // A transaction a chunk, a statement a table: after a sweep over many clients the
                // batch holds tens of thousands of uses, and one transaction of a statement per row
                // held SQLite's write lock for seconds, starving every other writer.
                const USES_PER_CHUNK: usize = 500;
                for chunk in uses.chunks(USES_PER_CHUNK) {
                    // Uses arrive in any order (two secrets of a client, two nodes): the latest stays.
                    let mut latest: std::collections::HashMap<ClientId, i64> = std::collections::HashMap::new();
                    for (id, _, at) in chunk {
                        let at = ms(*at);
                        latest.entry(*id).and_modify(|t| *t = (*t).max(at)).or_insert(at);
                    }
                    let mut tx = self.write_tx().await?;
                    // PostgreSQL reads an untyped parameter in VALUES as text: the times are cast.
                    let mut clients = sqlx::QueryBuilder::<$db>::new("UPDATE api_clients SET last_used_at = u.column2 FROM (");
                    clients.push_values(&latest, |mut row, (id, at)| {
                        row.push_bind(id.to_string()).push("CAST(").push_bind_unseparated(*at).push_unseparated(" AS BIGINT)");
                    });
                    clients.push(
                        ") AS u WHERE api_clients.id = u.column1 \
                         AND (api_clients.last_used_at IS NULL OR api_clients.last_used_at < u.column2)",
                    );
                    clients.build().execute(&mut *tx).await?;
                    let mut secrets = sqlx::QueryBuilder::<$db>::new("UPDATE client_secrets SET last_used_at = u.column3 FROM (");
                    secrets.push_values(chunk, |mut row, (id, secret, at)| {
                        row.push_bind(id.to_string())
                            .push_bind(secret.as_str().to_owned())
                            .push("CAST(")
                            .push_bind_unseparated(ms(*at))
                            .push_unseparated(" AS BIGINT)");
                    });
                    secrets.push(
                        ") AS u WHERE client_secrets.client_id = u.column1 AND client_secrets.id = u.column2 \
                         AND (client_secrets.last_used_at IS NULL OR client_secrets.last_used_at < u.column3)",
                    );
                    secrets.build().execute(&mut *tx).await?;
                    self.commit(tx, &[]).await?;
                }
                Ok(())
            }

            // --- Service principals (issue #11)

            async fn create_principal(&self, principal: &ApiClient, secret: &NewSecret, actor: &Actor) -> StoreResult<()> {
                let ClientKind::ServicePrincipal { access } = &principal.kind else {
                    return Err(StoreError::Internal("a secure client is created with its owner".to_owned()));
                };
                let customer = &principal.customer_id;
                let mut tx = self.write_tx().await?;
                <$store>::share_catalog(&mut tx).await?;
                <$store>::lock_customer(&mut tx, customer).await?;
                let exists: Option<(String,)> =
                    sqlx::query_as("SELECT id FROM customers WHERE id = $1").bind(customer.as_str()).fetch_optional(&mut *tx).await?;
                if exists.is_none() {
                    return Err(StoreError::NotFound("customer"));
                }
                let (held,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM api_clients WHERE customer_id = $1 AND owner_id IS NULL")
                        .bind(customer.as_str())
                        .fetch_one(&mut *tx)
                        .await?;
                let authority = authority(&mut tx, customer, actor).await?;
                lifecycle::add_principal(&authority, &access, u64::try_from(held).unwrap_or(0), PRINCIPALS_PER_CUSTOMER_MAX)?;
                ensure_declared(&mut tx, access).await?;
                let (access_type, permissions) = sql::access_columns(&access);
                sqlx::query(
                    "INSERT INTO api_clients (id, customer_id, owner_id, name, created_at, last_used_at, \
                     access_type, permissions) VALUES ($1, $2, NULL, $3, $4, NULL, $5, $6)",
                )
                .bind(principal.id.to_string())
                .bind(customer.as_str())
                .bind(&principal.name)
                .bind(ms(principal.created_at))
                .bind(access_type)
                .bind(permissions)
                .execute(&mut *tx)
                .await?;
                client_secrets::expiry_fits(principal, secret.expires_at)?;
                insert_secret(&mut tx, principal.id, secret, actor).await?;
                insert_log(&mut tx, &event::principal_created(principal, actor)).await?;
                let changes = [Change::ClientCreated(principal.id)];
                insert_changes(&mut tx, &changes, OffsetDateTime::now_utc()).await?;
                self.commit(tx, &changes).await
            }

            async fn principals(
                &self,
                customer: &CustomerId,
                after: Option<ClientId>,
                limit: u32,
                actor: &Actor,
            ) -> StoreResult<Vec<ApiClient>> {
                let mut tx = self.pool.begin().await?;
                lifecycle::manage_principals(&authority(&mut tx, customer, actor).await?)?;
                let principals = sqlx::query_as::<_, sql::ClientRow>(concat!("SELECT ", sql::client_columns!(), " FROM api_clients k WHERE k.customer_id = $1 AND k.owner_id IS NULL AND k.id > $2 \
                     ORDER BY k.id LIMIT $3"))
                .bind(customer.as_str())
                .bind(after.map(|id| id.to_string()).unwrap_or_default())
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(sql::client)
                .collect();
                tx.rollback().await?;
                principals
            }

            async fn principal(&self, customer: &CustomerId, id: ClientId, actor: &Actor) -> StoreResult<Option<ApiClient>> {
                let mut tx = self.pool.begin().await?;
                lifecycle::manage_principals(&authority(&mut tx, customer, actor).await?)?;
                let principal = principal_in_tx(&mut tx, customer, id).await?;
                tx.rollback().await?;
                Ok(principal)
            }

            async fn set_principal_access(
                &self,
                customer: &CustomerId,
                id: ClientId,
                access: Access,
                actor: &Actor,
            ) -> StoreResult<Access> {
                let mut tx = self.write_tx().await?;
                <$store>::share_catalog(&mut tx).await?;
                <$store>::lock_customer(&mut tx, customer).await?;
                let authority = authority(&mut tx, customer, actor).await?;
                lifecycle::manage_principals(&authority)?;
                let principal = principal_in_tx(&mut tx, customer, id).await?.ok_or(StoreError::NotFound("service principal"))?;
                let ClientKind::ServicePrincipal { access: before } = principal.kind.clone() else {
                    return Err(StoreError::NotFound("service principal"));
                };
                lifecycle::set_principal_access(&authority, &access)?;
                ensure_declared(&mut tx, &access).await?;
                let (access_type, permissions) = sql::access_columns(&access);
                sqlx::query("UPDATE api_clients SET access_type = $1, permissions = $2 WHERE id = $3")
                    .bind(access_type)
                    .bind(permissions)
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
                let now = OffsetDateTime::now_utc();
                insert_log(&mut tx, &event::principal_access_changed(&principal, &before, &access, now, actor)).await?;
                let changes = [Change::ClientChanged(id)];
                insert_changes(&mut tx, &changes, now).await?;
                self.commit(tx, &changes).await?;
                Ok(before)
            }

            async fn delete_principal(&self, customer: &CustomerId, id: ClientId, actor: &Actor) -> StoreResult<bool> {
                let mut tx = self.write_tx().await?;
                <$store>::lock_customer(&mut tx, customer).await?;
                lifecycle::manage_principals(&authority(&mut tx, customer, actor).await?)?;
                let Some(principal) = principal_in_tx(&mut tx, customer, id).await? else {
                    return Ok(false);
                };
                sqlx::query("DELETE FROM api_clients WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await?;
                let now = OffsetDateTime::now_utc();
                insert_log(&mut tx, &event::principal_deleted(&principal, now, actor)).await?;
                let changes = [Change::ClientDeleted(id)];
                insert_changes(&mut tx, &changes, now).await?;
                self.commit(tx, &changes).await?;
                Ok(true)
            }

            // ---- Client secrets (issue #11) ----

            async fn client_secrets(&self, customer: &CustomerId, client: ClientId, actor: &Actor) -> StoreResult<Vec<SecretInfo>> {
                let mut tx = self.pool.begin().await?;
                managed_client(&mut tx, customer, client, actor).await?;
                let secrets = secrets_of(&mut tx, client).await?;
                tx.rollback().await?;
                Ok(secrets)
            }

            async fn add_client_secret(
                &self,
                customer: &CustomerId,
                client: ClientId,
                secret: &NewSecret,
                actor: &Actor,
            ) -> StoreResult<SecretInfo> {
                let mut tx = self.write_tx().await?;
                // Under the customer's lock, so two concurrent additions cannot both see room.
                <$store>::lock_customer(&mut tx, customer).await?;
                let found = managed_client(&mut tx, customer, client, actor).await?;
                client_secrets::expiry_fits(&found, secret.expires_at)?;
                let (held,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM client_secrets WHERE client_id = $1")
                    .bind(client.to_string())
                    .fetch_one(&mut *tx)
                    .await?;
                client_secrets::add(u64::try_from(held).unwrap_or(0))?;
                let info = insert_secret(&mut tx, client, secret, actor).await?;
                let entry = event::client_secret(&found, &secret.id, secret.expires_at, SecretEvent::Added, secret.created_at, actor);
                insert_log(&mut tx, &entry).await?;
                let changes = [Change::SecretsChanged(client)];
                insert_changes(&mut tx, &changes, secret.created_at).await?;
                self.commit(tx, &changes).await?;
                Ok(info)
            }

            async fn delete_client_secret(&self, customer: &CustomerId, client: ClientId, secret: SecretId, actor: &Actor) -> StoreResult<()> {
                let mut tx = self.write_tx().await?;
                <$store>::lock_customer(&mut tx, customer).await?;
                let found = managed_client(&mut tx, customer, client, actor).await?;
                let secrets = secrets_of(&mut tx, client).await?;
                let gone = secrets.iter().find(|s| s.id == secret).ok_or(StoreError::NotFound("secret"))?;
                if secrets.len() <= 1 {
                    return Err(lifecycle::Refusal::LastSecret.into());
                }
                sqlx::query("DELETE FROM client_secrets WHERE client_id = $1 AND id = $2")
                    .bind(client.to_string())
                    .bind(secret.as_str())
                    .execute(&mut *tx)
                    .await?;
                let now = OffsetDateTime::now_utc();
                insert_log(&mut tx, &event::client_secret(&found, &secret, gone.expires_at, SecretEvent::Deleted, now, actor)).await?;
                let changes = [Change::SecretsChanged(client)];
                insert_changes(&mut tx, &changes, now).await?;
                self.commit(tx, &changes).await
            }

            async fn expiring_secrets(&self, now: OffsetDateTime, by: OffsetDateTime, limit: u32) -> StoreResult<Vec<ExpiringSecret>> {
                let rows = sqlx::query_as(concat!(
                    "SELECT ",
                    sql::client_columns!(),
                    ", s.id, s.legacy, s.created_at, s.created_by, s.expires_at, s.last_used_at, s.server_key \
                     FROM client_secrets s JOIN api_clients k ON k.id = s.client_id ",
                    "WHERE s.expires_at > $1 AND s.expires_at <= $2 AND s.warned_at IS NULL ORDER BY s.expires_at LIMIT $3"
                ))
                .bind(ms(now))
                .bind(ms(by))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                expiring_rows(rows)
            }

            async fn expired_secrets(&self, now: OffsetDateTime, limit: u32) -> StoreResult<Vec<ExpiringSecret>> {
                let rows = sqlx::query_as(concat!(
                    "SELECT ",
                    sql::client_columns!(),
                    ", s.id, s.legacy, s.created_at, s.created_by, s.expires_at, s.last_used_at, s.server_key \
                     FROM client_secrets s JOIN api_clients k ON k.id = s.client_id ",
                    "WHERE s.expires_at <= $1 AND s.expiry_logged_at IS NULL ORDER BY s.expires_at LIMIT $2"
                ))
                .bind(ms(now))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                expiring_rows(rows)
            }

            async fn warn_secret_expiry(
                &self,
                client: ClientId,
                secret: SecretId,
                notifications: &[Notification],
                at: OffsetDateTime,
            ) -> StoreResult<bool> {
                let mut tx = self.write_tx().await?;
                // The claim and what it announces commit together: a node that loses the race, or
                // fails half-way, leaves nothing behind.
                let claimed = sqlx::query(
                    "UPDATE client_secrets SET warned_at = $1 WHERE client_id = $2 AND id = $3 AND warned_at IS NULL",
                )
                .bind(ms(at))
                .bind(client.to_string())
                .bind(secret.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let Some(found) = load_client(&mut tx, client).await?.filter(|_| claimed == 1) else {
                    tx.rollback().await?;
                    return Ok(false);
                };
                let expires_at = secrets_of(&mut tx, client).await?.into_iter().find(|s| s.id == secret).and_then(|s| s.expires_at);
                for n in notifications {
                    sqlx::query(
                        "INSERT INTO notifications (id, customer_id, destination_admin, body, created_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&n.id)
                    .bind(n.customer_id.as_str())
                    .bind(&n.destination_admin)
                    .bind(n.body.to_string())
                    .bind(ms(n.created_at))
                    .execute(&mut *tx)
                    .await?;
                }
                let entry = event::client_secret(&found, &secret, expires_at, SecretEvent::Expiring, at, &Actor::System);
                insert_log(&mut tx, &entry).await?;
                let changes = if notifications.is_empty() { Vec::new() } else { vec![Change::NotificationsPosted(found.customer_id.clone())] };
                insert_changes(&mut tx, &changes, at).await?;
                self.commit(tx, &changes).await?;
                Ok(true)
            }

            async fn convert_to_principal(&self, customer: &CustomerId, id: ClientId, actor: &Actor) -> StoreResult<ApiClient> {
                let mut tx = self.write_tx().await?;
                <$store>::share_catalog(&mut tx).await?;
                <$store>::lock_customer(&mut tx, customer).await?;
                let not_found = || StoreError::NotFound("API client");
                let client = sqlx::query_as::<_, sql::ClientRow>(concat!("SELECT ", sql::client_columns!(), " FROM api_clients k WHERE k.id = $1 AND k.customer_id = $2 AND k.owner_id IS NOT NULL"))
                .bind(id.to_string())
                .bind(customer.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .map(sql::client)
                .transpose()?
                .ok_or_else(not_found)?;
                let ClientKind::SecureClient { owner } = client.kind else {
                    return Err(not_found());
                };
                let by_owner = matches!(actor, Actor::Admin { id, .. } if *id == owner);
                let authority = authority(&mut tx, customer, actor).await?;
                // R3 still holds until the conversion: to anyone but its owner and a Full
                // administrator, the client does not exist; its Custom owner sees it and is told why not.
                lifecycle::convert(&authority).map_err(|refusal| if by_owner { refusal.into() } else { not_found() })?;
                let access = load_member(&mut tx, customer, owner).await?.ok_or_else(not_found)?.access;
                ensure_declared(&mut tx, &access).await?;
                let (access_type, permissions) = sql::access_columns(&access);
                sqlx::query("UPDATE api_clients SET owner_id = NULL, access_type = $1, permissions = $2 WHERE id = $3")
                    .bind(access_type)
                    .bind(permissions)
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
                let principal = ApiClient { kind: ClientKind::ServicePrincipal { access }, ..client.clone() };
                let now = OffsetDateTime::now_utc();
                let expiries = sqlx::query_as::<_, (String, Option<i64>)>("SELECT id, expires_at FROM client_secrets WHERE client_id = $1")
                    .bind(id.to_string())
                    .fetch_all(&mut *tx)
                    .await?;
                for (secret, expires_at) in expiries {
                    let at = lifecycle::converted_secret_expiry(expires_at.map(sql::from_ms), now);
                    sqlx::query("UPDATE client_secrets SET expires_at = $1 WHERE client_id = $2 AND id = $3")
                        .bind(ms(at))
                        .bind(id.to_string())
                        .bind(secret)
                        .execute(&mut *tx)
                        .await?;
                }
                insert_log(&mut tx, &event::client_converted(&client, &principal, now, actor)).await?;
                let changes = [Change::ClientChanged(id)];
                insert_changes(&mut tx, &changes, now).await?;
                self.commit(tx, &changes).await?;
                Ok(principal)
            }

            async fn log_secret_expired(&self, client: ClientId, secret: SecretId, at: OffsetDateTime) -> StoreResult<bool> {
                let mut tx = self.write_tx().await?;
                let claimed = sqlx::query(
                    "UPDATE client_secrets SET expiry_logged_at = $1 \
                     WHERE client_id = $2 AND id = $3 AND expiry_logged_at IS NULL AND expires_at <= $1",
                )
                .bind(ms(at))
                .bind(client.to_string())
                .bind(secret.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let Some(found) = load_client(&mut tx, client).await?.filter(|_| claimed == 1) else {
                    tx.rollback().await?;
                    return Ok(false);
                };
                let expires_at = secrets_of(&mut tx, client).await?.into_iter().find(|s| s.id == secret).and_then(|s| s.expires_at);
                let entry = event::client_secret(&found, &secret, expires_at, SecretEvent::Expired, at, &Actor::System);
                insert_log(&mut tx, &entry).await?;
                self.commit(tx, &[]).await?;
                Ok(true)
            }

            // ---- end of client secrets ----

            async fn signing_keys(&self) -> StoreResult<Vec<KeyAtRest>> {
                sqlx::query_as::<_, (String, String, String, Vec<u8>, i64)>(
                    "SELECT kid, algorithm, format, private_key, created_at FROM signing_keys \
                     ORDER BY created_at DESC, kid",
                )
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(|(kid, algorithm, format, bytes, created_at)| {
                    let algorithm = algorithm.parse().map_err(|e: UnknownAlgorithm| {
                        StoreError::Internal(format!("signing key {kid}: {e}"))
                    })?;
                    Ok(KeyAtRest { kid, algorithm, format, bytes, created_at: sql::from_ms(created_at) })
                })
                .collect()
            }

            async fn add_signing_key(&self, key: &KeyAtRest, revoke_previous: bool) -> StoreResult<()> {
                let mut tx = self.write_tx().await?;
                sqlx::query(
                    "INSERT INTO signing_keys (kid, algorithm, format, private_key, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                    .bind(&key.kid)
                    .bind(key.algorithm.as_str())
                    .bind(&key.format)
                    .bind(&key.bytes)
                    .bind(ms(key.created_at))
                    .execute(&mut *tx)
                    .await?;
                if revoke_previous {
                    sqlx::query("DELETE FROM signing_keys WHERE kid <> $1").bind(&key.kid).execute(&mut *tx).await?;
                } else {
                    // A key superseded more than a token lifetime ago can no longer have live tokens.
                    let retired_before = ms(key.created_at - time::Duration::seconds(TOKEN_LIFETIME_SECS));
                    sqlx::query(
                        "DELETE FROM signing_keys WHERE kid IN (SELECT old.kid FROM signing_keys old \
                         WHERE EXISTS (SELECT 1 FROM signing_keys newer \
                         WHERE newer.created_at > old.created_at AND newer.created_at < $1))",
                    )
                    .bind(retired_before)
                    .execute(&mut *tx)
                    .await?;
                }
                let changes = [Change::KeysChanged];
                insert_changes(&mut tx, &changes, key.created_at).await?;
                self.commit(tx, &changes).await
            }

            async fn reseal_signing_key(&self, key: &KeyAtRest, from_format: &str) -> StoreResult<bool> {
                let mut tx = self.write_tx().await?;
                let updated = sqlx::query("UPDATE signing_keys SET format = $1, private_key = $2 WHERE kid = $3 AND format = $4")
                    .bind(&key.format)
                    .bind(&key.bytes)
                    .bind(&key.kid)
                    .bind(from_format)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                // A raw key is not used (issue #21): sealed, every node takes it up.
                let changes = if updated > 0 { vec![Change::KeysChanged] } else { Vec::new() };
                insert_changes(&mut tx, &changes, OffsetDateTime::now_utc()).await?;
                self.commit(tx, &changes).await?;
                if updated > 0 {
                    self.scrub().await?;
                }
                Ok(updated > 0)
            }

            async fn stamp_server_key(&self, key: &ServerKeyId) -> StoreResult<u64> {
                let mut tx = self.write_tx().await?;
                let mut stamped = 0;
                for update in [
                    "UPDATE client_secrets SET server_key = $1 WHERE server_key IS NULL",
                    "UPDATE resource_servers SET server_key = $1 WHERE server_key IS NULL",
                    "UPDATE scim_tokens SET server_key = $1 WHERE server_key IS NULL",
                ] {
                    stamped += sqlx::query(update)
                        .bind(key.as_str())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                self.commit(tx, &[]).await?;
                Ok(stamped)
            }

            async fn server_key_use(&self) -> StoreResult<Vec<ServerKeyUse>> {
                let mut uses: Vec<ServerKeyUse> = Vec::new();
                for (count_of, column) in [
                    ("SELECT server_key, COUNT(*) FROM client_secrets GROUP BY server_key", 0),
                    ("SELECT server_key, COUNT(*) FROM resource_servers GROUP BY server_key", 1),
                    ("SELECT server_key, COUNT(*) FROM scim_tokens GROUP BY server_key", 2),
                ] {
                    let counts = sqlx::query_as::<_, (Option<String>, i64)>(count_of)
                    .fetch_all(&self.pool)
                    .await?;
                    for (key, count) in counts {
                        let key = sql::server_key_id(key)?;
                        let index = match uses.iter().position(|u| u.server_key == key) {
                            Some(index) => index,
                            None => {
                                uses.push(ServerKeyUse { server_key: key, ..ServerKeyUse::default() });
                                uses.len() - 1
                            }
                        };
                        let count = u64::try_from(count).unwrap_or_default();
                        let slot = &mut uses[index];
                        *[&mut slot.client_secrets, &mut slot.resource_servers, &mut slot.scim_tokens][column] = count;
                    }
                }
                uses.sort_by(|a, b| a.server_key.cmp(&b.server_key));
                Ok(uses)
            }

            async fn reseal_under_server_key(
                &self,
                keys: &[KeyAtRest],
                providers: &[(ProviderId, Vec<u8>)],
                entries: &[LogEntry],
            ) -> StoreResult<u64> {
                let mut tx = self.write_tx().await?;
                for key in keys {
                    sqlx::query("UPDATE signing_keys SET format = $1, private_key = $2 WHERE kid = $3")
                        .bind(&key.format)
                        .bind(&key.bytes)
                        .bind(&key.kid)
                        .execute(&mut *tx)
                        .await?;
                }
                for (id, sealed) in providers {
                    sqlx::query("UPDATE identity_providers SET sealed_secret = $1 WHERE id = $2")
                        .bind(sealed)
                        .bind(id.to_string())
                        .execute(&mut *tx)
                        .await?;
                }
                let ended = sqlx::query("DELETE FROM sessions").execute(&mut *tx).await?.rows_affected();
                for entry in entries {
                    insert_log(&mut tx, entry).await?;
                }
                let changes = [Change::KeysChanged];
                insert_changes(&mut tx, &changes, OffsetDateTime::now_utc()).await?;
                self.commit(tx, &changes).await?;
                // The old sealed forms open under the old key: leave no page of them behind.
                self.scrub().await?;
                Ok(ended)
            }

            async fn revoke_token(
                &self,
                client: ClientId,
                jti: &str,
                expires_at: OffsetDateTime,
                now: OffsetDateTime,
                cap: u64,
            ) -> StoreResult<()> {
                let mut tx = self.write_tx().await?;
                sqlx::query("DELETE FROM revoked_tokens WHERE expires_at <= $1").bind(ms(now)).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM revoked_before WHERE expires_at <= $1").bind(ms(now)).execute(&mut *tx).await?;
                let (held,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM revoked_tokens WHERE client_id = $1")
                    .bind(client.to_string())
                    .fetch_one(&mut *tx)
                    .await?;
                let (capped,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM revoked_before WHERE client_id = $1")
                    .bind(client.to_string())
                    .fetch_one(&mut *tx)
                    .await?;
                if capped > 0 || u64::try_from(held).unwrap_or(0) >= cap {
                    // Past the cap, and for as long as tokens from before it can live: one row for
                    // the client, whatever it revokes. Every token it holds from this second or
                    // before is refused; its rows are covered by it.
                    let second = now.unix_timestamp();
                    let until = now + time::Duration::seconds(TOKEN_LIFETIME_SECS + ALLOWED_SKEW_SECS);
                    sqlx::query(
                        "INSERT INTO revoked_before (client_id, not_before, expires_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (client_id) DO UPDATE SET not_before = excluded.not_before, expires_at = excluded.expires_at",
                    )
                    .bind(client.to_string())
                    .bind(second)
                    .bind(ms(until))
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM revoked_tokens WHERE client_id = $1")
                        .bind(client.to_string())
                        .execute(&mut *tx)
                        .await?;
                    let changes = [Change::TokensRevokedBefore(client, second)];
                    insert_changes(&mut tx, &changes, now).await?;
                    return self.commit(tx, &changes).await;
                }
                // Revoking twice is no error (RFC 7009 §2.2): the first expiry stands, and only
                // the first revocation is announced.
                let inserted = sqlx::query(
                    "INSERT INTO revoked_tokens (jti, expires_at, client_id) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING",
                )
                .bind(jti)
                .bind(ms(expires_at))
                .bind(client.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let changes = if inserted == 0 { Vec::new() } else { vec![Change::TokenRevoked(jti.to_owned())] };
                insert_changes(&mut tx, &changes, now).await?;
                self.commit(tx, &changes).await
            }

            async fn revoked_before(&self, now: OffsetDateTime) -> StoreResult<Vec<(ClientId, i64, OffsetDateTime)>> {
                let rows: Vec<(String, i64, i64)> =
                    sqlx::query_as("SELECT client_id, not_before, expires_at FROM revoked_before WHERE expires_at > $1")
                        .bind(ms(now))
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows
                    .into_iter()
                    .filter_map(|(id, second, until)| Some((ClientId::parse(&id).ok()?, second, sql::from_ms(until))))
                    .collect())
            }

            async fn revoked_tokens(&self, now: OffsetDateTime) -> StoreResult<Vec<(String, OffsetDateTime)>> {
                Ok(sqlx::query_as::<_, (String, i64)>("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > $1")
                    .bind(ms(now))
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(|(jti, expires_at)| (jti, sql::from_ms(expires_at)))
                    .collect())
            }

            async fn create_session(&self, digest: &[u8], session: &Session, at: OffsetDateTime) -> StoreResult<()> {
                let mut tx = self.write_tx().await?;
                sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(ms(at)).execute(&mut *tx).await?;
                sqlx::query(
                    "INSERT INTO sessions (id_digest, admin_id, csrf_token, created_at, expires_at, customer_id) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(digest.to_vec())
                .bind(session.admin_id.to_string())
                .bind(&session.csrf_token)
                .bind(ms(at))
                .bind(ms(session.expires_at))
                .bind(session.customer_id.as_ref().map(CustomerId::as_str))
                .execute(&mut *tx)
                .await?;
                self.commit(tx, &[]).await
            }

            async fn session(&self, digest: &[u8], now: OffsetDateTime) -> StoreResult<Option<Session>> {
                let row: Option<(String, String, i64, Option<String>)> = sqlx::query_as(
                    "SELECT admin_id, csrf_token, expires_at, customer_id FROM sessions WHERE id_digest = $1 AND expires_at > $2",
                )
                .bind(digest.to_vec())
                .bind(ms(now))
                .fetch_optional(&self.pool)
                .await?;
                row.map(|(admin, csrf_token, expires_at, customer)| {
                    Ok(Session {
                        admin_id: AdminId::parse(&admin)?,
                        csrf_token,
                        expires_at: sql::from_ms(expires_at),
                        customer_id: customer.as_deref().map(CustomerId::parse).transpose()?,
                    })
                })
                .transpose()
            }

            async fn delete_session(&self, digest: &[u8]) -> StoreResult<()> {
                sqlx::query("DELETE FROM sessions WHERE id_digest = $1").bind(digest.to_vec()).execute(&self.pool).await?;
                Ok(())
            }

            async fn add_notification(&self, n: &Notification) -> StoreResult<()> {
                let mut tx = self.write_tx().await?;
                sqlx::query(
                    "INSERT INTO notifications (id, customer_id, destination_admin, body, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&n.id)
                .bind(n.customer_id.as_str())
                .bind(&n.destination_admin)
                .bind(n.body.to_string())
                .bind(ms(n.created_at))
                .execute(&mut *tx)
                .await?;
                let changes = [Change::NotificationsPosted(n.customer_id.clone())];
                insert_changes(&mut tx, &changes, n.created_at).await?;
                self.commit(tx, &changes).await
            }

            async fn notifications(&self, customer: &CustomerId, limit: u32) -> StoreResult<Vec<Notification>> {
                sqlx::query_as::<_, sql::NotificationRow>(
                    "SELECT id, customer_id, destination_admin, body, created_at FROM notifications \
                     WHERE customer_id = $1 ORDER BY created_at DESC, id LIMIT $2",
                )
                .bind(customer.as_str())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(sql::notification)
                .collect()
            }

            async fn append_log(&self, entry: &LogEntry) -> StoreResult<()> {
                let mut tx = self.write_tx().await?;
                insert_log(&mut tx, entry).await?;
                self.commit(tx, &[]).await
            }

            async fn log_records(&self, q: &LogQuery) -> StoreResult<Vec<LogRecord>> {
                sqlx::query_as::<_, sql::LogRow>(
                    "SELECT seq, record_id, customer_id, at, event_type, actor_type, actor_id, actor_name, \
                     target_type, target_id, target_name, message, before_json, after_json FROM system_log \
                     WHERE customer_id = $1 AND at >= $2 AND at < $3 AND seq > $4 ORDER BY seq LIMIT $5",
                )
                .bind(q.customer_id.as_str())
                .bind(ms(q.start))
                .bind(ms(q.end))
                .bind(q.after_seq.unwrap_or(0))
                .bind(i64::from(q.limit))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(sql::log_record)
                .collect()
            }

            async fn prune_log(&self, before: OffsetDateTime, limit: u32) -> StoreResult<u64> {
                // The head of the log by primary key, not a search by time: the only index on
                // `at` leads with the customer. Records are written in time order, so the old
                // ones are at the head.
                let mut tx = self.write_tx().await?;
                let deleted = sqlx::query(
                    "DELETE FROM system_log WHERE at < $1 AND seq IN \
                     (SELECT seq FROM system_log ORDER BY seq LIMIT $2)",
                )
                .bind(ms(before))
                .bind(i64::from(limit))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                self.commit(tx, &[]).await?;
                Ok(deleted)
            }

            async fn log_view(&self, q: &LogQuery, view: &LogView) -> StoreResult<Vec<LogRecord>> {
                let (text, after) = if view.newest_first {
                    (
                        "SELECT seq, record_id, customer_id, at, event_type, actor_type, actor_id, actor_name, \
                         target_type, target_id, target_name, message, before_json, after_json FROM system_log \
                         WHERE customer_id = $1 AND at >= $2 AND at < $3 AND seq < $4 \
                         AND LOWER(event_type) LIKE $5 ESCAPE '\\' AND LOWER(actor_name) LIKE $6 ESCAPE '\\' \
                         ORDER BY seq DESC LIMIT $7",
                        q.after_seq.unwrap_or(i64::MAX),
                    )
                } else {
                    (
                        "SELECT seq, record_id, customer_id, at, event_type, actor_type, actor_id, actor_name, \
                         target_type, target_id, target_name, message, before_json, after_json FROM system_log \
                         WHERE customer_id = $1 AND at >= $2 AND at < $3 AND seq > $4 \
                         AND LOWER(event_type) LIKE $5 ESCAPE '\\' AND LOWER(actor_name) LIKE $6 ESCAPE '\\' \
                         ORDER BY seq LIMIT $7",
                        q.after_seq.unwrap_or(0),
                    )
                };
                sqlx::query_as::<_, sql::LogRow>(text)
                    .bind(q.customer_id.as_str())
                    .bind(ms(q.start))
                    .bind(ms(q.end))
                    .bind(after)
                    .bind(LogView::pattern(view.event_type.as_deref()))
                    .bind(LogView::pattern(view.actor.as_deref()))
                    .bind(i64::from(q.limit))
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(sql::log_record)
                    .collect()
            }

            // --- SCIM provisioning and the R7 warning (issue 12) ---
            async fn create_scim_token(
                &self,
                token: &ScimToken,
                digest: &[u8],
                server_key: &ServerKeyId,
                actor: &Actor,
            ) -> StoreResult<()> {
                let mut tx = self.write_tx().await?;
                <$store>::lock_customer(&mut tx, &token.customer_id).await?;
                lifecycle::manage_provisioning(&authority(&mut tx, &token.customer_id, actor).await?)?;
                let inserted = sqlx::query(
                    "INSERT INTO scim_tokens (id, customer_id, name, provider, digest, created_by, created_at, provider_id, server_key) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                )
                .bind(token.id.to_string())
                .bind(token.customer_id.as_str())
                .bind(&token.name)
                .bind(token.provider.wire_name())
                .bind(digest.to_vec())
                .bind(&token.created_by)
                .bind(ms(token.created_at))
                .bind(token.provider_id.as_deref())
                .bind(server_key.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 0 {
                    return Err(StoreError::Conflict(format!("a SCIM token named {} already exists", token.name)));
                }
                insert_log(&mut tx, &event::scim_token_created(token, actor)).await?;
                self.commit(tx, &[]).await
            }

            async fn scim_tokens(&self, customer: &CustomerId) -> StoreResult<Vec<ScimToken>> {
                sqlx::query_as::<_, sql::ScimTokenRow>(
                    "SELECT id, customer_id, name, provider, provider_id, created_by, created_at FROM scim_tokens \
                     WHERE customer_id = $1 ORDER BY created_at, id",
                )
                .bind(customer.as_str())
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(sql::scim_token)
                .collect()
            }

            async fn scim_token(&self, digest: &[u8]) -> StoreResult<Option<ScimToken>> {
                sqlx::query_as::<_, sql::ScimTokenRow>(
                    "SELECT id, customer_id, name, provider, provider_id, created_by, created_at FROM scim_tokens WHERE digest = $1",
                )
                .bind(digest.to_vec())
                .fetch_optional(&self.pool)
                .await?
                .map(sql::scim_token)
                .transpose()
            }

            async fn revoke_scim_token(&self, customer: &CustomerId, id: ScimTokenId, actor: &Actor) -> StoreResult<bool> {
                let mut tx = self.write_tx().await?;
                <$store>::lock_customer(&mut tx, customer).await?;
                lifecycle::manage_provisioning(&authority(&mut tx, customer, actor).await?)?;
                let Some(row) = sqlx::query_as::<_, sql::ScimTokenRow>(
                    "SELECT id, customer_id, name, provider, provider_id, created_by, created_at FROM scim_tokens \
                     WHERE id = $1 AND customer_id = $2",
                )
                .bind(id.to_string())
                .bind(customer.as_str())
                .fetch_optional(&mut *tx)
                .await?
                else {
                    return Ok(false);
                };
                let token = sql::scim_token(row)?;
                sqlx::query("DELETE FROM scim_tokens WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await?;
                insert_log(&mut tx, &event::scim_token_revoked(&token, OffsetDateTime::now_utc(), actor)).await?;
                self.commit(tx, &[]).await?;
                Ok(true)
            }

            async fn scim_users(
                &self,
                customer: &CustomerId,
                filter: &ScimFilter,
                offset: u64,
                limit: u32,
            ) -> StoreResult<(u64, Vec<ScimUser>)> {
                let (by_name, name, by_external, external) = match filter {
                    ScimFilter::All => (0_i64, String::new(), 0_i64, String::new()),
                    ScimFilter::UserName(name) => (1, name.to_lowercase(), 0, String::new()),
                    ScimFilter::ExternalId(id) => (0, String::new(), 1, id.clone()),
                };
                let mut tx = self.pool.begin().await?;
                let (total,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM scim_users s \
                     WHERE s.customer_id = $1 AND ($2 = 0 OR s.user_name_key = $3) AND ($4 = 0 OR s.external_id = $5)",
                )
                    .bind(customer.as_str())
                    .bind(by_name)
                    .bind(&name)
                    .bind(by_external)
                    .bind(&external)
                    .fetch_one(&mut *tx)
                    .await?;
                let users = sqlx::query_as::<_, sql::ScimUserRow>(concat!(
                    crate::sql::scim_user_select!(),
                    " WHERE s.customer_id = $1 AND ($2 = 0 OR s.user_name_key = $3) AND ($4 = 0 OR s.external_id = $5) \
                     ORDER BY s.created_at, s.admin_id LIMIT $6 OFFSET $7"
                ))
                .bind(customer.as_str())
                .bind(by_name)
                .bind(&name)
                .bind(by_external)
                .bind(&external)
                .bind(i64::from(limit))
                .bind(i64::try_from(offset).unwrap_or(i64::MAX))
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(sql::scim_user)
                .collect::<StoreResult<Vec<_>>>()?;
                tx.rollback().await?;
                Ok((u64::try_from(total).unwrap_or(0), users))
            }

            async fn scim_user(&self, customer: &CustomerId, admin: AdminId) -> StoreResult<Option<ScimUser>> {
                let mut tx = self.pool.begin().await?;
                let user = load_scim_user(&mut tx, customer, admin).await?;
                tx.rollback().await?;
                Ok(user)
            }

            async fn provision_user(
                &self,
                customer: &CustomerId,
                candidate: &Admin,
                write: &ScimUserWrite,
                actor: &Actor,
            ) -> StoreResult<ScimUser> {
                let mut tx = self.write_tx().await?;
                <$store>::lock_customer(&mut tx, customer).await?;
                authority(&mut tx, customer, actor).await?;
                user_name_free(&mut tx, customer, &write.user_name.to_lowercase(), None).await?;
                subject_free(&mut tx, customer, candidate.provider, candidate.external_id.as_deref(), None).await?;
                let email_taken: Option<(String,)> =
                    sqlx::query_as("SELECT admin_id FROM memberships WHERE customer_id = $1 AND email = $2")
                        .bind(customer.as_str())
                        .bind(candidate.email.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                if email_taken.is_some() {
                    return Err(StoreError::Conflict(format!("{} is already an administrator of this customer", candidate.email)));
                }
                insert_admin(&mut tx, candidate, None).await?;
                let mut changes = join(&mut tx, customer, candidate, provisioning::provisioned_access(), None, actor).await?;
                let now = OffsetDateTime::now_utc();
                if !write.active {
                    changes.extend(apply_status(&mut tx, candidate.id, AdminStatus::Disabled, actor, now).await?);
                }
                sqlx::query(
                    "INSERT INTO scim_users (customer_id, admin_id, user_name, user_name_key, external_id, document, version, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)",
                )
                .bind(customer.as_str())
                .bind(candidate.id.to_string())
                .bind(&write.user_name)
                .bind(write.user_name.to_lowercase())
                .bind(write.external_id.as_deref())
                .bind(write.document.to_string())
                .bind(ms(now))
                .execute(&mut *tx)
                .await?;
                let user = load_scim_user(&mut tx, customer, candidate.id).await?.ok_or(StoreError::NotFound("User"))?;
                self.commit(tx, &changes).await?;
                Ok(user)
            }

            async fn update_scim_user(
                &self,
                customer: &CustomerId,
                admin: AdminId,
                write: &ScimUserWrite,
                if_version: Option<&str>,
                actor: &Actor,
            ) -> StoreResult<ScimUser> {
                let mut tx = self.write_tx().await?;
                <$store>::lock_customer(&mut tx, customer).await?;
                authority(&mut tx, customer, actor).await?;
                let current = load_scim_user(&mut tx, customer, admin).await?.ok_or(StoreError::NotFound("User"))?;
                version_holds(&current, if_version)?;
                user_name_free(&mut tx, customer, &write.user_name.to_lowercase(), Some(admin)).await?;
                subject_free(&mut tx, customer, current.admin.provider, write.external_id.as_deref(), Some(admin)).await?;
                let status = if write.active { AdminStatus::Active } else { AdminStatus::Disabled };
                if write.external_id != current.admin.external_id || status != current.admin.status {
                    not_shared(&mut tx, customer, admin).await?;
                }
                let now = OffsetDateTime::now_utc();
                sqlx::query("UPDATE admins SET external_id = $1 WHERE id = $2")
                    .bind(write.external_id.as_deref())
                    .bind(admin.to_string())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE memberships SET email = $1, display_name = $2, updated_at = $3 WHERE customer_id = $4 AND admin_id = $5",
                )
                .bind(write.email.as_str())
                .bind(&write.display_name)
                .bind(ms(now))
                .bind(customer.as_str())
                .bind(admin.to_string())
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE scim_users SET user_name = $1, user_name_key = $2, external_id = $3, document = $4, \
                     version = version + 1, updated_at = $5 WHERE customer_id = $6 AND admin_id = $7",
                )
                .bind(&write.user_name)
                .bind(write.user_name.to_lowercase())
                .bind(write.external_id.as_deref())
                .bind(write.document.to_string())
                .bind(ms(now))
                .bind(customer.as_str())
                .bind(admin.to_string())
                .execute(&mut *tx)
                .await?;
                // The owner's e-mail travels with every cached grant of their clients.
                let mut changes = vec![Change::MembershipChanged(customer.clone(), admin)];
                insert_changes(&mut tx, &changes, now).await?;
                if status != current.admin.status {
                    changes.extend(apply_status(&mut tx, admin, status, actor, now).await?);
                }
                let user = load_scim_user(&mut tx, customer, admin).await?.ok_or(StoreError::NotFound("User"))?;
                self.commit(tx, &changes).await?;
                Ok(user)
            }

            async fn deprovision_user(
                &self,
                customer: &CustomerId,
                admin: AdminId,
                if_version: Option<&str>,
                actor: &Actor,
            ) -> StoreResult<usize> {
                let mut tx = self.write_tx().await?;
                <$store>::lock_customer(&mut tx, customer).await?;
                let authority = authority(&mut tx, customer, actor).await?;
                let current = load_scim_user(&mut tx, customer, admin).await?.ok_or(StoreError::NotFound("User"))?;
                version_holds(&current, if_version)?;
                let member = load_member(&mut tx, customer, admin).await?.ok_or(StoreError::NotFound("User"))?;
                lifecycle::remove(&authority, &member.access, full_admins(&mut tx, customer).await?)?;
                sqlx::query("DELETE FROM scim_users WHERE customer_id = $1 AND admin_id = $2")
                    .bind(customer.as_str())
                    .bind(admin.to_string())
                    .execute(&mut *tx)
                    .await?;
                let now = OffsetDateTime::now_utc();
                let mut changes = Vec::new();
                let deleted =
                    end_membership(&mut tx, customer, &member, DeletionCause::OwnerRemovedFromCustomer, actor, now, &mut changes)
                        .await?;
                // Provisioned by this customer's provider and a member nowhere else: nothing is
                // left of the person to keep.
                if admin_customers(&mut tx, admin).await?.is_empty() {
                    sqlx::query("DELETE FROM admins WHERE id = $1").bind(admin.to_string()).execute(&mut *tx).await?;
                    changes.push(Change::AdminChanged(admin));
                }
                insert_changes(&mut tx, &changes, now).await?;
                self.commit(tx, &changes).await?;
                Ok(deleted)
            }

            async fn disabled_owners(&self, customer: &CustomerId) -> StoreResult<Vec<DisabledOwner>> {
                sqlx::query_as::<_, (String, String, String, String, Option<String>, Option<String>, String, i64, i64)>(
                    "SELECT a.id, m.email, m.display_name, a.provider, a.external_id, a.provider_id, a.status, a.created_at, COUNT(k.id) \
                     FROM memberships m JOIN admins a ON a.id = m.admin_id JOIN customers c ON c.id = m.customer_id \
                     JOIN api_clients k ON k.customer_id = m.customer_id AND k.owner_id = m.admin_id \
                     WHERE m.customer_id = $1 AND a.status = $2 AND c.disabled_owner_policy = $3 \
                     GROUP BY a.id, m.email, m.display_name, a.provider, a.external_id, a.provider_id, a.status, a.created_at \
                     ORDER BY m.email",
                )
                .bind(customer.as_str())
                .bind(AdminStatus::Disabled.as_str())
                .bind(DisabledOwnerPolicy::KeepActive.as_str())
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(|(id, email, name, provider, subject, provider_id, status, created, clients)| {
                    Ok(DisabledOwner {
                        admin: sql::admin((id, email, name, provider, subject, provider_id, status, created))?,
                        active_clients: u64::try_from(clients).unwrap_or(0),
                    })
                })
                .collect()
            }
            // --- OpenID Connect sign-in (issue #12) ---
            async fn connect_provider(&self, provider: &IdentityProvider, actor: &Actor) -> StoreResult<()> {
                let mut tx = self.write_tx().await?;
                let known: Option<(String,)> = sqlx::query_as("SELECT id FROM customers WHERE id = $1")
                    .bind(provider.customer_id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                if known.is_none() {
                    return Err(StoreError::NotFound("customer"));
                }
                <$store>::lock_customer(&mut tx, &provider.customer_id).await?;
                lifecycle::manage_identity_providers(&authority(&mut tx, &provider.customer_id, actor).await?)?;
                let taken: Option<(String,)> =
                    sqlx::query_as("SELECT id FROM identity_providers WHERE customer_id = $1 AND issuer = $2")
                        .bind(provider.customer_id.as_str())
                        .bind(&provider.issuer)
                        .fetch_optional(&mut *tx)
                        .await?;
                if taken.is_some() {
                    return Err(StoreError::Conflict(format!(
                        "the customer is already connected to {}; disconnect it first",
                        provider.issuer
                    )));
                }
                sqlx::query(
                    "INSERT INTO identity_providers (id, customer_id, provider_type, issuer, client_id, sealed_secret, email_claim, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(provider.id.to_string())
                .bind(provider.customer_id.as_str())
                .bind(provider.provider_type.wire_name())
                .bind(&provider.issuer)
                .bind(&provider.client_id)
                .bind(&provider.sealed_secret)
                .bind(&provider.email_claim)
                .bind(ms(provider.created_at))
                .execute(&mut *tx)
                .await?;
                insert_log(&mut tx, &event::provider_connected(provider, actor)).await?;
                self.commit(tx, &[]).await
            }

            async fn disconnect_provider(&self, customer: &CustomerId, id: ProviderId, actor: &Actor) -> StoreResult<bool> {
                let mut tx = self.write_tx().await?;
                <$store>::lock_customer(&mut tx, customer).await?;
                lifecycle::manage_identity_providers(&authority(&mut tx, customer, actor).await?)?;
                let row: Option<sql::ProviderRow> = sqlx::query_as(
                    "SELECT id, customer_id, provider_type, issuer, client_id, sealed_secret, email_claim, created_at FROM identity_providers WHERE id = $1 AND customer_id = $2",
                )
                .bind(id.to_string())
                .bind(customer.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                let Some(provider) = row.map(sql::identity_provider).transpose()? else {
                    return Ok(false);
                };
                sqlx::query("DELETE FROM identity_providers WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await?;
                // A session does not record which of the customer's providers opened it: all of
                // them end, and whoever still may signs in again.
                sqlx::query("DELETE FROM sessions WHERE customer_id = $1").bind(customer.as_str()).execute(&mut *tx).await?;
                insert_log(&mut tx, &event::provider_disconnected(&provider, OffsetDateTime::now_utc(), actor)).await?;
                self.commit(tx, &[]).await?;
                Ok(true)
            }

            async fn identity_provider(&self, id: ProviderId) -> StoreResult<Option<IdentityProvider>> {
                sqlx::query_as::<_, sql::ProviderRow>(
                    "SELECT id, customer_id, provider_type, issuer, client_id, sealed_secret, email_claim, created_at FROM identity_providers WHERE id = $1",
                )
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?
                .map(sql::identity_provider)
                .transpose()
            }

            async fn identity_providers(&self, customer: &CustomerId) -> StoreResult<Vec<IdentityProvider>> {
                sqlx::query_as::<_, sql::ProviderRow>(
                    "SELECT id, customer_id, provider_type, issuer, client_id, sealed_secret, email_claim, created_at FROM identity_providers WHERE customer_id = $1 ORDER BY created_at, id",
                )
                .bind(customer.as_str())
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(sql::identity_provider)
                .collect()
            }

            async fn providers_for_email(&self, email: &Email) -> StoreResult<Vec<IdentityProvider>> {
                sqlx::query_as::<_, sql::ProviderRow>(
                    "SELECT p.id, p.customer_id, p.provider_type, p.issuer, p.client_id, p.sealed_secret, p.email_claim, \
                     p.created_at FROM identity_providers p WHERE EXISTS (SELECT 1 FROM memberships m \
                     JOIN admins a ON a.id = m.admin_id WHERE m.customer_id = p.customer_id AND m.email = $1 \
                     AND a.provider = p.provider_type) ORDER BY p.customer_id, p.created_at, p.id LIMIT 20",
                )
                .bind(email.as_str())
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(sql::identity_provider)
                .collect()
            }

            async fn begin_sign_in(&self, state_digest: &[u8], pending: &PendingSignIn, now: OffsetDateTime) -> StoreResult<()> {
                let mut tx = self.write_tx().await?;
                sqlx::query("DELETE FROM oidc_sign_ins WHERE expires_at <= $1").bind(ms(now)).execute(&mut *tx).await?;
                sqlx::query(
                    "INSERT INTO oidc_sign_ins (state_digest, provider_id, nonce, pkce_verifier, next_path, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(state_digest.to_vec())
                .bind(pending.provider_id.to_string())
                .bind(&pending.nonce)
                .bind(&pending.pkce_verifier)
                .bind(&pending.next_path)
                .bind(ms(pending.expires_at))
                .execute(&mut *tx)
                .await?;
                self.commit(tx, &[]).await
            }

            async fn take_sign_in(&self, state_digest: &[u8], now: OffsetDateTime) -> StoreResult<Option<PendingSignIn>> {
                // A state nobody started costs a read, never a write transaction (issue #20).
                let started: Option<(i64,)> = sqlx::query_as("SELECT expires_at FROM oidc_sign_ins WHERE state_digest = $1")
                    .bind(state_digest.to_vec())
                    .fetch_optional(&self.pool)
                    .await?;
                if started.is_none() {
                    return Ok(None);
                }
                let mut tx = self.write_tx().await?;
                let row: Option<(String, String, String, String, i64)> = sqlx::query_as(
                    "DELETE FROM oidc_sign_ins WHERE state_digest = $1 \
                     RETURNING provider_id, nonce, pkce_verifier, next_path, expires_at",
                )
                .bind(state_digest.to_vec())
                .fetch_optional(&mut *tx)
                .await?;
                self.commit(tx, &[]).await?;
                row.filter(|row| row.4 > ms(now))
                    .map(|(provider, nonce, pkce_verifier, next_path, expires_at)| {
                        Ok(PendingSignIn {
                            provider_id: ProviderId::parse(&provider)?,
                            nonce,
                            pkce_verifier,
                            next_path,
                            expires_at: sql::from_ms(expires_at),
                        })
                    })
                    .transpose()
            }

            async fn federated_admin(
                &self,
                provider: &IdentityProvider,
                subject: &str,
                verified_email: Option<&Email>,
                now: OffsetDateTime,
            ) -> StoreResult<Option<Admin>> {
                let customer = &provider.customer_id;
                let mut tx = self.write_tx().await?;
                // Linked to an administrator of this customer: two customers connecting the same
                // issuer each link the subject to their own administrator.
                let linked: Option<(String,)> = sqlx::query_as(
                    "SELECT f.admin_id FROM federated_identities f \
                     JOIN memberships m ON m.admin_id = f.admin_id AND m.customer_id = $3 \
                     WHERE f.issuer = $1 AND f.subject = $2",
                )
                .bind(&provider.issuer)
                .bind(subject)
                .bind(customer.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((admin,)) = linked {
                    let member = load_member(&mut tx, customer, AdminId::parse(&admin)?).await?;
                    tx.rollback().await?;
                    return Ok(member.map(|m| m.admin));
                }
                // Candidates: the customer's administrators of the provider's type not yet linked
                // to another subject of this issuer.
                let by_subject: Vec<(String,)> = sqlx::query_as(
                    "SELECT a.id FROM memberships m JOIN admins a ON a.id = m.admin_id \
                     WHERE m.customer_id = $1 AND a.provider = $2 AND NOT EXISTS (SELECT 1 FROM federated_identities f \
                     WHERE f.admin_id = a.id AND f.issuer = $3) AND a.external_id = $4 LIMIT 2",
                )
                    .bind(customer.as_str())
                    .bind(provider.provider_type.wire_name())
                    .bind(&provider.issuer)
                    .bind(subject)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut changes = Vec::new();
                let admin = match (by_subject.as_slice(), verified_email) {
                    ([(only,)], _) => AdminId::parse(only)?,
                    ([], Some(email)) => {
                        let by_email: Vec<(String,)> =
                            sqlx::query_as(
                                "SELECT a.id FROM memberships m JOIN admins a ON a.id = m.admin_id \
                     WHERE m.customer_id = $1 AND a.provider = $2 AND NOT EXISTS (SELECT 1 FROM federated_identities f \
                     WHERE f.admin_id = a.id AND f.issuer = $3) AND a.external_id IS NULL AND m.email = $4 LIMIT 2",
                            )
                                .bind(customer.as_str())
                                .bind(provider.provider_type.wire_name())
                                .bind(&provider.issuer)
                                .bind(email.as_str())
                                .fetch_all(&mut *tx)
                                .await?;
                        let [(only,)] = by_email.as_slice() else {
                            tx.rollback().await?;
                            return Ok(None);
                        };
                        let admin = AdminId::parse(only)?;
                        sqlx::query("UPDATE admins SET external_id = $1 WHERE id = $2 AND external_id IS NULL")
                            .bind(subject)
                            .bind(admin.to_string())
                            .execute(&mut *tx)
                            .await?;
                        changes.push(Change::AdminChanged(admin));
                        admin
                    }
                    _ => {
                        tx.rollback().await?;
                        return Ok(None);
                    }
                };
                sqlx::query("INSERT INTO federated_identities (issuer, subject, admin_id, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(&provider.issuer)
                    .bind(subject)
                    .bind(admin.to_string())
                    .bind(ms(now))
                    .execute(&mut *tx)
                    .await?;
                let member = load_member(&mut tx, customer, admin).await?;
                self.commit(tx, &changes).await?;
                Ok(member.map(|m| m.admin))
            }
            // --- end of OpenID Connect sign-in ---

            // --- Resource servers (issue #10) ---
            async fn create_resource_server(
                &self,
                server: &trustgate_core::resource_server::ResourceServer,
                verifier: &trustgate_core::secret::SecretVerifier,
            ) -> StoreResult<()> {
                let mut tx = self.write_tx().await?;
                let inserted = sqlx::query(
                    "INSERT INTO resource_servers (id, name, verifier, created_at, server_key) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(server.id.to_string())
                .bind(&server.name)
                .bind(verifier.as_bytes().to_vec())
                .bind(ms(server.created_at))
                .bind(verifier.key().map(ServerKeyId::as_str))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 0 {
                    return Err(StoreError::Conflict(format!("a resource server named {} already exists", server.name)));
                }
                self.commit(tx, &[]).await
            }

            async fn resource_servers(&self) -> StoreResult<Vec<trustgate_core::resource_server::ResourceServer>> {
                sqlx::query_as::<_, sql::ResourceServerRow>(
                    "SELECT id, name, verifier, created_at, server_key FROM resource_servers ORDER BY name",
                )
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(|row| sql::resource_server(row).map(|(server, _)| server))
                .collect()
            }

            async fn resource_server(
                &self,
                id: trustgate_core::ids::ResourceServerId,
            ) -> StoreResult<Option<(trustgate_core::resource_server::ResourceServer, trustgate_core::secret::SecretVerifier)>> {
                sqlx::query_as::<_, sql::ResourceServerRow>(
                    "SELECT id, name, verifier, created_at, server_key FROM resource_servers WHERE id = $1",
                )
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?
                .map(sql::resource_server)
                .transpose()
            }

            async fn rotate_resource_server(
                &self,
                name: &str,
                verifier: &trustgate_core::secret::SecretVerifier,
            ) -> StoreResult<Option<trustgate_core::resource_server::ResourceServer>> {
                let mut tx = self.write_tx().await?;
                let row = sqlx::query_as::<_, sql::ResourceServerRow>(
                    "UPDATE resource_servers SET verifier = $1, server_key = $3 WHERE name = $2 \
                     RETURNING id, name, verifier, created_at, server_key",
                )
                .bind(verifier.as_bytes().to_vec())
                .bind(name)
                .bind(verifier.key().map(ServerKeyId::as_str))
                .fetch_optional(&mut *tx)
                .await?;
                self.commit(tx, &[]).await?;
                row.map(|row| sql::resource_server(row).map(|(server, _)| server)).transpose()
            }

            async fn delete_resource_server(&self, name: &str) -> StoreResult<bool> {
                let mut tx = self.write_tx().await?;
                let deleted = sqlx::query("DELETE FROM resource_servers WHERE name = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                self.commit(tx, &[]).await?;
                Ok(deleted > 0)
            }
            // --- end of resource servers ---

            // --- The permission catalog (issue 10) ---
            async fn catalog(&self) -> StoreResult<trustgate_core::catalog::Catalog> {
                let mut tx = self.pool.begin().await?;
                read_catalog(&mut tx).await
            }

            async fn apply_catalog(
                &self,
                catalog: &trustgate_core::catalog::Catalog,
                force: bool,
                actor: &Actor,
            ) -> StoreResult<crate::model::CatalogApplied> {
                let mut tx = self.write_tx().await?;
                let now = OffsetDateTime::now_utc();
                let Some((applied, mut changes)) = stage_catalog(&mut tx, catalog, force, actor, now).await? else {
                    return Ok(crate::model::CatalogApplied { before: catalog.clone(), stripped: Vec::new() });
                };
                for delete in ["DELETE FROM catalog_services", "DELETE FROM catalog_permissions", "DELETE FROM catalog_routes"] {
                    sqlx::query(delete).execute(&mut *tx).await?;
                }
                for (i, service) in catalog.services().iter().enumerate() {
                    sqlx::query("INSERT INTO catalog_services (ordinal, name, display_name, description) VALUES ($1, $2, $3, $4)")
                        .bind(i64::try_from(i).unwrap_or(i64::MAX))
                        .bind(service.name.as_str())
                        .bind(&service.display_name)
                        .bind(service.description.as_deref())
                        .execute(&mut *tx)
                        .await?;
                }
                for (i, entry) in catalog.declared().iter().enumerate() {
                    let trustgate_core::access::Permission::Service { service, name } = &entry.permission else {
                        continue;
                    };
                    sqlx::query(
                        "INSERT INTO catalog_permissions (ordinal, service, name, display_name, description) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(i64::try_from(i).unwrap_or(i64::MAX))
                    .bind(service.as_str())
                    .bind(name.as_str())
                    .bind(&entry.display_name)
                    .bind(entry.description.as_deref())
                    .execute(&mut *tx)
                    .await?;
                }
                for (i, rule) in catalog.routes().iter().enumerate() {
                    sqlx::query("INSERT INTO catalog_routes (ordinal, method, path, permission, customer) VALUES ($1, $2, $3, $4, $5)")
                        .bind(i64::try_from(i).unwrap_or(i64::MAX))
                        .bind(rule.method.to_string())
                        .bind(rule.pattern.to_string())
                        .bind(rule.permission.to_string())
                        .bind(rule.customer.to_string())
                        .execute(&mut *tx)
                        .await?;
                }
                changes.push(Change::CatalogChanged);
                insert_changes(&mut tx, &changes, now).await?;
                self.commit(tx, &changes).await?;
                Ok(applied)
            }

            async fn preview_catalog(
                &self,
                catalog: &trustgate_core::catalog::Catalog,
                force: bool,
                actor: &Actor,
            ) -> StoreResult<crate::model::CatalogApplied> {
                let mut tx = self.write_tx().await?;
                let staged = stage_catalog(&mut tx, catalog, force, actor, OffsetDateTime::now_utc()).await?;
                tx.rollback().await?;
                Ok(staged.map_or_else(
                    || crate::model::CatalogApplied { before: catalog.clone(), stripped: Vec::new() },
                    |(applied, _)| applied,
                ))
            }
            // --- end of the permission catalog ---
        }
    };
}

pub(crate) use store_impl;
