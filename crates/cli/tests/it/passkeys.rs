//! Passkeys in a real headless Chromium (issue #25 item 4), with the authenticator WebDriver's
//! virtual authenticators give it (W3C WebAuthn §11.3): a platform authenticator that keeps its
//! credentials and verifies its user. The server's public URL names `localhost`, as WebAuthn takes
//! no IP address as a relying party's id.

use serde_json::Value;
use time::OffsetDateTime;
use trustgate_core::access::Access;
use trustgate_core::event::Actor;
use trustgate_core::ids::PasskeyId;
use trustgate_store::StoredPasskey;

use crate::browser::Browser;
use crate::harness::{TestAdmin, TestApp};

/// Gives `admin` a passkey in the store directly, for tests that only need them to hold one (its
/// credential is not one any authenticator has: it never signs in).
pub async fn enrol(app: &TestApp, admin: &TestAdmin) {
    let record = app.store.admin(admin.id).await.unwrap().expect("the administrator");
    let passkey = StoredPasskey {
        id: PasskeyId::generate(),
        admin_id: admin.id,
        name: "Test key".to_owned(),
        credential_id: admin.id.to_string().into_bytes(),
        passkey: "{}".to_owned(),
        sign_count: 0,
        created_at: OffsetDateTime::now_utc(),
        last_used_at: None,
    };
    assert!(app.store.add_passkey(&record, &passkey).await.unwrap());
}

/// A browser with a virtual authenticator, a server at `localhost`, and a local administrator who
/// registered a passkey named "Laptop" from their sign-in security page, then signed out.
async fn registered() -> Option<(Browser, TestApp, TestAdmin)> {
    let browser = Browser::start().await?;
    browser.add_virtual_authenticator().await;
    let app = TestApp::spawn_on_localhost().await;
    let customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    browser.password_step(&app, &admin).await;
    browser.wait_for_url(|u| u.contains("/console/c/")).await;
    browser.click("#sign-in-security").await;
    // No factor yet: the enrolment page offers the authenticator app or a passkey. The session
    // alone does not add one: the password is asked for again.
    browser.type_into("#passkey-name", "Laptop").await;
    browser.type_into("#passkey-password", "not the password").await;
    browser.click("#register-passkey").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !browser.text_of("#passkey-error").await.contains("not your password") {
        assert!(std::time::Instant::now() < deadline, "a wrong password is refused and said so");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(app.store.passkeys(admin.id).await.unwrap().is_empty());
    browser.type_into("#passkey-password", &admin.password).await;
    browser.click("#register-passkey").await;
    browser.find("#passkey-list").await;
    assert!(browser.text_of("#passkey-list").await.contains("Laptop"));
    assert!(browser.text_of("#second-factor-state").await.contains("passkey"));
    browser.sign_out().await;
    Some((browser, app, admin))
}

#[tokio::test]
async fn an_administrator_registers_a_passkey_then_signs_in_with_password_and_passkey() {
    let Some((browser, app, admin)) = registered().await else { return };
    let Some(axe) = crate::console::axe_source() else { return };
    browser.password_step(&app, &admin).await;
    browser.wait_for_url(|u| u.contains("/console/sign-in/second-factor")).await;
    assert!(browser.find_all("#code").await.is_empty(), "no authenticator app: no code is asked for");
    let mut violations = crate::console::axe_violations(&browser, &axe).await;
    browser.click("#use-passkey").await;
    browser.wait_for_url(|u| u.contains("/console/c/")).await;
    let held = app.store.passkeys(admin.id).await.unwrap();
    assert!(held[0].last_used_at.is_some(), "the sign-in is recorded with the passkey");
    browser.goto(&app.url("/console/account/second-factor")).await;
    browser.find("#passkey-list").await;
    violations.extend(crate::console::axe_violations(&browser, &axe).await);
    assert!(violations.is_empty(), "axe-core: {violations:?}");

    // Their own passkey, deleted by them: holding no factor, they are offered one again, and
    // sign in with the password alone.
    browser.click("#passkey-list button").await;
    browser.find("#enrol-form").await;
    assert!(app.store.passkeys(admin.id).await.unwrap().is_empty());
    browser.goto(&app.url("/console")).await;
    browser.sign_out().await;
    browser.password_step(&app, &admin).await;
    browser.wait_for_url(|u| u.contains("/console/c/")).await;
}

#[tokio::test]
async fn a_passkey_alone_signs_in_without_the_password() {
    let Some((browser, app, admin)) = registered().await else { return };
    browser.goto(&app.url("/console/sign-in")).await;
    browser.type_into("#email", &admin.email).await;
    browser.click("#sign-in-passkey").await;
    browser.wait_for_url(|u| u.contains("/console/c/")).await;

    // Not for an address that holds no passkey: no passkey answers its challenge, and no session opens.
    browser.sign_out().await;
    browser.type_into("#email", "nobody@example.com").await;
    browser.click("#sign-in-passkey").await;
    assert!(browser.text_of("#passkey-error").await.contains("No passkey was used"));
    assert!(browser.url().await.ends_with("/console/sign-in"));
}

/// In a script run on the sign-in page: `done`, the WebDriver callback, and `fields`, the form's
/// fields as the page's passkey request sends them (the e-mail, without password or credential).
macro_rules! sign_in_fields {
    () => {
        r#"
const done = arguments[arguments.length - 1];
const form = document.querySelector("form[action='/console/sign-in']");
const fields = new URLSearchParams(new FormData(form));
fields.delete("password");
fields.delete("credential");
"#
    };
}

/// The challenge the sign-in page gets for the e-mail entered: its status and its body's shape.
const OPTIONS: &str = concat!(
    sign_in_fields!(),
    r#"
fetch("/console/sign-in/passkey/options", { method: "POST", body: fields })
  .then(async (r) => done({ status: r.status, body: await r.json() }), (e) => done(`!${e}`));
"#
);

/// A JSON value with every string but the fixed words of the protocol blanked: what is left is
/// what an onlooker could tell two answers apart by, besides random bytes.
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
        Value::String(text) if ["public-key", "required", "internal"].contains(&text.as_str()) => value.clone(),
        Value::String(_) => Value::String(String::new()),
        other => other.clone(),
    }
}

