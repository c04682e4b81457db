//! The `trustgate` command: `serve`, and the operator commands for bootstrap and automation.
//! Operator commands work on the store directly and act as `System` in the system log; after a
//! write they tell a server running on the same data directory to take it in at once (`control`).

use std::io::{BufRead, Write};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};
use time::OffsetDateTime;
use trustgate_core::access::Access;
use trustgate_core::admin::{parse_display_name, Admin, AdminStatus, Email, Provider};
use trustgate_core::catalog::Catalog;
use trustgate_core::client::{ApiClient, ClientKind};
use trustgate_core::custody::KeyVault;
use trustgate_core::customer::{parse_customer_name, Customer, DisabledOwnerPolicy};
use trustgate_core::event::Actor;
use trustgate_core::federation::{self, IdentityProvider, SecretVault};
use trustgate_core::ids::{AdminId, ClientId, CustomerId, ProviderId, ScimTokenId};
use trustgate_core::secret::{random_token, SecretId, ServerKey, ServerKeyring};
use trustgate_core::token::{Algorithm, Issuer};
use trustgate_store::{files, PostgresStore, SqliteStore, Store, StoreError};

use trustgate_server::config::{ConnectionLimits, ServerConfig, DEFAULT_SIGNING_ALGORITHM};
use trustgate_server::keys::server_key_file::{self, SERVER_KEY_FILE};
use trustgate_server::password::HashLimits;
use trustgate_server::platform::shapes::rfc3339;
use trustgate_server::ThrottlePolicy;
use trustgate_server::{actions, password};

mod catalog;
mod failure;
mod resource_server;
mod server_key;
mod text;

