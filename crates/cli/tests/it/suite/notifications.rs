//! Notifications: the restricted right of Citrix's own example.

use reqwest::{Method, StatusCode};
use serde_json::json;
use trustgate_core::access::{Access, Permission};

use crate::harness::{custom, notification};

#[tokio::test]
async fn a_posted_notification_is_echoed_with_citrix_nulls_and_listed() {
    let Some(app) = super::app().await else { return };
    let (customer, _, token) = app.customer_with_token(custom(&[Permission::NOTIFICATIONS])).await;
    let (_, before) = app.get("/notifications/items", &token, &customer).await;
    assert_eq!(before["items"], json!([]));
    let (status, echo) = app.call(Method::POST, "/notifications/items", &token, &customer, Some(notification())).await;
    assert_eq!(status, StatusCode::OK, "{echo}");
    assert_eq!(echo["categories"], json!(null));
    assert_eq!(echo["data"], json!(null));
    assert_eq!(echo["externalId"], json!(null));
    assert_eq!(echo["content"][0]["detailUri"], json!(null));
    assert_eq!(echo["eventId"], notification()["eventId"]);
    let (status, list) = app.get(&format!("/{customer}/notifications/items"), &token, &customer).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"][0], echo);
}

#[tokio::test]
async fn invalid_notifications_are_refused_without_being_stored() {
    let Some(app) = super::app().await else { return };
    let (customer, _, token) = app.customer_with_token(Access::Full).await;
    let mut cases = Vec::new();
    for (field, value) in [
        ("content", json!([])),
        ("severity", json!("Apocalyptic")),
        ("component", json!("")),
        ("destinationAdmin", json!("not-an-email")),
        ("content", json!([{"title": "x".repeat(501)}])),
        ("priority", json!(7)),
        // Issue #20: NUL bytes are refused, not stored.
        ("component", json!("Citrix\u{0}Cloud")),
        ("content", json!([{"title": "Hello\u{0}", "description": "x"}])),
    ] {
        let mut body = notification();
        body[field] = value;
        cases.push(body);
    }
    for body in cases {
        let (status, answer) =
            app.call(Method::POST, "/notifications/items", &token, &customer, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {answer}");
        assert!(answer["detail"].is_string());
    }
    let (_, list) = app.get("/notifications/items", &token, &customer).await;
    assert_eq!(list["items"], json!([]));
    let response = app.citrix_post_raw("/notifications/items", &token, &customer, "text/plain", "hello").await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn notifications_answer_the_same_with_one_trailing_slash() {
    let Some(app) = super::app().await else { return };
    let (customer, _, token) = app.customer_with_token(custom(&[Permission::NOTIFICATIONS])).await;
    let (status, _) = app.call(Method::POST, "/notifications/items/", &token, &customer, Some(notification())).await;
    assert_eq!(status, StatusCode::OK);
    let without = app.get("/notifications/items", &token, &customer).await;
    assert_eq!(without.0, StatusCode::OK, "{}", without.1);
    assert_eq!(without.1["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.get("/notifications/items/", &token, &customer).await, without);
    assert_eq!(app.get(&format!("/{customer}/notifications/items/"), &token, &customer).await, without);
}

#[tokio::test]
async fn notifications_are_echoed_and_listed_in_citrix_field_order() {
    let Some(app) = super::app().await else { return };
    let (customer, _, token) = app.customer_with_token(custom(&[Permission::NOTIFICATIONS])).await;
    let order = [
        "destinationAdmin",
        "component",
        "createdDate",
        "categories",
        "severity",
        "eventId",
        "priority",
        "content",
        "languageTag",
        "title",
        "description",
        "detailUri",
        "data",
        "externalId",
    ];
    let send = |method: Method, body: Option<serde_json::Value>| {
        let mut request = app.citrix_request(method, "/notifications/items", &token, &customer);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    let echo = send(Method::POST, Some(notification())).await.unwrap().text().await.unwrap();
    crate::harness::assert_key_order(&echo, &order);
    let list = send(Method::GET, None).await.unwrap().text().await.unwrap();
    assert!(list.starts_with("{\"items\":[{\"destinationAdmin\":"), "{list}");
    crate::harness::assert_key_order(&list, &order);
}