#[tokio::test]
async fn the_passkey_challenge_does_not_tell_who_holds_a_passkey() {
    let Some((browser, app, admin)) = registered().await else { return };
    let customer = app.store.memberships(admin.id).await.unwrap()[0].customer.id.clone();
    let without = app.admin_with_password(&customer, Access::Full).await;
    let mut answers = Vec::new();
    for email in [admin.email.as_str(), without.email.as_str(), "nobody@example.com"] {
        browser.goto(&app.url("/console/sign-in")).await;
        browser.type_into("#email", email).await;
        answers.push(browser.execute_async(OPTIONS).await);
    }
    for answer in &answers[1..] {
        assert_eq!(answer["status"], answers[0]["status"], "{answers:?}");
        assert_eq!(shape(&answer["body"]), shape(&answers[0]["body"]), "{answers:?}");
    }
    // An address asked twice gets the same credential, as a real administrator does.
    browser.goto(&app.url("/console/sign-in")).await;
    browser.type_into("#email", "nobody@example.com").await;
    let again = browser.execute_async(OPTIONS).await;
    let credential = |answer: &Value| answer["body"]["publicKey"]["allowCredentials"][0]["id"].clone();
    assert_eq!(credential(&again), credential(&answers[2]));

    // An answer posted for nobody is refused as a wrong answer is, never as an unknown address.
    let fake = serde_json::json!({"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {
        "authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA", "userHandle": null}});
    for email in [without.email.as_str(), "nobody@example.com"] {
        browser.goto(&app.url("/console/sign-in")).await;
        browser.type_into("#email", email).await;
        let script = format!(
            r#"
const done = arguments[arguments.length - 1];
const form = document.querySelector("form[action='/console/sign-in']");
const fields = new URLSearchParams(new FormData(form));
fields.delete("password");
fields.set("credential", JSON.stringify({fake}));
fetch("/console/sign-in/passkey", {{ method: "POST", body: fields, redirect: "manual" }})
  .then(async (r) => done([r.status, await r.text()]), (e) => done(`!${{e}}`));
"#
        );
        let got = browser.execute_async(&script).await;
        assert_eq!(got[0], 401, "{email}: {got}");
        assert!(got[1].as_str().unwrap().contains("The passkey was not accepted"), "{email}: {got}");
    }
}

