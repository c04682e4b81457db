//! Webhooks: a customer's endpoints that receive the customer's system-log records as they are
//! written, signed per the Standard Webhooks specification (<https://www.standardwebhooks.com>).
//!
//! What is decided here, without I/O: what an endpoint is and what it accepts, its signing
//! secret (`whsec_` and base64, sealed at rest under the server key like identity providers'
//! client secrets, since it must be read back to sign), the signature, the retry schedule, which
//! addresses a delivery may never reach, and the system-log records of an endpoint's life.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sha2::Sha256;
use time::OffsetDateTime;

use crate::encoding::random_bytes;
use crate::event::{Actor, LogEntry};
use crate::ids::{CustomerId, WebhookId};
use crate::validate::{label, trim_pasted, ValidationError};

/// Separates this use of the server key from the others (see `custody`).
const LABEL: &str = "trustgate webhook-secret sealing v1";
const NONCE_LEN: usize = 12;
pub const SECRET_PREFIX: &str = "whsec_";
pub const MAX_URL_LEN: usize = 2048;
pub const MAX_DESCRIPTION_LEN: usize = 256;
pub const MAX_EVENT_TYPES: usize = 64;
pub const MAX_EVENT_TYPE_LEN: usize = 128;
/// Most headers a Citrix-style subscription adds to its callbacks, and their total size.
pub const MAX_AUTH_HEADERS: usize = 8;
pub const MAX_AUTH_HEADERS_LEN: usize = 4096;
/// Enough for every system a customer feeds, and a bound on the deliveries one customer causes.
pub const MAX_ENDPOINTS_PER_CUSTOMER: u64 = 20;
/// How long an endpoint may fail before it is disabled: three days, so a receiver down over a
/// weekend loses nothing (the issue asks for at least 24 hours; Svix retries for about five days).
pub const RETRY_WINDOW: time::Duration = time::Duration::days(3);
/// After a rotation the previous secret signs too, for this long, so receivers can switch over.
pub const ROTATION_OVERLAP: time::Duration = time::Duration::hours(24);
/// The first retry waits about this long; each failure doubles it up to [`MAX_RETRY_DELAY`].
pub const FIRST_RETRY_DELAY: time::Duration = time::Duration::seconds(5);
pub const MAX_RETRY_DELAY: time::Duration = time::Duration::hours(1);

/// The body an endpoint receives: the Standard Webhooks envelope, or Citrix's callback fields for
/// a subscription made through Citrix's subscription API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Style {
    Standard,
    Citrix { event_type: String, change_type: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointState {
    Enabled,
    /// Failed past [`RETRY_WINDOW`]; enabling it, or a replay, sends again.
    Disabled,
}

impl EndpointState {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointState::Enabled => "enabled",
            EndpointState::Disabled => "disabled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "enabled" => Some(EndpointState::Enabled),
            "disabled" => Some(EndpointState::Disabled),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct Endpoint {
    pub id: WebhookId,
    pub customer_id: CustomerId,
    pub url: String,
    pub description: String,
    /// The system-log event types delivered; empty: every one.
    pub event_types: Vec<String>,
    pub style: Style,
    /// The signing secret (`whsec_…`) sealed by [`WebhookVault`]; never in clear at rest.
    pub sealed_secret: Vec<u8>,
    /// The secret before the last rotation, which signs too until `previous_until`.
    pub sealed_previous_secret: Option<Vec<u8>>,
    pub previous_until: Option<OffsetDateTime>,
    /// Citrix's `authHeaders`, as JSON `[[name, value], …]`, sealed: they are credentials.
    pub sealed_auth_headers: Option<Vec<u8>>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub state: EndpointState,
    /// When the current run of failures began; `None` while deliveries succeed.
    pub failing_since: Option<OffsetDateTime>,
    pub next_attempt_at: OffsetDateTime,
    /// Failures in a row.
    pub failures: u32,
    /// The `seq` of the last system-log record delivered (or passed over).
    pub delivered_seq: i64,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("id", &self.id)
            .field("customer_id", &self.customer_id)
            .field("url", &self.url)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Whether the endpoint asked for `event_type`: listed, or matched by a listed prefix
    /// ending in `*` (`platform:secureclient/*`), or nothing listed.
    pub fn wants(&self, event_type: &str) -> bool {
        self.event_types.is_empty()
            || self.event_types.iter().any(|t| match t.strip_suffix('*') {
                Some(prefix) => event_type.starts_with(prefix),
                None => t == event_type,
            })
    }
}

/// A new signing secret: `whsec_` and 32 random bytes in standard base64, as Svix and the
/// Standard Webhooks libraries expect.
pub fn new_secret() -> SecretString {
    SecretString::from(format!("{SECRET_PREFIX}{}", STANDARD.encode(random_bytes::<32>())))
}

/// The `webhook-signature` entry of one secret: `v1,` and the base64 HMAC-SHA256 of
/// `id.timestamp.body` under the secret's bytes. `None` for a secret not of our making.
pub fn signature(secret: &SecretString, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = STANDARD.decode(secret.expose_secret().strip_prefix(SECRET_PREFIX)?).ok()?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// How long to wait after `failures` failures in a row: exponential from [`FIRST_RETRY_DELAY`],
/// capped at [`MAX_RETRY_DELAY`], with `jitter` (0..1) spreading it over its upper half so
/// endpoints that failed together do not all come back at once.
pub fn retry_delay(failures: u32, jitter: f64) -> time::Duration {
    let doublings = failures.saturating_sub(1).min(20);
    let full = FIRST_RETRY_DELAY.saturating_mul(1 << doublings).min(MAX_RETRY_DELAY);
    let jitter = if jitter.is_finite() { jitter.clamp(0.0, 1.0) } else { 0.0 };
    full / 2 + (full / 2) * jitter
}

/// Whether a failure at `now` of an endpoint failing since `since` ends its retries.
pub fn retries_exhausted(since: OffsetDateTime, now: OffsetDateTime) -> bool {
    now - since >= RETRY_WINDOW
}

/// Addresses a delivery never reaches unless the operator allows private ones: the server's own
/// loopback, link-local (cloud metadata services live there), private, shared (carrier-grade
/// NAT), unspecified, broadcast, multicast and documentation ranges.
pub fn private_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => private_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => private_v4(v4),
            None => private_v6(v6),
        },
    }
}

