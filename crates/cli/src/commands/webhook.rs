//! `trustgate webhook`: a customer's webhook endpoints (docs/webhooks.md), as the operator, through
//! the store operations the management API uses, with the operator as actor.

use clap::Subcommand;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use time::OffsetDateTime;
use trustgate_core::event::Actor;
use trustgate_core::ids::{CustomerId, WebhookId};
use trustgate_core::webhook::{self, Endpoint, EndpointState, Style, WebhookVault};
use trustgate_core::ValidationError;
use trustgate_server::http::webhook_client::{self, UrlRefused};
use trustgate_server::platform::shapes::rfc3339;
use trustgate_store::{Store, StoreError, WebhookAttempt};

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
    /// Enable an endpoint disabled after failing for three days, where it stopped: it is sent
    /// every record after the last one delivered, the one that failed first. Writes
    /// `platform:webhook/enable` to the customer's system log, the operator as actor.
    Enable {
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
        /// The endpoint's id (see `trustgate webhook list`).
        #[arg(long)]
        id: String,
    },
    /// Give an endpoint a new signing secret, printed once; the previous one keeps signing too
    /// for 24 hours, while the receiver moves to the new one.
    RotateSecret {
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
        /// The endpoint's id (see `trustgate webhook list`).
        #[arg(long)]
        id: String,
    },
    /// Send an endpoint again every record of the customer's system log from one on, with the
    /// same webhook-ids (receivers drop what they already have); enables a disabled endpoint.
    Replay {
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
        /// The endpoint's id (see `trustgate webhook list`).
        #[arg(long)]
        id: String,
        /// The `seq` of the first record to send again: each delivery's body carries it, and
        /// `trustgate webhook deliveries` lists it as RECORD.
        #[arg(long, value_name = "SEQ")]
        from_seq: i64,
    },
    /// An endpoint's latest delivery attempts, newest first: each record's try, its answer
    /// or error, and how long it took.
    Deliveries {
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
        /// The endpoint's id (see `trustgate webhook list`).
        #[arg(long)]
        id: String,
        /// How many attempts, 1 to 200.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=200))]
        limit: u32,
    },
}

impl WebhookCommand {
    pub fn writes(&self) -> bool {
        !matches!(self, WebhookCommand::List { .. } | WebhookCommand::Deliveries { .. })
    }
}

fn no_endpoint(customer: &CustomerId, id: WebhookId) -> Failure {
    Failure::not_found(format!("customer {customer} has no webhook endpoint {id}"))
}

fn attempt_view(a: &WebhookAttempt) -> Value {
    json!({
        "webhookId": a.webhook_id,
        "recordSeq": a.record_seq,
        "eventType": a.event_type,
        "at": rfc3339(a.at),
        "status": a.status,
        "error": a.error,
        "durationMs": a.duration_ms,
    })
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
            let rows: Vec<_> = endpoints
                .iter()
                .map(|e| {
                    [
                        e.id.to_string(),
                        e.state.as_str().to_owned(),
                        e.failures.to_string(),
                        e.failing_since.map(rfc3339).unwrap_or_default(),
                        e.delivered_seq.to_string(),
                        e.url.clone(),
                    ]
                })
                .collect();
            out.print(
                json!({ "items": endpoints.iter().map(view).collect::<Vec<_>>() }),
                table(["ID", "STATE", "FAILURES", "FAILING SINCE", "DELIVERED", "URL"], &rows),
            );
        }
        WebhookCommand::Delete { customer, id } => {
            let customer = known_customer(store, &customer).await?;
            let id = given("--id", WebhookId::parse(&id))?;
            if !store.delete_webhook(&customer, id, &Actor::System).await? {
                return Err(no_endpoint(&customer, id).into());
            }
            out.print(json!({ "id": id.to_string(), "deleted": true }), format!("Deleted webhook endpoint {id}."));
        }
        WebhookCommand::Enable { customer, id } => {
            let customer = known_customer(store, &customer).await?;
            let id = given("--id", WebhookId::parse(&id))?;
            let endpoint = store
                .enable_webhook(&customer, id, OffsetDateTime::now_utc(), &Actor::System)
                .await?
                .ok_or_else(|| no_endpoint(&customer, id))?;
            out.print(
                view(&endpoint),
                format!("Webhook endpoint {id} is enabled; it is sent every record after {}.", endpoint.delivered_seq),
            );
        }
        WebhookCommand::RotateSecret { customer, id } => {
            let customer = known_customer(store, &customer).await?;
            let id = given("--id", WebhookId::parse(&id))?;
            let vault = WebhookVault::for_ring(&deployment_keyring(store, place).await?);
            let secret = webhook::new_secret();
            let sealed = vault.seal(id, "secret", &secret);
            if !store.rotate_webhook_secret(&customer, id, &sealed, OffsetDateTime::now_utc(), &Actor::System).await? {
                return Err(no_endpoint(&customer, id).into());
            }
            out.print(
                json!({ "id": id.to_string(), "secret": secret.expose_secret() }),
                format!(
                    "Webhook endpoint {id} has a new signing secret, shown only now (the previous one signs too for 24 hours):\n{}",
                    secret.expose_secret()
                ),
            );
        }
        WebhookCommand::Replay { customer, id, from_seq } => {
            let customer = known_customer(store, &customer).await?;
            let id = given("--id", WebhookId::parse(&id))?;
            let replayed =
                match store.replay_webhook(&customer, id, from_seq, OffsetDateTime::now_utc(), &Actor::System).await {
                    Err(StoreError::NotFound(_)) => {
                        return Err(Failure::not_found(format!(
                    "--from-seq: customer {customer} has no system-log record {from_seq} (pruned, or never written)"
                ))
                        .into())
                    }
                    other => other?,
                };
            if !replayed {
                return Err(no_endpoint(&customer, id).into());
            }
            let endpoint =
                store.webhook(&customer, id, &Actor::System).await?.ok_or_else(|| no_endpoint(&customer, id))?;
            out.print(view(&endpoint), format!("Webhook endpoint {id} is sent every record from {from_seq} on again."));
        }
        WebhookCommand::Deliveries { customer, id, limit } => {
            let customer = known_customer(store, &customer).await?;
            let id = given("--id", WebhookId::parse(&id))?;
            let attempts = store
                .webhook_attempts(&customer, id, limit, &Actor::System)
                .await?
                .ok_or_else(|| no_endpoint(&customer, id))?;
            let rows: Vec<_> = attempts
                .iter()
                .map(|a| {
                    let answer = match (a.status, &a.error) {
                        (_, Some(error)) => error.clone(),
                        (Some(status), None) => status.to_string(),
                        (None, None) => String::new(),
                    };
                    [
                        rfc3339(a.at),
                        a.record_seq.to_string(),
                        a.event_type.clone(),
                        answer,
                        format!("{} ms", a.duration_ms),
                    ]
                })
                .collect();
            out.print(
                json!({ "items": attempts.iter().map(attempt_view).collect::<Vec<_>>() }),
                table(["AT", "RECORD", "EVENT", "ANSWER", "TOOK"], &rows),
            );
        }
    }
    Ok(())
}
