//! SystemLog: time window, limits and continuation tokens.

use reqwest::StatusCode;
use serde_json::json;
use trustgate_core::access::Access;

#[tokio::test]
async fn records_page_with_continuation_tokens_until_the_end() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let owner = app.admin(&customer, Access::Full).await;
    for _ in 0..4 {
        app.client(&customer, &owner).await;
    }
    let token = app.token(&app.client(&customer, &owner).await).await;
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
    let customer = app.customer().await;
    let owner = app.admin(&customer, Access::Full).await;
    let token = app.token(&app.client(&customer, &owner).await).await;
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
    let customer = app.customer().await;
    let owner = app.admin(&customer, Access::Full).await;
    let token = app.token(&app.client(&customer, &owner).await).await;
    let without = app.get("/systemlog/records?Limit=1", &token, &customer).await;
    assert_eq!(without.0, StatusCode::OK, "{}", without.1);
    assert!(without.1["continuationToken"].is_string(), "the query string must reach the handler: {}", without.1);
    assert_eq!(app.get("/systemlog/records/?Limit=1", &token, &customer).await, without);
}
