//! Trading a client's id and secret for a token: the logic both token endpoints share.

use std::net::IpAddr;
use std::sync::Arc;

use time::OffsetDateTime;
use trustgate_core::client::ApiClient;
use trustgate_core::event;
use trustgate_core::ids::{ClientId, CustomerId};
use trustgate_core::rights::{self, PrincipalKind};
use trustgate_core::secret::{ClientSecret, SecretVerifier, ServerKeyring};
use trustgate_core::token::{Claims, TokenUse};

use crate::cache::authz::{CachedClient, ClientFacts};
use crate::error::{ApiError, OAuthError};
use crate::jobs::refusals::Subject;
use crate::metrics::{RefusalReason, ThrottleKind};
use crate::state::AppState;
use crate::throttle::retry_after_secs;

/// The customer named in a token endpoint's path: `root`, or a customer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathCustomer {
    Root,
    Customer(CustomerId),
}

impl PathCustomer {
    pub fn parse(text: &str) -> Option<Self> {
        if text.eq_ignore_ascii_case("root") {
            return Some(PathCustomer::Root);
        }
        CustomerId::parse(text).ok().map(PathCustomer::Customer)
    }
}

pub struct Issued {
    pub access_token: String,
    /// The client as the authorization cache holds it, shared rather than copied per grant.
    pub facts: Arc<ClientFacts>,
    pub claims: Claims,
}

pub enum Refusal {
    /// Unknown client, wrong secret, or a customer in the path that is not the client's:
    /// all answered alike, so a caller learns nothing about which it was.
    BadCredentials,
    Suspended,
    /// Locked out after repeated wrong secrets; retry after this many seconds.
    Throttled(u64),
    Server(ApiError),
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Refusal::Server(error)
    }
}

impl From<Refusal> for OAuthError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::BadCredentials => OAuthError::invalid_client(),
            Refusal::Suspended => {
                OAuthError::unauthorized_client("This client is suspended while its owner is disabled.")
            }
            Refusal::Throttled(retry_after) => OAuthError::slow_down(retry_after),
            Refusal::Server(error) => OAuthError::server(error),
        }
    }
}

impl Refusal {
    fn reason(&self) -> RefusalReason {
        match self {
            Refusal::BadCredentials => RefusalReason::BadCredentials,
            Refusal::Suspended => RefusalReason::Suspended,
            Refusal::Throttled(_) => RefusalReason::Throttled,
            Refusal::Server(_) => RefusalReason::Unavailable,
        }
    }
}

/// Issues a token, counted as a grant or as a refusal by its reason. The span names the client
/// and its customer once known, never the secret.
#[tracing::instrument(name = "grant", skip_all, fields(client_id = tracing::field::Empty, customer = tracing::field::Empty))]
pub async fn issue(
    state: &AppState,
    client_id: &str,
    secret: &str,
    path: &PathCustomer,
    source: Option<IpAddr>,
) -> Result<Issued, Refusal> {
    let outcome = issue_checked(state, client_id, secret, path, source).await;
    match &outcome {
        Ok(_) => {
            state.metrics.granted();
            tracing::debug!("token issued");
        }
        Err(refusal) => {
            let reason = refusal.reason();
            state.metrics.refused(reason);
            tracing::debug!(reason = reason.label(), "token refused");
        }
    }
    outcome
}

async fn issue_checked(
    state: &AppState,
    client_id: &str,
    secret: &str,
    path: &PathCustomer,
    source: Option<IpAddr>,
) -> Result<Issued, Refusal> {
    let Authenticated { client: cached, secret } = authenticate(state, client_id, secret, source).await?;
    let facts = &cached.facts;
    let id = facts.client.id;
    if let PathCustomer::Customer(customer) = path {
        if *customer != facts.client.customer_id {
            let reason = "the path named another customer";
            return refuse(state, &facts.client, reason, source, Refusal::BadCredentials).await;
        }
    }
    if rights::effective_access(PrincipalKind::ApiClient, &cached.standing).is_err() {
        let reason = "its owner is disabled and this customer suspends such clients";
        return refuse(state, &facts.client, reason, source, Refusal::Suspended).await;
    }
    let now = OffsetDateTime::now_utc();
    if facts.secrets.get(secret).is_some_and(|s| s.record_use(now)) {
        state.record_use(id, facts.secrets[secret].secret.id, now);
    }
    let claims = Claims::new(
        &state.config.issuer,
        id,
        facts.client.owner(),
        facts.client.customer_id.clone(),
        now,
        TokenUse::Access,
    );
    Ok(Issued { access_token: sign(state, &claims)?, facts: Arc::clone(facts), claims })
}

/// A client proven by one of its secrets.
pub struct Authenticated {
    pub client: CachedClient,
    /// Which of `client.facts.secrets` it was.
    pub secret: usize,
}