#[tokio::test]
async fn a_reset_by_another_full_administrator_removes_the_passkeys_and_the_sign_in_then_leads_to_enrolment() {
    let Some((browser, app, admin)) = registered().await else { return };
    let customer = app.store.memberships(admin.id).await.unwrap()[0].customer.id.clone();
    let other = app.admin_with_password(&customer, Access::Full).await;
    app.store.set_local_mfa_policy(&customer, true, &Actor::System).await.unwrap();

    let by = Actor::Admin { id: other.id, name: other.email.clone() };
    assert!(app.store.reset_second_factor(&customer, admin.id, &by).await.unwrap());
    assert!(app.store.passkeys(admin.id).await.unwrap().is_empty());
    let records = app.log_of(&customer, "platform:administrator/mfaReset").await;
    assert_eq!(records.len(), 1, "{records:?}");

    browser.goto(&app.url("/console/sign-in")).await;
    browser.type_into("#email", &admin.email).await;
    browser.click("#sign-in-passkey").await;
    assert!(browser.text_of("#passkey-error").await.contains("No passkey was used"), "the passkey no longer signs in");
    browser.password_step(&app, &admin).await;
    browser.wait_for_url(|u| u.contains("/console/sign-in/enrol")).await;
    assert!(browser.text_of("#enrolment-required").await.contains("requires a second factor"));
}

/// In the sign-in page: asks for a challenge for the e-mail entered, has the authenticator answer
/// it (with the page's own `requestOptions` and `assertion` from passkeys.js), and returns the answer.
const ANSWER: &str = concat!(
    sign_in_fields!(),
    r#"
fetch("/console/sign-in/passkey/options", { method: "POST", body: fields })
  .then((r) => r.json())
  .then((options) => navigator.credentials.get(requestOptions(options)))
  .then((credential) => done(assertion(credential)), (e) => done(`!${e}`));
"#
);

/// Posts each answer of `answers` (JSON) in turn as the sign-in page's form would, without
/// following redirects; returns each status (303 for a redirect).
fn post_each(answers: &[Value]) -> String {
    format!(
        r#"
const done = arguments[arguments.length - 1];
const form = document.querySelector("form[action='/console/sign-in']");
const fields = new URLSearchParams(new FormData(form));
fields.delete("password");
(async () => {{
  const statuses = [];
  for (const answer of {answers}) {{
    fields.set("credential", JSON.stringify(answer));
    const r = await fetch("/console/sign-in/passkey", {{ method: "POST", body: fields, redirect: "manual" }});
    statuses.push(r.type === "opaqueredirect" ? 303 : r.status);
  }}
  return statuses;
}})().then(done, (e) => done(`!${{e}}`));
"#,
        answers = Value::Array(answers.to_vec())
    )
}

async fn statuses(browser: &Browser, answers: &[Value]) -> Vec<u64> {
    let got = browser.execute_async(&post_each(answers)).await;
    got.as_array().unwrap_or_else(|| panic!("statuses: {got}")).iter().map(|s| s.as_u64().unwrap()).collect()
}

/// A sign-in page of its own, with the e-mail entered: a page answering a refused post replaced
/// the form's token in the cookie, as each sign-in page does.
async fn sign_in_form(browser: &Browser, app: &TestApp, admin: &TestAdmin) {
    browser.goto(&app.url("/console/sign-in")).await;
    browser.type_into("#email", &admin.email).await;
}

#[tokio::test]
async fn a_forged_stale_or_replayed_passkey_answer_is_refused() {
    let Some((browser, app, admin)) = registered().await else { return };
    sign_in_form(&browser, &app, &admin).await;
    let answer = browser.execute_async(ANSWER).await;
    assert!(answer.is_object(), "the authenticator answered: {answer}");
    let mut forged = answer.clone();
    let signature = forged["response"]["signature"].as_str().unwrap().to_owned();
    let flipped = if signature.as_bytes()[12] == b'A' { "B" } else { "A" };
    forged["response"]["signature"] = Value::String(format!("{}{flipped}{}", &signature[..12], &signature[13..]));
    assert_eq!(statuses(&browser, &[forged]).await, [401], "a forged signature");
    // The challenge was spent by the forged answer: the true one comes too late, from any form.
    sign_in_form(&browser, &app, &admin).await;
    assert_eq!(statuses(&browser, &[answer]).await, [401], "the answer to a spent challenge");

    // A new challenge, answered: signed in; the same answer posted again is refused.
    sign_in_form(&browser, &app, &admin).await;
    let fresh = browser.execute_async(ANSWER).await;
    let got = statuses(&browser, &[fresh.clone(), fresh.clone()]).await;
    assert_eq!(got[0], 303, "{got:?}");
    assert!((400..500).contains(&got[1]), "{got:?}");
    let used = app.store.passkeys(admin.id).await.unwrap();
    assert!(used[0].sign_count > 0, "the authenticator's counter is kept");

    // From a new sign-in form, the spent answer finds no challenge of its own.
    browser.goto(&app.url("/console")).await;
    browser.sign_out().await;
    browser.type_into("#email", &admin.email).await;
    assert_eq!(statuses(&browser, &[fresh]).await, [401]);
}
