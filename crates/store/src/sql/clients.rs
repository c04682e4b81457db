//! API clients (secure clients and service principals), their secrets, and the grant a token
//! request reads.

use trustgate_core::admin::AdminStatus;
use trustgate_core::client::{ApiClient, ClientKind};
use trustgate_core::client_secrets::{GrantSecret, SecretInfo};
use trustgate_core::customer::DisabledOwnerPolicy;
use trustgate_core::ids::{AdminId, ClientId, CustomerId};
use trustgate_core::rights::Standing;
use trustgate_core::secret::{SecretId, SecretVerifier, ServerKeyId};

use crate::error::{StoreError, StoreResult};
use crate::model::{ClientGrant, ExpiringSecret};
use crate::sql::admins::{access, held};
use crate::sql::{corrupt, from_ms};

/// The columns of `api_clients` (as `k`) a [`ClientRow`] reads; a macro so queries stay static
/// strings.
macro_rules! client_columns {
    () => {
        "k.id, k.customer_id, k.owner_id, k.name, k.created_at, k.last_used_at, k.access_type, k.permissions"
    };
}
pub(crate) use client_columns;

/// The columns of `client_secrets` (as `s`) a [`SecretInfoRow`] reads, named apart from a client's.
macro_rules! secret_columns {
    () => {
        "s.id AS secret_id, s.legacy, s.created_at AS secret_created_at, s.created_by, s.expires_at, \
         s.last_used_at AS secret_last_used_at, s.server_key"
    };
}
pub(crate) use secret_columns;

/// Reads [`ExpiringRow`]s: a query's start, for `concat!`.
macro_rules! expiring_select {
    () => {
        concat!(
            "SELECT ",
            crate::sql::clients::client_columns!(),
            ", ",
            crate::sql::clients::secret_columns!(),
            " FROM client_secrets s JOIN api_clients k ON k.id = s.client_id "
        )
    };
}
pub(crate) use expiring_select;

/// A secure client has an owner; a service principal has its own access instead.
#[derive(sqlx::FromRow)]
pub(crate) struct ClientRow {
    id: String,
    customer_id: String,
    owner_id: Option<String>,
    name: String,
    created_at: i64,
    last_used_at: Option<i64>,
    access_type: Option<String>,
    permissions: Option<String>,
}

impl TryFrom<ClientRow> for ApiClient {
    type Error = StoreError;

    fn try_from(row: ClientRow) -> StoreResult<ApiClient> {
        let kind = match (row.owner_id, row.access_type, row.permissions) {
            (Some(owner), None, None) => ClientKind::SecureClient { owner: AdminId::parse(&owner)? },
            (None, Some(access_type), Some(permissions)) => {
                ClientKind::ServicePrincipal { access: access(&access_type, &permissions)? }
            }
            _ => return Err(corrupt("API client kind")),
        };
        Ok(ApiClient {
            id: ClientId::parse(&row.id)?,
            customer_id: CustomerId::parse(&row.customer_id)?,
            kind,
            name: row.name,
            created_at: from_ms(row.created_at),
            last_used_at: row.last_used_at.map(from_ms),
        })
    }
}

/// A client and its owner's e-mail, access, status and customer policy (all NULL for a service
/// principal).
#[derive(sqlx::FromRow)]
pub(crate) struct GrantRow {
    #[sqlx(flatten)]
    client: ClientRow,
    owner_email: Option<String>,
    owner_access_type: Option<String>,
    owner_permissions: Option<String>,
    owner_group_access_type: Option<String>,
    owner_group_permissions: Option<String>,
    owner_status: Option<String>,
    owner_policy: Option<String>,
}

