//! The `trustgate` command: `serve`, and the operator commands for bootstrap and automation.
//! Operator commands work on the store directly and act as `System` in the system log; after a
//! write they tell a server running on the same data directory to take it in at once (`control`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::{json, Value};
use trustgate_core::custody::KeyVault;
use trustgate_core::ids::CustomerId;
use trustgate_core::secret::{ServerKey, ServerKeyring};
use trustgate_core::token::Algorithm;
use trustgate_store::{files, PostgresConfig, PostgresStore, SqliteStore, Store, StoreError};

use trustgate_server::keys::server_key_file::{self};

mod access;
mod admin;
mod catalog;
mod client;
mod customer;
mod data;
mod failure;
mod group;
mod principal;
mod provider;
mod resource_server;
mod scim_token;
mod serve;
mod server_key;
mod siem;
mod text;
mod webhook;

pub use access::{AccessArg, AccessArgs, CustomerArg};
pub use admin::{AdminCommand, ProviderArg};
pub use client::{ClientCommand, ClientOf, SecretCommand, SecretExpiry};
pub use customer::{CustomerCommand, LostAccessArg, PolicyArg};
use failure::{given, Failure};
pub use failure::{report, report_usage};
pub use group::GroupCommand;
pub use principal::PrincipalCommand;
pub use provider::{ConnectableArg, ProviderCommand};
pub use scim_token::ScimTokenCommand;
pub use serve::ServeArgs;
pub use siem::SiemCommand;
use text::say;
pub use webhook::WebhookCommand;

/// The start of printed links when neither --public-url nor a running server tells the URL: where
/// `trustgate serve` listens by default.
const DEFAULT_CONSOLE_URL: &str = "http://127.0.0.1:8080";

/// The public URL of the server running on `data_dir`, for the links the CLI prints. Asked over
/// the control socket rather than kept in the store: it is an option of `serve` (every node is given
/// the same), and the running server is what answers at it.
async fn running_server_url(data_dir: &Path) -> Option<String> {
    trustgate_server::control_socket::server_public_url(data_dir).await
}

/// The options every command takes: shown apart from the command's own, and only by `--help`
/// (not `-h`), so a command's short help lists just what it needs.
const GLOBAL: &str = "Global options";

#[derive(Debug, Parser)]
#[command(
    name = "trustgate",
    version,
    about = "Trustgate: API clients (ID + Secret → one-hour token) that can do exactly what their owner may do, now.",
    after_help = "Start with `trustgate serve`: it creates the store in --data-dir and prints where to sign in. \
                  The other commands work on that store, also while it serves. Every command takes --data-dir, \
                  --database and --json (see --help); exit codes are listed in the README."
)]
pub struct Cli {
    /// Where the embedded store and the server key live.
    #[arg(long, global = true, env = "TRUSTGATE_DATA_DIR", default_value = "trustgate-data", help_heading = GLOBAL, hide_short_help = true)]
    pub data_dir: PathBuf,
    /// A PostgreSQL URL (postgres://…) instead of the embedded store.
    #[arg(long, global = true, env = "TRUSTGATE_DATABASE_URL", value_name = "URL", help_heading = GLOBAL, hide_short_help = true)]
    pub database: Option<String>,
    /// With --database: the most connections this process's pool opens; the change feed holds one
    /// more. Default: four per core, at most 10, so eight nodes fit PostgreSQL's default
    /// max_connections of 100. Size it so that every node's share fits the server's max_connections.
    #[arg(long, global = true, env = "TRUSTGATE_DATABASE_POOL_SIZE", value_name = "N",
          default_value_t = trustgate_store::default_pool_size(),
          value_parser = clap::value_parser!(u32).range(1..=1000), help_heading = GLOBAL, hide_short_help = true)]
    pub database_pool_size: u32,
    /// With --database through a PgBouncer in transaction mode: a URL that reaches PostgreSQL
    /// itself, for what a pooler cannot carry (the change feed's LISTEN session, the migrations'
    /// lock). The queries still go through --database.
    #[arg(long, global = true, env = "TRUSTGATE_DATABASE_DIRECT_URL", value_name = "URL", requires = "database",
          help_heading = GLOBAL, hide_short_help = true)]
    pub database_direct_url: Option<String>,
    /// Print JSON on standard output (and errors as JSON on standard error).
    #[arg(long, global = true, help_heading = GLOBAL, hide_short_help = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (token endpoints, platform APIs, management API).
    Serve(Box<ServeArgs>),
    /// Customers (tenants).
    #[command(subcommand)]
    Customer(CustomerCommand),
    /// Administrators and their access in customers.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Groups of a customer's administrators, from its identity provider, with their access.
    #[command(subcommand)]
    Group(GroupCommand),
    /// API clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Service principals: API clients of a customer that belong to no administrator.
    #[command(subcommand)]
    Principal(PrincipalCommand),
    /// Token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// SCIM provisioning tokens of a customer's identity provider (docs/scim.md).
    #[command(subcommand)]
    ScimToken(ScimTokenCommand),
    /// Customers' OpenID Connect providers, through which their administrators sign in to the console.
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Customers' webhook endpoints, sent their system log as it is written (docs/webhooks.md).
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// The streams of every customer's system log to the operator's SIEM (docs/siem.md).
    #[command(subcommand)]
    Siem(SiemCommand),
    /// Resource servers: services that introspect tokens at /oauth2/introspect (docs/introspection.md).
    #[command(subcommand)]
    ResourceServer(resource_server::ResourceServerCommand),
    /// The permission catalog: the operator's services, permissions and route rules (docs/catalog.md).
    #[command(subcommand)]
    Catalog(catalog::CatalogCommand),
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
    /// Write a consistent copy of the embedded SQLite store to a new file (mode 0600), also while
    /// a server runs on it. The server key is not in it: back up server.key (or
    /// TRUSTGATE_SERVER_KEY) separately. On PostgreSQL use pg_dump.
    Backup {
        /// The new file to write (refused if it exists).
        #[arg(long)]
        to: PathBuf,
    },
}

