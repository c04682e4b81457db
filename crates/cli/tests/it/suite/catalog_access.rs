//! Custom access offers the operator's catalog: the Administrators API template lists its
//! permissions with their `serviceName`, and policies sent back resolve against it.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use trustgate_core::access::{Access, Permission};
use trustgate_core::admin::Email;
use trustgate_core::ids::CustomerId;

use crate::harness::{custom, TestApp};

/// `orders_service!()` plus a `billing` service that also has a `read` permission.
const ORDERS_AND_BILLING: &str = concat!(
    orders_service!(),
    r#"
[[service]]
name = "billing"
display_name = "Billing"

[[permission]]
service = "billing"
name = "read"
display_name = "Read invoices"
"#
);

async fn apply(app: &TestApp, toml: &str) {
    app.apply_catalog(toml).await;
}

fn orders(name: &str) -> Permission {
    Permission::of("orders", name).expect("a permission name")
}

async fn token_of(app: &TestApp, customer: &CustomerId, access: Access) -> (trustgate_core::ids::AdminId, String) {
    let admin = app.admin(customer, access).await;
    let token = app.token(&app.client(customer, &admin).await).await;
    (admin.id, token)
}

fn policy<'a>(template: &'a Value, service: &str, name: &str) -> &'a Value {
    template["policies"]
        .as_array()
        .expect("policies")
        .iter()
        .find(|p| p["serviceName"] == service && p["name"] == name)
        .unwrap_or_else(|| panic!("{service}.{name} is offered: {template}"))
}