impl GrantRow {
    pub(crate) fn into_grant(self, secrets: Vec<GrantSecret>) -> StoreResult<ClientGrant> {
        let client = ApiClient::try_from(self.client)?;
        let owner = (
            self.owner_access_type,
            self.owner_permissions,
            self.owner_group_access_type.zip(self.owner_group_permissions),
            self.owner_status,
            self.owner_policy,
        );
        let standing = match (&client.kind, owner) {
            (ClientKind::ServicePrincipal { access }, _) => Standing::of_principal(access.clone()),
            (
                ClientKind::SecureClient { .. },
                (
                    Some(access_type),
                    Some(permissions),
                    Some((group_type, group_permissions)),
                    Some(status),
                    Some(policy),
                ),
            ) => Standing {
                access: held(&access_type, &permissions, &group_type, &group_permissions)?,
                status: AdminStatus::parse(&status).ok_or_else(|| corrupt("admin status"))?,
                policy: DisabledOwnerPolicy::parse(&policy)?,
            },
            _ => return Err(corrupt("API client owner")),
        };
        Ok(ClientGrant { client, secrets, owner_email: self.owner_email, standing })
    }
}

/// A secret as a grant checks it, from the columns the grant's query names apart from the client's.
#[derive(sqlx::FromRow)]
pub(crate) struct GrantSecretRow {
    secret_id: String,
    legacy: i64,
    verifier: Vec<u8>,
    expires_at: Option<i64>,
    expiry_logged_at: Option<i64>,
    secret_last_used_at: Option<i64>,
    server_key: Option<String>,
}

/// The server key id stored beside a record; `None` (made before keys had ids) stays `None`.
pub(crate) fn server_key_id(stored: Option<String>) -> StoreResult<Option<ServerKeyId>> {
    stored.map(|id| ServerKeyId::parse(&id).ok_or_else(|| corrupt("server key id"))).transpose()
}

impl TryFrom<GrantSecretRow> for GrantSecret {
    type Error = StoreError;

    fn try_from(row: GrantSecretRow) -> StoreResult<GrantSecret> {
        Ok(GrantSecret {
            id: SecretId::parse(&row.secret_id)?,
            legacy: row.legacy != 0,
            verifier: SecretVerifier::from_stored(&row.verifier, server_key_id(row.server_key)?)
                .ok_or_else(|| corrupt("secret verifier"))?,
            expires_at: row.expires_at.map(from_ms),
            expiry_logged: row.expiry_logged_at.is_some(),
            last_used_at: row.secret_last_used_at.map(from_ms),
        })
    }
}

/// A secret as its managers see it, from [`secret_columns!`].
#[derive(sqlx::FromRow)]
pub(crate) struct SecretInfoRow {
    secret_id: String,
    legacy: i64,
    secret_created_at: i64,
    created_by: String,
    expires_at: Option<i64>,
    secret_last_used_at: Option<i64>,
    server_key: Option<String>,
}

impl TryFrom<SecretInfoRow> for SecretInfo {
    type Error = StoreError;

    fn try_from(row: SecretInfoRow) -> StoreResult<SecretInfo> {
        Ok(SecretInfo {
            id: SecretId::parse(&row.secret_id)?,
            legacy: row.legacy != 0,
            created_at: from_ms(row.secret_created_at),
            created_by: row.created_by,
            expires_at: row.expires_at.map(from_ms),
            last_used_at: row.secret_last_used_at.map(from_ms),
            server_key: server_key_id(row.server_key)?,
        })
    }
}

/// A secret and its client, from [`client_columns!`] and [`secret_columns!`].
#[derive(sqlx::FromRow)]
pub(crate) struct ExpiringRow {
    #[sqlx(flatten)]
    client: ClientRow,
    #[sqlx(flatten)]
    secret: SecretInfoRow,
}

impl TryFrom<ExpiringRow> for ExpiringSecret {
    type Error = StoreError;

    fn try_from(row: ExpiringRow) -> StoreResult<ExpiringSecret> {
        Ok(ExpiringSecret { client: ApiClient::try_from(row.client)?, secret: SecretInfo::try_from(row.secret)? })
    }
}

