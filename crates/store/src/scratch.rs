//! Scratch PostgreSQL databases for the benchmark: created beside the one an admin URL names.

use sqlx::Connection;

use crate::error::StoreResult;

/// Creates database `name` on the server of `admin_url` and returns a URL for it.
pub async fn create_scratch_database(admin_url: &str, name: &str) -> StoreResult<String> {
    run(admin_url, format!("CREATE DATABASE {}", quote(name))).await?;
    let (base, query) = admin_url.split_once('?').map_or((admin_url, String::new()), |(b, q)| (b, format!("?{q}")));
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    Ok(format!("{server}/{name}{query}"))
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
