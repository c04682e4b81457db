//! `trustgate principal`: service principals, API clients no administrator owns.

use std::io::Write;
use std::path::PathBuf;

use anyhow::anyhow;
use clap::Subcommand;
use serde_json::{json, Value};
use trustgate_core::client::{ApiClient, ClientKind};
use trustgate_core::event::Actor;
use trustgate_core::ids::ClientId;
use trustgate_store::Store;

use trustgate_server::actions;
use trustgate_server::platform::shapes::rfc3339;

use super::access::CustomerArg;
use super::access::{access_json, access_text, AccessArgs};
use super::client::SecretExpiry;
use super::failure::{given, Failure};
use super::text::table;
use super::{deployment_key, failure, known_customer, private_file, Output, Place};

#[derive(Debug, Subcommand)]
pub enum PrincipalCommand {
    /// Create a service principal with its own access; prints its ID and Secret once.
    Create {
        #[command(flatten)]
        customer: CustomerArg,
        /// The principal's name, as the console lists it.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        access: AccessArgs,
        #[command(flatten)]
        expiry: SecretExpiry,
        /// Write ID and Secret as CSV to this new file, readable by you only, instead of printing
        /// the secret. Keep it outside any source repository.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
    },
    /// List a customer's service principals.
    List {
        #[command(flatten)]
        customer: CustomerArg,
    },
    /// Change a service principal's access; its tokens follow on their next call.
    SetAccess {
        #[command(flatten)]
        customer: CustomerArg,
        /// The principal's ID.
        #[arg(long)]
        id: String,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// Delete a service principal; its tokens stop working at once.
    Delete {
        #[command(flatten)]
        customer: CustomerArg,
        /// The principal's ID.
        #[arg(long)]
        id: String,
    },
    /// Convert a secure client into a service principal: same ID and secret, with the access its
    /// owner holds now; it no longer depends on its owner.
    Convert {
        #[command(flatten)]
        customer: CustomerArg,
        /// The secure client's ID.
        #[arg(long)]
        id: String,
    },
}

pub(super) fn principal_json(principal: &ApiClient) -> Value {
    let access = match &principal.kind {
        ClientKind::ServicePrincipal { access } => access_json(access),
        ClientKind::SecureClient { .. } => Value::Null,
    };
    json!({
        "id": principal.id.to_string(),
        "name": principal.name,
        "customerId": principal.customer_id.as_str(),
        "access": access,
        "createdAt": rfc3339(principal.created_at),
        "lastUsedAt": principal.last_used_at.map(rfc3339),
    })
}

pub async fn run(store: &dyn Store, place: Place<'_>, command: PrincipalCommand, out: Output) -> anyhow::Result<()> {
    match command {
        PrincipalCommand::Create { customer, name, access, expiry, csv } => {
            let customer = known_customer(store, &customer.id).await?;
            let access = access.access(store).await?;
            let expires_at = expiry.at()?;
            let key = deployment_key(store, place).await?;
            // The file is claimed first: a principal whose secret could not be written would be lost.
            let file = csv.as_deref().map(private_file).transpose()?;
            let (principal, secret) = match actions::clients::new_principal(
                store,
                &key,
                &customer,
                &name,
                access.clone(),
                expires_at,
                &Actor::System,
            )
            .await
            {
                Ok(created) => created,
                Err(error) => {
                    if let Some(path) = &csv {
                        let _ = std::fs::remove_file(path);
                    }
                    return Err(match error {
                        trustgate_server::ApiError::Invalid(invalid) if invalid.field == "secretExpiresAt" => {
                            failure::refused_option("--expires-at", &invalid).into()
                        }
                        trustgate_server::ApiError::Invalid(invalid) => {
                            failure::refused_option("--name", &invalid).into()
                        }
                        other => anyhow!(other),
                    });
                }
            };
            let mut value = principal_json(&principal);
            if let (Some(path), Some(mut file)) = (csv, file) {
                write!(file, "ID,Secret\r\n{},{}\r\n", principal.id, secret.expose())?;
                value["csv"] = json!(path);
                out.print(
                    value,
                    format!(
                        "Created service principal {} ({}); ID and Secret written to {}.",
                        principal.name,
                        principal.id,
                        path.display()
                    ),
                );
            } else {
                value["secret"] = json!(secret.expose());
                out.print(
                    value,
                    format!(
                        "Created service principal {} in {customer} with {} access.\nID:     {}\nSecret: {}\nThe secret is shown only now.",
                        principal.name,
                        access_text(&access),
                        principal.id,
                        secret.expose()
                    ),
                );
            }
        }
        PrincipalCommand::List { customer } => {
            let customer = known_customer(store, &customer.id).await?;
            let principals = store
                .principals(&customer, None, trustgate_core::client::PRINCIPALS_PER_CUSTOMER_MAX as u32, &Actor::System)
                .await?;
            let rows: Vec<_> = principals
                .iter()
                .filter_map(|p| match &p.kind {
                    ClientKind::ServicePrincipal { access } => Some([
                        p.id.to_string(),
                        access_text(access),
                        p.last_used_at.map_or_else(|| "never".to_owned(), rfc3339),
                        p.name.clone(),
                    ]),
                    ClientKind::SecureClient { .. } => None,
                })
                .collect();
            let text = if rows.is_empty() {
                format!("Customer {customer} has no service principals.")
            } else {
                table(["ID", "ACCESS", "LAST USED", "NAME"], &rows)
            };
            out.print(json!({ "items": principals.iter().map(principal_json).collect::<Vec<_>>() }), text);
        }
        PrincipalCommand::SetAccess { customer, id, access } => {
            let customer = known_customer(store, &customer.id).await?;
            let id = given("--id", ClientId::parse(&id))?;
            let access = access.access(store).await?;
            let before = store.set_principal_access(&customer, id, access.clone(), &Actor::System).await.map_err(
                |e| match e {
                    trustgate_store::StoreError::NotFound(_) => {
                        Failure::not_found(format!("customer {customer} has no service principal {id}")).into()
                    }
                    other => anyhow!(other),
                },
            )?;
            out.print(
                json!({ "id": id.to_string(), "before": access_json(&before), "access": access_json(&access) }),
                format!(
                    "Service principal {id} now has {} access (was {}).",
                    access_text(&access),
                    access_text(&before)
                ),
            );
        }
        PrincipalCommand::Delete { customer, id } => {
            let customer = known_customer(store, &customer.id).await?;
            let id = given("--id", ClientId::parse(&id))?;
            if !store.delete_principal(&customer, id, &Actor::System).await? {
                return Err(Failure::not_found(format!("customer {customer} has no service principal {id}")).into());
            }
            out.print(json!({ "id": id.to_string(), "deleted": true }), format!("Deleted service principal {id}."));
        }
        PrincipalCommand::Convert { customer, id } => {
            let customer = known_customer(store, &customer.id).await?;
            let id = given("--id", ClientId::parse(&id))?;
            let principal = store.convert_to_principal(&customer, id, &Actor::System).await.map_err(|e| match e {
                trustgate_store::StoreError::NotFound(_) => {
                    Failure::not_found(format!("customer {customer} has no secure client {id}")).into()
                }
                other => anyhow!(other),
            })?;
            let access = match &principal.kind {
                ClientKind::ServicePrincipal { access } => access_text(access),
                ClientKind::SecureClient { .. } => String::new(),
            };
            out.print(
                principal_json(&principal),
                format!(
                    "API client {} ({id}) is now a service principal with {access} access; its secret is unchanged.",
                    principal.name
                ),
            );
        }
    }
    Ok(())
}
