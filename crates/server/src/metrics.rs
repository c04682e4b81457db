//! Prometheus metrics, served by `trustgate serve --metrics-listen` on a listener of their own:
//! they tell how much traffic each route gets, so they stay off the public API port.
//!
//! Written in the Prometheus text format by the `prometheus` crate: `prometheus-client` writes
//! only OpenMetrics text, whose counters `promtool check metrics` (and Prometheus's text parser)
//! read as untyped series without help. Every label takes a bounded set of values (route
//! templates, never raw paths).

use std::time::Duration;

use axum::http::{Method, StatusCode};
use prometheus::{
    exponential_buckets, Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use trustgate_store::PoolUse;

/// The `route` label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// Why a token request was refused, as the `reason` label says it.
#[derive(Debug, Clone, Copy)]
pub enum RefusalReason {
    BadCredentials,
    Suspended,
    Throttled,
    Unavailable,
}

impl RefusalReason {
    pub fn label(self) -> &'static str {
        match self {
            RefusalReason::BadCredentials => "bad_credentials",
            RefusalReason::Suspended => "suspended",
            RefusalReason::Throttled => "throttled",
            RefusalReason::Unavailable => "unavailable",
        }
    }
}

/// What a revocation request (RFC 7009) did, as the `outcome` label says it.
#[derive(Debug, Clone, Copy)]
pub enum RevocationOutcome {
    /// The caller's own token: revoked.
    Revoked,
    /// A valid token of another client: answered 200 as §2.2 requires, and nothing done.
    NotHeld,
    /// Not a valid token of this deployment (malformed, forged, expired): 200, nothing done.
    Invalid,
}

/// Which lockout refused a request.
#[derive(Debug, Clone, Copy)]
pub enum ThrottleKind {
    Client,
    SignIn,
}

/// Hits, misses and evictions of one cache.
#[derive(Clone)]
pub struct CacheCounters {
    pub hits: IntCounter,
    pub misses: IntCounter,
    pub evictions: IntCounter,
}

