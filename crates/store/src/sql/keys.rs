//! Signing keys, the server key that seals secrets at rest, and token revocation.

use trustgate_core::custody::KeyAtRest;
use trustgate_core::token::UnknownAlgorithm;

use crate::error::{StoreError, StoreResult};
use crate::sql::from_ms;

/// A signing key as stored: sealed by the server key, never in clear.
#[derive(sqlx::FromRow)]
pub(crate) struct SigningKeyRow {
    kid: String,
    algorithm: String,
    format: String,
    private_key: Vec<u8>,
    created_at: i64,
}

impl TryFrom<SigningKeyRow> for KeyAtRest {
    type Error = StoreError;

    fn try_from(row: SigningKeyRow) -> StoreResult<KeyAtRest> {
        let kid = row.kid;
        let algorithm = row
            .algorithm
            .parse()
            .map_err(|e: UnknownAlgorithm| StoreError::Internal(format!("signing key {kid}: {e}")))?;
        Ok(KeyAtRest {
            kid,
            algorithm,
            format: row.format,
            bytes: row.private_key,
            created_at: from_ms(row.created_at),
        })
    }
}

/// This domain's SQL, instantiated once per backend by [`crate::sql::store_impl!`] in a module
/// of the same name inside the backend's module.
macro_rules! queries {
    ($store:ty, $db:ty) => {
        use crate::changes::Change;
        use crate::error::StoreResult;
        use crate::model::ServerKeyUse;
        use crate::sql::keys::SigningKeyRow;
        use crate::sql::{ms, Parsed};
        use time::OffsetDateTime;
        use trustgate_core::custody::KeyAtRest;
        use trustgate_core::event::LogEntry;
        use trustgate_core::ids::{ClientId, ProviderId};
        use trustgate_core::secret::ServerKeyId;
        use trustgate_core::token::{ALLOWED_SKEW_SECS, TOKEN_LIFETIME_SECS};

        use super::feed::insert_changes;
        use super::system_log::insert_log;

        #[tracing::instrument(skip_all)]
        pub(super) async fn signing_keys(store: &$store) -> StoreResult<Vec<KeyAtRest>> {
            sqlx::query_as::<_, SigningKeyRow>(
                "SELECT kid, algorithm, format, private_key, created_at FROM signing_keys \
                 ORDER BY created_at DESC, kid",
            )
            .fetch_all(&store.pool)
            .await?
            .parsed()
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn add_signing_key(store: &$store, key: &KeyAtRest, revoke_previous: bool) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
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
            store.commit(tx, &changes).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn reseal_signing_key(store: &$store, key: &KeyAtRest, from_format: &str) -> StoreResult<bool> {
            let mut tx = store.write_tx().await?;
            let updated =
                sqlx::query("UPDATE signing_keys SET format = $1, private_key = $2 WHERE kid = $3 AND format = $4")
                    .bind(&key.format)
                    .bind(&key.bytes)
                    .bind(&key.kid)
                    .bind(from_format)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            // A raw key is not used (issue #21): sealed, every node takes it up.
            let changes = if updated > 0 { vec![Change::KeysChanged] } else { Vec::new() };
            insert_changes(&mut tx, &changes, OffsetDateTime::now_utc()).await?;
            store.commit(tx, &changes).await?;
            if updated > 0 {
                store.scrub().await?;
            }
            Ok(updated > 0)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn stamp_server_key(store: &$store, key: &ServerKeyId) -> StoreResult<u64> {
            let mut tx = store.write_tx().await?;
            let mut stamped = 0;
            for update in [
                "UPDATE client_secrets SET server_key = $1 WHERE server_key IS NULL",
                "UPDATE resource_servers SET server_key = $1 WHERE server_key IS NULL",
                "UPDATE scim_tokens SET server_key = $1 WHERE server_key IS NULL",
            ] {
                stamped += sqlx::query(update).bind(key.as_str()).execute(&mut *tx).await?.rows_affected();
            }
            store.commit(tx, &[]).await?;
            Ok(stamped)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn server_key_use(store: &$store) -> StoreResult<Vec<ServerKeyUse>> {
            let mut uses: Vec<ServerKeyUse> = Vec::new();
            for (count_of, column) in [
                ("SELECT server_key, COUNT(*) FROM client_secrets GROUP BY server_key", 0),
                ("SELECT server_key, COUNT(*) FROM resource_servers GROUP BY server_key", 1),
                ("SELECT server_key, COUNT(*) FROM scim_tokens GROUP BY server_key", 2),
            ] {
                let counts = sqlx::query_as::<_, (Option<String>, i64)>(count_of).fetch_all(&store.pool).await?;
                for (key, count) in counts {
                    let key = crate::sql::clients::server_key_id(key)?;
                    let index = match uses.iter().position(|u| u.server_key == key) {
                        Some(index) => index,
                        None => {
                            uses.push(ServerKeyUse { server_key: key, ..ServerKeyUse::default() });
                            uses.len() - 1
                        }
                    };
                    let count = u64::try_from(count).unwrap_or_default();
                    let slot = &mut uses[index];
                    *[&mut slot.client_secrets, &mut slot.resource_servers, &mut slot.scim_tokens][column] = count;
                }
            }
            uses.sort_by(|a, b| a.server_key.cmp(&b.server_key));
            Ok(uses)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn reseal_under_server_key(
            store: &$store,
            keys: &[KeyAtRest],
            providers: &[(ProviderId, Vec<u8>)],
            entries: &[LogEntry],
        ) -> StoreResult<u64> {
            let mut tx = store.write_tx().await?;
            for key in keys {
                sqlx::query("UPDATE signing_keys SET format = $1, private_key = $2 WHERE kid = $3")
                    .bind(&key.format)
                    .bind(&key.bytes)
                    .bind(&key.kid)
                    .execute(&mut *tx)
                    .await?;
            }
            for (id, sealed) in providers {
                sqlx::query("UPDATE identity_providers SET sealed_secret = $1 WHERE id = $2")
                    .bind(sealed)
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            let ended = sqlx::query("DELETE FROM sessions").execute(&mut *tx).await?.rows_affected();
            for entry in entries {
                insert_log(&mut tx, entry).await?;
            }
            let changes = [Change::KeysChanged];
            insert_changes(&mut tx, &changes, OffsetDateTime::now_utc()).await?;
            store.commit(tx, &changes).await?;
            // The old sealed forms open under the old key: leave no page of them behind.
            store.scrub().await?;
            Ok(ended)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn revoke_token(
            store: &$store,
            client: ClientId,
            jti: &str,
            expires_at: OffsetDateTime,
            now: OffsetDateTime,
            cap: u64,
        ) -> StoreResult<()> {
            let mut tx = store.write_tx().await?;
            sqlx::query("DELETE FROM revoked_tokens WHERE expires_at <= $1").bind(ms(now)).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM revoked_before WHERE expires_at <= $1").bind(ms(now)).execute(&mut *tx).await?;
            let (held,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM revoked_tokens WHERE client_id = $1")
                .bind(client.to_string())
                .fetch_one(&mut *tx)
                .await?;
            let (capped,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM revoked_before WHERE client_id = $1")
                .bind(client.to_string())
                .fetch_one(&mut *tx)
                .await?;
            if capped > 0 || u64::try_from(held).unwrap_or(0) >= cap {
                // Past the cap, and for as long as tokens from before it can live: one row for
                // the client, whatever it revokes. Every token it holds from this second or
                // before is refused; its rows are covered by it.
                let second = now.unix_timestamp();
                let until = now + time::Duration::seconds(TOKEN_LIFETIME_SECS + ALLOWED_SKEW_SECS);
                sqlx::query(
                    "INSERT INTO revoked_before (client_id, not_before, expires_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (client_id) DO UPDATE SET not_before = excluded.not_before, expires_at = excluded.expires_at",
                )
                .bind(client.to_string())
                .bind(second)
                .bind(ms(until))
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM revoked_tokens WHERE client_id = $1")
                    .bind(client.to_string())
                    .execute(&mut *tx)
                    .await?;
                let changes = [Change::TokensRevokedBefore(client, second)];
                insert_changes(&mut tx, &changes, now).await?;
                return store.commit(tx, &changes).await;
            }
            // Revoking twice is no error (RFC 7009 §2.2): the first expiry stands, and only
            // the first revocation is announced.
            let inserted = sqlx::query(
                "INSERT INTO revoked_tokens (jti, expires_at, client_id) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING",
            )
            .bind(jti)
            .bind(ms(expires_at))
            .bind(client.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let changes = if inserted == 0 { Vec::new() } else { vec![Change::TokenRevoked(jti.to_owned())] };
            insert_changes(&mut tx, &changes, now).await?;
            store.commit(tx, &changes).await
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn revoked_before(
            store: &$store,
            now: OffsetDateTime,
        ) -> StoreResult<Vec<(ClientId, i64, OffsetDateTime)>> {
            let rows: Vec<(String, i64, i64)> =
                sqlx::query_as("SELECT client_id, not_before, expires_at FROM revoked_before WHERE expires_at > $1")
                    .bind(ms(now))
                    .fetch_all(&store.pool)
                    .await?;
            Ok(rows
                .into_iter()
                .filter_map(|(id, second, until)| Some((ClientId::parse(&id).ok()?, second, crate::sql::from_ms(until))))
                .collect())
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn revoked_tokens(
            store: &$store,
            now: OffsetDateTime,
        ) -> StoreResult<Vec<(String, OffsetDateTime)>> {
            Ok(sqlx::query_as::<_, (String, i64)>("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > $1")
                .bind(ms(now))
                .fetch_all(&store.pool)
                .await?
                .into_iter()
                .map(|(jti, expires_at)| (jti, crate::sql::from_ms(expires_at)))
                .collect())
        }
    };
}
pub(crate) use queries;