/// `500ms`, `5s`, `2m`, `12h`, `5d`, or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.find(|c: char| !c.is_ascii_digit()).map_or((text, ""), |at| text.split_at(at));
    let n: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration such as 500ms, 5s or 2m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        "h" => Ok(Duration::from_secs(n.saturating_mul(3600))),
        "d" => Ok(Duration::from_secs(n.saturating_mul(86_400))),
        _ => Err(format!("{text:?} has an unknown unit; use ms, s, m, h or d")),
    }
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
        /// Sign with a key of this algorithm (ES256, EdDSA, RS256); tokens signed with the
        /// previous ones keep verifying. Default: the current signing key's algorithm.
        #[arg(long, env = "TRUSTGATE_SIGNING_ALGORITHM")]
        algorithm: Option<Algorithm>,
    },
    /// Seal every signing key stored raw (from a release before keys were sealed) under the
    /// server key, so it signs and verifies again. A raw key is never used otherwise: make sure
    /// each one listed is yours — one written by anyone else could mint tokens once sealed.
    Reseal,
    /// Print the deployment's server key (from TRUSTGATE_SERVER_KEY or server.key in --data-dir),
    /// after checking that it opens the stored signing keys: what every further node and operator
    /// command of a PostgreSQL deployment needs as TRUSTGATE_SERVER_KEY. Keep it secret.
    Export,
    /// Rotate the server key, for one that leaked or on a schedule. With server.key in --data-dir:
    /// a new key becomes current and the old one is kept as retired in the file. With
    /// TRUSTGATE_SERVER_KEY: first restart every node with the new key there and the old one in
    /// TRUSTGATE_RETIRED_SERVER_KEYS, then run this with the same variables. Either way every signing
    /// key and identity-provider secret is resealed under the current key and every console session
    /// ends; client secrets, resource-server secrets and SCIM tokens made under a retired key keep
    /// working until they are replaced (`keys server-key-status` counts them).
    RotateServerKey,
    /// For each server key of the ring: current or retired, and how many signing keys, client
    /// secrets, resource-server secrets and SCIM tokens still depend on it. A retired key on which
    /// nothing depends can be dropped.
    ServerKeyStatus,
    /// Print a new random server key, for TRUSTGATE_SERVER_KEY when rolling PostgreSQL nodes to a
    /// new key. Keep it secret.
    GenerateServerKey,
}