fn private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || a >= 240
}

fn private_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        || ip.to_ipv4().is_some_and(|v4| ip.segments()[..6] == [0; 6] && private_v4(v4))
        || first == 0x2001 && ip.segments()[1] == 0x0db8
}

pub fn parse_description(text: &str) -> Result<String, ValidationError> {
    if trim_pasted(text).is_empty() {
        return Ok(String::new());
    }
    label("description", text, MAX_DESCRIPTION_LEN)
}

/// Event types as the system log names them (`service:object/action`), or `*` for every one.
pub fn parse_event_types(types: &[String]) -> Result<Vec<String>, ValidationError> {
    if types.len() > MAX_EVENT_TYPES {
        return Err(ValidationError::out_of_range(
            "eventTypes",
            format!("at most {MAX_EVENT_TYPES} event types; leave it empty for every one"),
        ));
    }
    let mut parsed = Vec::with_capacity(types.len());
    for t in types {
        let t = trim_pasted(t);
        let name = t.strip_suffix('*').unwrap_or(t);
        let valid = t.len() <= MAX_EVENT_TYPE_LEN
            && (t == "*" || !name.is_empty())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '.' | '-' | '_'));
        if !valid {
            return Err(ValidationError::invalid(
                "eventTypes",
                "an event type is a system-log event type such as platform:secureclient/create, a prefix of one \
                 followed by * (platform:secureclient/*), or *",
            ));
        }
        if !parsed.iter().any(|p| p == t) {
            parsed.push(t.to_owned());
        }
    }
    Ok(parsed)
}

/// The system-log event types of a subscription made in Citrix's shape: `eventType`
/// `ClientAdministrator` (secure-client events: secure clients and service principals) or
/// `Administrator`, and `changeType` `Create`, `Update`, `Delete` or `All`.
pub fn citrix_event_types(event_type: &str, change_type: &str) -> Result<Vec<String>, ValidationError> {
    let objects: &[&str] = match event_type {
        "ClientAdministrator" => &["platform:secureclient/", "platform:serviceprincipal/"],
        "Administrator" => &["delegatedadministration:administrator/"],
        _ => return Err(ValidationError::invalid_enum("eventType", &["ClientAdministrator", "Administrator"])),
    };
    let action = match change_type {
        "Create" => "create",
        "Update" => "update",
        "Delete" => "delete",
        "All" | "" => "*",
        _ => return Err(ValidationError::invalid_enum("changeType", &["Create", "Update", "Delete", "All"])),
    };
    Ok(objects.iter().map(|o| format!("{o}{action}")).collect())
}

