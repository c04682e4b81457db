//! `trustgate copy-to-postgres` and `trustgate backup`: the data, elsewhere.

use std::path::Path;

use anyhow::Context;
use serde_json::{json, Value};
use trustgate_store::{PostgresStore, SqliteStore};

use trustgate_server::keys::server_key_file::SERVER_KEY_FILE;

use super::failure::Failure;
use super::text::{count, table};
use super::Output;

pub(super) async fn copy_to_postgres(data_dir: &Path, url: &str, out: Output) -> anyhow::Result<()> {
    let source =
        SqliteStore::open(data_dir).await.with_context(|| format!("opening the store in {}", data_dir.display()))?;
    let target = PostgresStore::connect(url).await.context("connecting to PostgreSQL")?;
    let copied = trustgate_store::copy_sqlite_to_postgres(&source, &target, |table, rows| {
        if !out.json {
            eprintln!("copied {} of {table}", count(rows, "row", "rows"));
        }
    })
    .await?;
    let total: u64 = copied.iter().map(|t| t.target_rows).sum();
    let rows = count(total, "row", "rows");
    let tables: serde_json::Map<String, Value> =
        copied.iter().map(|t| (t.table.to_owned(), json!(t.target_rows))).collect();
    let compared: Vec<Value> = copied
        .iter()
        .map(|t| json!({ "table": t.table, "sqlite": t.source_rows, "postgres": t.target_rows }))
        .collect();
    let not_copied: serde_json::Map<String, Value> =
        trustgate_store::NOT_COPIED_TO_POSTGRES.iter().map(|(t, why)| ((*t).to_owned(), json!(why))).collect();
    let table_rows: Vec<[String; 3]> =
        copied.iter().map(|t| [t.table.to_owned(), t.source_rows.to_string(), t.target_rows.to_string()]).collect();
    let skipped: Vec<String> =
        trustgate_store::NOT_COPIED_TO_POSTGRES.iter().map(|(t, why)| format!("  {t}: {why}")).collect();
    out.print(
        json!({ "copied": tables, "compared": compared, "notCopied": not_copied }),
        format!(
            "{}\nEvery table's rows match. Not copied, by design:\n{}\nCopied {rows} into PostgreSQL. Run every node with --database and the same server key (TRUSTGATE_SERVER_KEY or {}).",
            table(["TABLE", "SQLITE", "POSTGRESQL"], &table_rows),
            skipped.join("\n"),
            data_dir.join(SERVER_KEY_FILE).display()
        ),
    );
    Ok(())
}

pub(super) async fn backup(data_dir: &Path, database: Option<&str>, to: &Path, out: Output) -> anyhow::Result<()> {
    if database.is_some() {
        return Err(Failure::invalid(
            "`trustgate backup` copies the embedded SQLite store only; back up PostgreSQL with its own tools \
             (pg_dump, or your provider's snapshots), and keep a copy of the server key apart from them",
        )
        .into());
    }
    if std::fs::symlink_metadata(to).is_ok() {
        return Err(Failure::invalid(format!(
            "--to {} exists: a backup is written to a new file only, never over one; name a new file",
            to.display()
        ))
        .into());
    }
    let parent = to.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(Failure::invalid(format!(
            "--to {}: there is no directory {}; create it first (mkdir -p {})",
            to.display(),
            parent.display(),
            parent.display()
        ))
        .into());
    }
    let store =
        SqliteStore::open(data_dir).await.with_context(|| format!("opening the store in {}", data_dir.display()))?;
    store.backup_to(to).await.with_context(|| format!("backing up to {}", to.display()))?;
    let key = match std::env::var_os("TRUSTGATE_SERVER_KEY") {
        Some(_) => "TRUSTGATE_SERVER_KEY".to_owned(),
        None => data_dir.join(SERVER_KEY_FILE).display().to_string(),
    };
    out.print(
        json!({ "backup": to, "serverKeyIncluded": false }),
        format!(
            "Backed up the store to {}.\nThe server key is not in it: without the key ({key}) no client secret \
             verifies and no signing key opens. Keep a copy of the key, apart from the backup.",
            to.display()
        ),
    );
    Ok(())
}
