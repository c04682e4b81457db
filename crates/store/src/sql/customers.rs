//! Customers and their policies.

use trustgate_core::customer::{Customer, DisabledOwnerPolicy, LostAccessPolicy};
use trustgate_core::ids::CustomerId;

use crate::error::{StoreError, StoreResult};
use crate::sql::from_ms;

/// The `SELECT … FROM customers` of a [`CustomerRow`], as a literal for `concat!`.
macro_rules! customer_select {
    () => {
        "SELECT id, name, disabled_owner_policy, require_local_mfa, lost_access_policy, created_at FROM customers "
    };
}
pub(crate) use customer_select;

#[derive(sqlx::FromRow)]
pub(crate) struct CustomerRow {
    id: String,
    name: String,
    disabled_owner_policy: String,
    require_local_mfa: i64,
    lost_access_policy: String,
    created_at: i64,
}

impl TryFrom<CustomerRow> for Customer {
    type Error = StoreError;

    fn try_from(row: CustomerRow) -> StoreResult<Customer> {
        Ok(Customer {
            id: CustomerId::parse(&row.id)?,
            name: row.name,
            disabled_owner_policy: DisabledOwnerPolicy::parse(&row.disabled_owner_policy)?,
            require_local_mfa: row.require_local_mfa != 0,
            lost_access_policy: LostAccessPolicy::parse(&row.lost_access_policy)?,
            created_at: from_ms(row.created_at),
        })
    }
}

/// This domain's SQL, instantiated once per backend by [`crate::sql::store_impl!`] in a module
/// of the same name inside the backend's module.
macro_rules! queries {
    ($store:ty, $db:ty) => {
        use time::OffsetDateTime;
        use trustgate_core::customer::{Customer, DisabledOwnerPolicy, LostAccessPolicy};
        use trustgate_core::event::{self, Actor};
        use trustgate_core::ids::CustomerId;

        use crate::changes::Change;
        use crate::error::{StoreError, StoreResult};
        use crate::sql::customers::CustomerRow;
        use crate::sql::{ms, Parsed};

        use super::feed::insert_changes;
        use super::system_log::insert_log;
        use super::Tx;

        /// `NotFound` unless `customer` exists.
        pub(super) async fn ensure_customer(tx: &mut Tx, customer: &CustomerId) -> StoreResult<()> {
            let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM customers WHERE id = $1")
                .bind(customer.as_str())
                .fetch_optional(&mut **tx)
                .await?;
            match exists {
                Some(_) => Ok(()),
                None => Err(StoreError::NotFound("customer")),
            }
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn create_customer(store: &$store, customer: &Customer, actor: &Actor) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
            let inserted = sqlx::query(
                "INSERT INTO customers (id, name, disabled_owner_policy, created_at, require_local_mfa, lost_access_policy) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(customer.id.as_str())
            .bind(&customer.name)
            .bind(customer.disabled_owner_policy.as_str())
            .bind(ms(customer.created_at))
            .bind(i64::from(customer.require_local_mfa))
            .bind(customer.lost_access_policy.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                return Err(StoreError::Conflict(format!("customer {} already exists", customer.id)));
            }
            insert_log(&mut tx, &event::customer_created(&customer.id, &customer.name, customer.created_at, actor))
                .await?;
            store.commit(tx, &[]).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn customer(store: &$store, id: &CustomerId) -> StoreResult<Option<Customer>> {
            sqlx::query_as::<_, CustomerRow>(concat!(crate::sql::customers::customer_select!(), "WHERE id = $1"))
                .bind(id.as_str())
                .fetch_optional(&store.pool)
                .await?
                .parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn customers(store: &$store) -> StoreResult<Vec<Customer>> {
            sqlx::query_as::<_, CustomerRow>(concat!(
                crate::sql::customers::customer_select!(),
                "ORDER BY created_at, id"
            ))
            .fetch_all(&store.pool)
            .await?
            .parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn set_disabled_owner_policy(
            store: &$store,
            id: &CustomerId,
            policy: DisabledOwnerPolicy,
            actor: &Actor,
        ) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
            let updated = sqlx::query("UPDATE customers SET disabled_owner_policy = $1 WHERE id = $2")
                .bind(policy.as_str())
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let now = OffsetDateTime::now_utc();
            let entry = event::policy_changed(id, policy, now, actor);
            <$store>::commit_setting(store, tx, id, updated, &entry, now).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn set_local_mfa_policy(
            store: &$store,
            id: &CustomerId,
            required: bool,
            actor: &Actor,
        ) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
            <$store>::lock_customer(&mut tx, id).await?;
            trustgate_core::lifecycle::set_mfa_policy(&super::admins::authority(&mut tx, id, actor).await?)?;
            let updated = sqlx::query("UPDATE customers SET require_local_mfa = $1 WHERE id = $2")
                .bind(i64::from(required))
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let now = OffsetDateTime::now_utc();
            let entry = event::local_mfa_policy_changed(id, required, now, actor);
            <$store>::commit_setting(store, tx, id, updated, &entry, now).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn set_lost_access_policy(
            store: &$store,
            id: &CustomerId,
            policy: LostAccessPolicy,
            actor: &Actor,
        ) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
            <$store>::lock_customer(&mut tx, id).await?;
            trustgate_core::lifecycle::set_lost_access_policy(&super::admins::authority(&mut tx, id, actor).await?)?;
            let updated = sqlx::query("UPDATE customers SET lost_access_policy = $1 WHERE id = $2")
                .bind(policy.as_str())
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let now = OffsetDateTime::now_utc();
            let entry = event::lost_access_policy_changed(id, policy, now, actor);
            <$store>::commit_setting(store, tx, id, updated, &entry, now).await
        }

        impl $store {
            /// Ends the change of one customer's setting: `NotFound` when no row was updated,
            /// else its system-log record and the change every node hears, in the same transaction.
            async fn commit_setting(
                &self,
                mut tx: Tx,
                id: &CustomerId,
                updated: u64,
                entry: &trustgate_core::event::LogEntry,
                now: OffsetDateTime,
            ) -> StoreResult<()> {
                if updated == 0 {
                    return Err(StoreError::NotFound("customer"));
                }
                insert_log(&mut tx, entry).await?;
                let changes = [Change::CustomerChanged(id.clone())];
                insert_changes(&mut tx, &changes, now).await?;
                self.commit(tx, &changes).await
            }
        }
    };
}
pub(crate) use queries;
