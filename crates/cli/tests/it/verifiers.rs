//! Third-party verifiers, unchanged, accept Trustgate's tokens: for every signing algorithm a
//! deployment may choose, PyJWT (Python; `.ci/pyjwt` installs it, pinned) and npm `jose` (pinned
//! in `js/package.json`) fetch the JWKS from a live server and verify a token it issued, pinning
//! the algorithm, issuer and audience.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use trustgate_core::access::Access;
use trustgate_core::token::Algorithm;
use trustgate_server::ServerConfig;

use crate::harness::{skip, Backend, TestApp};

/// Whether `verifier` can run; `false` (see [`skip`]) when `missing` says why not.
fn available(verifier: &str, missing: Option<String>) -> bool {
    match missing {
        Some(why) => {
            skip(format_args!("the {verifier} verification: {why}"));
            false
        }
        None => true,
    }
}

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/js")
}

/// The PyJWT venv's python, as `.ci/pyjwt` prints it.
fn pyjwt_python() -> Option<PathBuf> {
    let python = std::env::var_os("TRUSTGATE_TEST_PYJWT_PYTHON").map(PathBuf::from);
    let missing = match &python {
        None => {
            Some("TRUSTGATE_TEST_PYJWT_PYTHON not set (export TRUSTGATE_TEST_PYJWT_PYTHON=$(.ci/pyjwt))".to_owned())
        }
        Some(p) if !p.exists() => Some(format!("{} does not exist (run .ci/pyjwt)", p.display())),
        Some(_) => None,
    };
    available("PyJWT", missing).then_some(python).flatten()
}

fn npm_jose() -> bool {
    let missing = if Command::new("node").arg("--version").output().is_err() {
        Some("node not installed".to_owned())
    } else if !js_dir().join("node_modules/jose/package.json").exists() {
        Some(format!("jose not installed (npm ci in {})", js_dir().display()))
    } else {
        None
    };
    available("npm jose", missing)
}

/// Runs a verifier and returns the JSON line it printed about the verified token.
async fn verified_by(mut command: Command) -> Value {
    let output = tokio::task::spawn_blocking(move || command.output()).await.unwrap().expect("run the verifier");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the verifier refused the token:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).expect("one JSON line")
}

#[tokio::test]
async fn pyjwt_and_npm_jose_verify_tokens_of_every_algorithm_against_the_published_keys() {
    let python = pyjwt_python();
    let jose = npm_jose();
    for algorithm in Algorithm::ALL {
        let config = ServerConfig { signing_algorithm: algorithm, ..ServerConfig::default() };
        let app = TestApp::spawn_with(Backend::Sqlite, config).await.expect("a SQLite node");
        let customer = app.customer().await;
        let owner = app.admin(&customer, Access::Full).await;
        let client = app.client(&customer, &owner).await;
        let token = app.token(&client).await;
        let issuer = &app.state.config.issuer;
        let args = [
            app.url("/.well-known/jwks.json"),
            token,
            algorithm.as_str().to_owned(),
            issuer.url.clone(),
            issuer.audience.clone(),
        ];

        let mut results = Vec::new();
        if let Some(python) = &python {
            let mut command = Command::new(python);
            command.arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/py/verify_token.py")).args(&args);
            results.push(("PyJWT", verified_by(command).await));
        }
        if jose {
            let mut command = Command::new("node");
            command.arg("verify_token.mjs").args(&args).current_dir(js_dir());
            results.push(("npm jose", verified_by(command).await));
        }
        for (verifier, result) in results {
            assert_eq!(result["header"]["alg"], algorithm.as_str(), "{verifier}");
            assert!(result["header"].get("tgt").is_none(), "{verifier}, {algorithm}: no issuer tag (issue #21)");
            assert_eq!(result["claims"]["sub"], client.id.to_string(), "{verifier}, {algorithm}");
            assert_eq!(result["claims"]["customer_id"], customer.as_str(), "{verifier}, {algorithm}");
        }
    }
}
