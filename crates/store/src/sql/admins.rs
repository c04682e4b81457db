//! Administrators, their memberships of customers (pending ones are invitations, in
//! `invitations.rs`), and the authority an actor holds in a customer, read in the transaction
//! about to act on it.

use trustgate_core::access::{Access, PermissionSet};
use trustgate_core::admin::{Admin, AdminStatus, Email, Provider};
use trustgate_core::customer::{Customer, DisabledOwnerPolicy};
use trustgate_core::ids::AdminId;
use trustgate_core::rights::Standing;

use crate::error::{StoreError, StoreResult};
use crate::model::{DisabledOwner, Member, Membership, Pending};
use crate::sql::customers::CustomerRow;
use crate::sql::{corrupt, from_ms};

/// An `admins` row; in a membership's row, the e-mail and display name are the customer's own
/// profile of the administrator.
#[derive(sqlx::FromRow)]
pub(crate) struct AdminRow {
    id: String,
    email: String,
    display_name: String,
    provider: String,
    external_id: Option<String>,
    provider_id: Option<String>,
    status: String,
    created_at: i64,
}

impl TryFrom<AdminRow> for Admin {
    type Error = StoreError;

    fn try_from(row: AdminRow) -> StoreResult<Admin> {
        Ok(Admin {
            id: AdminId::parse(&row.id)?,
            email: Email::parse(&row.email)?,
            display_name: row.display_name,
            provider: Provider::parse(&row.provider)?,
            external_id: row.external_id,
            provider_id: row.provider_id,
            status: AdminStatus::parse(&row.status).ok_or_else(|| corrupt("admin status"))?,
            created_at: from_ms(row.created_at),
        })
    }
}

/// What an administrator holds in a customer: the membership's access and what their groups give
/// them, their status and the customer's policy for disabled owners.
#[derive(sqlx::FromRow)]
pub(crate) struct StandingRow {
    access_type: String,
    permissions: String,
    group_access_type: String,
    group_permissions: String,
    status: String,
    disabled_owner_policy: String,
}

impl TryFrom<StandingRow> for Standing {
    type Error = StoreError;

    fn try_from(row: StandingRow) -> StoreResult<Standing> {
        Ok(Standing {
            access: held(&row.access_type, &row.permissions, &row.group_access_type, &row.group_permissions)?,
            status: AdminStatus::parse(&row.status).ok_or_else(|| corrupt("admin status"))?,
            policy: DisabledOwnerPolicy::parse(&row.disabled_owner_policy)?,
        })
    }
}

/// The [`StandingRow`] of administrator `$2` in customer `$1`, if an accepted member.
macro_rules! standing_select {
    () => {
        concat!(
            "SELECT m.access_type, m.permissions, m.group_access_type, m.group_permissions, a.status, \
             c.disabled_owner_policy \
             FROM memberships m JOIN admins a ON a.id = m.admin_id JOIN customers c ON c.id = m.customer_id \
             WHERE m.customer_id = $1 AND m.admin_id = $2 AND ",
            crate::sql::admins::accepted!()
        )
    };
}
pub(crate) use standing_select;

/// A customer and the access an administrator holds there.
#[derive(sqlx::FromRow)]
pub(crate) struct MembershipRow {
    #[sqlx(flatten)]
    customer: CustomerRow,
    access_type: String,
    permissions: String,
    group_access_type: String,
    group_permissions: String,
}

impl TryFrom<MembershipRow> for Membership {
    type Error = StoreError;