/// How a process reaches PostgreSQL besides `--database`.
pub struct Pool<'a> {
    pub size: u32,
    pub direct_url: Option<&'a str>,
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// PostgreSQL when a `postgres://` URL is given, else the embedded SQLite store in the data directory.
pub async fn open_store(data_dir: &Path, database: Option<&str>, pool: Pool<'_>) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match database {
        Some(url) if is_postgres(url) => {
            if let Some(direct) = pool.direct_url.filter(|direct| !is_postgres(direct)) {
                return Err(Failure::invalid(format!(
                    "--database-direct-url takes a postgres:// URL (got {direct:?})"
                ))
                .into());
            }
            let config = PostgresConfig {
                url: url.to_owned(),
                direct_url: pool.direct_url.map(str::to_owned),
                pool_size: pool.size,
            };
            Arc::new(PostgresStore::connect_to(&config).await.map_err(|error| match error {
                StoreError::NotFound("database") => {
                    let name = url.split(['?', '#']).next().and_then(|u| u.rsplit('/').next()).unwrap_or_default();
                    anyhow::Error::from(Failure::not_found(format!(
                        "the PostgreSQL server of --database has no database {name:?}: create it once \
                         (`createdb {name}`, or CREATE DATABASE), then start again"
                    )))
                }
                other => anyhow::Error::from(other).context("connecting to PostgreSQL"),
            })?)
        }
        Some(other) => {
            return Err(Failure::invalid(format!(
                "--database takes a postgres:// URL (got {other:?}); leave it out for the embedded store"
            ))
            .into())
        }
        None => Arc::new(
            SqliteStore::open(data_dir)
                .await
                .with_context(|| format!("opening the store in {}", data_dir.display()))?,
        ),
    })
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let out = Output { json: cli.json };
    let embedded = cli.database.is_none() || matches!(cli.command, Command::CopyToPostgres { .. });
    // Only `serve` creates a store: any other command run in the wrong directory would otherwise
    // leave an empty one there and answer as if it held nothing.
    let creates = matches!(cli.command, Command::Serve(_) | Command::Bench(_));
    if embedded && !creates && !SqliteStore::exists(&cli.data_dir) {
        return Err(no_store(&cli.data_dir).into());
    }
    match cli.command {
        Command::CopyToPostgres { to } => return data::copy_to_postgres(&cli.data_dir, &to, out).await,
        Command::Bench(args) => return crate::bench::run(args).await,
        _ => {}
    }
    if let Command::Backup { to } = &cli.command {
        return data::backup(&cli.data_dir, cli.database.as_deref(), to, out).await;
    }
    let pool = Pool { size: cli.database_pool_size, direct_url: cli.database_direct_url.as_deref() };
    let store = open_store(&cli.data_dir, cli.database.as_deref(), pool).await?;
    let writes = cli.command.writes();
    let place = Place { data_dir: &cli.data_dir, embedded };
    operate(store, place, cli.command, out).await?;
    if writes {
        tell_running_server(&cli.data_dir).await;
    }
    Ok(())
}

fn no_store(data_dir: &Path) -> Failure {
    let dir = data_dir.display();
    // A relative directory is also named in full, to tell where the command looked.
    let full = match std::path::absolute(data_dir) {
        Ok(full) if full != data_dir => format!(" ({})", full.display()),
        _ => String::new(),
    };
    Failure::not_found(format!(
        "there is no Trustgate store in the data directory {dir}{full}: run `trustgate serve --data-dir {dir}` once \
         to create it, or point --data-dir (env TRUSTGATE_DATA_DIR) at the directory `serve` uses"
    ))
}

/// Where the store of this run lives.
#[derive(Clone, Copy)]
struct Place<'a> {
    data_dir: &'a Path,
    /// The embedded SQLite store of `data_dir`, rather than PostgreSQL.
    embedded: bool,
}

/// R5 and R6 say "at once": a server running on this data directory takes the committed change in
/// before this command exits (see `control`). Without one, there is nothing to tell.
async fn tell_running_server(data_dir: &Path) {
    #[cfg(unix)]
    if let Err(error) = trustgate_server::control_socket::notify_server(data_dir).await {
        eprintln!(
            "warning: the change is saved, but the running server did not confirm it ({error:#}); it applies it within about 200 ms"
        );
    }
    #[cfg(not(unix))]
    let _ = data_dir;
}

