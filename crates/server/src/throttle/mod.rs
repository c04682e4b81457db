//! Brute-force protection that slows the guesser, never the holder (issue #21, item 5).
//!
//! Failures are counted per (key, source address) — the key a client id, a resource server id or
//! an e-mail — by a `governor` rate limiter; once a pair exceeds its allowance that *source* is
//! locked out for that key, for a time that doubles with each lockout up to a cap. While locked,
//! every attempt from that source is answered 429 with `Retry-After` before any secret is checked.
//! A source without recent failures is never locked, so whoever holds the secret is served from
//! wherever they are, however many wrong secrets strangers send from elsewhere (client ids and
//! e-mails are not secrets).
//!
//! A ceiling per key over all sources ([`CEILING_FACTOR`] allowances) slows a guesser that spreads
//! over many addresses: past it, a source is locked on its *first* failure. It never refuses a
//! right secret from a source without failures.
//!
//! Keys are throttled whether or not they exist (an unknown client id is counted as a real one),
//! so a 429 does not tell which ids exist.
//!
//! The state is per node: behind a load balancer of N nodes an attacker gets up to N allowances.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};
use trustgate_core::admin::Email;
use trustgate_core::ids::{ClientId, ResourceServerId};

use crate::clock::Clock;

pub mod sign_in_starts;

/// How many failures a key may have before it is locked out, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failures allowed in a burst; the allowance refills over `refill`.
    pub failures: NonZeroU32,
    pub refill: Duration,
    /// The first lockout; each further one doubles it, up to `max_lockout`.
    pub lockout: Duration,
    pub max_lockout: Duration,
}

impl Policy {
    fn quota(&self) -> Quota {
        Quota::with_period(self.refill / self.failures.get())
            .unwrap_or_else(|| Quota::per_second(self.failures))
            .allow_burst(self.failures)
    }

    /// The allowance of one key over all its sources: [`CEILING_FACTOR`] times one source's.
    fn ceiling(&self) -> Quota {
        let failures = self.failures.saturating_mul(CEILING_FACTOR);
        Quota::with_period(self.refill / failures.get())
            .unwrap_or_else(|| Quota::per_second(failures))
            .allow_burst(failures)
    }

    fn lockout(&self, level: u32) -> Duration {
        let doubled = self.lockout.saturating_mul(1u32.checked_shl(level.saturating_sub(1)).unwrap_or(u32::MAX));
        doubled.min(self.max_lockout)
    }
}

/// How many sources' allowances one key has over all sources before each further failing source
/// is locked on its first failure.
pub const CEILING_FACTOR: NonZeroU32 = match NonZeroU32::new(10) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

struct Lock {
    until: Instant,
    level: u32,
}

pub struct Throttle<K: Hash + Eq + Clone> {
    policy: Policy,
    capacity: usize,
    failures: RateLimiter<K, HashMapStateStore<K>, Clock>,
    locks: Mutex<HashMap<K, Lock>>,
    clock: Clock,
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    pub fn new(policy: Policy, capacity: usize, clock: Clock) -> Self {
        let failures = RateLimiter::hashmap_with_clock(policy.quota(), clock.clone());
        Self { policy, capacity, failures, locks: Mutex::new(HashMap::new()), clock }
    }

