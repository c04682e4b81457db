//! Prometheus metrics move with what the node does, on either store, and pass `promtool`.

use reqwest::StatusCode;

use crate::observability::{caller, eventually, scrape};

const OAUTH: &str = "/cctrustoauth2/{customer}/tokens/clients";
const NOTIFICATIONS: &str = "/notifications/items";

#[tokio::test]
async fn a_grant_a_refusal_and_a_call_move_their_counters() {
    let Some(app) = super::app().await else { return };
    let (customer, client) = caller(&app).await;
    // The set-up's changes reach a PostgreSQL node's feed a moment later; each eviction they cause
    // would make a load under way forget its answer.
    app.state.catch_up().await.expect("the feed is up to date");
    let before = scrape(&app).await;

    let token = app.token(&client).await;
    let id = client.id.to_string();
    let wrong = [("grant_type", "client_credentials"), ("client_id", id.as_str()), ("client_secret", "wrong")];
    assert_eq!(app.oauth(customer.as_str(), &wrong).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(app.get(NOTIFICATIONS, &token, &customer).await.0, StatusCode::OK);
    assert_eq!(app.get(NOTIFICATIONS, &token, &customer).await.0, StatusCode::OK);

    let after = scrape(&app).await;
    let moved = |name: &str, labels: &[(&str, &str)]| after.value(name, labels) - before.value(name, labels);
    assert_eq!(moved("trustgate_token_grants_total", &[]), 1.0);
    assert_eq!(moved("trustgate_token_refusals_total", &[("reason", "bad_credentials")]), 1.0);
    let granted = [("method", "POST"), ("route", OAUTH), ("status", "200")];
    assert_eq!(moved("trustgate_http_requests_total", &granted), 1.0);
    assert_eq!(moved("trustgate_http_requests_total", &[("route", OAUTH), ("status", "400")]), 1.0);
    let called = [("method", "GET"), ("route", NOTIFICATIONS), ("status", "200")];
    assert_eq!(moved("trustgate_http_requests_total", &called), 2.0);
    assert_eq!(moved("trustgate_http_request_duration_seconds_count", &called), 2.0);
    assert_eq!(
        moved("trustgate_http_request_duration_seconds_bucket", &[("route", NOTIFICATIONS), ("le", "+Inf")]),
        2.0
    );
    // The token is verified, then found; the client is looked up by each of the four requests.
    // (A feed that starts over meanwhile empties the caches, so hits are not counted exactly.)
    let look_ups = |cache| {
        moved("trustgate_cache_hits_total", &[("cache", cache)])
            + moved("trustgate_cache_misses_total", &[("cache", cache)])
    };
    assert_eq!(look_ups("verified_tokens"), 2.0);
    assert!(moved("trustgate_cache_misses_total", &[("cache", "verified_tokens")]) >= 1.0);
    assert_eq!(look_ups("authorization"), 4.0);
    assert!(moved("trustgate_cache_hits_total", &[("cache", "authorization")]) >= 1.0);
    assert!(!after.0.contains(customer.as_str()), "routes are labelled by template, never by raw path");
    after.check_with_promtool();
}

#[tokio::test]
async fn the_store_pool_and_the_change_feed_are_measured() {
    let Some(app) = super::app().await else { return };
    let (customer, client) = caller(&app).await;
    let token = app.token(&client).await;

    // A write reaches this node through the feed too, which tells how long it took. (Posted
    // again while waiting: a PostgreSQL feed still connecting misses what came before.)
    let lag = "trustgate_change_feed_lag_seconds_count";
    let delivered = scrape(&app).await.value(lag, &[]);
    let observed = eventually(|| async {
        assert_eq!(app.post_notification(&token, &customer).await, StatusCode::OK);
        scrape(&app).await.value(lag, &[]) > delivered
    })
    .await;
    assert!(observed, "the feed's lag is observed");

    let metrics = scrape(&app).await;
    assert!(metrics.value("trustgate_change_feed_lag_seconds_sum", &[]) < 5.0, "{}", metrics.0);
    let max = metrics.value("trustgate_store_connections_max", &[]);
    let open = metrics.value("trustgate_store_connections", &[]);
    assert!(max >= 1.0, "{}", metrics.0);
    assert!(open >= 1.0 && open <= max, "open connections within the pool's maximum:\n{}", metrics.0);
    assert!(metrics.value("trustgate_cache_entries", &[("cache", "authorization")]) <= 1.0);
    metrics.check_with_promtool();
}
