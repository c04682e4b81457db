//! `trustgate webhook`: a customer's webhook endpoints (docs/webhooks.md), as the operator.

use clap::Subcommand;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use time::OffsetDateTime;
use trustgate_core::event::Actor;
use trustgate_core::ids::WebhookId;
use trustgate_core::webhook::{self, Endpoint, EndpointState, Style, WebhookVault};
use trustgate_core::ValidationError;
use trustgate_server::http::webhook_client::{self, UrlRefused};
use trustgate_server::platform::shapes::rfc3339;
use trustgate_store::Store;

use super::failure::{given, Failure};
use super::text::table;
use super::{deployment_keyring, known_customer, Output, Place};

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Subscribe an endpoint to a customer's system log; prints its signing secret once.
    Create {
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
        /// https://…; refused if it resolves to a loopback, link-local or private address.
        #[arg(long)]
        url: String,
        /// Shown in lists, to tell endpoints apart.
        #[arg(long, default_value = "")]
        description: String,
        /// A system-log event type to send (repeat for several); none: every one.
        #[arg(long = "event-type")]
        event_types: Vec<String>,
        /// Accept a loopback, link-local or private address (and plain HTTP to the loopback
        /// interface); deliveries reach it only if the server runs with --webhooks-allow-private.
        #[arg(long)]
        allow_private: bool,
    },
    /// List a customer's endpoints (never their secrets).
    List {
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
    },
    /// Delete an endpoint: nothing more is sent to it.
    Delete {
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
        /// The endpoint's id (see `trustgate webhook list`).
        #[arg(long)]
        id: String,
    },
}

impl WebhookCommand {
    pub fn writes(&self) -> bool {
        !matches!(self, WebhookCommand::List { .. })
    }
}

fn view(e: &Endpoint) -> Value {
    json!({
        "id": e.id.to_string(),
        "url": e.url,
        "description": e.description,
        "eventTypes": e.event_types,
        "state": e.state.as_str(),
        "createdBy": e.created_by,
        "createdAt": rfc3339(e.created_at),
        "failingSince": e.failing_since.map(rfc3339),
        "failures": e.failures,
        "deliveredSeq": e.delivered_seq,
    })
}

async fn check_url(url: &str, allow_private: bool) -> Result<String, Failure> {
    let refused = |e: UrlRefused| Failure::invalid(format!("--url: {e}"));
    let target = webhook_client::parse_url(url, allow_private).map_err(refused)?;
    match webhook_client::resolve(&target, allow_private).await {
        Ok(_) | Err(UrlRefused::Unresolved(_)) => Ok(url.trim().to_owned()),
        Err(e) => Err(refused(e)),
    }
}

pub async fn run(store: &dyn Store, place: Place<'_>, command: WebhookCommand, out: Output) -> anyhow::Result<()> {
    match command {
        WebhookCommand::Create { customer, url, description, event_types, allow_private } => {
            let customer = known_customer(store, &customer).await?;
            let url = check_url(&url, allow_private).await?;
            let vault = WebhookVault::for_ring(&deployment_keyring(store, place).await?);
            let (id, secret, now) = (WebhookId::generate(), webhook::new_secret(), OffsetDateTime::now_utc());
            let invalid = |option: &'static str| move |e: ValidationError| super::failure::refused_option(option, &e);
            let endpoint = Endpoint {
                id,
                customer_id: customer,
                url,
                description: webhook::parse_description(&description).map_err(invalid("--description"))?,
                event_types: given("--event-type", webhook::parse_event_types(&event_types))?,
                style: Style::Standard,
                sealed_secret: vault.seal(id, "secret", &secret),
                sealed_previous_secret: None,
                previous_until: None,
                sealed_auth_headers: None,
                created_by: "operator".to_owned(),
                created_at: now,
                state: EndpointState::Enabled,
                failing_since: None,
                next_attempt_at: now,
                failures: 0,
                delivered_seq: 0,
            };
            store.create_webhook(&endpoint, &Actor::System).await?;
            let mut shown = view(&endpoint);
            shown["secret"] = json!(secret.expose_secret());
            out.print(
                shown,
                format!(
                    "Subscribed webhook endpoint {} ({}). Its signing secret, shown only now:\n{}",
                    endpoint.url,
                    endpoint.id,
                    secret.expose_secret()
                ),
            );
        }
        WebhookCommand::List { customer } => {
            let customer = known_customer(store, &customer).await?;
            let endpoints = store.webhooks(&customer, &Actor::System).await?;
            let rows: Vec<_> =
                endpoints.iter().map(|e| [e.id.to_string(), e.state.as_str().to_owned(), e.url.clone()]).collect();
            out.print(
                json!({ "items": endpoints.iter().map(view).collect::<Vec<_>>() }),
                table(["ID", "STATE", "URL"], &rows),
            );
        }
        WebhookCommand::Delete { customer, id } => {
            let customer = known_customer(store, &customer).await?;
            let id = given("--id", WebhookId::parse(&id))?;
            if !store.delete_webhook(&customer, id, &Actor::System).await? {
                return Err(Failure::not_found(format!("customer {customer} has no webhook endpoint {id}")).into());
            }
            out.print(json!({ "id": id.to_string(), "deleted": true }), format!("Deleted webhook endpoint {id}."));
        }
    }
    Ok(())
}