impl Command {
    /// Whether the command changes the store (and so a running server must hear of it).
    fn writes(&self) -> bool {
        match self {
            Command::Serve(_) | Command::Bench(_) | Command::CopyToPostgres { .. } | Command::Backup { .. } => false,
            Command::Customer(command) => {
                !matches!(command, CustomerCommand::List | CustomerCommand::DisabledOwners { .. })
            }
            Command::ScimToken(command) => !matches!(command, ScimTokenCommand::List { .. }),
            Command::Admin(command) => !matches!(command, AdminCommand::List { .. }),
            Command::Group(_) => false,
            Command::Client(command) => {
                !matches!(command, ClientCommand::List { .. } | ClientCommand::Secret(SecretCommand::List { .. }))
            }
            Command::Principal(command) => !matches!(command, PrincipalCommand::List { .. }),
            Command::Keys(command) => {
                !matches!(command, KeysCommand::Export | KeysCommand::ServerKeyStatus | KeysCommand::GenerateServerKey)
            }
            Command::Provider(command) => !matches!(command, ProviderCommand::List { .. }),
            Command::ResourceServer(command) => command.writes(),
            Command::Catalog(command) => command.writes(),
            Command::Webhook(command) => command.writes(),
            Command::Siem(_) => true,
        }
    }
}

async fn operate(store: Arc<dyn Store>, place: Place<'_>, command: Command, out: Output) -> anyhow::Result<()> {
    match command {
        Command::CopyToPostgres { .. } | Command::Bench(_) | Command::Backup { .. } => Ok(()),
        Command::Serve(args) => serve::run(store, place, *args).await,
        Command::Customer(command) => customer::run(store.as_ref(), command, out).await,
        Command::Admin(command) => admin::run(store.as_ref(), place, command, out).await,
        Command::Group(command) => group::run(store.as_ref(), command, out).await,
        Command::Client(command) => client::run(store.as_ref(), place, command, out).await,
        Command::Principal(command) => principal::run(store.as_ref(), place, command, out).await,
        Command::ScimToken(command) => scim_token::run(store.as_ref(), place, command, out).await,
        Command::Provider(command) => provider::run(store.as_ref(), place, command, out).await,
        Command::ResourceServer(command) => resource_server::run(store.as_ref(), place, command, out).await,
        Command::Catalog(command) => catalog::run(store.as_ref(), command, out).await,
        Command::Webhook(command) => webhook::run(store.as_ref(), place, command, out).await,
        Command::Siem(command) => siem::run(store.as_ref(), command, out).await,
        Command::Keys(KeysCommand::RotateServerKey) => server_key::rotate(store.as_ref(), place, out).await,
        Command::Keys(KeysCommand::ServerKeyStatus) => server_key::status(store.as_ref(), place, out).await,
        Command::Keys(KeysCommand::GenerateServerKey) => {
            let key = ServerKey::generate();
            out.print(json!({ "serverKey": key.encode(), "id": key.id().as_str() }), key.encode());
            Ok(())
        }
        Command::Keys(KeysCommand::Export) => {
            let ring = key_of_deployment(store.as_ref(), place, false).await?;
            let key = ring.current();
            out.print(json!({ "serverKey": key.encode() }), key.encode());
            Ok(())
        }
        Command::Keys(KeysCommand::Reseal) => {
            let vault = KeyVault::for_ring(&deployment_keyring(store.as_ref(), place).await?);
            let sealed =
                trustgate_server::keys::reseal(store.as_ref(), &vault).await.context("sealing the raw signing keys")?;
            let text = if sealed.is_empty() {
                "No signing key is stored raw.".to_owned()
            } else {
                format!("Sealed {} signing key(s) stored raw: {}.", sealed.len(), sealed.join(", "))
            };
            out.print(json!({ "sealed": sealed }), text);
            Ok(())
        }
        Command::Keys(KeysCommand::Rotate { revoke_previous, algorithm }) => {
            let vault = KeyVault::for_ring(&deployment_keyring(store.as_ref(), place).await?);
            let key = trustgate_server::keys::rotate(store.as_ref(), &vault, algorithm, revoke_previous).await.context(
                "rotating the signing key (every node must use the same server key: TRUSTGATE_SERVER_KEY or server.key in --data-dir)",
            )?;
            let revoked = if revoke_previous {
                " Every previous key is revoked: tokens they signed are refused from their next call."
            } else {
                ""
            };
            out.print(
                json!({ "kid": key.kid(), "algorithm": key.algorithm().as_str(), "revokedPrevious": revoke_previous }),
                format!("Now signing with key {} ({}).{revoked}", key.kid(), key.algorithm()),
            );
            Ok(())
        }
    }
}

