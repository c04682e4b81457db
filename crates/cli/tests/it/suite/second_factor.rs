//! A second factor for administrators who sign in with a password (issue #25, items 4–6), over
//! HTTP: the management API's sign-in does the second step, each code is accepted once, guesses
//! are throttled like passwords, another Full administrator resets a lost factor (ending the
//! sessions, in the system log with its actor), and a customer's policy sends an administrator
//! without a factor to enrol before anything else.

use reqwest::redirect::Policy;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use trustgate_core::access::{Access, Permission};
use trustgate_core::event::Actor;
use trustgate_server::ServerConfig;

use crate::harness::{custom, status_and_json, Session, TestAdmin, TestApp};
use crate::totp;

async fn session_attempt(app: &TestApp, admin: &TestAdmin, code: Option<&str>) -> reqwest::Response {
    let mut body = json!({ "email": admin.email, "password": admin.password });
    if let Some(code) = code {
        body["code"] = json!(code);
    }
    app.post_json("/api/v1/session", &body).await
}

async fn status_of(app: &TestApp, admin: &TestAdmin, code: Option<&str>) -> (StatusCode, Value) {
    status_and_json(session_attempt(app, admin, code).await).await
}

#[tokio::test]
async fn the_management_sign_in_asks_for_the_second_factor_and_takes_each_code_once() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    let enrolled = totp::enrol(&app, &admin).await;

    let (status, body) = status_of(&app, &admin, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a right password alone is not enough: {body}");
    assert!(body.to_string().contains("second factor"), "{body}");
    assert_eq!(status_of(&app, &admin, Some("000000")).await.0, StatusCode::UNAUTHORIZED);

    // The enrolment spent this time step; the app's next code is within the allowed drift.
    let code = totp::code(&enrolled.secret, 1);
    assert_eq!(status_of(&app, &admin, Some(&code)).await.0, StatusCode::OK);
    let (replayed, body) = status_of(&app, &admin, Some(&code)).await;
    assert_eq!(replayed, StatusCode::UNAUTHORIZED, "a code is accepted once (RFC 6238 §5.2): {body}");
    let earlier = totp::code(&enrolled.secret, 0);
    assert_eq!(status_of(&app, &admin, Some(&earlier)).await.0, StatusCode::UNAUTHORIZED, "an older step neither");

    let recovery = &enrolled.recovery[3];
    assert_eq!(status_of(&app, &admin, Some(&recovery.to_uppercase())).await.0, StatusCode::OK);
    assert_eq!(status_of(&app, &admin, Some(recovery)).await.0, StatusCode::UNAUTHORIZED, "a recovery code works once");
    assert_eq!(status_of(&app, &admin, Some(&enrolled.recovery[4])).await.0, StatusCode::OK, "the others still do");

    let log = app.log_of(&customer, "platform:signin/success").await;
    assert!(log.iter().any(|r| r.message.contains("with a recovery code (8 recovery codes left)")), "{log:?}");
    let failures = app.log_of(&customer, "platform:signin/failure").await;
    assert!(failures[0].message.contains("second-factor code"), "{}", failures[0].message);
}

#[tokio::test]
async fn second_factor_guesses_are_throttled_like_passwords() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    let enrolled = totp::enrol(&app, &admin).await;
    let limit = ServerConfig::default().sign_in_throttle.failures.get();
    // The allowance, then the failure that goes past it and locks the source out, as for passwords.
    for n in 0..=limit {
        let (status, _) = status_of(&app, &admin, Some("123456")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "guess {n} is refused, not yet throttled");
    }
    let locked = session_attempt(&app, &admin, Some("123456")).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers().contains_key("retry-after"));
    let right = totp::code(&enrolled.secret, 1);
    assert_eq!(
        status_of(&app, &admin, Some(&right)).await.0,
        StatusCode::TOO_MANY_REQUESTS,
        "while locked out, not even the right code is checked from that source"
    );
}

