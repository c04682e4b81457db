//! Refused token requests and failed sign-ins, aggregated before they reach the system log (R10):
//! the first refusal of a window is written at once, so an attack shows in the log promptly; the
//! ones that follow are counted, with a bounded list of source addresses, and written as one record
//! when the window ends (or when the server shuts down). An attack therefore costs at most one
//! write per client (or per administrator and customer) per window, not one per try.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use trustgate_core::admin::Admin;
use trustgate_core::client::ApiClient;
use trustgate_core::event::{self, LogEntry, Refusals};
use trustgate_core::ids::{AdminId, ClientId, CustomerId};

/// Source addresses kept per window.
const MAX_SOURCES: usize = 8;

/// Whose refusals are counted together.
#[derive(Debug, Clone)]
pub enum Subject {
    Client(ApiClient),
    SignIn(CustomerId, Admin),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Client(ClientId),
    SignIn(CustomerId, AdminId),
}

impl Subject {
    fn key(&self) -> Key {
        match self {
            Subject::Client(client) => Key::Client(client.id),
            Subject::SignIn(customer, admin) => Key::SignIn(customer.clone(), admin.id),
        }
    }

    fn summary(&self, refusals: &Refusals, at: OffsetDateTime) -> LogEntry {
        match self {
            Subject::Client(client) => event::token_refusals(client, refusals, at),
            Subject::SignIn(customer, admin) => event::sign_in_failures(customer, admin, refusals, at),
        }
    }
}

struct Window {
    subject: Subject,
    started: Instant,
    count: u64,
    sources: Vec<IpAddr>,
    more_sources: bool,
}

pub struct RefusalLog {
    window: Duration,
    capacity: usize,
    open: Mutex<HashMap<Key, Window>>,
}

impl RefusalLog {
    pub fn new(window: Duration, capacity: usize) -> Self {
        Self { window, capacity, open: Mutex::new(HashMap::new()) }
    }

    /// Counts a refusal; `true` when it opens a window, and so is to be written now.
    pub fn note(&self, subject: &Subject, source: Option<IpAddr>) -> bool {
        let Ok(mut open) = self.open.lock() else { return false };
        let key = subject.key();
        if let Some(window) = open.get_mut(&key) {
            window.count += 1;
            if let Some(source) = source {
                if !window.sources.contains(&source) {
                    if window.sources.len() < MAX_SOURCES {
                        window.sources.push(source);
                    } else {
                        window.more_sources = true;
                    }
                }
            }
            return false;
        }
        if open.len() >= self.capacity {
            // More subjects under attack at once than the cap: these go uncounted rather than
            // unbounded in memory or in writes.
            tracing::warn!(capacity = self.capacity, "too many refused subjects at once; not logging this refusal");
            return false;
        }
        open.insert(
            key,
            Window {
                subject: subject.clone(),
                started: Instant::now(),
                count: 0,
                sources: Vec::new(),
                more_sources: false,
            },
        );
        true
    }

    /// The counts of windows that have ended (all of them with `everything`), as log entries.
    /// A window that counted refusals opens the next one at once, so a sustained attack is
    /// written once per window; an empty one closes, and the next refusal is written at once.
    pub fn due(&self, everything: bool) -> Vec<LogEntry> {
        let Ok(mut open) = self.open.lock() else { return Vec::new() };
        let now = Instant::now();
        let at = OffsetDateTime::now_utc();
        let window_secs = self.window.as_secs();
        let mut entries = Vec::new();
        open.retain(|_, window| {
            if !everything && now.duration_since(window.started) < self.window {
                return true;
            }
            if window.count == 0 {
                return false;
            }
            let refusals = Refusals {
                count: window.count,
                window_secs,
                sources: std::mem::take(&mut window.sources),
                more_sources: std::mem::take(&mut window.more_sources),
            };
            entries.push(window.subject.summary(&refusals, at));
            window.count = 0;
            window.started = now;
            !everything
        });
        entries
    }
}
