//! Moving a deployment that outgrew one box: the embedded SQLite store copied into PostgreSQL,
//! rows as they are, so client secrets (their verifiers), signing keys (sealed under the server
//! key, which the PostgreSQL nodes share), the permission catalog, revocations and the system log
//! carry over and no credential has to be re-issued.
//!
//! Every table of the source is copied, or named in [`NOT_COPIED`] with the reason: a table (or a
//! column) the copy does not know refuses the copy rather than being left behind (issue #21, item
//! 10), and before it commits, the copy compares each table's row count in the source with the
//! target's.

use std::collections::BTreeSet;

use crate::error::{StoreError, StoreResult};
use crate::postgres::PostgresStore;
use crate::sqlite::SqliteStore;
use crate::Store;

/// The tables of the SQLite store deliberately not copied, and why.
pub const NOT_COPIED: &[(&str, &str)] = &[
    ("_sqlx_migrations", "the target's own migrations made its schema"),
    ("sessions", "console sessions: administrators sign in again"),
    ("changes", "the change feed: a new deployment has no cache to invalidate"),
    ("oidc_sign_ins", "OpenID sign-ins under way: they start over"),
    ("webauthn_ceremonies", "passkey ceremonies under way: they start over"),
];

/// One copied table: its rows in the source, and in the target once copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedTable {
    pub table: &'static str,
    pub source_rows: u64,
    pub target_rows: u64,
}

