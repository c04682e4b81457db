//! `trustgate admin`: administrators of a customer, their access, status and invitations.

use std::io::BufRead;
use std::time::Duration;

use clap::{Subcommand, ValueEnum};
use serde_json::{json, Value};
use time::OffsetDateTime;
use trustgate_core::access::Access;
use trustgate_core::admin::{parse_display_name, Admin, AdminStatus, Email, Provider};
use trustgate_core::event::Actor;
use trustgate_core::ids::{AdminId, CustomerId};
use trustgate_core::secret::random_token;
use trustgate_store::{Store, StoreError};

use trustgate_server::{actions, password};

use super::access::CustomerArg;
use super::access::{access_json, AccessArgs};
use super::failure::{given, Failure};
use super::text::{api_clients, table};
use super::{deployment_key, known_customer, parse_duration, running_server_url, Output, Place, DEFAULT_CONSOLE_URL};

/// Identity providers, as the CLI spells them.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProviderArg {
    /// Signs in to Trustgate with e-mail and password.
    Local,
    AzureAd,
    Okta,
    Google,
    /// Active Directory.
    Ad,
}

impl ProviderArg {
    /// How the CLI spells `provider`.
    pub(super) fn name(provider: Provider) -> &'static str {
        match provider {
            Provider::Local => "local",
            Provider::AzureAd => "azure-ad",
            Provider::Okta => "okta",
            Provider::Google => "google",
            Provider::Ad => "ad",
        }
    }
}