/// This domain's SQL, instantiated once per backend by [`crate::sql::store_impl!`] in a module
/// of the same name inside the backend's module.
macro_rules! queries {
    ($store:ty, $db:ty) => {
        use time::OffsetDateTime;
        use trustgate_core::access::Access;
        use trustgate_core::client::{ApiClient, ClientKind, PRINCIPALS_PER_CUSTOMER_MAX};
        use trustgate_core::client_secrets::GrantSecret;
        use trustgate_core::client_secrets::{self, Manager, NewSecret, SecretInfo};
        use trustgate_core::event::{self, Actor, DeletionCause, SecretEvent};
        use trustgate_core::ids::{AdminId, ClientId, CustomerId};
        use trustgate_core::lifecycle::{self, Authority};
        use trustgate_core::secret::{SecretId, ServerKeyId};

        use crate::changes::Change;
        use crate::error::{StoreError, StoreResult};
        use crate::model::{ClientGrant, ExpiringSecret, Notification};
        use crate::sql::clients::{ClientRow, ExpiringRow, GrantRow, GrantSecretRow, SecretInfoRow};
        use crate::sql::{ms, Parsed};

        use super::admins::authority;
        use super::admins::load_member;
        use super::catalog::ensure_declared;
        use super::customers::ensure_customer;
        use super::feed::insert_changes;
        use super::system_log::{insert_log, insert_notification};
        use super::Tx;

        pub(super) async fn clients_in_tx(
            tx: &mut Tx,
            customer: &CustomerId,
            owner: AdminId,
        ) -> StoreResult<Vec<ApiClient>> {
            sqlx::query_as::<_, ClientRow>(concat!(
                "SELECT ",
                crate::sql::clients::client_columns!(),
                " FROM api_clients k WHERE k.customer_id = $1 AND k.owner_id = $2 ORDER BY k.created_at, k.id"
            ))
            .bind(customer.as_str())
            .bind(owner.to_string())
            .fetch_all(&mut **tx)
            .await?
            .parsed()
        }

        pub(super) async fn update_principal_access(tx: &mut Tx, id: ClientId, access: &Access) -> StoreResult<()> {
            let (access_type, permissions) = crate::sql::admins::access_columns(access);
            sqlx::query("UPDATE api_clients SET access_type = $1, permissions = $2 WHERE id = $3")
                .bind(access_type)
                .bind(permissions)
                .bind(id.to_string())
                .execute(&mut **tx)
                .await?;
            Ok(())
        }

        /// The customer's service principal `id`, if it is one.
        pub(super) async fn principal_in_tx(
            tx: &mut Tx,
            customer: &CustomerId,
            id: ClientId,
        ) -> StoreResult<Option<ApiClient>> {
            sqlx::query_as::<_, ClientRow>(concat!(
                "SELECT ",
                crate::sql::clients::client_columns!(),
                " FROM api_clients k WHERE k.id = $1 AND k.customer_id = $2 AND k.owner_id IS NULL"
            ))
            .bind(id.to_string())
            .bind(customer.as_str())
            .fetch_optional(&mut **tx)
            .await?
            .parsed()
        }

        async fn insert_secret(
            tx: &mut Tx,
            client: ClientId,
            secret: &NewSecret,
            actor: &Actor,
        ) -> StoreResult<SecretInfo> {
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
            sqlx::query_as::<_, ClientRow>(concat!(
                "SELECT ",
                crate::sql::clients::client_columns!(),
                " FROM api_clients k WHERE k.id = $1"
            ))
            .bind(id.to_string())
            .fetch_optional(&mut **tx)
            .await?
            .parsed()
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

        /// Runs `claim`, an update of the secret's row (`$1` the time, `$2` the client, `$3` the
        /// secret) that only one node's call can make: the client and when the secret expires
        /// when this call made it, else `None`.
        async fn claim_expiry(
            tx: &mut Tx,
            claim: &'static str,
            client: ClientId,
            secret: SecretId,
            at: OffsetDateTime,
        ) -> StoreResult<Option<(ApiClient, Option<OffsetDateTime>)>> {
            let claimed = sqlx::query(claim)
                .bind(ms(at))
                .bind(client.to_string())
                .bind(secret.as_str())
                .execute(&mut **tx)
                .await?
                .rows_affected();
            let Some(found) = load_client(tx, client).await?.filter(|_| claimed == 1) else { return Ok(None) };
            let expires_at = secrets_of(tx, client).await?.into_iter().find(|s| s.id == secret).and_then(|s| s.expires_at);
            Ok(Some((found, expires_at)))
        }

        /// Secrets and their clients, read by `query` (from [`expiring_select!`]) with `values` bound in order.
        async fn secrets_with_clients(
            store: &$store,
            query: &'static str,
            values: &[i64],
        ) -> StoreResult<Vec<ExpiringSecret>> {
            let mut query = sqlx::query_as::<_, ExpiringRow>(query);
            for value in values {
                query = query.bind(*value);
            }
            query.fetch_all(&store.pool).await?.into_iter().map(ExpiringSecret::try_from).collect()
        }

        async fn secrets_of(tx: &mut Tx, client: ClientId) -> StoreResult<Vec<SecretInfo>> {
            sqlx::query_as::<_, SecretInfoRow>(concat!(
                "SELECT ",
                crate::sql::clients::secret_columns!(),
                " FROM client_secrets s WHERE s.client_id = $1 ORDER BY s.created_at, s.id"
            ))
            .bind(client.to_string())
            .fetch_all(&mut **tx)
            .await?
            .parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn create_client(
            store: &$store,
            client: &ApiClient,
            secret: &NewSecret,
            cap: u64,
            actor: &Actor,
        ) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
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
            store.commit(tx, &changes).await
        }

        // Bulk seeding (issue #13).
        #[tracing::instrument(skip_all)]
        pub(super) async fn seed_clients(store: &$store, clients: &[(ApiClient, NewSecret)]) -> StoreResult<()> {
            // 7 parameters a row: 7,000 a statement, under SQLite's 32,766 and PostgreSQL's 65,535.
            const ROWS_PER_STATEMENT: usize = 1_000;
            let mut tx = store.write_tx().await?;
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
            store.commit(tx, &changes).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn refresh_statistics(store: &$store) -> StoreResult<()> {
            store.analyze().await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn client_grant(store: &$store, id: ClientId) -> StoreResult<Option<ClientGrant>> {
            use sqlx::{FromRow as _, Row as _};
            // One statement, a row per secret: one snapshot, so the secrets belong to the client
            // read, and one round trip (to SQLite's worker thread or PostgreSQL), where a
            // transaction of two reads took four. A service principal has no owner: the owner's
            // columns come back NULL.
            let rows = sqlx::query(concat!("SELECT ", crate::sql::clients::client_columns!(), ", m.email AS owner_email, m.access_type AS owner_access_type, \
                 m.permissions AS owner_permissions, m.group_access_type AS owner_group_access_type, \
                 m.group_permissions AS owner_group_permissions, a.status AS owner_status, c.disabled_owner_policy AS owner_policy, \
                 s.id AS secret_id, s.legacy, s.verifier, s.expires_at, s.expiry_logged_at, s.last_used_at AS secret_last_used_at, \
                 s.server_key \
                 FROM api_clients k \
                 LEFT JOIN memberships m ON m.customer_id = k.customer_id AND m.admin_id = k.owner_id \
                 LEFT JOIN admins a ON a.id = k.owner_id LEFT JOIN customers c ON c.id = k.customer_id \
                 LEFT JOIN client_secrets s ON s.client_id = k.id \
                 WHERE k.id = $1 AND NOT EXISTS (SELECT 1 FROM invitations p \
                 WHERE p.customer_id = k.customer_id AND p.admin_id = k.owner_id)"))
            .bind(id.to_string())
            .fetch_all(&store.pool)
            .await?;
            let Some(first) = rows.first() else { return Ok(None) };
            let client = GrantRow::from_row(first)?;
            let mut secrets = Vec::with_capacity(rows.len());
            for row in &rows {
                // A client without a secret comes back as one row of NULL secret columns.
                if row.try_get::<Option<String>, _>("secret_id")?.is_none() {
                    continue;
                }
                secrets.push(GrantSecret::try_from(GrantSecretRow::from_row(row)?)?);
            }
            client.into_grant(secrets).map(Some)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn clients_of(
            store: &$store,
            customer: &CustomerId,
            owner: AdminId,
        ) -> StoreResult<Vec<ApiClient>> {
            let mut tx = store.pool.begin().await?;
            let clients = clients_in_tx(&mut tx, customer, owner).await?;
            tx.rollback().await?;
            Ok(clients)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn delete_client(
            store: &$store,
            customer: &CustomerId,
            owner: AdminId,
            id: ClientId,
            actor: &Actor,
        ) -> StoreResult<bool> {
            let mut tx = store.write_tx().await?;
            let Some(row) = sqlx::query_as::<_, ClientRow>(concat!(
                "SELECT ",
                crate::sql::clients::client_columns!(),
                " FROM api_clients k WHERE k.id = $1 AND k.customer_id = $2 AND k.owner_id = $3"
            ))
            .bind(id.to_string())
            .bind(customer.as_str())
            .bind(owner.to_string())
            .fetch_optional(&mut *tx)
            .await?
            else {
                return Ok(false);
            };
            let client = ApiClient::try_from(row)?;
            sqlx::query("DELETE FROM api_clients WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await?;
            let now = OffsetDateTime::now_utc();
            insert_log(&mut tx, &event::client_deleted(&client, DeletionCause::ByOwner, now, actor)).await?;
            let changes = [Change::ClientDeleted(id)];
            insert_changes(&mut tx, &changes, now).await?;
            store.commit(tx, &changes).await?;
            Ok(true)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn touch_clients(
            store: &$store,
            uses: &[(ClientId, SecretId, OffsetDateTime)],
        ) -> StoreResult<()> {
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
                let mut tx = store.write_tx().await?;
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
                let mut secrets =
                    sqlx::QueryBuilder::<$db>::new("UPDATE client_secrets SET last_used_at = u.column3 FROM (");
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
                store.commit(tx, &[]).await?;
            }
            Ok(())
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn create_principal(
            store: &$store,
            principal: &ApiClient,
            secret: &NewSecret,
            actor: &Actor,
        ) -> StoreResult<()> {
            let ClientKind::ServicePrincipal { access } = &principal.kind else {
                return Err(StoreError::Internal("a secure client is created with its owner".to_owned()));
            };
            let customer = &principal.customer_id;
            let mut tx = store.write_tx().await?;
            <$store>::share_catalog(&mut tx).await?;
            <$store>::lock_customer(&mut tx, customer).await?;
            ensure_customer(&mut tx, customer).await?;
            let (held,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM api_clients WHERE customer_id = $1 AND owner_id IS NULL")
                    .bind(customer.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
            let authority = authority(&mut tx, customer, actor).await?;
            lifecycle::add_principal(&authority, &access, u64::try_from(held).unwrap_or(0), PRINCIPALS_PER_CUSTOMER_MAX)?;
            ensure_declared(&mut tx, access).await?;
            let (access_type, permissions) = crate::sql::admins::access_columns(&access);
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
            store.commit(tx, &changes).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn principals(
            store: &$store,
            customer: &CustomerId,
            after: Option<ClientId>,
            limit: u32,
            actor: &Actor,
        ) -> StoreResult<Vec<ApiClient>> {
            let mut tx = store.pool.begin().await?;
            lifecycle::manage_principals(&authority(&mut tx, customer, actor).await?)?;
            let principals = sqlx::query_as::<_, ClientRow>(concat!(
                "SELECT ",
                crate::sql::clients::client_columns!(),
                " FROM api_clients k WHERE k.customer_id = $1 AND k.owner_id IS NULL AND k.id > $2 \
                 ORDER BY k.id LIMIT $3"
            ))
            .bind(customer.as_str())
            .bind(after.map(|id| id.to_string()).unwrap_or_default())
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?
            .parsed();
            tx.rollback().await?;
            principals
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn principal(
            store: &$store,
            customer: &CustomerId,
            id: ClientId,
            actor: &Actor,
        ) -> StoreResult<Option<ApiClient>> {
            let mut tx = store.pool.begin().await?;
            lifecycle::manage_principals(&authority(&mut tx, customer, actor).await?)?;
            let principal = principal_in_tx(&mut tx, customer, id).await?;
            tx.rollback().await?;
            Ok(principal)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn set_principal_access(
            store: &$store,
            customer: &CustomerId,
            id: ClientId,
            access: Access,
            actor: &Actor,
        ) -> StoreResult<Access> {
            let mut tx = store.write_tx().await?;
            <$store>::share_catalog(&mut tx).await?;
            <$store>::lock_customer(&mut tx, customer).await?;
            let authority = authority(&mut tx, customer, actor).await?;
            lifecycle::manage_principals(&authority)?;
            let principal =
                principal_in_tx(&mut tx, customer, id).await?.ok_or(StoreError::NotFound("service principal"))?;
            let ClientKind::ServicePrincipal { access: before } = principal.kind.clone() else {
                return Err(StoreError::NotFound("service principal"));
            };
            lifecycle::set_principal_access(&authority, &access)?;
            ensure_declared(&mut tx, &access).await?;
            update_principal_access(&mut tx, id, &access).await?;
            let now = OffsetDateTime::now_utc();
            insert_log(&mut tx, &event::principal_access_changed(&principal, &before, &access, now, actor)).await?;
            let changes = [Change::ClientChanged(id)];
            insert_changes(&mut tx, &changes, now).await?;
            store.commit(tx, &changes).await?;
            Ok(before)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn delete_principal(
            store: &$store,
            customer: &CustomerId,
            id: ClientId,
            actor: &Actor,
        ) -> StoreResult<bool> {
            let mut tx = store.write_tx().await?;
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
            store.commit(tx, &changes).await?;
            Ok(true)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn client_secrets(
            store: &$store,
            customer: &CustomerId,
            client: ClientId,
            actor: &Actor,
        ) -> StoreResult<Vec<SecretInfo>> {
            let mut tx = store.pool.begin().await?;
            managed_client(&mut tx, customer, client, actor).await?;
            let secrets = secrets_of(&mut tx, client).await?;
            tx.rollback().await?;
            Ok(secrets)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn add_client_secret(
            store: &$store,
            customer: &CustomerId,
            client: ClientId,
            secret: &NewSecret,
            actor: &Actor,
        ) -> StoreResult<SecretInfo> {
            let mut tx = store.write_tx().await?;
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
            let entry =
                event::client_secret(&found, &secret.id, secret.expires_at, SecretEvent::Added, secret.created_at, actor);
            insert_log(&mut tx, &entry).await?;
            let changes = [Change::SecretsChanged(client)];
            insert_changes(&mut tx, &changes, secret.created_at).await?;
            store.commit(tx, &changes).await?;
            Ok(info)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn delete_client_secret(
            store: &$store,
            customer: &CustomerId,
            client: ClientId,
            secret: SecretId,
            actor: &Actor,
        ) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
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
            insert_log(&mut tx, &event::client_secret(&found, &secret, gone.expires_at, SecretEvent::Deleted, now, actor))
                .await?;
            let changes = [Change::SecretsChanged(client)];
            insert_changes(&mut tx, &changes, now).await?;
            store.commit(tx, &changes).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn expiring_secrets(
            store: &$store,
            now: OffsetDateTime,
            by: OffsetDateTime,
            limit: u32,
        ) -> StoreResult<Vec<ExpiringSecret>> {
            let query = concat!(
                crate::sql::clients::expiring_select!(),
                "WHERE s.expires_at > $1 AND s.expires_at <= $2 AND s.warned_at IS NULL ORDER BY s.expires_at LIMIT $3"
            );
            secrets_with_clients(store, query, &[ms(now), ms(by), i64::from(limit)]).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn expired_secrets(
            store: &$store,
            now: OffsetDateTime,
            limit: u32,
        ) -> StoreResult<Vec<ExpiringSecret>> {
            let query = concat!(
                crate::sql::clients::expiring_select!(),
                "WHERE s.expires_at <= $1 AND s.expiry_logged_at IS NULL ORDER BY s.expires_at LIMIT $2"
            );
            secrets_with_clients(store, query, &[ms(now), i64::from(limit)]).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn warn_secret_expiry(
            store: &$store,
            client: ClientId,
            secret: SecretId,
            notifications: &[Notification],
            at: OffsetDateTime,
        ) -> StoreResult<bool> {
            let mut tx = store.write_tx().await?;
            // The claim and what it announces commit together: a node that loses the race, or
            // fails half-way, leaves nothing behind.
            let claim = "UPDATE client_secrets SET warned_at = $1 WHERE client_id = $2 AND id = $3 AND warned_at IS NULL";
            let Some((found, expires_at)) = claim_expiry(&mut tx, claim, client, secret, at).await? else {
                tx.rollback().await?;
                return Ok(false);
            };
            for n in notifications {
                insert_notification(&mut tx, n).await?;
            }
            let entry = event::client_secret(&found, &secret, expires_at, SecretEvent::Expiring, at, &Actor::System);
            insert_log(&mut tx, &entry).await?;
            let changes = if notifications.is_empty() {
                Vec::new()
            } else {
                vec![Change::NotificationsPosted(found.customer_id.clone())]
            };
            insert_changes(&mut tx, &changes, at).await?;
            store.commit(tx, &changes).await?;
            Ok(true)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn convert_to_principal(
            store: &$store,
            customer: &CustomerId,
            id: ClientId,
            actor: &Actor,
        ) -> StoreResult<ApiClient> {
            let mut tx = store.write_tx().await?;
            <$store>::share_catalog(&mut tx).await?;
            <$store>::lock_customer(&mut tx, customer).await?;
            let not_found = || StoreError::NotFound("API client");
            let client: ApiClient = sqlx::query_as::<_, ClientRow>(concat!(
                "SELECT ",
                crate::sql::clients::client_columns!(),
                " FROM api_clients k WHERE k.id = $1 AND k.customer_id = $2 AND k.owner_id IS NOT NULL"
            ))
            .bind(id.to_string())
            .bind(customer.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .parsed()?
            .ok_or_else(not_found)?;
            let ClientKind::SecureClient { owner } = client.kind else {
                return Err(not_found());
            };
            let by_owner = matches!(actor, Actor::Admin { id, .. } if *id == owner);
            let authority = authority(&mut tx, customer, actor).await?;
            // R3 still holds until the conversion: to anyone but its owner and a Full
            // administrator, the client does not exist; its Custom owner sees it and is told why not.
            lifecycle::convert(&authority).map_err(|refusal| if by_owner { refusal.into() } else { not_found() })?;
            let access = load_member(&mut tx, customer, owner).await?.ok_or_else(not_found)?.held();
            ensure_declared(&mut tx, &access).await?;
            let (access_type, permissions) = crate::sql::admins::access_columns(&access);
            sqlx::query("UPDATE api_clients SET owner_id = NULL, access_type = $1, permissions = $2 WHERE id = $3")
                .bind(access_type)
                .bind(permissions)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            let principal = ApiClient { kind: ClientKind::ServicePrincipal { access }, ..client.clone() };
            let now = OffsetDateTime::now_utc();
            let expiries = sqlx::query_as::<_, (String, Option<i64>)>(
                "SELECT id, expires_at FROM client_secrets WHERE client_id = $1",
            )
            .bind(id.to_string())
            .fetch_all(&mut *tx)
            .await?;
            for (secret, expires_at) in expiries {
                let at = lifecycle::converted_secret_expiry(expires_at.map(crate::sql::from_ms), now);
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
            store.commit(tx, &changes).await?;
            Ok(principal)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn log_secret_expired(
            store: &$store,
            client: ClientId,
            secret: SecretId,
            at: OffsetDateTime,
        ) -> StoreResult<bool> {
            let mut tx = store.write_tx().await?;
            let claim = "UPDATE client_secrets SET expiry_logged_at = $1 \
                 WHERE client_id = $2 AND id = $3 AND expiry_logged_at IS NULL AND expires_at <= $1";
            let Some((found, expires_at)) = claim_expiry(&mut tx, claim, client, secret, at).await? else {
                tx.rollback().await?;
                return Ok(false);
            };
            let entry = event::client_secret(&found, &secret, expires_at, SecretEvent::Expired, at, &Actor::System);
            insert_log(&mut tx, &entry).await?;
            store.commit(tx, &[]).await?;
            Ok(true)
        }
    };
}
pub(crate) use queries;
