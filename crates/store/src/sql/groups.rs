//! Groups of administrators (issue #25). A group's members are members of its customer; what the
//! groups give a member is kept on their membership (`group_access_type`, `group_permissions`),
//! rewritten by [`queries`]' `refresh_members` in the transaction of every group change, which also
//! applies what the change means to them (`group::member_outcome`): their clients follow (R5), or
//! are deleted when they lost their last access (R6), the member being removed from the customer
//! then unless it keeps such members (`LostAccessPolicy`), and every node is told
//! (`Change::MembershipChanged` for each member whose access changed).

use trustgate_core::group::AdminGroup;
use trustgate_core::ids::{AdminId, CustomerId, GroupId};

use crate::error::StoreResult;
use crate::sql::admins::access;
use crate::sql::from_ms;

/// The columns of a [`GroupRow`] of `admin_groups g`, as a literal for `concat!`.
macro_rules! group_select {
    () => {
        "SELECT g.id, g.customer_id, g.display_name, g.external_id, g.access_type, g.permissions, g.document, g.version, \
         g.created_at, g.updated_at FROM admin_groups g "
    };
}
pub(crate) use group_select;

#[derive(sqlx::FromRow)]
pub(crate) struct GroupRow {
    id: String,
    customer_id: String,
    display_name: String,
    external_id: Option<String>,
    access_type: String,
    permissions: String,
    document: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl GroupRow {
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn into_group(self, members: Vec<AdminId>) -> StoreResult<AdminGroup> {
        Ok(AdminGroup {
            id: GroupId::parse(&self.id)?,
            customer_id: CustomerId::parse(&self.customer_id)?,
            display_name: self.display_name,
            external_id: self.external_id,
            access: access(&self.access_type, &self.permissions)?,
            members,
            document: serde_json::from_str(&self.document).map_err(|_| crate::sql::corrupt("group document"))?,
            version: self.version.to_string(),
            created_at: from_ms(self.created_at),
            updated_at: from_ms(self.updated_at),
        })
    }
}

/// This domain's SQL, instantiated once per backend by [`crate::sql::store_impl!`].
macro_rules! queries {
    ($store:ty, $db:ty) => {
        use std::collections::BTreeSet;

        use time::OffsetDateTime;
        use trustgate_core::access::Access;
        use trustgate_core::customer::LostAccessPolicy;
        use trustgate_core::event::{self, Actor, DeletionCause, GroupEvent};
        use trustgate_core::group::{self, AdminGroup, MemberOutcome, MAX_GROUPS_PER_CUSTOMER, MAX_MEMBERS_PER_GROUP};
        use trustgate_core::ids::{AdminId, CustomerId, GroupId};
        use trustgate_core::lifecycle;

        use crate::changes::Change;
        use crate::error::{StoreError, StoreResult};
        use crate::model::{GroupFilter, GroupWrite};
        use crate::sql::groups::GroupRow;
        use crate::sql::ms;

        use super::admins::{admin_customers, authority, end_membership, load_member};
        use super::catalog::ensure_declared;
        use super::clients::clients_in_tx;
        use super::feed::insert_changes;
        use super::sessions::end_sessions;
        use super::system_log::insert_log;
        use super::Tx;

        async fn members_of(tx: &mut Tx, id: GroupId) -> StoreResult<Vec<AdminId>> {
            sqlx::query_as::<_, (String,)>("SELECT admin_id FROM admin_group_members WHERE group_id = $1 ORDER BY admin_id")
                .bind(id.to_string())
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(|(a,)| AdminId::parse(&a).map_err(StoreError::from))
                .collect()
        }

        pub(super) async fn load_group(tx: &mut Tx, customer: &CustomerId, id: GroupId) -> StoreResult<Option<AdminGroup>> {
            let row = sqlx::query_as::<_, GroupRow>(concat!(
                crate::sql::groups::group_select!(),
                "WHERE g.customer_id = $1 AND g.id = $2"
            ))
            .bind(customer.as_str())
            .bind(id.to_string())
            .fetch_optional(&mut **tx)
            .await?;
            match row {
                Some(row) => {
                    let members = members_of(tx, id).await?;
                    row.into_group(members).map(Some)
                }
                None => Ok(None),
            }
        }

        /// Only Full administrators, the operator and the customer's identity provider (whose
        /// token a Full administrator made) change groups; an identity provider never their access.
        async fn may_change_groups(tx: &mut Tx, customer: &CustomerId, actor: &Actor) -> StoreResult<()> {
            let authority = authority(tx, customer, actor).await?;
            lifecycle::set_group_access(&authority, &Access::none())?;
            Ok(())
        }

        /// Rewrites what their groups give each of `admins` and applies what that means to them.
        pub(super) async fn refresh_members(
            tx: &mut Tx,
            customer: &CustomerId,
            admins: &BTreeSet<AdminId>,
            actor: &Actor,
            now: OffsetDateTime,
            changes: &mut Vec<Change>,
        ) -> StoreResult<()> {
            let (policy,): (String,) = sqlx::query_as("SELECT lost_access_policy FROM customers WHERE id = $1")
                .bind(customer.as_str())
                .fetch_one(&mut **tx)
                .await?;
            let policy = LostAccessPolicy::parse(&policy)?;
            for admin in admins {
                let Some(member) = load_member(tx, customer, *admin).await? else { continue };
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT g.access_type, g.permissions FROM admin_group_members gm \
                     JOIN admin_groups g ON g.id = gm.group_id WHERE gm.customer_id = $1 AND gm.admin_id = $2",
                )
                .bind(customer.as_str())
                .bind(admin.to_string())
                .fetch_all(&mut **tx)
                .await?;
                let grants =
                    rows.iter().map(|(t, p)| crate::sql::admins::access(t, p)).collect::<StoreResult<Vec<Access>>>()?;
                let group_access = trustgate_core::access::joined(&Access::none(), grants.iter());
                if group_access == member.group_access {
                    continue;
                }
                let (access_type, permissions) = crate::sql::admins::access_columns(&group_access);
                sqlx::query(
                    "UPDATE memberships SET group_access_type = $1, group_permissions = $2 \
                     WHERE customer_id = $3 AND admin_id = $4",
                )
                .bind(access_type)
                .bind(permissions)
                .bind(customer.as_str())
                .bind(admin.to_string())
                .execute(&mut **tx)
                .await?;
                let before = member.held();
                let after = trustgate_core::access::joined(&member.access, [&group_access]);
                // A pending member holds nothing yet: their groups wait for their acceptance.
                if member.pending.is_some() {
                    continue;
                }
                let deleted = match group::member_outcome(&before, &after) {
                    MemberOutcome::Unchanged => continue,
                    MemberOutcome::Follows => 0,
                    // Their own access grants nothing, so they are not a Full administrator the
                    // customer must keep: the removal never leaves it without one.
                    MemberOutcome::LostLastAccess if policy == LostAccessPolicy::RemoveFromCustomer => {
                        end_membership(tx, customer, &member, DeletionCause::OwnerLostLastAccess, actor, now, changes)
                            .await?;
                        // As a removal by a Full administrator: their sessions go with their last customer.
                        if admin_customers(tx, *admin).await?.is_empty() {
                            end_sessions(tx, *admin).await?;
                        }
                        continue;
                    }
                    MemberOutcome::LostLastAccess => {
                        let clients = clients_in_tx(tx, customer, *admin).await?;
                        sqlx::query("DELETE FROM api_clients WHERE customer_id = $1 AND owner_id = $2")
                            .bind(customer.as_str())
                            .bind(admin.to_string())
                            .execute(&mut **tx)
                            .await?;
                        for client in &clients {
                            insert_log(tx, &event::client_deleted(client, DeletionCause::OwnerLostLastAccess, now, actor))
                                .await?;
                            changes.push(Change::ClientDeleted(client.id));
                        }
                        clients.len()
                    }
                };
                insert_log(
                    tx,
                    &event::access_through_groups(customer, &member.admin, &before, &after, deleted, now, actor),
                )
                .await?;
                changes.push(Change::MembershipChanged(customer.clone(), *admin));
            }
            Ok(())
        }

        /// Replaces the members of `group` (as loaded, before the change) with `wanted`, logging
        /// each who joins or leaves; returns everyone whose groups changed.
        async fn write_members(
            tx: &mut Tx,
            group: &AdminGroup,
            wanted: &[AdminId],
            actor: &Actor,
            now: OffsetDateTime,
        ) -> StoreResult<BTreeSet<AdminId>> {
            let wanted: BTreeSet<AdminId> = wanted.iter().copied().collect();
            if wanted.len() > MAX_MEMBERS_PER_GROUP {
                return Err(StoreError::Conflict(format!("a group holds at most {MAX_MEMBERS_PER_GROUP} members")));
            }
            let had: BTreeSet<AdminId> = group.members.iter().copied().collect();
            let mut touched = BTreeSet::new();
            for admin in wanted.difference(&had) {
                // Only a member of the group's customer joins it (an invitee once they accept);
                // anyone else is unknown here.
                let member = load_member(tx, &group.customer_id, *admin)
                    .await?
                    .filter(|m| m.pending.is_none())
                    .ok_or(StoreError::NotFound("member"))?;
                sqlx::query("INSERT INTO admin_group_members (group_id, customer_id, admin_id) VALUES ($1, $2, $3)")
                    .bind(group.id.to_string())
                    .bind(group.customer_id.as_str())
                    .bind(admin.to_string())
                    .execute(&mut **tx)
                    .await?;
                insert_log(tx, &event::group_member(group, &member.admin, true, now, actor)).await?;
                touched.insert(*admin);
            }
            for admin in had.difference(&wanted) {
                sqlx::query("DELETE FROM admin_group_members WHERE group_id = $1 AND admin_id = $2")
                    .bind(group.id.to_string())
                    .bind(admin.to_string())
                    .execute(&mut **tx)
                    .await?;
                if let Some(member) = load_member(tx, &group.customer_id, *admin).await? {
                    insert_log(tx, &event::group_member(group, &member.admin, false, now, actor)).await?;
                }
                touched.insert(*admin);
            }
            Ok(touched)
        }

        async fn name_free(tx: &mut Tx, customer: &CustomerId, name: &str, except: Option<GroupId>) -> StoreResult<()> {
            let taken: Option<(String,)> =
                sqlx::query_as("SELECT id FROM admin_groups WHERE customer_id = $1 AND display_name_key = $2")
                    .bind(customer.as_str())
                    .bind(name.to_lowercase())
                    .fetch_optional(&mut **tx)
                    .await?;
            match taken {
                Some((id,)) if except.is_none_or(|e| e.to_string() != id) => {
                    Err(StoreError::Conflict(format!("the customer already has a group named {name}")))
                }
                _ => Ok(()),
            }
        }

        fn version_holds(group: &AdminGroup, if_version: Option<&str>) -> StoreResult<()> {
            match if_version {
                Some(wanted) if wanted != group.version => Err(StoreError::Stale),
                _ => Ok(()),
            }
        }

        async fn finish(store: &$store, mut tx: Tx, changes: Vec<Change>, now: OffsetDateTime) -> StoreResult<()> {
            insert_changes(&mut tx, &changes, now).await?;
            store.commit(tx, &changes).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn create_group(store: &$store, new: &AdminGroup, actor: &Actor) -> StoreResult<AdminGroup> {
            let customer = &new.customer_id;
            let mut tx = store.write_tx().await?;
            <$store>::share_catalog(&mut tx).await?;
            <$store>::lock_customer(&mut tx, customer).await?;
            may_change_groups(&mut tx, customer, actor).await?;
            if !new.access.grants_nothing() {
                lifecycle::set_group_access(&authority(&mut tx, customer, actor).await?, &new.access)?;
                ensure_declared(&mut tx, &new.access).await?;
            }
            let (held,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM admin_groups WHERE customer_id = $1")
                .bind(customer.as_str())
                .fetch_one(&mut *tx)
                .await?;
            lifecycle::add_group(u64::try_from(held).unwrap_or(0), MAX_GROUPS_PER_CUSTOMER)?;
            name_free(&mut tx, customer, &new.display_name, None).await?;
            let now = OffsetDateTime::now_utc();
            let (access_type, permissions) = crate::sql::admins::access_columns(&new.access);
            sqlx::query(
                "INSERT INTO admin_groups (id, customer_id, display_name, display_name_key, external_id, access_type, \
                 permissions, document, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9)",
            )
            .bind(new.id.to_string())
            .bind(customer.as_str())
            .bind(&new.display_name)
            .bind(new.display_name.to_lowercase())
            .bind(new.external_id.as_deref())
            .bind(access_type)
            .bind(permissions)
            .bind(new.document.to_string())
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
            let empty = load_group(&mut tx, customer, new.id).await?.ok_or(StoreError::NotFound("group"))?;
            insert_log(&mut tx, &event::group_changed(new, GroupEvent::Created, now, actor)).await?;
            let touched = write_members(&mut tx, &empty, &new.members, actor, now).await?;
            let mut changes = Vec::new();
            refresh_members(&mut tx, customer, &touched, actor, now, &mut changes).await?;
            let created = load_group(&mut tx, customer, new.id).await?.ok_or(StoreError::NotFound("group"))?;
            finish(store, tx, changes, now).await?;
            Ok(created)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn group(store: &$store, customer: &CustomerId, id: GroupId) -> StoreResult<Option<AdminGroup>> {
            let mut tx = store.pool.begin().await?;
            let group = load_group(&mut tx, customer, id).await?;
            tx.rollback().await?;
            Ok(group)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn groups(
            store: &$store,
            customer: &CustomerId,
            filter: &GroupFilter,
            offset: u64,
            limit: u32,
        ) -> StoreResult<(u64, Vec<AdminGroup>)> {
            let (by_name, name, by_external, external) = match filter {
                GroupFilter::All => (0_i64, String::new(), 0_i64, String::new()),
                GroupFilter::DisplayName(name) => (1, name.to_lowercase(), 0, String::new()),
                GroupFilter::ExternalId(id) => (0, String::new(), 1, id.clone()),
            };
            let mut tx = store.pool.begin().await?;
            let (total,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM admin_groups g WHERE g.customer_id = $1 \
                 AND ($2 = 0 OR g.display_name_key = $3) AND ($4 = 0 OR g.external_id = $5)",
            )
            .bind(customer.as_str())
            .bind(by_name)
            .bind(&name)
            .bind(by_external)
            .bind(&external)
            .fetch_one(&mut *tx)
            .await?;
            let rows = sqlx::query_as::<_, GroupRow>(concat!(
                crate::sql::groups::group_select!(),
                "WHERE g.customer_id = $1 AND ($2 = 0 OR g.display_name_key = $3) AND ($4 = 0 OR g.external_id = $5) \
                 ORDER BY g.created_at, g.id LIMIT $6 OFFSET $7"
            ))
            .bind(customer.as_str())
            .bind(by_name)
            .bind(&name)
            .bind(by_external)
            .bind(&external)
            .bind(i64::from(limit))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(&mut *tx)
            .await?;
            let mut groups = Vec::with_capacity(rows.len());
            for row in rows {
                let id = GroupId::parse(row.id())?;
                let members = members_of(&mut tx, id).await?;
                groups.push(row.into_group(members)?);
            }
            tx.rollback().await?;
            Ok((u64::try_from(total).unwrap_or(0), groups))
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn replace_group(
            store: &$store,
            customer: &CustomerId,
            id: GroupId,
            write: &GroupWrite,
            if_version: Option<&str>,
            actor: &Actor,
        ) -> StoreResult<AdminGroup> {
            let (display_name, external_id) = (write.display_name.as_str(), write.external_id.as_deref());
            let mut tx = store.write_tx().await?;
            <$store>::lock_customer(&mut tx, customer).await?;
            may_change_groups(&mut tx, customer, actor).await?;
            let current = load_group(&mut tx, customer, id).await?.ok_or(StoreError::NotFound("group"))?;
            version_holds(&current, if_version)?;
            name_free(&mut tx, customer, display_name, Some(id)).await?;
            let now = OffsetDateTime::now_utc();
            sqlx::query(
                "UPDATE admin_groups SET display_name = $1, display_name_key = $2, external_id = $3, document = $4, \
                 version = version + 1, updated_at = $5 WHERE id = $6",
            )
            .bind(display_name)
            .bind(display_name.to_lowercase())
            .bind(external_id)
            .bind(write.document.to_string())
            .bind(ms(now))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            if current.display_name != display_name || current.external_id.as_deref() != external_id {
                let mut renamed = current.clone();
                renamed.display_name = display_name.to_owned();
                renamed.external_id = external_id.map(str::to_owned);
                insert_log(&mut tx, &event::group_changed(&renamed, GroupEvent::Renamed, now, actor)).await?;
            }
            let touched = write_members(&mut tx, &current, &write.members, actor, now).await?;
            let mut changes = Vec::new();
            refresh_members(&mut tx, customer, &touched, actor, now, &mut changes).await?;
            let group = load_group(&mut tx, customer, id).await?.ok_or(StoreError::NotFound("group"))?;
            finish(store, tx, changes, now).await?;
            Ok(group)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn delete_group(
            store: &$store,
            customer: &CustomerId,
            id: GroupId,
            if_version: Option<&str>,
            actor: &Actor,
        ) -> StoreResult<bool> {
            let mut tx = store.write_tx().await?;
            <$store>::lock_customer(&mut tx, customer).await?;
            may_change_groups(&mut tx, customer, actor).await?;
            let Some(current) = load_group(&mut tx, customer, id).await? else { return Ok(false) };
            version_holds(&current, if_version)?;
            sqlx::query("DELETE FROM admin_groups WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await?;
            let now = OffsetDateTime::now_utc();
            insert_log(&mut tx, &event::group_changed(&current, GroupEvent::Deleted, now, actor)).await?;
            let mut changes = Vec::new();
            let touched: BTreeSet<AdminId> = current.members.iter().copied().collect();
            refresh_members(&mut tx, customer, &touched, actor, now, &mut changes).await?;
            finish(store, tx, changes, now).await?;
            Ok(true)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn set_group_access(
            store: &$store,
            customer: &CustomerId,
            id: GroupId,
            access: Access,
            actor: &Actor,
        ) -> StoreResult<Access> {
            let mut tx = store.write_tx().await?;
            <$store>::share_catalog(&mut tx).await?;
            <$store>::lock_customer(&mut tx, customer).await?;
            let authority = authority(&mut tx, customer, actor).await?;
            lifecycle::set_group_access(&authority, &access)?;
            let mut group = load_group(&mut tx, customer, id).await?.ok_or(StoreError::NotFound("group"))?;
            ensure_declared(&mut tx, &access).await?;
            let before = std::mem::replace(&mut group.access, access);
            let now = OffsetDateTime::now_utc();
            let (access_type, permissions) = crate::sql::admins::access_columns(&group.access);
            sqlx::query(
                "UPDATE admin_groups SET access_type = $1, permissions = $2, version = version + 1, updated_at = $3 \
                 WHERE id = $4",
            )
            .bind(access_type)
            .bind(permissions)
            .bind(ms(now))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            insert_log(&mut tx, &event::group_access_changed(&group, &before, now, actor)).await?;
            let mut changes = Vec::new();
            let touched: BTreeSet<AdminId> = group.members.iter().copied().collect();
            refresh_members(&mut tx, customer, &touched, actor, now, &mut changes).await?;
            finish(store, tx, changes, now).await?;
            Ok(before)
        }

        /// Makes `admin` a member of exactly the customer's groups that `claimed` names (by
        /// external id, else by display name regardless of case), as a sign-in's `groups` claim says.
        #[tracing::instrument(skip_all)]
        pub(super) async fn sync_claimed_groups(
            store: &$store,
            customer: &CustomerId,
            admin: AdminId,
            claimed: &[String],
            actor: &Actor,
        ) -> StoreResult<bool> {
            let mut tx = store.write_tx().await?;
            <$store>::lock_customer(&mut tx, customer).await?;
            if load_member(&mut tx, customer, admin).await?.is_none() {
                return Err(StoreError::NotFound("member"));
            }
            let all: Vec<(String, String, Option<String>)> =
                sqlx::query_as("SELECT id, display_name_key, external_id FROM admin_groups WHERE customer_id = $1")
                    .bind(customer.as_str())
                    .fetch_all(&mut *tx)
                    .await?;
            let folded: Vec<String> = claimed.iter().map(|c| c.to_lowercase()).collect();
            let wanted: BTreeSet<String> = all
                .iter()
                .filter(|(_, key, external)| {
                    external.as_ref().is_some_and(|e| claimed.contains(e)) || folded.contains(key)
                })
                .map(|(id, _, _)| id.clone())
                .collect();
            let now = OffsetDateTime::now_utc();
            let mut touched = BTreeSet::new();
            for (id, _, _) in &all {
                let id = GroupId::parse(id)?;
                let Some(group) = load_group(&mut tx, customer, id).await? else { continue };
                let is_member = group.members.contains(&admin);
                let should = wanted.contains(&id.to_string());
                if is_member == should {
                    continue;
                }
                let members: Vec<AdminId> = if should {
                    group.members.iter().copied().chain([admin]).collect()
                } else {
                    group.members.iter().copied().filter(|m| *m != admin).collect()
                };
                touched.extend(write_members(&mut tx, &group, &members, actor, now).await?);
                sqlx::query("UPDATE admin_groups SET version = version + 1, updated_at = $1 WHERE id = $2")
                    .bind(ms(now))
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            let mut changes = Vec::new();
            refresh_members(&mut tx, customer, &touched, actor, now, &mut changes).await?;
            let still_member = load_member(&mut tx, customer, admin).await?.is_some();
            finish(store, tx, changes, now).await?;
            Ok(still_member)
        }
    };
}
pub(crate) use queries;
