//! `trustgate-client` against a real Trustgate server started in the test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashSet;
use std::time::Duration;

use support::{custom, Backend, Credentials, Server};
use trustgate_client::{
    AdministratorsQuery, AuthScheme, Client, Error, ExposeSecret, NewNotification, SystemLogQuery, TokenEndpoint,
};
use trustgate_core::access::Access;
use trustgate_core::event::Actor;

fn client_of(server: &Server, credentials: &Credentials) -> trustgate_client::ClientBuilder {
    Client::builder(&server.url)
        .credentials(&credentials.id, credentials.secret.clone())
        .customer(&credentials.customer)
}

#[tokio::test]
async fn a_token_from_either_endpoint_in_any_shape_calls_the_apis_with_either_header_scheme() {
    let server = Server::start().await;
    let (_, _, credentials) = server.customer_with_client(custom(&["notifications"])).await;
    for endpoint in [TokenEndpoint::OAuthForm, TokenEndpoint::CitrixJson, TokenEndpoint::Legacy] {
        for scheme in [AuthScheme::CwsAuth, AuthScheme::Bearer] {
            let client = client_of(&server, &credentials).token_endpoint(endpoint).auth_scheme(scheme).build().unwrap();
            let listed = client.notifications().await;
            assert!(listed.is_ok(), "{endpoint:?} {scheme:?}: {listed:?}");
        }
    }
    // The customer's id in the token path, as Citrix's documentation writes it.
    let client = client_of(&server, &credentials).token_path_customer(&credentials.customer).build().unwrap();
    assert!(client.notifications().await.is_ok());
}

#[tokio::test]
async fn administrators_are_listed_a_page_at_a_time_and_one_by_id() {
    let server = Server::start().await;
    let (customer, owner, credentials) = server.customer_with_client(Access::Full).await;
    for _ in 0..4 {
        server.admin(&customer, custom(&["notifications"])).await;
    }
    let client = client_of(&server, &credentials).build().unwrap();

    let first = client.administrators(&AdministratorsQuery::page_size(2)).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let next = first.continuation_token.clone().expect("more pages");
    let second = client
        .administrators(&AdministratorsQuery { request_continuation: Some(next), ..AdministratorsQuery::page_size(2) })
        .await
        .unwrap();
    assert_eq!(second.items.len(), 2);

    let all = client.all_administrators(&AdministratorsQuery::page_size(2)).await.unwrap();
    let ids: HashSet<_> = all.iter().map(|a| a.user_id.clone()).collect();
    assert_eq!((all.len(), ids.len()), (5, 5), "every administrator once");
    assert!(first.items.iter().chain(&second.items).all(|a| ids.contains(&a.user_id)));
    assert!(all.iter().all(|a| a.customer_id == customer.as_str() && a.kind == "AdministratorUser"));

    let one = client.administrator(&owner.to_string()).await.unwrap().expect("the owner");
    assert_eq!((one.user_id, one.access_type.as_str()), (owner.to_string(), "Full"));
    assert!(client.administrator(&trustgate_core::ids::AdminId::generate().to_string()).await.unwrap().is_none());
}

#[tokio::test]
async fn a_notification_is_posted_and_listed() {
    notification_posted_and_listed(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_a_notification_is_posted_and_listed() {
    notification_posted_and_listed(Backend::Postgres).await;
}

async fn notification_posted_and_listed(backend: Backend) {
    let Some(server) = Server::start_on(backend).await else { return };
    let (_, _, credentials) = server.customer_with_client(custom(&["notifications"])).await;
    let client = client_of(&server, &credentials).build().unwrap();
    let mut sent = NewNotification::new("backup", "Backup done", "Every volume was copied.");
    sent.severity = Some("Success".to_owned());
    let stored = client.post_notification(&sent).await.unwrap();
    assert_eq!((stored.component.as_str(), stored.severity.as_str()), ("backup", "Success"));
    assert_eq!(stored.destination_admin, "*");
    assert!(!stored.event_id.is_empty());

    let listed = client.notifications().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].event_id, stored.event_id);
    assert_eq!(listed[0].content[0].title, "Backup done");
}

