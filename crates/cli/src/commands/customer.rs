//! `trustgate customer`: create, list, and the customer's policies (disabled owners, second
//! factor, members whom their groups leave without access).

use clap::{Subcommand, ValueEnum};
use serde_json::{json, Value};
use time::OffsetDateTime;
use trustgate_core::customer::{parse_customer_name, Customer, DisabledOwnerPolicy, LostAccessPolicy};
use trustgate_core::event::Actor;
use trustgate_core::ids::CustomerId;
use trustgate_store::Store;

use super::access::CustomerArg;
use super::failure::given;
use super::text::table;
use super::{known_customer, Output};

#[derive(Debug, Subcommand)]
pub enum CustomerCommand {
    /// Create a customer.
    Create {
        /// The customer's display name.
        #[arg(long)]
        name: String,
        /// Choose the id (lower-case letters, digits, '-'); generated when omitted.
        #[arg(long)]
        id: Option<String>,
        /// Whether administrators who sign in with a password must hold a second factor (TOTP);
        /// on for new customers, as Citrix Cloud requires multi-factor sign-in.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        require_local_mfa: bool,
    },
    /// List customers.
    List,
    /// Choose what happens to API clients of admins disabled at their identity provider.
    SetPolicy {
        #[command(flatten)]
        customer: CustomerArg,
        /// What happens to their API clients.
        #[arg(long, value_enum)]
        disabled_owner_policy: PolicyArg,
    },
    /// Require (or stop requiring) a second factor of administrators who sign in with a password.
    SetMfaPolicy {
        #[command(flatten)]
        customer: CustomerArg,
        /// true: administrators without a second factor set one up at their next sign-in; false: optional.
        #[arg(long, action = clap::ArgAction::Set)]
        require_local_mfa: bool,
    },
    /// Choose what happens to a member whom a change to their groups leaves with no access at all;
    /// their API clients are deleted either way (R6).
    SetLostAccessPolicy {
        #[command(flatten)]
        customer: CustomerArg,
        /// Whether they stay in the customer.
        #[arg(long, value_enum)]
        lost_access_policy: LostAccessArg,
    },
    /// List disabled administrators whose API clients remain active (R7), with the two ways out.
    DisabledOwners {
        #[command(flatten)]
        customer: CustomerArg,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PolicyArg {
    /// Citrix behaviour: their clients remain active.
    KeepActive,
    /// Their clients are suspended while they are disabled.
    SuspendClients,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LostAccessArg {
    /// They are removed from the customer, as when a Full administrator removes them (the default).
    RemoveFromCustomer,
    /// They stay an administrator of the customer, with no access until they are given some.
    KeepInCustomer,
}

pub async fn run(store: &dyn Store, command: CustomerCommand, out: Output) -> anyhow::Result<()> {
    match command {
        CustomerCommand::Create { name, id, require_local_mfa } => {
            let id = given("--id", id.map(|i| CustomerId::parse(&i)).transpose())?.unwrap_or_else(CustomerId::generate);
            let customer = Customer {
                id,
                name: given("--name", parse_customer_name(&name))?,
                disabled_owner_policy: DisabledOwnerPolicy::KeepActive,
                require_local_mfa,
                lost_access_policy: LostAccessPolicy::RemoveFromCustomer,
                created_at: OffsetDateTime::now_utc(),
            };
            store.create_customer(&customer, &Actor::System).await?;
            out.print(
                json!({ "id": customer.id.as_str(), "name": customer.name }),
                format!("Created customer {} ({}).", customer.id, customer.name),
            );
        }
        CustomerCommand::List => {
            let customers = store.customers().await?;
            let items: Vec<Value> = customers
                .iter()
                .map(|c| {
                    json!({
                        "id": c.id.as_str(),
                        "name": c.name,
                        "disabledOwnerPolicy": c.disabled_owner_policy.as_str(),
                        "requireLocalMfa": c.require_local_mfa,
                        "lostAccessPolicy": c.lost_access_policy.as_str(),
                    })
                })
                .collect();
            let rows: Vec<_> = customers
                .iter()
                .map(|c| [c.id.to_string(), c.disabled_owner_policy.as_str().to_owned(), c.name.clone()])
                .collect();
            out.print(json!({ "items": items }), table(["ID", "DISABLED OWNERS", "NAME"], &rows));
        }
        CustomerCommand::SetPolicy { customer, disabled_owner_policy } => {
            let id = known_customer(store, &customer.id).await?;
            let policy = match disabled_owner_policy {
                PolicyArg::KeepActive => DisabledOwnerPolicy::KeepActive,
                PolicyArg::SuspendClients => DisabledOwnerPolicy::SuspendClients,
            };
            store.set_disabled_owner_policy(&id, policy, &Actor::System).await?;
            out.print(
                json!({ "id": id.as_str(), "disabledOwnerPolicy": policy.as_str() }),
                format!("Customer {id} now uses the policy {}.", policy.as_str()),
            );
        }
        CustomerCommand::SetMfaPolicy { customer, require_local_mfa } => {
            let id = known_customer(store, &customer.id).await?;
            store.set_local_mfa_policy(&id, require_local_mfa, &Actor::System).await?;
            out.print(
                json!({ "id": id.as_str(), "requireLocalMfa": require_local_mfa }),
                if require_local_mfa {
                    format!("Administrators of {id} who sign in with a password now need a second factor.")
                } else {
                    format!("Administrators of {id} who sign in with a password no longer need a second factor.")
                },
            );
        }
        CustomerCommand::SetLostAccessPolicy { customer, lost_access_policy } => {
            let id = known_customer(store, &customer.id).await?;
            let policy = match lost_access_policy {
                LostAccessArg::RemoveFromCustomer => LostAccessPolicy::RemoveFromCustomer,
                LostAccessArg::KeepInCustomer => LostAccessPolicy::KeepInCustomer,
            };
            store.set_lost_access_policy(&id, policy, &Actor::System).await?;
            out.print(
                json!({ "id": id.as_str(), "lostAccessPolicy": policy.as_str() }),
                match policy {
                    LostAccessPolicy::RemoveFromCustomer => format!(
                        "A member of {id} whose groups leave them no access is now removed from the customer; their API clients are deleted."
                    ),
                    LostAccessPolicy::KeepInCustomer => format!(
                        "A member of {id} whose groups leave them no access now stays in the customer without access; their API clients are deleted."
                    ),
                },
            );
        }
        CustomerCommand::DisabledOwners { customer } => {
            let id = known_customer(store, &customer.id).await?;
            let owners = store.disabled_owners(&id).await?;
            let items: Vec<Value> = owners
                .iter()
                .map(|o| {
                    json!({
                        "adminId": o.admin.id.to_string(),
                        "email": o.admin.email.as_str(),
                        "displayName": o.admin.display_name,
                        "activeClients": o.active_clients,
                    })
                })
                .collect();
            let text = if owners.is_empty() {
                format!("No disabled administrator of {id} has active API clients.")
            } else {
                let rows: Vec<_> = owners
                    .iter()
                    .map(|o| [o.admin.email.to_string(), o.active_clients.to_string(), o.admin.id.to_string()])
                    .collect();
                format!(
                    "{}\nTheir clients remain active (R7). Either remove each administrator (`trustgate admin remove`), \
                     which deletes their clients, or run `trustgate customer set-policy --customer {id} \
                     --disabled-owner-policy suspend-clients`.",
                    table(["DISABLED ADMINISTRATOR", "ACTIVE CLIENTS", "ID"], &rows)
                )
            };
            out.print(json!({ "items": items, "waysOut": ["removeAdministrator", "setPolicySuspendClients"] }), text);
        }
    }
    Ok(())
}
