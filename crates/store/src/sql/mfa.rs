//! Local administrators' second factor (issue #25): the sealed TOTP secret with the last time step
//! it accepted, and one-time recovery codes kept as keyed digests.

use crate::error::StoreResult;
use crate::model::TotpEnrolment;

#[derive(sqlx::FromRow)]
pub(crate) struct TotpRow {
    sealed_secret: Vec<u8>,
    confirmed_at: Option<i64>,
    last_step: i64,
}

impl TryFrom<TotpRow> for TotpEnrolment {
    type Error = crate::error::StoreError;

    fn try_from(row: TotpRow) -> StoreResult<TotpEnrolment> {
        Ok(TotpEnrolment {
            sealed_secret: row.sealed_secret,
            confirmed: row.confirmed_at.is_some(),
            last_step: row.last_step,
        })
    }
}

/// This domain's SQL, instantiated once per backend by [`crate::sql::store_impl!`] in a module
/// of the same name inside the backend's module.
macro_rules! queries {
    ($store:ty, $db:ty) => {
        use time::OffsetDateTime;
        use trustgate_core::admin::Admin;
        use trustgate_core::event::{self, Actor};
        use trustgate_core::ids::{AdminId, CustomerId};
        use trustgate_core::lifecycle;

        use crate::error::{StoreError, StoreResult};
        use crate::model::TotpEnrolment;
        use crate::sql::mfa::TotpRow;
        use crate::sql::{ms, Parsed};

        use super::admins::{authority, load_member};
        use super::sessions::end_sessions;
        use super::system_log::insert_log;
        use super::Tx;

        /// The customers where `admin` is an accepted member: where their sign-ins are logged.
        pub(super) async fn accepted_customers(tx: &mut Tx, admin: AdminId) -> StoreResult<Vec<CustomerId>> {
            sqlx::query_as::<_, (String,)>(concat!(
                "SELECT m.customer_id FROM memberships m WHERE m.admin_id = $1 AND ",
                crate::sql::admins::accepted!(),
                " ORDER BY m.customer_id"
            ))
            .bind(admin.to_string())
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .map(|(c,)| CustomerId::parse(&c).map_err(StoreError::from))
            .collect()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn totp(store: &$store, admin: AdminId) -> StoreResult<Option<TotpEnrolment>> {
            sqlx::query_as::<_, TotpRow>(
                "SELECT sealed_secret, confirmed_at, last_step FROM admin_totp WHERE admin_id = $1",
            )
            .bind(admin.to_string())
            .fetch_optional(&store.pool)
            .await?
            .parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn begin_totp(
            store: &$store,
            admin: AdminId,
            sealed: &[u8],
            at: OffsetDateTime,
        ) -> StoreResult<bool> {
            let mut tx = store.write_tx().await?;
            // A confirmed factor is never replaced this way: only a reset removes it.
            let written = sqlx::query(
                "INSERT INTO admin_totp (admin_id, sealed_secret, created_at, confirmed_at, last_step) \
                 VALUES ($1, $2, $3, NULL, 0) \
                 ON CONFLICT (admin_id) DO UPDATE SET sealed_secret = excluded.sealed_secret, \
                 created_at = excluded.created_at WHERE admin_totp.confirmed_at IS NULL",
            )
            .bind(admin.to_string())
            .bind(sealed.to_vec())
            .bind(ms(at))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            store.commit(tx, &[]).await?;
            Ok(written == 1)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn confirm_totp(
            store: &$store,
            admin: &Admin,
            sealed: &[u8],
            step: i64,
            recovery: &[[u8; 32]],
            at: OffsetDateTime,
        ) -> StoreResult<bool> {
            let mut tx = store.write_tx().await?;
            let confirmed = sqlx::query(
                "UPDATE admin_totp SET confirmed_at = $1, last_step = $2 \
                 WHERE admin_id = $3 AND sealed_secret = $4 AND confirmed_at IS NULL",
            )
            .bind(ms(at))
            .bind(step)
            .bind(admin.id.to_string())
            .bind(sealed.to_vec())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if confirmed != 1 {
                return Ok(false);
            }
            sqlx::query("DELETE FROM admin_recovery_codes WHERE admin_id = $1")
                .bind(admin.id.to_string())
                .execute(&mut *tx)
                .await?;
            for digest in recovery {
                sqlx::query("INSERT INTO admin_recovery_codes (admin_id, digest, used_at) VALUES ($1, $2, NULL)")
                    .bind(admin.id.to_string())
                    .bind(digest.to_vec())
                    .execute(&mut *tx)
                    .await?;
            }
            for customer in accepted_customers(&mut tx, admin.id).await? {
                insert_log(&mut tx, &event::second_factor_enrolled(&customer, admin, at)).await?;
            }
            store.commit(tx, &[]).await?;
            Ok(true)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn spend_totp_step(store: &$store, admin: AdminId, step: i64) -> StoreResult<bool> {
            // One statement: of two sign-ins racing with the same code, one moves the step on.
            let spent = sqlx::query(
                "UPDATE admin_totp SET last_step = $1 \
                 WHERE admin_id = $2 AND last_step < $1 AND confirmed_at IS NOT NULL",
            )
            .bind(step)
            .bind(admin.to_string())
            .execute(&store.pool)
            .await?
            .rows_affected();
            Ok(spent == 1)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn spend_recovery_code(
            store: &$store,
            admin: &Admin,
            digests: &[[u8; 32]],
            at: OffsetDateTime,
        ) -> StoreResult<Option<u64>> {
            let mut tx = store.write_tx().await?;
            let mut spent = 0;
            for digest in digests {
                spent += sqlx::query(
                    "UPDATE admin_recovery_codes SET used_at = $1 \
                     WHERE admin_id = $2 AND digest = $3 AND used_at IS NULL",
                )
                .bind(ms(at))
                .bind(admin.id.to_string())
                .bind(digest.to_vec())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            if spent == 0 {
                return Ok(None);
            }
            let (left,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM admin_recovery_codes WHERE admin_id = $1 AND used_at IS NULL")
                    .bind(admin.id.to_string())
                    .fetch_one(&mut *tx)
                    .await?;
            let left = u64::try_from(left).unwrap_or(0);
            for customer in accepted_customers(&mut tx, admin.id).await? {
                insert_log(&mut tx, &event::recovery_code_used(&customer, admin, left, at)).await?;
            }
            store.commit(tx, &[]).await?;
            Ok(Some(left))
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn sealed_totp_secrets(store: &$store) -> StoreResult<Vec<(AdminId, Vec<u8>)>> {
            sqlx::query_as::<_, (String, Vec<u8>)>("SELECT admin_id, sealed_secret FROM admin_totp ORDER BY admin_id")
                .fetch_all(&store.pool)
                .await?
                .into_iter()
                .map(|(admin, sealed)| Ok((AdminId::parse(&admin)?, sealed)))
                .collect()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn reseal_totp_secrets(store: &$store, resealed: &[(AdminId, Vec<u8>, Vec<u8>)]) -> StoreResult<u64> {
            let mut tx = store.write_tx().await?;
            let mut done = 0;
            for (admin, replaces, sealed) in resealed {
                // Only the secret that was read: one enrolled or reset meanwhile stays as it is now.
                done += sqlx::query("UPDATE admin_totp SET sealed_secret = $1 WHERE admin_id = $2 AND sealed_secret = $3")
                    .bind(sealed.clone())
                    .bind(admin.to_string())
                    .bind(replaces.clone())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            store.commit(tx, &[]).await?;
            Ok(done)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn reset_second_factor(
            store: &$store,
            customer: &CustomerId,
            admin: AdminId,
            actor: &Actor,
        ) -> StoreResult<bool> {
            let mut tx = store.write_tx().await?;
            <$store>::lock_customer(&mut tx, customer).await?;
            let authority = authority(&mut tx, customer, actor).await?;
            let member = load_member(&mut tx, customer, admin).await?.ok_or(StoreError::NotFound("administrator"))?;
            let own = matches!(actor, Actor::Admin { id, .. } if *id == admin);
            lifecycle::reset_second_factor(&authority, own)?;
            let mut removed = sqlx::query("DELETE FROM admin_totp WHERE admin_id = $1 AND confirmed_at IS NOT NULL")
                .bind(admin.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            removed += sqlx::query("DELETE FROM admin_passkeys WHERE admin_id = $1")
                .bind(admin.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM admin_recovery_codes WHERE admin_id = $1")
                .bind(admin.to_string())
                .execute(&mut *tx)
                .await?;
            if removed == 0 {
                return Ok(false);
            }
            // A session opened with the lost factor must not outlive it.
            end_sessions(&mut tx, admin).await?;
            let now = OffsetDateTime::now_utc();
            insert_log(&mut tx, &event::second_factor_reset(customer, &member.admin, now, actor)).await?;
            store.commit(tx, &[]).await?;
            Ok(true)
        }
    };
}
pub(crate) use queries;
