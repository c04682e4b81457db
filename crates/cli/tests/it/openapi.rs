//! The OpenAPI document is generated from the handlers; a committed snapshot makes every change
//! to the API show in review. `TRUSTGATE_UPDATE_SNAPSHOTS=1` rewrites the snapshot.

use std::path::Path;

use serde_json::Value;

use crate::harness::{Backend, TestApp};

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/openapi.snapshot.json");

async fn served_document() -> String {
    let app = TestApp::spawn_on(Backend::Sqlite).await.unwrap();
    let response = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.text().await.unwrap()
}

/// The first line where `actual` departs from `expected`, for the failure message.
fn first_difference(expected: &str, actual: &str) -> String {
    let (mut expected_lines, mut actual_lines) = (expected.lines(), actual.lines());
    for number in 1.. {
        match (expected_lines.next(), actual_lines.next()) {
            (None, None) => break,
            (e, a) if e == a => continue,
            (e, a) => {
                return format!(
                    "line {number}:\n  snapshot: {}\n  served:   {}",
                    e.unwrap_or("<end of file>"),
                    a.unwrap_or("<end of file>")
                )
            }
        }
    }
    "no line differs".to_owned()
}

#[tokio::test]
async fn the_served_openapi_document_matches_the_committed_snapshot() {
    let served = format!("{}\n", served_document().await);
    let update = std::env::var("TRUSTGATE_UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1");
    if update {
        std::fs::write(SNAPSHOT, &served).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(Path::new(SNAPSHOT)).unwrap_or_default();
    assert!(
        committed == served,
        "the OpenAPI document differs from {SNAPSHOT} at {}\n\
         If the API change is intended, rewrite the snapshot and commit it:\n  \
         TRUSTGATE_UPDATE_SNAPSHOTS=1 cargo test -p trustgate --test it openapi::",
        first_difference(&committed, &served)
    );
}

#[tokio::test]
async fn every_success_response_with_a_body_declares_its_schema() {
    let document: Value = serde_json::from_str(&served_document().await).unwrap();
    let mut without_schema = Vec::new();
    // The gateway's allowed answer is empty on purpose: its identity headers are the answer.
    let paths = document["paths"].as_object().unwrap().iter().filter(|(path, _)| !path.starts_with("/gateway/"));
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                let declared = response["content"].as_object().is_some_and(|content| {
                    !content.is_empty() && content.values().all(|media| media.get("schema").is_some())
                });
                if status.starts_with('2') && !declared {
                    without_schema.push(format!("{} {path} {status}", method.to_uppercase()));
                }
            }
        }
    }
    without_schema.sort();
    assert_eq!(
        without_schema,
        [
            "DELETE /administrators/{id} 200",
            "DELETE /api/v1/customers/{customer}/api-clients/{id} 204",
            "DELETE /api/v1/customers/{customer}/api-clients/{id}/secrets/{secretId} 204",
            "DELETE /api/v1/customers/{customer}/identity-providers/{id} 204",
            "DELETE /api/v1/customers/{customer}/scim-tokens/{id} 204",
            "DELETE /api/v1/customers/{customer}/service-principals/{id} 204",
            "DELETE /api/v1/customers/{customer}/webhooks/{id} 204",
            "DELETE /api/v1/session 204",
            "DELETE /{customer}/subscriptions/{id} 204",
            "POST /oauth2/revoke 200",
        ],
        "only answers with an empty body may leave out their schema"
    );
}

#[tokio::test]
async fn every_error_response_declares_the_shape_of_its_body() {
    let document: Value = serde_json::from_str(&served_document().await).unwrap();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &response["content"]["application/json"]["schema"]["$ref"];
                    assert!(schema.is_string(), "{method} {path} {status} declares no error body");
                }
            }
        }
    }
}
