//! Console and API sessions, stored by digest.

use trustgate_core::ids::{AdminId, CustomerId};

use crate::error::{StoreError, StoreResult};
use crate::model::Session;
use crate::sql::from_ms;

#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    admin_id: String,
    csrf_token: String,
    expires_at: i64,
    customer_id: Option<String>,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;

    fn try_from(row: SessionRow) -> StoreResult<Session> {
        Ok(Session {
            admin_id: AdminId::parse(&row.admin_id)?,
            csrf_token: row.csrf_token,
            expires_at: from_ms(row.expires_at),
            customer_id: row.customer_id.as_deref().map(CustomerId::parse).transpose()?,
        })
    }
}

/// This domain's SQL, instantiated once per backend by [`crate::sql::store_impl!`] in a module
/// of the same name inside the backend's module.
macro_rules! queries {
    ($store:ty, $db:ty) => {
        use crate::error::StoreResult;
        use crate::model::Session;
        use crate::sql::sessions::SessionRow;
        use crate::sql::{ms, Parsed};
        use time::OffsetDateTime;
        use trustgate_core::ids::{AdminId, CustomerId};

        use super::Tx;

        /// Ends every console and API session of `admin`, in the transaction of the change that
        /// calls for it (issue #8): a session must not outlive the standing it was opened with.
        pub(super) async fn end_sessions(tx: &mut Tx, admin: AdminId) -> StoreResult<()> {
            sqlx::query("DELETE FROM sessions WHERE admin_id = $1").bind(admin.to_string()).execute(&mut **tx).await?;
            Ok(())
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn create_session(
            store: &$store,
            digest: &[u8],
            session: &Session,
            at: OffsetDateTime,
        ) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
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
            store.commit(tx, &[]).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn session(store: &$store, digest: &[u8], now: OffsetDateTime) -> StoreResult<Option<Session>> {
            sqlx::query_as::<_, SessionRow>(
                "SELECT admin_id, csrf_token, expires_at, customer_id FROM sessions WHERE id_digest = $1 AND expires_at > $2",
            )
            .bind(digest.to_vec())
            .bind(ms(now))
            .fetch_optional(&store.pool)
            .await?
            .parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn delete_session(store: &$store, digest: &[u8]) -> StoreResult<()> {
            sqlx::query("DELETE FROM sessions WHERE id_digest = $1").bind(digest.to_vec()).execute(&store.pool).await?;
            Ok(())
        }
    };
}
pub(crate) use queries;
