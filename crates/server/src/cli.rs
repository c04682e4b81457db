//! The `trustgate` command: `serve`, and the operator commands for bootstrap and automation.
//! Operator commands work on the store directly and act as `System` in the system log; a
//! running server sees their changes through the change feed.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};
use time::OffsetDateTime;
use trustgate_core::access::{Access, Permission, PermissionSet};
use trustgate_core::admin::{parse_display_name, Admin, AdminStatus, Email, Provider};
use trustgate_core::custody::KeyVault;
use trustgate_core::customer::{parse_customer_name, Customer, DisabledOwnerPolicy};
use trustgate_core::event::Actor;
use trustgate_core::ids::{AdminId, ClientId, CustomerId};
use trustgate_core::secret::{random_token, ServerKey};
use trustgate_core::token::Issuer;
use trustgate_store::{files, PostgresStore, SqliteStore, Store};

use crate::config::ServerConfig;
use crate::state::AppState;
use crate::wire::rfc3339;
use crate::{ops, password};

const SERVER_KEY_FILE: &str = "server.key";

#[derive(Debug, Parser)]
#[command(
    name = "trustgate",
    version,
    about = "Trustgate: API clients (ID + Secret → one-hour token) that can do exactly what their owner may do, now.",
    after_help = "Start with `trustgate serve`; it prints where to sign in. Every command takes --data-dir."
)]
pub struct Cli {
    /// Where the embedded store and the server key live.
    #[arg(long, global = true, env = "TRUSTGATE_DATA_DIR", default_value = "trustgate-data")]
    pub data_dir: PathBuf,
    /// A PostgreSQL URL (postgres://…) to use instead of the embedded SQLite store; every node
    /// of a deployment names the same database and shares the server key.
    #[arg(long, global = true, env = "TRUSTGATE_DATABASE_URL")]
    pub database: Option<String>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (token endpoints, platform APIs, management API).
    Serve(ServeArgs),
    /// Customers (tenants).
    #[command(subcommand)]
    Customer(CustomerCommand),
    /// Administrators and their access in customers.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// API clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Measure the token endpoint and authorized calls against a baseline, with wrk, on a seeded
    /// store in a scratch directory (run from a release build).
    Bench(crate::bench::BenchArgs),
    /// Copy the embedded SQLite store of --data-dir into an empty PostgreSQL database, keeping
    /// client secrets, signing keys and the system log, so no credential has to be re-issued.
    CopyToPostgres {
        /// The target database (postgres://…).
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TRUSTGATE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Mark session cookies Secure (set this when serving behind HTTPS).
    #[arg(long, env = "TRUSTGATE_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// E-mail of the administrator created on the first start of an empty store.
    #[arg(long, env = "TRUSTGATE_BOOTSTRAP_EMAIL", default_value = "admin@example.com")]
    pub bootstrap_email: String,
    /// The URL clients reach this deployment at (every node the same): the `iss` of its tokens
    /// and the base of the discovery document's URLs. Default: http://<the listen address>.
    #[arg(long, env = "TRUSTGATE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The `aud` of every token, which resource servers check. Default: the public URL.
    #[arg(long, env = "TRUSTGATE_AUDIENCE")]
    pub audience: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum CustomerCommand {
    /// Create a customer.
    Create {
        #[arg(long)]
        name: String,
        /// Choose the id (lower-case letters, digits, '-'); generated when omitted.
        #[arg(long)]
        id: Option<String>,
    },
    /// List customers.
    List,
    /// Choose what happens to API clients of admins disabled at their identity provider.
    SetPolicy {
        #[arg(long)]
        customer: String,
        #[arg(long, value_enum)]
        disabled_owner_policy: PolicyArg,
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
pub enum AccessArg {
    Full,
    Custom,
}

#[derive(Debug, Args)]
pub struct AccessArgs {
    /// Full access, or Custom with --permission.
    #[arg(long, value_enum)]
    pub access: AccessArg,
    /// A permission for Custom access (repeat, or separate with commas): administrators,
    /// apiClients, notifications, systemLog, resourceLocations.
    #[arg(long = "permission", value_delimiter = ',')]
    pub permissions: Vec<String>,
}

impl AccessArgs {
    fn access(&self) -> anyhow::Result<Access> {
        let set = self.permissions.iter().map(|p| Permission::parse(p)).collect::<Result<PermissionSet, _>>()?;
        match self.access {
            AccessArg::Full if !self.permissions.is_empty() => bail!("--permission applies to --access custom only"),
            AccessArg::Full => Ok(Access::Full),
            AccessArg::Custom => Ok(Access::Custom(set)),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Add an administrator to a customer (creating the administrator if the e-mail is new).
    Add {
        #[arg(long)]
        customer: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        access: AccessArgs,
        /// Identity provider: local (password sign-in), azure-ad, okta, google, ad.
        #[arg(long, default_value = "local")]
        provider: String,
        /// The administrator's id at a federated identity provider.
        #[arg(long)]
        external_id: Option<String>,
        /// Read a local administrator's password from the first line of standard input
        /// (else TRUSTGATE_ADMIN_PASSWORD, else one is generated and printed).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List a customer's administrators.
    List {
        #[arg(long)]
        customer: String,
    },
    /// Change an administrator's access; their API clients follow at once.
    SetAccess {
        #[arg(long)]
        customer: String,
        /// E-mail or id.
        #[arg(long)]
        admin: String,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// Remove an administrator from a customer; their API clients there are deleted.
    Remove {
        #[arg(long)]
        customer: String,
        #[arg(long)]
        admin: String,
    },
    /// Record that a federated administrator was disabled at their identity provider.
    Disable {
        #[arg(long)]
        admin: String,
    },
    /// Record that a federated administrator was enabled again.
    Enable {
        #[arg(long)]
        admin: String,
    },
    /// Delete an administrator altogether, with all their API clients in every customer.
    Delete {
        #[arg(long)]
        admin: String,
    },
    /// Set a local administrator's password (from standard input, TRUSTGATE_ADMIN_PASSWORD, or generated).
    SetPassword {
        #[arg(long)]
        admin: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create an API client on behalf of an administrator; prints its ID and Secret once.
    Create {
        #[arg(long)]
        customer: String,
        #[arg(long)]
        admin: String,
        #[arg(long)]
        name: String,
        /// Write secureclient.csv (ID,Secret) to this new file instead of printing the secret.
        #[arg(long)]
        csv: Option<PathBuf>,
    },
    /// List an administrator's API clients in a customer.
    List {
        #[arg(long)]
        customer: String,
        #[arg(long)]
        admin: String,
    },
    /// Delete an API client.
    Delete {
        #[arg(long)]
        customer: String,
        #[arg(long)]
        admin: String,
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Start signing with a new key; tokens signed by the old one keep verifying until they expire
    /// (at most an hour), unless --revoke-previous.
    Rotate {
        /// The previous keys leaked: drop them now, so every token they signed is refused on its
        /// next call, on every running node. Clients simply ask for a new token.
        #[arg(long)]
        revoke_previous: bool,
    },
}

/// PostgreSQL when a `postgres://` URL is given, else the embedded SQLite store in the data directory.
pub async fn open_store(data_dir: &Path, database: Option<&str>) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match database {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Arc::new(PostgresStore::connect(url).await.context("connecting to PostgreSQL")?)
        }
        Some(other) => bail!("--database takes a postgres:// URL (got {other:?}); leave it out for the embedded store"),
        None => Arc::new(
            SqliteStore::open(data_dir)
                .await
                .with_context(|| format!("opening the store in {}", data_dir.display()))?,
        ),
    })
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::CopyToPostgres { to } = &cli.command {
        return copy_to_postgres(&cli.data_dir, to, Output { json: cli.json }).await;
    }
    if let Command::Bench(args) = cli.command {
        return crate::bench::run(args).await;
    }
    let store = open_store(&cli.data_dir, cli.database.as_deref()).await?;
    let out = Output { json: cli.json };
    match cli.command {
        Command::CopyToPostgres { .. } | Command::Bench(_) => Ok(()),
        Command::Serve(args) => serve(store, &cli.data_dir, args).await,
        Command::Customer(command) => customer(store.as_ref(), command, out).await,
        Command::Admin(command) => admin(store.as_ref(), command, out).await,
        Command::Client(command) => client(store.as_ref(), &cli.data_dir, command, out).await,
        Command::Keys(KeysCommand::Rotate { revoke_previous }) => {
            let vault = KeyVault::new(&server_key(&cli.data_dir)?);
            let key = crate::keys::rotate(store.as_ref(), &vault, revoke_previous).await.context(
                "rotating the signing key (every node must use the same server key: TRUSTGATE_SERVER_KEY or server.key in --data-dir)",
            )?;
            let revoked = if revoke_previous {
                " Every previous key is revoked: tokens they signed are refused from their next call."
            } else {
                ""
            };
            out.print(
                json!({ "kid": key.kid(), "revokedPrevious": revoke_previous }),
                format!("Now signing with key {}.{revoked}", key.kid()),
            );
            Ok(())
        }
    }
}

#[derive(Clone, Copy)]
struct Output {
    json: bool,
}

impl Output {
    fn print(self, value: Value, text: String) {
        if self.json {
            println!("{value}");
        } else {
            println!("{text}");
        }
    }
}

/// The server key: `TRUSTGATE_SERVER_KEY`, else `server.key` in the data directory (created on
/// first use with the directory, readable by its owner only). Every node of a deployment must share it.
pub fn server_key(data_dir: &Path) -> anyhow::Result<ServerKey> {
    if let Ok(text) = std::env::var("TRUSTGATE_SERVER_KEY") {
        return ServerKey::from_encoded(&text)
            .ok_or_else(|| anyhow!("TRUSTGATE_SERVER_KEY is not a 32-byte base64url key"));
    }
    let path = data_dir.join(SERVER_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            files::restrict_to_owner(&path).with_context(|| format!("making {} private", path.display()))?;
            ServerKey::from_encoded(&text).ok_or_else(|| anyhow!("{} does not hold a valid key", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            files::create_private_dir(data_dir)
                .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
            let key = ServerKey::generate();
            let mut file = private_file(&path)?;
            writeln!(file, "{}", key.encode())?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Creates a new file readable and writable by its owner only; refuses to overwrite.
fn private_file(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).with_context(|| format!("creating {}", path.display()))
}

async fn serve(store: Arc<dyn Store>, data_dir: &Path, args: ServeArgs) -> anyhow::Result<()> {
    let key = server_key(data_dir)?;
    let first_start = store.customers().await?.is_empty();
    let bootstrap = if first_start { Some(bootstrap(store.as_ref(), &args.bootstrap_email).await?) } else { None };
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    let issuer = issuer(&args, listener.local_addr()?)?;
    let config = ServerConfig { secure_cookies: args.secure_cookies, issuer, ..ServerConfig::default() };
    let state = AppState::new(store, key, config).await?;
    println!("Trustgate is listening on {url} (data in {})", data_dir.display());
    println!("Administrator console: sign in at {url}/console");
    if let Some((customer, email, password)) = bootstrap {
        println!("First start: created customer {customer} and its administrator.");
        println!("  Sign in at {url}/console with e-mail {email} and password {password}");
        println!("  (shown only now; change it with `trustgate admin set-password --admin {email}`)");
        println!("  or from a script: curl -c cookies.txt -H 'Content-Type: application/json' \\");
        println!("       -d '{{\"email\":\"{email}\",\"password\":\"{password}\"}}' {url}/api/v1/session");
    }
    println!("API description: {url}/openapi.json");
    crate::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

/// The `iss` and `aud` of tokens: a public URL is an absolute http(s) URL with nothing after
/// the path, kept without a trailing slash so `{issuer}/.well-known/…` is well formed.
fn issuer(args: &ServeArgs, bound: std::net::SocketAddr) -> anyhow::Result<Issuer> {
    let url = match &args.public_url {
        Some(url) => {
            let url = url.trim().trim_end_matches('/');
            let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
            if rest.is_none_or(|rest| rest.is_empty() || rest.contains(['?', '#', ' '])) {
                bail!(
                    "--public-url must be an absolute http:// or https:// URL without query or fragment, not {url:?}"
                );
            }
            url.to_owned()
        }
        None => crate::config::default_public_url(bound),
    };
    let audience = args.audience.as_deref().map(str::trim).filter(|a| !a.is_empty()).unwrap_or(&url).to_owned();
    Ok(Issuer { url, audience })
}

/// First start on an empty store: a customer and a Full administrator who can sign in.
async fn bootstrap(store: &dyn Store, email: &str) -> anyhow::Result<(CustomerId, Email, String)> {
    let now = OffsetDateTime::now_utc();
    let customer = Customer {
        id: CustomerId::generate(),
        name: "My organisation".to_owned(),
        disabled_owner_policy: DisabledOwnerPolicy::KeepActive,
        created_at: now,
    };
    store.create_customer(&customer, &Actor::System).await?;
    let email = Email::parse(email)?;
    let password = random_token()[..24].to_owned();
    let admin = match store.admin_by_email(&email).await? {
        Some(admin) => admin,
        None => {
            let admin = local_admin(email.clone(), None, now)?;
            store.create_admin(&admin, None).await?;
            admin
        }
    };
    store.set_password_hash(admin.id, &password::hash(password.clone()).await?).await?;
    store.add_member(&customer.id, admin.id, Access::Full, &Actor::System).await?;
    Ok((customer.id, email, password))
}

fn local_admin(email: Email, name: Option<&str>, now: OffsetDateTime) -> anyhow::Result<Admin> {
    Ok(Admin {
        id: AdminId::generate(),
        display_name: name.map(parse_display_name).transpose()?.unwrap_or_else(|| email.to_string()),
        email,
        provider: Provider::Local,
        external_id: None,
        status: AdminStatus::Active,
        created_at: now,
    })
}

async fn customer(store: &dyn Store, command: CustomerCommand, out: Output) -> anyhow::Result<()> {
    match command {
        CustomerCommand::Create { name, id } => {
            let id = id.map(|i| CustomerId::parse(&i)).transpose()?.unwrap_or_else(CustomerId::generate);
            let customer = Customer {
                id,
                name: parse_customer_name(&name)?,
                disabled_owner_policy: DisabledOwnerPolicy::KeepActive,
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
                .map(|c| json!({ "id": c.id.as_str(), "name": c.name, "disabledOwnerPolicy": c.disabled_owner_policy.as_str() }))
                .collect();
            let text = customers.iter().map(|c| format!("{}\t{}", c.id, c.name)).collect::<Vec<_>>().join("\n");
            out.print(json!({ "items": items }), text);
        }
        CustomerCommand::SetPolicy { customer, disabled_owner_policy } => {
            let id = CustomerId::parse(&customer)?;
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
    }
    Ok(())
}

async fn find_admin(store: &dyn Store, reference: &str) -> anyhow::Result<Admin> {
    let found = match AdminId::parse(reference) {
        Ok(id) => store.admin(id).await?,
        Err(_) => store.admin_by_email(&Email::parse(reference)?).await?,
    };
    found.ok_or_else(|| anyhow!("no administrator {reference}"))
}

/// A password from the first line of standard input, `TRUSTGATE_ADMIN_PASSWORD`, or generated
/// (the bool says it was generated and must be shown).
fn choose_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else if let Ok(password) = std::env::var("TRUSTGATE_ADMIN_PASSWORD") {
        password
    } else {
        return Ok((random_token()[..24].to_owned(), true));
    };
    password::check_strength(&password)?;
    Ok((password, false))
}

fn access_json(access: Access) -> Value {
    json!({ "accessType": access.access_type(), "policies": access.permissions().iter().map(Permission::name).collect::<Vec<_>>() })
}

async fn admin(store: &dyn Store, command: AdminCommand, out: Output) -> anyhow::Result<()> {
    match command {
        AdminCommand::Add { customer, email, name, access, provider, external_id, password_stdin } => {
            let customer = CustomerId::parse(&customer)?;
            let access = access.access()?;
            let provider = Provider::parse(&provider)?;
            let email = Email::parse(&email)?;
            let now = OffsetDateTime::now_utc();
            let mut shown_password = None;
            let admin = match store.admin_by_email(&email).await? {
                Some(admin) => admin,
                None if provider == Provider::Local => {
                    let admin = local_admin(email, name.as_deref(), now)?;
                    let (password, generated) = choose_password(password_stdin)?;
                    store.create_admin(&admin, Some(&password::hash(password.clone()).await?)).await?;
                    shown_password = generated.then_some(password);
                    admin
                }
                None => {
                    let admin = Admin {
                        provider,
                        external_id: external_id.filter(|e| !e.trim().is_empty()),
                        ..local_admin(email, name.as_deref(), now)?
                    };
                    store.create_admin(&admin, None).await?;
                    admin
                }
            };
            store.add_member(&customer, admin.id, access, &Actor::System).await?;
            let mut text =
                format!("Added {} to customer {customer} with {access} access (id {}).", admin.email, admin.id);
            if let Some(password) = &shown_password {
                text.push_str(&format!("\nTheir password: {password} (shown only now)"));
            }
            out.print(
                json!({ "id": admin.id.to_string(), "email": admin.email.as_str(), "customerId": customer.as_str(),
                        "access": access_json(access), "password": shown_password }),
                text,
            );
        }
        AdminCommand::List { customer } => {
            let customer = CustomerId::parse(&customer)?;
            let members = store.members(&customer, None, u32::MAX).await?;
            let items: Vec<Value> = members
                .iter()
                .map(|m| {
                    json!({ "id": m.admin.id.to_string(), "email": m.admin.email.as_str(), "provider": m.admin.provider.wire_name(),
                            "status": m.admin.status.as_str(), "access": access_json(m.access) })
                })
                .collect();
            let text = members
                .iter()
                .map(|m| format!("{}\t{}\t{}\t{}", m.admin.id, m.admin.email, m.access, m.admin.status.as_str()))
                .collect::<Vec<_>>()
                .join("\n");
            out.print(json!({ "items": items }), text);
        }
        AdminCommand::SetAccess { customer, admin, access } => {
            let customer = CustomerId::parse(&customer)?;
            let admin = find_admin(store, &admin).await?;
            let access = access.access()?;
            let before = store.set_access(&customer, admin.id, access, &Actor::System).await?;
            out.print(
                json!({ "id": admin.id.to_string(), "before": access_json(before), "after": access_json(access) }),
                format!(
                    "{} now has {access} access in {customer} (was {before}); their API clients follow.",
                    admin.email
                ),
            );
        }
        AdminCommand::Remove { customer, admin } => {
            let customer = CustomerId::parse(&customer)?;
            let admin = find_admin(store, &admin).await?;
            let deleted = store.remove_member(&customer, admin.id, &Actor::System).await?;
            out.print(
                json!({ "id": admin.id.to_string(), "customerId": customer.as_str(), "deletedApiClients": deleted }),
                format!("Removed {} from {customer}; {deleted} API client(s) deleted.", admin.email),
            );
        }
        AdminCommand::Disable { admin } => set_status(store, &admin, AdminStatus::Disabled, out).await?,
        AdminCommand::Enable { admin } => set_status(store, &admin, AdminStatus::Active, out).await?,
        AdminCommand::Delete { admin } => {
            let admin = find_admin(store, &admin).await?;
            let deleted = store.delete_admin(admin.id, &Actor::System).await?;
            out.print(
                json!({ "id": admin.id.to_string(), "deletedApiClients": deleted }),
                format!("Deleted {}; {deleted} API client(s) deleted.", admin.email),
            );
        }
        AdminCommand::SetPassword { admin, password_stdin } => {
            let admin = find_admin(store, &admin).await?;
            if admin.provider.is_federated() {
                bail!("{} signs in through {}; only local administrators have passwords", admin.email, admin.provider);
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

async fn set_status(store: &dyn Store, reference: &str, status: AdminStatus, out: Output) -> anyhow::Result<()> {
    let admin = find_admin(store, reference).await?;
    if !admin.provider.is_federated() {
        bail!("{} is a local administrator; only federated administrators are disabled at their identity provider (remove or delete local ones)", admin.email);
    }
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

async fn client(store: &dyn Store, data_dir: &Path, command: ClientCommand, out: Output) -> anyhow::Result<()> {
    match command {
        ClientCommand::Create { customer, admin, name, csv } => {
            let customer = CustomerId::parse(&customer)?;
            let owner = find_admin(store, &admin).await?;
            let key = server_key(data_dir)?;
            // The file is claimed first: a client whose secret could not be written would be lost.
            let file = csv.as_deref().map(private_file).transpose()?;
            let created = ops::new_client(store, &key, &customer, &owner, &name, &Actor::System).await;
            let (client, secret) = match created {
                Ok(created) => created,
                Err(error) => {
                    if let Some(path) = &csv {
                        let _ = std::fs::remove_file(path);
                    }
                    return Err(match error {
                        crate::ApiError::NotFound(_) => {
                            anyhow!("{} is not an administrator of customer {customer}", owner.email)
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
            let customer = CustomerId::parse(&customer)?;
            let owner = find_admin(store, &admin).await?;
            let clients = store.clients_of(&customer, owner.id).await?;
            let items: Vec<Value> = clients
                .iter()
                .map(|c| json!({ "id": c.id.to_string(), "name": c.name, "createdAt": rfc3339(c.created_at), "lastUsedAt": c.last_used_at.map(rfc3339) }))
                .collect();
            let text = clients.iter().map(|c| format!("{}\t{}", c.id, c.name)).collect::<Vec<_>>().join("\n");
            out.print(json!({ "items": items }), text);
        }
        ClientCommand::Delete { customer, admin, id } => {
            let customer = CustomerId::parse(&customer)?;
            let owner = find_admin(store, &admin).await?;
            let id = ClientId::parse(&id)?;
            if !store.delete_client(&customer, owner.id, id, &Actor::System).await? {
                bail!("{} has no API client {id} in {customer}", owner.email);
            }
            out.print(json!({ "id": id.to_string(), "deleted": true }), format!("Deleted API client {id}."));
        }
    }
    Ok(())
}

async fn copy_to_postgres(data_dir: &Path, url: &str, out: Output) -> anyhow::Result<()> {
    let source =
        SqliteStore::open(data_dir).await.with_context(|| format!("opening the store in {}", data_dir.display()))?;
    let target = PostgresStore::connect(url).await.context("connecting to PostgreSQL")?;
    let copied = trustgate_store::copy_sqlite_to_postgres(&source, &target, |table, rows| {
        if !out.json {
            eprintln!("copied {rows} row(s) of {table}");
        }
    })
    .await?;
    let total: u64 = copied.iter().map(|(_, n)| n).sum();
    let tables: serde_json::Map<String, Value> = copied.iter().map(|(t, n)| ((*t).to_owned(), json!(n))).collect();
    out.print(
        json!({ "copied": tables }),
        format!(
            "Copied {total} row(s) into PostgreSQL. Run every node with --database and the same server key (TRUSTGATE_SERVER_KEY or {}).",
            data_dir.join(SERVER_KEY_FILE).display()
        ),
    );
    Ok(())
}

/// Output is flushed before the process exits, even when piped.
pub fn flush() {
    let _ = std::io::stdout().flush();
}