use failure::{given, Failure};
pub use failure::{report, report_usage};
use text::{count, say, table};

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

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on: host (a name such as localhost, or an IP address) and port.
    #[arg(long, env = "TRUSTGATE_LISTEN", default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    pub listen: String,
    /// Most API clients one administrator may own in one customer.
    #[arg(long, env = "TRUSTGATE_MAX_CLIENTS_PER_OWNER", default_value_t = trustgate_server::config::DEFAULT_MAX_CLIENTS_PER_OWNER)]
    pub max_clients_per_owner: u64,
    /// Mark session cookies Secure (set this when serving behind HTTPS).
    #[arg(long, env = "TRUSTGATE_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// E-mail of the administrator created on the first start of an empty store.
    #[arg(long, env = "TRUSTGATE_BOOTSTRAP_EMAIL", default_value = "admin@example.com")]
    pub bootstrap_email: String,
    /// Wrong secrets a client may receive (per node) before it is locked out.
    #[arg(long, env = "TRUSTGATE_CLIENT_FAILURE_LIMIT", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub client_failure_limit: u32,
    /// Failed sign-ins an e-mail may have from one address (per node) before it is locked out.
    #[arg(long, env = "TRUSTGATE_SIGN_IN_FAILURE_LIMIT", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub sign_in_failure_limit: u32,
    /// Seconds over which a spent failure allowance refills.
    #[arg(long, env = "TRUSTGATE_FAILURE_WINDOW", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub failure_window: u64,
    /// Seconds of the first lockout; each further lockout doubles it.
    #[arg(long, env = "TRUSTGATE_LOCKOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub lockout: u64,
    /// Longest lockout, in seconds.
    #[arg(long, env = "TRUSTGATE_MAX_LOCKOUT", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_lockout: u64,
    /// Seconds over which refused token requests and failed sign-ins are counted into one
    /// system-log record (the first of a window is written at once).
    #[arg(long, env = "TRUSTGATE_REFUSAL_LOG_WINDOW", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub refusal_log_window: u64,
    /// Addresses of reverse proxies in front of Trustgate (comma-separated): for requests from
    /// them, the client's address for sign-in throttling and the system log is taken from
    /// `X-Forwarded-For`. Without it the header is ignored.
    #[arg(long, env = "TRUSTGATE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxy: Vec<std::net::IpAddr>,
    /// How long a client may take to send a request's headers, from their first byte (or from
    /// connecting); slower connections are closed. Default 5s (units: ms, s, m).
    #[arg(long, env = "TRUSTGATE_HEADER_TIMEOUT", value_parser = parse_duration)]
    pub header_timeout: Option<Duration>,
    /// How long a client may take to send a request's body once its headers arrived; slower
    /// requests get 408. Default 10s.
    #[arg(long, env = "TRUSTGATE_BODY_TIMEOUT", value_parser = parse_duration)]
    pub body_timeout: Option<Duration>,
    /// How long a write may wait on a client that does not read the response (else the connection
    /// is closed). Producing a response is not timed: a request that has begun a write runs to
    /// completion and answers truthfully. Default 10s.
    #[arg(long, env = "TRUSTGATE_WRITE_TIMEOUT", value_parser = parse_duration)]
    pub write_timeout: Option<Duration>,
    /// How long a kept-alive connection may wait for its next request. Default 120s.
    #[arg(long, env = "TRUSTGATE_IDLE_TIMEOUT", value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// Connections served at once. At the cap, the connection that has waited longest for a
    /// request (idle, or still sending its headers) is closed to make room; when all are busy,
    /// further ones wait to be accepted. Keep it below the open-file limit (`ulimit -n`).
    /// Default 512.
    #[arg(long, env = "TRUSTGATE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Connections one source address may hold; beyond it, its own longest-waiting connection
    /// makes room. Behind a proxy every connection comes from it: keep this above its keep-alive
    /// pool. Default: half of --max-connections.
    #[arg(long, env = "TRUSTGATE_MAX_CONNECTIONS_PER_SOURCE")]
    pub max_connections_per_source: Option<usize>,
    /// Passwords checked at once, each with 19 MiB of memory (sign-ins, set-password). Default:
    /// the number of cores.
    #[arg(long, env = "TRUSTGATE_PASSWORD_HASHES")]
    pub password_hashes: Option<usize>,
    /// How long a sign-in waits for a free password check before it is answered 503 with
    /// Retry-After. Default 1s.
    #[arg(long, env = "TRUSTGATE_PASSWORD_WAIT", value_parser = parse_duration)]
    pub password_wait: Option<Duration>,
    /// The URL clients reach this deployment at (every node the same): the `iss` of its tokens
    /// and the base of the discovery document's URLs. Default: http://<the listen address>.
    #[arg(long, env = "TRUSTGATE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Let customers' OpenID providers be reached over plain HTTP when they run on this machine's
    /// loopback interface (for trying Trustgate out with a local provider); HTTPS otherwise.
    #[arg(long, env = "TRUSTGATE_ALLOW_HTTP_ISSUERS")]
    pub allow_http_issuers: bool,
    /// The `aud` of every token, which resource servers check. Default: the public URL.
    #[arg(long, env = "TRUSTGATE_AUDIENCE")]
    pub audience: Option<String>,
    /// Log lines as `text`, or as `json` (one object a line) for a log collector.
    #[arg(long, env = "TRUSTGATE_LOG_FORMAT", value_enum, default_value_t)]
    pub log_format: trustgate_server::logging::LogFormat,
    /// Log lines queued for stderr while it is not being read; past them lines are dropped (and
    /// counted in `trustgate_log_lines_dropped_total`), so a stalled log reader never blocks serving.
    #[arg(long, env = "TRUSTGATE_LOG_QUEUE_LINES", default_value_t = trustgate_server::logging::DEFAULT_QUEUE_LINES, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub log_queue_lines: u64,
    /// Address to serve Prometheus metrics on, at /metrics (a port of their own, as they reveal
    /// traffic). Off by default.
    #[arg(long, env = "TRUSTGATE_METRICS_LISTEN")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Serve HTTPS with this PEM certificate chain (server certificate first); needs --tls-key.
    /// Session cookies are then marked Secure.
    #[arg(long, env = "TRUSTGATE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "TRUSTGATE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Days system-log records are kept; older ones are deleted in the background every hour.
    #[arg(long, env = "TRUSTGATE_SYSTEMLOG_RETENTION_DAYS", default_value_t = trustgate_server::config::DEFAULT_SYSTEMLOG_RETENTION_DAYS, value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub systemlog_retention_days: u32,
    /// Days before a client secret expires that the customer's Full administrators get a
    /// notification (and the system log a record), once per secret; 0 sends none.
    #[arg(long, env = "TRUSTGATE_SECRET_EXPIRY_WARNING_DAYS", default_value_t = trustgate_core::client_secrets::DEFAULT_EXPIRY_WARNING_DAYS, value_parser = clap::value_parser!(u32).range(0..=365))]
    pub secret_expiry_warning_days: u32,
    /// The algorithm of the signing key created on an empty store: ES256, EdDSA or RS256 (for
    /// verifiers that know only RSA). A store that has a key keeps it; switch with
    /// `trustgate keys rotate --algorithm`.
    #[arg(long, env = "TRUSTGATE_SIGNING_ALGORITHM", default_value_t = DEFAULT_SIGNING_ALGORITHM)]
    pub signing_algorithm: Algorithm,
    /// How long an administrator's invitation link works. Default 5d, as Citrix Cloud (units: s, m, h, d).
    #[arg(long, env = "TRUSTGATE_INVITATION_LIFETIME", value_parser = parse_duration)]
    pub invitation_lifetime: Option<Duration>,
    /// Mail server that invitation e-mails are sent through; without it, invitations made in the
    /// console or the API wait until the operator prints their link with `admin invite`.
    #[arg(long, env = "TRUSTGATE_SMTP_HOST", requires = "smtp_from")]
    pub smtp_host: Option<String>,
    /// Port of --smtp-host. Default: 587 with STARTTLS, 465 with TLS, 25 without.
    #[arg(long, env = "TRUSTGATE_SMTP_PORT")]
    pub smtp_port: Option<u16>,
    /// How the connection to --smtp-host is protected.
    #[arg(long, env = "TRUSTGATE_SMTP_SECURITY", value_enum, default_value_t)]
    pub smtp_security: trustgate_server::mail::SmtpSecurity,
    /// Sender of invitation e-mails: `trustgate@example.com` or `Trustgate <trustgate@example.com>`.
    #[arg(long, env = "TRUSTGATE_SMTP_FROM", value_parser = trustgate_server::mail::parse_mailbox)]
    pub smtp_from: Option<trustgate_server::mail::Mailbox>,
    /// User name at --smtp-host, when it wants one (with TRUSTGATE_SMTP_PASSWORD).
    #[arg(long, env = "TRUSTGATE_SMTP_USERNAME", requires = "smtp_password")]
    pub smtp_username: Option<String>,
    /// Password of --smtp-username. Prefer the environment variable: a command line is visible to
    /// other users of the machine.
    #[arg(long, env = "TRUSTGATE_SMTP_PASSWORD", hide_env_values = true, requires = "smtp_username")]
    pub smtp_password: Option<String>,
    /// Most API clients (and owner standings) the authorization cache holds, about 0.4 KB each;
    /// a miss reads the client by primary key.
    #[arg(long, env = "TRUSTGATE_CLIENT_CACHE", default_value_t = trustgate_server::config::DEFAULT_CLIENT_CACHE, value_parser = clap::value_parser!(u64).range(1..))]
    pub client_cache: u64,
    /// Most verified tokens remembered, about 0.4 KB each; a miss checks the token's signature.
    #[arg(long, env = "TRUSTGATE_TOKEN_CACHE", default_value_t = trustgate_server::config::DEFAULT_TOKEN_CACHE, value_parser = clap::value_parser!(u64).range(1..))]
    pub token_cache: u64,
    /// Most customers whose rendered notification list is held.
    #[arg(long, env = "TRUSTGATE_LIST_CACHE", default_value_t = trustgate_server::config::DEFAULT_LIST_CACHE, value_parser = clap::value_parser!(u64).range(1..))]
    pub list_cache: u64,
}

