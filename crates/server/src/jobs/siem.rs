//! SIEM streams, on every node: every customer's system log to the operator's collector, as
//! RFC 5424 syslog over TCP or TLS (RFC 6587 octet counting; RFC 5425) and as JSON lines on a
//! file or standard output (docs/siem.md).
//!
//! Each configured stream runs on one node at a time, the one holding its lease in the store.
//! That node reads the log after the stream's cursor (`Store::log_after`, the reader webhooks use,
//! so a record committed late is never skipped), writes the records to the receiver, and moves
//! the cursor only past records the receiver is known to have: a JSON-lines file's once written
//! and fsynced; a syslog receiver's once written, flushed, and followed by `SETTLE` of the
//! connection staying up (plain syslog has no acknowledgement). Whatever was written but not known
//! received is sent again after a reconnection or a restart: at least once, never skipped.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinHandle;
use trustgate_store::{LogPosition, LogRecord, PositionedRecord, SiemClaim};

use crate::platform::shapes::rfc3339;
use crate::state::Shared;

/// How long a claim holds a stream; every cursor write extends it. Another node takes a stream
/// over within this long of the node holding it stopping.
const LEASE: Duration = Duration::from_secs(20);
/// How long a syslog connection must stay up after a record was written and flushed for the
/// record to count as received. A receiver that reads and writes out what it gets does so in
/// milliseconds; one that dies within this window closes the connection, and the records of the
/// window are sent again.
pub const SETTLE: Duration = Duration::from_secs(2);
/// Records read from the log, and written, at a time.
const BATCH: u32 = 500;
/// The longest a connection, or a write to a receiver that does not read, may take.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Waits between tries to reach a receiver that is down: doubling from the first to the last,
/// which stays under a quarter of the lease so the lease is renewed while the receiver is away.
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_LAST: Duration = Duration::from_secs(5);

/// RFC 5424 §6.2.1: facility 10, "security/authorization messages".
const FACILITY: u8 = 10;
/// RFC 5424 §6.2.1 severities: refusals are notices, every other record informational.
const NOTICE: u8 = 5;
const INFORMATIONAL: u8 = 6;
/// The structured data's SD-ID (RFC 5424 §7.2.2, "name@<private enterprise number>"). 32473 is
/// the enterprise number RFC 5612 reserves for documentation: a deployment whose SIEM wants its
/// own registered number rewrites it there.
pub const SD_ID: &str = "trustgate@32473";
const APP_NAME: &str = "trustgate";
/// RFC 5424 §6.4: a UTF-8 MSG starts with the byte order mark.
const BOM: &str = "\u{feff}";

/// Where every customer's system log is streamed: operator settings only (`trustgate serve`
/// flags), never anything a customer's administrator can reach.
#[derive(Debug, Clone)]
pub struct SiemConfig {
    pub syslog: Option<SyslogTarget>,
    pub jsonl: Option<JsonlTarget>,
    /// How often a stream that has caught up looks for new records.
    pub poll_interval: Duration,
}

impl Default for SiemConfig {
    fn default() -> Self {
        Self { syslog: None, jsonl: None, poll_interval: Duration::from_secs(1) }
    }
}

/// A syslog receiver: host, port, and TLS settings for a `tls://` one.
#[derive(Debug, Clone)]
pub struct SyslogTarget {
    pub host: String,
    pub port: u16,
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// Where JSON lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonlTarget {
    Stdout,
    /// Appended to (created 0600: it holds every customer's log).
    File(PathBuf),
}

