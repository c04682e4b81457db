//! Bounded caches (issue #13): a cache far smaller than the working set drops entries one at a
//! time and every answer stays right; clients seeded in bulk (the bench's path) are served like
//! any other.

use reqwest::StatusCode;
use time::OffsetDateTime;
use trustgate_core::access::{Access, Permission};
use trustgate_core::client::ClientKind;
use trustgate_core::event::Actor;
use trustgate_server::ServerConfig;

use crate::harness::{custom, TestClient};
use crate::observability::scrape;

const NOTIFICATIONS: &str = "/notifications/items";

#[tokio::test]
async fn a_cache_smaller_than_the_working_set_evicts_for_space_and_keeps_every_answer_right() {
    let config = ServerConfig { client_cache: 3, token_cache: 3, ..ServerConfig::default() };
    let Some(app) = super::app_with(config).await else { return };
    let customer = app.customer_with_full_admin().await;
    let owner = app.admin(&customer, custom(&[Permission::NOTIFICATIONS])).await;
    let seeded: Vec<_> = (0..30)
        .map(|_| {
            app.client_to_store(
                &customer,
                ClientKind::SecureClient { owner: owner.id },
                OffsetDateTime::now_utc(),
                None,
            )
        })
        .collect();
    let clients: Vec<TestClient> = seeded
        .iter()
        .map(|(client, _, secret)| TestClient { id: client.id, secret: secret.clone(), customer: customer.clone() })
        .collect();
    let rows: Vec<_> = seeded.into_iter().map(|(client, secret, _)| (client, secret)).collect();
    app.store.seed_clients(&rows).await.expect("bulk seeding");
    let before = scrape(&app).await;

    let mut tokens = Vec::new();
    for client in &clients {
        tokens.push(app.token(client).await);
    }
    for (client, token) in clients.iter().zip(&tokens) {
        assert_eq!(app.get(NOTIFICATIONS, token, &customer).await.0, StatusCode::OK, "{}", client.id);
    }
    assert!(app.state.cache.held() <= 3, "{} clients held", app.state.cache.held());

    let after = scrape(&app).await;
    let moved =
        |name: &str, cache: &str| after.value(name, &[("cache", cache)]) - before.value(name, &[("cache", cache)]);
    assert!(moved("trustgate_cache_evictions_total", "authorization") >= 20.0, "entries are dropped for space");
    assert!(moved("trustgate_cache_evictions_total", "verified_tokens") >= 20.0, "tokens are dropped for space");
    assert_eq!(
        moved("trustgate_cache_hits_total", "authorization") + moved("trustgate_cache_misses_total", "authorization"),
        60.0,
        "each grant and each call looks its client up once"
    );
    assert!(moved("trustgate_cache_misses_total", "verified_tokens") >= 20.0, "dropped tokens are verified again");

    // Whatever the cache held, a wrong secret is refused and a deleted client is refused.
    let first = &clients[0];
    let id = first.id.to_string();
    let wrong = [("grant_type", "client_credentials"), ("client_id", id.as_str()), ("client_secret", "tgs_wrong")];
    assert_eq!(app.oauth("root", &wrong).await.0, StatusCode::BAD_REQUEST);
    assert!(app.store.delete_client(&customer, owner.id, first.id, &Actor::System).await.expect("delete"));
    let right = [("grant_type", "client_credentials"), ("client_id", id.as_str()), ("client_secret", &first.secret)];
    assert_eq!(app.oauth("root", &right).await.0, StatusCode::BAD_REQUEST);
    assert_ne!(app.get(NOTIFICATIONS, &tokens[0], &customer).await.0, StatusCode::OK);
}