#[tokio::test]
async fn the_system_log_is_read_page_by_page_with_continuation() {
    let server = Server::start().await;
    let (customer, _, credentials) = server.customer_with_client(Access::Full).await;
    for _ in 0..5 {
        server.admin(&customer, custom(&["notifications"])).await;
    }
    let client = client_of(&server, &credentials).build().unwrap();

    let everything = client.system_log(&SystemLogQuery::page_size(200)).await.unwrap();
    assert!(everything.continuation_token.is_none());
    assert!(everything.items.len() >= 6, "an administrator added and a client created are logged");

    let first = client.system_log(&SystemLogQuery::page_size(2)).await.unwrap();
    assert_eq!(first.items.len(), 2);
    assert!(first.continuation_token.is_some());
    let paged = client.all_system_log(&SystemLogQuery::page_size(2)).await.unwrap();
    let ids = |records: &[trustgate_client::LogRecord]| records.iter().map(|r| r.record_id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&paged), ids(&everything.items), "the same records, in the same order, none twice");
    assert!(paged.iter().all(|r| r.customer_id == customer.as_str() && r.message.contains_key("en-US")));
}

#[tokio::test]
async fn the_token_is_kept_until_it_is_due_and_renewed_before_it_expires() {
    let server = Server::start().await;
    let (_, _, credentials) = server.customer_with_client(custom(&["notifications"])).await;

    let client = client_of(&server, &credentials).build().unwrap();
    let first = client.access_token().await.unwrap();
    client.notifications().await.unwrap();
    assert_eq!(client.access_token().await.unwrap().expose_secret(), first.expose_secret(), "kept");

    // Renewing an hour before expiry makes every token due at once: each call asks anew.
    let eager = client_of(&server, &credentials).renew_before(Duration::from_secs(3600)).build().unwrap();
    let one = eager.access_token().await.unwrap();
    let two = eager.access_token().await.unwrap();
    assert_ne!(one.expose_secret(), two.expose_secret(), "renewed when due");
    eager.notifications().await.unwrap();
}

#[tokio::test]
async fn a_revoked_token_is_renewed_once_on_401_and_the_call_succeeds() {
    let server = Server::start().await;
    let (_, _, credentials) = server.customer_with_client(custom(&["notifications"])).await;
    let client = client_of(&server, &credentials).build().unwrap();
    let revoked = client.access_token().await.unwrap();

    // Revoked behind the client's back (another process of the same script, an operator).
    let form = [
        ("token", revoked.expose_secret()),
        ("client_id", credentials.id.as_str()),
        ("client_secret", credentials.secret.as_str()),
    ];
    let response = reqwest::Client::new().post(format!("{}/oauth2/revoke", server.url)).form(&form).send().await;
    assert_eq!(response.unwrap().status(), 200);

    client.notifications().await.expect("renewed after the 401, then allowed");
    assert_ne!(client.access_token().await.unwrap().expose_secret(), revoked.expose_secret());

    // The client's own revocation forgets the token too.
    client.revoke_token().await.unwrap();
    client.notifications().await.expect("a new token");
}

#[tokio::test]
async fn refusals_are_typed_from_the_problem_and_oauth_bodies() {
    let server = Server::start().await;
    let (customer, owner, credentials) = server.customer_with_client(custom(&["notifications", "systemLog"])).await;
    let client = client_of(&server, &credentials).build().unwrap();

    let denied = client.administrators(&AdministratorsQuery::default()).await.unwrap_err();
    assert!(denied.is_forbidden(), "{denied:?}");
    let problem = denied.problem().expect("a problem body");
    assert_eq!(problem.kind(), "authorization");
    assert!(problem.reason().is_some_and(|r| r.contains("administrators")), "{problem:?}");

    let invalid = client.system_log(&SystemLogQuery::page_size(500)).await.unwrap_err();
    assert_eq!(invalid.status(), Some(400));
    assert_eq!(invalid.problem().and_then(|p| p.parameter("name")), Some("Limit"));

    let wrong = Credentials { secret: "not the secret".to_owned(), ..credentials.clone() };
    let refused = client_of(&server, &wrong).build().unwrap().notifications().await.unwrap_err();
    assert!(matches!(&refused, Error::Token(e) if e.error == "invalid_client"), "{refused:?}");
    assert!(refused.is_unauthenticated());

    // The client deleted while its token is held: the 401 renews once, and the renewal is refused.
    client.notifications().await.unwrap();
    let id = trustgate_core::ids::ClientId::parse(&credentials.id).unwrap();
    assert!(server.store.delete_client(&customer, owner, id, &Actor::System).await.unwrap());
    server.state.catch_up().await.unwrap();
    let gone = client.notifications().await.unwrap_err();
    assert!(matches!(&gone, Error::Token(e) if e.error == "invalid_client"), "{gone:?}");
}
