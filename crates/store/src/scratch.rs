//! Scratch PostgreSQL databases for the benchmark: created beside the one an admin URL names.

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::error::{StoreError, StoreResult};

/// Creates database `name` on the server of `admin_url` and returns a URL for it.
pub async fn create_scratch_database(admin_url: &str, name: &str) -> StoreResult<String> {
    run(admin_url, format!("CREATE DATABASE {}", quote(name))).await?;
    sibling_database_url(admin_url, name)
}

/// The URL of database `name` on the server of `url`, with its credentials and TLS settings.
pub fn sibling_database_url(url: &str, name: &str) -> StoreResult<String> {
    // sqlx's parser reads any scheme as PostgreSQL; another database's URL is a mistake to name.
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(StoreError::Unavailable("not a PostgreSQL URL (postgres://…)".to_owned()));
    }
    let options: PgConnectOptions =
        url.parse().map_err(|e| StoreError::Unavailable(format!("invalid PostgreSQL URL: {e}")))?;
    Ok(options.database(name).to_url_lossy().to_string())
}

pub async fn drop_scratch_database(admin_url: &str, name: &str) -> StoreResult<()> {
    run(admin_url, format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote(name))).await
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn run(admin_url: &str, sql: String) -> StoreResult<()> {
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await?;
    let _ = conn.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sibling_database_keeps_the_server_credentials_and_tls_settings() {
        let url = sibling_database_url("postgres://bob:s%2Fcret@db.example:6543/admin?sslmode=require", "tg_scratch")
            .unwrap();
        assert!(url.starts_with("postgres://bob:s%2Fcret@db.example:6543/tg_scratch?"), "{url}");
        let options: PgConnectOptions = url.parse().unwrap();
        assert_eq!(options.get_database(), Some("tg_scratch"));
        assert!(url.contains("sslmode=require"), "{url}");
        assert!(sibling_database_url("mysql://nope", "x").is_err());
    }
}
