//! The Administrators API with Citrix's paths and schemas.

use reqwest::{Method, StatusCode};
use serde_json::json;
use trustgate_core::access::{Access, Permission};

use crate::harness::{custom, TestApp};

async fn full_admin_token(app: &TestApp) -> (trustgate_core::ids::CustomerId, String) {
    let customer = app.customer().await;
    let admin = app.admin(&customer, Access::Full).await;
    let token = app.token(&app.client(&customer, &admin).await).await;
    (customer, token)
}

#[tokio::test]
async fn administrators_can_be_listed_created_read_and_paged() {
    let Some(app) = super::app().await else { return };
    let (customer, token) = full_admin_token(&app).await;
    let body = json!({
        "accessType": "Custom", "providerType": "AzureAd", "type": "AdministratorUser",
        "email": "Grace@Example.com", "displayName": "Grace Hopper", "externalUserId": "aad-123",
        "policies": [{"name": "notifications", "serviceName": "Platform", "checkable": {"value": true}},
                     {"name": "systemLog", "serviceName": "Platform", "checkable": {"value": false}}]
    });
    let (status, created) =
        app.call(Method::POST, "/administrators/$create", &token, &customer, Some(body.clone())).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["email"], "grace@example.com");
    assert_eq!(created["providerType"], "AzureAd");
    assert_eq!(created["accessType"], "Custom");
    assert_eq!(created["customerId"], json!(customer.as_str()));
    let id = created["userId"].as_str().unwrap().to_owned();
    assert_eq!(created["ucOid"], json!(format!("OID:/citrix/{id}")));

    let (status, again) = app.call(Method::POST, "/administrators/$create", &token, &customer, Some(body)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");

    let (_, access) = app.get(&format!("/administrators/{id}/access"), &token, &customer).await;
    assert_eq!(access["accessType"], "Custom");
    let granted: Vec<_> = access["policies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["checkable"]["value"] == true)
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(granted, vec![json!("notifications")]);

    let (status, page) = app.get("/administrators?maxItemCount=1", &token, &customer).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let next = page["continuationToken"].as_str().expect("a second page").to_owned();
    let (_, second) =
        app.get(&format!("/administrators?maxItemCount=1&requestContinuation={next}"), &token, &customer).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["continuationToken"], json!(null));
    assert_ne!(page["items"][0]["userId"], second["items"][0]["userId"]);
    assert_eq!(app.get("/administrators?maxItemCount=0", &token, &customer).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_administrator_input_gets_clear_400s() {
    let Some(app) = super::app().await else { return };
    let (customer, token) = full_admin_token(&app).await;
    let base = json!({"accessType": "Custom", "providerType": "CitrixSts", "type": "AdministratorUser", "email": "x@example.com"});
    let cases = [
        (json!({"accessType": "Sometimes"}), "invalidEnum"),
        (json!({"type": "AdministratorGroup"}), "invalidEnum"),
        (json!({"providerType": "Ldap"}), "invalidEnum"),
        (json!({"email": "nope"}), "invalidString"),
        (json!({"policies": [{"name": "everything"}]}), "invalidEnum"),
        (json!({"displayName": "<script>"}), "invalidString"),
    ];
    for (patch, kind) in cases {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, answer) = app.call(Method::POST, "/administrators/$create", &token, &customer, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{patch} → {answer}");
        assert_eq!(answer["type"], json!(format!("https://errors-api.cloud.com/common/{kind}")), "{patch}");
    }
    let response = app
        .http
        .post(app.url("/administrators/$create"))
        .header("authorization", format!("CwsAuth Bearer={token}"))
        .header("citrix-customerid", customer.as_str())
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, body) = crate::harness::status_and_json(response).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (StatusCode::BAD_REQUEST, Some("https://errors-api.cloud.com/common/invalidJson"))
    );
    let (status, _) = app.call(Method::GET, "/administrators/not-an-id/access", &token, &customer, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_custom_administrator_cannot_grant_more_than_it_holds() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let full = app.admin(&customer, Access::Full).await;
    let delegate = app.admin(&customer, custom(&[Permission::Administrators, Permission::Notifications])).await;
    let token = app.token(&app.client(&customer, &delegate).await).await;
    let escalate = json!({"accessType": "Full", "providerType": "CitrixSts", "type": "AdministratorUser", "email": "e@example.com"});
    let (status, _) = app.call(Method::POST, "/administrators/$create", &token, &customer, Some(escalate)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.call(Method::DELETE, &format!("/administrators/{}", full.id), &token, &customer, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a Custom admin cannot remove a Full one");
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/administrators/access?id={}", delegate.id),
            &token,
            &customer,
            Some(json!({"accessType": "Full", "policies": null})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "nor raise itself to Full");
}

#[tokio::test]
async fn the_last_full_administrator_cannot_be_removed_or_reduced() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let only = app.admin(&customer, Access::Full).await;
    let token = app.token(&app.client(&customer, &only).await).await;
    let (status, body) =
        app.call(Method::DELETE, &format!("/administrators/{}", only.id), &token, &customer, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let reduce = json!({"accessType": "Custom", "policies": [{"name": "notifications"}]});
    let (status, _) =
        app.call(Method::PUT, &format!("/administrators/access?id={}", only.id), &token, &customer, Some(reduce)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(app.get("/administrators", &token, &customer).await.0, StatusCode::OK, "nothing changed");
}
