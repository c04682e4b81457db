//! Webhook delivery, on every node: the system log is the outbox (see `trustgate_store`'s
//! `sql/webhooks.rs` and docs/webhooks.md).
//!
//! Every poll, the node claims the due endpoints it has room for (one transaction, one lease; on
//! PostgreSQL nodes skip the endpoints another node is claiming), and for each, in a task of its
//! own, sends the records after its cursor one at a time, in order. What it sent is written in
//! one transaction per run of records — every attempt, and the cursor moved past the last one —
//! at the end of each read from the log, and at least every `WRITE_EVERY`, which keeps the lease.
//! A failure stops the endpoint there and schedules its retry with exponential backoff and jitter
//! (on the configured clock, so tests move time rather than wait); an endpoint failing for
//! `webhook::RETRY_WINDOW` is disabled with a system-log record. A node that dies before writing
//! leaves the cursor where it was: the run is sent again, with the same `webhook-id`s.
//! Nothing here runs on a request's path: a slow or dead receiver holds one task and one lease.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use secrecy::SecretString;
use serde_json::{json, Value};
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use trustgate_core::webhook::{self, Endpoint, Style};
use trustgate_store::{LogPosition, LogRecord, PositionedRecord, WebhookAttempt, WebhookClaim, WebhookProgress};

use crate::http::webhook_client::{self, WebhookClient};
use crate::platform::shapes::rfc3339;
use crate::state::Shared;

/// How long a claim holds an endpoint; every write extends it. Longer than a task goes without
/// writing, so another node takes the endpoint over only after the one holding it stopped
/// (crashed, or lost the store), within this long.
const LEASE: Duration = Duration::from_secs(20);
/// The longest a task sends before it writes what it sent: with one delivery's timeout on top,
/// still within the lease.
const WRITE_EVERY: Duration = Duration::from_secs(5);
const _: () = assert!(WRITE_EVERY.as_secs() + webhook_client::TIMEOUT.as_secs() < LEASE.as_secs());
/// How long one task keeps sending to one endpoint before it lets the endpoint be claimed again,
/// so endpoints with a long backlog take turns.
const RUN: Duration = Duration::from_secs(30);
/// Endpoints delivered to at once by one node.
const CONCURRENT: usize = 16;
/// Records read from the log at a time, and the most attempts written at once.
const BATCH: u32 = 100;
/// The largest body sent; a system-log record is far smaller.
const MAX_BODY: usize = 256 * 1024;

/// Polls for due endpoints every `webhook_poll_interval` until the state is dropped.
pub(crate) async fn deliver_periodically(shared: Weak<Shared>) {
    let allow_private = match shared.upgrade() {
        Some(shared) => shared.config.webhooks_allow_private,
        None => return,
    };
    let client = match WebhookClient::new(allow_private) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "webhook deliveries cannot start: TLS set-up failed");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(CONCURRENT));
    loop {
        let interval = {
            let Some(state) = shared.upgrade() else { return };
            let free = u32::try_from(slots.available_permits()).unwrap_or(0);
            match state.store.claim_webhooks(state.config.clock.now_utc(), lease_length(), free).await {
                Ok(claims) => {
                    for claim in claims {
                        let Ok(slot) = slots.clone().try_acquire_owned() else { break };
                        let (shared, client) = (shared.clone(), client.clone());
                        tokio::spawn(async move {
                            deliver(&shared, &client, claim).await;
                            drop(slot);
                        });
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "claiming webhook endpoints failed; retrying at the next poll");
                }
            }
            state.config.webhook_poll_interval
        };
        tokio::time::sleep(interval).await;
    }
}

fn lease_length() -> time::Duration {
    time::Duration::try_from(LEASE).unwrap_or(time::Duration::MINUTE)
}

/// Where an endpoint's deliveries stand while a task holds it: what was sent (or passed over, not
/// wanted) since the last write, which moves the cursor past it.
struct Run {
    endpoint: Endpoint,
    lease: String,
    sent: Vec<WebhookAttempt>,
    moved_to: Option<LogPosition>,
    written_at: Instant,
}

impl Run {
    /// Progress that keeps the endpoint's failure state, moves the cursor past what was sent,
    /// and extends the lease (or, with `keep` false, lets go).
    fn progress(&self, state: &Shared, keep: bool) -> WebhookProgress {
        let now = state.config.clock.now_utc();
        WebhookProgress {
            cursor: self.moved_to,
            failures: self.endpoint.failures,
            failing_since: self.endpoint.failing_since,
            next_attempt_at: now,
            disable: None,
            lease_until: keep.then(|| now + lease_length()),
        }
    }
}