/// How the operator asked to be answered.
#[derive(Clone, Copy)]
struct Output {
    json: bool,
}

impl Output {
    fn print(self, value: Value, text: String) {
        if self.json {
            say(&value);
        } else {
            say(&text);
        }
    }
}

/// The current server key (see [`server_keyring`]).
pub fn server_key(data_dir: &Path) -> anyhow::Result<ServerKey> {
    Ok(server_keyring(data_dir)?.current().clone())
}

/// The node's server keys (see [`server_key_file::load_ring`]).
pub fn server_keyring(data_dir: &Path) -> anyhow::Result<ServerKeyring> {
    Ok(server_key_file::load_ring(data_dir)?)
}

/// The server key for a command that writes with it (a client's secret verifier). It must be the
/// deployment's: one that opens the stored signing keys, as `keys rotate` checks. A new one is
/// created only for an embedded store that has never been served; against PostgreSQL it would
/// differ from every node's, and no secret made with it would ever verify.
async fn deployment_key(store: &dyn Store, place: Place<'_>) -> anyhow::Result<ServerKey> {
    Ok(deployment_keyring(store, place).await?.current().clone())
}

/// The ring of [`deployment_key`], for commands that open what is sealed.
async fn deployment_keyring(store: &dyn Store, place: Place<'_>) -> anyhow::Result<ServerKeyring> {
    let fresh = place.embedded && store.signing_keys().await?.is_empty();
    key_of_deployment(store, place, fresh).await
}

/// The server key of a store that already holds signing keys (or of a `fresh` one, which may get a
/// new key): given, and opening those keys. A missing key is never made up for such a store.
async fn key_of_deployment(store: &dyn Store, place: Place<'_>, fresh: bool) -> anyhow::Result<ServerKeyring> {
    if !server_key_file::is_given(place.data_dir) && !fresh {
        return Err(Failure::not_found(format!(
            "no server key: set TRUSTGATE_SERVER_KEY to the key every node of this deployment uses, or put its \
             server.key into {}",
            place.data_dir.display()
        ))
        .into());
    }
    let ring = server_keyring(place.data_dir)?;
    match trustgate_server::keys::load(store, &KeyVault::for_ring(&ring)).await {
        Ok(_) => Ok(ring),
        Err(trustgate_store::StoreError::Internal(_)) => Err(Failure::invalid(
            "this server key does not open the stored signing keys: use the deployment's (TRUSTGATE_SERVER_KEY or server.key in --data-dir; \
             after rolling nodes to a new key, the old one in TRUSTGATE_RETIRED_SERVER_KEYS)",
        )
        .into()),
        Err(other) => Err(other.into()),
    }
}

/// Creates a new file readable and writable by its owner only; refuses to overwrite.
fn private_file(path: &Path) -> anyhow::Result<std::fs::File> {
    files::create_new_private_file(path).with_context(|| format!("creating {}", path.display()))
}

/// A customer named with --customer, which must exist.
async fn known_customer(store: &dyn Store, text: &str) -> anyhow::Result<CustomerId> {
    let id = given("--customer", CustomerId::parse(text))?;
    match store.customer(&id).await? {
        Some(_) => Ok(id),
        None => Err(Failure::not_found(format!("there is no customer {id} (see `trustgate customer list`)")).into()),
    }
}

/// Output is flushed before the process exits, even when piped.
pub fn flush() {
    let _ = std::io::stdout().flush();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks a command line's definition only when it is parsed: two options with one id,
    /// for one, would panic at run time.
    #[test]
    fn every_subcommand_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