    fn try_from(row: MembershipRow) -> StoreResult<Membership> {
        Ok(Membership {
            customer: Customer::try_from(row.customer)?,
            access: held(&row.access_type, &row.permissions, &row.group_access_type, &row.group_permissions)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DisabledOwnerRow {
    #[sqlx(flatten)]
    admin: AdminRow,
    active_clients: i64,
}

impl TryFrom<DisabledOwnerRow> for DisabledOwner {
    type Error = StoreError;

    fn try_from(row: DisabledOwnerRow) -> StoreResult<DisabledOwner> {
        Ok(DisabledOwner {
            admin: Admin::try_from(row.admin)?,
            active_clients: u64::try_from(row.active_clients).unwrap_or(0),
        })
    }
}

pub(crate) fn access(access_type: &str, permissions: &str) -> StoreResult<Access> {
    Ok(Access::from_parts(access_type, PermissionSet::parse_list(permissions)?)?)
}

/// What a member holds in all: their own access joined with their groups' (`access::joined`).
pub(crate) fn held(
    access_type: &str,
    permissions: &str,
    group_access_type: &str,
    group_permissions: &str,
) -> StoreResult<Access> {
    let own = access(access_type, permissions)?;
    let groups = access(group_access_type, group_permissions)?;
    Ok(trustgate_core::access::joined(&own, [&groups]))
}

pub(crate) fn access_columns(access: &Access) -> (&'static str, String) {
    let permissions = match access {
        Access::Full => String::new(),
        Access::Custom(set) => set.to_list(),
    };
    (access.access_type(), permissions)
}

#[derive(sqlx::FromRow)]
pub(crate) struct MemberRow {
    #[sqlx(flatten)]
    admin: AdminRow,
    access_type: String,
    permissions: String,
    group_access_type: String,
    group_permissions: String,
    member_since: i64,
    updated_at: i64,
    /// When the invitation of a pending member expires; `None` once accepted.
    invited_until: Option<i64>,
}

/// The columns of a [`MemberRow`], from `memberships m JOIN admins a` + [`pending_join!`]. These
/// are macros, not constants, so `concat!` builds each query as one static string.
macro_rules! member_columns {
    () => {
        "a.id, m.email, m.display_name, a.provider, a.external_id, a.provider_id, a.status, a.created_at, \
         m.access_type, m.permissions, m.group_access_type, m.group_permissions, m.created_at AS member_since, m.updated_at, i.expires_at AS invited_until"
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

impl TryFrom<MemberRow> for Member {
    type Error = StoreError;

    fn try_from(row: MemberRow) -> StoreResult<Member> {
        Ok(Member {
            admin: Admin::try_from(row.admin)?,
            access: access(&row.access_type, &row.permissions)?,
            group_access: access(&row.group_access_type, &row.group_permissions)?,
            created_at: from_ms(row.member_since),
            updated_at: from_ms(row.updated_at),
            pending: row.invited_until.map(|at| Pending { expires_at: from_ms(at) }),
        })
    }
}

/// This domain's SQL, instantiated once per backend by [`crate::sql::store_impl!`] in a module
/// of the same name inside the backend's module.
macro_rules! queries {
    ($store:ty, $db:ty) => {
        use time::OffsetDateTime;
        use trustgate_core::access::Access;
        use trustgate_core::admin::{Admin, AdminStatus, Email};
        use trustgate_core::client::ClientKind;
        use trustgate_core::customer::DisabledOwnerPolicy;
        use trustgate_core::event::{self, Actor, DeletionCause, InvitationEvent};
        use trustgate_core::ids::{AdminId, CustomerId};
        use trustgate_core::lifecycle::{self, Authority, Identity};
        use trustgate_core::rights::{PrincipalKind, Standing};

        use crate::changes::Change;
        use crate::error::{StoreError, StoreResult};
        use crate::model::{DisabledOwner, InvitationTerms, Member, Membership};
        use crate::sql::admins::{AdminRow, DisabledOwnerRow, MemberRow, MembershipRow, StandingRow};
        use crate::sql::{ms, Parsed};

        use super::catalog::ensure_declared;
        use super::clients::clients_in_tx;
        use super::clients::principal_in_tx;
        use super::customers::ensure_customer;
        use super::feed::insert_changes;
        use super::sessions::end_sessions;
        use super::system_log::insert_log;
        use super::Tx;

        pub(super) async fn load_member(tx: &mut Tx, customer: &CustomerId, admin: AdminId) -> StoreResult<Option<Member>> {
            sqlx::query_as::<_, MemberRow>(concat!(
                "SELECT ",
                crate::sql::admins::member_columns!(),
                " FROM memberships m JOIN admins a ON a.id = m.admin_id ",
                crate::sql::admins::pending_join!(),
                " \
                 WHERE m.customer_id = $1 AND m.admin_id = $2"
            ))
            .bind(customer.as_str())
            .bind(admin.to_string())
            .fetch_optional(&mut **tx)
            .await?
            .parsed()
        }

        pub(super) async fn update_member_access(
            tx: &mut Tx,
            customer: &CustomerId,
            admin: AdminId,
            access: &Access,
            now: OffsetDateTime,
        ) -> StoreResult<()> {
            let (access_type, permissions) = crate::sql::admins::access_columns(access);
            sqlx::query(
                "UPDATE memberships SET access_type = $1, permissions = $2, updated_at = $3 \
                 WHERE customer_id = $4 AND admin_id = $5",
            )
            .bind(access_type)
            .bind(permissions)
            .bind(ms(now))
            .bind(customer.as_str())
            .bind(admin.to_string())
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// How many administrators of `customer` hold Full access; read under the customer's lock.
        pub(super) async fn full_admins(tx: &mut Tx, customer: &CustomerId) -> StoreResult<u64> {
            let (full,): (i64,) = sqlx::query_as(concat!(
                "SELECT COUNT(*) FROM memberships m WHERE m.customer_id = $1 AND m.access_type = 'Full' AND ",
                crate::sql::admins::accepted!()
            ))
            .bind(customer.as_str())
            .fetch_one(&mut **tx)
            .await?;
            Ok(u64::try_from(full).unwrap_or(0))
        }

        /// What `actor` holds in `customer` now, read in the transaction about to act on it: an
        /// administrator's own membership, an API client's owner's (R4), or a service principal's
        /// own access (SP2).
        pub(super) async fn authority(tx: &mut Tx, customer: &CustomerId, actor: &Actor) -> StoreResult<Authority> {
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
                    sqlx::query_as::<_, StandingRow>(crate::sql::admins::standing_select!())
                        .bind(customer.as_str())
                        .bind(id.to_string())
                        .fetch_optional(&mut **tx)
                        .await?,
                ),
                Actor::ApiClient { id, .. } => (
                    PrincipalKind::ApiClient,
                    sqlx::query_as::<_, StandingRow>(concat!(
                        "SELECT m.access_type, m.permissions, m.group_access_type, m.group_permissions, a.status, \
                         c.disabled_owner_policy \
                         FROM memberships m JOIN admins a ON a.id = m.admin_id JOIN customers c ON c.id = m.customer_id \
                         JOIN api_clients k ON k.customer_id = m.customer_id AND k.owner_id = m.admin_id \
                         WHERE m.customer_id = $1 AND k.id = $2 AND ",
                        crate::sql::admins::accepted!()
                    ))
                    .bind(customer.as_str())
                    .bind(id.to_string())
                    .fetch_optional(&mut **tx)
                    .await?,
                ),
            };
            Ok(Authority::of(kind, row.parsed()?)?)
        }

        /// R6 in one place: ends a membership and deletes the member's clients there, logging each.
        pub(super) async fn end_membership(
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
            let removed = match cause {
                // `member` was read before the change: what they held is what their groups took.
                DeletionCause::OwnerLostLastAccess => {
                    event::admin_removed_without_access(customer, &member.admin, &member.held(), clients.len(), now, actor)
                }
                _ => event::admin_removed(customer, &member.admin, clients.len(), now, actor),
            };
            insert_log(tx, &removed).await?;
            changes.push(Change::MembershipChanged(customer.clone(), member.admin.id));
            Ok(clients.len())
        }

        pub(super) async fn insert_admin(tx: &mut Tx, admin: &Admin, password_hash: Option<&str>) -> StoreResult<()> {
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
        pub(super) async fn join(
            tx: &mut Tx,
            customer: &CustomerId,
            admin: &Admin,
            access: Access,
            invite: Option<&InvitationTerms>,
            actor: &Actor,
        ) -> StoreResult<Vec<Change>> {
            ensure_customer(tx, customer).await?;
            ensure_declared(tx, &access).await?;
            let now = OffsetDateTime::now_utc();
            let (access_type, permissions) = crate::sql::admins::access_columns(&access);
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
                return Err(StoreError::Conflict(format!(
                    "{} is already an administrator of customer {customer}",
                    admin.email
                )));
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

        pub(super) async fn admin_customers(tx: &mut Tx, admin: AdminId) -> StoreResult<Vec<CustomerId>> {
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
        pub(super) async fn withdraw(tx: &mut Tx, customer: &CustomerId, member: &Member, actor: &Actor) -> StoreResult<Vec<Change>> {
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
            insert_log(
                tx,
                &event::invitation(customer, &member.admin, &member.access, InvitationEvent::Cancelled, now, actor),
            )
            .await?;
            let changes = vec![Change::MembershipChanged(customer.clone(), member.admin.id)];
            insert_changes(tx, &changes, now).await?;
            Ok(changes)
        }

        /// R7 in one place: sets a federated administrator's status, ends their sessions when
        /// disabled, and logs it in each of their customers. Their clients are left as they are.
        pub(super) async fn apply_status(
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

        #[tracing::instrument(skip_all)]
        pub(super) async fn create_admin(store: &$store, admin: &Admin, password_hash: Option<&str>) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
            insert_admin(&mut tx, admin, password_hash).await?;
            store.commit(tx, &[]).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn admin(store: &$store, id: AdminId) -> StoreResult<Option<Admin>> {
            sqlx::query_as::<_, AdminRow>(
                "SELECT id, email, display_name, provider, external_id, provider_id, status, created_at FROM admins WHERE id = $1",
            )
            .bind(id.to_string())
            .fetch_optional(&store.pool)
            .await?
            .parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn admin_by_email(store: &$store, email: &Email) -> StoreResult<Option<Admin>> {
            sqlx::query_as::<_, AdminRow>(
                "SELECT id, email, display_name, provider, external_id, provider_id, status, created_at FROM admins \
                 WHERE email = $1 AND provider = $2",
            )
            .bind(email.as_str())
            .bind(trustgate_core::admin::Provider::Local.wire_name())
            .fetch_optional(&store.pool)
            .await?
            .parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn admins_with_email(store: &$store, email: &Email) -> StoreResult<Vec<Admin>> {
            sqlx::query_as::<_, AdminRow>(
                "SELECT id, email, display_name, provider, external_id, provider_id, status, created_at FROM admins \
                 WHERE email = $1 ORDER BY created_at, id",
            )
            .bind(email.as_str())
            .fetch_all(&store.pool)
            .await?
            .parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn password_hash(store: &$store, id: AdminId) -> StoreResult<Option<String>> {
            let row: Option<(Option<String>,)> = sqlx::query_as("SELECT password_hash FROM admins WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&store.pool)
                .await?;
            Ok(row.and_then(|(hash,)| hash))
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn set_password_hash(store: &$store, id: AdminId, hash: &str) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
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
            store.commit(tx, &[]).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn set_admin_status(
            store: &$store,
            id: AdminId,
            status: AdminStatus,
            actor: &Actor,
        ) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
            let now = OffsetDateTime::now_utc();
            let changes = apply_status(&mut tx, id, status, actor, now).await?;
            store.commit(tx, &changes).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn delete_admin(store: &$store, id: AdminId, actor: &Actor) -> StoreResult<usize> {
            let mut tx = store.write_tx().await?;
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
                deleted +=
                    end_membership(&mut tx, customer, &member, DeletionCause::OwnerDeleted, actor, now, &mut changes)
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
            store.commit(tx, &changes).await?;
            Ok(deleted)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn add_member(
            store: &$store,
            customer: &CustomerId,
            admin: AdminId,
            access: Access,
            actor: &Actor,
        ) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
            <$store>::share_catalog(&mut tx).await?;
            <$store>::lock_customer(&mut tx, customer).await?;
            lifecycle::add(&authority(&mut tx, customer, actor).await?, &access)?;
            let admin = sqlx::query_as::<_, AdminRow>(
                "SELECT id, email, display_name, provider, external_id, provider_id, status, created_at FROM admins WHERE id = $1",
            )
            .bind(admin.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .parsed()?
            .ok_or(StoreError::NotFound("administrator"))?;
            let changes = join(&mut tx, customer, &admin, access, None, actor).await?;
            store.commit(tx, &changes).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn add_admin(
            store: &$store,
            customer: &CustomerId,
            candidate: &Admin,
            password_hash: Option<&str>,
            access: Access,
            invite: Option<&InvitationTerms>,
            actor: &Actor,
        ) -> StoreResult<(Member, bool)> {
            let mut tx = store.write_tx().await?;
            <$store>::share_catalog(&mut tx).await?;
            <$store>::lock_customer(&mut tx, customer).await?;
            lifecycle::add(&authority(&mut tx, customer, actor).await?, &access)?;
            let identity = Identity::of(candidate.provider, &candidate.email, candidate.external_id.as_deref());
            let known = match &identity {
                Identity::Local(email) => {
                    sqlx::query_as::<_, AdminRow>(
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
                    sqlx::query_as::<_, AdminRow>(
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
                    let known = Admin::try_from(row)?;
                    let profile =
                        Admin { email: candidate.email.clone(), display_name: candidate.display_name.clone(), ..known };
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
            store.commit(tx, &changes).await?;
            Ok((member, created))
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn member(store: &$store, customer: &CustomerId, admin: AdminId) -> StoreResult<Option<Member>> {
            let mut tx = store.pool.begin().await?;
            let member = load_member(&mut tx, customer, admin).await?;
            tx.rollback().await?;
            Ok(member)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn members(
            store: &$store,
            customer: &CustomerId,
            after: Option<AdminId>,
            limit: u32,
        ) -> StoreResult<Vec<Member>> {
            sqlx::query_as::<_, MemberRow>(concat!(
                "SELECT ",
                crate::sql::admins::member_columns!(),
                " FROM memberships m JOIN admins a ON a.id = m.admin_id ",
                crate::sql::admins::pending_join!(),
                " \
                 WHERE m.customer_id = $1 AND a.id > $2 ORDER BY a.id LIMIT $3"
            ))
            .bind(customer.as_str())
            .bind(after.map(|a| a.to_string()).unwrap_or_default())
            .bind(i64::from(limit))
            .fetch_all(&store.pool)
            .await?
            .parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn memberships(store: &$store, admin: AdminId) -> StoreResult<Vec<Membership>> {
            sqlx::query_as::<_, MembershipRow>(concat!(
                "SELECT c.id, c.name, c.disabled_owner_policy, c.require_local_mfa, c.lost_access_policy, c.created_at, m.access_type, m.permissions, \
                 m.group_access_type, m.group_permissions \
                     FROM memberships m JOIN customers c ON c.id = m.customer_id WHERE m.admin_id = $1 AND ",
                crate::sql::admins::accepted!(),
                " \
                     ORDER BY c.name, c.id"
            ))
            .bind(admin.to_string())
            .fetch_all(&store.pool)
            .await?
            .parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn standing(
            store: &$store,
            customer: &CustomerId,
            admin: AdminId,
        ) -> StoreResult<Option<Standing>> {
            sqlx::query_as::<_, StandingRow>(crate::sql::admins::standing_select!())
                .bind(customer.as_str())
                .bind(admin.to_string())
                .fetch_optional(&store.pool)
                .await?
                .parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn set_access(
            store: &$store,
            customer: &CustomerId,
            admin: AdminId,
            access: Access,
            actor: &Actor,
        ) -> StoreResult<Access> {
            let mut tx = store.write_tx().await?;
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
            update_member_access(&mut tx, customer, admin, &access, now).await?;
            insert_log(&mut tx, &event::access_changed(customer, &member.admin, &member.access, &access, now, actor))
                .await?;
            let changes = [Change::MembershipChanged(customer.clone(), admin)];
            insert_changes(&mut tx, &changes, now).await?;
            store.commit(tx, &changes).await?;
            Ok(member.access)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn remove_member(
            store: &$store,
            customer: &CustomerId,
            admin: AdminId,
            actor: &Actor,
        ) -> StoreResult<usize> {
            let mut tx = store.write_tx().await?;
            <$store>::lock_customer(&mut tx, customer).await?;
            let authority = authority(&mut tx, customer, actor).await?;
            let member = load_member(&mut tx, customer, admin).await?.ok_or(StoreError::NotFound("administrator"))?;
            if member.pending.is_some() {
                lifecycle::withdraw_or_resend(&authority, &member.access)?;
                let changes = withdraw(&mut tx, customer, &member, actor).await?;
                store.commit(tx, &changes).await?;
                return Ok(0);
            }
            lifecycle::remove_holding(&authority, &member.access, &member.held(), full_admins(&mut tx, customer).await?)?;
            let now = OffsetDateTime::now_utc();
            let mut changes = Vec::new();
            let deleted = end_membership(
                &mut tx,
                customer,
                &member,
                DeletionCause::OwnerRemovedFromCustomer,
                actor,
                now,
                &mut changes,
            )
            .await?;
            // Sessions are not tied to one customer: they go with the last membership, and until
            // then lose this customer at once, since every request reads membership live.
            if admin_customers(&mut tx, admin).await?.is_empty() {
                end_sessions(&mut tx, admin).await?;
            }
            insert_changes(&mut tx, &changes, now).await?;
            store.commit(tx, &changes).await?;
            Ok(deleted)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn disabled_owners(store: &$store, customer: &CustomerId) -> StoreResult<Vec<DisabledOwner>> {
            sqlx::query_as::<_, DisabledOwnerRow>(
                "SELECT a.id, m.email, m.display_name, a.provider, a.external_id, a.provider_id, a.status, a.created_at, \
                 COUNT(k.id) AS active_clients \
                 FROM memberships m JOIN admins a ON a.id = m.admin_id JOIN customers c ON c.id = m.customer_id \
                 JOIN api_clients k ON k.customer_id = m.customer_id AND k.owner_id = m.admin_id \
                 WHERE m.customer_id = $1 AND a.status = $2 AND c.disabled_owner_policy = $3 \
                 GROUP BY a.id, m.email, m.display_name, a.provider, a.external_id, a.provider_id, a.status, a.created_at \
                 ORDER BY m.email",
            )
            .bind(customer.as_str())
            .bind(AdminStatus::Disabled.as_str())
            .bind(DisabledOwnerPolicy::KeepActive.as_str())
            .fetch_all(&store.pool)
            .await?
            .parsed()
        }
    };
}
pub(crate) use queries;