impl JsonlTarget {
    /// `-` is standard output; anything else a file's path.
    pub fn parse(text: &str) -> Self {
        if text == "-" {
            JsonlTarget::Stdout
        } else {
            JsonlTarget::File(PathBuf::from(text))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SiemSettingError {
    #[error("--siem-syslog must be tcp://HOST[:PORT] or tls://HOST[:PORT], not {0:?}")]
    Url(String),
    #[error("--siem-syslog-ca is for a tls:// receiver")]
    CaWithoutTls,
    #[error("cannot read the CA certificates from {path}: {reason}")]
    Ca { path: PathBuf, reason: String },
    #[error("{path} holds no certificate (expected PEM \"BEGIN CERTIFICATE\" blocks)")]
    NoCa { path: PathBuf },
}

impl SyslogTarget {
    /// `tcp://HOST[:PORT]` (port 514 by default) or `tls://HOST[:PORT]` (6514, RFC 5425 §4.1);
    /// an IPv6 address in brackets. A TLS receiver's certificate is checked against `ca_file`'s
    /// certificates, or Mozilla's roots without one, and must name HOST.
    pub fn parse(url: &str, ca_file: Option<&Path>) -> Result<Self, SiemSettingError> {
        let bad = || SiemSettingError::Url(url.to_owned());
        let (scheme, rest) = url.trim().split_once("://").ok_or_else(bad)?;
        let default_port = match scheme.to_ascii_lowercase().as_str() {
            "tcp" => 514,
            "tls" => 6514,
            _ => return Err(bad()),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(bad)?;
            (host, after.strip_prefix(':'))
        } else {
            match rest.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            }
        };
        let valid_host = !host.is_empty() && !host.contains(['/', '?', '#', '@', ' ', '[', ']']);
        if !valid_host {
            return Err(bad());
        }
        let port = match port {
            Some(port) => port.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad)?,
            None => default_port,
        };
        let tls = match (default_port, ca_file) {
            (6514, ca_file) => Some(tls_config(ca_file)?),
            (_, Some(_)) => return Err(SiemSettingError::CaWithoutTls),
            (_, None) => None,
        };
        Ok(Self { host: host.to_owned(), port, tls })
    }
}

fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, SiemSettingError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certificates = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| SiemSettingError::Ca { path: path.to_owned(), reason: e.to_string() })?;
            if certificates.is_empty() {
                return Err(SiemSettingError::NoCa { path: path.to_owned() });
            }
            for certificate in certificates {
                roots
                    .add(certificate)
                    .map_err(|e| SiemSettingError::Ca { path: path.to_owned(), reason: e.to_string() })?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SiemSettingError::Ca {
            path: ca_file.map(Path::to_owned).unwrap_or_default(),
            reason: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Starts a task for each configured stream; each ends when the state is dropped.
pub(crate) fn start(siem: &SiemConfig, shared: &Weak<Shared>) {
    if let Some(target) = &siem.syslog {
        let sink = Sink::Syslog { target: target.clone(), connection: None, hostname: hostname() };
        tokio::spawn(stream_periodically(shared.clone(), sink));
    }
    if let Some(target) = &siem.jsonl {
        tokio::spawn(stream_periodically(shared.clone(), Sink::Jsonl { target: target.clone(), out: None }));
    }
}

/// The names of the streams configured on this node, as the store keys their cursors.
pub(crate) fn configured(siem: &SiemConfig) -> Vec<&'static str> {
    let mut names = Vec::new();
    if siem.syslog.is_some() {
        names.push(SYSLOG);
    }
    if siem.jsonl.is_some() {
        names.push(JSONL);
    }
    names
}

const SYSLOG: &str = "syslog";
const JSONL: &str = "jsonl";

fn lease_length() -> time::Duration {
    time::Duration::try_from(LEASE).unwrap_or(time::Duration::MINUTE)
}

/// Claims the stream whenever no node holds it, and streams while this node does. A node that
/// stops lets the stream go at once (another node resumes from the cursor without waiting for the
/// lease to run out).
async fn stream_periodically(shared: Weak<Shared>, mut sink: Sink) {
    loop {
        let poll = {
            let Some(state) = shared.upgrade() else { return };
            let claim = state.store.claim_siem(sink.name(), state.config.clock.now_utc(), lease_length()).await;
            match claim {
                Ok(Some(claim)) => {
                    let store = state.store.clone();
                    drop(state);
                    let lease = claim.lease.clone();
                    stream(&shared, &mut sink, claim).await;
                    sink.close();
                    if let Err(error) = store.release_siem(sink.name(), &lease).await {
                        tracing::warn!(%error, "releasing the SIEM stream failed; its lease runs out by itself");
                    }
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, stream = sink.name(), "claiming the SIEM stream failed"),
            }
            let Some(state) = shared.upgrade() else { return };
            state.config.siem.poll_interval
        };
        tokio::time::sleep(poll).await;
    }
}

/// Streams until the lease is lost or the state dropped.
async fn stream(shared: &Weak<Shared>, sink: &mut Sink, claim: SiemClaim) {
    let SiemClaim { cursor, lease } = claim;
    // `acked`: the last record known received; `stored`: the cursor in the store; `sent`: the
    // last record written to the current connection.
    let (mut acked, mut stored, mut sent) = (cursor, cursor, cursor);
    let mut unsettled: VecDeque<(LogPosition, Instant)> = VecDeque::new();
    let mut retry = RETRY_FIRST;
    let mut renewed = Instant::now();
    loop {
        let Some(state) = shared.upgrade() else { return };
        let mut wait = Some(state.config.siem.poll_interval);
        if !sink.is_open() {
            match sink.open().await {
                Ok(()) => {
                    tracing::info!(stream = sink.name(), "SIEM stream connected; resending what was not acknowledged");
                    retry = RETRY_FIRST;
                    sent = acked;
                    unsettled.clear();
                }
                Err(error) => {
                    tracing::warn!(%error, stream = sink.name(), "the SIEM receiver cannot be reached; retrying");
                    wait = Some(retry);
                    retry = (retry * 2).min(RETRY_LAST);
                }
            }
        }
        if sink.is_open() {
            match state.store.log_after(None, sent, BATCH).await {
                Ok(records) if !records.is_empty() => match sink.write(&records).await {
                    Ok(()) => {
                        if let Some(last) = records.last() {
                            sent = last.position;
                            unsettled.push_back((sent, Instant::now()));
                        }
                        if records.len() >= usize::try_from(BATCH).unwrap_or(usize::MAX) {
                            wait = None;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, stream = sink.name(), "writing to the SIEM receiver failed; reconnecting");
                        sink.close();
                        sent = acked;
                        unsettled.clear();
                        wait = Some(retry);
                    }
                },
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "reading the system log for the SIEM stream failed; retrying"),
            }
        }
        if sink.lost() {
            tracing::warn!(
                stream = sink.name(),
                "the SIEM receiver closed the connection; resending from the last acknowledged record"
            );
            sink.close();
            sent = acked;
            unsettled.clear();
        }
        while let Some(&(position, at)) = unsettled.front() {
            if at.elapsed() < sink.settle() {
                break;
            }
            acked = position;
            unsettled.pop_front();
        }
        if acked != stored || renewed.elapsed() >= LEASE / 4 {
            let until = state.config.clock.now_utc() + lease_length();
            match state.store.advance_siem(sink.name(), &lease, acked, until).await {
                Ok(true) => {
                    stored = acked;
                    renewed = Instant::now();
                }
                Ok(false) => {
                    tracing::info!(stream = sink.name(), "another node took the SIEM stream over");
                    return;
                }
                Err(error) => tracing::warn!(%error, stream = sink.name(), "recording the SIEM stream's cursor failed"),
            }
        }
        drop(state);
        if let Some(wait) = wait {
            tokio::time::sleep(wait).await;
        }
    }
}