    /// `Err(retry after)` while `key` is locked out.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        let Ok(locks) = self.locks.lock() else { return Ok(()) };
        match locks.get(key) {
            Some(lock) => match lock.until.checked_duration_since(self.clock.instant()) {
                Some(left) if !left.is_zero() => Err(left),
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// Counts a failure of `key`; one past the allowance locks it out, and so does any failure
    /// when `at_once`.
    fn failed(&self, key: &K, at_once: bool) {
        // Memory stays bounded: keys whose allowance has refilled are forgotten first. A full
        // table means an attack that spans more (key, source) pairs than the cap within one
        // refill; counting stops (open) rather than refusing everybody (closed).
        if self.failures.len() >= self.capacity {
            self.failures.retain_recent();
            if self.failures.len() >= self.capacity {
                tracing::warn!(capacity = self.capacity, "the failure table is full; not counting this failure");
                return;
            }
        }
        if self.failures.check_key(key).is_ok() && !at_once {
            return;
        }
        let Ok(mut locks) = self.locks.lock() else { return };
        let now = self.clock.instant();
        if locks.len() >= self.capacity {
            let forget = self.policy.max_lockout;
            locks.retain(|_, lock| lock.until + forget > now);
            if locks.len() >= self.capacity {
                return;
            }
        }
        let lock = locks.entry(key.clone()).or_insert(Lock { until: now, level: 0 });
        if lock.until <= now {
            lock.level = lock.level.saturating_add(1);
            lock.until = now + self.policy.lockout(lock.level);
        }
    }

    /// Forgets keys whose allowance has refilled, and lockout levels after a quiet `max_lockout`.
    pub fn sweep(&self) {
        self.failures.retain_recent();
        self.failures.shrink_to_fit();
        let forget = self.policy.max_lockout;
        if let Ok(mut locks) = self.locks.lock() {
            let now = self.clock.instant();
            locks.retain(|_, lock| lock.until + forget > now);
        }
    }
}

/// Whole seconds to wait, rounded up, for `Retry-After`.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// Failures of keys `K` counted per (key, source address), under a ceiling per key over all
/// sources (see the module documentation).
pub struct SourcedThrottle<K: Hash + Eq + Clone> {
    per_source: Throttle<(K, Option<IpAddr>)>,
    ceiling: RateLimiter<K, HashMapStateStore<K>, Clock>,
}

impl<K: Hash + Eq + Clone> SourcedThrottle<K> {
    pub fn new(policy: Policy, capacity: usize, clock: Clock) -> Self {
        let ceiling = RateLimiter::hashmap_with_clock(policy.ceiling(), clock.clone());
        Self { per_source: Throttle::new(policy, capacity, clock), ceiling }
    }

    /// `Err(retry after)` while `source` is locked out for `key`; another source never is.
    pub fn check(&self, key: &K, source: Option<IpAddr>) -> Result<(), Duration> {
        self.per_source.check(&(key.clone(), source))
    }

    /// Counts a failure of `key` from `source`.
    pub fn failed(&self, key: &K, source: Option<IpAddr>) {
        let capacity = self.per_source.capacity;
        if self.ceiling.len() >= capacity {
            self.ceiling.retain_recent();
        }
        let over_ceiling = self.ceiling.len() < capacity && self.ceiling.check_key(key).is_err();
        self.per_source.failed(&(key.clone(), source), over_ceiling);
    }

    pub fn sweep(&self) {
        self.per_source.sweep();
        self.ceiling.retain_recent();
        self.ceiling.shrink_to_fit();
    }
}

/// The throttles of one node. Each counts failures per key and source address, whether or not the
/// key exists, so a 429 reveals nothing.
pub struct Throttles {
    /// Failed client secrets, per client id (any well-formed one) and source address.
    pub clients: SourcedThrottle<ClientId>,
    /// Failed sign-ins, per e-mail (known or not) and source address.
    pub sign_ins: SourcedThrottle<Email>,
    /// Failed resource-server secrets at the introspection endpoint, per resource server id and
    /// source address, under the clients' policy.
    pub resource_servers: SourcedThrottle<ResourceServerId>,
}

/// Where a request came from: the peer address of its connection or, when that peer is a trusted
/// proxy, the last address in `X-Forwarded-For` that is not itself a trusted proxy (the ones to
/// its left could have been written by the client).
pub struct Source(pub Option<IpAddr>);

impl Source {
    pub fn of(extensions: &Extensions, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> Self {
        let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
        let Some(peer) = peer else { return Source(None) };
        if !trusted_proxies.contains(&peer) {
            return Source(Some(peer));
        }
        let forwarded = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|hop| hop.trim().parse::<IpAddr>().ok())
            .collect::<Vec<_>>();
        for hop in forwarded.into_iter().rev() {
            match hop {
                Some(hop) if trusted_proxies.contains(&hop) => continue,
                Some(hop) => return Source(Some(hop)),
                // Not an address: nothing to its left can be trusted either.
                None => break,
            }
        }
        Source(Some(peer))
    }
}

const X_FORWARDED_FOR: &str = "x-forwarded-for";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_lockout_doubles_the_last_up_to_the_cap() {
        let policy = Policy {
            failures: NonZeroU32::MIN,
            refill: Duration::from_secs(60),
            lockout: Duration::from_secs(30),
            max_lockout: Duration::from_secs(900),
        };
        let secs: Vec<u64> = (1..=7).map(|level| policy.lockout(level).as_secs()).collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 900, 900]);
        assert_eq!(policy.lockout(u32::MAX), Duration::from_secs(900));
    }

    #[test]
    fn a_lockout_ends_on_time_and_the_next_one_lasts_twice_as_long() {
        let policy = Policy {
            failures: NonZeroU32::MIN,
            refill: Duration::from_secs(60),
            lockout: Duration::from_secs(30),
            max_lockout: Duration::from_secs(900),
        };
        let clock = Clock::default();
        let throttle = Throttle::new(policy, 16, clock.clone());
        throttle.failed(&"key", false);
        assert_eq!(throttle.check(&"key"), Ok(()), "within the allowance");
        throttle.failed(&"key", false);
        let left = throttle.check(&"key").expect_err("locked out past the allowance");
        assert!(left > Duration::from_secs(29) && left <= Duration::from_secs(30), "{left:?}");
        clock.advance(Duration::from_secs(29));
        assert!(throttle.check(&"key").is_err(), "still locked a second before the end");
        clock.advance(Duration::from_secs(1));
        assert_eq!(throttle.check(&"key"), Ok(()), "the lockout is over");
        throttle.failed(&"key", false);
        let left = throttle.check(&"key").expect_err("the allowance has not refilled yet");
        assert!(left > Duration::from_secs(59) && left <= Duration::from_secs(60), "{left:?}");
        clock.advance(Duration::from_secs(60 + 900));
        throttle.failed(&"key", false);
        assert_eq!(throttle.check(&"key"), Ok(()), "a refilled allowance takes a failure again");
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(30)), 30);
        assert_eq!(retry_after_secs(Duration::from_millis(29_001)), 30);
    }
}