/// Posts a console form as the signed-in `session`, without following the redirect.
async fn console_post(app: &TestApp, session: &Session, path: &str) -> reqwest::Response {
    let client = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    client
        .post(app.url(path))
        .header("cookie", &session.cookie)
        .form(&[("csrf", session.csrf.as_str())])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn another_full_administrator_resets_a_lost_factor_which_ends_the_sessions_and_is_logged() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let full = app.admin_with_password(&customer, Access::Full).await;
    let lost = app.admin_with_password(&customer, Access::Full).await;
    let custom_admin = app.admin_with_password(&customer, custom(&[Permission::ADMINISTRATORS])).await;
    let enrolled = totp::enrol(&app, &lost).await;
    let theirs = app.session_for(&lost).await;
    let reset = format!("/console/c/{customer}/administrators/{}/reset-second-factor", lost.id);

    let own = console_post(&app, &theirs, &reset).await;
    assert_eq!(own.status(), StatusCode::FORBIDDEN, "nobody resets their own factor");
    let by_custom = console_post(&app, &app.sign_in(&custom_admin).await, &reset).await;
    assert_eq!(by_custom.status(), StatusCode::FORBIDDEN, "Custom access does not reset factors");
    assert_eq!(app.as_admin(&theirs, Method::GET, "/api/v1/session", None).await.0, StatusCode::OK);

    let done = console_post(&app, &app.sign_in(&full).await, &reset).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.as_admin(&theirs, Method::GET, "/api/v1/session", None).await.0,
        StatusCode::UNAUTHORIZED,
        "their sessions ended with the factor"
    );
    let records = app.log_of(&customer, "platform:administrator/mfaReset").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].actor_id.as_deref(), Some(full.id.to_string().as_str()), "{:?}", records[0]);
    assert_eq!(records[0].target_id, lost.id.to_string());

    // The old codes are gone: the password alone signs in again (the customer does not require a factor).
    assert_eq!(status_of(&app, &lost, Some(&totp::code(&enrolled.secret, 1))).await.0, StatusCode::OK);
    assert_eq!(status_of(&app, &lost, None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_operator_resets_the_factor_of_a_customer_whose_only_full_administrator_lost_it() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let only = app.admin_with_password(&customer, Access::Full).await;
    totp::enrol(&app, &only).await;
    let session = app.session_for(&only).await;
    let args = ["admin", "reset-mfa", "--customer", customer.as_str(), "--admin", &only.email];
    assert_eq!(app.cli(&args).await["reset"], json!(true));
    assert!(app.store.totp(only.id).await.unwrap().is_none());
    assert_eq!(app.as_admin(&session, Method::GET, "/api/v1/session", None).await.0, StatusCode::UNAUTHORIZED);
    let records = app.log_of(&customer, "platform:administrator/mfaReset").await;
    assert_eq!((records.len(), records[0].actor_type.as_str()), (1, "System"));
    assert_eq!(app.cli(&args).await["reset"], json!(false), "nothing left to reset");
}

#[tokio::test]
async fn an_administrator_of_another_customer_cannot_reset_a_factor() {
    let Some(app) = super::app().await else { return };
    let (mine, theirs) = (app.customer().await, app.customer().await);
    let stranger = app.admin_with_password(&mine, Access::Full).await;
    let victim = app.admin_with_password(&theirs, Access::Full).await;
    totp::enrol(&app, &victim).await;
    let session = app.sign_in(&stranger).await;
    for customer in [&mine, &theirs] {
        let path = format!("/console/c/{customer}/administrators/{}/reset-second-factor", victim.id);
        let answer = console_post(&app, &session, &path).await;
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "through {customer}");
    }
    let actor = Actor::Admin { id: stranger.id, name: stranger.email.clone() };
    assert!(app.store.reset_second_factor(&theirs, victim.id, &actor).await.is_err(), "the store refuses it too");
    assert!(app.store.totp(victim.id).await.unwrap().is_some_and(|t| t.confirmed));
}