/// A receiver, and the open connection or file to it.
enum Sink {
    Syslog { target: SyslogTarget, connection: Option<Connection>, hostname: String },
    Jsonl { target: JsonlTarget, out: Option<JsonlOut> },
}

/// A connection to a syslog receiver: its write half, and whether the receiver closed it (seen
/// by a task reading the other half; receivers send nothing).
struct Connection {
    writer: Box<dyn AsyncWrite + Send + Unpin>,
    closed: Arc<AtomicBool>,
    watcher: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

enum JsonlOut {
    Stdout(tokio::io::Stdout),
    File(tokio::fs::File),
}

impl Sink {
    fn name(&self) -> &'static str {
        match self {
            Sink::Syslog { .. } => SYSLOG,
            Sink::Jsonl { .. } => JSONL,
        }
    }

    fn is_open(&self) -> bool {
        match self {
            Sink::Syslog { connection, .. } => connection.is_some(),
            Sink::Jsonl { out, .. } => out.is_some(),
        }
    }

    fn close(&mut self) {
        match self {
            Sink::Syslog { connection, .. } => *connection = None,
            Sink::Jsonl { out, .. } => *out = None,
        }
    }

    /// Whether the receiver closed the connection.
    fn lost(&self) -> bool {
        match self {
            Sink::Syslog { connection: Some(c), .. } => c.closed.load(Ordering::Acquire),
            _ => false,
        }
    }

    /// How long after its write a record counts as received.
    fn settle(&self) -> Duration {
        match self {
            Sink::Syslog { .. } => SETTLE,
            Sink::Jsonl { .. } => Duration::ZERO,
        }
    }

    async fn open(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Syslog { target, connection, .. } => {
                *connection = Some(connect(target).await?);
            }
            Sink::Jsonl { target, out } => {
                *out = Some(match target {
                    JsonlTarget::Stdout => JsonlOut::Stdout(tokio::io::stdout()),
                    JsonlTarget::File(path) => {
                        let mut options = tokio::fs::OpenOptions::new();
                        options.create(true).append(true);
                        #[cfg(unix)]
                        options.mode(0o600);
                        JsonlOut::File(options.open(path).await?)
                    }
                });
            }
        }
        Ok(())
    }

    async fn write(&mut self, records: &[PositionedRecord]) -> std::io::Result<()> {
        match self {
            Sink::Syslog { connection: Some(c), hostname, .. } => {
                let mut frames = Vec::new();
                for record in records {
                    frames.extend_from_slice(&octet_counted(&syslog_message(&record.record, hostname)));
                }
                timed(async {
                    c.writer.write_all(&frames).await?;
                    c.writer.flush().await
                })
                .await
            }
            Sink::Jsonl { out: Some(out), .. } => {
                let mut lines = Vec::new();
                for record in records {
                    lines.extend_from_slice(json_line(&record.record).as_bytes());
                }
                match out {
                    JsonlOut::Stdout(stdout) => {
                        stdout.write_all(&lines).await?;
                        stdout.flush().await
                    }
                    JsonlOut::File(file) => {
                        file.write_all(&lines).await?;
                        file.flush().await?;
                        file.sync_data().await
                    }
                }
            }
            _ => Err(std::io::Error::new(std::io::ErrorKind::NotConnected, "the receiver is not open")),
        }
    }
}

