//! `trustgate resource-server`: the deployment's resource servers, which introspect tokens at
//! `POST /oauth2/introspect` (RFC 7662). A secret is shown once, when created or rotated; only its
//! verifier under the server key is stored, as for client secrets.

use clap::Subcommand;
use serde_json::{json, Value};
use time::OffsetDateTime;
use trustgate_core::ids::ResourceServerId;
use trustgate_core::resource_server::{self, ResourceServer};
use trustgate_core::secret::ClientSecret;
use trustgate_store::Store;

use super::failure::{given, Failure};
use super::text::table;
use super::{deployment_key, Output, Place};
use trustgate_server::platform::shapes::rfc3339;

#[derive(Debug, Subcommand)]
pub enum ResourceServerCommand {
    /// Create a resource server; prints its id and secret, the secret only now.
    Create {
        /// Unique in the deployment, e.g. the service's name in the catalog (`orders`).
        #[arg(long)]
        name: String,
    },
    /// List the resource servers (never their secrets).
    List,
    /// Give a resource server a new secret, printed only now; the previous one stops working at once.
    Rotate {
        /// The resource server whose secret to replace (the old one stops working at once).
        #[arg(long)]
        name: String,
    },
    /// Delete a resource server: its next introspection is refused, on every node.
    Delete {
        /// The resource server to delete.
        #[arg(long)]
        name: String,
    },
}

impl ResourceServerCommand {
    pub(super) fn writes(&self) -> bool {
        !matches!(self, ResourceServerCommand::List)
    }
}

pub async fn run(
    store: &dyn Store,
    place: Place<'_>,
    command: ResourceServerCommand,
    out: Output,
) -> anyhow::Result<()> {
    match command {
        ResourceServerCommand::Create { name } => {
            let name = given("--name", resource_server::parse_name(&name))?;
            let key = deployment_key(store, place).await?;
            let server =
                ResourceServer { id: ResourceServerId::generate(), name, created_at: OffsetDateTime::now_utc() };
            let secret = ClientSecret::generate();
            store.create_resource_server(&server, &key.verifier(&secret)).await?;
            out.print(
                json!({ "id": server.id.to_string(), "name": server.name, "secret": secret.expose() }),
                format!(
                    "Created resource server {} ({}). It introspects tokens at <public URL>/oauth2/introspect \
                     with this id and secret, shown only now:\n{}",
                    server.name,
                    server.id,
                    secret.expose()
                ),
            );
        }
        ResourceServerCommand::List => {
            let servers = store.resource_servers().await?;
            let items: Vec<Value> = servers
                .iter()
                .map(|s| json!({ "id": s.id.to_string(), "name": s.name, "createdAt": rfc3339(s.created_at) }))
                .collect();
            let rows: Vec<_> =
                servers.iter().map(|s| [s.id.to_string(), s.name.clone(), rfc3339(s.created_at)]).collect();
            out.print(json!({ "items": items }), table(["ID", "NAME", "CREATED"], &rows));
        }
        ResourceServerCommand::Rotate { name } => {
            let key = deployment_key(store, place).await?;
            let secret = ClientSecret::generate();
            let Some(server) = store.rotate_resource_server(&name, &key.verifier(&secret)).await? else {
                return Err(no_such(&name).into());
            };
            out.print(
                json!({ "id": server.id.to_string(), "name": server.name, "secret": secret.expose() }),
                format!(
                    "Resource server {} ({}) has a new secret, shown only now; the previous one no longer works:\n{}",
                    server.name,
                    server.id,
                    secret.expose()
                ),
            );
        }
        ResourceServerCommand::Delete { name } => {
            if !store.delete_resource_server(&name).await? {
                return Err(no_such(&name).into());
            }
            out.print(json!({ "name": name, "deleted": true }), format!("Deleted resource server {name}."));
        }
    }
    Ok(())
}

fn no_such(name: &str) -> Failure {
    Failure::not_found(format!("there is no resource server {name} (see `trustgate resource-server list`)"))
}
