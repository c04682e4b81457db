//! Local administrators' WebAuthn passkeys (issue #25 item 4), and the ceremonies under way: the
//! state a node keeps between handing out a challenge and checking the answer, here so that any
//! node of the deployment can finish it, and once.

use trustgate_core::ids::{AdminId, PasskeyId};

use crate::error::{StoreError, StoreResult};
use crate::model::{Ceremony, StoredPasskey};
use crate::sql::from_ms;

#[derive(sqlx::FromRow)]
pub(crate) struct PasskeyRow {
    id: String,
    admin_id: String,
    name: String,
    credential_id: Vec<u8>,
    passkey: String,
    sign_count: i64,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl TryFrom<PasskeyRow> for StoredPasskey {
    type Error = StoreError;

    fn try_from(row: PasskeyRow) -> StoreResult<StoredPasskey> {
        Ok(StoredPasskey {
            id: PasskeyId::parse(&row.id)?,
            admin_id: AdminId::parse(&row.admin_id)?,
            name: row.name,
            credential_id: row.credential_id,
            passkey: row.passkey,
            sign_count: row.sign_count,
            created_at: from_ms(row.created_at),
            last_used_at: row.last_used_at.map(from_ms),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CeremonyRow {
    admin_id: Option<String>,
    state: String,
    expires_at: i64,
}

impl CeremonyRow {
    pub(crate) fn live_at(self, now: i64) -> StoreResult<Option<Ceremony>> {
        if self.expires_at <= now {
            return Ok(None);
        }
        let admin_id = self.admin_id.as_deref().map(AdminId::parse).transpose()?;
        Ok(Some(Ceremony { admin_id, state: self.state }))
    }
}

/// This domain's SQL, instantiated once per backend by [`crate::sql::store_impl!`] in a module
/// of the same name inside the backend's module.
macro_rules! queries {
    ($store:ty, $db:ty) => {
        use time::OffsetDateTime;
        use trustgate_core::admin::Admin;
        use trustgate_core::event;
        use trustgate_core::ids::{AdminId, PasskeyId};

        use crate::error::StoreResult;
        use crate::model::{Ceremony, StoredPasskey};
        use crate::sql::passkeys::{CeremonyRow, PasskeyRow};
        use crate::sql::{ms, Parsed};

        use super::mfa::accepted_customers;
        use super::system_log::insert_log;

        #[tracing::instrument(skip_all)]
        pub(super) async fn passkeys(store: &$store, admin: AdminId) -> StoreResult<Vec<StoredPasskey>> {
            sqlx::query_as::<_, PasskeyRow>(
                "SELECT id, admin_id, name, credential_id, passkey, sign_count, created_at, last_used_at \
                 FROM admin_passkeys WHERE admin_id = $1 ORDER BY created_at, id",
            )
            .bind(admin.to_string())
            .fetch_all(&store.pool)
            .await?
            .parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn add_passkey(store: &$store, admin: &Admin, passkey: &StoredPasskey) -> StoreResult<bool> {
            let mut tx = store.write_tx().await?;
            // A credential is one administrator's: registered once in the whole deployment.
            let added = sqlx::query(
                "INSERT INTO admin_passkeys (id, admin_id, name, credential_id, passkey, sign_count, created_at, last_used_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, NULL) ON CONFLICT (credential_id) DO NOTHING",
            )
            .bind(passkey.id.to_string())
            .bind(admin.id.to_string())
            .bind(&passkey.name)
            .bind(&passkey.credential_id)
            .bind(&passkey.passkey)
            .bind(passkey.sign_count)
            .bind(ms(passkey.created_at))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if added != 1 {
                return Ok(false);
            }
            for customer in accepted_customers(&mut tx, admin.id).await? {
                insert_log(&mut tx, &event::passkey_registered(&customer, admin, &passkey.name, passkey.created_at))
                    .await?;
            }
            store.commit(tx, &[]).await?;
            Ok(true)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn use_passkey(
            store: &$store,
            admin: AdminId,
            credential_id: &[u8],
            sign_count: i64,
            passkey: &str,
            at: OffsetDateTime,
        ) -> StoreResult<bool> {
            // One statement: of two sign-ins racing with answers of one counter value, one passes.
            // W3C WebAuthn §7.2 step 21: a nonzero counter must move past the stored one.
            let used = sqlx::query(
                "UPDATE admin_passkeys SET sign_count = $1, passkey = $2, last_used_at = $3 \
                 WHERE admin_id = $4 AND credential_id = $5 \
                 AND (sign_count < $1 OR ($1 = 0 AND sign_count = 0))",
            )
            .bind(sign_count)
            .bind(passkey)
            .bind(ms(at))
            .bind(admin.to_string())
            .bind(credential_id)
            .execute(&store.pool)
            .await?
            .rows_affected();
            Ok(used == 1)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn delete_passkey(
            store: &$store,
            admin: &Admin,
            id: PasskeyId,
            at: OffsetDateTime,
        ) -> StoreResult<bool> {
            let mut tx = store.write_tx().await?;
            let deleted = sqlx::query_as::<_, (String,)>(
                "DELETE FROM admin_passkeys WHERE id = $1 AND admin_id = $2 RETURNING name",
            )
            .bind(id.to_string())
            .bind(admin.id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
            let Some((name,)) = deleted else { return Ok(false) };
            for customer in accepted_customers(&mut tx, admin.id).await? {
                insert_log(&mut tx, &event::passkey_deleted(&customer, admin, &name, at)).await?;
            }
            store.commit(tx, &[]).await?;
            Ok(true)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn put_ceremony(
            store: &$store,
            binding: &[u8],
            admin: Option<AdminId>,
            state: &str,
            expires_at: OffsetDateTime,
        ) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
            sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_at <= $1")
                .bind(ms(OffsetDateTime::now_utc()))
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO webauthn_ceremonies (binding, admin_id, state, expires_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (binding) DO UPDATE SET admin_id = excluded.admin_id, state = excluded.state, \
                 expires_at = excluded.expires_at",
            )
            .bind(binding)
            .bind(admin.map(|a| a.to_string()))
            .bind(state)
            .bind(ms(expires_at))
            .execute(&mut *tx)
            .await?;
            store.commit(tx, &[]).await?;
            Ok(())
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn take_ceremony(
            store: &$store,
            binding: &[u8],
            now: OffsetDateTime,
        ) -> StoreResult<Option<Ceremony>> {
            // Deleted as it is read: of two answers to one challenge, one finds it.
            let taken = sqlx::query_as::<_, CeremonyRow>(
                "DELETE FROM webauthn_ceremonies WHERE binding = $1 RETURNING admin_id, state, expires_at",
            )
            .bind(binding)
            .fetch_optional(&store.pool)
            .await?;
            match taken {
                Some(row) => row.live_at(ms(now)),
                None => Ok(None),
            }
        }
    };
}
pub(crate) use queries;