/// Citrix's `authHeaders`: header names and values added to every callback.
pub fn parse_auth_headers(headers: &[(String, String)]) -> Result<Vec<(String, String)>, ValidationError> {
    let total: usize = headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    if headers.len() > MAX_AUTH_HEADERS || total > MAX_AUTH_HEADERS_LEN {
        return Err(ValidationError::out_of_range(
            "authHeaders",
            format!("at most {MAX_AUTH_HEADERS} headers of {MAX_AUTH_HEADERS_LEN} bytes in all"),
        ));
    }
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    for (name, value) in headers {
        let reserved = name.to_ascii_lowercase();
        if name.is_empty()
            || !name.chars().all(token)
            || value.chars().any(|c| c.is_control())
            || reserved.starts_with("webhook-")
            || matches!(
                reserved.as_str(),
                "host" | "content-length" | "content-type" | "transfer-encoding" | "connection"
            )
        {
            return Err(ValidationError::invalid("authHeaders", format!("header {name} cannot be sent")));
        }
    }
    Ok(headers.to_vec())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a secret of webhook endpoint {0} does not open with this server key")]
pub struct SealError(pub WebhookId);

/// Seals endpoints' signing secrets and headers with a key derived from the current server key,
/// and opens them with whichever key of the ring sealed them; the endpoint id and what the value
/// is are the associated data, so a sealed value moved to another row or column does not open.
pub struct WebhookVault(Vec<Aes256Gcm>);

impl WebhookVault {
    pub fn for_ring(ring: &crate::secret::ServerKeyring) -> Self {
        Self(ring.all().map(|key| Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key.derive(LABEL)))).collect())
    }

    pub fn seal(&self, id: WebhookId, what: &str, clear: &SecretString) -> Vec<u8> {
        let nonce = random_bytes::<NONCE_LEN>();
        let aad = format!("{id}:{what}");
        let payload = Payload { msg: clear.expose_secret().as_bytes(), aad: aad.as_bytes() };
        // AES-GCM fails only on messages of gigabytes; a ring always holds its current key.
        let sealed = self.0.first().and_then(|aead| aead.encrypt(Nonce::from_slice(&nonce), payload).ok());
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed.unwrap_or_default());
        bytes
    }

    pub fn open(&self, id: WebhookId, what: &str, sealed: &[u8]) -> Result<SecretString, SealError> {
        let (nonce, sealed) = sealed.split_at_checked(NONCE_LEN).ok_or(SealError(id))?;
        let aad = format!("{id}:{what}");
        let clear = self
            .0
            .iter()
            .find_map(|aead| aead.decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: aad.as_bytes() }).ok())
            .ok_or(SealError(id))?;
        let clear = zeroize::Zeroizing::new(clear);
        Ok(SecretString::from(std::str::from_utf8(&clear).map_err(|_| SealError(id))?.to_owned()))
    }
}

impl fmt::Debug for WebhookVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookVault(<redacted>)")
    }
}

/// What the system log says of the endpoint, never its secret or headers.
fn about(endpoint: &Endpoint, at: OffsetDateTime, event_type: &'static str, actor: &Actor) -> LogEntry {
    LogEntry {
        customer_id: endpoint.customer_id.clone(),
        at,
        event_type,
        actor: actor.clone(),
        target_type: "WebhookEndpoint",
        target_id: endpoint.id.to_string(),
        target_name: endpoint.url.clone(),
        message: String::new(),
        before: None,
        after: None,
    }
}

pub const CREATED: &str = "platform:webhook/create";

pub fn created(endpoint: &Endpoint, actor: &Actor) -> LogEntry {
    let mut e = about(endpoint, endpoint.created_at, CREATED, actor);
    e.message = format!("Webhook endpoint {} was subscribed.", endpoint.url);
    e.after = Some(json!({
        "url": endpoint.url,
        "description": endpoint.description,
        "eventTypes": endpoint.event_types,
    }));
    e
}

pub fn deleted(endpoint: &Endpoint, at: OffsetDateTime, actor: &Actor) -> LogEntry {
    let mut e = about(endpoint, at, "platform:webhook/delete", actor);
    e.message = format!("Webhook endpoint {} was deleted.", endpoint.url);
    e
}

