//! SystemLog: time window, limits and continuation tokens.

use reqwest::{Method, StatusCode};
use serde_json::json;
use trustgate_core::access::Access;
use trustgate_core::ids::CustomerId;

use crate::harness::TestApp;

/// A customer with a Full administrator who owns `clients` clients, and the token of the last:
/// a system log of `clients + 2` records.
async fn with_clients(app: &TestApp, clients: usize) -> (CustomerId, String) {
    let customer = app.customer().await;
    let owner = app.admin(&customer, Access::Full).await;
    for _ in 1..clients {
        app.client(&customer, &owner).await;
    }
    let token = app.token(&app.client(&customer, &owner).await).await;
    (customer, token)
}

#[tokio::test]
async fn records_page_with_continuation_tokens_until_the_end() {
    let Some(app) = super::app().await else { return };
    let (customer, token) = with_clients(&app, 5).await;
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            Some(t) => format!("/systemlog/records?limit=2&continuationToken={t}"),
            None => "/systemlog/records?Limit=2".to_owned(),
        };
        let (status, page) = app.get(&path, &token, &customer).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|r| r["recordId"].clone()));
        match page["continuationToken"].as_str() {
            Some(t) => next = Some(t.to_owned()),
            None => break,
        }
    }
    // customer created + admin added + 5 clients created
    assert_eq!(seen.len(), 7);
    let unique: std::collections::HashSet<_> = seen.iter().map(|v| v.to_string()).collect();
    assert_eq!(unique.len(), 7);
}

#[tokio::test]
async fn the_time_window_filters_and_bad_parameters_get_400() {
    let Some(app) = super::app().await else { return };
    let (customer, _, token) = app.customer_with_token(Access::Full).await;
    let (_, empty) = app
        .get(
            "/systemlog/records?StartDateTime=2001-01-01T00:00:00Z&EndDateTime=2001-01-02T00:00:00Z",
            &token,
            &customer,
        )
        .await;
    assert_eq!(empty["items"], json!([]));
    for query in [
        "Limit=0",
        "Limit=201",
        "Limit=ten",
        "StartDateTime=yesterday",
        "ContinuationToken=abc",
        "StartDateTime=2030-01-02T00:00:00Z&EndDateTime=2030-01-01T00:00:00Z",
    ] {
        let (status, body) = app.get(&format!("/systemlog/records?{query}"), &token, &customer).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query} → {body}");
    }
}

#[tokio::test]
async fn records_answer_the_same_with_one_trailing_slash() {
    let Some(app) = super::app().await else { return };
    let (customer, _, token) = app.customer_with_token(Access::Full).await;
    let without = app.get("/systemlog/records?Limit=1", &token, &customer).await;
    assert_eq!(without.0, StatusCode::OK, "{}", without.1);
    assert!(without.1["continuationToken"].is_string(), "the query string must reach the handler: {}", without.1);
    assert_eq!(app.get("/systemlog/records/?Limit=1", &token, &customer).await, without);
}

/// What a published PowerShell pager does: the token is the text between `"continuationToken":"`
/// and the next `"}`, so `items` must come first and `continuationToken` last, byte for byte.
fn token_as_a_text_pager_reads_it(raw: &str) -> Option<&str> {
    let start = raw.find("\"continuationToken\":\"")? + "\"continuationToken\":\"".len();
    let end = raw[start..].find("\"}")?;
    Some(&raw[start..start + end])
}

#[tokio::test]
async fn a_text_pager_reads_the_continuation_token_from_the_raw_bytes_and_collects_all_300_records() {
    let Some(app) = super::app().await else { return };
    // customer created + admin added + 298 clients created = 300 records
    let (customer, token) = with_clients(&app, 298).await;
    let mut collected = std::collections::HashSet::new();
    let mut pages = 0;
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            Some(t) => format!("/systemlog/records?Limit=70&ContinuationToken={t}"),
            None => "/systemlog/records?Limit=70".to_owned(),
        };
        let response = app.citrix_request(Method::GET, &path, &token, &customer).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let raw = response.text().await.unwrap();
        pages += 1;
        assert!(raw.starts_with("{\"items\":["), "items first: {}", &raw[..40.min(raw.len())]);
        let page: serde_json::Value = serde_json::from_str(&raw).unwrap();
        collected.extend(page["items"].as_array().unwrap().iter().map(|r| r["recordId"].to_string()));
        match page["continuationToken"].as_str() {
            Some(t) => {
                assert_eq!(token_as_a_text_pager_reads_it(&raw), Some(t), "the pager extracts exactly the token");
                next = Some(t.to_owned());
            }
            None => {
                assert!(raw.ends_with(",\"continuationToken\":null}"), "continuationToken last: {raw}");
                break;
            }
        }
    }
    assert_eq!(pages, 5);
    assert_eq!(collected.len(), 300);
}

/// Scripts read records as text too: each record keeps the field order of Citrix's SystemLog
/// records, and `continuationToken` comes after the items.
#[tokio::test]
async fn records_are_listed_in_citrix_field_order() {
    let Some(app) = super::app().await else { return };
    let (customer, _, token) = app.customer_with_token(Access::Full).await;
    let raw = app.get_text("/systemlog/records?Limit=1", &token, &customer).await;
    assert!(raw.starts_with("{\"items\":[{\"recordId\":"), "{raw}");
    crate::harness::assert_keys_in_order(
        &raw,
        "recordId utcTimestamp customerId eventType targetId targetDisplayName targetEmail \
         targetUserId targetType beforeChanges afterChanges agentId serviceProfileName actorId \
         actorDisplayName actorType message continuationToken",
    );
}
