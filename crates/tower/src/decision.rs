//! The live decision: RFC 7662 introspection, which answers what the token may do now (the
//! owner's access, R4–R7), kept for the decision TTL.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::caller::{Caller, PrincipalKind};
use crate::rejection::Rejection;
use crate::verify::Claims;

pub(crate) struct Introspector {
    pub(crate) url: String,
    pub(crate) id: String,
    pub(crate) secret: SecretString,
}

#[derive(Deserialize)]
struct Answer {
    active: bool,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    sub: String,
    #[serde(default)]
    jti: String,
    #[serde(default)]
    customer_id: String,
    principal: Option<PrincipalAnswer>,
    #[serde(default)]
    permissions: Vec<String>,
    #[serde(default)]
    access_type: String,
}

#[derive(Deserialize)]
struct PrincipalAnswer {
    id: String,
    kind: String,
}

impl Introspector {
    /// The caller `token` is now, or `None` when Trustgate says it is not active.
    pub(crate) async fn ask(
        &self,
        http: &reqwest::Client,
        token: &str,
        claims: &Claims,
    ) -> Result<Option<Arc<Caller>>, Rejection> {
        let response = http
            .post(&self.url)
            .basic_auth(&self.id, Some(self.secret.expose_secret()))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|e| Rejection::Unavailable(format!("introspection: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            // 401 means the resource server's own credentials are wrong: an operator's mistake,
            // refused as unavailable rather than blamed on the caller.
            return Err(Rejection::Unavailable(format!("introspection answered HTTP {status}")));
        }
        let answer: Answer =
            response.json().await.map_err(|e| Rejection::Unavailable(format!("introspection: {e}")))?;
        // The answer must be about the token verified here.
        if !answer.active || answer.sub != claims.sub || answer.jti != claims.jti {
            return Ok(None);
        }
        let principal = answer.principal.unwrap_or(PrincipalAnswer { id: answer.sub.clone(), kind: String::new() });
        Ok(Some(Arc::new(Caller {
            client_id: answer.client_id,
            customer_id: answer.customer_id,
            principal_id: principal.id,
            principal_kind: PrincipalKind::from_wire(&principal.kind),
            access_type: answer.access_type,
            permissions: answer.permissions.into_iter().collect::<BTreeSet<_>>(),
            token_id: claims.jti.clone(),
            expires_at: claims.exp,
        })))
    }
}

/// A decision (the caller, or `None` for an inactive token) and until when it holds.
type Held = (Option<Arc<Caller>>, Instant);

/// Decisions by token id (`jti`, which a verified signature vouches for), each until its TTL
/// or its token's expiry. Bounded: when full, the expired go, and if that is not enough, all.
pub(crate) struct Decisions {
    ttl: Duration,
    capacity: usize,
    held: Mutex<HashMap<String, Held>>,
}

impl Decisions {
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        Self { ttl, capacity, held: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn get(&self, jti: &str) -> Option<Option<Arc<Caller>>> {
        let held = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        held.get(jti).filter(|(_, until)| Instant::now() < *until).map(|(caller, _)| caller.clone())
    }

    pub(crate) fn put(&self, jti: &str, decision: Option<Arc<Caller>>, token_left: Duration) {
        if self.ttl.is_zero() {
            return;
        }
        let until = Instant::now() + self.ttl.min(token_left);
        let mut held = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if held.len() >= self.capacity && !held.contains_key(jti) {
            let now = Instant::now();
            held.retain(|_, (_, until)| now < *until);
            if held.len() >= self.capacity {
                held.clear();
            }
        }
        held.insert(jti.to_owned(), (decision, until));
    }

    /// Forgets every decision: the next request of each token asks Trustgate again.
    pub(crate) fn clear(&self) {
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }
}
