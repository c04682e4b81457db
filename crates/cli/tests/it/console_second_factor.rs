//! The second factor in a real headless Chromium (issue #25): an administrator enrols an
//! authenticator app from the console, the codes computed from the key the page shows (as an app
//! would, by the independent implementation in `totp.rs`), signs out and back in with password and
//! code; a replayed code is refused; a recovery code works once; a customer's policy leads an
//! administrator without a factor through enrolment before anything else.

use trustgate_core::access::Access;
use trustgate_core::event::Actor;

use crate::browser::Browser;
use crate::harness::{TempDir, TestApp};
use crate::totp;

/// The enrolment page as the administrator sees it: the QR code drawn, the key in text; confirms
/// with the app's current code and returns the key and the recovery codes shown once.
async fn enrol_on_page(browser: &Browser) -> (String, Vec<String>) {
    let qr = browser.find("#totp-qr svg").await;
    assert!(browser.is_displayed(&qr).await, "the QR code is drawn");
    let secret = browser.text_of("#totp-secret").await;
    assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");
    browser.type_into("#code", &totp::code(&secret, 0)).await;
    browser.click("#confirm-enrolment").await;
    browser.find("#recovery-codes").await;
    let mut codes = Vec::new();
    for item in browser.find_all("#recovery-codes code").await {
        codes.push(browser.text(&item).await);
    }
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

#[tokio::test]
async fn an_administrator_enrols_in_the_browser_then_signs_in_with_password_and_a_code_used_once() {
    let Some(browser) = Browser::start().await else { return };
    let app = TestApp::spawn_in(TempDir::new()).await;
    let customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;

    browser.password_step(&app, &admin).await;
    browser.wait_for_url(|u| u.contains("/console/c/")).await;
    browser.click("#sign-in-security").await;
    let (secret, recovery) = enrol_on_page(&browser).await;
    browser.click("#continue").await;
    browser.wait_for_url(|u| u.contains("/console/c/")).await;
    browser.goto(&app.url("/console/account/second-factor")).await;
    assert!(browser.text_of("#second-factor-state").await.contains("authenticator app"));
    browser.sign_out().await;

    // Password, then the app's code: the enrolment spent this step, so the next one.
    let code = totp::code(&secret, 1);
    browser.password_step(&app, &admin).await;
    browser.wait_for_url(|u| u.contains("/console/sign-in/second-factor")).await;
    browser.type_into("#code", &code).await;
    browser.click("#verify").await;
    browser.wait_for_url(|u| u.contains("/console/c/")).await;
    browser.sign_out().await;

    // The same code again, still within its window: refused.
    browser.password_step(&app, &admin).await;
    browser.wait_for_url(|u| u.contains("/console/sign-in/second-factor")).await;
    browser.type_into("#code", &code).await;
    browser.click("#verify").await;
    assert!(browser.text_of("#second-factor-error").await.contains("already used"));

    // A recovery code instead: once.
    browser.type_into("#code", &recovery[0]).await;
    browser.click("#verify").await;
    browser.wait_for_url(|u| u.contains("/console/c/")).await;
    browser.sign_out().await;
    browser.password_step(&app, &admin).await;
    browser.wait_for_url(|u| u.contains("/console/sign-in/second-factor")).await;
    browser.type_into("#code", &recovery[0]).await;
    browser.click("#verify").await;
    browser.find("#second-factor-error").await;
    assert!(browser.url().await.contains("/console/sign-in/second-factor"), "no session from a spent recovery code");
    assert!(!browser.source().await.contains(&recovery[1]), "recovery codes are never shown again");
}

#[tokio::test]
async fn a_customer_requiring_a_second_factor_leads_its_administrator_through_enrolment_first() {
    let Some(browser) = Browser::start().await else { return };
    let app = TestApp::spawn_in(TempDir::new()).await;
    let customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    app.store.set_local_mfa_policy(&customer, true, &Actor::System).await.unwrap();

    browser.password_step(&app, &admin).await;
    browser.wait_for_url(|u| u.contains("/console/sign-in/enrol")).await;
    assert!(browser.text_of("#enrolment-required").await.contains("requires a second factor"));
    // Nothing else opens meanwhile.
    browser.goto(&app.url(&format!("/console/c/{customer}/api-access"))).await;
    browser.wait_for_url(|u| u.contains("/console/sign-in")).await;
    assert!(!browser.url().await.contains("/console/c/"));
    browser.goto(&app.url("/console/sign-in/enrol")).await;
    let (secret, _) = enrol_on_page(&browser).await;
    browser.click("#continue").await;
    browser.wait_for_url(|u| u.contains("/console/c/")).await;
    browser.sign_out().await;

    browser.password_step(&app, &admin).await;
    browser.wait_for_url(|u| u.contains("/console/sign-in/second-factor")).await;
    browser.type_into("#code", &totp::code(&secret, 1)).await;
    browser.click("#verify").await;
    browser.wait_for_url(|u| u.contains("/console/c/")).await;
}
