//! `trustgate provider`: a customer's identity providers.

use std::io::BufRead;

use clap::{Subcommand, ValueEnum};
use serde_json::{json, Value};
use time::OffsetDateTime;
use trustgate_core::admin::Provider;
use trustgate_core::event::Actor;
use trustgate_core::federation::{self, IdentityProvider, SecretVault};
use trustgate_core::ids::ProviderId;
use trustgate_store::Store;

use trustgate_server::platform::shapes::rfc3339;

use super::access::CustomerArg;
use super::failure::{given, Failure};
use super::text::table;
use super::{deployment_key, known_customer, Output, Place};

#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Connect an OpenID provider to a customer (register <public URL>/console/sign-in/callback
    /// as its redirect URI). The client secret is read from the first line of standard input and
    /// stored sealed under the server key.
    Connect {
        #[command(flatten)]
        customer: CustomerArg,
        /// azure-ad (Entra ID), google or okta; administrators of this type sign in through it.
        #[arg(long = "type", value_enum)]
        provider_type: ConnectableArg,
        /// The issuer URL; its /.well-known/openid-configuration is read at each sign-in.
        #[arg(long)]
        issuer: String,
        /// The client id registered at the provider for Trustgate.
        #[arg(long)]
        client_id: String,
        /// The ID-token claim that carries the e-mail (Entra ID: upn or email).
        #[arg(long, default_value = trustgate_core::federation::DEFAULT_EMAIL_CLAIM)]
        email_claim: String,
    },
    /// List a customer's OpenID providers.
    List {
        #[command(flatten)]
        customer: CustomerArg,
    },
    /// Disconnect an OpenID provider from a customer; sessions opened through the customer's
    /// providers end.
    Disconnect {
        #[command(flatten)]
        customer: CustomerArg,
        /// The connection's id (see `trustgate provider list`).
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ConnectableArg {
    AzureAd,
    Google,
    Okta,
}

impl From<ConnectableArg> for Provider {
    fn from(arg: ConnectableArg) -> Self {
        match arg {
            ConnectableArg::AzureAd => Provider::AzureAd,
            ConnectableArg::Google => Provider::Google,
            ConnectableArg::Okta => Provider::Okta,
        }
    }
}

pub(super) fn provider_json(p: &IdentityProvider) -> Value {
    let (provider_type, external_provider_type) = p.citrix_types();
    json!({
        "id": p.id.to_string(),
        "customerId": p.customer_id.as_str(),
        "providerType": provider_type,
        "externalProviderType": external_provider_type,
        "issuer": p.issuer,
        "clientId": p.client_id,
        "emailClaim": p.email_claim,
        "createdAt": rfc3339(p.created_at),
    })
}

pub async fn run(store: &dyn Store, place: Place<'_>, command: ProviderCommand, out: Output) -> anyhow::Result<()> {
    match command {
        ProviderCommand::Connect { customer, provider_type, issuer, client_id, email_claim } => {
            let customer = known_customer(store, &customer.id).await?;
            let issuer = given("--issuer", federation::parse_issuer(&issuer))?;
            let client_id = given("--client-id", federation::parse_client_id(&client_id))?;
            let email_claim = given("--email-claim", federation::parse_email_claim(&email_claim))?;
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            let secret = given("--client-secret on standard input", federation::parse_client_secret(&line))?;
            let vault = SecretVault::new(&deployment_key(store, place).await?);
            let id = ProviderId::generate();
            let connection = IdentityProvider {
                id,
                customer_id: customer,
                provider_type: provider_type.into(),
                issuer,
                client_id,
                sealed_secret: vault.seal(id, &secret),
                email_claim,
                created_at: OffsetDateTime::now_utc(),
            };
            store.connect_provider(&connection, &Actor::System).await?;
            out.print(
                provider_json(&connection),
                format!(
                    "Connected {} to customer {} as {id}. Register <public URL>/console/sign-in/callback as the redirect URI there.",
                    connection.issuer, connection.customer_id
                ),
            );
        }
        ProviderCommand::List { customer } => {
            let customer = known_customer(store, &customer.id).await?;
            let providers = store.identity_providers(&customer).await?;
            let rows: Vec<_> = providers
                .iter()
                .map(|p| [p.id.to_string(), p.provider_type.to_string(), p.client_id.clone(), p.issuer.clone()])
                .collect();
            let text = if rows.is_empty() {
                format!("Customer {customer} has no OpenID provider.")
            } else {
                table(["ID", "TYPE", "CLIENT ID", "ISSUER"], &rows)
            };
            out.print(json!({ "items": providers.iter().map(provider_json).collect::<Vec<_>>() }), text);
        }
        ProviderCommand::Disconnect { customer, id } => {
            let customer = known_customer(store, &customer.id).await?;
            let id = given("--id", ProviderId::parse(&id))?;
            if !store.disconnect_provider(&customer, id, &Actor::System).await? {
                return Err(Failure::not_found(format!("customer {customer} has no OpenID provider {id}")).into());
            }
            out.print(json!({ "id": id.to_string(), "disconnected": true }), format!("Disconnected {id}."));
        }
    }
    Ok(())
}
