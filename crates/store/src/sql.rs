//! The SQL both backends share. Queries use `$n` placeholders in order of first use, which SQLite
//! and PostgreSQL both understand, and only column types both have; the [`store_impl!`] macro
//! instantiates the one implementation per backend, so no query branches on the backend.

use time::OffsetDateTime;
use trustgate_core::access::{Access, PermissionSet};
use trustgate_core::admin::{Admin, AdminStatus, Email, Provider};
use trustgate_core::client::ApiClient;
use trustgate_core::customer::{Customer, DisabledOwnerPolicy};
use trustgate_core::ids::{AdminId, ClientId, CustomerId};
use trustgate_core::rights::Standing;
use trustgate_core::secret::SecretVerifier;

use crate::error::{StoreError, StoreResult};
use crate::model::{ClientGrant, LogRecord, Member, Notification};

pub(crate) fn ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub(crate) fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Internal(format!("a stored {what} is invalid"))
}

pub(crate) type CustomerRow = (String, String, String, i64);
pub(crate) fn customer((id, name, policy, created_at): CustomerRow) -> StoreResult<Customer> {
    Ok(Customer {
        id: CustomerId::parse(&id)?,
        name,
        disabled_owner_policy: DisabledOwnerPolicy::parse(&policy)?,
        created_at: from_ms(created_at),
    })
}

pub(crate) type AdminRow = (String, String, String, String, Option<String>, String, i64);

pub(crate) fn admin(
    (id, email, display_name, provider, external_id, status, created_at): AdminRow,
) -> StoreResult<Admin> {
    Ok(Admin {
        id: AdminId::parse(&id)?,
        email: Email::parse(&email)?,
        display_name,
        provider: Provider::parse(&provider)?,
        external_id,
        status: AdminStatus::parse(&status).ok_or_else(|| corrupt("admin status"))?,
        created_at: from_ms(created_at),
    })
}

pub(crate) fn access(access_type: &str, permissions: &str) -> StoreResult<Access> {
    Ok(Access::from_parts(access_type, PermissionSet::parse_list(permissions)?)?)
}

pub(crate) fn access_columns(access: Access) -> (&'static str, String) {
    let permissions = match access {
        Access::Full => String::new(),
        Access::Custom(set) => set.to_list(),
    };
    (access.access_type(), permissions)
}

pub(crate) type MemberRow = (String, String, String, String, Option<String>, String, i64, String, String, i64, i64);

pub(crate) fn member(row: MemberRow) -> StoreResult<Member> {
    let (id, email, display_name, provider, external_id, status, created, access_type, permissions, since, updated) =
        row;
    Ok(Member {
        admin: admin((id, email, display_name, provider, external_id, status, created))?,
        access: access(&access_type, &permissions)?,
        created_at: from_ms(since),
        updated_at: from_ms(updated),
    })
}

pub(crate) type ClientRow = (String, String, String, String, i64, Option<i64>);

pub(crate) fn client((id, customer_id, owner_id, name, created_at, last_used_at): ClientRow) -> StoreResult<ApiClient> {
    Ok(ApiClient {
        id: ClientId::parse(&id)?,
        customer_id: CustomerId::parse(&customer_id)?,
        owner_id: AdminId::parse(&owner_id)?,
        name,
        created_at: from_ms(created_at),
        last_used_at: last_used_at.map(from_ms),
    })
}

pub(crate) type GrantRow =
    (String, String, String, String, i64, Option<i64>, Vec<u8>, String, String, String, String, String);

