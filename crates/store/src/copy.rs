//! Moving a deployment that outgrew one box: the embedded SQLite store copied into PostgreSQL,
//! rows as they are, so client secrets (their verifiers), signing keys (sealed under the server
//! key, which the PostgreSQL nodes share) and the system log carry over and no credential has to
//! be re-issued. Sessions and the change feed are not copied:
//! administrators sign in again, and a new deployment has no cache to invalidate.

use crate::error::{StoreError, StoreResult};
use crate::postgres::PostgresStore;
use crate::sqlite::SqliteStore;
use crate::Store;

/// Copies every table in one PostgreSQL transaction; refuses a target that already holds customers.
/// `progress` hears each table's name and row count as it is copied.
pub async fn copy_sqlite_to_postgres(
    source: &SqliteStore,
    target: &PostgresStore,
    progress: impl Fn(&str, u64),
) -> StoreResult<Vec<(&'static str, u64)>> {
    let (src, dst) = (source.pool(), target.pool());
    let (existing,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM customers").fetch_one(dst).await?;
    if existing > 0 {
        return Err(StoreError::Conflict(
            "the target database already holds customers; copy into an empty one".to_owned(),
        ));
    }
    let mut tx = dst.begin().await?;
    let mut copied = Vec::new();
    macro_rules! copy_table {
        ($table:literal, $columns:literal, $placeholders:literal, $row:ty, ($($field:tt),+)) => {{
            let rows: Vec<$row> = sqlx::query_as(concat!("SELECT ", $columns, " FROM ", $table)).fetch_all(src).await?;
            for row in &rows {
                sqlx::query(concat!("INSERT INTO ", $table, " (", $columns, ") VALUES (", $placeholders, ")"))
                    $(.bind(&row.$field))+
                    .execute(&mut *tx)
                    .await?;
            }
            let count = u64::try_from(rows.len()).unwrap_or(u64::MAX);
            progress($table, count);
            copied.push(($table, count));
        }};
    }
    copy_table!(
        "customers",
        "id, name, disabled_owner_policy, created_at",
        "$1, $2, $3, $4",
        (String, String, String, i64),
        (0, 1, 2, 3)
    );
    copy_table!(
        "admins",
        "id, email, display_name, provider, external_id, status, password_hash, created_at",
        "$1, $2, $3, $4, $5, $6, $7, $8",
        (String, String, String, String, Option<String>, String, Option<String>, i64),
        (0, 1, 2, 3, 4, 5, 6, 7)
    );
    copy_table!(
        "memberships",
        "customer_id, admin_id, access_type, permissions, created_at, updated_at, email, display_name",
        "$1, $2, $3, $4, $5, $6, $7, $8",
        (String, String, String, String, i64, i64, String, String),
        (0, 1, 2, 3, 4, 5, 6, 7)
    );
    copy_table!(
        "api_clients",
        "id, customer_id, owner_id, name, created_at, last_used_at, access_type, permissions",
        "$1, $2, $3, $4, $5, $6, $7, $8",
        (String, String, Option<String>, String, i64, Option<i64>, Option<String>, Option<String>),
        (0, 1, 2, 3, 4, 5, 6, 7)
    );
    copy_table!(
        "client_secrets",
        "client_id, id, legacy, verifier, created_at, created_by, expires_at, last_used_at, warned_at, expiry_logged_at",
        "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10",
        (String, String, i64, Vec<u8>, i64, String, Option<i64>, Option<i64>, Option<i64>, Option<i64>),
        (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
    );
    copy_table!(
        "scim_tokens",
        "id, customer_id, name, provider, digest, created_by, created_at",
        "$1, $2, $3, $4, $5, $6, $7",
        (String, String, String, String, Vec<u8>, String, i64),
        (0, 1, 2, 3, 4, 5, 6)
    );
    copy_table!(
        "scim_users",
        "customer_id, admin_id, user_name, user_name_key, external_id, document, version, created_at, updated_at",
        "$1, $2, $3, $4, $5, $6, $7, $8, $9",
        (String, String, String, String, Option<String>, String, i64, i64, i64),
        (0, 1, 2, 3, 4, 5, 6, 7, 8)
    );
    copy_table!(
        "signing_keys",
        "kid, algorithm, format, private_key, created_at",
        "$1, $2, $3, $4, $5",
        (String, String, String, Vec<u8>, i64),
        (0, 1, 2, 3, 4)
    );
    // OpenID sign-in (issue #12): connections (secrets stay sealed under the same server key) and
    // the (issuer, subject) links; sign-ins under way and sessions are not carried over.
    copy_table!(
        "identity_providers",
        "id, customer_id, provider_type, issuer, client_id, sealed_secret, email_claim, created_at",
        "$1, $2, $3, $4, $5, $6, $7, $8",
        (String, String, String, String, String, Vec<u8>, String, i64),
        (0, 1, 2, 3, 4, 5, 6, 7)
    );
    copy_table!(
        "federated_identities",
        "issuer, subject, admin_id, created_at",
        "$1, $2, $3, $4",
        (String, String, String, i64),
        (0, 1, 2, 3)
    );
    copy_table!(
        "notifications",
        "id, customer_id, destination_admin, body, created_at",
        "$1, $2, $3, $4, $5",
        (String, String, String, String, i64),
        (0, 1, 2, 3, 4)
    );
    copy_table!("system_log",
        "seq, record_id, customer_id, at, event_type, actor_type, actor_id, actor_name, target_type, target_id, target_name, message, before_json, after_json",
        "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14",
        crate::sql::LogRow, (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13));
    // Continuation tokens carry `seq`: new records must follow the copied ones.
    sqlx::query(
        "SELECT setval(pg_get_serial_sequence('system_log', 'seq'), GREATEST((SELECT MAX(seq) FROM system_log), 1))",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    // The copy is complete; statistics only speed up what follows, and autovacuum makes them too.
    if let Err(error) = target.refresh_statistics().await {
        tracing::warn!(%error, "the copy is complete, but analyzing the copied tables failed; run ANALYZE");
    }
    Ok(copied)
}