/// Copies every table in one PostgreSQL transaction, from one read transaction of the source (one
/// consistent snapshot); refuses a target that already holds customers, and a source with a table
/// or column this copy does not know. Before committing, compares every table's row counts and
/// refuses any difference. `progress` hears each table's name and row count as it is copied.
pub async fn copy_sqlite_to_postgres(
    source: &SqliteStore,
    target: &PostgresStore,
    progress: impl Fn(&str, u64),
) -> StoreResult<Vec<CopiedTable>> {
    let (src, dst) = (source.pool(), target.pool());
    let (existing,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM customers").fetch_one(dst).await?;
    if existing > 0 {
        return Err(StoreError::Conflict(
            "the target database already holds customers; copy into an empty one".to_owned(),
        ));
    }
    let mut read = src.begin().await?;
    let mut tx = dst.begin().await?;
    let mut copied: Vec<(&'static str, &'static str, u64)> = Vec::new();
    macro_rules! copy_table {
        ($table:literal, $columns:literal, $placeholders:literal, $row:ty, ($($field:tt),+)) => {{
            let rows: Vec<$row> =
                sqlx::query_as(concat!("SELECT ", $columns, " FROM ", $table)).fetch_all(&mut *read).await?;
            for row in &rows {
                sqlx::query(concat!("INSERT INTO ", $table, " (", $columns, ") VALUES (", $placeholders, ")"))
                    $(.bind(&row.$field))+
                    .execute(&mut *tx)
                    .await?;
            }
            let count = u64::try_from(rows.len()).unwrap_or(u64::MAX);
            progress($table, count);
            copied.push(($table, $columns, count));
        }};
    }
    copy_table!(
        "customers",
        "id, name, disabled_owner_policy, created_at, require_local_mfa, lost_access_policy",
        "$1, $2, $3, $4, $5, $6",
        (String, String, String, i64, i64, String),
        (0, 1, 2, 3, 4, 5)
    );
    copy_table!(
        "admins",
        "id, email, display_name, provider, external_id, status, password_hash, created_at, provider_id",
        "$1, $2, $3, $4, $5, $6, $7, $8, $9",
        (String, String, String, String, Option<String>, String, Option<String>, i64, Option<String>),
        (0, 1, 2, 3, 4, 5, 6, 7, 8)
    );
    copy_table!(
        "memberships",
        "customer_id, admin_id, access_type, permissions, created_at, updated_at, email, display_name, \
         group_access_type, group_permissions",
        "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10",
        (String, String, String, String, i64, i64, String, String, String, String),
        (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
    );
    // Groups (issue #25) after the memberships their members hold.
    copy_table!(
        "admin_groups",
        "id, customer_id, display_name, display_name_key, external_id, access_type, permissions, document, \
         version, created_at, updated_at",
        "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11",
        (String, String, String, String, Option<String>, String, String, String, i64, i64, i64),
        (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
    );
    copy_table!(
        "admin_group_members",
        "group_id, customer_id, admin_id",
        "$1, $2, $3",
        (String, String, String),
        (0, 1, 2)
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
        "client_id, id, legacy, verifier, created_at, created_by, expires_at, last_used_at, warned_at, expiry_logged_at, server_key",
        "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11",
        (
            String,
            String,
            i64,
            Vec<u8>,
            i64,
            String,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<String>
        ),
        (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
    );
    copy_table!(
        "scim_tokens",
        "id, customer_id, name, provider, digest, created_by, created_at, provider_id, server_key",
        "$1, $2, $3, $4, $5, $6, $7, $8, $9",
        (String, String, String, String, Vec<u8>, String, i64, Option<String>, Option<String>),
        (0, 1, 2, 3, 4, 5, 6, 7, 8)
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
    // `tx` is 0 in SQLite and stays 0: copied records come before every later one, as webhook
    // cursors (copied below) expect.
    copy_table!("system_log",
        "seq, record_id, customer_id, at, event_type, actor_type, actor_id, actor_name, target_type, target_id, target_name, message, before_json, after_json, tx",
        "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15",
        (i64, String, String, i64, String, String, Option<String>, String, String, String, String, String, Option<String>, Option<String>, i64), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14));
    // Sealed secrets and headers open on PostgreSQL nodes sharing the server key; leases are
    // the SQLite process's, which no longer delivers.
    copy_table!(
        "webhook_endpoints",
        "id, customer_id, url, description, event_types, style, citrix_event_type, citrix_change_type, sealed_secret, sealed_previous_secret, previous_until, sealed_auth_headers, created_by, created_at, cursor_tx, cursor_seq, state, failing_since, next_attempt_at, failures, lease, lease_until",
        "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, NULL, NULL",
        crate::sql::webhooks::EndpointRow,
        (id, customer_id, url, description, event_types, style, citrix_event_type, citrix_change_type, sealed_secret,
         sealed_previous_secret, previous_until, sealed_auth_headers, created_by, created_at, cursor_tx, cursor_seq,
         state, failing_since, next_attempt_at, failures)
    );
    copy_table!(
        "webhook_attempts",
        "seq, endpoint_id, webhook_id, record_seq, event_type, at, status, error, duration_ms",
        "$1, $2, $3, $4, $5, $6, $7, $8, $9",
        (i64, String, String, i64, String, i64, Option<i32>, Option<String>, i64),
        (0, 1, 2, 3, 4, 5, 6, 7, 8)
    );
    // A stream resumes where it stood: copied records keep tx 0, before every later one.
    copy_table!(
        "siem_streams",
        "name, cursor_tx, cursor_seq, lease, lease_until",
        "$1, $2, $3, NULL, NULL",
        (String, i64, i64),
        (0, 1, 2)
    );
    // Issue #21, item 10: the catalog, revocations, invitations and resource servers were left
    // behind. Revocations must come along, or revoked tokens verify again after the move.
    copy_table!(
        "catalog_services",
        "ordinal, name, display_name, description",
        "$1, $2, $3, $4",
        (i64, String, String, Option<String>),
        (0, 1, 2, 3)
    );
    copy_table!(
        "catalog_permissions",
        "ordinal, service, name, display_name, description",
        "$1, $2, $3, $4, $5",
        (i64, String, String, String, Option<String>),
        (0, 1, 2, 3, 4)
    );
    copy_table!(
        "catalog_routes",
        "ordinal, method, path, permission, customer",
        "$1, $2, $3, $4, $5",
        (i64, String, String, String, String),
        (0, 1, 2, 3, 4)
    );
    copy_table!("revoked_tokens", "jti, expires_at, client_id", "$1, $2, $3", (String, i64, Option<String>), (0, 1, 2));
    copy_table!("revoked_before", "client_id, not_before, expires_at", "$1, $2, $3", (String, i64, i64), (0, 1, 2));
    copy_table!(
        "invitations",
        "customer_id, admin_id, verifier, created_at, expires_at, expiry_logged",
        "$1, $2, $3, $4, $5, $6",
        (String, String, Vec<u8>, i64, i64, i64),
        (0, 1, 2, 3, 4, 5)
    );
    copy_table!(
        "resource_servers",
        "id, name, verifier, created_at, server_key",
        "$1, $2, $3, $4, $5",
        (String, String, Vec<u8>, i64, Option<String>),
        (0, 1, 2, 3, 4)
    );
    // Second factors (issue #25): TOTP secrets stay sealed under the same server key, recovery
    // codes stay keyed digests under it.
    copy_table!(
        "admin_totp",
        "admin_id, sealed_secret, created_at, confirmed_at, last_step",
        "$1, $2, $3, $4, $5",
        (String, Vec<u8>, i64, Option<i64>, i64),
        (0, 1, 2, 3, 4)
    );
    copy_table!(
        "admin_recovery_codes",
        "admin_id, digest, used_at",
        "$1, $2, $3",
        (String, Vec<u8>, Option<i64>),
        (0, 1, 2)
    );
    // Passkeys are public keys and counters: nothing sealed.
    copy_table!(
        "admin_passkeys",
        "id, admin_id, name, credential_id, passkey, sign_count, created_at, last_used_at",
        "$1, $2, $3, $4, $5, $6, $7, $8",
        (String, String, String, Vec<u8>, String, i64, i64, Option<i64>),
        (0, 1, 2, 3, 4, 5, 6, 7)
    );
    // Continuation tokens carry `seq`: new records must follow the copied ones.
    sqlx::query(
        "SELECT setval(pg_get_serial_sequence('system_log', 'seq'), GREATEST((SELECT MAX(seq) FROM system_log), 1))",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "SELECT setval(pg_get_serial_sequence('webhook_attempts', 'seq'), GREATEST((SELECT MAX(seq) FROM webhook_attempts), 1))",
    )
    .execute(&mut *tx)
    .await?;

    // Nothing is committed unless every table and column of the source was accounted for and
    // every table holds in the target the rows it held in the source.
    let (tables,): (String,) = sqlx::query_as(
        "SELECT COALESCE(group_concat(name, ' '), '') FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_one(&mut *read)
    .await?;
    let known: BTreeSet<&str> =
        copied.iter().map(|(table, _, _)| *table).chain(NOT_COPIED.iter().map(|(table, _)| *table)).collect();
    let unknown: Vec<&str> = tables.split_whitespace().filter(|table| !known.contains(table)).collect();
    if !unknown.is_empty() {
        return Err(StoreError::Conflict(format!(
            "the store has tables this copy does not know ({}); refusing rather than leaving them behind",
            unknown.join(", ")
        )));
    }
    let mut compared = Vec::with_capacity(copied.len());
    for (table, columns, copied_rows) in copied {
        let (held,): (String,) =
            sqlx::query_as("SELECT COALESCE(group_concat(name, ' '), '') FROM pragma_table_info(?)")
                .bind(table)
                .fetch_one(&mut *read)
                .await?;
        let listed: BTreeSet<&str> = columns.split(',').map(str::trim).collect();
        let missed: Vec<&str> = held.split_whitespace().filter(|column| !listed.contains(column)).collect();
        if !missed.is_empty() {
            return Err(StoreError::Conflict(format!(
                "the columns {} of {table} are not copied; refusing rather than leaving them behind",
                missed.join(", ")
            )));
        }
        let (source_rows,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"))).fetch_one(&mut *read).await?;
        let (target_rows,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"))).fetch_one(&mut *tx).await?;
        let (source_rows, target_rows) =
            (u64::try_from(source_rows).unwrap_or(0), u64::try_from(target_rows).unwrap_or(0));
        if source_rows != target_rows || source_rows != copied_rows {
            return Err(StoreError::Internal(format!(
                "{table}: {source_rows} rows in SQLite but {target_rows} in PostgreSQL; nothing was committed"
            )));
        }
        compared.push(CopiedTable { table, source_rows, target_rows });
    }
    tx.commit().await?;
    read.rollback().await?;
    // The copy is complete; statistics only speed up what follows, and autovacuum makes them too.
    if let Err(error) = target.refresh_statistics().await {
        tracing::warn!(%error, "the copy is complete, but analyzing the copied tables failed; run ANALYZE");
    }
    Ok(compared)
}