async fn deliver(shared: &Weak<Shared>, client: &WebhookClient, claim: WebhookClaim) {
    let WebhookClaim { endpoint, mut cursor, lease } = claim;
    let mut run = Run { endpoint, lease, sent: Vec::new(), moved_to: None, written_at: Instant::now() };
    let stop_at = Instant::now() + RUN;
    'reading: while Instant::now() < stop_at {
        let Some(state) = shared.upgrade() else { return };
        let records = match state.store.log_after(Some(&run.endpoint.customer_id), cursor, BATCH).await {
            Ok(records) => records,
            Err(error) => {
                tracing::warn!(%error, "reading the system log for webhooks failed; retrying at the next poll");
                break;
            }
        };
        // A short read is the end of the log as it stands: no second read to find it empty.
        let more = records.len() == usize::try_from(BATCH).unwrap_or(usize::MAX);
        for record in records {
            if Instant::now() >= stop_at {
                break 'reading;
            }
            cursor = record.position;
            if !run.endpoint.wants(&record.record.event_type) {
                run.moved_to = Some(record.position);
                continue;
            }
            match send(&state, client, &run.endpoint, &record).await {
                Ok(attempt) => {
                    run.sent.push(attempt);
                    run.moved_to = Some(record.position);
                    // Any success clears the failures.
                    run.endpoint.failures = 0;
                    run.endpoint.failing_since = None;
                    let full = run.sent.len() >= usize::try_from(BATCH).unwrap_or(usize::MAX);
                    if (full || run.written_at.elapsed() >= WRITE_EVERY) && !write(&state, &mut run, true).await {
                        return;
                    }
                }
                Err(attempt) => {
                    fail(&state, &mut run, attempt).await;
                    return;
                }
            }
        }
        if !more {
            break;
        }
        if !write(&state, &mut run, true).await {
            return;
        }
    }
    let Some(state) = shared.upgrade() else { return };
    if run.sent.is_empty() && run.moved_to.is_none() {
        release(&state, &run).await;
    } else {
        write(&state, &mut run, false).await;
    }
}

/// Writes what was sent since the last write, the failure of `attempt` after it, and the retry's
/// schedule (or the endpoint's disabling), and lets go of the endpoint.
async fn fail(state: &Shared, run: &mut Run, attempt: WebhookAttempt) {
    let now = state.config.clock.now_utc();
    let failures = run.endpoint.failures.saturating_add(1);
    let failing_since = run.endpoint.failing_since.unwrap_or(now);
    let disable = webhook::retries_exhausted(failing_since, now).then(|| webhook::disabled(&run.endpoint, now));
    if disable.is_some() {
        tracing::warn!(endpoint = %run.endpoint.id, "a webhook endpoint failed past its retry window and is disabled");
    }
    run.sent.push(attempt);
    let progress = WebhookProgress {
        cursor: run.moved_to,
        failures,
        failing_since: Some(failing_since),
        next_attempt_at: now + webhook::retry_delay(failures, jitter()),
        disable,
        lease_until: None,
    };
    record(state, run, &progress).await;
}

/// Writes what was sent since the last write, keeping the lease (or letting go); false when the
/// lease is lost (or the store is down), and the task must stop.
async fn write(state: &Shared, run: &mut Run, keep: bool) -> bool {
    if run.sent.is_empty() && run.moved_to.is_none() && keep {
        return true;
    }
    let progress = run.progress(state, keep);
    record(state, run, &progress).await
}

async fn record(state: &Shared, run: &mut Run, progress: &WebhookProgress) -> bool {
    match state.store.record_webhook_attempts(run.endpoint.id, &run.lease, &run.sent, progress).await {
        Ok(true) => {
            run.sent.clear();
            run.moved_to = None;
            run.written_at = Instant::now();
            run.endpoint.failures = progress.failures;
            run.endpoint.failing_since = progress.failing_since;
            true
        }
        Ok(false) => {
            tracing::info!(endpoint = %run.endpoint.id, "another node took this webhook endpoint over");
            false
        }
        Err(error) => {
            // The receiver may have the records already: they are sent again, with the same
            // webhook-ids, once the lease runs out (at least once, never lost).
            tracing::warn!(%error, endpoint = %run.endpoint.id, "recording webhook attempts failed");
            false
        }
    }
}

async fn release(state: &Shared, run: &Run) {
    if let Err(error) = state.store.release_webhook(run.endpoint.id, &run.lease).await {
        tracing::warn!(%error, "releasing a webhook endpoint failed; its lease runs out by itself");
    }
}

/// A number in 0..1 from the OS's random numbers.
fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX)
}

/// The `webhook-id` of a record to an endpoint: the record's id, the same on every try and replay.
fn webhook_id(record: &LogRecord) -> String {
    format!("msg_{}", record.record_id.replace('-', ""))
}

