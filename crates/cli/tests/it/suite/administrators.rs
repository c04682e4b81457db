//! The Administrators API with Citrix's paths and schemas.

use reqwest::{Method, StatusCode};
use serde_json::json;
use trustgate_core::access::{Access, Permission};
use trustgate_core::customer::{Customer, DisabledOwnerPolicy};
use trustgate_core::event::Actor;
use trustgate_core::ids::CustomerId;

use crate::harness::{custom, TestApp};

async fn full_admin_token(app: &TestApp) -> (CustomerId, String) {
    let (customer, _, token) = app.customer_with_token(Access::Full).await;
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
        (json!({"providerType": "Okta"}), "invalidEnum"),
        (json!({"externalProviderType": "Ldap"}), "invalidEnum"),
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
    let response =
        app.citrix_post_raw("/administrators/$create", &token, &customer, "application/json", "{not json").await;
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
    let delegate = app.admin(&customer, custom(&[Permission::ADMINISTRATORS, Permission::NOTIFICATIONS])).await;
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
    let (customer, only, token) = app.customer_with_token(Access::Full).await;
    let (status, body) =
        app.call(Method::DELETE, &format!("/administrators/{}", only.id), &token, &customer, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let reduce = json!({"accessType": "Custom", "policies": [{"name": "notifications"}]});
    let (status, _) =
        app.call(Method::PUT, &format!("/administrators/access?id={}", only.id), &token, &customer, Some(reduce)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(app.get("/administrators", &token, &customer).await.0, StatusCode::OK, "nothing changed");
}

/// Sends `body` to `POST /administrators/$create` and returns the answer exactly as sent on the wire.
async fn create_raw(
    app: &TestApp,
    token: &str,
    customer: &CustomerId,
    body: &serde_json::Value,
) -> (StatusCode, String) {
    let request = app.citrix_request(Method::POST, "/administrators/$create", token, customer);
    let response = request.json(body).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// The generated parts of an `AdministratorResult` (the administrator's id and the membership's
/// timestamps) replaced by placeholders; every other byte is kept.
fn without_generated_values(raw: &str) -> String {
    let parsed: serde_json::Value = serde_json::from_str(raw).unwrap();
    let mut text = raw.to_owned();
    let generated =
        [("userId", "<id>"), ("createdDate", "<created>"), ("updatedDate", "<updated>"), ("invitationUrl", "<link>")];
    for (field, placeholder) in generated {
        if let Some(value) = parsed[field].as_str() {
            text = text.replace(value, placeholder);
        }
    }
    text
}

async fn named_customer(app: &TestApp, id: &str) -> CustomerId {
    let customer = Customer {
        id: CustomerId::parse(id).unwrap(),
        name: id.to_owned(),
        disabled_owner_policy: DisabledOwnerPolicy::KeepActive,
        require_local_mfa: false,
        lost_access_policy: trustgate_core::customer::LostAccessPolicy::RemoveFromCustomer,
        created_at: time::OffsetDateTime::now_utc(),
    };
    app.store.create_customer(&customer, &Actor::System).await.unwrap();
    customer.id
}

fn probes() -> [serde_json::Value; 2] {
    [
        json!({"accessType": "Custom", "providerType": "CitrixSts", "type": "AdministratorUser",
               "email": "shared@example.com", "displayName": "Probe",
               "policies": [{"name": "notifications", "checkable": {"value": true}}]}),
        json!({"accessType": "Custom", "providerType": "AzureAd", "type": "AdministratorUser",
               "email": "probe@acme.test", "displayName": "Probe F", "externalUserId": "aad-777",
               "policies": [{"name": "notifications", "checkable": {"value": true}}]}),
    ]
}

/// Customer A probes with the identities of customer B's administrators, then with the same
/// request in a deployment where nobody has them: the answers are the same bytes (ids and
/// timestamps aside), and A's later reads show only what A entered.
#[tokio::test]
async fn a_customer_learns_nothing_about_another_customers_administrators() {
    let Some(known) = super::app().await else { return };
    let Some(fresh) = super::app().await else { return };
    let b = named_customer(&known, "globex-b").await;
    let b_admin = known.admin(&b, Access::Full).await;
    let b_token = known.token(&known.client(&b, &b_admin).await).await;
    let b_people = [
        json!({"accessType": "Full", "providerType": "CitrixSts", "type": "AdministratorUser",
               "email": "shared@example.com", "displayName": "Bob Globex"}),
        json!({"accessType": "Full", "providerType": "AzureAd", "type": "AdministratorUser",
               "email": "fed@globex.test", "displayName": "Fed Globex", "externalUserId": "aad-777"}),
    ];
    let mut b_ids = Vec::new();
    for person in &b_people {
        let (status, body) =
            known.call(Method::POST, "/administrators/$create", &b_token, &b, Some(person.clone())).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        b_ids.push(body["userId"].as_str().unwrap().to_owned());
    }

    let mut answers = Vec::new();
    for app in [&known, &fresh] {
        let a = named_customer(app, "acme-a").await;
        let a_admin = app.admin(&a, Access::Full).await;
        let a_token = app.token(&app.client(&a, &a_admin).await).await;
        let mut bodies = Vec::new();
        for probe in probes() {
            let (status, raw) = create_raw(app, &a_token, &a, &probe).await;
            assert_eq!(status, StatusCode::OK, "{raw}");
            bodies.push(raw);
        }
        let (_, listed) = app.get("/administrators", &a_token, &a).await;
        answers.push((bodies, listed));
    }
    let (known_bodies, known_list) = &answers[0];
    let (fresh_bodies, _) = &answers[1];
    for (seen, unseen) in known_bodies.iter().zip(fresh_bodies) {
        assert_eq!(without_generated_values(seen), without_generated_values(unseen));
    }
    let listed = known_list.to_string();
    assert!(!listed.contains("Globex") && !listed.contains("globex"), "A's list shows only what A entered: {listed}");

    // The same person, not a copy: the local administrator signs in with their own password and
    // now administers both customers; B's view of them is untouched.
    let local: serde_json::Value = serde_json::from_str(&known_bodies[0]).unwrap();
    assert_eq!(local["userId"].as_str(), Some(b_ids[0].as_str()));
    let (_, b_view) = known.get(&format!("/administrators?id={}", b_ids[0]), &b_token, &b).await;
    assert_eq!(b_view["items"][0]["displayName"], "Bob Globex");
    assert_eq!(b_view["items"][0]["accessType"], "Full");
    let (_, b_fed) = known.get(&format!("/administrators?id={}", b_ids[1]), &b_token, &b).await;
    assert_eq!(b_fed["items"][0]["email"], "fed@globex.test");
}

#[tokio::test]
async fn administrators_answer_the_same_with_one_trailing_slash() {
    let Some(app) = super::app().await else { return };
    let (customer, token) = full_admin_token(&app).await;
    let without = app.get("/administrators", &token, &customer).await;
    assert_eq!(without.0, StatusCode::OK, "{}", without.1);
    assert_eq!(app.get("/administrators/", &token, &customer).await, without);
    let id = without.1["items"][0]["userId"].as_str().unwrap().to_owned();
    let access = app.get(&format!("/administrators/{id}/access"), &token, &customer).await;
    assert_eq!(access.0, StatusCode::OK, "{}", access.1);
    assert_eq!(app.get(&format!("/administrators/{id}/access/"), &token, &customer).await, access);
    let (status, _) = app.get("/administrators//", &token, &customer).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "only one trailing slash is dropped");
}

#[tokio::test]
async fn administrators_are_listed_in_citrix_field_order() {
    let Some(app) = super::app().await else { return };
    let (customer, token) = full_admin_token(&app).await;
    let raw = app.get_text("/administrators", &token, &customer).await;
    assert!(raw.starts_with("{\"items\":[{\"customerId\":"), "{raw}");
    assert!(raw.ends_with(",\"continuationToken\":null}"), "{raw}");
    crate::harness::assert_keys_in_order(
        &raw,
        "customerId ucOid userId type accessType firstName lastName displayName email \
         providerType providerId externalOid externalProviderType pending invitationExpired \
         legacyProviders createdDate updatedDate",
    );

    // The access template scripts read, edit and send back, in AdministratorAccessModel's order.
    let listed: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let id = listed["items"][0]["userId"].as_str().unwrap();
    let (status, access) = raw_administrators(&app, &format!("/administrators/{id}/access"), &token, &customer).await;
    assert_eq!(status, StatusCode::OK, "{access}");
    assert!(access.starts_with("{\"accessType\":\"Full\",\"policies\":[{\"name\":"), "{access}");
    crate::harness::assert_keys_in_order(
        &access,
        "name serviceName displayName checkable value canChangeValue scopeChoices \
         allScopesSelected choices",
    );
}

async fn raw_administrators(app: &TestApp, path: &str, token: &str, customer: &CustomerId) -> (StatusCode, String) {
    let response = app.citrix_request(Method::GET, path, token, customer).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// Citrix's Go SDK refuses a whole page on a `providerType` outside its enum, so Okta is expressed
/// as `CitrixSts` with `externalProviderType`, on the way in and on the way out.
#[tokio::test]
async fn provider_types_are_only_citrix_values_and_okta_is_an_external_provider() {
    let Some(app) = super::app().await else { return };
    let (customer, token) = full_admin_token(&app).await;
    let okta = json!({"accessType": "Full", "providerType": "CitrixSts", "externalProviderType": "Okta",
                      "type": "AdministratorUser", "email": "okta@example.com", "externalUserId": "00u1"});
    let (status, created) = app.call(Method::POST, "/administrators/$create", &token, &customer, Some(okta)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let azure = json!({"accessType": "Full", "providerType": "azuread", "type": "AdministratorUser",
                       "email": "aad@example.com", "externalUserId": "aad-1"});
    assert_eq!(
        app.call(Method::POST, "/administrators/$create", &token, &customer, Some(azure)).await.0,
        StatusCode::OK
    );
    let okta_id = created["userId"].as_str().unwrap().to_owned();

    let (status, raw) = raw_administrators(&app, &format!("/administrators?id={okta_id}"), &token, &customer).await;
    assert_eq!(status, StatusCode::OK, "{raw}");
    assert!(raw.contains(r#""providerType":"CitrixSts","providerId":null,"#), "{raw}");
    assert!(raw.contains(r#""externalOid":"00u1","externalProviderType":"Okta","#), "{raw}");

    let (_, raw) = raw_administrators(&app, "/administrators", &token, &customer).await;
    let page: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{raw}");
    for item in items {
        assert!(["Ad", "AzureAd", "CitrixSts", "Google"].contains(&item["providerType"].as_str().unwrap()), "{item}");
    }
    let external: Vec<_> = items.iter().map(|i| i["externalProviderType"].clone()).collect();
    assert!(external.contains(&json!("AzureAd")) && external.contains(&json!("Okta")), "{raw}");
    assert!(external.contains(&json!(null)), "a local administrator has no external provider: {raw}");

    let (_, raw) = raw_administrators(&app, "/administrators?providerType=AzureAd", &token, &customer).await;
    assert_eq!(raw.matches(r#""providerType":"#).count(), 1, "{raw}");
    assert!(raw.contains(r#""providerType":"AzureAd""#), "{raw}");
    let (_, raw) = raw_administrators(&app, "/administrators?type=ServicePrincipal", &token, &customer).await;
    assert!(raw.starts_with(r#"{"items":[],"#), "{raw}");
    for refused in ["/administrators?providerType=Okta", "/administrators?type=Robot"] {
        let (status, raw) = raw_administrators(&app, refused, &token, &customer).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}: {raw}");
        assert!(raw.contains("https://errors-api.cloud.com/common/invalidEnum"), "{raw}");
    }
}

/// Terraform's `citrix_cloud_admin_user` reads back what it sent: an Azure AD administrator's
/// tenant (`externalProviderId`) comes back as `providerId`, as does an AD administrator's domain,
/// from the create, the list and the CLI (issue #22).
#[tokio::test]
async fn a_federated_administrators_provider_id_is_returned_as_sent() {
    let Some(app) = super::app().await else { return };
    let (customer, token) = full_admin_token(&app).await;
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let cases = [
        ("AzureAd", "entra@example.com", Some(tenant), Some(tenant)),
        ("Ad", "ad@example.com", Some(" corp.example.com "), Some("corp.example.com")),
        ("AzureAd", "none@example.com", None, None),
        ("CitrixSts", "local@example.com", Some(tenant), None),
    ];
    for (provider, email, sent, expected) in cases {
        let mut body = json!({"accessType": "Full", "providerType": provider, "type": "AdministratorUser",
                              "email": email, "externalUserId": format!("sub-{email}")});
        if let Some(sent) = sent {
            body["externalProviderId"] = json!(sent);
        }
        let (status, created) = app.call(Method::POST, "/administrators/$create", &token, &customer, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{created}");
        assert_eq!(created["providerId"], json!(expected), "{provider}: {created}");
    }
    let (_, page) = app.get("/administrators", &token, &customer).await;
    let listed = |email: &str| {
        page["items"].as_array().unwrap().iter().find(|i| i["email"] == email).expect("listed")["providerId"].clone()
    };
    assert_eq!(listed("entra@example.com"), json!(tenant));
    assert_eq!(listed("ad@example.com"), json!("corp.example.com"));
    assert_eq!(listed("none@example.com"), json!(null));

    let long = json!({"accessType": "Full", "providerType": "AzureAd", "type": "AdministratorUser",
                      "email": "long@example.com", "externalProviderId": "x".repeat(257)});
    let (status, refused) = app.call(Method::POST, "/administrators/$create", &token, &customer, Some(long)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");

    let added = app
        .cli(&[
            "admin",
            "add",
            "--customer",
            customer.as_str(),
            "--email",
            "cli@example.com",
            "--provider",
            "azure-ad",
            "--external-id",
            "sub-cli",
            "--provider-id",
            tenant,
            "--access",
            "full",
        ])
        .await;
    assert_eq!(added["providerId"], tenant, "{added}");
    let listed = app.cli(&["admin", "list", "--customer", customer.as_str()]).await;
    let cli = listed["items"].as_array().unwrap().iter().find(|i| i["email"] == "cli@example.com").unwrap();
    assert_eq!(cli["providerId"], tenant, "{listed}");
    let (_, page) = app.get("/administrators", &token, &customer).await;
    let api = page["items"].as_array().unwrap().iter().find(|i| i["email"] == "cli@example.com").unwrap();
    assert_eq!(api["providerId"], tenant);
}