async fn timed<T>(work: impl std::future::Future<Output = std::io::Result<T>>) -> std::io::Result<T> {
    tokio::time::timeout(IO_TIMEOUT, work)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the receiver took too long")))
}

async fn connect(target: &SyslogTarget) -> std::io::Result<Connection> {
    let tcp = timed(tokio::net::TcpStream::connect((target.host.as_str(), target.port))).await?;
    tcp.set_nodelay(true)?;
    match &target.tls {
        None => Ok(watched(tcp)),
        Some(config) => {
            let name = ServerName::try_from(target.host.clone())
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            let tls = timed(tokio_rustls::TlsConnector::from(config.clone()).connect(name, tcp)).await?;
            Ok(watched(tls))
        }
    }
}

fn watched<S: AsyncRead + AsyncWrite + Send + 'static>(stream: S) -> Connection {
    let (mut reader, writer) = tokio::io::split(stream);
    let closed = Arc::new(AtomicBool::new(false));
    let flag = closed.clone();
    let watcher = tokio::spawn(async move {
        let mut buffer = [0u8; 512];
        while let Ok(n) = reader.read(&mut buffer).await {
            if n == 0 {
                break;
            }
        }
        flag.store(true, Ordering::Release);
    });
    Connection { writer: Box::new(writer), closed, watcher }
}

/// RFC 6587 §3.4.1 octet counting: the message's length in bytes, a space, the message.
fn octet_counted(message: &str) -> Vec<u8> {
    let mut frame = format!("{} ", message.len()).into_bytes();
    frame.extend_from_slice(message.as_bytes());
    frame
}

/// A record as an RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`,
/// the record's identifiers in the structured data and its text (UTF-8) as MSG.
pub fn syslog_message(record: &LogRecord, hostname: &str) -> String {
    let severity = if is_refusal(&record.event_type) { NOTICE } else { INFORMATIONAL };
    let pri = u16::from(FACILITY) * 8 + u16::from(severity);
    let mut sd = format!("[{SD_ID}");
    let seq = record.seq.to_string();
    let params = [
        ("customerId", Some(record.customer_id.as_str())),
        ("eventType", Some(record.event_type.as_str())),
        ("recordId", Some(record.record_id.as_str())),
        ("seq", Some(seq.as_str())),
        ("actorType", Some(record.actor_type.as_str())),
        ("actorId", record.actor_id.as_deref()),
        ("actorName", Some(record.actor_name.as_str())),
        ("targetType", Some(record.target_type.as_str())),
        ("targetId", Some(record.target_id.as_str())),
        ("targetName", Some(record.target_name.as_str())),
    ];
    for (name, value) in params {
        if let Some(value) = value {
            let _ = write!(sd, " {name}=\"{}\"", sd_escape(value));
        }
    }
    sd.push(']');
    format!(
        "<{pri}>1 {} {} {APP_NAME} {} {} {sd} {BOM}{}",
        rfc3339(record.at),
        header_field(hostname, 255),
        std::process::id(),
        msg_id(&record.event_type),
        record.message
    )
}

/// RFC 5424 §6.3.3: in a PARAM-VALUE, `"`, `\` and `]` are escaped with a backslash.
pub fn sd_escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// A header field: 1 to `max` printable US-ASCII characters, else the NILVALUE `-`.
fn header_field(value: &str, max: usize) -> &str {
    if value.is_empty() || value.len() > max || !value.bytes().all(|b| (33..=126).contains(&b)) {
        "-"
    } else {
        value
    }
}

/// The MSGID (at most 32 characters): the event type without its service, `administrator/create`
/// of `delegatedadministration:administrator/create`; the full type is in the structured data.
fn msg_id(event_type: &str) -> &str {
    header_field(event_type.rsplit(':').next().unwrap_or(event_type), 32)
}

fn is_refusal(event_type: &str) -> bool {
    event_type.ends_with("/failure") || event_type.ends_with("/failures")
}

/// A record as one JSON line, in the system-log API's shape.
pub fn json_line(record: &LogRecord) -> String {
    let mut line = serde_json::to_string(&crate::platform::system_log::record(record)).unwrap_or_default();
    line.push('\n');
    line
}

/// This machine's name, the HOSTNAME of every message.
fn hostname() -> String {
    #[cfg(target_os = "linux")]
    {
        rustix::system::uname().nodename().to_string_lossy().into_owned()
    }
    #[cfg(not(target_os = "linux"))]
    {
        "-".to_owned()
    }
}