impl ServeArgs {
    fn config(&self) -> ServerConfig {
        let policy = |failures: u32| ThrottlePolicy {
            failures: NonZeroU32::new(failures).unwrap_or(NonZeroU32::MIN),
            refill: Duration::from_secs(self.failure_window),
            lockout: Duration::from_secs(self.lockout),
            max_lockout: Duration::from_secs(self.max_lockout.max(self.lockout)),
        };
        let defaults = ConnectionLimits::default();
        let connections = ConnectionLimits {
            header_timeout: self.header_timeout.unwrap_or(defaults.header_timeout),
            body_timeout: self.body_timeout.unwrap_or(defaults.body_timeout),
            write_timeout: self.write_timeout.unwrap_or(defaults.write_timeout),
            idle_timeout: self.idle_timeout.unwrap_or(defaults.idle_timeout),
            max_connections: self.max_connections.unwrap_or(defaults.max_connections),
            max_connections_per_source: self
                .max_connections_per_source
                .unwrap_or_else(|| self.max_connections.map_or(defaults.max_connections_per_source, |max| max / 2)),
        };
        ServerConfig {
            secure_cookies: self.secure_cookies || self.tls_cert.is_some(),
            client_throttle: policy(self.client_failure_limit),
            sign_in_throttle: policy(self.sign_in_failure_limit),
            refusal_window: Duration::from_secs(self.refusal_log_window),
            trusted_proxies: self.trusted_proxy.clone(),
            connections,
            systemlog_retention: Duration::from_secs(u64::from(self.systemlog_retention_days) * 86_400),
            secret_expiry_warning: Duration::from_secs(u64::from(self.secret_expiry_warning_days) * 86_400),
            signing_algorithm: self.signing_algorithm,
            invitation_lifetime: self
                .invitation_lifetime
                .unwrap_or(trustgate_server::config::DEFAULT_INVITATION_LIFETIME),
            smtp: self.smtp(),
            allow_http_issuers: self.allow_http_issuers,
            client_cache: usize::try_from(self.client_cache).unwrap_or(usize::MAX),
            token_cache: usize::try_from(self.token_cache).unwrap_or(usize::MAX),
            list_cache: usize::try_from(self.list_cache).unwrap_or(usize::MAX),
            ..ServerConfig::default()
        }
    }

    fn smtp(&self) -> Option<trustgate_server::mail::SmtpSettings> {
        use trustgate_server::mail::SmtpSecurity;
        let (host, from) = (self.smtp_host.clone()?, self.smtp_from.clone()?);
        let port = self.smtp_port.unwrap_or(match self.smtp_security {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        });
        let credentials = self.smtp_username.clone().zip(self.smtp_password.clone());
        Some(trustgate_server::mail::SmtpSettings { host, port, from, security: self.smtp_security, credentials })
    }

