//! `trustgate scim-token`: a customer's SCIM provisioning tokens.

use anyhow::anyhow;
use clap::Subcommand;
use serde_json::{json, Value};
use trustgate_core::event::Actor;
use trustgate_core::ids::ScimTokenId;
use trustgate_store::Store;

use trustgate_server::actions;
use trustgate_server::platform::shapes::rfc3339;

use super::access::CustomerArg;
use super::admin::ProviderArg;
use super::failure::{given, Failure};
use super::text::table;
use super::{deployment_key, failure, known_customer, running_server_url, Output, Place};

#[derive(Debug, Subcommand)]
pub enum ScimTokenCommand {
    /// Create a token for the customer's identity provider; prints it once.
    Create {
        #[command(flatten)]
        customer: CustomerArg,
        /// Shown as the actor of what the provider does, in the system log.
        #[arg(long)]
        name: String,
        /// The provider of the administrators it provisions.
        #[arg(long, value_enum)]
        provider: ProviderArg,
        /// The URL the deployment is reached at, as `serve --public-url`: the SCIM base URL printed
        /// starts with it. Default: the public URL of the server running on --data-dir.
        #[arg(long, env = "TRUSTGATE_PUBLIC_URL")]
        public_url: Option<String>,
        /// The provider's directory (the Azure AD tenant id, or the AD domain): the
        /// administrators it provisions get it as their `providerId`.
        #[arg(long)]
        provider_id: Option<String>,
    },
    /// List a customer's tokens (never their secrets).
    List {
        #[command(flatten)]
        customer: CustomerArg,
    },
    /// Revoke a token: the provider's next request is refused.
    Revoke {
        #[command(flatten)]
        customer: CustomerArg,
        /// The token's id (see `trustgate scim-token list`).
        #[arg(long)]
        id: String,
    },
}

pub async fn run(store: &dyn Store, place: Place<'_>, command: ScimTokenCommand, out: Output) -> anyhow::Result<()> {
    match command {
        ScimTokenCommand::Create { customer, name, provider, public_url, provider_id } => {
            let customer = known_customer(store, &customer.id).await?;
            let public_url = match public_url {
                Some(url) => Some(url.trim().trim_end_matches('/').to_owned()),
                None => running_server_url(place.data_dir).await,
            };
            let base_url = public_url.map(|url| format!("{url}/scim/v2/{customer}"));
            let key = deployment_key(store, place).await?;
            let provider = ProviderArg::name(provider.into());
            let created = actions::scim_tokens::new_scim_token(
                store,
                &key,
                &customer,
                &name,
                actions::scim_tokens::TokenProvider { name: provider, id: provider_id.as_deref() },
                "operator",
                &Actor::System,
            )
            .await;
            let (token, secret) = match created {
                Ok(created) => created,
                Err(trustgate_server::ApiError::Invalid(invalid)) => {
                    let option = match invalid.field {
                        "name" => "--name",
                        "providerId" => "--provider-id",
                        _ => "--provider",
                    };
                    return Err(failure::refused_option(option, &invalid).into());
                }
                Err(other) => return Err(anyhow!(other)),
            };
            out.print(
                json!({
                    "id": token.id.to_string(),
                    "name": token.name,
                    "provider": token.provider.wire_name(),
                    "providerId": token.provider_id,
                    "secret": secret.expose(),
                    "scimPath": format!("/scim/v2/{customer}"),
                    "scimBaseUrl": base_url,
                }),
                format!(
                    "Created SCIM token {} ({}). Give the provider the base URL {} \
                     and this bearer token, shown only now:\n{}",
                    token.name,
                    token.id,
                    base_url.as_deref().map_or_else(|| format!("<public URL>/scim/v2/{customer}"), str::to_owned),
                    secret.expose()
                ),
            );
        }
        ScimTokenCommand::List { customer } => {
            let customer = known_customer(store, &customer.id).await?;
            let tokens = store.scim_tokens(&customer).await?;
            let items: Vec<Value> = tokens
                .iter()
                .map(|t| {
                    json!({
                        "id": t.id.to_string(),
                        "name": t.name,
                        "provider": t.provider.wire_name(),
                        "createdBy": t.created_by,
                        "createdAt": rfc3339(t.created_at),
                    })
                })
                .collect();
            let rows: Vec<_> =
                tokens.iter().map(|t| [t.id.to_string(), t.provider.wire_name().to_owned(), t.name.clone()]).collect();
            out.print(json!({ "items": items }), table(["ID", "PROVIDER", "NAME"], &rows));
        }
        ScimTokenCommand::Revoke { customer, id } => {
            let customer = known_customer(store, &customer.id).await?;
            let id = given("--id", ScimTokenId::parse(&id))?;
            if !store.revoke_scim_token(&customer, id, &Actor::System).await? {
                return Err(Failure::not_found(format!("customer {customer} has no SCIM token {id}")).into());
            }
            out.print(json!({ "id": id.to_string(), "revoked": true }), format!("Revoked SCIM token {id}."));
        }
    }
    Ok(())
}
