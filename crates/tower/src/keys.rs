//! The deployment's public keys, fetched from its JWKS and kept; fetched again when a token names a
//! key not yet known (a rotation), at most once per refetch interval, and when they grow old.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::rejection::Rejection;

#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) decoding: DecodingKey,
    /// The key set's `alg` for the key: verification uses it, never the token header's choice.
    pub(crate) algorithm: Algorithm,
}

#[derive(Default)]
struct Held {
    by_kid: HashMap<String, Key>,
    fetched_at: Option<Instant>,
}

pub(crate) struct KeyCache {
    url: String,
    refetch_interval: Duration,
    max_age: Duration,
    held: RwLock<Held>,
    /// Held across every fetch, so concurrent requests wait for one.
    fetches: tokio::sync::Mutex<Fetches>,
}

/// What limits fetches to one per refetch interval: those a token naming an unknown key caused
/// (the first fetch and the refresh of an old key set do not count, so a rotation just after
/// either is still seen at once), and any after a failure (so requests do not queue behind
/// Trustgate's timeouts while it is down).
#[derive(Default)]
struct Fetches {
    unknown_kid: Option<Instant>,
    failed: Option<Instant>,
}

impl KeyCache {
    pub(crate) fn new(url: String, refetch_interval: Duration, max_age: Duration) -> Self {
        Self {
            url,
            refetch_interval,
            max_age,
            held: RwLock::new(Held::default()),
            fetches: tokio::sync::Mutex::new(Fetches::default()),
        }
    }

    fn lookup(&self, kid: &str) -> (Option<Key>, bool) {
        let held = self.held.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let fresh = held.fetched_at.is_some_and(|at| at.elapsed() < self.max_age);
        (held.by_kid.get(kid).cloned(), fresh)
    }

    fn within_interval(&self, at: Option<Instant>) -> bool {
        at.is_some_and(|at| at.elapsed() < self.refetch_interval)
    }

    /// The key `kid` names. An unknown key causes a fetch unless one did within the refetch
    /// interval, so a flood of tokens with made-up key ids costs Trustgate one request per
    /// interval.
    pub(crate) async fn key(&self, http: &reqwest::Client, kid: &str) -> Result<Key, Rejection> {
        if let (Some(key), true) = self.lookup(kid) {
            return Ok(key);
        }
        let mut fetches = self.fetches.lock().await;
        let (known, fresh) = self.lookup(kid);
        if let (Some(key), true) = (&known, fresh) {
            return Ok(key.clone());
        }
        let limited = self.within_interval(fetches.failed) || (fresh && self.within_interval(fetches.unknown_kid));
        if !limited {
            if fresh {
                fetches.unknown_kid = Some(Instant::now());
            }
            match fetch(http, &self.url).await {
                Ok(by_kid) => {
                    fetches.failed = None;
                    let mut held = self.held.write().unwrap_or_else(std::sync::PoisonError::into_inner);
                    *held = Held { by_kid, fetched_at: Some(Instant::now()) };
                }
                Err(why) => {
                    fetches.failed = Some(Instant::now());
                    if !self.has_any() {
                        return Err(Rejection::Unavailable(why));
                    }
                }
            }
        }
        // Keys already held keep verifying while Trustgate is unreachable; with none, nothing can.
        if !self.has_any() {
            return Err(Rejection::Unavailable("the key set could not be fetched".to_owned()));
        }
        self.lookup(kid).0.ok_or_else(Rejection::invalid)
    }

    fn has_any(&self) -> bool {
        !self.held.read().unwrap_or_else(std::sync::PoisonError::into_inner).by_kid.is_empty()
    }
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<HashMap<String, Key>, String> {
    let response = http.get(url).send().await.map_err(|e| format!("the key set: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("the key set: HTTP {}", response.status()));
    }
    let set: JwkSet = response.json().await.map_err(|e| format!("the key set: {e}"))?;
    let mut by_kid = HashMap::new();
    for jwk in &set.keys {
        // A key without an id or an algorithm cannot be matched to a token safely: skipped.
        let (Some(kid), Some(alg)) = (jwk.common.key_id.as_ref(), jwk.common.key_algorithm) else { continue };
        let Ok(algorithm) = Algorithm::from_str(&alg.to_string()) else { continue };
        let Ok(decoding) = DecodingKey::from_jwk(jwk) else { continue };
        by_kid.insert(kid.clone(), Key { decoding, algorithm });
    }
    Ok(by_kid)
}
