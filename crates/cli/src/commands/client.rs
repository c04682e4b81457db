//! `trustgate client`: API clients and their secrets.

use std::io::Write;
use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use time::OffsetDateTime;
use trustgate_core::event::Actor;
use trustgate_core::ids::ClientId;
use trustgate_core::secret::SecretId;
use trustgate_store::Store;

use trustgate_server::actions;
use trustgate_server::platform::shapes::rfc3339;

use super::access::CustomerArg;
use super::admin::find_admin;
use super::failure::{given, Failure};
use super::text::table;
use super::{deployment_key, failure, key_of_deployment, known_customer, private_file, Output, Place};

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create an API client on behalf of an administrator; prints its ID and Secret once.
    Create {
        #[command(flatten)]
        customer: CustomerArg,
        /// The owner's e-mail or id; the client can do what they may do in the customer.
        #[arg(long)]
        admin: String,
        /// The client's name, as the console lists it.
        #[arg(long)]
        name: String,
        /// Write ID and Secret as CSV (the console's secureclient.csv) to this new file, readable
        /// by you only, instead of printing the secret. Keep it outside any source repository.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        /// Most API clients one administrator may own in one customer (as `serve` enforces it).
        #[arg(long, env = "TRUSTGATE_MAX_CLIENTS_PER_OWNER", default_value_t = trustgate_server::config::DEFAULT_MAX_CLIENTS_PER_OWNER)]
        max_clients_per_owner: u64,
    },
    /// List an administrator's API clients in a customer.
    List {
        #[command(flatten)]
        customer: CustomerArg,
        /// The owner's e-mail or id.
        #[arg(long)]
        admin: String,
    },
    /// Delete an API client.
    Delete {
        #[command(flatten)]
        customer: CustomerArg,
        /// The owner's e-mail or id.
        #[arg(long)]
        admin: String,
        /// The client's ID.
        #[arg(long)]
        id: String,
    },
    /// A client's secrets (up to 3): add one to rotate, list them, delete the old one.
    #[command(subcommand)]
    Secret(SecretCommand),
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Add a secret to a client; prints it once. The client's other secrets keep working.
    Add {
        #[command(flatten)]
        client: ClientOf,
        #[command(flatten)]
        expiry: SecretExpiry,
        /// Write ID and Secret as CSV (the console's secureclient.csv) to this new file, readable
        /// by you only, instead of printing the secret.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
    },
    /// List a client's secrets: id, created, expiry, last use. Never the secrets themselves.
    List {
        #[command(flatten)]
        client: ClientOf,
    },
    /// Delete a secret: it grants no token from now on, on every node. Tokens it already got stay
    /// valid until they expire. A client's last secret cannot be deleted.
    Delete {
        #[command(flatten)]
        client: ClientOf,
        /// The secret's id (see `trustgate client secret list`).
        #[arg(long)]
        secret: String,
    },
}

/// An API client by its customer and ID (`--customer`, `--id`).
#[derive(Debug, Args)]
pub struct ClientOf {
    #[command(flatten)]
    pub customer: CustomerArg,
    /// The client's ID.
    #[arg(long)]
    pub id: String,
}

/// When a new secret stops granting tokens (`--expires-in-days` or `--expires-at`).
#[derive(Debug, Args)]
pub struct SecretExpiry {
    /// The secret stops granting tokens this many days from now (1 to 730). Default: never for a
    /// client's secret, 365 days for a service principal's.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=730), conflicts_with = "expires_at")]
    pub expires_in_days: Option<u32>,
    /// The secret stops granting tokens at this RFC 3339 time (within 730 days).
    #[arg(long)]
    pub expires_at: Option<String>,
}

impl SecretExpiry {
    /// The expiry asked for, if any; the 730-day limit is the rules' to check.
    pub(super) fn at(self) -> anyhow::Result<Option<OffsetDateTime>> {
        Ok(match (self.expires_in_days, self.expires_at) {
            (Some(days), _) => Some(OffsetDateTime::now_utc() + time::Duration::days(i64::from(days))),
            (None, Some(at)) => {
                Some(given("--expires-at", trustgate_server::platform::shapes::parse_rfc3339("expiresAt", &at))?)
            }
            (None, None) => None,
        })
    }
}

