//! Lifecycle rules decided in one place and applied inside the write transaction, under the
//! customer's lock: concurrent changes cannot slip between a check and the write it guards.

use reqwest::{Method, StatusCode};
use serde_json::json;
use trustgate_core::access::Access;
use trustgate_core::ids::{AdminId, CustomerId};

use crate::harness::TestApp;

const ROUNDS: usize = 50;

async fn full_admins(app: &TestApp, customer: &CustomerId) -> usize {
    let members = app.store.members(customer, None, 100).await.unwrap();
    members.iter().filter(|m| m.access == Access::Full).count()
}

/// One Full administrator's API client removes, or reduces to Custom, the other.
async fn act_on(app: &TestApp, token: &str, customer: &CustomerId, other: AdminId, reduce: bool) -> StatusCode {
    if reduce {
        let body = json!({ "accessType": "Custom", "policies": [{ "name": "notifications", "checkable": { "value": true } }] });
        app.call(Method::PUT, &format!("/administrators/access?id={other}"), token, customer, Some(body)).await.0
    } else {
        app.call(Method::DELETE, &format!("/administrators/{other}"), token, customer, None).await.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_full_admins_removing_or_reducing_each_other_at_once_leave_exactly_one() {
    let Some(app) = super::app().await else { return };
    for round in 0..ROUNDS {
        let reduce = round % 2 == 1;
        let customer = app.customer().await;
        let (a, b) = (app.admin(&customer, Access::Full).await, app.admin(&customer, Access::Full).await);
        let (client_a, client_b) = (app.client(&customer, &a).await, app.client(&customer, &b).await);
        let (token_a, token_b) = (app.token(&client_a).await, app.token(&client_b).await);
        let (by_a, by_b) = tokio::join!(
            act_on(&app, &token_a, &customer, b.id, reduce),
            act_on(&app, &token_b, &customer, a.id, reduce)
        );
        let what = if reduce { "reducing" } else { "removing" };
        assert_eq!(
            full_admins(&app, &customer).await,
            1,
            "round {round} ({what} each other): answers {by_a} and {by_b}"
        );
        let answers = [by_a, by_b];
        assert_eq!(answers.iter().filter(|s| **s == StatusCode::OK).count(), 1, "round {round}: {answers:?}");
        assert!(
            answers.iter().all(|s| [StatusCode::OK, StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(s)),
            "round {round}: the loser is refused for lacking the right, never with a 5xx: {answers:?}"
        );
    }
}