#[tokio::test]
async fn the_access_template_offers_every_permission_of_the_catalog_with_its_service_name() {
    let Some(app) = super::app().await else { return };
    apply(&app, orders_service!()).await;
    let (customer, me, token) = app.customer_with_token(Access::Full).await;
    let me = me.id;
    let (status, template) = app.get(&format!("/administrators/{me}/access"), &token, &customer).await;
    assert_eq!(status, StatusCode::OK, "{template}");
    let offered: Vec<String> = template["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{}/{}", p["serviceName"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        offered,
        [
            "Platform/administrators",
            "Platform/apiClients",
            "Platform/notifications",
            "Platform/systemLog",
            "Platform/resourceLocations",
            "orders/read",
            "orders/write"
        ],
        "Platform first, then the catalog's"
    );
    let read = policy(&template, "orders", "read");
    assert_eq!(read["displayName"], "Read orders");
    assert_eq!(read["checkable"]["value"], true, "a Full administrator holds it");
    let raw = app.get_text(&format!("/administrators/{me}/access"), &token, &customer).await;
    let orders_read = &raw[raw.find(r#"{"name":"read""#).expect("orders.read in the raw body")..];
    crate::harness::assert_key_order(orders_read, &["name", "serviceName", "displayName", "checkable", "scopeChoices"]);

    // A Custom administrator sees every assignable policy, checked where they hold it.
    let (reader, reader_token) = token_of(&app, &customer, custom(&[Permission::ADMINISTRATORS, orders("read")])).await;
    let (status, own) = app.get(&format!("/administrators/{reader}/access"), &reader_token, &customer).await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own["policies"].as_array().unwrap().len(), 7, "{own}");
    assert_eq!(policy(&own, "orders", "read")["checkable"]["value"], true);
    assert_eq!(policy(&own, "orders", "write")["checkable"]["value"], false);
    assert_eq!(policy(&own, "Platform", "notifications")["checkable"]["value"], false);
}

#[tokio::test]
async fn an_administrator_is_granted_a_catalog_permission_through_the_administrators_api() {
    let Some(app) = super::app().await else { return };
    apply(&app, orders_service!()).await;
    let (customer, _, token) = app.customer_with_token(Access::Full).await;
    let body = json!({
        "accessType": "Custom", "providerType": "CitrixSts", "type": "AdministratorUser",
        "email": "reader@example.com",
        "policies": [{"name": "read", "serviceName": "orders", "checkable": {"value": true}},
                     {"name": "write", "serviceName": "orders", "checkable": {"value": false}}]
    });
    let (status, created) = app.call(Method::POST, "/administrators/$create", &token, &customer, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["userId"].as_str().unwrap().to_owned();
    let member = app.store.member(&customer, id.parse().unwrap()).await.unwrap().expect("a member");
    assert_eq!(member.access, custom(&[orders("read")]));

    // The template read back, edited and sent back: a Citrix script's round trip.
    let (_, mut template) = app.get(&format!("/administrators/{id}/access"), &token, &customer).await;
    for p in template["policies"].as_array_mut().unwrap() {
        if p["serviceName"] == "orders" && p["name"] == "write" {
            p["checkable"]["value"] = json!(true);
        }
    }
    let put = json!({"accessType": "Custom", "policies": template["policies"]});
    let (status, after) =
        app.call(Method::PUT, &format!("/administrators/access?id={id}"), &token, &customer, Some(put)).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(policy(&after, "orders", "write")["checkable"]["value"], true);
    let member = app.store.member(&customer, id.parse().unwrap()).await.unwrap().expect("a member");
    assert_eq!(member.access, custom(&[orders("read"), orders("write")]));

    // Without serviceName, a name only one service offers is enough.
    let put = json!({"accessType": "Custom", "policies": [{"name": "write"}]});
    let (status, after) =
        app.call(Method::PUT, &format!("/administrators/access?id={id}"), &token, &customer, Some(put)).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    let member = app.store.member(&customer, id.parse().unwrap()).await.unwrap().expect("a member");
    assert_eq!(member.access, custom(&[orders("write")]));
}

#[tokio::test]
async fn an_ambiguous_or_unknown_policy_is_refused_naming_the_choices() {
    let Some(app) = super::app().await else { return };
    apply(&app, ORDERS_AND_BILLING).await;
    let customer = app.customer().await;
    let (_, token) = token_of(&app, &customer, Access::Full).await;
    let create = |policies: Value| {
        json!({"accessType": "Custom", "providerType": "CitrixSts", "type": "AdministratorUser",
               "email": "someone@example.com", "policies": policies})
    };
    let refused = [
        (json!([{"name": "read"}]), "orders, billing"),
        (json!([{"name": "delete", "serviceName": "orders"}]), "orders.write"),
        (json!([{"name": "delete"}]), "billing.read"),
        (json!([{"name": "read", "serviceName": "shipping"}]), "orders.read"),
    ];
    for (policies, named) in refused {
        let (status, body) =
            app.call(Method::POST, "/administrators/$create", &token, &customer, Some(create(policies.clone()))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{policies}: {body}");
        let text = body.to_string();
        assert!(text.contains("policies") && text.contains(named), "{policies} names {named}: {body}");
    }
    assert!(
        app.store.admin_by_email(&Email::parse("someone@example.com").unwrap()).await.unwrap().is_none(),
        "nothing was written"
    );

    let principal = json!({"name": "reporter", "accessType": "Custom", "policies": [{"name": "read"}]});
    let session = app.sign_in(&app.admin_with_password(&customer, Access::Full).await).await;
    let (status, body) = app
        .as_admin(&session, Method::POST, &format!("/api/v1/customers/{customer}/service-principals"), Some(principal))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a principal's access the same way: {body}");
}

#[tokio::test]
async fn a_custom_administrator_cannot_grant_a_catalog_permission_they_do_not_hold() {
    let Some(app) = super::app().await else { return };
    apply(&app, orders_service!()).await;
    let customer = app.customer().await;
    let (_, token) = token_of(&app, &customer, custom(&[Permission::ADMINISTRATORS, orders("read")])).await;
    let create = |name: &str, email: &str| {
        json!({"accessType": "Custom", "providerType": "CitrixSts", "type": "AdministratorUser", "email": email,
               "policies": [{"name": name, "serviceName": "orders"}]})
    };
    let (status, body) = app
        .call(Method::POST, "/administrators/$create", &token, &customer, Some(create("write", "w@example.com")))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app
        .call(Method::POST, "/administrators/$create", &token, &customer, Some(create("read", "r@example.com")))
        .await;
    assert_eq!(status, StatusCode::OK, "what they hold they may grant: {body}");
}