pub fn secret_rotated(endpoint: &Endpoint, at: OffsetDateTime, actor: &Actor) -> LogEntry {
    let mut e = about(endpoint, at, "platform:webhook/rotatesecret", actor);
    e.message = format!(
        "The signing secret of webhook endpoint {} was rotated; the previous one signs too for {} hours.",
        endpoint.url,
        ROTATION_OVERLAP.whole_hours()
    );
    e
}

pub fn replayed(endpoint: &Endpoint, from_seq: i64, at: OffsetDateTime, actor: &Actor) -> LogEntry {
    let mut e = about(endpoint, at, "platform:webhook/replay", actor);
    e.message = format!("Webhook endpoint {} is sent again every record from record {from_seq} on.", endpoint.url);
    e
}

pub fn enabled(endpoint: &Endpoint, at: OffsetDateTime, actor: &Actor) -> LogEntry {
    let mut e = about(endpoint, at, "platform:webhook/enable", actor);
    e.message = format!(
        "Webhook endpoint {} was enabled again; it is sent every record after record {}.",
        endpoint.url, endpoint.delivered_seq
    );
    e
}

pub fn disabled(endpoint: &Endpoint, at: OffsetDateTime) -> LogEntry {
    let mut e = about(endpoint, at, "platform:webhook/disable", &Actor::System);
    e.message = format!(
        "Webhook endpoint {} failed every delivery for {} hours and was disabled; enable it or replay to send again.",
        endpoint.url,
        RETRY_WINDOW.whole_hours()
    );
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::ServerKey;

    #[test]
    fn the_signature_is_the_standard_webhooks_one() {
        // The example of the Standard Webhooks specification's reference implementations.
        let secret = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned());
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        assert!(signature(&SecretString::from("nope".to_owned()), "id", 1, body).is_none());
    }

    #[test]
    fn retries_back_off_exponentially_with_jitter_and_a_cap() {
        assert_eq!(retry_delay(1, 1.0), FIRST_RETRY_DELAY);
        assert_eq!(retry_delay(1, 0.0), FIRST_RETRY_DELAY / 2);
        assert_eq!(retry_delay(3, 1.0), FIRST_RETRY_DELAY * 4);
        assert_eq!(retry_delay(40, 1.0), MAX_RETRY_DELAY);
        assert!(retry_delay(40, 0.5) < MAX_RETRY_DELAY);
    }

    #[test]
    fn event_types_match_exactly_or_by_prefix() {
        let types = parse_event_types(&["platform:secureclient/*".to_owned(), "platform:token/failure".to_owned()]);
        let endpoint = |event_types| Endpoint {
            id: WebhookId::generate(),
            customer_id: CustomerId::generate(),
            url: String::new(),
            description: String::new(),
            event_types,
            style: Style::Standard,
            sealed_secret: Vec::new(),
            sealed_previous_secret: None,
            previous_until: None,
            sealed_auth_headers: None,
            created_by: String::new(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            state: EndpointState::Enabled,
            failing_since: None,
            next_attempt_at: OffsetDateTime::UNIX_EPOCH,
            failures: 0,
            delivered_seq: 0,
        };
        let some = endpoint(types.unwrap());
        assert!(some.wants("platform:secureclient/delete") && some.wants("platform:token/failure"));
        assert!(!some.wants("platform:serviceprincipal/create") && !some.wants("platform:token/failures"));
        assert!(endpoint(Vec::new()).wants("anything"));
        assert!(parse_event_types(&["*x".to_owned()]).is_err() && parse_event_types(&["a b".to_owned()]).is_err());
        assert_eq!(citrix_event_types("ClientAdministrator", "Create").unwrap().len(), 2);
        assert!(citrix_event_types("Billing", "All").is_err());
    }

    #[test]
    fn private_ranges_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(private_address(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "8.8.8.8", "2606:4700::1111", "172.32.0.1"] {
            assert!(!private_address(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn sealed_secrets_open_only_for_their_endpoint_and_use() {
        let vault = WebhookVault::for_ring(&ServerKey::generate().into());
        let id = WebhookId::generate();
        let sealed = vault.seal(id, "secret", &SecretString::from("whsec_abc".to_owned()));
        assert_eq!(vault.open(id, "secret", &sealed).unwrap().expose_secret(), "whsec_abc");
        assert!(vault.open(id, "headers", &sealed).is_err());
        assert!(vault.open(WebhookId::generate(), "secret", &sealed).is_err());
    }
}