impl From<ProviderArg> for Provider {
    fn from(arg: ProviderArg) -> Self {
        match arg {
            ProviderArg::Local => Provider::Local,
            ProviderArg::AzureAd => Provider::AzureAd,
            ProviderArg::Okta => Provider::Okta,
            ProviderArg::Google => Provider::Google,
            ProviderArg::Ad => Provider::Ad,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Add an administrator to a customer (creating the administrator if the e-mail is new). A local
    /// account that exists already is invited instead, as with `admin invite`: it joins only by
    /// signing in as itself on the printed link.
    Add {
        #[command(flatten)]
        customer: CustomerArg,
        /// The administrator's e-mail (their sign-in name if local).
        #[arg(long)]
        email: String,
        /// The name shown in the console; the e-mail when omitted.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        access: AccessArgs,
        /// Where the administrator signs in.
        #[arg(long, value_enum, default_value = "local")]
        provider: ProviderArg,
        /// The administrator's id at a federated identity provider.
        #[arg(long)]
        external_id: Option<String>,
        /// The provider's directory the administrator comes from (the Azure AD tenant id, or the
        /// Active Directory domain), returned as `providerId` by the Administrators API.
        #[arg(long)]
        provider_id: Option<String>,
        /// Read a local administrator's password from the first line of standard input
        /// (else TRUSTGATE_ADMIN_PASSWORD, else one is generated and printed).
        #[arg(long)]
        password_stdin: bool,
        /// The URL the console is reached at, for the link printed when a local account that exists
        /// already is invited: as `admin invite --public-url`.
        #[arg(long, env = "TRUSTGATE_PUBLIC_URL")]
        public_url: Option<String>,
    },
    /// Invite a local administrator to a customer: prints the one-time link to pass on. They have
    /// no access until they open it and choose a password there (or, with an account already, sign
    /// in with its password). For someone invited already and not yet accepted, prints a new link
    /// (the previous one stops working): how invitations made in the console or the API reach the
    /// invitee when the server sends no e-mail.
    Invite {
        #[command(flatten)]
        customer: CustomerArg,
        /// The e-mail they sign in with.
        #[arg(long)]
        email: String,
        /// The name shown in the console; the e-mail when omitted.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        access: AccessArgs,
        /// The URL the console is reached at, as `serve --public-url`: the link starts with it.
        /// Default: the public URL of the server running on --data-dir, else http://127.0.0.1:8080.
        #[arg(long, env = "TRUSTGATE_PUBLIC_URL")]
        public_url: Option<String>,
        /// How long the link works, as `serve --invitation-lifetime`. Default 5d.
        #[arg(long, env = "TRUSTGATE_INVITATION_LIFETIME", value_parser = parse_duration)]
        invitation_lifetime: Option<Duration>,
    },
    /// List a customer's administrators.
    List {
        #[command(flatten)]
        customer: CustomerArg,
    },
    /// Change an administrator's access; their API clients follow at once.
    SetAccess {
        #[command(flatten)]
        customer: CustomerArg,
        /// The administrator's e-mail or id.
        #[arg(long)]
        admin: String,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// Remove an administrator from a customer; their API clients there are deleted.
    Remove {
        #[command(flatten)]
        customer: CustomerArg,
        /// The administrator's e-mail or id.
        #[arg(long)]
        admin: String,
    },
    /// Reset a local administrator's lost second factor (their authenticator and recovery codes),
    /// ending their sessions; logged in the customer's system log. For when no other Full
    /// administrator of theirs can do it in the console.
    ResetMfa {
        #[command(flatten)]
        customer: CustomerArg,
        /// The administrator's e-mail or id.
        #[arg(long)]
        admin: String,
    },
    /// Record that a federated administrator was disabled at their identity provider.
    Disable {
        /// The administrator's e-mail or id.
        #[arg(long)]
        admin: String,
    },
    /// Record that a federated administrator was enabled again.
    Enable {
        /// The administrator's e-mail or id.
        #[arg(long)]
        admin: String,
    },
    /// Delete an administrator altogether, with all their API clients in every customer.
    Delete {
        /// The administrator's e-mail or id.
        #[arg(long)]
        admin: String,
    },
    /// Set a local administrator's password (from standard input, TRUSTGATE_ADMIN_PASSWORD, or generated).
    SetPassword {
        /// The administrator's e-mail or id.
        #[arg(long)]
        admin: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

pub(super) fn local_admin(email: Email, name: Option<&str>, now: OffsetDateTime) -> anyhow::Result<Admin> {
    Ok(Admin {
        id: AdminId::generate(),
        display_name: given("--name", name.map(parse_display_name).transpose())?.unwrap_or_else(|| email.to_string()),
        email,
        provider: Provider::Local,
        external_id: None,
        provider_id: None,
        status: AdminStatus::Active,
        created_at: now,
    })
}

/// An administrator by id, or by e-mail when exactly one has it (a local administrator and
/// federated ones may share an e-mail: they are different identities).
pub(super) async fn find_admin(store: &dyn Store, reference: &str) -> anyhow::Result<Admin> {
    let unknown = || Failure::not_found(format!("there is no administrator {reference}"));
    if let Ok(id) = AdminId::parse(reference) {
        return Ok(store.admin(id).await?.ok_or_else(unknown)?);
    }
    let mut found = store.admins_with_email(&given("--admin", Email::parse(reference))?).await?;
    match found.len() {
        0 => Err(unknown().into()),
        1 => Ok(found.remove(0)),
        n => Err(Failure::invalid(format!(
            "{n} administrators have the e-mail {reference}; name one by id (see `trustgate admin list`)"
        ))
        .into()),
    }
}

/// The store found no membership: said with the administrator and customer the operator named.
pub(super) fn not_a_member(error: trustgate_store::StoreError, admin: &Admin, customer: &CustomerId) -> anyhow::Error {
    match error {
        trustgate_store::StoreError::NotFound(_) => {
            Failure::not_found(format!("{} is not an administrator of customer {customer}", admin.email)).into()
        }
        other => other.into(),
    }
}

/// A password from the first line of standard input, `TRUSTGATE_ADMIN_PASSWORD`, or generated
/// (the bool says it was generated and must be shown).
pub(super) fn choose_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else if let Ok(password) = std::env::var("TRUSTGATE_ADMIN_PASSWORD") {
        password
    } else {
        return Ok((random_token()[..24].to_owned(), true));
    };
    password::check_strength(&password).map_err(|e| Failure::invalid(e.detail))?;
    Ok((password, false))
}

/// What `admin invite` (and `admin add`, for an account that exists already) invites.
pub(super) struct Invite {
    customer: CustomerId,
    email: Email,
    name: Option<String>,
    access: Access,
    public_url: Option<String>,
    lifetime: Option<Duration>,
}

/// Invites a local administrator and prints the link, or prints a new link for one invited
/// already: the operator, on the server, is trusted with it (issue #20), where the console and the
/// API only e-mail it to the invitee.
pub(super) async fn invite_local(
    store: &dyn Store,
    place: Place<'_>,
    invite: Invite,
    out: Output,
) -> anyhow::Result<()> {
    let Invite { customer, email, name, access, public_url, lifetime } = invite;
    let key = deployment_key(store, place).await?;
    let candidate = local_admin(email.clone(), name.as_deref(), OffsetDateTime::now_utc())?;
    let lifetime = lifetime.unwrap_or(trustgate_server::config::DEFAULT_INVITATION_LIFETIME);
    let (token, terms) = actions::invitations::new_invitation(&key, lifetime, OffsetDateTime::now_utc());
    let member = match store.add_admin(&customer, &candidate, None, access, Some(&terms), &Actor::System).await {
        Ok((member, _)) => member,
        Err(StoreError::Conflict(conflict)) => {
            let pending = match store.admin_by_email(&email).await? {
                Some(known) => store.member(&customer, known.id).await?.filter(|m| m.pending.is_some()),
                None => None,
            };
            let Some(pending) = pending else { return Err(StoreError::Conflict(conflict).into()) };
            store.resend_invitation(&customer, pending.admin.id, &terms, &Actor::System).await?
        }
        Err(other) => return Err(other.into()),
    };
    let public_url = match public_url {
        Some(url) => url.trim().trim_end_matches('/').to_owned(),
        None => match running_server_url(place.data_dir).await {
            Some(url) => url,
            None => {
                eprintln!(
                    "note: no server answers on {} and no --public-url (env TRUSTGATE_PUBLIC_URL) is given: \
                     the link starts with {DEFAULT_CONSOLE_URL}",
                    place.data_dir.display()
                );
                DEFAULT_CONSOLE_URL.to_owned()
            }
        },
    };
    let url = actions::invitations::invitation_url(&public_url, &token);
    let access = &member.access;
    out.print(
        json!({ "id": member.admin.id.to_string(), "email": member.admin.email.as_str(),
                "customerId": customer.as_str(), "access": access_json(access), "invitationUrl": url }),
        format!(
            "Invited {} to customer {customer} with {access} access (id {}). Pass on this link (shown only now):\n{url}",
            member.admin.email, member.admin.id
        ),
    );
    Ok(())
}

pub async fn run(store: &dyn Store, place: Place<'_>, command: AdminCommand, out: Output) -> anyhow::Result<()> {
    match command {
        AdminCommand::Add {
            customer,
            email,
            name,
            access,
            provider,
            external_id,
            provider_id,
            password_stdin,
            public_url,
        } => {
            let customer = known_customer(store, &customer.id).await?;
            let access = access.access(store).await?;
            let provider = Provider::from(provider);
            let email = given("--email", Email::parse_new(&email))?;
            if provider == Provider::Local && store.admin_by_email(&email).await?.is_some() {
                // Issue #20: an existing account joins only by accepting, signed in as itself.
                let invite = Invite { customer, email, name, access, public_url, lifetime: None };
                return invite_local(store, place, invite, out).await;
            }
            let now = OffsetDateTime::now_utc();
            let external_id = external_id.filter(|e| !e.trim().is_empty());
            let provider_id = match provider_id.as_deref().map(str::trim) {
                Some(id) if id.len() > 256 => {
                    return Err(Failure::invalid("--provider-id is longer than 256 bytes").into())
                }
                Some(id) if !id.is_empty() && provider.is_federated() => Some(id.to_owned()),
                _ => None,
            };
            let candidate = Admin { provider, external_id, provider_id, ..local_admin(email, name.as_deref(), now)? };
            // Hashed up front (the store decides inside its transaction whether the person is new),
            // and shown only if it was generated and the administrator was created with it.
            let (password, hash) = if provider == Provider::Local {
                let (password, generated) = choose_password(password_stdin)?;
                let hash = password::hash(password.clone()).await?;
                (generated.then_some(password), Some(hash))
            } else {
                (None, None)
            };
            let (member, created) =
                store.add_admin(&customer, &candidate, hash.as_deref(), access.clone(), None, &Actor::System).await?;
            let admin = member.admin;
            let shown_password = password.filter(|_| created);
            let mut text =
                format!("Added {} to customer {customer} with {access} access (id {}).", admin.email, admin.id);
            if let Some(password) = &shown_password {
                text.push_str(&format!("\nTheir password: {password} (shown only now)"));
            }
            out.print(
                json!({ "id": admin.id.to_string(), "email": admin.email.as_str(), "customerId": customer.as_str(),
                        "providerId": admin.provider_id, "access": access_json(&access), "password": shown_password }),
                text,
            );
        }
        AdminCommand::Invite { customer, email, name, access, public_url, invitation_lifetime } => {
            let customer = known_customer(store, &customer.id).await?;
            let access = access.access(store).await?;
            let email = given("--email", Email::parse_new(&email))?;
            let invite = Invite { customer, email, name, access, public_url, lifetime: invitation_lifetime };
            invite_local(store, place, invite, out).await?;
        }
        AdminCommand::List { customer } => {
            let customer = known_customer(store, &customer.id).await?;
            let members = store.members(&customer, None, u32::MAX).await?;
            let items: Vec<Value> = members
                .iter()
                .map(|m| {
                    json!({ "id": m.admin.id.to_string(), "email": m.admin.email.as_str(), "provider": m.admin.provider.wire_name(),
                            "providerId": m.admin.provider_id, "status": m.admin.status.as_str(), "access": access_json(&m.access), "pending": m.pending.is_some() })
                })
                .collect();
            let rows: Vec<_> = members
                .iter()
                .map(|m| {
                    [
                        m.admin.id.to_string(),
                        m.admin.email.to_string(),
                        ProviderArg::name(m.admin.provider).to_owned(),
                        if m.pending.is_some() { "invited".to_owned() } else { m.admin.status.as_str().to_owned() },
                        m.access.to_string(),
                    ]
                })
                .collect();
            out.print(json!({ "items": items }), table(["ID", "E-MAIL", "PROVIDER", "STATUS", "ACCESS"], &rows));
        }
        AdminCommand::SetAccess { customer, admin, access } => {
            let access = access.access(store).await?;
            let customer = known_customer(store, &customer.id).await?;
            let admin = find_admin(store, &admin).await?;
            let before = store
                .set_access(&customer, admin.id, access.clone(), &Actor::System)
                .await
                .map_err(|e| not_a_member(e, &admin, &customer))?;
            out.print(
                json!({ "id": admin.id.to_string(), "before": access_json(&before), "after": access_json(&access) }),
                format!(
                    "{} now has {access} access in {customer} (was {before}); their API clients follow.",
                    admin.email
                ),
            );
        }
        AdminCommand::Remove { customer, admin } => {
            let customer = known_customer(store, &customer.id).await?;
            let admin = find_admin(store, &admin).await?;
            let deleted = store
                .remove_member(&customer, admin.id, &Actor::System)
                .await
                .map_err(|e| not_a_member(e, &admin, &customer))?;
            out.print(
                json!({ "id": admin.id.to_string(), "customerId": customer.as_str(), "deletedApiClients": deleted }),
                format!("Removed {} from {customer}; {} deleted.", admin.email, api_clients(deleted)),
            );
        }
        AdminCommand::ResetMfa { customer, admin } => {
            let customer = known_customer(store, &customer.id).await?;
            let admin = find_admin(store, &admin).await?;
            let reset = store
                .reset_second_factor(&customer, admin.id, &Actor::System)
                .await
                .map_err(|e| not_a_member(e, &admin, &customer))?;
            out.print(
                json!({ "id": admin.id.to_string(), "customerId": customer.as_str(), "reset": reset }),
                if reset {
                    format!("Reset the second factor of {}; their sessions ended.", admin.email)
                } else {
                    format!("{} has no second factor; nothing changed.", admin.email)
                },
            );
        }
        AdminCommand::Disable { admin } => set_status(store, &admin, AdminStatus::Disabled, out).await?,
        AdminCommand::Enable { admin } => set_status(store, &admin, AdminStatus::Active, out).await?,
        AdminCommand::Delete { admin } => {
            let admin = find_admin(store, &admin).await?;
            let deleted = store.delete_admin(admin.id, &Actor::System).await?;
            out.print(
                json!({ "id": admin.id.to_string(), "deletedApiClients": deleted }),
                format!("Deleted {}; {} deleted.", admin.email, api_clients(deleted)),
            );
        }
        AdminCommand::SetPassword { admin, password_stdin } => {
            let admin = find_admin(store, &admin).await?;
            if admin.provider.is_federated() {
                return Err(Failure::invalid(format!(
                    "{} signs in through {}; only local administrators have passwords",
                    admin.email, admin.provider
                ))
                .into());
            }
            let (password, generated) = choose_password(password_stdin)?;
            store.set_password_hash(admin.id, &password::hash(password.clone()).await?).await?;
            let shown = generated.then_some(password);
            let text = match &shown {
                Some(p) => format!("New password for {}: {p} (shown only now)", admin.email),
                None => format!("Password of {} changed.", admin.email),
            };
            out.print(json!({ "id": admin.id.to_string(), "password": shown }), text);
        }
    }
    Ok(())
}

pub(super) async fn set_status(
    store: &dyn Store,
    reference: &str,
    status: AdminStatus,
    out: Output,
) -> anyhow::Result<()> {
    let admin = find_admin(store, reference).await?;
    store.set_admin_status(admin.id, status, &Actor::System).await?;
    let note = if status == AdminStatus::Disabled {
        " Their API clients remain active unless the customer's policy is suspend-clients; delete the administrator to revoke them."
    } else {
        ""
    };
    out.print(
        json!({ "id": admin.id.to_string(), "status": status.as_str() }),
        format!("{} is now {}.{note}", admin.email, status.as_str()),
    );
    Ok(())
}
