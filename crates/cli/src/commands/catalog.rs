//! `trustgate catalog`: apply the operator's catalog file (docs/catalog.md) and show what is stored.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use serde_json::{json, Value};
use trustgate_core::catalog::{Catalog, CatalogDiff, PartDiff};
use trustgate_core::event::Actor;
use trustgate_store::Store;

use super::failure::Failure;
use super::text::table;
use super::Output;
use trustgate_server::gateway::catalog_view::CatalogView;

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Replace the stored catalog with FILE (services, permissions, route rules) and print what
    /// changed. Applying the same file again changes nothing. Every running node follows at once.
    Apply {
        /// The catalog file (TOML; see docs/catalog.md).
        file: PathBuf,
        /// Print what would change, and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Remove permissions that administrators, invitations or service principals still hold,
        /// taking them away from those holders (each change goes to its customer's system log).
        #[arg(long)]
        force: bool,
    },
    /// Print the stored catalog: services, permissions (the built-in Platform ones too) and route rules.
    Show,
}

impl CatalogCommand {
    pub fn writes(&self) -> bool {
        matches!(self, CatalogCommand::Apply { dry_run: false, .. })
    }
}

pub async fn run(store: &dyn Store, command: CatalogCommand, out: Output) -> anyhow::Result<()> {
    match command {
        CatalogCommand::Apply { file, dry_run, force } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let catalog = trustgate_server::gateway::catalog_file::parse(&text)
                .map_err(|e| Failure::invalid(format!("{}: {e}", file.display())))?;
            // A dry run makes the same checks as the apply, so it refuses what the apply would
            // refuse, with the same exit code (issue #22).
            let applied = if dry_run {
                store.preview_catalog(&catalog, force, &Actor::System).await
            } else {
                store.apply_catalog(&catalog, force, &Actor::System).await
            };
            let applied = applied.map_err(|e| match e {
                trustgate_store::StoreError::Conflict(held) => anyhow::Error::from(Failure::invalid(format!(
                    "{held}; nothing {} (--force takes them away from their holders)",
                    if dry_run { "would be applied" } else { "was applied" }
                ))),
                other => other.into(),
            })?;
            let (before, stripped) = (applied.before, applied.stripped);
            let diff = before.diff(&catalog);
            let stripped_json: Vec<Value> = stripped
                .iter()
                .map(|s| {
                    json!({ "customerId": s.customer.as_str(), "holderType": s.holder.0, "holderId": s.holder.1,
                            "before": super::access::access_json(&s.before), "after": super::access::access_json(&s.after) })
                })
                .collect();
            let mut text = describe(&diff, dry_run);
            if !stripped.is_empty() {
                let holders = u64::try_from(stripped.len()).unwrap_or(u64::MAX);
                text.push_str(&format!(
                    "\n{} removed permissions away from {}.",
                    if dry_run { "Would take" } else { "Took" },
                    trustgate_core::event::counted(holders, "holder", "holders")
                ));
            }
            out.print(
                json!({ "changed": !diff.is_empty(), "dryRun": dry_run, "services": part_json(&diff.services),
                        "permissions": part_json(&diff.permissions), "routes": part_json(&diff.routes),
                        "stripped": stripped_json }),
                text,
            );
            Ok(())
        }
        CatalogCommand::Show => {
            let catalog = store.catalog().await?;
            out.print(serde_json::to_value(CatalogView::from(&catalog))?, show(&catalog));
            Ok(())
        }
    }
}

fn part_json(part: &PartDiff) -> Value {
    json!({ "added": part.added, "removed": part.removed, "changed": part.changed })
}

/// What changed, one line per name, as `+ orders.read`, `- orders.write`, `~ GET /orders/{id}`.
fn describe(diff: &CatalogDiff, dry_run: bool) -> String {
    if diff.is_empty() {
        return "The catalog is already as in the file: nothing changed.".to_owned();
    }
    let mut lines = vec![if dry_run { "Would change (dry run, nothing written):" } else { "Changed:" }.to_owned()];
    for (what, part) in [("service", &diff.services), ("permission", &diff.permissions), ("route", &diff.routes)] {
        lines.extend(part.added.iter().map(|k| format!("  + {what} {k}")));
        lines.extend(part.removed.iter().map(|k| format!("  - {what} {k}")));
        lines.extend(part.changed.iter().map(|k| format!("  ~ {what} {k}")));
    }
    lines.join("\n")
}

fn show(catalog: &Catalog) -> String {
    let services: Vec<[String; 2]> =
        catalog.services().iter().map(|s| [s.name.to_string(), s.display_name.clone()]).collect();
    let permissions: Vec<[String; 3]> = catalog
        .entries()
        .map(|e| {
            let kind =
                if matches!(e.permission, trustgate_core::access::Permission::Platform(_)) { "built-in" } else { "" };
            [e.permission.to_string(), e.display_name, kind.to_owned()]
        })
        .collect();
    let routes: Vec<[String; 4]> = catalog
        .routes()
        .iter()
        .map(|r| [r.method.to_string(), r.pattern.to_string(), r.permission.to_string(), r.customer.to_string()])
        .collect();
    format!(
        "{}\n\n{}\n\n{}",
        table(["SERVICE", "DISPLAY NAME"], &services),
        table(["PERMISSION", "DISPLAY NAME", ""], &permissions),
        table(["METHOD", "PATH", "PERMISSION", "CUSTOMER"], &routes)
    )
}