/// The body: the Standard Webhooks envelope (`type`, `timestamp`, `data`: the record in the
/// system-log API's shape), or Citrix's callback for a Citrix-style subscription.
fn body(endpoint: &Endpoint, record: &LogRecord) -> Value {
    match &endpoint.style {
        Style::Standard => json!({
            "type": record.event_type,
            "timestamp": rfc3339(record.at),
            "seq": record.seq,
            "data": crate::platform::system_log::record(record),
        }),
        Style::Citrix { event_type, .. } => json!({
            "CustomerId": record.customer_id.as_str(),
            "Type": event_type,
            "ChangeType": change_type(&record.event_type),
            "TransactionId": record.record_id,
            "Identity": record.target_id,
            "BeforeChange": record.before.as_ref().map(Value::to_string),
            "AfterChange": record.after.as_ref().map(Value::to_string),
            "TimeStamp": rfc3339(record.at),
        }),
    }
}

/// Citrix's `ChangeType` of a record: its action (`…/create` is `Create`).
fn change_type(event_type: &str) -> String {
    let action = event_type.rsplit('/').next().unwrap_or_default();
    let mut chars = action.chars();
    chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// The `webhook-signature` header: the current secret's signature, and the previous secret's
/// while a rotation overlaps.
fn signatures(
    state: &Shared,
    endpoint: &Endpoint,
    id: &str,
    timestamp: i64,
    body: &[u8],
    now: OffsetDateTime,
) -> Option<String> {
    let keys = state.server_keys();
    let vault = &keys.webhook_vault;
    let open = |sealed: &[u8]| -> Option<SecretString> { vault.open(endpoint.id, "secret", sealed).ok() };
    let mut list = vec![webhook::signature(&open(&endpoint.sealed_secret)?, id, timestamp, body)?];
    if let (Some(previous), Some(until)) = (&endpoint.sealed_previous_secret, endpoint.previous_until) {
        if now < until {
            if let Some(signature) = open(previous).and_then(|s| webhook::signature(&s, id, timestamp, body)) {
                list.push(signature);
            }
        }
    }
    Some(list.join(" "))
}

fn auth_headers(state: &Shared, endpoint: &Endpoint) -> Vec<(HeaderName, HeaderValue)> {
    use secrecy::ExposeSecret;
    let Some(sealed) = &endpoint.sealed_auth_headers else { return Vec::new() };
    // Sealed as JSON `[[name, value], …]` by `manage::webhooks::subscribe`.
    let Ok(clear) = state.server_keys().webhook_vault.open(endpoint.id, "headers", sealed) else { return Vec::new() };
    let pairs: Vec<(String, String)> = serde_json::from_str(clear.expose_secret()).unwrap_or_default();
    pairs
        .into_iter()
        .filter_map(|(name, value)| Some((HeaderName::try_from(name).ok()?, HeaderValue::try_from(value).ok()?)))
        .collect()
}

/// One delivery: `Ok` when the receiver answered 2xx.
async fn send(
    state: &Shared,
    client: &WebhookClient,
    endpoint: &Endpoint,
    record: &PositionedRecord,
) -> Result<WebhookAttempt, WebhookAttempt> {
    let id = webhook_id(&record.record);
    let started = Instant::now();
    let mut attempt = WebhookAttempt {
        webhook_id: id.clone(),
        record_seq: record.record.seq,
        event_type: record.record.event_type.clone(),
        at: state.config.clock.now_utc(),
        status: None,
        error: None,
        duration_ms: 0,
    };
    // The signed timestamp is the wall clock's: receivers check it against theirs.
    let timestamp = OffsetDateTime::now_utc().unix_timestamp();
    let body = body(endpoint, &record.record).to_string().into_bytes();
    let outcome = if body.len() > MAX_BODY {
        Err("the record is larger than a delivery may be".to_owned())
    } else {
        match signatures(state, endpoint, &id, timestamp, &body, attempt.at) {
            None => Err("the endpoint's signing secret does not open with this server key".to_owned()),
            Some(signature) => {
                let mut headers = auth_headers(state, endpoint);
                for (name, value) in [
                    ("webhook-id", id.clone()),
                    ("webhook-timestamp", timestamp.to_string()),
                    ("webhook-signature", signature),
                ] {
                    if let Ok(value) = HeaderValue::try_from(value) {
                        headers.push((HeaderName::from_static(name), value));
                    }
                }
                client.post(&endpoint.url, &headers, Bytes::from(body)).await.map_err(|e| e.to_string())
            }
        }
    };
    attempt.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match outcome {
        Ok(status) => {
            attempt.status = Some(status);
            if (200..300).contains(&status) {
                Ok(attempt)
            } else {
                attempt.error = Some(if (300..400).contains(&status) {
                    "the receiver redirected; redirects are not followed".to_owned()
                } else {
                    format!("the receiver answered {status}")
                });
                Err(attempt)
            }
        }
        Err(error) => {
            attempt.error = Some(error);
            Err(attempt)
        }
    }
}
