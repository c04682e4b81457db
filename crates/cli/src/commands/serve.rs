//! `trustgate serve`: its options, and starting a node on them.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use time::OffsetDateTime;
use trustgate_core::access::Access;
use trustgate_core::admin::Email;
use trustgate_core::customer::{Customer, DisabledOwnerPolicy};
use trustgate_core::event::Actor;
use trustgate_core::ids::CustomerId;
use trustgate_core::secret::random_token;
use trustgate_core::token::{Algorithm, Issuer};
use trustgate_store::{files, Store};

use trustgate_server::config::{ConnectionLimits, ServerConfig, DEFAULT_SIGNING_ALGORITHM};
use trustgate_server::jobs::siem::{JsonlTarget, SiemConfig, SyslogTarget};
use trustgate_server::keys::server_key_file::SERVER_KEY_FILE;
use trustgate_server::password;
use trustgate_server::password::HashLimits;
use trustgate_server::ThrottlePolicy;

use super::admin::local_admin;
use super::failure::{given, Failure};
use super::text::{say, say_on_stderr};
use super::{key_of_deployment, parse_duration, Place};

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
    /// Let webhook endpoints be on loopback, link-local and private addresses, and plain HTTP to
    /// the loopback interface (receivers on the operator's own network); refused otherwise.
    #[arg(long, env = "TRUSTGATE_WEBHOOKS_ALLOW_PRIVATE")]
    pub webhooks_allow_private: bool,
    /// Stream every customer's system log to the operator's SIEM as RFC 5424 syslog messages with
    /// structured data: tcp://HOST[:PORT] (default port 514) or tls://HOST[:PORT] (6514). One node
    /// of a deployment streams at a time; after a restart of the receiver or of Trustgate,
    /// records not known received are sent again (at least once; docs/siem.md).
    #[arg(long, env = "TRUSTGATE_SIEM_SYSLOG", value_name = "URL")]
    pub siem_syslog: Option<String>,
    /// PEM CA certificates that a tls:// --siem-syslog receiver's certificate must chain to (and
    /// name its HOST). Default: Mozilla's roots.
    #[arg(long, env = "TRUSTGATE_SIEM_SYSLOG_CA", requires = "siem_syslog", value_name = "FILE")]
    pub siem_syslog_ca: Option<PathBuf>,
    /// Stream every customer's system log as JSON lines, one record a line in the system-log
    /// API's shape: appended to this file (created readable by its owner only, synced to disk
    /// after each batch), or `-` for standard output (the start-up lines then go to standard
    /// error). At least once, as --siem-syslog.
    #[arg(long, env = "TRUSTGATE_SIEM_JSONL", value_name = "PATH|-")]
    pub siem_jsonl: Option<String>,
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
            webhooks_allow_private: self.webhooks_allow_private,
            client_cache: usize::try_from(self.client_cache).unwrap_or(usize::MAX),
            token_cache: usize::try_from(self.token_cache).unwrap_or(usize::MAX),
            list_cache: usize::try_from(self.list_cache).unwrap_or(usize::MAX),
            ..ServerConfig::default()
        }
    }

    fn siem(&self) -> anyhow::Result<SiemConfig> {
        let syslog = match &self.siem_syslog {
            Some(url) => Some(
                SyslogTarget::parse(url, self.siem_syslog_ca.as_deref())
                    .map_err(|e| Failure::invalid(e.to_string()))?,
            ),
            None => None,
        };
        let jsonl = self.siem_jsonl.as_deref().map(JsonlTarget::parse);
        Ok(SiemConfig { syslog, jsonl, ..SiemConfig::default() })
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

pub async fn run(store: Arc<dyn Store>, place: Place<'_>, args: ServeArgs) -> anyhow::Result<()> {
    // Checked before anything is written, as the TLS files are.
    let siem = args.siem()?;
    if siem.jsonl == Some(JsonlTarget::Stdout) {
        say_on_stderr();
    }
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
    let config = ServerConfig { max_clients_per_owner: args.max_clients_per_owner, issuer, siem, ..args.config() };
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
pub(super) async fn stop_requested() {
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
pub(super) fn issuer(args: &ServeArgs, default_url: &str) -> anyhow::Result<Issuer> {
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
pub(super) async fn bootstrap(store: &dyn Store, email: &str) -> anyhow::Result<(CustomerId, Email, String)> {
    // Checked before anything is written: a bad --bootstrap-email leaves the store empty.
    let email = given("--bootstrap-email", Email::parse(email))?;
    let now = OffsetDateTime::now_utc();
    let customer = Customer {
        id: CustomerId::generate(),
        name: "My organisation".to_owned(),
        disabled_owner_policy: DisabledOwnerPolicy::KeepActive,
        require_local_mfa: true,
        lost_access_policy: trustgate_core::customer::LostAccessPolicy::RemoveFromCustomer,
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
