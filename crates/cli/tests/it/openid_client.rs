//! A standard OAuth library, unchanged, against a live server: npm `openid-client` (pinned in
//! `js/package.json`, installed by `npm ci` in `.ci/run`) discovers Trustgate from its issuer URL
//! and obtains tokens with the secret in the body and with HTTP Basic, and revokes one; as a
//! resource server, it introspects a token (RFC 7662).

use std::path::PathBuf;
use std::process::Command;

use reqwest::StatusCode;
use serde_json::Value;
use trustgate_core::access::Access;

use crate::harness::{skip, Backend, TestApp};

/// The script's folder, or `None` (see [`skip`]) when node or the installed package is missing.
pub(crate) fn js_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/js");
    let missing = if Command::new("node").arg("--version").output().is_err() {
        Some("node not installed".to_owned())
    } else if !dir.join("node_modules/openid-client/package.json").exists() {
        Some(format!("openid-client not installed (npm ci in {})", dir.display()))
    } else {
        None
    };
    match missing {
        Some(why) => {
            skip(format_args!("the openid-client test: {why}"));
            None
        }
        None => Some(dir),
    }
}

/// Runs `node script args…` in the script folder `dir`, which must succeed; a JSON value for each
/// line it printed.
async fn openid_client<const N: usize>(dir: PathBuf, script: &'static str, args: [String; N]) -> Vec<Value> {
    let output =
        tokio::task::spawn_blocking(move || Command::new("node").arg(script).args(&args).current_dir(dir).output())
            .await
            .unwrap()
            .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "openid-client failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout.lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect()
}

#[tokio::test]
async fn openid_client_discovers_the_server_gets_tokens_with_post_and_basic_and_revokes_one() {
    let Some(dir) = js_dir() else { return };
    let app = TestApp::spawn_on(Backend::Sqlite).await.expect("a SQLite node");
    let (customer, _, client) = app.customer_with_client(Access::Full).await;

    let args = [app.url.clone(), client.id.to_string(), client.secret.clone()];
    let results = openid_client(dir, "client_credentials.mjs", args).await;
    let methods: Vec<&str> = results.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["client_secret_post", "client_secret_basic"]);
    for result in &results {
        assert_eq!(result["issuer"], app.url.as_str());
        assert_eq!(result["revocation_endpoint"], app.url("/oauth2/revoke"));
        assert_eq!((result["token_type"].as_str(), result["expires_in"].as_u64()), (Some("bearer"), Some(3600)));
        let token = result["access_token"].as_str().unwrap();
        let expected = if result["revoked"] == true { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
        assert_eq!(app.get("/notifications/items", token, &customer).await.0, expected, "{}", result["method"]);
    }
}

#[tokio::test]
async fn openid_client_as_a_resource_server_introspects_a_token_with_post_and_basic() {
    let Some(dir) = js_dir() else { return };
    let app = TestApp::spawn_on(Backend::Sqlite).await.expect("a SQLite node");
    let (customer, _, client) = app.customer_with_client(Access::Full).await;
    let token = app.token(&client).await;
    let server = app.cli(&["resource-server", "create", "--name", "orders"]).await;

    let field = |key: &str| server[key].as_str().expect(key).to_owned();
    let results = openid_client(dir, "introspect.mjs", [app.url.clone(), field("id"), field("secret"), token]).await;
    let methods: Vec<&str> = results.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["client_secret_post", "client_secret_basic"]);
    for result in &results {
        assert_eq!(result["introspection_endpoint"], app.url("/oauth2/introspect"));
        let introspection = &result["introspection"];
        assert_eq!(introspection["active"], true, "{}", result["method"]);
        assert_eq!(introspection["client_id"], client.id.to_string());
        assert_eq!(introspection["customer_id"], customer.as_str());
    }
}