#[tokio::test]
async fn a_customer_requiring_a_second_factor_sends_administrators_without_one_to_enrol_first() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    app.store.set_local_mfa_policy(&customer, true, &Actor::System).await.unwrap();
    let policy = app.log_of(&customer, "platform:customer/update").await;
    assert!(policy.iter().any(|r| r.after == Some(json!({ "requireLocalMfa": true }))), "{policy:?}");

    let (status, body) = status_of(&app, &admin, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the API opens no session before enrolment: {body}");

    // The console: the sign-in form's token, then the password, then the enrolment and nothing else.
    let client = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let form = client.get(app.url("/console/sign-in")).send().await.unwrap();
    let cookie = form.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    let page = form.text().await.unwrap();
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let signed = client
        .post(app.url("/console/sign-in"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("email", &admin.email), ("password", &admin.password), ("next", "/console")])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    assert!(signed.headers()["location"].to_str().unwrap().starts_with("/console/sign-in/enrol"));
    let cookies: Vec<&str> = signed.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert!(!cookies.iter().any(|c| c.starts_with("tg_session=")), "no session before enrolment: {cookies:?}");
    let pending = cookies.iter().find(|c| c.starts_with("tg_mfa=")).unwrap().split(';').next().unwrap();
    let console =
        client.get(app.url(&format!("/console/c/{customer}"))).header("cookie", pending).send().await.unwrap();
    assert_eq!(console.status(), StatusCode::SEE_OTHER, "the pending sign-in opens nothing else");
    assert!(console.headers()["location"].to_str().unwrap().starts_with("/console/sign-in"));

    // A customer that does not require it leaves its administrators as they were.
    app.store.set_local_mfa_policy(&customer, false, &Actor::System).await.unwrap();
    assert_eq!(status_of(&app, &admin, None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn rotating_the_server_key_reseals_second_factors_and_their_codes_still_sign_in() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    let enrolled = totp::enrol(&app, &admin).await;
    let before = app.store.sealed_totp_secrets().await.unwrap();

    let _socket = trustgate_server::control_socket::ControlSocket::open(app.dir.path(), app.state.clone())
        .await
        .expect("the control socket");
    let rotated = app.cli(&["keys", "rotate-server-key"]).await;
    app.state.catch_up().await.unwrap();
    assert_eq!(rotated["resealedSecondFactors"], 1, "{rotated}");
    let after = app.store.sealed_totp_secrets().await.unwrap();
    assert_ne!(before[0].1, after[0].1, "sealed again");

    assert_eq!(status_of(&app, &admin, Some(&totp::code(&enrolled.secret, 1))).await.0, StatusCode::OK);
    assert_eq!(status_of(&app, &admin, Some(&enrolled.recovery[0])).await.0, StatusCode::OK, "under the retired key");
}

/// The sign-in page's form token and the cookie that carries it, from a page the server rendered.
fn sign_in_form(response_cookies: &[String], page: &str) -> (String, String) {
    let cookie = response_cookies.iter().find(|c| c.starts_with("tg_signin=")).unwrap().split(';').next().unwrap();
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap();
    (cookie.to_owned(), csrf.to_owned())
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn passkey_answers_without_a_challenge_are_refused_and_throttled_like_passwords() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    crate::passkeys::enrol(&app, &admin).await;
    let client = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let page = client.get(app.url("/console/sign-in")).send().await.unwrap();
    let (mut cookie, mut csrf) = sign_in_form(&set_cookies(&page), &page.text().await.unwrap());
    let answer = json!({ "id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {
        "authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA", "userHandle": null } })
    .to_string();
    let limit = ServerConfig::default().sign_in_throttle.failures.get();
    let mut statuses = Vec::new();
    for _ in 0..=limit + 1 {
        let posted = client
            .post(app.url("/console/sign-in/passkey"))
            .header("cookie", &cookie)
            .form(&[("csrf", csrf.as_str()), ("email", &admin.email), ("credential", &answer), ("next", "/console")])
            .send()
            .await
            .unwrap();
        statuses.push(posted.status());
        // Each page answering a refusal is a new sign-in form.
        (cookie, csrf) = sign_in_form(&set_cookies(&posted), &posted.text().await.unwrap());
    }
    let refused = usize::try_from(limit).unwrap() + 1;
    assert!(statuses[..refused].iter().all(|s| *s == StatusCode::UNAUTHORIZED), "{statuses:?}");
    assert_eq!(statuses[refused], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    let failures = app.log_of(&customer, "platform:signin/failure").await;
    assert!(failures[0].message.contains("passkey was not accepted"), "{}", failures[0].message);
    assert!(app.log_of(&customer, "platform:signin/success").await.is_empty());
}

#[tokio::test]
async fn a_passkey_ceremony_is_taken_once_and_not_after_it_expires() {
    let Some(app) = super::app().await else { return };
    let now = time::OffsetDateTime::now_utc();
    let later = now + time::Duration::minutes(5);
    app.store.put_ceremony(b"bound-1", None, "{\"challenge\":1}", later).await.unwrap();
    let taken = app.store.take_ceremony(b"bound-1", now).await.unwrap().expect("the ceremony");
    assert_eq!(taken.state, "{\"challenge\":1}");
    assert!(app.store.take_ceremony(b"bound-1", now).await.unwrap().is_none(), "a challenge is answered once");
    app.store.put_ceremony(b"bound-2", None, "{}", later).await.unwrap();
    let expired = app.store.take_ceremony(b"bound-2", later + time::Duration::seconds(1)).await.unwrap();
    assert!(expired.is_none(), "nor after it expired");
}

#[tokio::test]
async fn a_passkey_is_one_administrators_and_its_counter_only_moves_on() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    let other = app.admin_with_password(&customer, Access::Full).await;
    crate::passkeys::enrol(&app, &admin).await;
    let credential = app.store.passkeys(admin.id).await.unwrap()[0].credential_id.clone();
    let now = time::OffsetDateTime::now_utc();
    assert!(app.store.use_passkey(admin.id, &credential, 5, "{}", now).await.unwrap());
    assert!(!app.store.use_passkey(admin.id, &credential, 5, "{}", now).await.unwrap(), "the same counter again");
    assert!(!app.store.use_passkey(admin.id, &credential, 4, "{}", now).await.unwrap(), "a counter going back");
    assert!(!app.store.use_passkey(other.id, &credential, 9, "{}", now).await.unwrap(), "another's credential");
    assert!(app.store.use_passkey(admin.id, &credential, 6, "{}", now).await.unwrap());

    // The credential id is registered once in the whole deployment.
    let mut copy = app.store.passkeys(admin.id).await.unwrap().remove(0);
    copy.id = trustgate_core::ids::PasskeyId::generate();
    copy.admin_id = other.id;
    let record = app.store.admin(other.id).await.unwrap().unwrap();
    assert!(!app.store.add_passkey(&record, &copy).await.unwrap());
    assert!(app.store.passkeys(other.id).await.unwrap().is_empty());
    let enrolled = app.log_of(&customer, "platform:administrator/mfaEnrolled").await;
    assert_eq!(enrolled.len(), 1, "{enrolled:?}");
}
