//! Federation: SCIM tokens and provisioned users, identity providers and OpenID Connect sign-in.

use trustgate_core::admin::{Admin, AdminStatus, Provider};
use trustgate_core::federation::IdentityProvider;
use trustgate_core::ids::{CustomerId, ProviderId, ScimTokenId};
use trustgate_core::provisioning::ScimToken;

use crate::error::{StoreError, StoreResult};
use crate::model::{PendingSignIn, ScimUser};
use crate::sql::admins::AdminRow;
use crate::sql::{corrupt, from_ms};

/// The columns of a [`ScimTokenRow`], as a literal for `concat!`.
macro_rules! scim_token_select {
    () => {
        "SELECT id, customer_id, name, provider, provider_id, created_by, created_at FROM scim_tokens "
    };
}
pub(crate) use scim_token_select;

#[derive(sqlx::FromRow)]
pub(crate) struct ScimTokenRow {
    id: String,
    customer_id: String,
    name: String,
    provider: String,
    provider_id: Option<String>,
    created_by: String,
    created_at: i64,
}

impl TryFrom<ScimTokenRow> for ScimToken {
    type Error = StoreError;

    fn try_from(row: ScimTokenRow) -> StoreResult<ScimToken> {
        Ok(ScimToken {
            id: ScimTokenId::parse(&row.id)?,
            customer_id: CustomerId::parse(&row.customer_id)?,
            name: row.name,
            provider: Provider::parse(&row.provider)?,
            provider_id: row.provider_id,
            created_by: row.created_by,
            created_at: from_ms(row.created_at),
        })
    }
}

/// The columns of a [`ProviderRow`] of `identity_providers p`, as a literal for `concat!`.
macro_rules! provider_select {
    () => {
        "SELECT p.id, p.customer_id, p.provider_type, p.issuer, p.client_id, p.sealed_secret, p.email_claim, \
         p.created_at FROM identity_providers p "
    };
}
pub(crate) use provider_select;

#[derive(sqlx::FromRow)]
pub(crate) struct ProviderRow {
    id: String,
    customer_id: String,
    provider_type: String,
    issuer: String,
    client_id: String,
    sealed_secret: Vec<u8>,
    email_claim: String,
    created_at: i64,
}

impl TryFrom<ProviderRow> for IdentityProvider {
    type Error = StoreError;

    fn try_from(row: ProviderRow) -> StoreResult<IdentityProvider> {
        Ok(IdentityProvider {
            id: ProviderId::parse(&row.id)?,
            customer_id: CustomerId::parse(&row.customer_id)?,
            provider_type: Provider::parse(&row.provider_type)?,
            issuer: row.issuer,
            client_id: row.client_id,
            sealed_secret: row.sealed_secret,
            email_claim: row.email_claim,
            created_at: from_ms(row.created_at),
        })
    }
}

/// The columns of a [`ScimUserRow`] and the joins that read them, as a literal for `concat!`.
macro_rules! scim_user_select {
    () => {
        "SELECT a.id, m.email, m.display_name, a.provider, a.external_id, a.provider_id, a.status, a.created_at, \
         s.user_name, s.external_id AS scim_external_id, s.document, s.version, s.created_at AS scim_created_at, \
         s.updated_at AS scim_updated_at \
         FROM scim_users s JOIN memberships m ON m.customer_id = s.customer_id AND m.admin_id = s.admin_id \
         JOIN admins a ON a.id = s.admin_id"
    };
}
pub(crate) use scim_user_select;

#[derive(sqlx::FromRow)]
pub(crate) struct ScimUserRow {
    #[sqlx(flatten)]
    admin: AdminRow,
    user_name: String,
    scim_external_id: Option<String>,
    document: String,
    version: i64,
    scim_created_at: i64,
    scim_updated_at: i64,
}

impl TryFrom<ScimUserRow> for ScimUser {
    type Error = StoreError;