pub(crate) fn grant(row: GrantRow) -> StoreResult<ClientGrant> {
    let (
        id,
        customer_id,
        owner_id,
        name,
        created_at,
        last_used_at,
        verifier,
        owner_email,
        access_type,
        permissions,
        status,
        policy,
    ) = row;
    Ok(ClientGrant {
        client: client((id, customer_id, owner_id, name, created_at, last_used_at))?,
        verifier: SecretVerifier::from_stored(&verifier).ok_or_else(|| corrupt("secret verifier"))?,
        owner_email,
        standing: Standing {
            access: access(&access_type, &permissions)?,
            status: AdminStatus::parse(&status).ok_or_else(|| corrupt("admin status"))?,
            policy: DisabledOwnerPolicy::parse(&policy)?,
        },
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
        use trustgate_core::client::ApiClient;
        use trustgate_core::custody::KeyAtRest;
        use trustgate_core::customer::{Customer, DisabledOwnerPolicy};
        use trustgate_core::event::{self, Actor, DeletionCause, LogEntry};
        use trustgate_core::ids::{AdminId, ClientId, CustomerId};
        use trustgate_core::lifecycle::{self, Authority, Identity};
        use trustgate_core::rights::{PrincipalKind, Standing};
        use trustgate_core::secret::SecretVerifier;
        use trustgate_core::token::{UnknownAlgorithm, TOKEN_LIFETIME_SECS};

        use crate::changes::{Change, ChangeListener};
        use crate::error::{StoreError, StoreResult};
        use crate::model::{ClientGrant, LogQuery, LogRecord, LogView, Member, Membership, Notification, PoolUse, Session};
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

        async fn load_member(tx: &mut Tx, customer: &CustomerId, admin: AdminId) -> StoreResult<Option<Member>> {
            sqlx::query_as::<_, sql::MemberRow>(
                "SELECT a.id, m.email, m.display_name, a.provider, a.external_id, a.status, a.created_at, \
                 m.access_type, m.permissions, m.created_at, m.updated_at \
                 FROM memberships m JOIN admins a ON a.id = m.admin_id WHERE m.customer_id = $1 AND m.admin_id = $2",
            )
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
                sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE customer_id = $1 AND access_type = 'Full'")
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
        /// administrator's own membership, or an API client's owner's (R4).
        async fn authority(tx: &mut Tx, customer: &CustomerId, actor: &Actor) -> StoreResult<Authority> {
            let (kind, row) = match actor {
                Actor::System => return Ok(Authority::Operator),
                Actor::Admin { id, .. } => (
                    PrincipalKind::Admin,
                    sqlx::query_as(
                        "SELECT m.access_type, m.permissions, a.status, c.disabled_owner_policy \
                         FROM memberships m JOIN admins a ON a.id = m.admin_id JOIN customers c ON c.id = m.customer_id \
                         WHERE m.customer_id = $1 AND m.admin_id = $2",
                    )
                        .bind(customer.as_str())
                        .bind(id.to_string())
                        .fetch_optional(&mut **tx)
                        .await?,
                ),
                Actor::ApiClient { id, .. } => (
                    PrincipalKind::ApiClient,
                    sqlx::query_as(
                        "SELECT m.access_type, m.permissions, a.status, c.disabled_owner_policy \
                         FROM memberships m JOIN admins a ON a.id = m.admin_id JOIN customers c ON c.id = m.customer_id \
                         JOIN api_clients k ON k.customer_id = m.customer_id AND k.owner_id = m.admin_id \
                         WHERE m.customer_id = $1 AND k.id = $2",
                    )
                    .bind(customer.as_str())
                    .bind(id.to_string())
                    .fetch_optional(&mut **tx)
                    .await?,
                ),
            };
            Ok(Authority::of(kind, row.map(standing_row).transpose()?)?)
        }

        async fn clients_in_tx(tx: &mut Tx, customer: &CustomerId, owner: AdminId) -> StoreResult<Vec<ApiClient>> {
            sqlx::query_as::<_, sql::ClientRow>(
                "SELECT id, customer_id, owner_id, name, created_at, last_used_at FROM api_clients \
                 WHERE customer_id = $1 AND owner_id = $2 ORDER BY created_at, id",
            )
            .bind(customer.as_str())
            .bind(owner.to_string())
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .map(sql::client)
            .collect()
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

        async fn insert_admin(tx: &mut Tx, admin: &Admin, password_hash: Option<&str>) -> StoreResult<()> {
            let inserted = sqlx::query(
                "INSERT INTO admins (id, email, display_name, provider, external_id, status, password_hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            )
            .bind(admin.id.to_string())
            .bind(admin.email.as_str())
            .bind(&admin.display_name)
            .bind(admin.provider.wire_name())
            .bind(admin.external_id.as_deref())
            .bind(admin.status.as_str())
            .bind(password_hash)
            .bind(ms(admin.created_at))
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
            actor: &Actor,
        ) -> StoreResult<Vec<Change>> {
            let exists: Option<(String,)> =
                sqlx::query_as("SELECT id FROM customers WHERE id = $1").bind(customer.as_str()).fetch_optional(&mut **tx).await?;
            if exists.is_none() {
                return Err(StoreError::NotFound("customer"));
            }
            let now = OffsetDateTime::now_utc();
            let (access_type, permissions) = sql::access_columns(access);
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
            insert_log(tx, &event::admin_added(customer, admin, access, now, actor)).await?;
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
                    "SELECT id, email, display_name, provider, external_id, status, created_at FROM admins WHERE id = $1",
                )
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?
                .map(sql::admin)
                .transpose()
            }

            async fn admin_by_email(&self, email: &Email) -> StoreResult<Option<Admin>> {
                sqlx::query_as::<_, sql::AdminRow>(
                    "SELECT id, email, display_name, provider, external_id, status, created_at FROM admins \
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
                    "SELECT id, email, display_name, provider, external_id, status, created_at FROM admins \
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
                let provider: Option<(String,)> = sqlx::query_as("SELECT provider FROM admins WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(&mut *tx)
                    .await?;
                let (provider,) = provider.ok_or(StoreError::NotFound("administrator"))?;
                lifecycle::change_status(trustgate_core::admin::Provider::parse(&provider)?)?;
                let updated = sqlx::query("UPDATE admins SET status = $1 WHERE id = $2")
                    .bind(status.as_str())
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if updated == 0 {
                    return Err(StoreError::NotFound("administrator"));
                }
                if status == AdminStatus::Disabled {
                    end_sessions(&mut tx, id).await?;
                }
                let now = OffsetDateTime::now_utc();
                for customer in admin_customers(&mut tx, id).await? {
                    let Some(member) = load_member(&mut tx, &customer, id).await? else { continue };
                    let clients = clients_in_tx(&mut tx, &customer, id).await?.len();
                    insert_log(&mut tx, &event::admin_status_changed(&customer, &member.admin, status, clients, now, actor))
                        .await?;
                }
                let changes = [Change::AdminChanged(id)];
                insert_changes(&mut tx, &changes, now).await?;
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
                    lifecycle::delete(member.access, full_admins(&mut tx, customer).await?)?;
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
                <$store>::lock_customer(&mut tx, customer).await?;
                lifecycle::add(authority(&mut tx, customer, actor).await?, access)?;
                let admin = sqlx::query_as::<_, sql::AdminRow>(
                    "SELECT id, email, display_name, provider, external_id, status, created_at FROM admins WHERE id = $1",
                )
                .bind(admin.to_string())
                .fetch_optional(&mut *tx)
                .await?
                .map(sql::admin)
                .transpose()?
                .ok_or(StoreError::NotFound("administrator"))?;
                let changes = join(&mut tx, customer, &admin, access, actor).await?;
                self.commit(tx, &changes).await
            }

            async fn add_admin(
                &self,
                customer: &CustomerId,
                candidate: &Admin,
                password_hash: Option<&str>,
                access: Access,
                actor: &Actor,
            ) -> StoreResult<(Member, bool)> {
                let mut tx = self.write_tx().await?;
                <$store>::lock_customer(&mut tx, customer).await?;
                lifecycle::add(authority(&mut tx, customer, actor).await?, access)?;
                let identity = Identity::of(candidate.provider, &candidate.email, candidate.external_id.as_deref());
                let known = match &identity {
                    Identity::Local(email) => {
                        sqlx::query_as::<_, sql::AdminRow>(
                            "SELECT id, email, display_name, provider, external_id, status, created_at FROM admins \
                             WHERE email = $1 AND provider = $2",
                        )
                        .bind(email.as_str())
                        .bind(trustgate_core::admin::Provider::Local.wire_name())
                        .fetch_optional(&mut *tx)
                        .await?
                    }
                    Identity::Federated { provider, subject } => {
                        sqlx::query_as::<_, sql::AdminRow>(
                            "SELECT id, email, display_name, provider, external_id, status, created_at FROM admins \
                             WHERE provider = $1 AND external_id = $2",
                        )
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
                let changes = join(&mut tx, customer, &admin, access, actor).await?;
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
                sqlx::query_as::<_, sql::MemberRow>(
                    "SELECT a.id, m.email, m.display_name, a.provider, a.external_id, a.status, a.created_at, \
                     m.access_type, m.permissions, m.created_at, m.updated_at \
                     FROM memberships m JOIN admins a ON a.id = m.admin_id \
                     WHERE m.customer_id = $1 AND a.id > $2 ORDER BY a.id LIMIT $3",
                )
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
                    "SELECT c.id, c.name, c.disabled_owner_policy, c.created_at, m.access_type, m.permissions \
                     FROM memberships m JOIN customers c ON c.id = m.customer_id WHERE m.admin_id = $1 ORDER BY c.name, c.id",
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
                let row: Option<(String, String, String, String)> = sqlx::query_as(
                    "SELECT m.access_type, m.permissions, a.status, c.disabled_owner_policy \
                     FROM memberships m JOIN admins a ON a.id = m.admin_id JOIN customers c ON c.id = m.customer_id \
                     WHERE m.customer_id = $1 AND m.admin_id = $2",
                )
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
                <$store>::lock_customer(&mut tx, customer).await?;
                let authority = authority(&mut tx, customer, actor).await?;
                let member = load_member(&mut tx, customer, admin).await?.ok_or(StoreError::NotFound("administrator"))?;
                lifecycle::change_access(authority, member.access, access, full_admins(&mut tx, customer).await?)?;
                let now = OffsetDateTime::now_utc();
                let (access_type, permissions) = sql::access_columns(access);
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
                insert_log(&mut tx, &event::access_changed(customer, &member.admin, member.access, access, now, actor)).await?;
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
                lifecycle::remove(authority, member.access, full_admins(&mut tx, customer).await?)?;
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

            async fn create_client(
                &self,
                client: &ApiClient,
                verifier: &SecretVerifier,
                cap: u64,
                actor: &Actor,
            ) -> StoreResult<()> {
                let mut tx = self.write_tx().await?;
                <$store>::lock_customer(&mut tx, &client.customer_id).await?;
                let owner = load_member(&mut tx, &client.customer_id, client.owner_id)
                    .await?
                    .ok_or(StoreError::NotFound("membership"))?;
                let (owned,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM api_clients WHERE customer_id = $1 AND owner_id = $2")
                        .bind(client.customer_id.as_str())
                        .bind(client.owner_id.to_string())
                        .fetch_one(&mut *tx)
                        .await?;
                let authority = authority(&mut tx, &client.customer_id, actor).await?;
                lifecycle::add_client(authority, u64::try_from(owned).unwrap_or(0), cap)?;
                sqlx::query(
                    "INSERT INTO api_clients (id, customer_id, owner_id, name, verifier, created_at, last_used_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, NULL)",
                )
                .bind(client.id.to_string())
                .bind(client.customer_id.as_str())
                .bind(client.owner_id.to_string())
                .bind(&client.name)
                .bind(verifier.as_bytes().to_vec())
                .bind(ms(client.created_at))
                .execute(&mut *tx)
                .await?;
                insert_log(&mut tx, &event::client_created(client, &owner.admin, actor)).await?;
                self.commit(tx, &[]).await
            }

            // Bulk seeding (issue #13).
            async fn seed_clients(&self, clients: &[(ApiClient, SecretVerifier)]) -> StoreResult<()> {
                // 7 parameters a row: 7,000 a statement, under SQLite's 32,766 and PostgreSQL's 65,535.
                const ROWS_PER_STATEMENT: usize = 1_000;
                let mut tx = self.write_tx().await?;
                for chunk in clients.chunks(ROWS_PER_STATEMENT) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO api_clients (id, customer_id, owner_id, name, verifier, created_at, last_used_at) ",
                    );
                    insert.push_values(chunk, |mut row, (client, verifier)| {
                        row.push_bind(client.id.to_string())
                            .push_bind(client.customer_id.as_str().to_owned())
                            .push_bind(client.owner_id.to_string())
                            .push_bind(client.name.clone())
                            .push_bind(verifier.as_bytes().to_vec())
                            .push_bind(ms(client.created_at))
                            .push_bind(None::<i64>);
                    });
                    insert.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn client_grant(&self, id: ClientId) -> StoreResult<Option<ClientGrant>> {
                sqlx::query_as::<_, sql::GrantRow>(
                    "SELECT k.id, k.customer_id, k.owner_id, k.name, k.created_at, k.last_used_at, k.verifier, \
                     m.email, m.access_type, m.permissions, a.status, c.disabled_owner_policy \
                     FROM api_clients k \
                     JOIN memberships m ON m.customer_id = k.customer_id AND m.admin_id = k.owner_id \
                     JOIN admins a ON a.id = k.owner_id JOIN customers c ON c.id = k.customer_id \
                     WHERE k.id = $1",
                )
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?
                .map(sql::grant)
                .transpose()
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
                let Some(row) = sqlx::query_as::<_, sql::ClientRow>(
                    "SELECT id, customer_id, owner_id, name, created_at, last_used_at FROM api_clients \
                     WHERE id = $1 AND customer_id = $2 AND owner_id = $3",
                )
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

            async fn touch_clients(&self, uses: &[(ClientId, OffsetDateTime)]) -> StoreResult<()> {
                let mut tx = self.write_tx().await?;
                for (id, at) in uses {
                    sqlx::query("UPDATE api_clients SET last_used_at = $1 WHERE id = $2")
                        .bind(ms(*at))
                        .bind(id.to_string())
                        .execute(&mut *tx)
                        .await?;
                }
                self.commit(tx, &[]).await
            }

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
                // The key itself is unchanged: no node has anything to reload.
                self.commit(tx, &[]).await?;
                if updated > 0 {
                    self.scrub().await?;
                }
                Ok(updated > 0)
            }

            async fn revoke_token(&self, jti: &str, expires_at: OffsetDateTime, now: OffsetDateTime) -> StoreResult<()> {
                let mut tx = self.write_tx().await?;
                sqlx::query("DELETE FROM revoked_tokens WHERE expires_at <= $1").bind(ms(now)).execute(&mut *tx).await?;
                // Revoking twice is no error (RFC 7009 §2.2): the first expiry stands, and only
                // the first revocation is announced.
                let inserted = sqlx::query("INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
                    .bind(jti)
                    .bind(ms(expires_at))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                let changes = if inserted == 0 { Vec::new() } else { vec![Change::TokenRevoked(jti.to_owned())] };
                insert_changes(&mut tx, &changes, now).await?;
                self.commit(tx, &changes).await
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
                    "INSERT INTO sessions (id_digest, admin_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(digest.to_vec())
                .bind(session.admin_id.to_string())
                .bind(&session.csrf_token)
                .bind(ms(at))
                .bind(ms(session.expires_at))
                .execute(&mut *tx)
                .await?;
                self.commit(tx, &[]).await
            }

            async fn session(&self, digest: &[u8], now: OffsetDateTime) -> StoreResult<Option<Session>> {
                let row: Option<(String, String, i64)> = sqlx::query_as(
                    "SELECT admin_id, csrf_token, expires_at FROM sessions WHERE id_digest = $1 AND expires_at > $2",
                )
                .bind(digest.to_vec())
                .bind(ms(now))
                .fetch_optional(&self.pool)
                .await?;
                row.map(|(admin, csrf_token, expires_at)| {
                    Ok(Session { admin_id: AdminId::parse(&admin)?, csrf_token, expires_at: sql::from_ms(expires_at) })
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
        }
    };
}

pub(crate) use store_impl;