impl CacheCounters {
    pub fn hit_or_miss(&self, hit: bool) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.inc();
    }
}

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    grants: IntCounter,
    refusals: IntCounterVec,
    throttled: IntCounterVec,
    revocations: IntCounterVec,
    pub authorization: CacheCounters,
    pub verified_tokens: CacheCounters,
    pub notification_lists: CacheCounters,
    cache_entries: IntGaugeVec,
    revoked_tokens: IntGauge,
    feed_lag: Histogram,
    feed_lost: IntCounter,
    pool_connections: IntGaugeVec,
    pool_max: IntGauge,
    /// Brought up to the logger's count at each scrape, one scrape at a time.
    log_dropped: std::sync::Mutex<IntCounter>,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let route = ["method", "route", "status"];
        let requests =
            IntCounterVec::new(Opts::new("trustgate_http_requests_total", "HTTP requests answered."), &route)?;
        // 0.5 ms to 8 s: a cached grant takes well under a millisecond, the write timeout is 10 s.
        let latency = HistogramVec::new(
            HistogramOpts::new("trustgate_http_request_duration_seconds", "Time to produce a response.")
                .buckets(exponential_buckets(0.0005, 2.0, 15)?),
            &route,
        )?;
        let grants = IntCounter::new("trustgate_token_grants_total", "Access tokens issued.")?;
        let refusals =
            IntCounterVec::new(Opts::new("trustgate_token_refusals_total", "Token requests refused."), &["reason"])?;
        let throttled = IntCounterVec::new(
            Opts::new("trustgate_throttled_requests_total", "Requests refused by a lockout after repeated failures."),
            &["throttle"],
        )?;
        let revocations = IntCounterVec::new(
            Opts::new(
                "trustgate_token_revocations_total",
                "Revocation requests by authenticated clients, by outcome: revoked, not_held (a valid token of \
                 another client: answered 200 and ignored, as RFC 7009 requires) or invalid.",
            ),
            &["outcome"],
        )?;
        let cache = ["cache"];
        let hits = IntCounterVec::new(Opts::new("trustgate_cache_hits_total", "Cache look-ups answered."), &cache)?;
        let misses =
            IntCounterVec::new(Opts::new("trustgate_cache_misses_total", "Cache look-ups not answered."), &cache)?;
        let evictions =
            IntCounterVec::new(Opts::new("trustgate_cache_evictions_total", "Cache entries dropped."), &cache)?;
        let counters = |name: &str| CacheCounters {
            hits: hits.with_label_values(&[name]),
            misses: misses.with_label_values(&[name]),
            evictions: evictions.with_label_values(&[name]),
        };
        let (authorization, verified_tokens) = (counters("authorization"), counters("verified_tokens"));
        let notification_lists = counters("notification_lists");
        let cache_entries =
            IntGaugeVec::new(Opts::new("trustgate_cache_entries", "Entries a cache holds now."), &cache)?;
        let revoked_tokens =
            IntGauge::new("trustgate_revoked_tokens", "Revoked tokens held in memory until they expire.")?;
        let feed_lag = Histogram::with_opts(
            HistogramOpts::new(
                "trustgate_change_feed_lag_seconds",
                "Time from a write to its delivery by the change feed (the newest change of each delivery).",
            )
            .buckets(exponential_buckets(0.001, 2.0, 14)?),
        )?;
        let feed_lost = IntCounter::new(
            "trustgate_change_feed_reconnects_total",
            "Times the change feed was lost and started over, flushing the caches.",
        )?;
        let pool_connections = IntGaugeVec::new(
            Opts::new("trustgate_store_connections", "Store connections open, by state."),
            &["state"],
        )?;
        let pool_max = IntGauge::new("trustgate_store_connections_max", "Most store connections the pool opens.")?;
        let log_dropped = IntCounter::new(
            "trustgate_log_lines_dropped_total",
            "Log lines dropped because the log output was not being read fast enough.",
        )?;
        registry.register(Box::new(log_dropped.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(grants.clone()))?;
        registry.register(Box::new(refusals.clone()))?;
        registry.register(Box::new(throttled.clone()))?;
        registry.register(Box::new(revocations.clone()))?;
        registry.register(Box::new(hits))?;
        registry.register(Box::new(misses))?;
        registry.register(Box::new(evictions))?;
        registry.register(Box::new(cache_entries.clone()))?;
        registry.register(Box::new(revoked_tokens.clone()))?;
        registry.register(Box::new(feed_lag.clone()))?;
        registry.register(Box::new(feed_lost.clone()))?;
        registry.register(Box::new(pool_connections.clone()))?;
        registry.register(Box::new(pool_max.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            grants,
            refusals,
            throttled,
            revocations,
            authorization,
            verified_tokens,
            notification_lists,
            cache_entries,
            revoked_tokens,
            feed_lag,
            feed_lost,
            pool_connections,
            pool_max,
            log_dropped: std::sync::Mutex::new(log_dropped),
        })
    }

    pub fn request(&self, method: &Method, route: &str, status: StatusCode, took: Duration) {
        let labels = [method_label(method), route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(took.as_secs_f64());
    }

    pub fn granted(&self) {
        self.grants.inc();
    }

    pub fn refused(&self, reason: RefusalReason) {
        self.refusals.with_label_values(&[reason.label()]).inc();
    }

    pub fn throttled(&self, kind: ThrottleKind) {
        let label = match kind {
            ThrottleKind::Client => "client",
            ThrottleKind::SignIn => "sign_in",
        };
        self.throttled.with_label_values(&[label]).inc();
    }

    pub fn revocation(&self, outcome: RevocationOutcome) {
        let label = match outcome {
            RevocationOutcome::Revoked => "revoked",
            RevocationOutcome::NotHeld => "not_held",
            RevocationOutcome::Invalid => "invalid",
        };
        self.revocations.with_label_values(&[label]).inc();
    }

    pub fn feed_delivered(&self, lag: Duration) {
        self.feed_lag.observe(lag.as_secs_f64());
    }

    pub fn feed_lost(&self) {
        self.feed_lost.inc();
    }

    /// The text exposition, with the gauges set from `sample`.
    pub fn render(&self, sample: &Sample) -> Result<String, prometheus::Error> {
        let pool = &sample.pool;
        let in_use = pool.open.saturating_sub(pool.idle);
        self.pool_connections.with_label_values(&["idle"]).set(i64::from(pool.idle));
        self.pool_connections.with_label_values(&["in_use"]).set(i64::from(in_use));
        self.pool_max.set(i64::from(pool.max));
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.cache_entries.with_label_values(&["authorization"]).set(gauge(sample.authorization));
        self.cache_entries.with_label_values(&["verified_tokens"]).set(gauge(sample.verified_tokens));
        self.cache_entries.with_label_values(&["notification_lists"]).set(gauge(sample.notification_lists));
        self.revoked_tokens.set(gauge(sample.revoked_tokens));
        // The logger is installed before any state exists: its count is process-wide.
        if let Ok(counter) = self.log_dropped.lock() {
            counter.inc_by(crate::logging::dropped_lines().saturating_sub(counter.get()));
        }
        let mut body = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut body)?;
        String::from_utf8(body).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

/// The gauges' values, read from the node when the metrics are scraped.
pub struct Sample {
    pub pool: PoolUse,
    pub authorization: usize,
    pub verified_tokens: usize,
    pub notification_lists: usize,
    pub revoked_tokens: usize,
}

/// Standard methods by name; anything else is one value, so a client cannot grow the label set.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
