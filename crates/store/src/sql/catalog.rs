//! What the gateway enforces: the permission catalog and the resource servers that ask it.

use trustgate_core::access::{Permission, PolicyName};
use trustgate_core::catalog::{Catalog, CustomerPlace, MethodRule, PathPattern, PermissionEntry, RouteRule, Service};
use trustgate_core::ids::ResourceServerId;
use trustgate_core::resource_server::ResourceServer;
use trustgate_core::secret::SecretVerifier;

use crate::error::{StoreError, StoreResult};
use crate::sql::clients::server_key_id;
use crate::sql::{corrupt, from_ms};

// The permission catalog's rows as stored, each table in the operator's order (`ordinal`).

#[derive(sqlx::FromRow)]
pub(crate) struct ServiceRow {
    name: String,
    display_name: String,
    description: Option<String>,
}

impl TryFrom<ServiceRow> for Service {
    type Error = StoreError;

    fn try_from(row: ServiceRow) -> StoreResult<Service> {
        let name = PolicyName::parse("service", &row.name)?;
        Ok(Service { name, display_name: row.display_name, description: row.description })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PermissionRow {
    service: String,
    name: String,
    display_name: String,
    description: Option<String>,
}

impl TryFrom<PermissionRow> for PermissionEntry {
    type Error = StoreError;

    fn try_from(row: PermissionRow) -> StoreResult<PermissionEntry> {
        let permission = Permission::of(&row.service, &row.name)?;
        Ok(PermissionEntry { permission, display_name: row.display_name, description: row.description })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RouteRow {
    method: String,
    path: String,
    permission: String,
    customer: String,
}

impl TryFrom<RouteRow> for RouteRule {
    type Error = StoreError;

    fn try_from(row: RouteRow) -> StoreResult<RouteRule> {
        Ok(RouteRule {
            method: MethodRule::parse(&row.method)?,
            pattern: PathPattern::parse(&row.path)?,
            permission: Permission::parse(&row.permission)?,
            customer: CustomerPlace::parse(&row.customer)?,
        })
    }
}

/// How many holders a refused catalog apply names (the rest are counted).
pub(crate) const HOLDERS_NAMED: usize = 5;

/// Rebuilds the catalog from its rows, with every check `Catalog::new` makes.
pub(crate) fn catalog(
    services: Vec<ServiceRow>,
    permissions: Vec<PermissionRow>,
    routes: Vec<RouteRow>,
) -> StoreResult<Catalog> {
    let services = services.into_iter().map(Service::try_from).collect::<StoreResult<Vec<_>>>()?;
    let permissions = permissions.into_iter().map(PermissionEntry::try_from).collect::<StoreResult<Vec<_>>>()?;
    let routes = routes.into_iter().map(RouteRule::try_from).collect::<StoreResult<Vec<_>>>()?;
    Catalog::new(services, permissions, routes).map_err(|_| corrupt("permission catalog"))
}

/// The columns of a [`ResourceServerRow`], as a literal for `concat!`.
macro_rules! resource_server_columns {
    () => {
        "id, name, verifier, created_at, server_key"
    };
}
pub(crate) use resource_server_columns;

#[derive(sqlx::FromRow)]
pub(crate) struct ResourceServerRow {
    id: String,
    name: String,
    verifier: Vec<u8>,
    created_at: i64,
    server_key: Option<String>,
}

impl ResourceServerRow {
    /// The resource server and the verifier of its secret.
    pub(crate) fn into_parts(self) -> StoreResult<(ResourceServer, SecretVerifier)> {
        let server = ResourceServer {
            id: ResourceServerId::parse(&self.id)?,
            name: self.name,
            created_at: from_ms(self.created_at),
        };
        let verifier = SecretVerifier::from_stored(&self.verifier, server_key_id(self.server_key)?)
            .ok_or_else(|| corrupt("resource server verifier"))?;
        Ok((server, verifier))
    }

    /// The resource server, once its stored verifier is checked to be readable.
    pub(crate) fn into_server(self) -> StoreResult<ResourceServer> {
        self.into_parts().map(|(server, _)| server)
    }
}

/// This domain's SQL, instantiated once per backend by [`crate::sql::store_impl!`] in a module
/// of the same name inside the backend's module.
macro_rules! queries {
    ($store:ty, $db:ty) => {
        use time::OffsetDateTime;
        use trustgate_core::access::Access;
        use trustgate_core::client::ApiClient;
        use trustgate_core::client::ClientKind;
        use trustgate_core::event::{self, Actor};
        use trustgate_core::ids::{AdminId, CustomerId};
        use trustgate_core::secret::ServerKeyId;

        use crate::changes::Change;
        use crate::error::{StoreError, StoreResult};
        use crate::sql::catalog::{PermissionRow, ResourceServerRow, RouteRow, ServiceRow};
        use crate::sql::clients::ClientRow;
        use crate::sql::ms;

        use super::admins::{load_member, update_member_access};
        use super::clients::update_principal_access;
        use super::feed::insert_changes;
        use super::groups::{load_group, refresh_members};
        use super::system_log::insert_log;
        use super::Tx;

        /// A grant names only permissions the stored catalog declares: the node's copy of the
        /// catalog may be a moment old, and an apply that removed one may have committed since
        /// (issue #10). Callers take `share_catalog` first, so no apply runs until they commit.
        pub(super) async fn ensure_declared(tx: &mut Tx, access: &Access) -> StoreResult<()> {
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

        async fn read_catalog(tx: &mut Tx) -> StoreResult<trustgate_core::catalog::Catalog> {
            let services: Vec<ServiceRow> =
                sqlx::query_as("SELECT name, display_name, description FROM catalog_services ORDER BY ordinal")
                    .fetch_all(&mut **tx)
                    .await?;
            let permissions: Vec<PermissionRow> =
                sqlx::query_as("SELECT service, name, display_name, description FROM catalog_permissions ORDER BY ordinal")
                    .fetch_all(&mut **tx)
                    .await?;
            let routes: Vec<RouteRow> =
                sqlx::query_as("SELECT method, path, permission, customer FROM catalog_routes ORDER BY ordinal")
                    .fetch_all(&mut **tx)
                    .await?;
            crate::sql::catalog::catalog(services, permissions, routes)
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
                let customer = CustomerId::parse(&customer).map_err(|_| crate::sql::corrupt_id("customer"))?;
                let admin = AdminId::parse(&admin).map_err(|_| crate::sql::corrupt_id("administrator"))?;
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
            let principals: Vec<ClientRow> = sqlx::query_as(concat!(
                "SELECT ",
                crate::sql::clients::client_columns!(),
                " FROM api_clients k WHERE k.owner_id IS NULL AND k.access_type = 'Custom' AND k.permissions <> '' ORDER BY k.id"
            ))
            .fetch_all(&mut **tx)
            .await?;
            let mut principal_of = std::collections::HashMap::new();
            for row in principals {
                let principal = ApiClient::try_from(row)?;
                let ClientKind::ServicePrincipal { access } = &principal.kind else { continue };
                let Some(after) = without(access) else { continue };
                names.push(format!(
                    "service principal {} ({}) in customer {}",
                    principal.name, principal.id, principal.customer_id
                ));
                stripped.push(crate::model::Stripped {
                    customer: principal.customer_id.clone(),
                    holder: ("servicePrincipal", principal.id.to_string()),
                    before: access.clone(),
                    after,
                });
                principal_of.insert(principal.id.to_string(), principal);
            }
            // Issue #25: groups hold permissions too, for every member.
            let groups: Vec<(String, String)> = sqlx::query_as(
                "SELECT customer_id, id FROM admin_groups WHERE access_type = 'Custom' AND permissions <> '' \
                 ORDER BY customer_id, id",
            )
            .fetch_all(&mut **tx)
            .await?;
            let mut group_of = std::collections::HashMap::new();
            for (customer, id) in groups {
                let customer = CustomerId::parse(&customer).map_err(|_| crate::sql::corrupt_id("customer"))?;
                let id = trustgate_core::ids::GroupId::parse(&id).map_err(|_| crate::sql::corrupt_id("group"))?;
                let Some(group) = load_group(tx, &customer, id).await? else { continue };
                let Some(after) = without(&group.access) else { continue };
                names.push(format!("group {} in customer {customer}", group.display_name));
                stripped.push(crate::model::Stripped {
                    customer,
                    holder: ("group", id.to_string()),
                    before: group.access.clone(),
                    after,
                });
                group_of.insert(id.to_string(), group);
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
                let mut named =
                    names.iter().take(crate::sql::catalog::HOLDERS_NAMED).cloned().collect::<Vec<_>>().join(", ");
                if names.len() > crate::sql::catalog::HOLDERS_NAMED {
                    named.push_str(&format!(", and {} more", names.len() - crate::sql::catalog::HOLDERS_NAMED));
                }
                return Err(StoreError::Conflict(format!(
                    "the catalog removes permissions that are still held: {}; holders: {named}",
                    held.join("; ")
                )));
            }
            for change in &stripped {
                if change.holder.0 == "group" {
                    let Some(group) = group_of.get_mut(&change.holder.1) else { continue };
                    let (access_type, permissions) = crate::sql::admins::access_columns(&change.after);
                    sqlx::query(
                        "UPDATE admin_groups SET access_type = $1, permissions = $2, version = version + 1, \
                         updated_at = $3 WHERE id = $4",
                    )
                    .bind(access_type)
                    .bind(permissions)
                    .bind(crate::sql::ms(now))
                    .bind(group.id.to_string())
                    .execute(&mut **tx)
                    .await?;
                    group.access = change.after.clone();
                    insert_log(tx, &event::group_access_changed(group, &change.before, now, actor)).await?;
                    let members = group.members.iter().copied().collect();
                    refresh_members(tx, &change.customer, &members, actor, now, &mut changes).await?;
                    continue;
                }
                if change.holder.0 == "servicePrincipal" {
                    let Some(principal) = principal_of.get(&change.holder.1) else { continue };
                    update_principal_access(tx, principal.id, &change.after).await?;
                    insert_log(tx, &event::principal_access_changed(principal, &change.before, &change.after, now, actor))
                        .await?;
                    changes.push(Change::ClientChanged(principal.id));
                } else {
                    let admin = AdminId::parse(&change.holder.1).map_err(|_| crate::sql::corrupt_id("administrator"))?;
                    let Some(member) = load_member(tx, &change.customer, admin).await? else { continue };
                    update_member_access(tx, &change.customer, admin, &change.after, now).await?;
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

        #[tracing::instrument(skip_all)]
        pub(super) async fn create_resource_server(
            store: &$store,
            server: &trustgate_core::resource_server::ResourceServer,
            verifier: &trustgate_core::secret::SecretVerifier,
        ) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
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
            store.commit(tx, &[]).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn resource_servers(
            store: &$store,
        ) -> StoreResult<Vec<trustgate_core::resource_server::ResourceServer>> {
            sqlx::query_as::<_, ResourceServerRow>(concat!(
                "SELECT ",
                crate::sql::catalog::resource_server_columns!(),
                " FROM resource_servers ORDER BY name"
            ))
            .fetch_all(&store.pool)
            .await?
            .into_iter()
            .map(ResourceServerRow::into_server)
            .collect()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn resource_server(
            store: &$store,
            id: trustgate_core::ids::ResourceServerId,
        ) -> StoreResult<Option<(trustgate_core::resource_server::ResourceServer, trustgate_core::secret::SecretVerifier)>>
        {
            sqlx::query_as::<_, ResourceServerRow>(concat!(
                "SELECT ",
                crate::sql::catalog::resource_server_columns!(),
                " FROM resource_servers WHERE id = $1"
            ))
            .bind(id.to_string())
            .fetch_optional(&store.pool)
            .await?
            .map(ResourceServerRow::into_parts)
            .transpose()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn rotate_resource_server(
            store: &$store,
            name: &str,
            verifier: &trustgate_core::secret::SecretVerifier,
        ) -> StoreResult<Option<trustgate_core::resource_server::ResourceServer>> {
            let mut tx = store.write_tx().await?;
            let row = sqlx::query_as::<_, ResourceServerRow>(concat!(
                "UPDATE resource_servers SET verifier = $1, server_key = $3 WHERE name = $2 RETURNING ",
                crate::sql::catalog::resource_server_columns!()
            ))
            .bind(verifier.as_bytes().to_vec())
            .bind(name)
            .bind(verifier.key().map(ServerKeyId::as_str))
            .fetch_optional(&mut *tx)
            .await?;
            store.commit(tx, &[]).await?;
            row.map(ResourceServerRow::into_server).transpose()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn delete_resource_server(store: &$store, name: &str) -> StoreResult<bool> {
            let mut tx = store.write_tx().await?;
            let deleted = sqlx::query("DELETE FROM resource_servers WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            store.commit(tx, &[]).await?;
            Ok(deleted > 0)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn catalog(store: &$store) -> StoreResult<trustgate_core::catalog::Catalog> {
            let mut tx = store.pool.begin().await?;
            read_catalog(&mut tx).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn apply_catalog(
            store: &$store,
            catalog: &trustgate_core::catalog::Catalog,
            force: bool,
            actor: &Actor,
        ) -> StoreResult<crate::model::CatalogApplied> {
            let mut tx = store.write_tx().await?;
            let now = OffsetDateTime::now_utc();
            let Some((applied, mut changes)) = stage_catalog(&mut tx, catalog, force, actor, now).await? else {
                return Ok(crate::model::CatalogApplied { before: catalog.clone(), stripped: Vec::new() });
            };
            for delete in ["DELETE FROM catalog_services", "DELETE FROM catalog_permissions", "DELETE FROM catalog_routes"]
            {
                sqlx::query(delete).execute(&mut *tx).await?;
            }
            for (i, service) in catalog.services().iter().enumerate() {
                sqlx::query(
                    "INSERT INTO catalog_services (ordinal, name, display_name, description) VALUES ($1, $2, $3, $4)",
                )
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
                sqlx::query(
                    "INSERT INTO catalog_routes (ordinal, method, path, permission, customer) VALUES ($1, $2, $3, $4, $5)",
                )
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
            store.commit(tx, &changes).await?;
            Ok(applied)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn preview_catalog(
            store: &$store,
            catalog: &trustgate_core::catalog::Catalog,
            force: bool,
            actor: &Actor,
        ) -> StoreResult<crate::model::CatalogApplied> {
            let mut tx = store.write_tx().await?;
            let staged = stage_catalog(&mut tx, catalog, force, actor, OffsetDateTime::now_utc()).await?;
            tx.rollback().await?;
            Ok(staged.map_or_else(
                || crate::model::CatalogApplied { before: catalog.clone(), stripped: Vec::new() },
                |(applied, _)| applied,
            ))
        }
    };
}
pub(crate) use queries;