pub async fn run(store: &dyn Store, place: Place<'_>, command: ClientCommand, out: Output) -> anyhow::Result<()> {
    match command {
        ClientCommand::Create { customer, admin, name, csv, max_clients_per_owner } => {
            let customer = known_customer(store, &customer.id).await?;
            let owner = find_admin(store, &admin).await?;
            let key = deployment_key(store, place).await?;
            // The file is claimed first: a client whose secret could not be written would be lost.
            let file = csv.as_deref().map(private_file).transpose()?;
            let created = actions::clients::new_client(
                store,
                &key,
                &customer,
                &owner,
                &name,
                max_clients_per_owner,
                &Actor::System,
            )
            .await;
            let (client, secret) = match created {
                Ok(created) => created,
                Err(error) => {
                    if let Some(path) = &csv {
                        let _ = std::fs::remove_file(path);
                    }
                    let pending = matches!(error, trustgate_server::ApiError::NotFound(_))
                        && store.member(&customer, owner.id).await?.is_some_and(|member| member.pending.is_some());
                    return Err(match error {
                        trustgate_server::ApiError::NotFound(_) if pending => Failure::not_found(format!(
                            "{} is invited to customer {customer} but has not accepted the invitation yet: they own \
                             API clients once they have (`trustgate admin invite` prints a new link)",
                            owner.email
                        ))
                        .into(),
                        trustgate_server::ApiError::NotFound(_) => Failure::not_found(format!(
                            "{} is not an administrator of customer {customer}",
                            owner.email
                        ))
                        .into(),
                        trustgate_server::ApiError::Invalid(invalid) => {
                            failure::refused_option("--name", &invalid).into()
                        }
                        other => anyhow!(other),
                    });
                }
            };
            if let (Some(path), Some(mut file)) = (csv, file) {
                write!(file, "ID,Secret\r\n{},{}\r\n", client.id, secret.expose())?;
                out.print(
                    json!({ "id": client.id.to_string(), "name": client.name, "customerId": customer.as_str(), "csv": path }),
                    format!("Created API client {} ({}); ID and Secret written to {}.", client.name, client.id, path.display()),
                );
            } else {
                out.print(
                    json!({ "id": client.id.to_string(), "secret": secret.expose(), "name": client.name, "customerId": customer.as_str() }),
                    format!(
                        "Created API client {} in {customer}.\nID:     {}\nSecret: {}\nThe secret is shown only now.",
                        client.name,
                        client.id,
                        secret.expose()
                    ),
                );
            }
        }
        ClientCommand::List { customer, admin } => {
            let customer = known_customer(store, &customer.id).await?;
            let owner = find_admin(store, &admin).await?;
            let clients = store.clients_of(&customer, owner.id).await?;
            let items: Vec<Value> = clients
                .iter()
                .map(|c| json!({ "id": c.id.to_string(), "name": c.name, "createdAt": rfc3339(c.created_at), "lastUsedAt": c.last_used_at.map(rfc3339) }))
                .collect();
            let rows: Vec<_> = clients
                .iter()
                .map(|c| {
                    let used = c.last_used_at.map_or_else(|| "never".to_owned(), rfc3339);
                    [c.id.to_string(), rfc3339(c.created_at), used, c.name.clone()]
                })
                .collect();
            let text = if rows.is_empty() {
                format!("{} has no API clients in {customer}.", owner.email)
            } else {
                table(["ID", "CREATED", "LAST USED", "NAME"], &rows)
            };
            out.print(json!({ "items": items }), text);
        }
        ClientCommand::Delete { customer, admin, id } => {
            let customer = known_customer(store, &customer.id).await?;
            let owner = find_admin(store, &admin).await?;
            let id = given("--id", ClientId::parse(&id))?;
            if !store.delete_client(&customer, owner.id, id, &Actor::System).await? {
                return Err(Failure::not_found(format!("{} has no API client {id} in {customer}", owner.email)).into());
            }
            out.print(json!({ "id": id.to_string(), "deleted": true }), format!("Deleted API client {id}."));
        }
        ClientCommand::Secret(command) => secret(store, place, command, out).await?,
    }
    Ok(())
}