    fn hash_limits(&self) -> HashLimits {
        let defaults = HashLimits::default();
        HashLimits {
            threads: self.password_hashes.unwrap_or(defaults.threads),
            max_wait: self.password_wait.unwrap_or(defaults.max_wait),
        }
    }
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
pub enum CustomerCommand {
    /// Create a customer.
    Create {
        /// The customer's display name.
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
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
        /// What happens to their API clients.
        #[arg(long, value_enum)]
        disabled_owner_policy: PolicyArg,
    },
    /// List disabled administrators whose API clients remain active (R7), with the two ways out.
    DisabledOwners {
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScimTokenCommand {
    /// Create a token for the customer's identity provider; prints it once.
    Create {
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
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
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
    },
    /// Revoke a token: the provider's next request is refused.
    Revoke {
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
        /// The token's id (see `trustgate scim-token list`).
        #[arg(long)]
        id: String,
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
    /// Everything in the customer.
    Full,
    /// Only the permissions given with --permission (at least one).
    Custom,
}

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
    fn name(provider: Provider) -> &'static str {
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

#[derive(Debug, Args)]
pub struct AccessArgs {
    /// Full access, or Custom with the permissions of --permission.
    #[arg(long, value_enum)]
    pub access: AccessArg,
    /// A permission for Custom access (repeat, or separate with commas): a Platform one
    /// (administrators, apiClients, notifications, systemLog, resourceLocations) or one of the
    /// catalog's, written service.name (orders.read).
    #[arg(long = "permission", value_delimiter = ',')]
    pub permissions: Vec<String>,
}

impl AccessArgs {
    /// Reads the options against the stored catalog, the one every node offers.
    async fn access(&self, store: &dyn Store) -> anyhow::Result<Access> {
        let catalog = store.catalog().await?;
        Ok(self.access_in(&catalog)?)
    }

    fn access_in(&self, catalog: &Catalog) -> Result<Access, Failure> {
        let set = given("--permission", self.permissions.iter().map(|p| catalog.resolve(p)).collect())?;
        let access = match self.access {
            AccessArg::Full if !self.permissions.is_empty() => {
                return Err(Failure::invalid("--permission applies to --access custom only"))
            }
            AccessArg::Full => Access::Full,
            AccessArg::Custom => Access::Custom(set),
        };
        // The store refuses it too, whatever the path; said here in the words of the command line.
        trustgate_core::lifecycle::grantable(&access).map_err(|_| {
            let names = catalog.entries().map(|e| e.permission.to_string()).collect::<Vec<_>>().join(", ");
            Failure::invalid(format!("--access custom needs at least one --permission ({names})"))
        })?;
        Ok(access)
    }
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Add an administrator to a customer (creating the administrator if the e-mail is new). A local
    /// account that exists already is invited instead, as with `admin invite`: it joins only by
    /// signing in as itself on the printed link.
    Add {
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
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
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
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
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
    },
    /// Change an administrator's access; their API clients follow at once.
    SetAccess {
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
        /// The administrator's e-mail or id.
        #[arg(long)]
        admin: String,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// Remove an administrator from a customer; their API clients there are deleted.
    Remove {
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
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

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create an API client on behalf of an administrator; prints its ID and Secret once.
    Create {
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
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
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
        /// The owner's e-mail or id.
        #[arg(long)]
        admin: String,
    },
    /// Delete an API client.
    Delete {
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
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
        /// The customer's id.
        #[arg(long)]
        customer: String,
        /// The client's ID.
        #[arg(long)]
        id: String,
        /// The secret stops granting tokens this many days from now (1 to 730). Default: never.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=730), conflicts_with = "expires_at")]
        expires_in_days: Option<u32>,
        /// The secret stops granting tokens at this RFC 3339 time (within 730 days).
        #[arg(long)]
        expires_at: Option<String>,
        /// Write ID and Secret as CSV (the console's secureclient.csv) to this new file, readable
        /// by you only, instead of printing the secret.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
    },
    /// List a client's secrets: id, created, expiry, last use. Never the secrets themselves.
    List {
        /// The customer's id.
        #[arg(long)]
        customer: String,
        /// The client's ID.
        #[arg(long)]
        id: String,
    },
    /// Delete a secret: it grants no token from now on, on every node. Tokens it already got stay
    /// valid until they expire. A client's last secret cannot be deleted.
    Delete {
        /// The customer's id.
        #[arg(long)]
        customer: String,
        /// The client's ID.
        #[arg(long)]
        id: String,
        /// The secret's id (see `trustgate client secret list`).
        #[arg(long)]
        secret: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PrincipalCommand {
    /// Create a service principal with its own access; prints its ID and Secret once.
    Create {
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
        /// The principal's name, as the console lists it.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        access: AccessArgs,
        /// The secret stops granting tokens this many days from now (1 to 730). Default: 365.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=730), conflicts_with = "expires_at")]
        expires_in_days: Option<u32>,
        /// The secret stops granting tokens at this RFC 3339 time (within 730 days).
        #[arg(long)]
        expires_at: Option<String>,
        /// Write ID and Secret as CSV to this new file, readable by you only, instead of printing
        /// the secret. Keep it outside any source repository.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
    },
    /// List a customer's service principals.
    List {
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
    },
    /// Change a service principal's access; its tokens follow on their next call.
    SetAccess {
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
        /// The principal's ID.
        #[arg(long)]
        id: String,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// Delete a service principal; its tokens stop working at once.
    Delete {
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
        /// The principal's ID.
        #[arg(long)]
        id: String,
    },
    /// Convert a secure client into a service principal: same ID and secret, with the access its
    /// owner holds now; it no longer depends on its owner.
    Convert {
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
        /// The secure client's ID.
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Connect an OpenID provider to a customer (register <public URL>/console/sign-in/callback
    /// as its redirect URI). The client secret is read from the first line of standard input and
    /// stored sealed under the server key.
    Connect {
        /// The customer's id (see `trustgate customer list`).
        #[arg(long)]
        customer: String,
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
        /// The customer's id.
        #[arg(long)]
        customer: String,
    },
    /// Disconnect an OpenID provider from a customer; sessions opened through the customer's
    /// providers end.
    Disconnect {
        /// The customer's id.
        #[arg(long)]
        customer: String,
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

/// PostgreSQL when a `postgres://` URL is given, else the embedded SQLite store in the data directory.
pub async fn open_store(data_dir: &Path, database: Option<&str>) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match database {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Arc::new(PostgresStore::connect(url).await.map_err(|error| match error {
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
        Command::CopyToPostgres { to } => return copy_to_postgres(&cli.data_dir, &to, out).await,
        Command::Bench(args) => return crate::bench::run(args).await,
        _ => {}
    }
    if let Command::Backup { to } = &cli.command {
        return backup(&cli.data_dir, cli.database.as_deref(), to, out).await;
    }
    let store = open_store(&cli.data_dir, cli.database.as_deref()).await?;
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
        }
    }
}

async fn operate(store: Arc<dyn Store>, place: Place<'_>, command: Command, out: Output) -> anyhow::Result<()> {
    match command {
        Command::CopyToPostgres { .. } | Command::Bench(_) | Command::Backup { .. } => Ok(()),
        Command::Serve(args) => serve(store, place, *args).await,
        Command::Customer(command) => customer(store.as_ref(), command, out).await,
        Command::Admin(command) => admin(store.as_ref(), place, command, out).await,
        Command::Client(command) => client(store.as_ref(), place, command, out).await,
        Command::Principal(command) => principal(store.as_ref(), place, command, out).await,
        Command::ScimToken(command) => scim_token(store.as_ref(), place, command, out).await,
        Command::Provider(command) => provider(store.as_ref(), place, command, out).await,
        Command::ResourceServer(command) => resource_server::run(store.as_ref(), place, command, out).await,
        Command::Catalog(command) => catalog::run(store.as_ref(), command, out).await,
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

async fn serve(store: Arc<dyn Store>, place: Place<'_>, args: ServeArgs) -> anyhow::Result<()> {
    let data_dir = place.data_dir;
    // The data directory holds the control socket (and server.key when no TRUSTGATE_SERVER_KEY is
    // given): a node started on PostgreSQL with a new --data-dir makes it, as the embedded store does.
    files::create_private_dir(data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    let key_file = data_dir.join(SERVER_KEY_FILE);
    let key_given = std::env::var_os("TRUSTGATE_SERVER_KEY").is_some();
    let key_was_there = key_file.exists();
    // Only the first start of a store makes a server key. A node joining a PostgreSQL deployment,
    // or a store whose server.key went missing, must bring the key its signing keys are sealed
    // under: a new one would open none of them and verify no client secret.
    let fresh = store.signing_keys().await?.is_empty();
    let key = key_of_deployment(store.as_ref(), place, fresh).await?;
    let stamped = trustgate_server::keys::stamp_server_key(store.as_ref(), &key).await?;
    if stamped > 0 {
        tracing::info!(records = stamped, "recorded the server key of secrets stored before records named their key");
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(trustgate_server::http::tls::server_config(cert, key)?),
        _ => None,
    };
    password::configure(args.hash_limits());
    let first_start = store.customers().await?.is_empty();
    let bootstrap = if first_start { Some(bootstrap(store.as_ref(), &args.bootstrap_email).await?) } else { None };
    // Host names resolve (`localhost:8080`); the first address that binds is used.
    let listener = tokio::net::TcpListener::bind(args.listen.as_str())
        .await
        .with_context(|| format!("listening on {} (--listen)", args.listen))?;
    let url = trustgate_server::config::default_public_url(listener.local_addr()?, tls.is_some());
    let issuer = issuer(&args, &url)?;
    let config = ServerConfig { max_clients_per_owner: args.max_clients_per_owner, issuer, ..args.config() };
    let state = trustgate_server::start_node(store, key, config).await?;
    let signing = state.keys().algorithm();
    if signing != args.signing_algorithm {
        say(format_args!(
            "Signing tokens with the stored {signing} key; to switch to {}: trustgate keys rotate --algorithm {}",
            args.signing_algorithm, args.signing_algorithm
        ));
    }
    // Open before the server says it listens: an operator command run from then on is enforced at once.
    #[cfg(unix)]
    let _control = trustgate_server::control_socket::ControlSocket::open(data_dir, state.clone()).await?;
    let data = if place.embedded { format!("data in {}", data_dir.display()) } else { "data in PostgreSQL".to_owned() };
    say(format_args!("Trustgate is listening on {url} ({data})"));
    say(format_args!("Administrator console: sign in at {url}/console"));
    if key_given {
        say(format_args!("Server key: from TRUSTGATE_SERVER_KEY"));
    } else if key_was_there {
        say(format_args!("Server key: {}", key_file.display()));
    } else {
        say(format_args!(
            "Server key: created {} (back it up apart from the database; further nodes and operator commands need it: \
             TRUSTGATE_SERVER_KEY=$(trustgate --data-dir {} keys export))",
            key_file.display(),
            data_dir.display()
        ));
    }
    if let Some((customer, email, password)) = bootstrap {
        say(format_args!("First start: created customer {customer} and its administrator."));
        say(format_args!("  Sign in at {url}/console with e-mail {email} and password {password}"));
        say(format_args!("  (shown only now; change it with `trustgate admin set-password --admin {email}`)"));
        say(format_args!("  or from a script: curl -c cookies.txt -H 'Content-Type: application/json' \\"));
        say(format_args!("       -d '{{\"email\":\"{email}\",\"password\":\"{password}\"}}' {url}/api/v1/session"));
    }
    say(format_args!("API description: {url}/openapi.json"));
    let metrics = match args.metrics_listen {
        Some(address) => {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("listening for metrics on {address}"))?;
            say(format_args!("Prometheus metrics: http://{}/metrics", listener.local_addr()?));
            Some(tokio::spawn(trustgate_server::serve_metrics(listener, state.clone(), std::future::pending())))
        }
        None => None,
    };
    trustgate_server::serve_with(listener, state, tls, stop_requested()).await?;
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    Ok(())
}

/// Ctrl-C, or SIGTERM from a service manager: both stop the server cleanly (and remove its socket).
async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// The `iss` and `aud` of tokens: a public URL is an absolute http(s) URL with nothing after
/// the path, kept without a trailing slash so `{issuer}/.well-known/…` is well formed.
fn issuer(args: &ServeArgs, default_url: &str) -> anyhow::Result<Issuer> {
    let url = match &args.public_url {
        Some(url) => {
            let url = url.trim().trim_end_matches('/');
            let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
            if rest.is_none_or(|rest| rest.is_empty() || rest.contains(['?', '#', ' '])) {
                return Err(Failure::invalid(format!(
                    "--public-url must be an absolute http:// or https:// URL without query or fragment, not {url:?}"
                ))
                .into());
            }
            url.to_owned()
        }
        None => default_url.to_owned(),
    };
    let audience = args.audience.as_deref().map(str::trim).filter(|a| !a.is_empty()).unwrap_or(&url).to_owned();
    Ok(Issuer { url, audience })
}

/// First start on an empty store: a customer and a Full administrator who can sign in.
async fn bootstrap(store: &dyn Store, email: &str) -> anyhow::Result<(CustomerId, Email, String)> {
    // Checked before anything is written: a bad --bootstrap-email leaves the store empty.
    let email = given("--bootstrap-email", Email::parse(email))?;
    let now = OffsetDateTime::now_utc();
    let customer = Customer {
        id: CustomerId::generate(),
        name: "My organisation".to_owned(),
        disabled_owner_policy: DisabledOwnerPolicy::KeepActive,
        created_at: now,
    };
    store.create_customer(&customer, &Actor::System).await?;
    let password = random_token()[..24].to_owned();
    let hash = password::hash(password.clone()).await?;
    let candidate = local_admin(email.clone(), None, now)?;
    let (member, created) =
        store.add_admin(&customer.id, &candidate, Some(&hash), Access::Full, None, &Actor::System).await?;
    if !created {
        store.set_password_hash(member.admin.id, &hash).await?;
    }
    Ok((customer.id, email, password))
}

fn local_admin(email: Email, name: Option<&str>, now: OffsetDateTime) -> anyhow::Result<Admin> {
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

async fn customer(store: &dyn Store, command: CustomerCommand, out: Output) -> anyhow::Result<()> {
    match command {
        CustomerCommand::Create { name, id } => {
            let id = given("--id", id.map(|i| CustomerId::parse(&i)).transpose())?.unwrap_or_else(CustomerId::generate);
            let customer = Customer {
                id,
                name: given("--name", parse_customer_name(&name))?,
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
            let rows: Vec<_> = customers
                .iter()
                .map(|c| [c.id.to_string(), c.disabled_owner_policy.as_str().to_owned(), c.name.clone()])
                .collect();
            out.print(json!({ "items": items }), table(["ID", "DISABLED OWNERS", "NAME"], &rows));
        }
        CustomerCommand::SetPolicy { customer, disabled_owner_policy } => {
            let id = known_customer(store, &customer).await?;
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
        CustomerCommand::DisabledOwners { customer } => {
            let id = known_customer(store, &customer).await?;
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

async fn scim_token(store: &dyn Store, place: Place<'_>, command: ScimTokenCommand, out: Output) -> anyhow::Result<()> {
    match command {
        ScimTokenCommand::Create { customer, name, provider, public_url, provider_id } => {
            let customer = known_customer(store, &customer).await?;
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
            let customer = known_customer(store, &customer).await?;
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
            let customer = known_customer(store, &customer).await?;
            let id = given("--id", ScimTokenId::parse(&id))?;
            if !store.revoke_scim_token(&customer, id, &Actor::System).await? {
                return Err(Failure::not_found(format!("customer {customer} has no SCIM token {id}")).into());
            }
            out.print(json!({ "id": id.to_string(), "revoked": true }), format!("Revoked SCIM token {id}."));
        }
    }
    Ok(())
}

/// A customer named with --customer, which must exist.
async fn known_customer(store: &dyn Store, text: &str) -> anyhow::Result<CustomerId> {
    let id = given("--customer", CustomerId::parse(text))?;
    match store.customer(&id).await? {
        Some(_) => Ok(id),
        None => Err(Failure::not_found(format!("there is no customer {id} (see `trustgate customer list`)")).into()),
    }
}

/// An administrator by id, or by e-mail when exactly one has it (a local administrator and
/// federated ones may share an e-mail: they are different identities).
async fn find_admin(store: &dyn Store, reference: &str) -> anyhow::Result<Admin> {
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
fn not_a_member(error: trustgate_store::StoreError, admin: &Admin, customer: &CustomerId) -> anyhow::Error {
    match error {
        trustgate_store::StoreError::NotFound(_) => {
            Failure::not_found(format!("{} is not an administrator of customer {customer}", admin.email)).into()
        }
        other => other.into(),
    }
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
    password::check_strength(&password).map_err(|e| Failure::invalid(e.detail))?;
    Ok((password, false))
}

fn api_clients(n: usize) -> String {
    count(u64::try_from(n).unwrap_or(u64::MAX), "API client", "API clients")
}

/// As the Administrators API answers: Full access lists no policies, since it holds every one.
fn access_json(access: &Access) -> Value {
    match access {
        Access::Full => json!({ "accessType": "Full", "policies": null }),
        Access::Custom(set) => {
            json!({ "accessType": "Custom", "policies": set.iter().map(ToString::to_string).collect::<Vec<_>>() })
        }
    }
}

/// What `admin invite` (and `admin add`, for an account that exists already) invites.
struct Invite {
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
async fn invite_local(store: &dyn Store, place: Place<'_>, invite: Invite, out: Output) -> anyhow::Result<()> {
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

async fn admin(store: &dyn Store, place: Place<'_>, command: AdminCommand, out: Output) -> anyhow::Result<()> {
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
            let customer = known_customer(store, &customer).await?;
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
            let customer = known_customer(store, &customer).await?;
            let access = access.access(store).await?;
            let email = given("--email", Email::parse_new(&email))?;
            let invite = Invite { customer, email, name, access, public_url, lifetime: invitation_lifetime };
            invite_local(store, place, invite, out).await?;
        }
        AdminCommand::List { customer } => {
            let customer = known_customer(store, &customer).await?;
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
            let customer = known_customer(store, &customer).await?;
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
            let customer = known_customer(store, &customer).await?;
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

async fn set_status(store: &dyn Store, reference: &str, status: AdminStatus, out: Output) -> anyhow::Result<()> {
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

async fn client(store: &dyn Store, place: Place<'_>, command: ClientCommand, out: Output) -> anyhow::Result<()> {
    match command {
        ClientCommand::Create { customer, admin, name, csv, max_clients_per_owner } => {
            let customer = known_customer(store, &customer).await?;
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
            let customer = known_customer(store, &customer).await?;
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
            let customer = known_customer(store, &customer).await?;
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

/// A new secret's expiry as `--expires-in-days` or `--expires-at` names it, if either does.
fn cli_expiry(in_days: Option<u32>, at: Option<String>) -> anyhow::Result<Option<OffsetDateTime>> {
    Ok(match (in_days, at) {
        (Some(days), _) => Some(OffsetDateTime::now_utc() + time::Duration::days(i64::from(days))),
        (None, Some(at)) => {
            Some(given("--expires-at", trustgate_server::platform::shapes::parse_rfc3339("expiresAt", &at))?)
        }
        (None, None) => None,
    })
}

async fn secret(store: &dyn Store, place: Place<'_>, command: SecretCommand, out: Output) -> anyhow::Result<()> {
    match command {
        SecretCommand::Add { customer, id, expires_in_days, expires_at, csv } => {
            let customer = known_customer(store, &customer).await?;
            let id = given("--id", ClientId::parse(&id))?;
            let expires_at = cli_expiry(expires_in_days, expires_at)?;
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
        SecretCommand::List { customer, id } => {
            let customer = known_customer(store, &customer).await?;
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
        SecretCommand::Delete { customer, id, secret } => {
            let customer = known_customer(store, &customer).await?;
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

fn principal_json(principal: &ApiClient) -> Value {
    let access = match &principal.kind {
        ClientKind::ServicePrincipal { access } => access_json(access),
        ClientKind::SecureClient { .. } => Value::Null,
    };
    json!({
        "id": principal.id.to_string(),
        "name": principal.name,
        "customerId": principal.customer_id.as_str(),
        "access": access,
        "createdAt": rfc3339(principal.created_at),
        "lastUsedAt": principal.last_used_at.map(rfc3339),
    })
}

fn access_text(access: &Access) -> String {
    match access {
        Access::Full => "Full".to_owned(),
        Access::Custom(set) => {
            format!("Custom: {}", set.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
        }
    }
}

async fn principal(store: &dyn Store, place: Place<'_>, command: PrincipalCommand, out: Output) -> anyhow::Result<()> {
    match command {
        PrincipalCommand::Create { customer, name, access, expires_in_days, expires_at, csv } => {
            let customer = known_customer(store, &customer).await?;
            let access = access.access(store).await?;
            let expires_at = cli_expiry(expires_in_days, expires_at)?;
            let key = deployment_key(store, place).await?;
            // The file is claimed first: a principal whose secret could not be written would be lost.
            let file = csv.as_deref().map(private_file).transpose()?;
            let (principal, secret) = match actions::clients::new_principal(
                store,
                &key,
                &customer,
                &name,
                access.clone(),
                expires_at,
                &Actor::System,
            )
            .await
            {
                Ok(created) => created,
                Err(error) => {
                    if let Some(path) = &csv {
                        let _ = std::fs::remove_file(path);
                    }
                    return Err(match error {
                        trustgate_server::ApiError::Invalid(invalid) if invalid.field == "secretExpiresAt" => {
                            failure::refused_option("--expires-at", &invalid).into()
                        }
                        trustgate_server::ApiError::Invalid(invalid) => {
                            failure::refused_option("--name", &invalid).into()
                        }
                        other => anyhow!(other),
                    });
                }
            };
            let mut value = principal_json(&principal);
            if let (Some(path), Some(mut file)) = (csv, file) {
                write!(file, "ID,Secret\r\n{},{}\r\n", principal.id, secret.expose())?;
                value["csv"] = json!(path);
                out.print(
                    value,
                    format!(
                        "Created service principal {} ({}); ID and Secret written to {}.",
                        principal.name,
                        principal.id,
                        path.display()
                    ),
                );
            } else {
                value["secret"] = json!(secret.expose());
                out.print(
                    value,
                    format!(
                        "Created service principal {} in {customer} with {} access.\nID:     {}\nSecret: {}\nThe secret is shown only now.",
                        principal.name,
                        access_text(&access),
                        principal.id,
                        secret.expose()
                    ),
                );
            }
        }
        PrincipalCommand::List { customer } => {
            let customer = known_customer(store, &customer).await?;
            let principals = store
                .principals(&customer, None, trustgate_core::client::PRINCIPALS_PER_CUSTOMER_MAX as u32, &Actor::System)
                .await?;
            let rows: Vec<_> = principals
                .iter()
                .filter_map(|p| match &p.kind {
                    ClientKind::ServicePrincipal { access } => Some([
                        p.id.to_string(),
                        access_text(access),
                        p.last_used_at.map_or_else(|| "never".to_owned(), rfc3339),
                        p.name.clone(),
                    ]),
                    ClientKind::SecureClient { .. } => None,
                })
                .collect();
            let text = if rows.is_empty() {
                format!("Customer {customer} has no service principals.")
            } else {
                table(["ID", "ACCESS", "LAST USED", "NAME"], &rows)
            };
            out.print(json!({ "items": principals.iter().map(principal_json).collect::<Vec<_>>() }), text);
        }
        PrincipalCommand::SetAccess { customer, id, access } => {
            let customer = known_customer(store, &customer).await?;
            let id = given("--id", ClientId::parse(&id))?;
            let access = access.access(store).await?;
            let before = store.set_principal_access(&customer, id, access.clone(), &Actor::System).await.map_err(
                |e| match e {
                    trustgate_store::StoreError::NotFound(_) => {
                        Failure::not_found(format!("customer {customer} has no service principal {id}")).into()
                    }
                    other => anyhow!(other),
                },
            )?;
            out.print(
                json!({ "id": id.to_string(), "before": access_json(&before), "access": access_json(&access) }),
                format!(
                    "Service principal {id} now has {} access (was {}).",
                    access_text(&access),
                    access_text(&before)
                ),
            );
        }
        PrincipalCommand::Delete { customer, id } => {
            let customer = known_customer(store, &customer).await?;
            let id = given("--id", ClientId::parse(&id))?;
            if !store.delete_principal(&customer, id, &Actor::System).await? {
                return Err(Failure::not_found(format!("customer {customer} has no service principal {id}")).into());
            }
            out.print(json!({ "id": id.to_string(), "deleted": true }), format!("Deleted service principal {id}."));
        }
        PrincipalCommand::Convert { customer, id } => {
            let customer = known_customer(store, &customer).await?;
            let id = given("--id", ClientId::parse(&id))?;
            let principal = store.convert_to_principal(&customer, id, &Actor::System).await.map_err(|e| match e {
                trustgate_store::StoreError::NotFound(_) => {
                    Failure::not_found(format!("customer {customer} has no secure client {id}")).into()
                }
                other => anyhow!(other),
            })?;
            let access = match &principal.kind {
                ClientKind::ServicePrincipal { access } => access_text(access),
                ClientKind::SecureClient { .. } => String::new(),
            };
            out.print(
                principal_json(&principal),
                format!(
                    "API client {} ({id}) is now a service principal with {access} access; its secret is unchanged.",
                    principal.name
                ),
            );
        }
    }
    Ok(())
}

fn provider_json(p: &IdentityProvider) -> Value {
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

async fn provider(store: &dyn Store, place: Place<'_>, command: ProviderCommand, out: Output) -> anyhow::Result<()> {
    match command {
        ProviderCommand::Connect { customer, provider_type, issuer, client_id, email_claim } => {
            let customer = known_customer(store, &customer).await?;
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
            let customer = known_customer(store, &customer).await?;
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
            let customer = known_customer(store, &customer).await?;
            let id = given("--id", ProviderId::parse(&id))?;
            if !store.disconnect_provider(&customer, id, &Actor::System).await? {
                return Err(Failure::not_found(format!("customer {customer} has no OpenID provider {id}")).into());
            }
            out.print(json!({ "id": id.to_string(), "disconnected": true }), format!("Disconnected {id}."));
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
            eprintln!("copied {} of {table}", count(rows, "row", "rows"));
        }
    })
    .await?;
    let total: u64 = copied.iter().map(|t| t.target_rows).sum();
    let rows = count(total, "row", "rows");
    let tables: serde_json::Map<String, Value> =
        copied.iter().map(|t| (t.table.to_owned(), json!(t.target_rows))).collect();
    let compared: Vec<Value> = copied
        .iter()
        .map(|t| json!({ "table": t.table, "sqlite": t.source_rows, "postgres": t.target_rows }))
        .collect();
    let not_copied: serde_json::Map<String, Value> =
        trustgate_store::NOT_COPIED_TO_POSTGRES.iter().map(|(t, why)| ((*t).to_owned(), json!(why))).collect();
    let table_rows: Vec<[String; 3]> =
        copied.iter().map(|t| [t.table.to_owned(), t.source_rows.to_string(), t.target_rows.to_string()]).collect();
    let skipped: Vec<String> =
        trustgate_store::NOT_COPIED_TO_POSTGRES.iter().map(|(t, why)| format!("  {t}: {why}")).collect();
    out.print(
        json!({ "copied": tables, "compared": compared, "notCopied": not_copied }),
        format!(
            "{}\nEvery table's rows match. Not copied, by design:\n{}\nCopied {rows} into PostgreSQL. Run every node with --database and the same server key (TRUSTGATE_SERVER_KEY or {}).",
            table(["TABLE", "SQLITE", "POSTGRESQL"], &table_rows),
            skipped.join("\n"),
            data_dir.join(SERVER_KEY_FILE).display()
        ),
    );
    Ok(())
}

async fn backup(data_dir: &Path, database: Option<&str>, to: &Path, out: Output) -> anyhow::Result<()> {
    if database.is_some() {
        return Err(Failure::invalid(
            "`trustgate backup` copies the embedded SQLite store only; back up PostgreSQL with its own tools \
             (pg_dump, or your provider's snapshots), and keep a copy of the server key apart from them",
        )
        .into());
    }
    if std::fs::symlink_metadata(to).is_ok() {
        return Err(Failure::invalid(format!(
            "--to {} exists: a backup is written to a new file only, never over one; name a new file",
            to.display()
        ))
        .into());
    }
    let parent = to.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(Failure::invalid(format!(
            "--to {}: there is no directory {}; create it first (mkdir -p {})",
            to.display(),
            parent.display(),
            parent.display()
        ))
        .into());
    }
    let store =
        SqliteStore::open(data_dir).await.with_context(|| format!("opening the store in {}", data_dir.display()))?;
    store.backup_to(to).await.with_context(|| format!("backing up to {}", to.display()))?;
    let key = match std::env::var_os("TRUSTGATE_SERVER_KEY") {
        Some(_) => "TRUSTGATE_SERVER_KEY".to_owned(),
        None => data_dir.join(SERVER_KEY_FILE).display().to_string(),
    };
    out.print(
        json!({ "backup": to, "serverKeyIncluded": false }),
        format!(
            "Backed up the store to {}.\nThe server key is not in it: without the key ({key}) no client secret \
             verifies and no signing key opens. Keep a copy of the key, apart from the backup.",
            to.display()
        ),
    );
    Ok(())
}

/// Output is flushed before the process exits, even when piped.
pub fn flush() {
    let _ = std::io::stdout().flush();
}
