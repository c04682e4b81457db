//! The change feed: rows written in the transaction of a change, announced on commit.

/// This domain's SQL, instantiated once per backend by [`crate::sql::store_impl!`] in a module
/// of the same name inside the backend's module.
macro_rules! queries {
    ($store:ty, $db:ty) => {
        use crate::changes::Change;
        use crate::error::StoreResult;
        use crate::sql::ms;
        use time::OffsetDateTime;

        use super::Tx;

        pub(super) async fn insert_changes(tx: &mut Tx, changes: &[Change], at: OffsetDateTime) -> StoreResult<()> {
            for change in changes {
                let (customer, admin, client) = change.columns();
                sqlx::query(
                    "INSERT INTO changes (kind, customer_id, admin_id, client_id, at) VALUES ($1, $2, $3, $4, $5)",
                )
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

        impl $store {
            pub(super) async fn commit(&self, tx: Tx, changes: &[Change]) -> StoreResult<()> {
                tx.commit().await?;
                self.listener.publish(changes);
                Ok(())
            }
        }
    };
}
pub(crate) use queries;