/// Issue #13: an id the store does not know is remembered as unknown, so a caller repeating it
/// costs no read; and a client created with that id afterwards (a secure client, a service
/// principal, or clients seeded in bulk) gets its token at once, because every creation is
/// announced on the change feed.
#[tokio::test]
async fn an_id_probed_as_unknown_gets_a_token_as_soon_as_a_client_is_created_with_it() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let owner = app.admin(&customer, custom(&[Permission::NOTIFICATIONS])).await;
    let now = OffsetDateTime::now_utc();
    // A principal's first secret must expire (SP6); a secure client's may.
    let new = |kind: ClientKind| app.client_to_store(&customer, kind, now, Some(now + time::Duration::days(30)));
    let secure = new(ClientKind::SecureClient { owner: owner.id });
    let principal = new(ClientKind::ServicePrincipal { access: Access::Full });
    let seeded = new(ClientKind::SecureClient { owner: owner.id });

    for (client, _, secret) in [&secure, &principal, &seeded] {
        let id = client.id.to_string();
        let form = [("grant_type", "client_credentials"), ("client_id", id.as_str()), ("client_secret", secret)];
        // Any eviction makes a load under way forget what it read (the epoch guard): let the feed
        // deliver the set-up's changes first, which on PostgreSQL arrive a moment after they commit.
        app.state.catch_up().await.expect("the feed is up to date");
        let before = scrape(&app).await;
        assert_eq!(app.oauth("root", &form).await.0, StatusCode::BAD_REQUEST, "no such client yet");
        assert_eq!(app.oauth("root", &form).await.0, StatusCode::BAD_REQUEST, "still none");
        let after = scrape(&app).await;
        let moved = |name: &str| {
            after.value(name, &[("cache", "authorization")]) - before.value(name, &[("cache", "authorization")])
        };
        assert_eq!(
            (moved("trustgate_cache_misses_total"), moved("trustgate_cache_hits_total")),
            (1.0, 1.0),
            "the first probe reads the store, the second is answered from the cache"
        );
    }

    let cap = ServerConfig::default().max_clients_per_owner;
    app.store.create_client(&secure.0, &secure.1, cap, &Actor::System).await.expect("create a secure client");
    app.store.create_principal(&principal.0, &principal.1, &Actor::System).await.expect("create a principal");
    app.store.seed_clients(&[(seeded.0.clone(), seeded.1.clone())]).await.expect("seed a client");
    for (how, (client, _, secret)) in [("created", &secure), ("created", &principal), ("seeded", &seeded)] {
        let id = client.id.to_string();
        let form = [("grant_type", "client_credentials"), ("client_id", id.as_str()), ("client_secret", secret)];
        let (status, body) = app.oauth("root", &form).await;
        assert_eq!(status, StatusCode::OK, "{:?} {how} after its id was probed: {body}", client.kind);
    }
}

/// Uses are written in batches, off the request path: each client keeps its latest use whichever
/// of its secrets came last in the batch, each secret its own, and a batch larger than one write
/// chunk is written whole.
#[tokio::test]
async fn a_batch_of_uses_keeps_each_clients_and_each_secrets_latest_use() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let owner = app.admin(&customer, Access::Full).await;
    let created = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - time::Duration::hours(1);
    let rows: Vec<_> = (0..1_200)
        .map(|_| {
            let (client, secret, _) =
                app.client_to_store(&customer, ClientKind::SecureClient { owner: owner.id }, created, None);
            (client, secret)
        })
        .collect();
    app.store.seed_clients(&rows).await.expect("bulk seeding");
    let first = &rows[0];
    let (second, _) = app.secret_to_store(created, None);
    app.store.add_client_secret(&customer, first.0.id, &second, &Actor::System).await.expect("a second secret");

    let (earlier, later) = (created + time::Duration::minutes(10), created + time::Duration::minutes(20));
    let mut uses: Vec<_> = rows.iter().map(|(client, secret)| (client.id, secret.id, later)).collect();
    uses.push((first.0.id, second.id, earlier));
    app.store.touch_clients(&uses).await.expect("record the uses");
    // An older use recorded afterwards (another node's batch) moves nothing back.
    app.store.touch_clients(&[(first.0.id, second.id, created)]).await.expect("record an older use");

    let clients = app.store.clients_of(&customer, owner.id).await.expect("the owner's clients");
    assert_eq!(clients.len(), rows.len());
    let unrecorded: Vec<_> = clients.iter().filter(|c| c.last_used_at != Some(later)).map(|c| c.id).collect();
    assert!(unrecorded.is_empty(), "clients without their latest use: {} of {}", unrecorded.len(), clients.len());
    let secrets = app.store.client_secrets(&customer, first.0.id, &Actor::System).await.expect("the secrets");
    let used =
        |id: &trustgate_core::secret::SecretId| secrets.iter().find(|s| &s.id == id).and_then(|s| s.last_used_at);
    assert_eq!(used(&first.1.id), Some(later));
    assert_eq!(used(&second.id), Some(earlier), "a secret keeps its own latest use");
}