    fn try_from(row: ScimUserRow) -> StoreResult<ScimUser> {
        let admin = Admin::try_from(row.admin)?;
        // The status is part of the version: a disable by the CLI or another customer's provider
        // changes the resource as much as a SCIM write does.
        let version = format!("{}{}", row.version, if admin.status == AdminStatus::Active { 'a' } else { 'd' });
        Ok(ScimUser {
            admin,
            user_name: row.user_name,
            external_id: row.scim_external_id,
            document: serde_json::from_str(&row.document).map_err(|_| corrupt("SCIM resource"))?,
            version,
            created_at: from_ms(row.scim_created_at),
            updated_at: from_ms(row.scim_updated_at),
        })
    }
}

/// An OpenID Connect sign-in under way, taken back when the provider redirects.
#[derive(sqlx::FromRow)]
pub(crate) struct SignInRow {
    provider_id: String,
    nonce: String,
    pkce_verifier: String,
    next_path: String,
    pub(crate) expires_at: i64,
}

impl TryFrom<SignInRow> for PendingSignIn {
    type Error = StoreError;

    fn try_from(row: SignInRow) -> StoreResult<PendingSignIn> {
        Ok(PendingSignIn {
            provider_id: ProviderId::parse(&row.provider_id)?,
            nonce: row.nonce,
            pkce_verifier: row.pkce_verifier,
            next_path: row.next_path,
            expires_at: from_ms(row.expires_at),
        })
    }
}

