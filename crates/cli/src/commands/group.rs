//! `trustgate group`: a customer's groups of administrators (issue #25), as its identity provider
//! keeps them, with their members and the access a Full administrator gave each. Read only: the
//! provider changes groups (SCIM, the `groups` claim), a Full administrator their access.

use std::collections::HashMap;

use clap::Subcommand;
use serde_json::{json, Value};
use trustgate_core::group::{AdminGroup, MAX_GROUPS_PER_CUSTOMER};
use trustgate_core::ids::{AdminId, CustomerId, GroupId};
use trustgate_store::{GroupFilter, Store};

use super::access::{access_json, access_text, CustomerArg};
use super::failure::{given, Failure};
use super::text::table;
use super::{known_customer, Output};

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// List the customer's groups with their members and access.
    List {
        #[command(flatten)]
        customer: CustomerArg,
    },
    /// Show one group: its provider's id, access and members.
    Show {
        #[command(flatten)]
        customer: CustomerArg,
        /// The group's id (see `trustgate group list`).
        #[arg(long)]
        group: String,
    },
}

/// The members' e-mails in the customer, by id.
async fn emails(store: &dyn Store, customer: &CustomerId) -> anyhow::Result<HashMap<AdminId, String>> {
    let members = store.members(customer, None, u32::MAX).await?;
    Ok(members.into_iter().map(|m| (m.admin.id, m.admin.email.to_string())).collect())
}

fn email_of(emails: &HashMap<AdminId, String>, admin: AdminId) -> String {
    emails.get(&admin).cloned().unwrap_or_else(|| admin.to_string())
}

fn group_json(group: &AdminGroup, emails: &HashMap<AdminId, String>) -> Value {
    json!({
        "id": group.id.to_string(),
        "displayName": group.display_name,
        "externalId": group.external_id,
        "access": access_json(&group.access),
        "members": group.members.iter().map(|m| json!({ "id": m.to_string(), "email": email_of(emails, *m) })).collect::<Vec<_>>(),
    })
}

fn access_of(group: &AdminGroup) -> String {
    if group.access.grants_nothing() {
        "none".to_owned()
    } else {
        access_text(&group.access)
    }
}

pub async fn run(store: &dyn Store, command: GroupCommand, out: Output) -> anyhow::Result<()> {
    match command {
        GroupCommand::List { customer } => {
            let customer = known_customer(store, &customer.id).await?;
            let limit = u32::try_from(MAX_GROUPS_PER_CUSTOMER).unwrap_or(u32::MAX);
            let (_, groups) = store.groups(&customer, &GroupFilter::All, 0, limit).await?;
            let emails = emails(store, &customer).await?;
            let items: Vec<Value> = groups.iter().map(|g| group_json(g, &emails)).collect();
            let rows: Vec<_> = groups
                .iter()
                .map(|g| {
                    let members = g.members.iter().map(|m| email_of(&emails, *m)).collect::<Vec<_>>().join(", ");
                    [g.id.to_string(), g.display_name.clone(), access_of(g), members]
                })
                .collect();
            let text = if groups.is_empty() {
                format!("Customer {customer} has no groups: its identity provider creates them (SCIM /Groups).")
            } else {
                table(["ID", "GROUP", "ACCESS", "MEMBERS"], &rows)
            };
            out.print(json!({ "items": items }), text);
        }
        GroupCommand::Show { customer, group } => {
            let customer = known_customer(store, &customer.id).await?;
            let id = given("--group", GroupId::parse(&group))?;
            let group = store.group(&customer, id).await?.ok_or_else(|| {
                Failure::not_found(format!("customer {customer} has no group {id} (see `trustgate group list`)"))
            })?;
            let emails = emails(store, &customer).await?;
            let members: Vec<_> = group.members.iter().map(|m| [email_of(&emails, *m), m.to_string()]).collect();
            let text = format!(
                "Group {} ({})\nProvider's id: {}\nAccess: {}\n{}",
                group.display_name,
                group.id,
                group.external_id.as_deref().unwrap_or("none"),
                access_of(&group),
                if members.is_empty() { "No members.".to_owned() } else { table(["MEMBER", "ID"], &members) }
            );
            out.print(group_json(&group, &emails), text);
        }
    }
    Ok(())
}