/// The client that `client_id` and `secret` prove, with every check a token request makes of
/// them: throttled per client and source address, refusals logged (R10, aggregated), unknown ids written nowhere.
/// The secret names which of the client's secrets it is, so one HMAC is computed, whatever the
/// outcome; an expired secret is refused as a wrong one is, and its expiry logged once.
pub async fn authenticate(
    state: &AppState,
    client_id: &str,
    secret: &str,
    source: Option<IpAddr>,
) -> Result<Authenticated, Refusal> {
    let presented = ClientSecret::from_presented(secret);
    // The authorization cache holds the verifier too: a grant needs no database round trip, and
    // is refused as soon as a change evicts the client or its owner's standing.
    let id = ClientId::parse(client_id).ok();
    let cached = match id {
        Some(id) => state.client(id).await?,
        None => None,
    };
    let Some(cached) = cached else {
        // An unknown client costs the verification a known one does (so its timing tells
        // nothing), and writes nothing: strangers cannot fill the log with made-up ids. A
        // well-formed id is throttled as a real one is, so a 429 does not tell that it exists.
        if let Some(id) = id {
            if let Err(wait) = state.throttles.clients.check(&id, source) {
                state.metrics.throttled(ThrottleKind::Client);
                return Err(Refusal::Throttled(retry_after_secs(wait)));
            }
            state.throttles.clients.failed(&id, source);
        }
        if let Some(presented) = &presented {
            let ring = &state.server_keys().ring;
            std::hint::black_box(ring.matches(presented, &decoy(ring)));
        }
        return Err(Refusal::BadCredentials);
    };
    let client = &cached.facts.client;
    let span = tracing::Span::current();
    span.record("client_id", tracing::field::display(client.id));
    span.record("customer", tracing::field::display(&client.customer_id));
    // Only the source that failed is locked: the holder of the secret is served from elsewhere.
    if let Err(wait) = state.throttles.clients.check(&client.id, source) {
        state.metrics.throttled(ThrottleKind::Client);
        let reason = "the client is locked out from this address after repeated wrong secrets";
        return refuse(state, client, reason, source, Refusal::Throttled(retry_after_secs(wait))).await;
    }
    let ring = &state.server_keys().ring;
    let held = presented.as_ref().and_then(|s| {
        let index = cached.facts.secrets.iter().position(|held| held.secret.is(s.reference()));
        // Compared against a decoy when the named secret is not held: the same cost either way.
        let verifier = index.map_or_else(|| decoy(ring), |i| cached.facts.secrets[i].secret.verifier.clone());
        (ring.matches(s, &verifier) && index.is_some()).then_some(index).flatten()
    });
    let Some(index) = held else {
        state.throttles.clients.failed(&client.id, source);
        return refuse(state, client, "wrong client secret", source, Refusal::BadCredentials).await;
    };
    let proven = &cached.facts.secrets[index];
    let now = state.config.clock.now_utc();
    if proven.secret.is_expired(now) {
        // Whoever holds an expired secret knew it: not a guess to throttle, and one record in
        // the system log (whichever node writes it first), not one per try.
        if proven.expiry_unlogged() {
            if let Err(error) = state.store.log_secret_expired(client.id, proven.secret.id, now).await {
                tracing::warn!(%error, "could not log a secret's expiry");
            }
        }
        return Err(Refusal::BadCredentials);
    }
    Ok(Authenticated { client: cached, secret: index })
}

/// Names the current server key, so checking it costs one HMAC, as a real secret does.
fn decoy(ring: &ServerKeyring) -> SecretVerifier {
    SecretVerifier::from_stored(&[0; 32], Some(ring.current().id()))
        .unwrap_or_else(|| unreachable!("32 bytes make a verifier"))
}

/// Records a refused grant in the client's customer's system log (R10, aggregated), then refuses.
async fn refuse<T>(
    state: &AppState,
    client: &ApiClient,
    reason: &str,
    source: Option<IpAddr>,
    refusal: Refusal,
) -> Result<T, Refusal> {
    let entry = || event::token_refused(client, reason, OffsetDateTime::now_utc());
    state.refused(&Subject::Client(client.clone()), entry, source).await;
    Err(refusal)
}

/// The legacy endpoint's `openIdToken`: the same identity, marked so it is refused as a bearer.
pub fn id_token(state: &AppState, issued: &Issued) -> Result<String, ApiError> {
    let mut claims = issued.claims.clone();
    claims.token_use = TokenUse::Id;
    sign(state, &claims)
}

fn sign(state: &AppState, claims: &Claims) -> Result<String, ApiError> {
    state.keys().sign(claims).map_err(|error| {
        tracing::error!(%error, "could not sign a token");
        ApiError::Internal
    })
}