/// This domain's SQL, instantiated once per backend by [`crate::sql::store_impl!`] in a module
/// of the same name inside the backend's module.
macro_rules! queries {
    ($store:ty, $db:ty) => {
        use crate::changes::Change;
        use crate::error::{StoreError, StoreResult};
        use crate::model::{PendingSignIn, ScimFilter, ScimUser, ScimUserWrite};
        use crate::sql::federation::{ProviderRow, ScimTokenRow, ScimUserRow, SignInRow};
        use crate::sql::{ms, Parsed};
        use time::OffsetDateTime;
        use trustgate_core::admin::{Admin, AdminStatus, Email};
        use trustgate_core::event::{self, Actor, DeletionCause};
        use trustgate_core::federation::IdentityProvider;
        use trustgate_core::ids::{AdminId, CustomerId, ProviderId, ScimTokenId};
        use trustgate_core::lifecycle;
        use trustgate_core::provisioning::{self, ScimToken};
        use trustgate_core::secret::ServerKeyId;

        use super::admins::admin_customers;
        use super::admins::apply_status;
        use super::admins::authority;
        use super::admins::end_membership;
        use super::admins::full_admins;
        use super::admins::insert_admin;
        use super::admins::join;
        use super::admins::load_member;
        use super::customers::ensure_customer;
        use super::feed::insert_changes;
        use super::system_log::insert_log;
        use super::Tx;

        async fn load_scim_user(tx: &mut Tx, customer: &CustomerId, admin: AdminId) -> StoreResult<Option<ScimUser>> {
            sqlx::query_as::<_, ScimUserRow>(concat!(
                crate::sql::federation::scim_user_select!(),
                " WHERE s.customer_id = $1 AND s.admin_id = $2"
            ))
            .bind(customer.as_str())
            .bind(admin.to_string())
            .fetch_optional(&mut **tx)
            .await?
            .parsed()
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
                Some(_) => {
                    Err(StoreError::Conflict("externalId already names an administrator of this customer".to_owned()))
                }
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

        #[tracing::instrument(skip_all)]
        pub(super) async fn create_scim_token(
            store: &$store,
            token: &ScimToken,
            digest: &[u8],
            server_key: &ServerKeyId,
            actor: &Actor,
        ) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
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
            store.commit(tx, &[]).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn scim_tokens(store: &$store, customer: &CustomerId) -> StoreResult<Vec<ScimToken>> {
            sqlx::query_as::<_, ScimTokenRow>(concat!(
                crate::sql::federation::scim_token_select!(),
                "WHERE customer_id = $1 ORDER BY created_at, id"
            ))
            .bind(customer.as_str())
            .fetch_all(&store.pool)
            .await?
            .parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn scim_token(store: &$store, digest: &[u8]) -> StoreResult<Option<ScimToken>> {
            sqlx::query_as::<_, ScimTokenRow>(concat!(crate::sql::federation::scim_token_select!(), "WHERE digest = $1"))
                .bind(digest.to_vec())
                .fetch_optional(&store.pool)
                .await?
                .parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn revoke_scim_token(
            store: &$store,
            customer: &CustomerId,
            id: ScimTokenId,
            actor: &Actor,
        ) -> StoreResult<bool> {
            let mut tx = store.write_tx().await?;
            <$store>::lock_customer(&mut tx, customer).await?;
            lifecycle::manage_provisioning(&authority(&mut tx, customer, actor).await?)?;
            let Some(row) = sqlx::query_as::<_, ScimTokenRow>(concat!(
                crate::sql::federation::scim_token_select!(),
                "WHERE id = $1 AND customer_id = $2"
            ))
            .bind(id.to_string())
            .bind(customer.as_str())
            .fetch_optional(&mut *tx)
            .await?
            else {
                return Ok(false);
            };
            let token = ScimToken::try_from(row)?;
            sqlx::query("DELETE FROM scim_tokens WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await?;
            insert_log(&mut tx, &event::scim_token_revoked(&token, OffsetDateTime::now_utc(), actor)).await?;
            store.commit(tx, &[]).await?;
            Ok(true)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn scim_users(
            store: &$store,
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
            let mut tx = store.pool.begin().await?;
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
            let users = sqlx::query_as::<_, ScimUserRow>(concat!(
                crate::sql::federation::scim_user_select!(),
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
            .map(ScimUser::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
            tx.rollback().await?;
            Ok((u64::try_from(total).unwrap_or(0), users))
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn scim_user(
            store: &$store,
            customer: &CustomerId,
            admin: AdminId,
        ) -> StoreResult<Option<ScimUser>> {
            let mut tx = store.pool.begin().await?;
            let user = load_scim_user(&mut tx, customer, admin).await?;
            tx.rollback().await?;
            Ok(user)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn provision_user(
            store: &$store,
            customer: &CustomerId,
            candidate: &Admin,
            write: &ScimUserWrite,
            actor: &Actor,
        ) -> StoreResult<ScimUser> {
            let mut tx = store.write_tx().await?;
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
                return Err(StoreError::Conflict(format!(
                    "{} is already an administrator of this customer",
                    candidate.email
                )));
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
            store.commit(tx, &changes).await?;
            Ok(user)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn update_scim_user(
            store: &$store,
            customer: &CustomerId,
            admin: AdminId,
            write: &ScimUserWrite,
            if_version: Option<&str>,
            actor: &Actor,
        ) -> StoreResult<ScimUser> {
            let mut tx = store.write_tx().await?;
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
            store.commit(tx, &changes).await?;
            Ok(user)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn deprovision_user(
            store: &$store,
            customer: &CustomerId,
            admin: AdminId,
            if_version: Option<&str>,
            actor: &Actor,
        ) -> StoreResult<usize> {
            let mut tx = store.write_tx().await?;
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
            // Provisioned by this customer's provider and a member nowhere else: nothing is
            // left of the person to keep.
            if admin_customers(&mut tx, admin).await?.is_empty() {
                sqlx::query("DELETE FROM admins WHERE id = $1").bind(admin.to_string()).execute(&mut *tx).await?;
                changes.push(Change::AdminChanged(admin));
            }
            insert_changes(&mut tx, &changes, now).await?;
            store.commit(tx, &changes).await?;
            Ok(deleted)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn connect_provider(
            store: &$store,
            provider: &IdentityProvider,
            actor: &Actor,
        ) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
            ensure_customer(&mut tx, &provider.customer_id).await?;
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
            store.commit(tx, &[]).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn disconnect_provider(
            store: &$store,
            customer: &CustomerId,
            id: ProviderId,
            actor: &Actor,
        ) -> StoreResult<bool> {
            let mut tx = store.write_tx().await?;
            <$store>::lock_customer(&mut tx, customer).await?;
            lifecycle::manage_identity_providers(&authority(&mut tx, customer, actor).await?)?;
            let row: Option<ProviderRow> = sqlx::query_as(concat!(
                crate::sql::federation::provider_select!(),
                "WHERE p.id = $1 AND p.customer_id = $2"
            ))
            .bind(id.to_string())
            .bind(customer.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let Some(provider) = row.parsed()? else {
                return Ok(false);
            };
            sqlx::query("DELETE FROM identity_providers WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await?;
            // A session does not record which of the customer's providers opened it: all of
            // them end, and whoever still may signs in again.
            sqlx::query("DELETE FROM sessions WHERE customer_id = $1").bind(customer.as_str()).execute(&mut *tx).await?;
            insert_log(&mut tx, &event::provider_disconnected(&provider, OffsetDateTime::now_utc(), actor)).await?;
            store.commit(tx, &[]).await?;
            Ok(true)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn identity_provider(store: &$store, id: ProviderId) -> StoreResult<Option<IdentityProvider>> {
            sqlx::query_as::<_, ProviderRow>(concat!(crate::sql::federation::provider_select!(), "WHERE p.id = $1"))
                .bind(id.to_string())
                .fetch_optional(&store.pool)
                .await?
                .parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn identity_providers(
            store: &$store,
            customer: &CustomerId,
        ) -> StoreResult<Vec<IdentityProvider>> {
            sqlx::query_as::<_, ProviderRow>(concat!(
                crate::sql::federation::provider_select!(),
                "WHERE p.customer_id = $1 ORDER BY p.created_at, p.id"
            ))
            .bind(customer.as_str())
            .fetch_all(&store.pool)
            .await?
            .parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn providers_for_email(store: &$store, email: &Email) -> StoreResult<Vec<IdentityProvider>> {
            sqlx::query_as::<_, ProviderRow>(concat!(
                crate::sql::federation::provider_select!(),
                "WHERE EXISTS (SELECT 1 FROM memberships m \
                 JOIN admins a ON a.id = m.admin_id WHERE m.customer_id = p.customer_id AND m.email = $1 \
                 AND a.provider = p.provider_type) ORDER BY p.customer_id, p.created_at, p.id LIMIT 20"
            ))
            .bind(email.as_str())
            .fetch_all(&store.pool)
            .await?
            .parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn begin_sign_in(
            store: &$store,
            state_digest: &[u8],
            pending: &PendingSignIn,
            now: OffsetDateTime,
        ) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
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
            store.commit(tx, &[]).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn take_sign_in(
            store: &$store,
            state_digest: &[u8],
            now: OffsetDateTime,
        ) -> StoreResult<Option<PendingSignIn>> {
            // A state nobody started costs a read, never a write transaction (issue #20).
            let started: Option<(i64,)> = sqlx::query_as("SELECT expires_at FROM oidc_sign_ins WHERE state_digest = $1")
                .bind(state_digest.to_vec())
                .fetch_optional(&store.pool)
                .await?;
            if started.is_none() {
                return Ok(None);
            }
            let mut tx = store.write_tx().await?;
            let row: Option<SignInRow> = sqlx::query_as(
                "DELETE FROM oidc_sign_ins WHERE state_digest = $1 \
                 RETURNING provider_id, nonce, pkce_verifier, next_path, expires_at",
            )
            .bind(state_digest.to_vec())
            .fetch_optional(&mut *tx)
            .await?;
            store.commit(tx, &[]).await?;
            row.filter(|row| row.expires_at > ms(now)).parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn federated_admin(
            store: &$store,
            provider: &IdentityProvider,
            subject: &str,
            verified_email: Option<&Email>,
            now: OffsetDateTime,
        ) -> StoreResult<Option<Admin>> {
            let customer = &provider.customer_id;
            let mut tx = store.write_tx().await?;
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
                    let by_email: Vec<(String,)> = sqlx::query_as(
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
            store.commit(tx, &changes).await?;
            Ok(member.map(|m| m.admin))
        }
    };
}
pub(crate) use queries;