pub(super) async fn secret(
    store: &dyn Store,
    place: Place<'_>,
    command: SecretCommand,
    out: Output,
) -> anyhow::Result<()> {
    match command {
        SecretCommand::Add { client: ClientOf { customer, id }, expiry, csv } => {
            let customer = known_customer(store, &customer.id).await?;
            let id = given("--id", ClientId::parse(&id))?;
            let expires_at = expiry.at()?;
            let key = deployment_key(store, place).await?;
            let file = csv.as_deref().map(private_file).transpose()?;
            let added = actions::clients::add_secret(store, &key, &customer, id, expires_at, &Actor::System).await;
            let (info, secret) = match added {
                Ok(added) => added,
                Err(error) => {
                    if let Some(path) = &csv {
                        let _ = std::fs::remove_file(path);
                    }
                    return Err(match error {
                        trustgate_server::ApiError::NotFound(_) => {
                            Failure::not_found(format!("there is no API client {id} in {customer}")).into()
                        }
                        trustgate_server::ApiError::Invalid(invalid) => {
                            failure::refused_option("--expires-at", &invalid).into()
                        }
                        other => anyhow!(other),
                    });
                }
            };
            let expires = info.expires_at.map(rfc3339);
            let until = expires.as_deref().map_or_else(|| "never expires".to_owned(), |at| format!("expires {at}"));
            if let (Some(path), Some(mut file)) = (csv, file) {
                write!(file, "ID,Secret\r\n{id},{}\r\n", secret.expose())?;
                out.print(
                    json!({ "clientId": id.to_string(), "secretId": info.id.as_str(), "expiresAt": expires, "csv": path }),
                    format!("Added secret {} to API client {id}; it {until}. ID and Secret written to {}.", info.id, path.display()),
                );
            } else {
                out.print(
                    json!({ "clientId": id.to_string(), "secretId": info.id.as_str(), "expiresAt": expires, "secret": secret.expose() }),
                    format!(
                        "Added secret {} to API client {id}; it {until}.\nID:     {id}\nSecret: {}\nThe secret is shown only now.",
                        info.id,
                        secret.expose()
                    ),
                );
            }
        }
        SecretCommand::List { client: ClientOf { customer, id } } => {
            let customer = known_customer(store, &customer.id).await?;
            let id = given("--id", ClientId::parse(&id))?;
            let secrets = store.client_secrets(&customer, id, &Actor::System).await?;
            // Without the deployment's key at hand a secret's key id is shown, not judged.
            let ring = key_of_deployment(store, place, false).await.ok();
            let retired = |s: &trustgate_core::client_secrets::SecretInfo| {
                ring.as_ref().map(|ring| ring.is_retired(s.server_key.as_ref()))
            };
            let items: Vec<Value> = secrets
                .iter()
                .map(|s| {
                    json!({
                        "id": s.id.as_str(),
                        "legacy": s.legacy,
                        "createdAt": rfc3339(s.created_at),
                        "createdBy": s.created_by,
                        "expiresAt": s.expires_at.map(rfc3339),
                        "lastUsedAt": s.last_used_at.map(rfc3339),
                        "serverKey": s.server_key.as_ref().map(|k| k.as_str()),
                        "retiredServerKey": retired(s),
                    })
                })
                .collect();
            let rows: Vec<_> = secrets
                .iter()
                .map(|s| {
                    let key = s.server_key.as_ref().map_or_else(|| "unrecorded".to_owned(), ToString::to_string);
                    [
                        s.id.to_string(),
                        rfc3339(s.created_at),
                        s.expires_at.map_or_else(|| "never".to_owned(), rfc3339),
                        s.last_used_at.map_or_else(|| "never".to_owned(), rfc3339),
                        s.created_by.clone(),
                        match retired(s) {
                            Some(true) => format!("{key} (retired: replace this secret)"),
                            _ => key,
                        },
                    ]
                })
                .collect();
            let headers = ["ID", "CREATED", "EXPIRES", "LAST USED", "CREATED BY", "SERVER KEY"];
            out.print(json!({ "items": items }), table(headers, &rows));
        }
        SecretCommand::Delete { client: ClientOf { customer, id }, secret } => {
            let customer = known_customer(store, &customer.id).await?;
            let id = given("--id", ClientId::parse(&id))?;
            let secret = given("--secret", SecretId::parse(&secret))?;
            store.delete_client_secret(&customer, id, secret, &Actor::System).await?;
            out.print(
                json!({ "clientId": id.to_string(), "secretId": secret.as_str(), "deleted": true }),
                format!("Deleted secret {secret} of API client {id}; it grants no token from now on."),
            );
        }
    }
    Ok(())
}
